//! The one writer: a thread that owns the library's only writable connection.
//!
//! Every mutation is a typed `WriteCmd` sent over a bounded crossbeam channel together with a reply channel. The
//! thread takes whatever is queued (up to `MAX_BATCH` commands), applies it in one transaction, commits, and only
//! then replies; if one command fails, the batch is replayed one command per transaction, so the failing command
//! changes nothing and does not spoil the others. Group commit is what makes many small changes from many threads fast; replying after commit is
//! what makes a returned change durable.
//!
//! Commands that cannot run inside a transaction (checkpoint, VACUUM) end the batch and run alone.
//!
//! `Writer` is a cheap clonable handle; the thread ends (and its connection closes, checkpointing the WAL) when the
//! last handle is dropped.

use crate::error::{Error, Result};
use crate::library::write::{
    self, ContentHash, Flag, LocationTotals, Membership, NewLocation, RemovedLocation, ScanApplied, ScanItem,
};
use crate::library::{EntryId, JobId, LabelId, LocationId, TagId};
use crate::names::{LabelPath, TagName};
use crossbeam_channel::{Receiver, Sender, bounded};
use rusqlite::Connection;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Commands waiting beyond this many make senders block: memory stays bounded under overload.
const QUEUE_CAPACITY: usize = 1024;
/// The most commands applied in one transaction.
const MAX_BATCH: usize = 512;
/// How long queued commands (which nobody waits for) may wait for others to share their commit.
const GATHER: std::time::Duration = std::time::Duration::from_millis(2);

type Reply<T> = Sender<Result<T>>;

pub enum WriteCmd {
    AddLocation(NewLocation, Reply<LocationId>),
    RemoveLocation(LocationId, Reply<RemovedLocation>),
    StartScan(LocationId, Reply<JobId>),
    ApplyScan(LocationId, Vec<ScanItem>, Reply<ScanApplied>),
    /// As `ApplyScan`, from a caller that does not wait for it: the writer may gather more before committing.
    ApplyQueued(LocationId, Vec<ScanItem>, Reply<ScanApplied>),
    /// Reserve this many entry ids; answers the first (see `write::reserve_entry_ids`).
    ReserveEntryIds(i64, Reply<i64>),
    SetFullHashes(Vec<(EntryId, ContentHash)>, Reply<u64>),
    FinishScan {
        location: LocationId,
        job: JobId,
        items: i64,
        error: Option<String>,
        reply: Reply<LocationTotals>,
    },
    Tag(Vec<EntryId>, Vec<TagName>, Reply<u64>),
    Untag(Vec<EntryId>, Vec<TagName>, Reply<u64>),
    Label(Vec<EntryId>, LabelPath, Reply<u64>),
    SetFlag(Vec<EntryId>, Flag, bool, Reply<u64>),
    SetNotes(EntryId, Option<String>, Reply<()>),
    /// Replace an entry's tag set (and set some tags' colours) in one step.
    SetTags {
        entry: EntryId,
        tags: Vec<TagName>,
        colors: Vec<(TagName, Option<String>)>,
        reply: Reply<()>,
    },
    SetLabels(EntryId, Vec<LabelPath>, Reply<()>),
    SetTagColor(TagName, Option<String>, Reply<()>),
    Unlabel(Vec<EntryId>, LabelPath, Reply<u64>),
    RenameTag(TagName, TagName, Reply<()>),
    MergeTags(TagName, TagName, Reply<u64>),
    ChangeMembership {
        entry: EntryId,
        remove: Option<Membership>,
        add: Option<Membership>,
        reply: Reply<()>,
    },
    CreateTag(TagName, Reply<TagId>),
    DeleteTag(TagName, Reply<()>),
    MoveTag(TagName, TagName, Reply<()>),
    CreateLabel(Option<LabelId>, String, Reply<LabelId>),
    DeleteLabel(LabelId, Reply<()>),
    MoveLabel {
        label: LabelId,
        parent: Option<LabelId>,
        name: String,
        reply: Reply<()>,
    },
    SaveQuery(String, String, Reply<()>),
    ForgetQuery(String, Reply<()>),
    /// Give orphaned metadata back to files that came back.
    RelinkOrphans(LocationId, Reply<u64>),
    /// A rename done on disk: the entry keeps its identity and metadata.
    RenameEntry {
        entry: EntryId,
        relative_path: Vec<u8>,
        name: Vec<u8>,
        reply: Reply<()>,
    },
    /// rename(RENAME_EXCHANGE) done on disk: two entries swap places, each keeping its identity and metadata.
    ExchangeEntries(EntryId, EntryId, Reply<()>),
    /// A truncating WAL checkpoint and, when asked, VACUUM.
    Optimize {
        vacuum: bool,
        reply: Reply<()>,
    },
    /// The writer connection's `data_version`: it moves only when another connection (the CLI, another mount)
    /// commits, so comparing it tells changes made elsewhere from this writer's own.
    ExternalVersion(Reply<i64>),
    /// A truncating WAL checkpoint, so the library file alone holds everything (a mount ending).
    Checkpoint {
        reply: Reply<()>,
    },
}

