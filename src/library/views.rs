//! Read queries behind the mounted views. Listings page with keyset cookies (an id greater than the last one
//! returned), so a folder of any size is read in bounded pieces and no page costs more than its own rows.

use super::read::Reader;
use super::types::*;
use crate::error::Result;
use rusqlite::{OptionalExtension, params};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Where an entry lives, enough to reach the real file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    pub id: EntryId,
    pub location: LocationId,
    /// The location's folder, shared by every cached entry of it.
    pub root: std::sync::Arc<std::path::Path>,
    pub relative_path: Vec<u8>,
    pub name: Vec<u8>,
    pub kind: EntryKind,
}

/// Another name (entry) of the same file as entry ?1: hard links share device and inode.
pub(crate) const OTHER_LINK: &str = "SELECT b.id FROM entries a JOIN entries b ON b.device = a.device AND \
     b.inode = a.inode AND b.id != a.id WHERE a.id = ?1 AND a.kind != 1 AND b.kind != 1 ORDER BY b.id LIMIT 1";

impl EntryInfo {
    pub fn real_path(&self) -> PathBuf {
        real_path(&self.root, &self.relative_path, &self.name)
    }

    /// The entry's own path inside its location (its children's `relative_path`).
    pub fn own_path(&self) -> Vec<u8> {
        child_path(&self.relative_path, &self.name)
    }
}

/// One row of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    pub id: EntryId,
    pub name: Vec<u8>,
    pub kind: EntryKind,
    /// Resume after this to get the next rows.
    pub cookie: i64,
    /// Another entry shown in the same flat view has the same name.
    pub collides: bool,
    pub location: LocationId,
    pub relative_path: Vec<u8>,
}

/// The SQL of a flat view (a tag's folder, a label's, favorites, untagged), written by the view's own file
/// (`crate::view`). In each text, `{e}`, `{v}` and `{m}` stand for the aliases of `entries`, the view's membership
/// table and `user_metadata`; `?1` is the folder's id (a tag's, a label's: a view of one folder writes `?1 = ?1`)
/// and `?2` whether hidden entries show.
#[derive(Debug)]
pub struct FlatSql {
    /// The joins from `entries {e}`, and the WHERE clause, that make `{e}` a member. CROSS JOIN keeps `{e}` first:
    /// the caller constrains it by name or id; driven by the view's index instead, SQLite would read every member
    /// of the view for each row it checks.
    pub membership: &'static str,
    /// The column pages are ordered by (the cookie), over `by_view`'s aliases `e`, `v`, `m`.
    pub cookie: &'static str,
    /// The FROM clause (and WHERE) of the whole view, driven by the view's own index (CROSS JOIN fixes the order),
    /// so a page starting at a cookie reads only its rows instead of sorting the whole view.
    pub by_view: &'static str,
    /// The view's number in `foreign_members` (other devices' files shown in it); `ForeignView::None` for a view
    /// that shows only this device's entries.
    pub foreign: ForeignView,
}

/// The flat views that list other devices' files too, as `foreign_members.view` numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForeignView {
    None = 0,
    Tags = 1,
    Labels = 2,
    Favorites = 3,
}

/// One flat folder: its SQL and its id (`?1`).
#[derive(Debug, Clone, Copy)]
pub struct Flat {
    pub sql: &'static FlatSql,
    pub id: i64,
}

impl FlatSql {
    /// The membership text with its aliases.
    fn membership(&self, e: &str, v: &str, m: &str) -> String {
        self.membership.replace("{e}", e).replace("{v}", v).replace("{m}", m)
    }

    /// The SELECT of a view's rows over `from`: id, name, kind, cookie, collides, location, path.
    fn select_from(&self, cookie: &str, from: &str) -> String {
        let other = self.membership("e2", "v2", "m2");
        format!(
            "SELECT e.id, e.name, e.kind, {cookie}, \
             EXISTS (SELECT 1 FROM entries e2 {other} AND e2.name = e.name AND e2.id != e.id), \
             e.location_id, e.relative_path FROM {from}"
        )
    }

