//! The one writer: a thread that owns the library's only writable connection.
//!
//! Every mutation is a `WriteCmd` sent over a bounded crossbeam channel together with a reply channel. The thread
//! takes whatever is queued (up to `MAX_BATCH` commands), applies it in one transaction, commits, and only then
//! replies; if one command fails, the batch is replayed one command per transaction, so the failing command changes
//! nothing and does not spoil the others. Group commit is what makes many small changes from many threads fast;
//! replying after commit is what makes a returned change durable.
//!
//! A command is defined once: its `Writer` method says what it does (a closure over the SQL in `library::write`) and
//! what it answers (the closure's type). The writer looks into one kind only, records of files (`WriteCmd::Scan`),
//! to drop a record that a later one of the same batch makes useless. Commands that cannot run inside a transaction
//! (checkpoint, VACUUM, `data_version`) end the batch and run alone.
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
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// Commands waiting beyond this many make senders block: memory stays bounded under overload.
const QUEUE_CAPACITY: usize = 1024;
/// The most commands applied in one transaction.
const MAX_BATCH: usize = 512;
/// How long queued commands (which nobody waits for) may wait for others to share their commit.
const GATHER: std::time::Duration = std::time::Duration::from_millis(20);

type Reply<T> = Sender<Result<T>>;

/// One change: `run` may be called more than once (when its batch is replayed, so it keeps what it was given);
/// `answer` hands the outcome of the run that was committed, or the failure, to whoever waits.
trait Job: Send {
    fn run(&mut self, conn: &Connection) -> Result<()>;
    fn answer(self: Box<Self>, failure: Option<Error>);
}

/// A command as its `Writer` method defines it: the work, and where its answer goes.
struct Call<T, F> {
    work: F,
    done: Option<T>,
    reply: Reply<T>,
}

impl<T: Send, F: FnMut(&Connection) -> Result<T> + Send> Job for Call<T, F> {
    fn run(&mut self, conn: &Connection) -> Result<()> {
        self.done = Some((self.work)(conn)?);
        Ok(())
    }

    fn answer(self: Box<Self>, failure: Option<Error>) {
        deliver(&self.reply, self.done, failure);
    }
}

/// Hands a command's outcome to whoever waits: the failure, or what its committed run produced. A requester that
/// stopped waiting is not an error.
fn deliver<T>(reply: &Reply<T>, done: Option<T>, failure: Option<Error>) {
    let outcome = match failure {
        Some(err) => Err(err),
        None => done.ok_or(Error::WriterGone),
    };
    let _ = reply.send(outcome);
}

struct Scan {
    location: LocationId,
    items: Vec<ScanItem>,
    /// Nobody waits for it: the writer may gather more before committing.
    queued: bool,
    /// The first scan of a location that had no entries (see `write::apply_scan`).
    first: bool,
    /// The count of disk changes before the walk read the first of these items (see `write::apply_scan`).
    walked_at: Option<u64>,
    done: Option<ScanApplied>,
    reply: Reply<ScanApplied>,
}

impl Scan {
    /// A scan's batch of items as a command (`first` and `walked_at`: see `write::apply_scan`).
    fn command(
        location: LocationId,
        items: Vec<ScanItem>,
        queued: bool,
        (first, walked_at): (bool, Option<u64>),
        reply: Reply<ScanApplied>,
    ) -> WriteCmd {
        WriteCmd::Scan(Box::new(Scan { location, items, queued, first, walked_at, done: None, reply }))
    }
}

impl Job for Scan {
    fn run(&mut self, conn: &Connection) -> Result<()> {
        self.done = Some(write::apply_scan(conn, self.location, &self.items, self.first, self.walked_at)?);
        Ok(())
    }

    fn answer(self: Box<Self>, failure: Option<Error>) {
        deliver(&self.reply, self.done, failure);
    }
}

enum WriteCmd {
    /// Records of files found on disk or changed through the mount.
    Scan(Box<Scan>),
    /// Any other change, applied in the batch's transaction.
    Change(Box<dyn Job>),
    /// What cannot run inside a transaction: ends the batch and runs alone.
    Alone(Box<dyn Job>),
}

