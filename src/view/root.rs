//! The top level: one folder per view, in `VIEWS` order. Nothing is made or removed here.

use super::{Ctx, Listed, Node, NodeKind, VIEWS, View, ViewId};
use crate::error::Result;

pub struct Root;

impl View for Root {
    /// Not one of `VIEWS`: no node is made with this id.
    fn id(&self) -> ViewId {
        ViewId(u8::MAX)
    }

    fn name(&self) -> &'static str {
        ""
    }

    fn lookup(&self, _cx: &Ctx<'_>, _dir: Node, name: &[u8]) -> Result<Option<(Node, NodeKind)>> {
        Ok(VIEWS.iter().find(|v| v.name().as_bytes() == name).map(|v| (Node::Top(v.id()), NodeKind::Dir)))
    }

    fn list(&self, _cx: &Ctx<'_>, _dir: Node, cookie: u64) -> Result<Vec<Listed>> {
        Ok(VIEWS
            .iter()
            .enumerate()
            .skip(cookie as usize)
            .map(|(i, v)| Listed::folder(v.name().as_bytes().to_vec(), Node::Top(v.id()), i as u64 + 1))
            .collect())
    }

    fn rmdir(&self, _cx: &Ctx<'_>, _dir: Node, _name: &[u8]) -> Result<()> {
        Err(self.refusal())
    }

    fn unlink(&self, _cx: &Ctx<'_>, _dir: Node, _name: &[u8]) -> Result<Option<Node>> {
        Err(self.refusal())
    }
}