#[derive(Clone)]
pub struct Writer {
    inner: Arc<Inner>,
}

struct Inner {
    tx: Option<Sender<WriteCmd>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Writer {
    /// Starts the writer thread on `conn`, the library's writable connection.
    pub fn start(conn: Connection) -> Writer {
        let (tx, rx) = bounded(QUEUE_CAPACITY);
        let thread = std::thread::Builder::new()
            .name("spacefs-writer".into())
            .spawn(move || run(conn, rx))
            .expect("the system refused to start the writer thread");
        Writer { inner: Arc::new(Inner { tx: Some(tx), thread: Some(thread) }) }
    }

    fn call<T>(&self, make: impl FnOnce(Reply<T>) -> WriteCmd) -> Result<T> {
        let (reply, answer) = bounded(1);
        let tx = self.inner.tx.as_ref().ok_or(Error::WriterGone)?;
        tx.send(make(reply)).map_err(|_| Error::WriterGone)?;
        answer.recv().map_err(|_| Error::WriterGone)?
    }

    pub fn add_location(&self, new: NewLocation) -> Result<LocationId> {
        self.call(|r| WriteCmd::AddLocation(new, r))
    }
    pub fn remove_location(&self, location: LocationId) -> Result<RemovedLocation> {
        self.call(|r| WriteCmd::RemoveLocation(location, r))
    }
    pub fn start_scan(&self, location: LocationId) -> Result<JobId> {
        self.call(|r| WriteCmd::StartScan(location, r))
    }
    pub fn apply_scan(&self, location: LocationId, items: Vec<ScanItem>) -> Result<ScanApplied> {
        self.call(|r| WriteCmd::ApplyScan(location, items, r))
    }
    /// Queues scan items without waiting for the commit (for records that may lag a moment, like the content id
    /// of a file just written). An error is logged by the writer's caller-less reply being dropped.
    pub fn apply_scan_later(&self, location: LocationId, items: Vec<ScanItem>) -> Result<()> {
        let (reply, _ignored) = bounded(1);
        let tx = self.inner.tx.as_ref().ok_or(Error::WriterGone)?;
        tx.send(WriteCmd::ApplyScan(location, items, reply)).map_err(|_| Error::WriterGone)
    }
    /// Queues scan items without waiting; their outcome goes to `done` once committed. Outcomes arrive in the order
    /// the commands were sent, which is what lets a caller count what is committed.
    pub fn apply_scan_queued(
        &self,
        location: LocationId,
        items: Vec<ScanItem>,
        done: &Sender<Result<ScanApplied>>,
    ) -> Result<()> {
        let tx = self.inner.tx.as_ref().ok_or(Error::WriterGone)?;
        tx.send(WriteCmd::ApplyQueued(location, items, done.clone())).map_err(|_| Error::WriterGone)
    }
    pub fn reserve_entry_ids(&self, count: i64) -> Result<i64> {
        self.call(|r| WriteCmd::ReserveEntryIds(count, r))
    }
    pub fn set_full_hashes(&self, hashes: Vec<(EntryId, ContentHash)>) -> Result<u64> {
        self.call(|r| WriteCmd::SetFullHashes(hashes, r))
    }
    pub fn finish_scan(
        &self,
        location: LocationId,
        job: JobId,
        items: i64,
        error: Option<String>,
    ) -> Result<LocationTotals> {
        self.call(|reply| WriteCmd::FinishScan { location, job, items, error, reply })
    }
    pub fn tag(&self, entries: Vec<EntryId>, tags: Vec<TagName>) -> Result<u64> {
        self.call(|r| WriteCmd::Tag(entries, tags, r))
    }
    pub fn untag(&self, entries: Vec<EntryId>, tags: Vec<TagName>) -> Result<u64> {
        self.call(|r| WriteCmd::Untag(entries, tags, r))
    }
    pub fn label(&self, entries: Vec<EntryId>, path: LabelPath) -> Result<u64> {
        self.call(|r| WriteCmd::Label(entries, path, r))
    }
    pub fn set_flag(&self, entries: Vec<EntryId>, flag: Flag, on: bool) -> Result<u64> {
        self.call(|r| WriteCmd::SetFlag(entries, flag, on, r))
    }
    pub fn set_notes(&self, entry: EntryId, notes: Option<String>) -> Result<()> {
        self.call(|r| WriteCmd::SetNotes(entry, notes, r))
    }
    pub fn set_tags(&self, entry: EntryId, tags: Vec<TagName>, colors: Vec<(TagName, Option<String>)>) -> Result<()> {
        self.call(|reply| WriteCmd::SetTags { entry, tags, colors, reply })
    }
    pub fn set_labels(&self, entry: EntryId, labels: Vec<LabelPath>) -> Result<()> {
        self.call(|r| WriteCmd::SetLabels(entry, labels, r))
    }
    pub fn set_tag_color(&self, tag: TagName, color: Option<String>) -> Result<()> {
        self.call(|r| WriteCmd::SetTagColor(tag, color, r))
    }
    pub fn unlabel(&self, entries: Vec<EntryId>, path: LabelPath) -> Result<u64> {
        self.call(|r| WriteCmd::Unlabel(entries, path, r))
    }
    pub fn rename_tag(&self, from: TagName, to: TagName) -> Result<()> {
        self.call(|r| WriteCmd::RenameTag(from, to, r))
    }
    pub fn merge_tags(&self, from: TagName, into: TagName) -> Result<u64> {
        self.call(|r| WriteCmd::MergeTags(from, into, r))
    }
    pub fn change_membership(&self, entry: EntryId, remove: Option<Membership>, add: Option<Membership>) -> Result<()> {
        self.call(|reply| WriteCmd::ChangeMembership { entry, remove, add, reply })
    }
    pub fn create_tag(&self, tag: TagName) -> Result<TagId> {
        self.call(|r| WriteCmd::CreateTag(tag, r))
    }
    pub fn delete_tag(&self, tag: TagName) -> Result<()> {
        self.call(|r| WriteCmd::DeleteTag(tag, r))
    }
    pub fn move_tag(&self, from: TagName, to: TagName) -> Result<()> {
        self.call(|r| WriteCmd::MoveTag(from, to, r))
    }
    pub fn create_label(&self, parent: Option<LabelId>, name: String) -> Result<LabelId> {
        self.call(|r| WriteCmd::CreateLabel(parent, name, r))
    }
    pub fn delete_label(&self, label: LabelId) -> Result<()> {
        self.call(|r| WriteCmd::DeleteLabel(label, r))
    }
    pub fn move_label(&self, label: LabelId, parent: Option<LabelId>, name: String) -> Result<()> {
        self.call(|reply| WriteCmd::MoveLabel { label, parent, name, reply })
    }
    pub fn save_query(&self, name: String, expression: String) -> Result<()> {
        self.call(|r| WriteCmd::SaveQuery(name, expression, r))
    }
    pub fn forget_query(&self, name: String) -> Result<()> {
        self.call(|r| WriteCmd::ForgetQuery(name, r))
    }
    pub fn relink_orphans(&self, location: LocationId) -> Result<u64> {
        self.call(|r| WriteCmd::RelinkOrphans(location, r))
    }
    pub fn rename_entry(&self, entry: EntryId, relative_path: Vec<u8>, name: Vec<u8>) -> Result<()> {
        self.call(|reply| WriteCmd::RenameEntry { entry, relative_path, name, reply })
    }
    /// Returns once everything queued before it is committed (commands are applied in the order they are sent).
    pub fn barrier(&self) -> Result<()> {
        self.call(|r| WriteCmd::ApplyScan(LocationId(0), Vec::new(), r)).map(drop)
    }
    pub fn exchange_entries(&self, a: EntryId, b: EntryId) -> Result<()> {
        self.call(|r| WriteCmd::ExchangeEntries(a, b, r))
    }
    pub fn optimize(&self, vacuum: bool) -> Result<()> {
        self.call(|reply| WriteCmd::Optimize { vacuum, reply })
    }
    pub fn external_version(&self) -> Result<i64> {
        self.call(WriteCmd::ExternalVersion)
    }
    pub fn checkpoint(&self) -> Result<()> {
        self.call(|reply| WriteCmd::Checkpoint { reply })
    }
}

/// What a command produced, before it is handed to the command's typed reply channel.
enum Answer {
    Location(LocationId),
    Removed(RemovedLocation),
    Job(JobId),
    Scan(ScanApplied),
    Count(u64),
    Totals(LocationTotals),
    Tag(TagId),
    Label(LabelId),
    First(i64),
    Unit,
}

fn run(mut conn: Connection, rx: Receiver<WriteCmd>) {
    let mut queued: Vec<WriteCmd> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        queued.push(first);
        while queued.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(cmd) => queued.push(cmd),
                Err(_) => break,
            }
        }
        // While nobody waits for what is gathered, gather a moment longer: one commit for many records.
        let deadline = std::time::Instant::now() + GATHER;
        while queued.len() < MAX_BATCH && queued.iter().all(|c| matches!(c, WriteCmd::ApplyQueued(..))) {
            match rx.recv_deadline(deadline) {
                Ok(cmd) => queued.push(cmd),
                Err(_) => break,
            }
        }
        let mut batch = Vec::with_capacity(queued.len());
        for cmd in queued.drain(..) {
            match cmd {
                WriteCmd::Optimize { vacuum, reply } => {
                    apply_batch(&mut conn, std::mem::take(&mut batch));
                    let _ = reply.send(optimize(&conn, vacuum));
                }
                WriteCmd::Checkpoint { reply } => {
                    apply_batch(&mut conn, std::mem::take(&mut batch));
                    let _ = reply.send(checkpoint(&conn));
                }
                WriteCmd::ExternalVersion(reply) => {
                    apply_batch(&mut conn, std::mem::take(&mut batch));
                    let _ = reply.send(data_version(&conn));
                }
                cmd => batch.push(cmd),
            }
        }
        drop_overtaken(&mut batch);
        apply_batch(&mut conn, batch);
    }
    // Leave the library checkpointed for whoever opens it next.
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
}

