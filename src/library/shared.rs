//! The shared part of a library (see `crate::sync`): its tags and labels, and what this library's own entries carry
//! (tags, labels, favorite, hidden, notes, rating), read as plain sets and written back from them. Entries are named by their
//! uuid and tags by theirs, never by row ids, which differ from device to device.
//!
//! `write` makes the tables equal to a `Shared` value: what it does not name is removed. The caller gives it every
//! tag and, for this library's entries, everything they carry.

use crate::clock::now_ns;
use crate::error::Result;
use crate::library::write::ensure_metadata;
use crate::library::{EntryId, MetadataId};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use uuid::Uuid;

/// A tag as every device knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedTag {
    pub name: String,
    pub color: Option<String>,
}

/// A label as every device knows it: its name under its parent (`None`: a top-level label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedLabel {
    pub name: String,
    pub parent: Option<Uuid>,
}

/// Tags, labels, and what entries carry, keyed by uuids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shared {
    pub tags: BTreeMap<Uuid, SharedTag>,
    /// (entry, tag)
    pub tagged: BTreeSet<(Uuid, Uuid)>,
    pub labels: BTreeMap<Uuid, SharedLabel>,
    /// (entry, label)
    pub labeled: BTreeSet<(Uuid, Uuid)>,
    pub favorite: BTreeSet<Uuid>,
    pub hidden: BTreeSet<Uuid>,
    pub notes: BTreeMap<Uuid, String>,
    pub rating: BTreeMap<Uuid, u8>,
}

impl Shared {
    /// Every entry something is said of.
    pub fn entries(&self) -> BTreeSet<Uuid> {
        let mut all: BTreeSet<Uuid> = self.tagged.iter().chain(&self.labeled).map(|(e, _)| *e).collect();
        all.extend(self.favorite.iter().chain(&self.hidden).chain(self.notes.keys()).chain(self.rating.keys()));
        all
    }

    /// The tags, and what is said of the entries in `keep` only.
    pub fn restricted(&self, keep: &HashSet<Uuid>) -> Shared {
        Shared {
            tags: self.tags.clone(),
            tagged: self.tagged.iter().filter(|(e, _)| keep.contains(e)).copied().collect(),
            labels: self.labels.clone(),
            labeled: self.labeled.iter().filter(|(e, _)| keep.contains(e)).copied().collect(),
            favorite: self.favorite.iter().filter(|e| keep.contains(e)).copied().collect(),
            hidden: self.hidden.iter().filter(|e| keep.contains(e)).copied().collect(),
            notes: self.notes.iter().filter(|(e, _)| keep.contains(e)).map(|(e, n)| (*e, n.clone())).collect(),
            rating: self.rating.iter().filter(|(e, _)| keep.contains(e)).map(|(e, r)| (*e, *r)).collect(),
        }
    }
}

/// The id every device gives a tag it creates under `name`, so that one name created on two devices is one tag.
pub fn tag_uuid(name: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("spacefs-tag:{name}").as_bytes())
}

/// The id every device gives a label it creates at `path` (its names from the top, joined by '/').
pub fn label_uuid(path: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("spacefs-label:{path}").as_bytes())
}

fn uuid_of(bytes: Vec<u8>) -> Uuid {
    Uuid::from_slice(&bytes).unwrap_or(Uuid::nil())
}