impl WriteCmd {
    fn job(&mut self) -> &mut dyn Job {
        match self {
            WriteCmd::Scan(scan) => scan.as_mut(),
            WriteCmd::Change(job) | WriteCmd::Alone(job) => job.as_mut(),
        }
    }

    fn answer(self, failure: Option<Error>) {
        match self {
            WriteCmd::Scan(scan) => scan.answer(failure),
            WriteCmd::Change(job) | WriteCmd::Alone(job) => job.answer(failure),
        }
    }

    fn is_queued(&self) -> bool {
        matches!(self, WriteCmd::Scan(scan) if scan.queued)
    }
}

#[derive(Clone)]
pub struct Writer {
    inner: Arc<Inner>,
}

struct Inner {
    tx: Option<Sender<WriteCmd>>,
    thread: Option<JoinHandle<()>>,
    /// Why nothing can be written (a library that cannot be written): every command answers this.
    refusal: Option<String>,
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
        Writer { inner: Arc::new(Inner { tx: Some(tx), thread: Some(thread), refusal: None }) }
    }

    /// The writer of a library that cannot be written: every command is refused with `refusal`.
    pub fn refusing(refusal: String) -> Writer {
        Writer { inner: Arc::new(Inner { tx: None, thread: None, refusal: Some(refusal) }) }
    }

    fn send(&self, cmd: WriteCmd) -> Result<()> {
        if let Some(refusal) = &self.inner.refusal {
            return Err(Error::ReadOnly(refusal.clone()));
        }
        let tx = self.inner.tx.as_ref().ok_or(Error::WriterGone)?;
        tx.send(cmd).map_err(|_| Error::WriterGone)
    }

    fn wait<T>(&self, make: impl FnOnce(Reply<T>) -> WriteCmd) -> Result<T> {
        let (reply, answer) = bounded(1);
        self.send(make(reply))?;
        // The writer may be gathering queued records (parked, see `run`): someone waits now.
        if let Some(thread) = &self.inner.thread {
            thread.thread().unpark();
        }
        answer.recv().map_err(|_| Error::WriterGone)?
    }

    /// Runs `work` in the writer's transaction and waits for its answer (after the commit).
    fn change<T: Send + 'static>(&self, work: impl FnMut(&Connection) -> Result<T> + Send + 'static) -> Result<T> {
        self.wait(|reply| WriteCmd::Change(Box::new(Call { work, done: None, reply })))
    }

    /// Runs `work` outside any transaction, once everything sent before it is committed.
    fn alone<T: Send + 'static>(&self, work: impl FnMut(&Connection) -> Result<T> + Send + 'static) -> Result<T> {
        self.wait(|reply| WriteCmd::Alone(Box::new(Call { work, done: None, reply })))
    }

    /// Runs `work` in the writer's transaction and waits for its commit: the exchange of shared data with other
    /// devices (`crate::sync`), which reads and writes many tables at once. `work` may run twice (a batch that
    /// failed is replayed command by command), so it must not consume what it captures.
    pub fn exchange<T: Send + 'static>(
        &self,
        work: impl FnMut(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.change(work)
    }
    pub fn add_location(&self, new: NewLocation) -> Result<LocationId> {
        self.change(move |c| write::add_location(c, &new))
    }
    pub fn remove_location(&self, location: LocationId) -> Result<RemovedLocation> {
        self.change(move |c| write::remove_location(c, location))
    }
    pub fn start_scan(&self, location: LocationId) -> Result<JobId> {
        self.change(move |c| write::start_scan(c, location))
    }
    pub fn apply_scan(&self, location: LocationId, items: Vec<ScanItem>) -> Result<ScanApplied> {
        self.wait(|reply| Scan::command(location, items, false, (false, None), reply))
    }
    /// Applies the items of the first scan of a location that had no entries: new files are inserted without the
    /// checks that guard against other writers of the same paths (see `write::apply_scan`).
    pub fn apply_first_scan(&self, location: LocationId, items: Vec<ScanItem>) -> Result<ScanApplied> {
        self.wait(|reply| Scan::command(location, items, false, (true, None), reply))
    }
    /// Sends a scan's batch of items (`first`: see `apply_first_scan`; `walked_at`: see `write::apply_scan`) without
    /// waiting, to be applied at once (not gathered with others): a scan keeps the next batch queued while this one
    /// is applied, so the writer never waits for the scan to collect it. The outcome goes to `done` once committed,
    /// in the order sent.
    pub fn apply_scan_pipelined(
        &self,
        location: LocationId,
        items: Vec<ScanItem>,
        read: (bool, Option<u64>),
        done: &Sender<Result<ScanApplied>>,
    ) -> Result<()> {
        self.send(Scan::command(location, items, false, read, done.clone()))?;
        // The writer may be gathering queued records (parked, see `run`): this batch is wanted now.
        if let Some(thread) = &self.inner.thread {
            thread.thread().unpark();
        }
        Ok(())
    }
    /// Queues scan items without waiting; their outcome goes to `done` once committed. Outcomes arrive in the order
    /// the commands were sent, which is what lets a caller count what is committed.
    pub fn apply_scan_queued(
        &self,
        location: LocationId,
        items: Vec<ScanItem>,
        done: &Sender<Result<ScanApplied>>,
    ) -> Result<()> {
        self.send(Scan::command(location, items, true, (false, None), done.clone()))
    }
    /// Reserves `count` entry ids; answers the first (see `write::reserve_entry_ids`).
    pub fn reserve_entry_ids(&self, count: i64) -> Result<i64> {
        self.change(move |c| write::reserve_entry_ids(c, count))
    }
    pub fn set_full_hashes(&self, hashes: Vec<(EntryId, ContentHash)>) -> Result<u64> {
        self.change(move |c| write::set_full_hashes(c, &hashes))
    }
    pub fn finish_scan(
        &self,
        location: LocationId,
        job: JobId,
        items: i64,
        error: Option<String>,
        left_unused: bool,
    ) -> Result<LocationTotals> {
        self.change(move |c| write::finish_scan(c, location, job, items, error.as_deref(), left_unused))
    }
    pub fn tag(&self, entries: Vec<EntryId>, tags: Vec<TagName>) -> Result<u64> {
        self.change(move |c| write::tag(c, &entries, &tags))
    }
    pub fn untag(&self, entries: Vec<EntryId>, tags: Vec<TagName>) -> Result<u64> {
        self.change(move |c| write::untag(c, &entries, &tags))
    }
    pub fn label(&self, entries: Vec<EntryId>, path: LabelPath) -> Result<u64> {
        self.change(move |c| write::label(c, &entries, &path))
    }
    pub fn set_flag(&self, entries: Vec<EntryId>, flag: Flag, on: bool) -> Result<u64> {
        self.change(move |c| write::set_flag(c, &entries, flag, on))
    }
    pub fn set_notes(&self, entry: EntryId, notes: Option<String>) -> Result<()> {
        self.change(move |c| write::set_notes(c, entry, notes.as_deref()))
    }
    pub fn set_rating(&self, entry: EntryId, rating: Option<u8>) -> Result<()> {
        self.change(move |c| write::set_rating(c, entry, rating))
    }
    /// Replaces an entry's tag set (and sets some tags' colours) in one step.
    pub fn set_tags(&self, entry: EntryId, tags: Vec<TagName>, colors: Vec<(TagName, Option<String>)>) -> Result<()> {
        self.change(move |c| write::set_tags(c, entry, &tags, &colors))
    }
    pub fn set_labels(&self, entry: EntryId, labels: Vec<LabelPath>) -> Result<()> {
        self.change(move |c| write::set_labels(c, entry, &labels))
    }
    pub fn set_tag_color(&self, tag: TagName, color: Option<String>) -> Result<()> {
        self.change(move |c| write::set_tag_color(c, &tag, color.as_deref()))
    }
    pub fn unlabel(&self, entries: Vec<EntryId>, path: LabelPath) -> Result<u64> {
        self.change(move |c| write::unlabel(c, &entries, &path))
    }
    pub fn rename_tag(&self, from: TagName, to: TagName) -> Result<()> {
        self.change(move |c| write::rename_tag(c, &from, &to))
    }
    pub fn merge_tags(&self, from: TagName, into: TagName) -> Result<u64> {
        self.change(move |c| write::merge_tags(c, &from, &into))
    }
    pub fn change_membership(&self, entry: EntryId, remove: Option<Membership>, add: Option<Membership>) -> Result<()> {
        self.change(move |c| write::change_membership(c, entry, remove, add))
    }
    pub fn change_foreign_membership(
        &self,
        file: write::ForeignFile,
        remove: Option<Membership>,
        add: Option<Membership>,
    ) -> Result<()> {
        self.change(move |c| write::change_foreign_membership(c, &file, remove, add))
    }
    pub fn create_tag(&self, tag: TagName) -> Result<TagId> {
        self.change(move |c| write::create_tag(c, &tag))
    }
    pub fn delete_tag(&self, tag: TagName) -> Result<()> {
        self.change(move |c| write::delete_tag(c, &tag))
    }
    pub fn move_tag(&self, from: TagName, to: TagName) -> Result<()> {
        self.change(move |c| write::move_tag(c, &from, &to))
    }
    pub fn create_label(&self, parent: Option<LabelId>, name: String) -> Result<LabelId> {
        self.change(move |c| write::create_label(c, parent, &name))
    }
    pub fn delete_label(&self, label: LabelId) -> Result<()> {
        self.change(move |c| write::delete_label(c, label))
    }
    pub fn move_label(&self, label: LabelId, parent: Option<LabelId>, name: String) -> Result<()> {
        self.change(move |c| write::move_label(c, label, parent, &name))
    }
    pub fn save_query(&self, name: String, expression: String) -> Result<()> {
        self.change(move |c| write::save_query(c, &name, &expression))
    }
    pub fn forget_query(&self, name: String) -> Result<()> {
        self.change(move |c| write::forget_query(c, &name))
    }
    /// Gives orphaned metadata back to files that came back.
    pub fn relink_orphans(&self, location: LocationId) -> Result<u64> {
        self.change(move |c| write::relink_orphans(c, location))
    }
    /// A rename done on disk: the entry keeps its identity and metadata.
    pub fn rename_entry(&self, entry: EntryId, relative_path: Vec<u8>, name: Vec<u8>) -> Result<()> {
        self.change(move |c| write::rename_entry(c, entry, &relative_path, &name))
    }
    /// rename(RENAME_EXCHANGE) done on disk: two entries swap places, each keeping its identity and metadata.
    pub fn exchange_entries(&self, a: EntryId, b: EntryId) -> Result<()> {
        self.change(move |c| write::exchange_entries(c, a, b))
    }
    /// Returns once everything queued before it is committed (commands are applied in the order they are sent).
    pub fn barrier(&self) -> Result<()> {
        self.change(|_| Ok(()))
    }
    /// A truncating WAL checkpoint and, when asked, VACUUM.
    pub fn optimize(&self, vacuum: bool) -> Result<()> {
        self.alone(move |c| optimize(c, vacuum))
    }
    /// The writer connection's `data_version`: it moves only when another connection (the CLI, another mount)
    /// commits, so comparing it tells changes made elsewhere from this writer's own.
    pub fn external_version(&self) -> Result<i64> {
        self.alone(data_version)
    }
    /// A truncating WAL checkpoint, so the library file alone holds everything (a mount ending).
    pub fn checkpoint(&self) -> Result<()> {
        self.alone(checkpoint)
    }
}