/// Drops each queued record of a file that a later queued record of the same batch writes again whole (same id,
/// same path, nothing in between that removes or renames): a file created and closed within `GATHER` costs one
/// upsert, not two. Anything else between them (another command, a removal, the id at another path, another id at
/// the path, a record without an id, which may follow a move) keeps both.
fn drop_overtaken(batch: &mut [WriteCmd]) {
    use std::collections::HashMap;
    use write::ContentUpdate;
    type Key = (LocationId, Vec<u8>, Vec<u8>);
    // Per path: where its last record is, for which id, and whether a later one may replace it.
    let mut at_path: HashMap<Key, (usize, usize, EntryId, bool)> = HashMap::new();
    let mut path_of: HashMap<EntryId, Key> = HashMap::new();
    let mut drops: Vec<(usize, usize)> = Vec::new();
    for (i, cmd) in batch.iter().enumerate() {
        let WriteCmd::ApplyQueued(location, items, _) = cmd else {
            at_path.clear();
            path_of.clear();
            continue;
        };
        for (j, item) in items.iter().enumerate() {
            let (ScanItem::Upsert(e), Some(id)) = (item, item_id(item)) else {
                at_path.clear();
                path_of.clear();
                continue;
            };
            let key = (*location, e.relative_path.clone(), e.name.clone());
            if let Some(&(pi, pj, pid, replaceable)) = at_path.get(&key)
                && pid == id
                && replaceable
                && !matches!(e.content, ContentUpdate::Keep)
            {
                drops.push((pi, pj));
            }
            if let Some(old) = path_of.insert(id, key.clone())
                && old != key
            {
                at_path.remove(&old);
            }
            let replaceable = e.xdg_tags.is_empty() && e.xdg_comment.is_none();
            if let Some((_, _, other, _)) = at_path.insert(key, (i, j, id, replaceable))
                && other != id
            {
                path_of.remove(&other);
            }
        }
    }
    drops.sort_unstable();
    for (i, j) in drops.into_iter().rev() {
        if let WriteCmd::ApplyQueued(_, items, _) = &mut batch[i] {
            items.remove(j);
        }
    }
}