/// Every tag, and what this library's live entries carry.
pub fn read(conn: &Connection) -> Result<Shared> {
    let mut shared = Shared::default();
    let mut stmt = conn.prepare_cached("SELECT uuid, name, color FROM tags")?;
    let rows = stmt.query_map([], |r| Ok((uuid_of(r.get(0)?), SharedTag { name: r.get(1)?, color: r.get(2)? })))?;
    for row in rows {
        let (id, tag) = row?;
        shared.tags.insert(id, tag);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT e.uuid, t.uuid FROM entries e JOIN metadata_tag mt ON mt.metadata_id = e.metadata_id \
         JOIN tags t ON t.id = mt.tag_id",
    )?;
    for row in stmt.query_map([], |r| Ok((uuid_of(r.get(0)?), uuid_of(r.get(1)?))))? {
        shared.tagged.insert(row?);
    }
    let mut stmt =
        conn.prepare_cached("SELECT l.uuid, l.name, p.uuid FROM labels l LEFT JOIN labels p ON p.id = l.parent_id")?;
    let rows = stmt.query_map([], |r| {
        let parent: Option<Vec<u8>> = r.get(2)?;
        Ok((uuid_of(r.get(0)?), SharedLabel { name: r.get(1)?, parent: parent.map(uuid_of) }))
    })?;
    for row in rows {
        let (id, label) = row?;
        shared.labels.insert(id, label);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT e.uuid, l.uuid FROM entries e JOIN metadata_label ml ON ml.metadata_id = e.metadata_id \
         JOIN labels l ON l.id = ml.label_id",
    )?;
    for row in stmt.query_map([], |r| Ok((uuid_of(r.get(0)?), uuid_of(r.get(1)?))))? {
        shared.labeled.insert(row?);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT e.uuid, m.favorite, m.hidden, m.notes, m.rating FROM entries e JOIN user_metadata m \
         ON m.id = e.metadata_id WHERE e.metadata_id IS NOT NULL",
    )?;
    type Row = (Uuid, bool, bool, Option<String>, Option<u8>);
    let rows = stmt.query_map([], |r| -> rusqlite::Result<Row> {
        Ok((uuid_of(r.get(0)?), r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })?;
    for row in rows {
        let (entry, favorite, hidden, notes, rating) = row?;
        if favorite {
            shared.favorite.insert(entry);
        }
        if hidden {
            shared.hidden.insert(entry);
        }
        if let Some(notes) = notes.filter(|n| !n.is_empty()) {
            shared.notes.insert(entry, notes);
        }
        if let Some(rating) = rating {
            shared.rating.insert(entry, rating);
        }
    }
    Ok(shared)
}

/// Which of `candidates` are entries of this library.
pub fn local_entries<'a>(conn: &Connection, candidates: impl IntoIterator<Item = &'a Uuid>) -> Result<HashSet<Uuid>> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM entries WHERE uuid = ?1")?;
    let mut local = HashSet::new();
    for id in candidates {
        if stmt.exists([id.as_bytes()])? {
            local.insert(*id);
        }
    }
    Ok(local)
}

/// Gives the tags made here since the last exchange (their uuid is not in `known`) the id every device gives that
/// name (`tag_uuid`), so a tag created under one name on two devices becomes one tag. A tag keeps its own id when
/// that id is taken (here, or by a tag that another device has since renamed).
pub fn name_new_tags(conn: &Connection, known: &BTreeMap<Uuid, SharedTag>) -> Result<()> {
    let mut stmt = conn.prepare_cached("SELECT id, uuid, name FROM tags")?;
    let tags: Vec<(i64, Uuid, String)> =
        stmt.query_map([], |r| Ok((r.get(0)?, uuid_of(r.get(1)?), r.get(2)?)))?.collect::<rusqlite::Result<_>>()?;
    let taken: HashSet<Uuid> = tags.iter().map(|(_, id, _)| *id).collect();
    for (row, id, name) in tags {
        let wanted = tag_uuid(&name);
        if known.contains_key(&id) || id == wanted || taken.contains(&wanted) {
            continue;
        }
        if known.get(&wanted).is_some_and(|t| t.name != name) {
            continue;
        }
        conn.prepare_cached("UPDATE tags SET uuid = ?2 WHERE id = ?1")?.execute(params![row, wanted.as_bytes()])?;
    }
    Ok(())
}

/// A label's row: id, uuid, name, parent's id.
type LabelRow = (i64, Uuid, String, Option<i64>);