/// WAL frames after which a checkpoint is wanted (SQLite's own default for its automatic checkpoint).
const CHECKPOINT_FRAMES: i32 = 1000;
/// How much lower than the writer the checkpointing thread runs (nice value; the hashers of a scan run at 19).
const CHECKPOINT_NICE: i32 = 10;
/// WAL frames after which the writer checkpoints itself, between two transactions (see `Checkpointer`).
const CHECKPOINT_FORCE_FRAMES: i32 = 4 * CHECKPOINT_FRAMES;

/// Checkpoints the WAL from a thread of its own, so the writer does not stop to copy pages into the library file
/// and wait for the disk to sync them (SQLite's automatic checkpoint runs in the committing connection: a tenth of
/// a scan's time went to it). The writer's WAL hook asks for a checkpoint once the WAL holds `CHECKPOINT_FRAMES`;
/// a PASSIVE checkpoint runs beside the writer and its readers without blocking either. The WAL file can start
/// again from its beginning only when a checkpoint has copied every frame before the writer's next transaction, so
/// past `CHECKPOINT_FORCE_FRAMES` the writer runs one itself (short: the frames since the last one) and the WAL's
/// size stays bounded. A library that cannot be opened twice keeps SQLite's automatic checkpoint.
struct Checkpointer {
    thread: JoinHandle<()>,
}

