//! The lifetime of what the mount keeps per inode: it follows the kernel. Each reply that hands the kernel an inode
//! (a lookup, mkdir, link, a readdirplus entry) counts one reference; the kernel's `forget` gives them back when it
//! drops the inode, and what was kept only for it goes: the node behind a hashed number, a query folder's
//! expression, a removed hard link's alias, a folder's listing version. So no map grows for the life of a mount,
//! only with what the kernel holds.
//!
//! Counting and forgetting happen under one lock (`lookups`), and a node is kept again under it at each count, so a
//! forget of an inode racing a new lookup of the same number cannot leave the kernel holding a number spacefs forgot.

use super::SpaceFs;
use crate::inode;
use crate::view::Node;

impl SpaceFs {
    /// Counts a reply handing `node` (inode `ino`) to the kernel.
    pub(super) fn handed_out(&self, ino: u64, node: Node) {
        if !inode::is_kept(ino) {
            return;
        }
        let mut lookups = self.lookups.lock().unwrap_or_else(|p| p.into_inner());
        *lookups.entry(ino).or_default() += 1;
        self.inodes.keep(ino, node);
    }

    /// The kernel dropped `ino`, which `count` replies had handed it.
    pub fn forget(&self, ino: u64, count: u64) {
        self.listed_at.lock().unwrap_or_else(|p| p.into_inner()).remove(&ino);
        if !inode::is_kept(ino) {
            self.inodes.forget(ino);
            return;
        }
        let mut lookups = self.lookups.lock().unwrap_or_else(|p| p.into_inner());
        let left = lookups.get(&ino).map_or(0, |n| n.saturating_sub(count));
        if left > 0 {
            lookups.insert(ino, left);
            return;
        }
        lookups.remove(&ino);
        if let Some(node) = self.inodes.node_of(ino) {
            self.queries.forget(node);
        }
        self.inodes.forget(ino);
    }

    /// How many things are kept per inode (for tests and `scripts/bench memory`): hashed folders, link aliases,
    /// query folders, listing versions, counted references.
    pub fn kept(&self) -> usize {
        self.inodes.kept()
            + self.queries.len()
            + self.listed_at.lock().unwrap_or_else(|p| p.into_inner()).len()
            + self.lookups.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}