/// As `name_new_tags`, for labels: a label made here gets the id every device gives its path (`label_uuid`).
pub fn name_new_labels(conn: &Connection, known: &BTreeMap<Uuid, SharedLabel>) -> Result<()> {
    let mut stmt = conn.prepare_cached("SELECT id, uuid, name, parent_id FROM labels")?;
    let rows: Vec<LabelRow> = stmt
        .query_map([], |r| Ok((r.get(0)?, uuid_of(r.get(1)?), r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let by_row: HashMap<i64, &LabelRow> = rows.iter().map(|row| (row.0, row)).collect();
    fn path_of(by_row: &HashMap<i64, &LabelRow>, row: &LabelRow) -> String {
        let mut parts = vec![row.2.as_str()];
        let mut parent = row.3;
        while let Some(up) = parent.and_then(|p| by_row.get(&p)) {
            if parts.len() > by_row.len() {
                break;
            }
            parts.push(up.2.as_str());
            parent = up.3;
        }
        parts.reverse();
        parts.join("/")
    }
    let mut taken: HashSet<Uuid> = rows.iter().map(|row| row.1).collect();
    for row in &rows {
        let wanted = label_uuid(&path_of(&by_row, row));
        if known.contains_key(&row.1) || row.1 == wanted || taken.contains(&wanted) || known.contains_key(&wanted) {
            continue;
        }
        conn.prepare_cached("UPDATE labels SET uuid = ?2 WHERE id = ?1")?.execute(params![row.0, wanted.as_bytes()])?;
        taken.insert(wanted);
    }
    Ok(())
}

/// What `write` changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub tags: u64,
    pub labels: u64,
    pub entries: u64,
}

/// Makes the tables equal to `target`: its tags (any other is deleted), and for the entries it names, exactly what
/// it says they carry (what this library's entries carry beyond it is taken off). Entries it names that are not in
/// this library are skipped.
pub fn write(conn: &Connection, target: &Shared) -> Result<Written> {
    let now = now_ns();
    let current = read(conn)?;
    let mut written = Written::default();

    // Tags: deleted, renamed (through a name no tag can have, so two tags may swap names), created, recoloured.
    for id in current.tags.keys().filter(|id| !target.tags.contains_key(id)) {
        conn.prepare_cached("DELETE FROM tags WHERE uuid = ?1")?.execute([id.as_bytes()])?;
        written.tags += 1;
    }
    let renamed: Vec<&Uuid> = target
        .tags
        .iter()
        .filter(|(id, t)| current.tags.get(id).is_some_and(|c| c.name != t.name))
        .map(|(id, _)| id)
        .collect();
    for id in &renamed {
        conn.prepare_cached("UPDATE tags SET name = ?2 WHERE uuid = ?1")?
            .execute(params![id.as_bytes(), format!("\u{1}{}", id.simple())])?;
    }
    for (id, tag) in &target.tags {
        match current.tags.get(id) {
            None => {
                conn.prepare_cached("INSERT INTO tags (uuid, name, color, created_at) VALUES (?1, ?2, ?3, ?4)")?
                    .execute(params![id.as_bytes(), tag.name, tag.color, now])?;
                written.tags += 1;
            }
            Some(old) if old != tag => {
                conn.prepare_cached("UPDATE tags SET name = ?2, color = ?3 WHERE uuid = ?1")?.execute(params![
                    id.as_bytes(),
                    tag.name,
                    tag.color
                ])?;
                written.tags += 1;
            }
            Some(_) => {}
        }
    }
    let mut tag_rows: HashMap<Uuid, i64> = HashMap::new();
    let mut stmt = conn.prepare_cached("SELECT uuid, id FROM tags")?;
    for row in stmt.query_map([], |r| Ok((uuid_of(r.get(0)?), r.get(1)?)))? {
        let (id, row) = row?;
        tag_rows.insert(id, row);
    }

    // Labels: those that change name or parent first go to the top under a name no label can have (so no two
    // meet on one name under one parent meanwhile), then those gone are deleted (their children still in the
    // target have moved away), then new ones are made and every moved one is put in place, parents first.
    let moved: Vec<&Uuid> = target
        .labels
        .iter()
        .filter(|(id, l)| current.labels.get(id).is_some_and(|c| c != *l))
        .map(|(id, _)| id)
        .collect();
    for id in &moved {
        conn.prepare_cached("UPDATE labels SET name = ?2, parent_id = NULL WHERE uuid = ?1")?
            .execute(params![id.as_bytes(), format!("\u{1}{}", id.simple())])?;
    }
    for id in current.labels.keys().filter(|id| !target.labels.contains_key(id)) {
        conn.prepare_cached("DELETE FROM labels WHERE uuid = ?1")?.execute([id.as_bytes()])?;
        written.labels += 1;
    }
    for id in target.labels.keys().filter(|id| !current.labels.contains_key(id)) {
        conn.prepare_cached("INSERT INTO labels (uuid, name, parent_id, created_at) VALUES (?1, ?2, NULL, ?3)")?
            .execute(params![id.as_bytes(), format!("\u{1}{}", id.simple()), now])?;
    }
    let placed: Vec<&Uuid> =
        target.labels.keys().filter(|id| current.labels.get(id).is_none_or(|c| c != &target.labels[id])).collect();
    for id in parents_first(&target.labels, placed) {
        let label = &target.labels[&id];
        conn.prepare_cached(
            "UPDATE labels SET name = ?2, parent_id = (SELECT id FROM labels WHERE uuid = ?3) WHERE uuid = ?1",
        )?
        .execute(params![id.as_bytes(), label.name, label.parent.map(|p| p.as_bytes().to_vec())])?;
        written.labels += 1;
    }
    let mut label_rows: HashMap<Uuid, i64> = HashMap::new();
    let mut stmt = conn.prepare_cached("SELECT uuid, id FROM labels")?;
    for row in stmt.query_map([], |r| Ok((uuid_of(r.get(0)?), r.get(1)?)))? {
        let (id, row) = row?;
        label_rows.insert(id, row);
    }

    // Entries: each one whose state differs is brought to the target's.
    let mut entries = target.entries();
    entries.extend(current.entries());
    let mut find = conn.prepare_cached("SELECT id FROM entries WHERE uuid = ?1")?;
    for entry in entries {
        let Some(row) = find.query_row([entry.as_bytes()], |r| r.get::<_, i64>(0)).optional()? else { continue };
        let tags_of = |s: &Shared| -> BTreeSet<Uuid> {
            s.tagged.range((entry, Uuid::nil())..=(entry, Uuid::max())).map(|(_, t)| *t).collect()
        };
        let labels_of = |s: &Shared| -> BTreeSet<Uuid> {
            s.labeled.range((entry, Uuid::nil())..=(entry, Uuid::max())).map(|(_, l)| *l).collect()
        };
        let (want, have) = (tags_of(target), tags_of(&current));
        let (want_labels, have_labels) = (labels_of(target), labels_of(&current));
        let flags_differ = target.favorite.contains(&entry) != current.favorite.contains(&entry)
            || target.hidden.contains(&entry) != current.hidden.contains(&entry)
            || target.notes.get(&entry) != current.notes.get(&entry)
            || target.rating.get(&entry) != current.rating.get(&entry);
        if want == have && want_labels == have_labels && !flags_differ {
            continue;
        }
        written.entries += 1;
        let metadata: MetadataId = ensure_metadata(conn, EntryId(row), now)?;
        for tag in have.difference(&want).filter_map(|t| tag_rows.get(t)) {
            conn.prepare_cached("DELETE FROM metadata_tag WHERE metadata_id = ?1 AND tag_id = ?2")?
                .execute(params![metadata.0, tag])?;
        }
        for tag in want.difference(&have).filter_map(|t| tag_rows.get(t)) {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO metadata_tag (metadata_id, tag_id, created_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![metadata.0, tag, now])?;
        }
        for label in have_labels.difference(&want_labels).filter_map(|l| label_rows.get(l)) {
            conn.prepare_cached("DELETE FROM metadata_label WHERE metadata_id = ?1 AND label_id = ?2")?
                .execute(params![metadata.0, label])?;
        }
        for label in want_labels.difference(&have_labels).filter_map(|l| label_rows.get(l)) {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO metadata_label (metadata_id, label_id, created_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![metadata.0, label, now])?;
        }
        if flags_differ {
            conn.prepare_cached(
                "UPDATE user_metadata SET favorite = ?2, hidden = ?3, notes = ?4, rating = ?5, updated_at = ?6 \
                 WHERE id = ?1",
            )?
            .execute(params![
                metadata.0,
                target.favorite.contains(&entry),
                target.hidden.contains(&entry),
                target.notes.get(&entry),
                target.rating.get(&entry),
                now
            ])?;
        }
    }
    Ok(written)
}

/// `ids` ordered so that a label comes after its parent (the target's labels form a forest: see `sync::doc`).
fn parents_first(labels: &BTreeMap<Uuid, SharedLabel>, ids: Vec<&Uuid>) -> Vec<Uuid> {
    let depth = |id: &Uuid| {
        let mut depth = 0;
        let mut at = labels.get(id).and_then(|l| l.parent);
        while let Some(parent) = at {
            depth += 1;
            if depth > labels.len() {
                break;
            }
            at = labels.get(&parent).and_then(|l| l.parent);
        }
        depth
    };
    let mut ordered: Vec<(usize, Uuid)> = ids.into_iter().map(|id| (depth(id), *id)).collect();
    ordered.sort();
    ordered.into_iter().map(|(_, id)| id).collect()
}

/// This library's tie to a sync folder.
#[derive(Debug, Clone)]
pub struct SyncState {
    pub folder: std::path::PathBuf,
    pub device: Uuid,
    pub device_name: String,
    pub doc: Vec<u8>,
    /// Concatenated 32-byte change hashes.
    pub published_heads: Vec<u8>,
    pub next_seq: i64,
    pub joined_at: i64,
    pub last_sync_at: Option<i64>,
}

pub fn sync_state(conn: &Connection) -> Result<Option<SyncState>> {
    use std::os::unix::ffi::OsStringExt;
    Ok(conn
        .prepare_cached(
            "SELECT folder, device_uuid, device_name, doc, published_heads, next_seq, joined_at, last_sync_at \
             FROM sync_state WHERE id = 1",
        )?
        .query_row([], |r| {
            Ok(SyncState {
                folder: std::ffi::OsString::from_vec(r.get(0)?).into(),
                device: uuid_of(r.get(1)?),
                device_name: r.get(2)?,
                doc: r.get(3)?,
                published_heads: r.get(4)?,
                next_seq: r.get(5)?,
                joined_at: r.get(6)?,
                last_sync_at: r.get(7)?,
            })
        })
        .optional()?)
}

pub fn set_sync_state(conn: &Connection, state: &SyncState) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO sync_state (id, folder, device_uuid, device_name, doc, published_heads, next_seq, \
         joined_at, last_sync_at) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        state.folder.as_os_str().as_bytes(),
        state.device.as_bytes(),
        state.device_name,
        state.doc,
        state.published_heads,
        state.next_seq,
        state.joined_at,
        state.last_sync_at
    ])?;
    Ok(())
}