impl Checkpointer {
    fn start(conn: &mut Connection) -> Option<Checkpointer> {
        let path = std::path::PathBuf::from(conn.path()?);
        let own = crate::library::connect(&path, false).ok()?;
        // (A checkpoint copies frames from the WAL; it needs no cache of pages.)
        own.execute_batch("PRAGMA cache_size = -256;").ok()?;
        let (tx, rx) = bounded::<()>(1);
        let thread = std::thread::Builder::new()
            .name("spacefs-checkpoint".into())
            .spawn(move || {
                // Below the writer: a scan keeps the writer runnable, and at the same priority this thread took
                // the writer's core from it hundreds of times per scan (measured with sched_switch).
                crate::index::lower_this_thread(CHECKPOINT_NICE);
                for () in rx {
                    // Busy (another checkpoint runs) or failed: the next request, or the writer's own, retries.
                    let _ = own.execute_batch("PRAGMA wal_checkpoint(PASSIVE);");
                }
            })
            .ok()?;
        let hook = move |wal: &mut rusqlite::hooks::Wal, frames: std::ffi::c_int| {
            if frames >= CHECKPOINT_FORCE_FRAMES {
                // An error returned here would fail the COMMIT that has happened: a failed checkpoint is left to
                // the next one.
                let _ = wal.checkpoint();
            } else if frames >= CHECKPOINT_FRAMES {
                let _ = tx.try_send(());
            }
            Ok(())
        };
        if conn.wal_hook(Some(hook)).is_err() {
            return None;
        }
        Some(Checkpointer { thread })
    }

