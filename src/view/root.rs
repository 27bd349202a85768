//! The top level: one folder per view. Nothing is made or removed here.

use super::{Ctx, Listed, Node, NodeKind, View};
use crate::error::Result;

/// The names of the top-level folders, in listing order.
pub const TOP_LEVEL: [(&str, Node); 7] = [
    ("locations", Node::Locations),
    ("tags", Node::Tags),
    ("labels", Node::Labels),
    ("favorites", Node::Favorites),
    ("duplicates", Node::Duplicates),
    ("query", Node::QueryRoot),
    ("untagged", Node::Untagged),
];

pub struct Root;

impl View for Root {
    fn lookup(&self, _cx: &Ctx<'_>, _dir: Node, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
        Ok(TOP_LEVEL.iter().find(|(n, _)| n.as_bytes() == name).map(|(_, node)| (*node, NodeKind::Dir)))
    }

    fn list(&self, _cx: &Ctx<'_>, _dir: Node, cookie: u64) -> Result<Vec<Listed>> {
        Ok(TOP_LEVEL
            .iter()
            .enumerate()
            .skip(cookie as usize)
            .map(|(i, (n, node))| Listed::folder(n.as_bytes().to_vec(), *node, i as u64 + 1))
            .collect())
    }

    fn rmdir(&self, _cx: &Ctx<'_>, _dir: Node, _name: &[u8]) -> Result<()> {
        Err(self.refusal())
    }

    fn unlink(&self, _cx: &Ctx<'_>, _dir: Node, _name: &[u8]) -> Result<Option<Node>> {
        Err(self.refusal())
    }
}