/// What this library has read of another device's change files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub device: Uuid,
    pub name: String,
    pub loaded_seq: i64,
    pub last_seen_at: Option<i64>,
    pub refused: Option<String>,
}

pub fn peers(conn: &Connection) -> Result<Vec<Peer>> {
    let mut stmt = conn.prepare_cached(
        "SELECT device_uuid, name, loaded_seq, last_seen_at, refused FROM sync_peers ORDER BY name, device_uuid",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Peer {
            device: uuid_of(r.get(0)?),
            name: r.get(1)?,
            loaded_seq: r.get(2)?,
            last_seen_at: r.get(3)?,
            refused: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn set_peer(conn: &Connection, peer: &Peer) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO sync_peers (device_uuid, name, loaded_seq, last_seen_at, refused) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![peer.device.as_bytes(), peer.name, peer.loaded_seq, peer.last_seen_at, peer.refused])?;
    // A row in `devices` too: its id numbers the device's folder in the mount (`devices/<name>/`).
    conn.prepare_cached(
        "INSERT INTO devices (uuid, name, os, created_at, last_seen_at) VALUES (?1, ?2, 'unknown', ?3, ?3) \
         ON CONFLICT (uuid) DO UPDATE SET name = excluded.name, last_seen_at = excluded.last_seen_at",
    )?
    .execute(params![peer.device.as_bytes(), peer.name, peer.last_seen_at.unwrap_or_else(now_ns)])?;
    Ok(())
}

/// Other devices of the sync folder: their row in `devices`, id and name, by name.
pub fn peer_devices(conn: &Connection) -> Result<Vec<(i64, Uuid, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, d.uuid, d.name FROM devices d JOIN sync_peers p ON p.device_uuid = d.uuid ORDER BY d.name, d.id",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, uuid_of(r.get(1)?), r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The sync folder this library joined.
pub fn sync_folder(conn: &Connection) -> Result<Option<std::path::PathBuf>> {
    use std::os::unix::ffi::OsStringExt;
    let folder: Option<Vec<u8>> =
        conn.prepare_cached("SELECT folder FROM sync_state WHERE id = 1")?.query_row([], |r| r.get(0)).optional()?;
    Ok(folder.map(|f| std::ffi::OsString::from_vec(f).into()))
}

/// The flat folder another device's file is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForeignFolder {
    Tag(Uuid),
    Label(Uuid),
    Favorites,
}

/// Another device's file in a flat folder: the folder, the device's row, the entry's id in its snapshot, its name,
/// and whether it is hidden.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignRow {
    pub folder: ForeignFolder,
    pub device: i64,
    pub entry: i64,
    pub name: Vec<u8>,
    pub hidden: bool,
    pub is_dir: bool,
}