    /// Removes the hook (its end of the channel with it) and waits for the thread, whose connection closes.
    fn stop(self, conn: &mut Connection) {
        type Hook = fn(&mut rusqlite::hooks::Wal, std::ffi::c_int) -> rusqlite::Result<()>;
        let _ = conn.wal_hook(None::<Hook>);
        let _ = self.thread.join();
    }
}

fn run(mut conn: Connection, rx: Receiver<WriteCmd>) {
    let entries_changed = EntriesWatch::start(&mut conn);
    let checkpointer = Checkpointer::start(&mut conn);
    if checkpointer.is_none() {
        log::info!("checkpointing the library's WAL in the writer (a second connection could not be opened)");
    }
    // (`connect` turns the checks on.)
    let mut checks = ForeignKeys { on: true };
    let mut queued: Vec<WriteCmd> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        queued.push(first);
        while queued.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(cmd) => queued.push(cmd),
                Err(_) => break,
            }
        }
        // While nobody waits for what is gathered, gather a moment longer: one commit for many records. Parked, not
        // blocked on the channel: a queued record's sender does not wake the writer (a wake-up per record would cost
        // more than its write); one who waits for an answer unparks it (`wait`).
        let deadline = std::time::Instant::now() + GATHER;
        while queued.len() < MAX_BATCH && queued.iter().all(WriteCmd::is_queued) {
            let now = std::time::Instant::now();
            if now >= deadline {
                break;
            }
            std::thread::park_timeout(deadline - now);
            let before = queued.len();
            queued.extend(rx.try_iter().take(MAX_BATCH - before));
        }
        let mut batch = Vec::with_capacity(queued.len());
        for cmd in queued.drain(..) {
            match cmd {
                WriteCmd::Alone(mut job) => {
                    apply_batch(&mut conn, &entries_changed, &mut checks, std::mem::take(&mut batch));
                    checks.set(&conn, true);
                    write::disk_changed();
                    let failure = job.run(&conn).err();
                    job.answer(failure);
                }
                cmd => batch.push(cmd),
            }
        }
        drop_overtaken(&mut batch);
        apply_batch(&mut conn, &entries_changed, &mut checks, batch);
    }
    if let Some(checkpointer) = checkpointer {
        checkpointer.stop(&mut conn);
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
        let WriteCmd::Scan(scan) = cmd else {
            at_path.clear();
            path_of.clear();
            continue;
        };
        let Scan { location, items, queued: true, .. } = scan.as_ref() else {
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
        if let WriteCmd::Scan(scan) = &mut batch[i] {
            scan.items.remove(j);
        }
    }
}