    /// The SELECT of other devices' files in one folder of the view (`?1`; `?2`: show hidden ones): device, entry,
    /// name, and whether the name is shared with another file of the folder, here or of another device.
    pub(crate) fn foreign(&self) -> String {
        let here = self.membership("e2", "v2", "m2");
        format!(
            "SELECT f.device, f.entry, f.name, \
             EXISTS (SELECT 1 FROM foreign_members f2 INDEXED BY foreign_members_name WHERE f2.view = f.view AND f2.folder = f.folder \
                     AND f2.name = f.name AND (f2.device, f2.entry) != (f.device, f.entry) AND (?2 OR f2.hidden = 0)) \
             OR EXISTS (SELECT 1 FROM entries e2 {here} AND e2.name = f.name), f.is_dir \
             FROM foreign_members f WHERE f.view = {view} AND f.folder = ?1 AND (?2 OR f.hidden = 0)",
            view = self.foreign as i64
        )
    }

    /// The rows in the view's own order.
    pub(crate) fn select(&self) -> String {
        self.select_from(self.cookie, self.by_view)
    }

    /// The same rows, reached from the entries: for a lookup of one name (`entries_name`) or one id (the primary
    /// key), then checked against the view's index. Driven by the view, a lookup read every member of it.
    pub(crate) fn select_by_entry(&self) -> String {
        self.select_from(self.cookie, &format!("entries e {}", self.membership("e", "v", "m")))
    }
}

fn child_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Child> {
    Ok(Child {
        id: EntryId(r.get(0)?),
        name: r.get(1)?,
        kind: EntryKind::from_i64(r.get(2)?),
        cookie: r.get(3)?,
        collides: r.get(4)?,
        location: LocationId(r.get(5)?),
        relative_path: r.get(6)?,
    })
}

/// A group of identical files as the duplicates view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DupeSet {
    pub content: ContentId,
    pub full_hash: String,
    pub size: i64,
}

/// One copy in a duplicates group: one per real file (hard links to it are not repeated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DupeMember {
    pub id: EntryId,
    pub location: LocationId,
    pub location_name: String,
    pub relative_path: Vec<u8>,
    pub name: Vec<u8>,
}

/// The condition for a content identity to be a duplicates group.
/// Two distinct files: one entry's file, and any entry of another file (stops at the first, so a group costs about
/// the same whatever its size; counting its distinct files made every use read the whole group).
const IS_DUPE_GROUP: &str = "ci.full_hash IS NOT NULL AND ci.size > 0 AND \
     EXISTS (SELECT 1 FROM entries e WHERE e.content_id = ci.id AND (e.device, e.inode) != \
             (SELECT f.device, f.inode FROM entries f WHERE f.content_id = ci.id LIMIT 1))";

/// Everything the extended attributes of an entry show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryMeta {
    pub uuid: String,
    /// (name, colour), by name.
    pub tags: Vec<(String, Option<String>)>,
    /// Label paths like `work/2026`, sorted.
    pub labels: Vec<String>,
    pub notes: Option<String>,
    /// KDE's rating, 1 to 10.
    pub rating: Option<u8>,
    pub favorite: bool,
    pub hidden: bool,
    pub cas_id: Option<String>,
}

