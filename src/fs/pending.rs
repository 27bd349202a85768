//! Changes to real entries sent to the writer and not yet known to be committed.
//!
//! A system call in `locations/` that no acknowledged user metadata depends on (a file created, removed, renamed
//! while it carries no tags, a release recorded) is answered once the disk has done it; its record goes to the
//! writer without waiting for the commit. Until the writer commits it, the library lags the disk by exactly what is
//! here. Invariants, kept by `SpaceFs`:
//! - whoever answers from the library's paths (a lookup, a listing) first waits while anything is pending
//!   (`SpaceFs::settle`);
//! - whoever finds an entry by id, or the entry at a name before changing it, asks here first (`place`, `at_name`);
//! - a new entry's id is reserved before it is recorded (`take_id`), so the kernel can be given its inode number
//!   at once; the writer records the file under that id.
//!
//! Commands are numbered as they are sent, under the lock, so numbers follow the writer's order; the writer answers
//! each on one channel in that order, so counting the answers tells how many are committed without asking.
//! What is known committed is dropped, so the tables hold only what is in flight.

use crate::error::Result;
use crate::library::write::{ScanApplied, ScanItem};
use crate::library::writer::Writer;
use crate::library::{EntryId, EntryInfo, EntryKind, LocationId};
use crossbeam_channel::{Receiver, Sender, unbounded};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// How many entry ids are reserved at a time.
const ID_BLOCK: i64 = 4096;

/// A name in a real folder: its location, its folder's path there, and the name.
pub type NameKey = (LocationId, Vec<u8>, Vec<u8>);

/// What a queued change did, as later reads must see it before it is committed.
pub enum Effect {
    /// The entry is at this place now (created there, or moved there).
    Placed(Arc<EntryInfo>),
    /// Nothing is at this name now (removed, or moved away).
    Vacated(NameKey),
    /// A new name (the second entry) was linked to the first entry's file.
    Linked(EntryId, EntryId),
}

pub struct Pending {
    state: Mutex<State>,
    ids: Mutex<Range<i64>>,
    done_tx: Sender<Result<ScanApplied>>,
    done_rx: Receiver<Result<ScanApplied>>,
    /// Counts queued changes: a reader that read the library while this moved may have read it mid-change.
    epoch: AtomicU64,
}

#[derive(Default)]
struct State {
    sent: u64,
    committed: u64,
    places: HashMap<EntryId, (u64, Arc<EntryInfo>)>,
    names: HashMap<NameKey, (u64, Option<(EntryId, EntryKind)>)>,
    links: HashMap<EntryId, (u64, EntryId)>,
}

impl Default for Pending {
    fn default() -> Self {
        let (done_tx, done_rx) = unbounded();
        Pending { state: Mutex::default(), ids: Mutex::new(0..0), done_tx, done_rx, epoch: AtomicU64::new(0) }
    }
}

impl Pending {
    /// Sends `items` to the writer without waiting, and notes what they do for reads until they are committed.
    pub fn queue(
        &self,
        writer: &Writer,
        location: LocationId,
        items: Vec<ScanItem>,
        effects: Vec<Effect>,
    ) -> Result<()> {
        let mut state = self.lock();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        writer.apply_scan_queued(location, items, &self.done_tx)?;
        state.sent += 1;
        let number = state.sent;
        for effect in effects {
            match effect {
                Effect::Placed(info) => {
                    let key = (info.location, info.relative_path.clone(), info.name.clone());
                    state.names.insert(key, (number, Some((info.id, info.kind))));
                    state.places.insert(info.id, (number, info));
                }
                Effect::Vacated(key) => {
                    state.names.insert(key, (number, None));
                }
                Effect::Linked(source, new) => {
                    state.links.insert(source, (number, new));
                }
            }
        }
        Ok(())
    }

    /// Whether something sent is not known committed yet.
    pub fn any(&self) -> bool {
        let state = self.lock();
        state.sent > state.committed
    }

    /// Where entry `id` is, if a pending change put it somewhere.
    pub fn place(&self, id: EntryId) -> Option<Arc<EntryInfo>> {
        self.lock().places.get(&id).map(|(_, info)| Arc::clone(info))
    }

    /// What a name holds after the pending changes, if one of them changed it: `Some(None)` for nothing.
    pub fn at_name(&self, key: &NameKey) -> Option<Option<(EntryId, EntryKind)>> {
        self.lock().names.get(key).map(|(_, at)| *at)
    }

    /// Another name of entry `id`'s file linked by a pending change, if any.
    pub fn linked_to(&self, id: EntryId) -> Option<EntryId> {
        self.lock().links.get(&id).map(|(_, new)| *new)
    }

    /// The current epoch: compare before and after reading the library to know whether a change was queued meanwhile.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// An entry id for a file about to be recorded, reserved in blocks from the writer.
    pub fn take_id(&self, writer: &Writer) -> Result<EntryId> {
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        if ids.is_empty() {
            let first = writer.reserve_entry_ids(ID_BLOCK)?;
            *ids = first..first + ID_BLOCK;
        }
        let id = ids.start;
        ids.start += 1;
        Ok(EntryId(id))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let answered = self.done_rx.try_iter().count() as u64;
        if answered > 0 {
            // Each answer is one command, in the order they were sent: counting them is knowing what committed.
            state.committed += answered;
            Self::forget_committed(&mut state);
        }
        state
    }

    fn forget_committed(state: &mut State) {
        let committed = state.committed;
        if state.places.is_empty() && state.names.is_empty() && state.links.is_empty() {
            return;
        }
        state.places.retain(|_, (number, _)| *number > committed);
        state.names.retain(|_, (number, _)| *number > committed);
        state.links.retain(|_, (number, _)| *number > committed);
    }
}