fn item_id(item: &ScanItem) -> Option<EntryId> {
    match item {
        ScanItem::Upsert(e) => e.id,
        _ => None,
    }
}

/// Applies a batch in one transaction. If any command fails, the transaction is rolled back and every command is
/// applied again in a transaction of its own, so the failure touches nothing and the others still happen.
/// (Savepoints per command would do the same, but make every statement of a large batch several times slower.)
fn apply_batch(conn: &mut Connection, batch: Vec<WriteCmd>) {
    if batch.is_empty() {
        return;
    }
    if batch.len() > 1 {
        match in_transaction(conn, |tx| batch.iter().map(|cmd| execute(tx, cmd)).collect::<Result<Vec<_>>>()) {
            Ok(answers) => {
                batch.into_iter().zip(answers).for_each(|(cmd, answer)| reply(cmd, Ok(answer)));
                return;
            }
            Err(err) if is_command_error(&err) => {}
            Err(err) => {
                let shared = err.to_string();
                batch.into_iter().for_each(|cmd| reply(cmd, Err(Error::Library(shared.clone()))));
                return;
            }
        }
    }
    for cmd in batch {
        let outcome = in_transaction(conn, |tx| execute(tx, &cmd));
        reply(cmd, outcome);
    }
}

/// Whether an error belongs to one command (its input) rather than to the whole transaction (the database).
fn is_command_error(err: &Error) -> bool {
    !matches!(err, Error::Db(e) if e.sqlite_error_code().is_some_and(|c| matches!(c,
        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked | rusqlite::ErrorCode::DiskFull
        | rusqlite::ErrorCode::SystemIoFailure | rusqlite::ErrorCode::ReadOnly)))
}

