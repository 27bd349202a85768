//! `locations/`: each location by name, then its indexed tree exactly as on disk. Changes below a location are
//! made on the real files by `crate::fs` (its `real` module), never here; `locations/` itself takes none.

use super::{Ctx, Listed, Node, NodeKind, PAGE, Place, View, ViewId};
use crate::error::Result;
use crate::library::{Child, LocationId, Reader};

pub const ID: ViewId = ViewId(0);
const TOP: Node = Node::Top(ID);

pub struct Locations;

impl View for Locations {
    fn id(&self) -> ViewId {
        ID
    }

    fn name(&self) -> &'static str {
        "locations"
    }

    fn lookup(&self, cx: &Ctx<'_>, dir: Node, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
        if dir == TOP {
            let Ok(name) = std::str::from_utf8(name) else { return Ok(None) };
            return Ok(cx.reader.location_by_name(name)?.map(|l| (Node::Location(l.id), NodeKind::Dir)));
        }
        let Some((location, path)) = folder_of(cx.reader, dir)? else { return Ok(None) };
        Ok(cx.reader.folder_child(location, &path, name)?.map(|c| (Node::Entry(c.id), NodeKind::of_entry(c.kind))))
    }

    fn list(&self, cx: &Ctx<'_>, dir: Node, cookie: u64) -> Result<Vec<Listed>> {
        if dir == TOP {
            let mut locations = cx.reader.locations()?;
            locations.sort_by_key(|l| l.id);
            return Ok(locations
                .into_iter()
                .filter(|l| l.id.0 as u64 > cookie)
                .map(|l| Listed::folder(l.name.into_bytes(), Node::Location(l.id), l.id.0 as u64))
                .collect());
        }
        let Some((location, path)) = folder_of(cx.reader, dir)? else { return Ok(Vec::new()) };
        let children = cx.reader.folder_children(location, &path, cookie as i64, PAGE)?;
        Ok(children
            .into_iter()
            .map(|c| {
                let (name, node) = (c.name.clone(), Node::Entry(c.id));
                listed_entry(c, name, node)
            })
            .collect())
    }

    fn exists(&self, cx: &Ctx<'_>, node: Node) -> Result<bool> {
        Ok(match node {
            Node::Location(id) => cx.reader.location_by_id(id)?.is_some(),
            Node::Entry(id) => cx.reader.entry_info(id)?.is_some(),
            _ => true,
        })
    }

    // A real folder's entries are removed on disk (`crate::fs`): only `locations/` itself reaches these.
    fn rmdir(&self, _cx: &Ctx<'_>, _dir: Node, _name: &[u8]) -> Result<()> {
        Err(self.refusal())
    }

    fn unlink(&self, _cx: &Ctx<'_>, _dir: Node, _name: &[u8]) -> Result<Option<Node>> {
        Err(self.refusal())
    }
}

/// The location and folder path whose children `dir` shows; `None` when `dir` is not a folder that still exists.
pub fn folder_of(reader: &Reader, dir: Node) -> Result<Option<(LocationId, Vec<u8>)>> {
    Ok(match dir {
        Node::Location(id) => Some((id, Vec::new())),
        Node::Entry(id) | Node::ViewDir { entry: id, .. } => reader
            .entry_info(id)?
            .filter(|e| e.kind == crate::library::EntryKind::Dir)
            .map(|e| (e.location, e.own_path())),
        _ => None,
    })
}

/// A real child as listed under `name` (its own, or a suffixed one), with `node` deciding how it is represented.
pub fn listed_entry(c: Child, name: Vec<u8>, node: Node) -> Listed {
    Listed {
        node,
        kind: NodeKind::of_entry(c.kind),
        cookie: c.cookie as u64,
        place: Some(Place { location: c.location, relative_path: c.relative_path, name: c.name, kind: c.kind }),
        name,
    }
}
