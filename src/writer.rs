//! The one writer: a thread that owns the library's only writable connection.
//!
//! Every mutation is a typed `WriteCmd` sent over a bounded crossbeam channel together with a reply channel. The
//! thread takes whatever is queued (up to `MAX_BATCH` commands), applies it in one transaction — each command in
//! its own savepoint, so one failing command changes nothing and does not spoil the others — commits, and only
//! then replies. Group commit is what makes many small changes from many threads fast; replying after commit is
//! what makes a returned change durable.
//!
//! Commands that cannot run inside a transaction (checkpoint, VACUUM) end the batch and run alone.
//!
//! `Writer` is a cheap clonable handle; the thread ends (and its connection closes, checkpointing the WAL) when the
//! last handle is dropped.

use crate::error::{Error, Result};
use crate::library::write::{
    self, ContentHash, Flag, LocationTotals, NewLocation, RemovedLocation, ScanApplied, ScanItem,
};
use crate::library::{EntryId, JobId, LocationId};
use crate::names::{LabelPath, TagName};
use crossbeam_channel::{Receiver, Sender, bounded};
use rusqlite::Connection;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Commands waiting beyond this many make senders block: memory stays bounded under overload.
const QUEUE_CAPACITY: usize = 1024;
/// The most commands applied in one transaction.
const MAX_BATCH: usize = 512;

type Reply<T> = Sender<Result<T>>;

pub enum WriteCmd {
    AddLocation(NewLocation, Reply<LocationId>),
    RemoveLocation(LocationId, Reply<RemovedLocation>),
    StartScan(LocationId, Reply<JobId>),
    ApplyScan(LocationId, Vec<ScanItem>, Reply<ScanApplied>),
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
    /// ANALYZE, PRAGMA optimize, a truncating WAL checkpoint and, when asked, VACUUM.
    Optimize {
        vacuum: bool,
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
    pub fn optimize(&self, vacuum: bool) -> Result<()> {
        self.call(|reply| WriteCmd::Optimize { vacuum, reply })
    }
}

/// A reply to send once the transaction's fate is known: `None` when it committed, else why it did not.
type PendingReply = Box<dyn FnOnce(Option<&Error>) + Send>;

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
        let mut batch = Vec::with_capacity(queued.len());
        for cmd in queued.drain(..) {
            match cmd {
                WriteCmd::Optimize { vacuum, reply } => {
                    apply_batch(&mut conn, std::mem::take(&mut batch));
                    let _ = reply.send(optimize(&conn, vacuum));
                }
                cmd => batch.push(cmd),
            }
        }
        apply_batch(&mut conn, batch);
    }
    // Leave the library checkpointed for whoever opens it next.
    let _ = conn.execute_batch("PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);");
}

fn apply_batch(conn: &mut Connection, batch: Vec<WriteCmd>) {
    if batch.is_empty() {
        return;
    }
    let mut replies: Vec<PendingReply> = Vec::with_capacity(batch.len());
    let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(err) => {
            let err = crate::library::library_error(std::path::Path::new("(the library)"), err);
            for cmd in batch {
                fail(cmd, &err);
            }
            return;
        }
    };
    for cmd in batch {
        replies.push(apply_one(&tx, cmd));
    }
    match tx.commit() {
        Ok(()) => replies.into_iter().for_each(|reply| reply(None)),
        Err(err) => {
            let err = Error::Db(err);
            replies.into_iter().for_each(|reply| reply(Some(&err)));
        }
    }
}

/// Runs one command in a savepoint and returns how to reply once the transaction's fate is known.
fn apply_one(conn: &Connection, cmd: WriteCmd) -> PendingReply {
    match cmd {
        WriteCmd::AddLocation(new, r) => saved(conn, r, |c| write::add_location(c, &new)),
        WriteCmd::RemoveLocation(id, r) => saved(conn, r, |c| write::remove_location(c, id)),
        WriteCmd::StartScan(id, r) => saved(conn, r, |c| write::start_scan(c, id)),
        WriteCmd::ApplyScan(id, items, r) => saved(conn, r, |c| write::apply_scan(c, id, &items)),
        WriteCmd::SetFullHashes(hashes, r) => saved(conn, r, |c| write::set_full_hashes(c, &hashes)),
        WriteCmd::FinishScan { location, job, items, error, reply } => {
            saved(conn, reply, |c| write::finish_scan(c, location, job, items, error.as_deref()))
        }
        WriteCmd::Tag(entries, tags, r) => saved(conn, r, |c| write::tag(c, &entries, &tags)),
        WriteCmd::Untag(entries, tags, r) => saved(conn, r, |c| write::untag(c, &entries, &tags)),
        WriteCmd::Label(entries, path, r) => saved(conn, r, |c| write::label(c, &entries, &path)),
        WriteCmd::SetFlag(entries, flag, on, r) => saved(conn, r, |c| write::set_flag(c, &entries, flag, on)),
        WriteCmd::SetNotes(entry, notes, r) => saved(conn, r, |c| write::set_notes(c, entry, notes.as_deref())),
        WriteCmd::Optimize { vacuum, reply } => {
            let result = optimize(conn, vacuum);
            Box::new(move |_| {
                let _ = reply.send(result);
            })
        }
    }
}

fn saved<T: Send + 'static>(
    conn: &Connection,
    reply: Reply<T>,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> PendingReply {
    let result = conn.execute_batch("SAVEPOINT cmd").map_err(Error::from).and_then(|()| {
        let result = f(conn);
        let end = if result.is_ok() { "RELEASE cmd" } else { "ROLLBACK TO cmd; RELEASE cmd" };
        conn.execute_batch(end)?;
        result
    });
    Box::new(move |commit_error| {
        let outcome = match (result, commit_error) {
            (Ok(_), Some(err)) => Err(Error::Invalid(format!("the change was not saved: {err}"))),
            (result, _) => result,
        };
        let _ = reply.send(outcome);
    })
}

fn fail(cmd: WriteCmd, err: &Error) {
    let msg = || Error::Library(err.to_string());
    match cmd {
        WriteCmd::AddLocation(_, r) => drop(r.send(Err(msg()))),
        WriteCmd::RemoveLocation(_, r) => drop(r.send(Err(msg()))),
        WriteCmd::StartScan(_, r) => drop(r.send(Err(msg()))),
        WriteCmd::ApplyScan(_, _, r) => drop(r.send(Err(msg()))),
        WriteCmd::SetFullHashes(_, r) => drop(r.send(Err(msg()))),
        WriteCmd::FinishScan { reply, .. } => drop(reply.send(Err(msg()))),
        WriteCmd::Tag(_, _, r)
        | WriteCmd::Untag(_, _, r)
        | WriteCmd::Label(_, _, r)
        | WriteCmd::SetFlag(_, _, _, r) => drop(r.send(Err(msg()))),
        WriteCmd::SetNotes(_, _, r) => drop(r.send(Err(msg()))),
        WriteCmd::Optimize { reply, .. } => drop(reply.send(Err(msg()))),
    }
}

fn optimize(conn: &Connection, vacuum: bool) -> Result<()> {
    conn.execute_batch("ANALYZE; PRAGMA optimize;")?;
    if vacuum {
        conn.execute_batch("VACUUM;")?;
    }
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    Ok(())
}