fn item_id(item: &ScanItem) -> Option<EntryId> {
    match item {
        ScanItem::Upsert(e) => e.id,
        _ => None,
    }
}

/// Applies a batch (`apply_commands`), with foreign key checks on unless it holds only first scans.
fn apply_batch(conn: &mut Connection, entries_changed: &EntriesWatch, checks: &mut ForeignKeys, batch: Vec<WriteCmd>) {
    if batch.is_empty() {
        return;
    }
    let first_scans_only = batch.iter().all(|cmd| matches!(cmd, WriteCmd::Scan(scan) if scan.first));
    if !first_scans_only {
        // Any other record may be news of a change on disk (removed, renamed) that a first scan's items, read
        // before it, have not seen.
        write::disk_changed();
    }
    checks.set(conn, !first_scans_only);
    apply_commands(conn, entries_changed, batch);
}

/// Whether SQLite checks foreign keys on the writer's connection.
///
/// A new location's first scan only inserts rows whose references it has just made or checked: the location
/// (`apply_scan` reads it inside the transaction, which no other writer can enter, and stops if it is gone),
/// content and metadata rows inserted or found in the same transaction. No statement of a scan needs an ON DELETE
/// action either (nothing refers to an entry; the metadata a removal drops carries no tag or label). So the checks,
/// a lookup per reference of every row and a statement journal per insert, are off while only first scans are
/// applied, and on for everything else. Switching costs the preparation of every cached statement again (SQLite
/// expires them), hence only when the kind of batch changes. (Measured, `add` of 100,000 small files: 6% faster
/// with the checks off throughout, about 4% as switched here.)
/// `spacefs check` runs `foreign_key_check`, as the tests do after first scans.
struct ForeignKeys {
    on: bool,
}

impl ForeignKeys {
    fn set(&mut self, conn: &Connection, on: bool) {
        if self.on == on {
            return;
        }
        // (Outside a transaction, where the pragma applies; it cannot fail there.)
        match conn.execute_batch(if on { "PRAGMA foreign_keys = ON;" } else { "PRAGMA foreign_keys = OFF;" }) {
            Ok(()) => self.on = on,
            Err(err) => {
                log::error!("cannot turn the library's foreign key checks {}: {err}", if on { "on" } else { "off" })
            }
        }
    }
}

/// Applies a batch in one transaction. If any command fails, the transaction is rolled back and every command is
/// applied again in a transaction of its own, so the failure touches nothing and the others still happen.
/// (Savepoints per command would do the same, but make every statement of a large batch several times slower.)
fn apply_commands(conn: &mut Connection, entries_changed: &EntriesWatch, mut batch: Vec<WriteCmd>) {
    if batch.len() > 1 {
        match in_transaction(conn, entries_changed, |tx| batch.iter_mut().try_for_each(|cmd| cmd.job().run(tx))) {
            Ok(()) => {
                batch.into_iter().for_each(|cmd| cmd.answer(None));
                return;
            }
            Err(err) if is_command_error(&err) => {}
            Err(err) => {
                batch.into_iter().for_each(|cmd| cmd.answer(Some(same_failure(&err))));
                return;
            }
        }
    }
    for mut cmd in batch {
        let failure = in_transaction(conn, entries_changed, |tx| cmd.job().run(tx)).err();
        cmd.answer(failure);
    }
}

/// Whether an error belongs to one command (its input) rather than to the whole transaction (the database: locked,
/// full, failing, read-only), which replaying the commands one by one would only meet again.
fn is_command_error(err: &Error) -> bool {
    !matches!(err, Error::Busy)
        && !matches!(err, Error::Db(e) if e.sqlite_error_code().is_some_and(|c| matches!(c,
        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked | rusqlite::ErrorCode::DiskFull
        | rusqlite::ErrorCode::SystemIoFailure | rusqlite::ErrorCode::ReadOnly)))
}

