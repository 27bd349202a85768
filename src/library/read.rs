//! Read queries over a read-only connection. One `Reader` per thread; every statement is prepared once and cached.

use super::types::*;
use crate::error::{Error, Result};
use crate::names::{LabelPath, TagName};
use rusqlite::{Connection, OptionalExtension, params};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub struct Reader {
    conn: Connection,
}

/// A file whose full hash is needed to tell whether it really is a copy of another with the same `cas_id`.
#[derive(Debug, Clone)]
pub struct VerifyCandidate {
    pub entry: EntryId,
    pub path: PathBuf,
    pub cas_id: String,
    pub kind: String,
    pub size: i64,
}

/// Files whose whole content is identical: at least two distinct real files (hard links count once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DupeGroup {
    pub content: ContentId,
    pub full_hash: String,
    pub size: i64,
    pub copies: Vec<DupeCopy>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DupeCopy {
    pub entry: EntryId,
    pub path: PathBuf,
    pub device: i64,
    pub inode: i64,
}

impl DupeGroup {
    /// How many distinct real files the group holds (hard links to one file are one).
    pub fn distinct_files(&self) -> usize {
        let mut ids: Vec<(i64, i64)> = self.copies.iter().map(|c| (c.device, c.inode)).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }
}

#[derive(Debug, Clone, Default)]
pub struct LibraryStatus {
    pub locations: i64,
    pub files: i64,
    pub dirs: i64,
    pub symlinks: i64,
    pub bytes: i64,
    pub contents: i64,
    pub tags: i64,
    pub tagged_entries: i64,
    pub labels: i64,
    pub favorites: i64,
    pub orphans: i64,
}

/// The real path of an entry from the columns (location path, relative_path, name).
fn path_of(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<PathBuf> {
    let root: Vec<u8> = r.get(first)?;
    let rel: Vec<u8> = r.get(first + 1)?;
    let name: Vec<u8> = r.get(first + 2)?;
    Ok(real_path(Path::new(OsStr::from_bytes(&root)), &rel, &name))
}

impl crate::query::Names for Reader {
    fn label(&self, path: &str) -> Option<i64> {
        let path = LabelPath::parse(path).ok()?;
        self.label_by_path(&path).ok().flatten().map(|id| id.0)
    }
}

/// `Reader::entries_stamp`: the counter's one row, and the largest rowid (the end of the table's B-tree).
pub(crate) const ENTRIES_STAMP: &str =
    "SELECT coalesce((SELECT version FROM entries_version WHERE id = 1), 0), (SELECT max(id) FROM entries)";

/// The entries to verify: each unverified content that two distinct files share, or whose `cas_id` a verified
/// content already has. Materialized first, so each group is judged once (from two of its entries) and then its
/// members listed: judged per member, a group of n identical files cost n². The groups are found from the
/// content ids shared by two entries or more (one pass over the covering `entries_content` index) and from the
/// verified contents (their partial index), not by judging every unverified content: that read each one's
/// entries and took half a second per 100,000 files after every scan.
const VERIFY_CANDIDATES: &str = "WITH shared AS MATERIALIZED (SELECT content_id AS id FROM entries \
         INDEXED BY entries_content WHERE content_id IS NOT NULL GROUP BY content_id HAVING count(*) >= 2), \
     pending AS MATERIALIZED ( \
         SELECT ci.id, ci.cas_id FROM shared s JOIN content_identity ci ON ci.id = s.id \
         WHERE ci.full_hash IS NULL AND ci.size > 0 AND EXISTS (SELECT 1 FROM entries e WHERE e.content_id = ci.id \
             AND (e.device, e.inode) != (SELECT f.device, f.inode FROM entries f WHERE f.content_id = ci.id LIMIT 1)) \
         UNION \
         SELECT u.id, u.cas_id FROM content_identity v JOIN content_identity u ON u.cas_id = v.cas_id \
         WHERE v.full_hash IS NOT NULL AND u.full_hash IS NULL AND u.size > 0 \
             AND EXISTS (SELECT 1 FROM entries ve WHERE ve.content_id = v.id AND ve.size > 0)) \
     SELECT e.id, l.path, e.relative_path, e.name, p.cas_id, ci.kind, e.size FROM pending p \
     JOIN content_identity ci ON ci.id = p.id JOIN entries e ON e.content_id = p.id \
     JOIN locations l ON l.id = e.location_id WHERE e.size > 0";

/// An entry's tags and notes, as `export-xattrs` writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exportable {
    pub relative_path: Vec<u8>,
    pub name: Vec<u8>,
    /// Tag names joined by ',' (the `user.xdg.tags` format); `None` without tags.
    pub tags: Option<String>,
    pub notes: Option<String>,
}