impl Reader {
    /// The metadata of an entry, in three indexed queries.
    pub fn entry_meta(&self, id: EntryId) -> Result<Option<EntryMeta>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT e.uuid, m.notes, coalesce(m.favorite, 0), coalesce(m.hidden, 0), ci.cas_id, e.metadata_id, m.rating \
             FROM entries e LEFT JOIN user_metadata m ON m.id = e.metadata_id \
             LEFT JOIN content_identity ci ON ci.id = e.content_id WHERE e.id = ?1",
        )?;
        let row = stmt
            .query_row([id.0], |r| {
                let uuid: Vec<u8> = r.get(0)?;
                let meta = EntryMeta {
                    uuid: uuid::Uuid::from_slice(&uuid).map(|u| u.to_string()).unwrap_or_default(),
                    notes: r.get(1)?,
                    favorite: r.get(2)?,
                    hidden: r.get(3)?,
                    cas_id: r.get(4)?,
                    rating: r.get(6)?,
                    ..EntryMeta::default()
                };
                Ok((meta, r.get::<_, Option<i64>>(5)?))
            })
            .optional()?;
        let Some((mut meta, metadata_id)) = row else { return Ok(None) };
        if let Some(mid) = metadata_id {
            let mut tags = self.conn().prepare_cached(
                "SELECT t.name, t.color FROM metadata_tag mt JOIN tags t ON t.id = mt.tag_id \
                 WHERE mt.metadata_id = ?1 ORDER BY t.name",
            )?;
            meta.tags = tags.query_map([mid], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
            let mut labels = self.conn().prepare_cached(
                "WITH RECURSIVE up(start, id, path) AS ( \
                     SELECT l.id, l.parent_id, l.name FROM metadata_label ml JOIN labels l ON l.id = ml.label_id \
                     WHERE ml.metadata_id = ?1 \
                     UNION ALL SELECT up.start, p.parent_id, p.name || '/' || up.path FROM up JOIN labels p ON p.id = up.id) \
                 SELECT path FROM up WHERE id IS NULL ORDER BY path",
            )?;
            meta.labels = labels.query_map([mid], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        }
        Ok(Some(meta))
    }

    pub fn entry_by_uuid(&self, uuid: &[u8]) -> Result<Option<EntryId>> {
        let mut stmt = self.conn().prepare_cached("SELECT id FROM entries WHERE uuid = ?1")?;
        Ok(stmt.query_row([uuid], |r| Ok(EntryId(r.get(0)?))).optional()?)
    }

    /// A tag's name and colour.
    pub fn tag(&self, id: TagId) -> Result<Option<(String, Option<String>)>> {
        let mut stmt = self.conn().prepare_cached("SELECT name, color FROM tags WHERE id = ?1")?;
        Ok(stmt.query_row([id.0], |r| Ok((r.get(0)?, r.get(1)?))).optional()?)
    }

    /// The first entry (lowest id) of a file's names (any kind but a folder): the entry whose inode number `locations/` shows for every
    /// name of a file with several hard links. By the `entries_inode` index.
    pub fn first_link(&self, device: u64, inode: u64) -> Result<Option<EntryId>> {
        let mut stmt =
            self.conn().prepare_cached("SELECT min(id) FROM entries WHERE device = ?1 AND inode = ?2 AND kind != 1")?;
        Ok(stmt.query_row([device as i64, inode as i64], |r| r.get::<_, Option<i64>>(0))?.map(EntryId))
    }

    /// Another name (entry) of the same file as entry `id`, if the library knows one.
    pub fn other_link(&self, id: EntryId) -> Result<Option<EntryId>> {
        let mut stmt = self.conn().prepare_cached(OTHER_LINK)?;
        Ok(stmt.query_row([id.0], |r| r.get(0)).optional()?.map(EntryId))
    }

    /// Whether any entry of the location is recorded.
    pub fn location_has_entries(&self, location: LocationId) -> Result<bool> {
        let mut stmt = self.conn().prepare_cached("SELECT 1 FROM entries WHERE location_id = ?1 LIMIT 1")?;
        Ok(stmt.exists([location.0])?)
    }

    /// Whether an entry carries user metadata (tags, labels, notes, flags); false for an entry not recorded.
    pub fn has_metadata(&self, id: EntryId) -> Result<bool> {
        let mut stmt = self.conn().prepare_cached("SELECT metadata_id IS NOT NULL FROM entries WHERE id = ?1")?;
        Ok(stmt.query_row([id.0], |r| r.get(0)).optional()?.unwrap_or(false))
    }

    pub fn entry_info(&self, id: EntryId) -> Result<Option<EntryInfo>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT e.id, e.location_id, l.path, e.relative_path, e.name, e.kind FROM entries e \
             JOIN locations l ON l.id = e.location_id WHERE e.id = ?1",
        )?;
        Ok(stmt
            .query_row([id.0], |r| {
                let root: Vec<u8> = r.get(2)?;
                Ok(EntryInfo {
                    id: EntryId(r.get(0)?),
                    location: LocationId(r.get(1)?),
                    root: std::sync::Arc::from(std::path::Path::new(OsStr::from_bytes(&root))),
                    relative_path: r.get(3)?,
                    name: r.get(4)?,
                    kind: EntryKind::from_i64(r.get(5)?),
                })
            })
            .optional()?)
    }

    pub fn location_by_id(&self, id: LocationId) -> Result<Option<Location>> {
        let mut stmt =
            self.conn().prepare_cached(&format!("SELECT {LOCATION_COLUMNS} FROM locations WHERE id = ?1"))?;
        Ok(stmt.query_row([id.0], |r| Location::try_from(r)).optional()?)
    }

    /// Children of a folder of a location, in id order, after the entry `after`.
    pub fn folder_children(&self, location: LocationId, path: &[u8], after: i64, limit: usize) -> Result<Vec<Child>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, name, kind, id, 0, location_id, relative_path FROM entries \
             WHERE location_id = ?1 AND relative_path = ?2 AND id > ?3 \
             ORDER BY id LIMIT ?4",
        )?;
        let rows = stmt.query_map(params![location.0, path, after, limit as i64], child_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn folder_child(&self, location: LocationId, path: &[u8], name: &[u8]) -> Result<Option<Child>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, name, kind, id, 0, location_id, relative_path FROM entries \
             WHERE location_id = ?1 AND relative_path = ?2 AND name = ?3",
        )?;
        Ok(stmt.query_row(params![location.0, path, name], child_row).optional()?)
    }

    /// Tags by id, after `after`.
    pub fn tag_page(&self, after: i64, limit: usize) -> Result<Vec<(TagId, String)>> {
        let mut stmt = self.conn().prepare_cached("SELECT id, name FROM tags WHERE id > ?1 ORDER BY id LIMIT ?2")?;
        let rows = stmt.query_map(params![after, limit as i64], |r| Ok((TagId(r.get(0)?), r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The labels directly below `parent` (top-level labels for `None`), by id.
    pub fn child_labels(&self, parent: Option<LabelId>) -> Result<Vec<(LabelId, String)>> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT id, name FROM labels WHERE coalesce(parent_id, 0) = coalesce(?1, 0) ORDER BY id")?;
        let rows = stmt.query_map([parent.map(|p| p.0)], |r| Ok((LabelId(r.get(0)?), r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn child_label(&self, parent: Option<LabelId>, name: &str) -> Result<Option<LabelId>> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT id FROM labels WHERE coalesce(parent_id, 0) = coalesce(?1, 0) AND name = ?2")?;
        Ok(stmt.query_row(params![parent.map(|p| p.0), name], |r| Ok(LabelId(r.get(0)?))).optional()?)
    }

    pub fn label_exists(&self, id: LabelId) -> Result<bool> {
        let mut stmt = self.conn().prepare_cached("SELECT 1 FROM labels WHERE id = ?1")?;
        Ok(stmt.exists([id.0])?)
    }

    pub fn tag_exists(&self, id: TagId) -> Result<bool> {
        let mut stmt = self.conn().prepare_cached("SELECT 1 FROM tags WHERE id = ?1")?;
        Ok(stmt.exists([id.0])?)
    }

    /// A page of a flat view, in cookie order, after `after`.
    pub fn view_page(&self, view: Flat, show_hidden: bool, after: i64, limit: usize) -> Result<Vec<Child>> {
        let order = view.sql.cookie;
        let sql = format!("{} AND {order} > ?3 ORDER BY {order} LIMIT ?4", view.sql.select());
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map(params![view.id, show_hidden, after, limit as i64], child_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The entries of a flat view whose real name is `name`.
    pub fn view_named(&self, view: Flat, show_hidden: bool, name: &[u8]) -> Result<Vec<Child>> {
        let sql = format!("{} AND e.name = ?3", view.sql.select_by_entry());
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map(params![view.id, show_hidden, name], child_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Other devices' files in a flat view's folder, after (device, entry) `after`, in that order.
    pub fn foreign_page(
        &self,
        view: Flat,
        show_hidden: bool,
        after: (i64, i64),
        limit: usize,
    ) -> Result<Vec<ForeignMember>> {
        let sql =
            format!("{} AND (f.device, f.entry) > (?3, ?4) ORDER BY f.device, f.entry LIMIT ?5", view.sql.foreign());
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map(params![view.id, show_hidden, after.0, after.1, limit as i64], foreign_member)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Other devices' files in a flat view's folder named `name`.
    pub fn foreign_named(&self, view: Flat, show_hidden: bool, name: &[u8]) -> Result<Vec<ForeignMember>> {
        let sql = format!("{} AND f.name = ?3", view.sql.foreign());
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map(params![view.id, show_hidden, name], foreign_member)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Another device's file in a flat view's folder, by (device, entry).
    pub fn foreign_member(
        &self,
        view: Flat,
        show_hidden: bool,
        device: i64,
        entry: i64,
    ) -> Result<Option<ForeignMember>> {
        let sql = format!("{} AND f.device = ?3 AND f.entry = ?4", view.sql.foreign());
        let mut stmt = self.conn().prepare_cached(&sql)?;
        Ok(stmt.query_row(params![view.id, show_hidden, device, entry], foreign_member).optional()?)
    }

    /// The entry `id` if it is in the flat view.
    pub fn view_member(&self, view: Flat, show_hidden: bool, id: EntryId) -> Result<Option<Child>> {
        let sql = format!("{} AND e.id = ?3", view.sql.select_by_entry());
        let mut stmt = self.conn().prepare_cached(&sql)?;
        Ok(stmt.query_row(params![view.id, show_hidden, id.0], child_row).optional()?)
    }

    /// The SELECT of a query folder's rows, like a flat view's, for a compiled condition over `e`/`m` (and the
    /// same condition over `e2`/`m2` for collisions). Parameters: the collision condition's, then show-hidden (twice),
    /// then the main condition's.
    fn query_select(condition: &str, condition2: &str) -> String {
        format!(
            "SELECT e.id, e.name, e.kind, e.id, \
             EXISTS (SELECT 1 FROM entries e2 LEFT JOIN user_metadata m2 ON m2.id = e2.metadata_id \
                     WHERE e2.name = e.name AND e2.id != e.id AND ({condition2}) AND (? OR coalesce(m2.hidden, 0) = 0)), \
             e.location_id, e.relative_path FROM entries e LEFT JOIN user_metadata m ON m.id = e.metadata_id \
             WHERE (? OR coalesce(m.hidden, 0) = 0) AND ({condition})"
        )
    }

    fn query_rows(
        &self,
        query: &crate::query::Expr,
        show_hidden: bool,
        tail: &str,
        extra: Vec<rusqlite::types::Value>,
    ) -> Result<Vec<Child>> {
        let mut params2 = Vec::new();
        let condition2 = query.to_sql("e2", "m2", self, &mut params2);
        let mut params = Vec::new();
        let condition = query.to_sql("e", "m", self, &mut params);
        let sql = format!("{} {tail}", Self::query_select(&condition, &condition2));
        let mut all = params2;
        all.push(rusqlite::types::Value::Integer(show_hidden as i64));
        all.push(rusqlite::types::Value::Integer(show_hidden as i64));
        all.extend(params);
        all.extend(extra);
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(all), child_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A page of a query folder, by entry id after `after`: one SQL statement over the indexes.
    pub fn query_page(
        &self,
        query: &crate::query::Expr,
        show_hidden: bool,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Child>> {
        use rusqlite::types::Value;
        self.query_rows(
            query,
            show_hidden,
            "AND e.id > ? ORDER BY e.id LIMIT ?",
            vec![Value::Integer(after), Value::Integer(limit as i64)],
        )
    }

    pub fn query_named(&self, query: &crate::query::Expr, show_hidden: bool, name: &[u8]) -> Result<Vec<Child>> {
        self.query_rows(query, show_hidden, "AND e.name = ?", vec![rusqlite::types::Value::Blob(name.to_vec())])
    }

    pub fn query_member(&self, query: &crate::query::Expr, show_hidden: bool, id: EntryId) -> Result<Option<Child>> {
        Ok(self.query_rows(query, show_hidden, "AND e.id = ?", vec![rusqlite::types::Value::Integer(id.0)])?.pop())
    }

    /// Saved queries: (id, name, expression), by id.
    pub fn saved_queries(&self) -> Result<Vec<(i64, String, String)>> {
        let mut stmt = self.conn().prepare_cached("SELECT id, name, expression FROM saved_queries ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn saved_query(&self, name: &str) -> Result<Option<String>> {
        let mut stmt = self.conn().prepare_cached("SELECT expression FROM saved_queries WHERE name = ?1")?;
        Ok(stmt.query_row([name], |r| r.get(0)).optional()?)
    }

    /// Whether the entry is hidden.
    pub fn is_hidden(&self, id: EntryId) -> Result<bool> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT coalesce(m.hidden, 0) FROM entries e LEFT JOIN user_metadata m ON m.id = e.metadata_id WHERE e.id = ?1",
        )?;
        Ok(stmt.query_row([id.0], |r| r.get(0)).optional()?.unwrap_or(false))
    }

    /// Duplicates groups by content id, after `after`.
    pub fn dupe_set_page(&self, after: i64, limit: usize) -> Result<Vec<DupeSet>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT ci.id, ci.full_hash, ci.size FROM content_identity ci WHERE ci.id > ?1 AND {IS_DUPE_GROUP} \
             ORDER BY ci.id LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![after, limit as i64], |r| {
            Ok(DupeSet { content: ContentId(r.get(0)?), full_hash: r.get(1)?, size: r.get(2)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The duplicates groups whose full hash starts with `prefix` (lowercase hex).
    pub fn dupe_sets_with_prefix(&self, prefix: &str) -> Result<Vec<DupeSet>> {
        let mut high = prefix.to_owned();
        high.push('g'); // just above every hex digit
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT ci.id, ci.full_hash, ci.size FROM content_identity ci \
             WHERE ci.full_hash >= ?1 AND ci.full_hash < ?2 AND {IS_DUPE_GROUP}"
        ))?;
        let rows = stmt.query_map(params![prefix, high], |r| {
            Ok(DupeSet { content: ContentId(r.get(0)?), full_hash: r.get(1)?, size: r.get(2)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn dupe_set(&self, content: ContentId) -> Result<Option<DupeSet>> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT ci.id, ci.full_hash, ci.size FROM content_identity ci WHERE ci.id = ?1 AND {IS_DUPE_GROUP}"
        ))?;
        Ok(stmt
            .query_row([content.0], |r| {
                Ok(DupeSet { content: ContentId(r.get(0)?), full_hash: r.get(1)?, size: r.get(2)? })
            })
            .optional()?)
    }

    /// One entry per real file of a duplicates group (the lowest id among hard links), by id.
    pub fn dupe_members(&self, content: ContentId, show_hidden: bool) -> Result<Vec<DupeMember>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT min(e.id), l.name, e.relative_path, e.name, e.location_id FROM entries e JOIN locations l ON l.id = e.location_id \
             LEFT JOIN user_metadata m ON m.id = e.metadata_id \
             WHERE e.content_id = ?1 AND e.size > 0 AND (?2 OR coalesce(m.hidden, 0) = 0) \
             GROUP BY e.device, e.inode ORDER BY 1",
        )?;
        let rows = stmt.query_map(params![content.0, show_hidden], |r| {
            Ok(DupeMember {
                id: EntryId(r.get(0)?),
                location: LocationId(r.get(4)?),
                location_name: r.get(1)?,
                relative_path: r.get(2)?,
                name: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Changes whenever another connection (this process's writer, or another process) commits.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self.conn().pragma_query_value(None, "data_version", |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::library::testing::{plan, raw_library};

    /// Every label path names label 1.
    struct SomeLabel;
    impl crate::query::Names for SomeLabel {
        fn label(&self, _: &str) -> Option<i64> {
            Some(1)
        }
    }

    #[test]
    fn a_query_folder_looks_a_name_up_through_an_index_whatever_the_expression() {
        let library = raw_library();
        let conn = &library.conn;
        // (The flat views' own statements are checked where they are written: `crate::view::flat`.)
        for text in ["holiday", "label:work or favorite", "not holiday", "dupe", "ext:pdf size>1k"] {
            let expr = crate::query::parse(text).unwrap();
            let reader = SomeLabel;
            let mut params2 = Vec::new();
            let condition2 = expr.to_sql("e2", "m2", &reader, &mut params2);
            let mut params = Vec::new();
            let condition = expr.to_sql("e", "m", &reader, &mut params);
            let sql = format!("{} AND e.name = ?", Reader::query_select(&condition, &condition2));
            let plan = plan(conn, &sql);
            assert_eq!(plan.lines().next(), Some("SEARCH e USING INDEX entries_name (name=?)"), "{text}:\n{plan}");
            // (The recursive walk of label children scans its own small work table, not the library.)
            let scans = |l: &&str| l.starts_with("SCAN") && !matches!(*l, "SCAN CONSTANT ROW" | "SCAN sub");
            assert!(!plan.lines().any(|l| scans(&l)), "{text}:\n{plan}");
        }
    }

    #[test]
    fn whether_content_is_a_duplicates_group_is_decided_from_two_entries_whatever_the_group_size() {
        let library = raw_library();
        let conn = &library.conn;
        let plan = plan(conn, &format!("SELECT ci.id FROM content_identity ci WHERE ci.id = ?1 AND {IS_DUPE_GROUP}"));
        assert!(!plan.contains("count(DISTINCT)") && !plan.lines().any(|l| l.starts_with("SCAN")), "{plan}");
        assert!(
            plan.lines()
                .any(|l| l.starts_with("SEARCH e") && l.ends_with("USING INDEX entries_content (content_id=?)")),
            "{plan}"
        );
    }
}

/// Another device's file in a flat view's folder (`Reader::foreign_page`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignMember {
    pub device: i64,
    pub entry: i64,
    pub name: Vec<u8>,
    /// Another file of the folder (here, or of another device) has the same name.
    pub collides: bool,
    /// A folder (shown as a link to it under `devices/`), not a file.
    pub is_dir: bool,
}

fn foreign_member(r: &rusqlite::Row<'_>) -> rusqlite::Result<ForeignMember> {
    Ok(ForeignMember { device: r.get(0)?, entry: r.get(1)?, name: r.get(2)?, collides: r.get(3)?, is_dir: r.get(4)? })
}