/// The failure of a whole batch, for each of its commands: a locked library stays `Busy` (EAGAIN, and the message
/// that says what to do), anything else is told as it was.
fn same_failure(err: &Error) -> Error {
    match err {
        Error::Busy => Error::Busy,
        other => Error::Library(other.to_string()),
    }
}

/// Runs `f` in a transaction; if it changed a row of `entries`, the transaction also counts one change in
/// `entries_version`.
fn in_transaction<T>(
    conn: &mut Connection,
    entries: &EntriesWatch,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    entries.clear();
    let value = f(&tx)?;
    if entries.changed() {
        tx.prepare_cached(
            "INSERT INTO entries_version (id, version) VALUES (1, 1) \
             ON CONFLICT (id) DO UPDATE SET version = version + 1",
        )?
        .execute([])?;
    }
    tx.commit()?;
    Ok(value)
}

/// Whether the transaction running changed a row of `entries`.
enum EntriesWatch {
    /// Set by the connection whenever it inserts, updates or deletes a row of `entries` (SQLite's update hook: one
    /// call per row, no SQL). Every change to `entries` goes through the writer's transactions, which read it.
    Hooked(Arc<AtomicBool>),
    /// The hook could not be set: every transaction counts as a change (a snapshot published too often, never one
    /// left stale).
    Unhooked,
}