fn in_transaction<T>(conn: &mut Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let value = f(&tx)?;
    tx.commit()?;
    Ok(value)
}

fn execute(conn: &Connection, cmd: &WriteCmd) -> Result<Answer> {
    Ok(match cmd {
        WriteCmd::AddLocation(new, _) => Answer::Location(write::add_location(conn, new)?),
        WriteCmd::RemoveLocation(id, _) => Answer::Removed(write::remove_location(conn, *id)?),
        WriteCmd::StartScan(id, _) => Answer::Job(write::start_scan(conn, *id)?),
        WriteCmd::ApplyScan(id, items, _) | WriteCmd::ApplyQueued(id, items, _) => {
            Answer::Scan(write::apply_scan(conn, *id, items)?)
        }
        WriteCmd::ReserveEntryIds(count, _) => Answer::First(write::reserve_entry_ids(conn, *count)?),
        WriteCmd::SetFullHashes(hashes, _) => Answer::Count(write::set_full_hashes(conn, hashes)?),
        WriteCmd::FinishScan { location, job, items, error, .. } => {
            Answer::Totals(write::finish_scan(conn, *location, *job, *items, error.as_deref())?)
        }
        WriteCmd::Tag(entries, tags, _) => Answer::Count(write::tag(conn, entries, tags)?),
        WriteCmd::Untag(entries, tags, _) => Answer::Count(write::untag(conn, entries, tags)?),
        WriteCmd::Label(entries, path, _) => Answer::Count(write::label(conn, entries, path)?),
        WriteCmd::SetFlag(entries, flag, on, _) => Answer::Count(write::set_flag(conn, entries, *flag, *on)?),
        WriteCmd::SetNotes(entry, notes, _) => {
            write::set_notes(conn, *entry, notes.as_deref())?;
            Answer::Unit
        }
        WriteCmd::SetTags { entry, tags, colors, .. } => {
            write::set_tags(conn, *entry, tags, colors)?;
            Answer::Unit
        }
        WriteCmd::SetLabels(entry, labels, _) => {
            write::set_labels(conn, *entry, labels)?;
            Answer::Unit
        }
        WriteCmd::Unlabel(entries, path, _) => Answer::Count(write::unlabel(conn, entries, path)?),
        WriteCmd::RenameTag(from, to, _) => {
            write::rename_tag(conn, from, to)?;
            Answer::Unit
        }
        WriteCmd::MergeTags(from, into, _) => Answer::Count(write::merge_tags(conn, from, into)?),
        WriteCmd::ChangeMembership { entry, remove, add, .. } => {
            write::change_membership(conn, *entry, *remove, *add)?;
            Answer::Unit
        }
        WriteCmd::CreateTag(tag, _) => Answer::Tag(write::create_tag(conn, tag)?),
        WriteCmd::DeleteTag(tag, _) => {
            write::delete_tag(conn, tag)?;
            Answer::Unit
        }
        WriteCmd::MoveTag(from, to, _) => {
            write::move_tag(conn, from, to)?;
            Answer::Unit
        }
        WriteCmd::CreateLabel(parent, name, _) => Answer::Label(write::create_label(conn, *parent, name)?),
        WriteCmd::DeleteLabel(label, _) => {
            write::delete_label(conn, *label)?;
            Answer::Unit
        }
        WriteCmd::MoveLabel { label, parent, name, .. } => {
            write::move_label(conn, *label, *parent, name)?;
            Answer::Unit
        }
        WriteCmd::SaveQuery(name, expression, _) => {
            write::save_query(conn, name, expression)?;
            Answer::Unit
        }
        WriteCmd::ForgetQuery(name, _) => {
            write::forget_query(conn, name)?;
            Answer::Unit
        }
        WriteCmd::RelinkOrphans(location, _) => Answer::Count(write::relink_orphans(conn, *location)?),
        WriteCmd::RenameEntry { entry, relative_path, name, .. } => {
            write::rename_entry(conn, *entry, relative_path, name)?;
            Answer::Unit
        }
        WriteCmd::ExchangeEntries(a, b, _) => {
            write::exchange_entries(conn, *a, *b)?;
            Answer::Unit
        }
        WriteCmd::SetTagColor(tag, color, _) => {
            write::set_tag_color(conn, tag, color.as_deref())?;
            Answer::Unit
        }
        WriteCmd::Optimize { vacuum, .. } => {
            optimize(conn, *vacuum)?;
            Answer::Unit
        }
        WriteCmd::Checkpoint { .. } => {
            checkpoint(conn)?;
            Answer::Unit
        }
        WriteCmd::ExternalVersion(_) => Answer::First(data_version(conn)?),
    })
}