impl Reader {
    pub(crate) fn new(conn: Connection) -> Reader {
        Reader { conn }
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// This library's tie to a sync folder, if it joined one.
    pub fn sync_state(&self) -> Result<Option<super::shared::SyncState>> {
        super::shared::sync_state(&self.conn)
    }

    /// Other devices of the sync folder: (row in `devices`, id, name).
    pub fn peer_devices(&self) -> Result<Vec<(i64, uuid::Uuid, String)>> {
        super::shared::peer_devices(&self.conn)
    }

    /// The library file this reader reads ("" for one in memory).
    pub fn library_path(&self) -> &str {
        self.conn.path().unwrap_or("")
    }

    /// The sync folder this library joined, if any.
    pub fn sync_folder(&self) -> Result<Option<std::path::PathBuf>> {
        super::shared::sync_folder(&self.conn)
    }

    /// What this library has read of other devices' change files.
    pub fn sync_peers(&self) -> Result<Vec<super::shared::Peer>> {
        super::shared::peers(&self.conn)
    }

    /// Changes whenever an entry is added, changed, moved or removed (the writer's count of transactions that
    /// changed `entries`, and the last id given): a snapshot taken with the same stamp holds the same entries. Two
    /// lookups by key, whatever the size of the library.
    pub fn entries_stamp(&self) -> Result<String> {
        let (version, last): (i64, Option<i64>) =
            self.conn.prepare_cached(ENTRIES_STAMP)?.query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(format!("v{version}-{}", last.unwrap_or(0)))
    }

    pub fn locations(&self) -> Result<Vec<Location>> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {LOCATION_COLUMNS} FROM locations ORDER BY name"))?;
        let rows = stmt.query_map([], |r| Location::try_from(r))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn location_by_name(&self, name: &str) -> Result<Option<Location>> {
        let mut stmt =
            self.conn.prepare_cached(&format!("SELECT {LOCATION_COLUMNS} FROM locations WHERE name = ?1"))?;
        Ok(stmt.query_row([name], |r| Location::try_from(r)).optional()?)
    }

    /// The location with this name, or an error that says how to list them.
    pub fn location_named(&self, name: &str) -> Result<Location> {
        self.location_by_name(name)?
            .ok_or_else(|| Error::NotFound(format!("no location named '{name}' (see 'spacefs locations')")))
    }

    /// The entries of a location that carry user metadata, with their tags (by name, comma-joined, in name order)
    /// and notes: what `export-xattrs` writes to the real files. Files and folders only (a symlink takes no `user.*`
    /// attribute). One pass: the metadata rows by index, the tags grouped per entry.
    pub fn exportable(&self, location: LocationId) -> Result<Vec<Exportable>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.relative_path, e.name, e.kind, m.notes,              (SELECT group_concat(name, ',') FROM (SELECT t.name FROM metadata_tag mt JOIN tags t ON t.id = mt.tag_id               WHERE mt.metadata_id = m.id ORDER BY t.name))              FROM entries e JOIN user_metadata m ON m.id = e.metadata_id              WHERE e.location_id = ?1 AND e.metadata_id IS NOT NULL AND e.kind IN (?2, ?3)              ORDER BY e.relative_path, e.name",
        )?;
        let rows = stmt.query_map(params![location.0, EntryKind::File as i64, EntryKind::Dir as i64], |r| {
            Ok(Exportable {
                relative_path: r.get(0)?,
                name: r.get(1)?,
                notes: r.get::<_, Option<String>>(3)?.filter(|n| !n.is_empty()),
                tags: r.get(4)?,
            })
        })?;
        Ok(rows
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .filter(|e| e.tags.is_some() || e.notes.is_some())
            .collect())
    }

    /// What the library knows of the children of one folder, for the indexer to compare with the disk.
    pub fn children_stamps(&self, location: LocationId, relative_path: &[u8]) -> Result<Vec<EntryStamp>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, name, kind, size, modified_at, changed_at, inode, content_id IS NOT NULL FROM entries \
             WHERE location_id = ?1 AND relative_path = ?2",
        )?;
        let rows = stmt.query_map(params![location.0, relative_path], |r| EntryStamp::try_from(r))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every folder path of a location that has entries in it (each entry's `relative_path`, once), in order: what
    /// a full scan checks against the folders it found on disk. Read from the `entries_children` index.
    pub fn folder_paths(&self, location: LocationId) -> Result<Vec<Vec<u8>>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT relative_path FROM entries WHERE location_id = ?1 ORDER BY relative_path",
        )?;
        let rows = stmt.query_map(params![location.0], |r| r.get::<_, Vec<u8>>(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// What the library knows of one entry, for comparing with the disk.
    pub fn child_stamp(&self, location: LocationId, relative_path: &[u8], name: &[u8]) -> Result<Option<EntryStamp>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, name, kind, size, modified_at, changed_at, inode, content_id IS NOT NULL FROM entries \
             WHERE location_id = ?1 AND relative_path = ?2 AND name = ?3",
        )?;
        Ok(stmt.query_row(params![location.0, relative_path, name], |r| EntryStamp::try_from(r)).optional()?)
    }

    pub fn entry_by_path(&self, location: LocationId, relative_path: &[u8], name: &[u8]) -> Result<Option<EntryId>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM entries WHERE location_id = ?1 AND relative_path = ?2 AND name = ?3")?;
        Ok(stmt.query_row(params![location.0, relative_path, name], |r| Ok(EntryId(r.get(0)?))).optional()?)
    }

    /// Every tag with its colour and how many entries carry it, by name.
    pub fn tags_with_counts(&self) -> Result<Vec<(String, Option<String>, i64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.name, t.color, count(e.id) FROM tags t LEFT JOIN metadata_tag mt ON mt.tag_id = t.id \
             LEFT JOIN entries e ON e.metadata_id = mt.metadata_id GROUP BY t.id ORDER BY t.name",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The names of the tags one entry carries, sorted.
    pub fn tags_of(&self, entry: EntryId) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.name FROM entries e JOIN metadata_tag mt ON mt.metadata_id = e.metadata_id \
             JOIN tags t ON t.id = mt.tag_id WHERE e.id = ?1 ORDER BY t.name",
        )?;
        let rows = stmt.query_map([entry.0], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn tag_by_name(&self, name: &str) -> Result<Option<TagId>> {
        let mut stmt = self.conn.prepare_cached("SELECT id FROM tags WHERE name = ?1")?;
        Ok(stmt.query_row([name], |r| Ok(TagId(r.get(0)?))).optional()?)
    }

    pub fn label_by_path(&self, path: &LabelPath) -> Result<Option<LabelId>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM labels WHERE coalesce(parent_id, 0) = coalesce(?1, 0) AND name = ?2")?;
        let mut parent: Option<i64> = None;
        for part in path.parts() {
            match stmt.query_row(params![parent, part], |r| r.get(0)).optional()? {
                Some(id) => parent = Some(id),
                None => return Ok(None),
            }
        }
        Ok(parent.map(LabelId))
    }

    /// The notes, favorite and hidden flags of an entry (defaults when it has no metadata).
    pub fn metadata_of(&self, entry: EntryId) -> Result<(Option<String>, bool, bool)> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT m.notes, coalesce(m.favorite, 0), coalesce(m.hidden, 0) FROM entries e \
             LEFT JOIN user_metadata m ON m.id = e.metadata_id WHERE e.id = ?1",
        )?;
        Ok(stmt.query_row([entry.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional()?.unwrap_or_default())
    }

    /// Real paths of the entries carrying every tag in `tags`, the label `label` (or one below it) and, with
    /// `favorite`, marked favorite. Unknown tags or labels are an error, so a typo does not look like "no match".
    pub fn find(&self, tags: &[TagName], label: Option<&LabelPath>, favorite: bool) -> Result<Vec<PathBuf>> {
        let mut sql = String::from(
            "SELECT l.path, e.relative_path, e.name FROM entries e JOIN locations l ON l.id = e.location_id \
             JOIN user_metadata m ON m.id = e.metadata_id WHERE 1",
        );
        let mut args: Vec<i64> = Vec::new();
        for tag in tags {
            let id = self
                .tag_by_name(tag.as_str())?
                .ok_or_else(|| Error::NotFound(format!("no tag named '{tag}' (see 'spacefs tags')")))?;
            args.push(id.0);
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM metadata_tag WHERE metadata_id = m.id AND tag_id = ?{})",
                args.len()
            ));
        }
        if let Some(path) = label {
            let id = self
                .label_by_path(path)?
                .ok_or_else(|| Error::NotFound(format!("no label '{path}' (labels are created by 'spacefs label')")))?;
            args.push(id.0);
            sql.push_str(&format!(
                " AND EXISTS (WITH RECURSIVE sub(id) AS (SELECT ?{} UNION SELECT l2.id FROM labels l2 JOIN sub ON l2.parent_id = sub.id) \
                 SELECT 1 FROM metadata_label ml JOIN sub ON sub.id = ml.label_id WHERE ml.metadata_id = m.id)",
                args.len()
            ));
        }
        if favorite {
            sql.push_str(" AND m.favorite = 1");
        }
        sql.push_str(" ORDER BY l.name, e.relative_path, e.name");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| path_of(r, 0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Real paths of the entries matching a query expression (one SQL statement), by location and path.
    pub fn query_paths(&self, expr: &crate::query::Expr) -> Result<Vec<PathBuf>> {
        let mut params = Vec::new();
        let condition = expr.to_sql("e", "m", self, &mut params);
        let sql = format!(
            "SELECT l.path, e.relative_path, e.name FROM entries e JOIN locations l ON l.id = e.location_id \
             LEFT JOIN user_metadata m ON m.id = e.metadata_id WHERE {condition} ORDER BY l.name, e.relative_path, e.name"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| path_of(r, 0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Files that share a `cas_id` with another distinct file but whose own full hash is not known yet.
    pub fn verify_candidates(&self) -> Result<Vec<VerifyCandidate>> {
        let mut stmt = self.conn.prepare_cached(VERIFY_CANDIDATES)?;
        let rows = stmt.query_map([], |r| {
            Ok(VerifyCandidate {
                entry: EntryId(r.get(0)?),
                path: path_of(r, 1)?,
                cas_id: r.get(4)?,
                kind: r.get(5)?,
                size: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Groups of verified identical files, largest first.
    pub fn dupe_groups(&self) -> Result<Vec<DupeGroup>> {
        let mut stmt = self.conn.prepare_cached(
            "WITH groups AS (SELECT e.content_id AS id FROM entries e JOIN content_identity ci ON ci.id = e.content_id \
                 WHERE ci.full_hash IS NOT NULL AND e.size > 0 GROUP BY e.content_id \
                 HAVING count(DISTINCT e.device || ':' || e.inode) >= 2) \
             SELECT ci.id, ci.full_hash, e.size, e.id, l.path, e.relative_path, e.name, e.device, e.inode \
             FROM groups g JOIN content_identity ci ON ci.id = g.id JOIN entries e ON e.content_id = g.id \
             JOIN locations l ON l.id = e.location_id \
             ORDER BY e.size DESC, ci.id, l.name, e.relative_path, e.name",
        )?;
        let mut groups: Vec<DupeGroup> = Vec::new();
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let content = ContentId(r.get(0)?);
            let copy =
                DupeCopy { entry: EntryId(r.get(3)?), path: path_of(r, 4)?, device: r.get(7)?, inode: r.get(8)? };
            match groups.last_mut() {
                Some(g) if g.content == content => g.copies.push(copy),
                _ => groups.push(DupeGroup { content, full_hash: r.get(1)?, size: r.get(2)?, copies: vec![copy] }),
            }
        }
        Ok(groups)
    }

    pub fn status(&self) -> Result<LibraryStatus> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT (SELECT count(*) FROM locations), \
                    (SELECT count(*) FROM entries WHERE kind = 0), \
                    (SELECT count(*) FROM entries WHERE kind = 1), \
                    (SELECT count(*) FROM entries WHERE kind = 2), \
                    (SELECT coalesce(sum(size), 0) FROM entries WHERE kind = 0), \
                    (SELECT count(*) FROM content_identity), \
                    (SELECT count(*) FROM tags), \
                    (SELECT count(DISTINCT e.id) FROM metadata_tag mt JOIN entries e ON e.metadata_id = mt.metadata_id), \
                    (SELECT count(*) FROM labels), \
                    (SELECT count(*) FROM user_metadata m WHERE favorite = 1 AND orphaned_at IS NULL), \
                    (SELECT count(*) FROM user_metadata WHERE orphaned_at IS NOT NULL)",
        )?;
        Ok(stmt.query_row([], |r| {
            Ok(LibraryStatus {
                locations: r.get(0)?,
                files: r.get(1)?,
                dirs: r.get(2)?,
                symlinks: r.get(3)?,
                bytes: r.get(4)?,
                contents: r.get(5)?,
                tags: r.get(6)?,
                tagged_entries: r.get(7)?,
                labels: r.get(8)?,
                favorites: r.get(9)?,
                orphans: r.get(10)?,
            })
        })?)
    }

    /// Problems found by SQLite's integrity and foreign key checks; empty when the library is sound.
    pub fn check(&self) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        for row in stmt.query_map([], |r| r.get::<_, String>(0))? {
            let row = row?;
            if row != "ok" {
                problems.push(row);
            }
        }
        let mut stmt = self.conn.prepare("PRAGMA foreign_key_check")?;
        let rows = stmt.query_map([], |r| {
            Ok(format!(
                "row {} of {} refers to a missing row of {}",
                r.get::<_, Option<i64>>(1)?.unwrap_or(-1),
                r.get::<_, String>(0)?,
                r.get::<_, String>(2)?
            ))
        })?;
        for row in rows {
            problems.push(row?);
        }
        Ok(problems)
    }

    /// Copies the library to `dest` with SQLite's online backup, calling `progress(done_pages, total_pages)`.
    pub fn backup(&self, dest: &Path, mut progress: impl FnMut(i64, i64)) -> Result<()> {
        let mut target = Connection::open(dest)?;
        let backup = rusqlite::backup::Backup::new(&self.conn, &mut target)?;
        loop {
            let step = backup.step(256)?;
            let p = backup.progress();
            progress(i64::from(p.pagecount - p.remaining), i64::from(p.pagecount));
            match step {
                rusqlite::backup::StepResult::Done => break,
                rusqlite::backup::StepResult::More => {}
                _ => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The virtual machine steps of one run of `VERIFY_CANDIDATES` over a group of `n` files with one `cas_id`.
    fn steps_to_find_a_group_of(n: i64) -> (usize, i32) {
        let library = crate::library::testing::raw_library();
        let conn = &library.conn;
        conn.execute_batch(crate::library::testing::ONE_LOCATION).unwrap();
        conn.execute(
            "INSERT INTO content_identity (uuid, cas_id, size, first_seen_at) VALUES (x'01', 'c', 200000, 0)",
            [],
        )
        .unwrap();
        let mut add = conn
            .prepare(
                "INSERT INTO entries (uuid, location_id, relative_path, name, kind, size, inode, device, content_id, \
                 indexed_at) VALUES (randomblob(16), 1, x'', CAST(?1 AS BLOB), 0, 200000, ?1, 1, 1, 0)",
            )
            .unwrap();
        conn.execute_batch("BEGIN").unwrap();
        for i in 0..n {
            add.execute([i]).unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
        let mut stmt = conn.prepare(VERIFY_CANDIDATES).unwrap();
        let found = stmt.query_map([], |_| Ok(())).unwrap().count();
        (found, stmt.get_status(rusqlite::StatementStatus::VmStep))
    }

    #[test]
    fn a_group_of_thousands_of_identical_files_is_found_in_steps_proportional_to_its_size() {
        let (found, small) = steps_to_find_a_group_of(1_000);
        assert_eq!(found, 1_000);
        let (found, large) = steps_to_find_a_group_of(8_000);
        assert_eq!(found, 8_000);
        // Eight times the files: about eight times the steps (n² would be 64 times).
        assert!(large < small * 10, "1,000 files: {small} steps; 8,000 files: {large} steps");
    }
}