/// Takes the edits of other devices' memberships made through the mount (`foreign_edits`), in the order made:
/// (entry, folder, joined). Tags and labels must have their uuids (`name_new_tags`, `name_new_labels`).
pub fn take_foreign_edits(conn: &Connection) -> Result<Vec<(Uuid, ForeignFolder, bool)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT f.entry, f.view, f.member, CASE f.view \
             WHEN 1 THEN (SELECT uuid FROM tags WHERE id = f.folder) \
             WHEN 2 THEN (SELECT uuid FROM labels WHERE id = f.folder) END \
         FROM foreign_edits f ORDER BY f.id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?, r.get::<_, bool>(2)?, r.get::<_, Option<Vec<u8>>>(3)?))
    })?;
    let mut edits = Vec::new();
    for row in rows {
        let (entry, view, member, folder) = row?;
        let Ok(entry) = Uuid::from_slice(&entry) else { continue };
        let folder = folder.and_then(|f| Uuid::from_slice(&f).ok());
        let folder = match (view, folder) {
            (1, Some(tag)) => ForeignFolder::Tag(tag),
            (2, Some(label)) => ForeignFolder::Label(label),
            (3, _) => ForeignFolder::Favorites,
            _ => continue,
        };
        edits.push((entry, folder, member));
    }
    conn.prepare_cached("DELETE FROM foreign_edits")?.execute([])?;
    Ok(edits)
}