/// Hands an outcome to the command's typed reply channel. A requester that stopped waiting is not an error.
fn reply(cmd: WriteCmd, outcome: Result<Answer>) {
    fn send<T>(to: Reply<T>, outcome: Result<Answer>, pick: impl FnOnce(Answer) -> Option<T>) {
        let typed =
            outcome.and_then(|a| pick(a).ok_or_else(|| Error::Invalid("the writer answered out of kind".into())));
        let _ = to.send(typed);
    }
    match cmd {
        WriteCmd::AddLocation(_, r) => send(r, outcome, |a| if let Answer::Location(v) = a { Some(v) } else { None }),
        WriteCmd::RemoveLocation(_, r) => send(r, outcome, |a| if let Answer::Removed(v) = a { Some(v) } else { None }),
        WriteCmd::StartScan(_, r) => send(r, outcome, |a| if let Answer::Job(v) = a { Some(v) } else { None }),
        WriteCmd::CreateTag(_, r) => send(r, outcome, |a| if let Answer::Tag(v) = a { Some(v) } else { None }),
        WriteCmd::CreateLabel(_, _, r) => send(r, outcome, |a| if let Answer::Label(v) = a { Some(v) } else { None }),
        WriteCmd::ApplyScan(_, _, r) | WriteCmd::ApplyQueued(_, _, r) => {
            send(r, outcome, |a| if let Answer::Scan(v) = a { Some(v) } else { None })
        }
        WriteCmd::ReserveEntryIds(_, r) | WriteCmd::ExternalVersion(r) => {
            send(r, outcome, |a| if let Answer::First(v) = a { Some(v) } else { None })
        }
        WriteCmd::FinishScan { reply, .. } => {
            send(reply, outcome, |a| if let Answer::Totals(v) = a { Some(v) } else { None })
        }
        WriteCmd::SetFullHashes(_, r)
        | WriteCmd::Tag(_, _, r)
        | WriteCmd::Untag(_, _, r)
        | WriteCmd::Label(_, _, r)
        | WriteCmd::SetFlag(_, _, _, r)
        | WriteCmd::Unlabel(_, _, r)
        | WriteCmd::MergeTags(_, _, r)
        | WriteCmd::RelinkOrphans(_, r) => send(r, outcome, |a| if let Answer::Count(v) = a { Some(v) } else { None }),
        WriteCmd::SetNotes(_, _, r)
        | WriteCmd::SetTags { reply: r, .. }
        | WriteCmd::SetLabels(_, _, r)
        | WriteCmd::SetTagColor(_, _, r)
        | WriteCmd::RenameTag(_, _, r)
        | WriteCmd::ChangeMembership { reply: r, .. }
        | WriteCmd::DeleteTag(_, r)
        | WriteCmd::MoveTag(_, _, r)
        | WriteCmd::DeleteLabel(_, r)
        | WriteCmd::MoveLabel { reply: r, .. }
        | WriteCmd::RenameEntry { reply: r, .. }
        | WriteCmd::ExchangeEntries(_, _, r)
        | WriteCmd::SaveQuery(_, _, r)
        | WriteCmd::ForgetQuery(_, r)
        | WriteCmd::Optimize { reply: r, .. }
        | WriteCmd::Checkpoint { reply: r } => send(r, outcome, |a| if let Answer::Unit = a { Some(()) } else { None }),
    }
}

