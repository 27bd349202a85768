//! A bounded LRU cache of where entries live (`EntryInfo` by id), in front of SQLite.
//!
//! Invariant: cleared whenever the library changes (see `fs::SpaceFs::library_changed`), so it never answers with
//! a path the library no longer has. The lock is held only to get or put, never across SQL or I/O.

use crate::library::{EntryId, EntryInfo};
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

pub struct EntryCache {
    inner: Mutex<LruCache<EntryId, Arc<EntryInfo>>>,
}

impl EntryCache {
    pub fn new(capacity: usize) -> EntryCache {
        let capacity = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        EntryCache { inner: Mutex::new(LruCache::new(capacity)) }
    }

    pub fn get(&self, id: EntryId) -> Option<Arc<EntryInfo>> {
        self.lock().get(&id).cloned()
    }

    pub fn put(&self, info: Arc<EntryInfo>) {
        self.lock().put(info.id, info);
    }

    pub fn remove(&self, id: EntryId) {
        self.lock().pop(&id);
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<EntryId, Arc<EntryInfo>>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::{EntryKind, LocationId};

    fn info(id: i64) -> Arc<EntryInfo> {
        Arc::new(EntryInfo {
            id: EntryId(id),
            location: LocationId(1),
            root: Arc::from(std::path::Path::new("/r")),
            relative_path: vec![],
            name: format!("f{id}").into_bytes(),
            kind: EntryKind::File,
        })
    }

    #[test]
    fn keeps_at_most_its_capacity_and_drops_the_least_recent() {
        let cache = EntryCache::new(2);
        cache.put(info(1));
        cache.put(info(2));
        assert!(cache.get(EntryId(1)).is_some()); // 1 is now the most recent
        cache.put(info(3));
        assert_eq!(cache.len(), 2);
        assert!(cache.get(EntryId(2)).is_none());
        assert!(cache.get(EntryId(1)).is_some() && cache.get(EntryId(3)).is_some());
        cache.clear();
        assert!(cache.is_empty());
    }
}