/// Replaces the other devices' files shown in the flat views.
pub fn set_foreign_members(conn: &Connection, rows: &[ForeignRow]) -> Result<()> {
    use crate::library::ForeignView;
    conn.prepare_cached("DELETE FROM foreign_members")?.execute([])?;
    let insert = |table: &str, view: ForeignView| {
        format!(
            "INSERT OR IGNORE INTO foreign_members (view, folder, device, entry, name, hidden, is_dir) \
             SELECT {}, id, ?2, ?3, ?4, ?5, ?6 FROM {table} WHERE uuid = ?1",
            view as i64
        )
    };
    let mut tag = conn.prepare_cached(&insert("tags", ForeignView::Tags))?;
    let mut label = conn.prepare_cached(&insert("labels", ForeignView::Labels))?;
    let mut favorite = conn.prepare_cached(
        "INSERT OR IGNORE INTO foreign_members (view, folder, device, entry, name, hidden, is_dir) \
         VALUES (?1, 0, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for r in rows {
        match r.folder {
            ForeignFolder::Tag(t) => {
                tag.execute(params![t.as_bytes(), r.device, r.entry, r.name, r.hidden, r.is_dir])?
            }
            ForeignFolder::Label(l) => {
                label.execute(params![l.as_bytes(), r.device, r.entry, r.name, r.hidden, r.is_dir])?
            }
            ForeignFolder::Favorites => favorite.execute(params![
                ForeignView::Favorites as i64,
                r.device,
                r.entry,
                r.name,
                r.hidden,
                r.is_dir
            ])?,
        };
    }
    Ok(())
}