fn optimize(conn: &Connection, vacuum: bool) -> Result<()> {
    // No ANALYZE: statistics of a moment would steer plans wrong as the library grows (see `forget_statistics`).
    if vacuum {
        conn.execute_batch("VACUUM;")?;
    }
    checkpoint(conn)
}

fn data_version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA data_version", [], |r| r.get(0))?)
}

fn checkpoint(conn: &Connection) -> Result<()> {
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use write::ContentUpdate;

    fn record(dir: &std::path::Path, name: &str, id: i64, content: ContentUpdate) -> ScanItem {
        let path = dir.join(name);
        std::fs::write(&path, name).unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mut e = crate::index::scanned(b"", name.as_bytes().to_vec(), &path, &meta);
        e.id = Some(EntryId(id));
        e.content = content;
        ScanItem::Upsert(Box::new(e))
    }

    /// How many items each command of the batch keeps after `drop_overtaken`.
    fn kept(batches: Vec<Vec<ScanItem>>) -> Vec<usize> {
        let (tx, _rx) = crossbeam_channel::unbounded();
        let mut cmds: Vec<WriteCmd> =
            batches.into_iter().map(|items| WriteCmd::ApplyQueued(LocationId(1), items, tx.clone())).collect();
        drop_overtaken(&mut cmds);
        cmds.iter().map(|c| if let WriteCmd::ApplyQueued(_, items, _) = c { items.len() } else { 0 }).collect()
    }

    #[test]
    fn a_record_written_again_whole_later_in_the_batch_is_applied_once() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // Created, then closed: the record at close says all the create said.
        assert_eq!(
            kept(vec![vec![record(d, "a", 7, ContentUpdate::Clear)], vec![record(d, "a", 7, ContentUpdate::Clear)]]),
            [0, 1]
        );
        // A later record that keeps the content cannot stand for an earlier one that set it.
        assert_eq!(
            kept(vec![vec![record(d, "a", 7, ContentUpdate::Clear)], vec![record(d, "a", 7, ContentUpdate::Keep)]]),
            [1, 1]
        );
        // Another file at the path, or the file at another path and back, or a removal between: both stay.
        assert_eq!(
            kept(vec![vec![record(d, "a", 7, ContentUpdate::Clear)], vec![record(d, "a", 8, ContentUpdate::Clear)]]),
            [1, 1]
        );
        assert_eq!(
            kept(vec![
                vec![record(d, "a", 7, ContentUpdate::Clear)],
                vec![record(d, "b", 7, ContentUpdate::Clear)],
                vec![record(d, "a", 7, ContentUpdate::Clear)],
            ]),
            [1, 1, 1]
        );
        assert_eq!(
            kept(vec![
                vec![record(d, "a", 7, ContentUpdate::Clear)],
                vec![ScanItem::Remove { id: EntryId(9), dir_path: None }],
                vec![record(d, "a", 7, ContentUpdate::Clear)],
            ]),
            [1, 1, 1]
        );
        // Many files, each created and closed, interleaved: one record each.
        assert_eq!(
            kept(vec![
                vec![record(d, "a", 7, ContentUpdate::Clear)],
                vec![record(d, "b", 8, ContentUpdate::Clear)],
                vec![record(d, "a", 7, ContentUpdate::Clear)],
                vec![record(d, "b", 8, ContentUpdate::Clear)],
            ]),
            [0, 0, 1, 1]
        );
    }
}