impl EntriesWatch {
    fn start(conn: &mut Connection) -> EntriesWatch {
        let changed = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&changed);
        let hooked = conn.update_hook(Some(move |_: rusqlite::hooks::Action, _: &str, table: &str, _: i64| {
            if table == "entries" {
                flag.store(true, Ordering::Relaxed);
            }
        }));
        match hooked {
            Ok(()) => EntriesWatch::Hooked(changed),
            Err(err) => {
                log::warn!("cannot watch the library's entries ({err}): every change counts as one to them");
                EntriesWatch::Unhooked
            }
        }
    }

    /// Forgets what earlier (rolled back) transactions did.
    fn clear(&self) {
        if let EntriesWatch::Hooked(flag) = self {
            flag.store(false, Ordering::Relaxed);
        }
    }

    fn changed(&self) -> bool {
        match self {
            EntriesWatch::Hooked(flag) => flag.load(Ordering::Relaxed),
            EntriesWatch::Unhooked => true,
        }
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
        let mut e = write::scanned(b"", name.as_bytes().to_vec(), &path, &meta);
        e.id = Some(EntryId(id));
        e.content = content;
        ScanItem::Upsert(Box::new(e))
    }

    /// How many items each command of the batch keeps after `drop_overtaken`.
    fn kept(batches: Vec<Vec<ScanItem>>) -> Vec<usize> {
        let (tx, _rx) = crossbeam_channel::unbounded();
        let mut cmds: Vec<WriteCmd> = batches
            .into_iter()
            .map(|items| Scan::command(LocationId(1), items, true, (false, None), tx.clone()))
            .collect();
        drop_overtaken(&mut cmds);
        cmds.iter().map(|c| if let WriteCmd::Scan(scan) = c { scan.items.len() } else { 0 }).collect()
    }

    /// A first scan is applied without foreign key checks (`ForeignKeys`); every other change is checked again.
    #[test]
    fn foreign_keys_are_checked_again_after_a_first_scan() {
        use crate::library::testing;
        let raw = testing::raw_library();
        raw.conn.execute_batch(testing::ONE_LOCATION).unwrap();
        let library = crate::library::Library::open(&raw.path).unwrap();
        let checked =
            || library.writer().exchange(|c| Ok(c.query_row("PRAGMA foreign_keys", [], |r| r.get::<_, bool>(0))?));
        assert!(checked().unwrap());
        library.writer().apply_first_scan(LocationId(1), Vec::new()).unwrap();
        assert!(checked().unwrap(), "checks are on again for the change after a first scan");
        let ghost = library.writer().exchange(|c| {
            Ok(c.execute(
                "INSERT INTO entries (uuid, location_id, relative_path, name, kind, size, indexed_at) \
                 VALUES (randomblob(16), 99, x'', x'61', 0, 0, 0)",
                [],
            )?)
        });
        assert!(ghost.is_err(), "an entry of a location that does not exist is refused");
    }

    /// The stamp that tells a changed library from its published snapshot moves with every committed change to
    /// `entries` (insert, update, delete of any row), and with nothing else; and it reads no table whole.
    #[test]
    fn the_entries_stamp_moves_with_each_change_to_entries_and_only_then() {
        use crate::library::testing;
        let raw = testing::raw_library();
        raw.conn.execute_batch(testing::ONE_LOCATION).unwrap();
        let plan = testing::plan(&raw.conn, crate::library::read::ENTRIES_STAMP);
        let scans = plan.lines().filter(|l| l.contains("SCAN") && !l.contains("CONSTANT ROW")).count();
        assert_eq!(scans, 0, "the stamp reads a table whole:\n{plan}");
        let library = crate::library::Library::open(&raw.path).unwrap();
        let stamp = || library.reader().unwrap().entries_stamp().unwrap();
        let sql = |sql: &'static str| library.writer().exchange(move |c| Ok(c.execute_batch(sql)?));
        let insert = "INSERT INTO entries (uuid, location_id, relative_path, name, kind, size, indexed_at) \
                      VALUES (randomblob(16), 1, x'', randomblob(4), 0, 0, 0)";
        let mut seen = vec![stamp()];
        let moved = |what: &str, expected: bool, seen: &mut Vec<String>| {
            let now = stamp();
            assert_eq!(!seen.contains(&now), expected, "after {what}: {seen:?} then {now}");
            seen.push(now);
        };
        sql(insert).unwrap();
        moved("an insert", true, &mut seen);
        sql(insert).unwrap();
        moved("another insert", true, &mut seen);
        library.writer().create_tag(TagName::parse("t").unwrap()).unwrap();
        moved("a tag made (no entry changed)", false, &mut seen);
        sql("UPDATE entries SET size = 5 WHERE id = (SELECT min(id) FROM entries)").unwrap();
        moved("an update of the first row", true, &mut seen);
        sql("DELETE FROM entries WHERE id = (SELECT min(id) FROM entries)").unwrap();
        moved("a delete of the first row", true, &mut seen);
        assert!(sql("DELETE FROM entries; SELECT no_such_function()").is_err());
        moved("a change rolled back", false, &mut seen);
        sql("DELETE FROM entries").unwrap();
        moved("deleting every row", true, &mut seen);
    }

    #[test]
    fn a_locked_library_fails_a_batch_once_without_replaying_each_command() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        // Each time SQLite finds the library locked; answering false gives up at once (no waiting in a test).
        static LOCKED: AtomicUsize = AtomicUsize::new(0);
        let lib = crate::library::testing::raw_library();
        let mut conn = Connection::open(&lib.path).unwrap();
        conn.busy_handler(Some(|_| {
            LOCKED.fetch_add(1, Ordering::SeqCst);
            false
        }))
        .unwrap();
        lib.conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        let batch: Vec<WriteCmd> = ["a", "b", "c"]
            .into_iter()
            .map(|name| {
                let tag = TagName::parse(name).unwrap();
                let work = move |c: &Connection| write::create_tag(c, &tag);
                WriteCmd::Change(Box::new(Call { work, done: None, reply: tx.clone() }))
            })
            .collect();
        let entries = EntriesWatch::start(&mut conn);
        apply_batch(&mut conn, &entries, &mut ForeignKeys { on: true }, batch);
        assert_eq!(LOCKED.load(Ordering::SeqCst), 1, "one attempt for the batch, not one more per command");
        let answers: Vec<_> = rx.try_iter().collect();
        assert_eq!(answers.len(), 3);
        assert!(answers.iter().all(|a| matches!(a, Err(Error::Busy))), "{answers:?}");
        // Once the lock is gone, the same commands go through.
        lib.conn.execute_batch("COMMIT").unwrap();
        let tag = TagName::parse("a").unwrap();
        let work = move |c: &Connection| write::create_tag(c, &tag);
        apply_batch(
            &mut conn,
            &EntriesWatch::Unhooked,
            &mut ForeignKeys { on: true },
            vec![WriteCmd::Change(Box::new(Call { work, done: None, reply: tx.clone() }))],
        );
        assert!(matches!(rx.try_recv(), Ok(Ok(_))));
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
