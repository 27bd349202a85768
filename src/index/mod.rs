//! The indexer: walks a location, compares it with the library, hashes what is new or changed, and sends the
//! differences to the writer in batches.
//!
//! Shape: this thread walks folder by folder (one query per folder for what the library knows of it); files that
//! need reading go, `CHUNK` at a time, to a pool of hashing threads (`threads()`), each of which reads the small
//! files of its chunk together (`batch_read`); a collector thread gathers results into batches of `BATCH` items and
//! hands each to the writer, which commits it in one transaction. When the walk is done, files that share a
//! `cas_id` with another file get a full BLAKE3 so duplicates are verified, not guessed.
//!
//! Invariants: symlinks are recorded, never followed; a folder that cannot be read keeps what the library knew of
//! it (nothing is removed because it could not be seen); a missing location root aborts the scan before any change.

mod batch_read;
mod progress;

use crate::kind;
pub use crate::kind::{KIND_EXTENSIONS, KINDS, kind_of_extension};
pub use crate::library::write::scanned;

use crate::error::{Error, Result, shown};
use crate::library::write::{self, LocationTotals};
use crate::library::write::{ContentHash, ContentUpdate, ScanApplied, ScanItem, ScannedEntry};
use crate::library::{EntryKind, EntryStamp, IndexMode, Library, Location, cas, child_path};
use crate::xattr::{XDG_COMMENT, XDG_TAGS, parse_xdg_tags};
use crossbeam_channel::{Receiver, Sender, bounded};
use progress::{Counters, Progress};
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Items the writer commits in one transaction.
const BATCH: usize = 4096;
/// Files handed to a hasher at once, and scan items handed back at once. One message per file made the threads
/// ping-pong on full and empty channels: crossbeam spins before it parks, and the walker and the collector spent a
/// fifth of a scan's CPU spinning (measured: 100,000 small files, warm).
const CHUNK: usize = 64;
/// A chunk is handed over early once its files hold this much to read, so that a few large files are read by
/// several hashers, not one after the other by one.
const CHUNK_BYTES: i64 = 4 << 20;
/// How many unreadable paths a report names; the rest are only counted.
const UNREADABLE_SHOWN: usize = 5;

#[derive(Debug, Clone, Copy, Default)]
pub struct ScanOptions {
    /// Show a progress line on standard error (only when it is a terminal).
    pub progress: bool,
}

#[derive(Debug, Clone)]
pub struct ScanReport {
    pub location: String,
    /// Files, folders and links looked at.
    pub seen: u64,
    /// Entries added or updated.
    pub upserted: u64,
    pub removed: u64,
    /// Vanished entries whose tags, labels or notes were kept to be re-linked later.
    pub orphaned: u64,
    /// Files whose content id was computed.
    pub hashed: u64,
    pub hashed_bytes: u64,
    /// Files given a full hash to verify a possible duplicate.
    pub verified: u64,
    pub tags_imported: u64,
    pub unreadable: u64,
    /// The first few unreadable paths with the reason.
    pub unreadable_examples: Vec<String>,
    pub totals: LocationTotals,
    pub elapsed: Duration,
}

/// One file or folder on its way to the hashing pool.
struct Job {
    entry: ScannedEntry,
    path: PathBuf,
    /// The open folder the entry is in (its file is opened relative to it, not by walking the whole path again);
    /// `None` when the folder could not be opened, and then the path is used.
    folder: Option<Arc<File>>,
    hash: bool,
    /// `write::disk_changes` before the walk read the entry's folder.
    walked_at: u64,
}

/// Scan items, with `write::disk_changes` as it was before the first of them was read from disk (see
/// `write::apply_scan`).
type Items = (u64, Vec<ScanItem>);

struct Shared {
    counters: Arc<Counters>,
    unreadable: Mutex<(u64, Vec<String>)>,
    mode: IndexMode,
}

impl Shared {
    fn unreadable(&self, path: &Path, err: &std::io::Error) {
        let mut u = self.unreadable.lock().unwrap_or_else(|p| p.into_inner());
        u.0 += 1;
        if u.1.len() < UNREADABLE_SHOWN {
            u.1.push(
                Error::io(path, std::io::Error::from_raw_os_error(err.raw_os_error().unwrap_or(libc::EIO))).to_string(),
            );
        }
    }
}

/// Indexes `location` incrementally: only what changed since the last scan is re-read and re-hashed.
pub fn scan(library: &Library, location: &Location, options: ScanOptions) -> Result<ScanReport> {
    let started = Instant::now();
    match fs::metadata(&location.path) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(Error::NotADirectory(format!(
                "the folder of location '{}' ({}) is no longer a folder; nothing was changed",
                location.name,
                shown(&location.path)
            )));
        }
        Err(e) => {
            return Err(Error::NotFound(format!(
                "the folder of location '{}' ({}) cannot be read: {} (is its drive mounted?); nothing was changed",
                location.name,
                shown(&location.path),
                crate::error::Error::io_ctx("", e).to_string().trim_start_matches(": ")
            )));
        }
    }
    let writer = library.writer();
    let job = writer.start_scan(location.id)?;
    let shared = Arc::new(Shared {
        counters: Arc::default(),
        unreadable: Mutex::new((0, Vec::new())),
        mode: location.index_mode,
    });
    let progress = Progress::start(options.progress, &location.name, Arc::clone(&shared.counters));

    // A location with no entries yet (just added) is filled by inserts alone (`write::apply_scan`).
    let first = !library.reader()?.location_has_entries(location.id)?;
    let walked = walk_and_apply(library, location, &shared, b"", first);
    let verified = walked.as_ref().ok().map(|_| verify_duplicates(library, &shared));
    progress.finish();

    let (applied, verified) = match (walked, verified) {
        (Ok(applied), Some(Ok(verified))) => (applied, verified),
        (Err(err), _) | (_, Some(Err(err))) => {
            let _ = writer.finish_scan(location.id, job, 0, Some(err.to_string()), true);
            return Err(err);
        }
        (Ok(_), None) => unreachable!("verification runs after every successful walk"),
    };
    let seen = shared.counters.seen.load(Ordering::Relaxed);
    // A first scan that only inserted new files (each with a content it uses) left no content unused.
    let left_unused = !first || applied.removed > 0 || applied.rewritten > 0 || verified > 0;
    let totals = writer.finish_scan(location.id, job, seen as i64, None, left_unused)?;
    let (unreadable, unreadable_examples) =
        std::mem::take(&mut *shared.unreadable.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(ScanReport {
        location: location.name.clone(),
        seen,
        upserted: applied.upserted,
        removed: applied.removed,
        orphaned: applied.orphaned,
        hashed: shared.counters.hashed.load(Ordering::Relaxed),
        hashed_bytes: shared.counters.bytes.load(Ordering::Relaxed),
        verified,
        tags_imported: applied.tags_imported,
        unreadable,
        unreadable_examples,
        totals,
        elapsed: started.elapsed(),
    })
}

/// How many hashing threads: four per core, as fclones does for solid-state disks. Reading a file that is not
/// cached waits on the device, which serves deep queues faster than shallow ones; the hashing itself is light.
/// Measured here (100,000 small files after dropping the page cache, one read at a time): 2 readers 7.5 s,
/// 8 readers 6.1 s, 16 and 32 no better; warm, no difference. Since small files are read a chunk at a time
/// (`batch_read`), 2 threads and 8 measure the same, cold and warm; 8 keep large files (read one at a time) deep.
fn threads() -> usize {
    4 * std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}

/// Indexes one folder of a location and everything below it (a folder that appeared, or was moved in, while the
/// library was watching). The folder itself must be indexed already.
pub fn scan_folder(library: &Library, location: &Location, folder: &[u8]) -> Result<ScanApplied> {
    let shared = Arc::new(Shared {
        counters: Arc::default(),
        unreadable: Mutex::new((0, Vec::new())),
        mode: location.index_mode,
    });
    walk_and_apply(library, location, &shared, folder, false)
}

fn walk_and_apply(
    library: &Library,
    location: &Location,
    shared: &Arc<Shared>,
    start: &[u8],
    first: bool,
) -> Result<ScanApplied> {
    let (job_tx, job_rx) = bounded::<Vec<Job>>(BATCH / CHUNK);
    let (item_tx, item_rx) = bounded::<Items>(2 * BATCH / CHUNK);
    std::thread::scope(|scope| {
        for _ in 0..threads() {
            let job_rx = job_rx.clone();
            let item_tx = item_tx.clone();
            scope.spawn(move || hash_worker(job_rx, item_tx, shared));
        }
        drop(job_rx);
        let collector = scope.spawn(|| collect(library, location, item_rx, first));
        let walker = scope.spawn(|| {
            lower_this_thread(WALKER_NICE);
            walk(library, location, shared, start, job_tx, item_tx)
        });
        let walked = walker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let applied = collector.join().unwrap_or_else(|_| Err(Error::WriterGone));
        // A writer failure stops the walk early (its channels close); report the cause, not the symptom.
        match (walked, applied) {
            (_, Err(err)) => Err(err),
            (Err(err), _) => Err(err),
            (Ok(()), Ok(applied)) => Ok(applied),
        }
    })
}

/// Gathers scan items into batches and commits each through the writer, keeping up to `in_flight` batches sent
/// and not yet answered, so the writer always has the next batch when it finishes one.
///
/// The writer commits the batches waiting for it in one transaction. In the first scan of a location, where the
/// writer is what the scan waits for, up to `FIRST_IN_FLIGHT` batches may wait: the further the writer falls
/// behind, the larger its transactions, and each commit writes the pages of the name and content-id indexes it
/// changed once for all of them (measured, `add` of 100,000 small files: 8% less of the writer's time).
fn collect(library: &Library, location: &Location, items: Receiver<Items>, first: bool) -> Result<ScanApplied> {
    const IN_FLIGHT: usize = 2;
    const FIRST_IN_FLIGHT: usize = 16;
    let in_flight_most = if first { FIRST_IN_FLIGHT } else { IN_FLIGHT };
    let mut total = ScanApplied::default();
    let (done_tx, done_rx) = bounded::<Result<ScanApplied>>(in_flight_most);
    let mut in_flight = 0;
    let mut add = |applied: Result<ScanApplied>| -> Result<()> {
        let applied = applied?;
        total.upserted += applied.upserted;
        total.removed += applied.removed;
        total.orphaned += applied.orphaned;
        total.tags_imported += applied.tags_imported;
        total.rewritten += applied.rewritten;
        Ok(())
    };
    let writer = library.writer();
    let mut batch = Vec::with_capacity(BATCH);
    let mut walked_at = u64::MAX;
    loop {
        let chunk = items.recv().ok();
        let done = chunk.is_none();
        if let Some((at, chunk)) = chunk {
            walked_at = walked_at.min(at);
            batch.extend(chunk);
        }
        if batch.len() >= BATCH || (done && !batch.is_empty()) {
            if in_flight == in_flight_most {
                add(done_rx.recv().map_err(|_| Error::WriterGone)?)?;
                in_flight -= 1;
            }
            let read = (first, Some(std::mem::replace(&mut walked_at, u64::MAX)));
            writer.apply_scan_pipelined(location.id, std::mem::take(&mut batch), read, &done_tx)?;
            in_flight += 1;
        }
        if done {
            for _ in 0..in_flight {
                add(done_rx.recv().map_err(|_| Error::WriterGone)?)?;
            }
            return Ok(total);
        }
    }
}

/// Walks the location folder by folder, sending what changed to the hashers (files) or the collector (removals).
fn walk(
    library: &Library,
    location: &Location,
    shared: &Shared,
    start: &[u8],
    jobs: Sender<Vec<Job>>,
    items: Sender<Items>,
) -> Result<()> {
    let reader = library.reader()?;
    let mut chunk = Chunk::default();
    let mut pending: Vec<Vec<u8>> = vec![start.to_vec()];
    let closed = || Error::WriterGone;
    // Folders walked, and folders that could not be read (what the library knows below them is kept).
    let mut walked: HashSet<Vec<u8>> = HashSet::new();
    let mut unreadable: Vec<Vec<u8>> = Vec::new();
    while let Some(rel) = pending.pop() {
        walked.insert(rel.clone());
        let dir = if rel.is_empty() { location.path.clone() } else { location.path.join(OsStr::from_bytes(&rel)) };
        let walked_at = write::disk_changes();
        let listing = match fs::read_dir(&dir) {
            Ok(listing) => listing,
            Err(err) => {
                shared.unreadable(&dir, &err);
                unreadable.push(rel);
                continue;
            }
        };
        // O_PATH: a handle to open files relative to, not an open of the folder, which a watcher (the mount's, on
        // the same folders) would be told of, twice (opened, closed) per folder.
        let folder =
            File::options().read(true).custom_flags(libc::O_PATH | libc::O_DIRECTORY).open(&dir).ok().map(Arc::new);
        let mut known: HashMap<Vec<u8>, EntryStamp> =
            reader.children_stamps(location.id, &rel)?.into_iter().map(|s| (s.name.clone(), s)).collect();
        let mut children: Vec<(Vec<u8>, fs::DirEntry)> = Vec::new();
        for child in listing {
            match child {
                Ok(child) => children.push((child.file_name().into_vec(), child)),
                Err(err) => {
                    shared.unreadable(&dir, &err);
                    // The listing is incomplete: removing what was not seen would be a guess.
                    known.clear();
                    break;
                }
            }
        }
        // In name order, as the library's path index keeps them: a first scan's inserts then land next to each
        // other instead of all over the index, and each commit changes fewer pages (measured, `add` of 100,000
        // small files: 10% fewer pages written, about 3% less time).
        children.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (name, child) in children {
            let path = child.path();
            // (Read relative to the open folder, without following a symlink: no walk of the whole path per file.)
            let meta = match child.metadata() {
                Ok(meta) => meta,
                Err(err) => {
                    shared.unreadable(&path, &err);
                    known.remove(&name);
                    continue;
                }
            };
            shared.counters.seen.fetch_add(1, Ordering::Relaxed);
            let entry = scanned(&rel, name, &path, &meta);
            let previous = known.remove(&entry.name);
            if entry.kind == EntryKind::Dir {
                pending.push(child_path(&rel, &entry.name));
            }
            if let Some(prev) = &previous
                && prev.kind == EntryKind::Dir
                && entry.kind != EntryKind::Dir
            {
                let dir_path = child_path(&rel, &entry.name);
                items.send((walked_at, vec![ScanItem::RemoveBelow { dir_path }])).map_err(|_| closed())?;
            }
            if let Some(job) = plan(entry, path, folder.clone(), previous.as_ref(), shared.mode, walked_at)
                && let Some(full) = chunk.add(job, shared.mode)
            {
                jobs.send(full).map_err(|_| closed())?;
            }
        }
        let gone: Vec<ScanItem> = known
            .into_values()
            .map(|gone| {
                let dir_path = (gone.kind == EntryKind::Dir).then(|| child_path(&rel, &gone.name));
                ScanItem::Remove { id: gone.id, dir_path }
            })
            .collect();
        if !gone.is_empty() {
            items.send((walked_at, gone)).map_err(|_| closed())?;
        }
    }
    if !chunk.jobs.is_empty() {
        jobs.send(chunk.jobs).map_err(|_| closed())?;
    }
    if start.is_empty() {
        // Rows in folders the walk never met (their folder's own row went missing, so no listing named them):
        // the disk has no such folder, so they go too, their metadata kept as orphans.
        for rel in stray_folders(&reader, location, &walked, &unreadable)? {
            for gone in reader.children_stamps(location.id, &rel)? {
                let dir_path = (gone.kind == EntryKind::Dir).then(|| child_path(&rel, &gone.name));
                let walked_at = write::disk_changes();
                items.send((walked_at, vec![ScanItem::Remove { id: gone.id, dir_path }])).map_err(|_| closed())?;
            }
        }
    }
    Ok(())
}

/// A place where the library and the disk disagree (a path relative to the location's folder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// In the library, not on disk.
    Ghost(Vec<u8>),
    /// On disk, not in the library.
    Missing(Vec<u8>),
    /// In both, but of another kind, or (files) another size.
    Differs { path: Vec<u8>, library: (EntryKind, i64), disk: (EntryKind, i64) },
}

impl Difference {
    pub fn path(&self) -> &[u8] {
        match self {
            Difference::Ghost(p) | Difference::Missing(p) | Difference::Differs { path: p, .. } => p,
        }
    }
}

/// Compares a location's entries with its folder on disk (names, kinds, file sizes), reading nothing but
/// listings and `lstat`s; folders that cannot be read are not compared. Sorted by path.
pub fn compare(library: &Library, location: &Location) -> Result<Vec<Difference>> {
    let reader = library.reader()?;
    let mut differences = Vec::new();
    let mut pending: Vec<Vec<u8>> = vec![Vec::new()];
    let mut walked: HashSet<Vec<u8>> = HashSet::new();
    let mut unreadable: Vec<Vec<u8>> = Vec::new();
    while let Some(rel) = pending.pop() {
        walked.insert(rel.clone());
        let dir = if rel.is_empty() { location.path.clone() } else { location.path.join(OsStr::from_bytes(&rel)) };
        let Ok(listing) = fs::read_dir(&dir) else {
            unreadable.push(rel);
            continue;
        };
        let mut known: HashMap<Vec<u8>, EntryStamp> =
            reader.children_stamps(location.id, &rel)?.into_iter().map(|s| (s.name.clone(), s)).collect();
        let mut complete = true;
        for child in listing {
            let Ok(child) = child else {
                complete = false;
                break;
            };
            let name = child.file_name().into_vec();
            let Ok(meta) = child.metadata() else {
                known.remove(&name);
                continue;
            };
            let kind = EntryKind::from_file_type(meta.file_type());
            let path = child_path(&rel, &name);
            if kind == EntryKind::Dir {
                pending.push(path.clone());
            }
            let size = if kind == EntryKind::File { meta.size() as i64 } else { 0 };
            match known.remove(&name) {
                None => differences.push(Difference::Missing(path)),
                Some(stamp) => {
                    let shown = if stamp.kind == EntryKind::File { stamp.size } else { 0 };
                    if stamp.kind != kind || shown != size {
                        differences.push(Difference::Differs { path, library: (stamp.kind, shown), disk: (kind, size) })
                    }
                }
            }
        }
        if complete {
            differences.extend(known.into_values().map(|gone| Difference::Ghost(child_path(&rel, &gone.name))));
        }
    }
    for rel in stray_folders(&reader, location, &walked, &unreadable)? {
        let rows = reader.children_stamps(location.id, &rel)?;
        differences.extend(rows.into_iter().map(|gone| Difference::Ghost(child_path(&rel, &gone.name))));
    }
    differences.sort_by(|a, b| a.path().cmp(b.path()));
    Ok(differences)
}

/// The folder paths holding rows in the library that are neither among `walked` nor below an `unreadable` folder.
fn stray_folders(
    reader: &crate::library::Reader,
    location: &Location,
    walked: &HashSet<Vec<u8>>,
    unreadable: &[Vec<u8>],
) -> Result<Vec<Vec<u8>>> {
    let below = |rel: &[u8], dir: &[u8]| dir.is_empty() || (rel.starts_with(dir) && rel.get(dir.len()) == Some(&b'/'));
    Ok(reader
        .folder_paths(location.id)?
        .into_iter()
        .filter(|rel| !walked.contains(rel) && !unreadable.iter().any(|dir| rel == dir || below(rel, dir)))
        .collect())
}

/// Decides what an entry found on disk needs, given what the library knew of it: nothing, a metadata update
/// (times or attributes changed, content did not), or reading and hashing.
fn plan(
    mut entry: ScannedEntry,
    path: PathBuf,
    folder: Option<Arc<File>>,
    previous: Option<&EntryStamp>,
    mode: IndexMode,
    walked_at: u64,
) -> Option<Job> {
    let same_content = previous.is_some_and(|p| {
        p.kind == entry.kind && p.size == entry.size && p.modified_at == entry.modified_at && p.inode == entry.inode
    });
    let hashable = entry.kind == EntryKind::File && mode != IndexMode::Metadata;
    // (An empty file has no content id to read: it has all it can have.)
    let has_content = previous.is_some_and(|p| p.has_content || (p.kind == EntryKind::File && p.size == 0));
    if same_content && previous.is_some_and(|p| p.changed_at == entry.changed_at) && (has_content || !hashable) {
        return None;
    }
    let hash = hashable && !(same_content && has_content);
    entry.content = if same_content && !hash { ContentUpdate::Keep } else { ContentUpdate::Clear };
    Some(Job { entry, path, folder, hash, walked_at })
}

/// The jobs the walker gathers for one hasher.
#[derive(Default)]
struct Chunk {
    jobs: Vec<Job>,
    bytes: i64,
}

impl Chunk {
    /// Adds a job; returns the chunk's jobs when it is full (by count, or by what its files hold to read).
    fn add(&mut self, job: Job, mode: IndexMode) -> Option<Vec<Job>> {
        if job.hash {
            // Content mode reads samples of a large file, deep mode all of it.
            let read = if mode == IndexMode::Deep { job.entry.size } else { job.entry.size.min(cas::MOST_READ as i64) };
            self.bytes += read;
        }
        self.jobs.push(job);
        if self.jobs.len() < CHUNK && self.bytes < CHUNK_BYTES {
            return None;
        }
        self.bytes = 0;
        Some(std::mem::replace(&mut self.jobs, Vec::with_capacity(CHUNK)))
    }
}

fn hash_worker(jobs: Receiver<Vec<Job>>, items: Sender<Items>, shared: &Shared) {
    yield_to_the_writer();
    let mut reader = batch_read::BatchReader::new();
    for chunk in jobs {
        let walked_at = chunk.iter().map(|job| job.walked_at).min().unwrap_or(u64::MAX);
        if items.send((walked_at, process_chunk(chunk, shared, &mut reader))).is_err() {
            return;
        }
    }
}

/// Processes the jobs of a chunk: their files are opened, the small ones to hash read together (`BatchReader`),
/// then each is processed (`process_opened`).
fn process_chunk(chunk: Vec<Job>, shared: &Shared, reader: &mut batch_read::BatchReader) -> Vec<ScanItem> {
    // Once descriptors run out, the rest are opened one at a time as they are processed (`process_opened`).
    let mut scarce = false;
    let opened: Vec<Option<std::io::Result<File>>> = chunk
        .iter()
        .map(|job| {
            (job.entry.kind == EntryKind::File).then(|| {
                let opened = if scarce { Err(std::io::Error::from_raw_os_error(libc::EMFILE)) } else { open_job(job) };
                scarce |= opened.as_ref().is_err_and(out_of_descriptors);
                opened
            })
        })
        .collect();
    let small =
        |job: &Job| u64::try_from(job.entry.size).ok().filter(|&size| job.hash && size <= cas::MINIMUM_SAMPLED_SIZE);
    let wanted: Vec<(usize, (&File, u64))> = chunk
        .iter()
        .zip(&opened)
        .enumerate()
        .filter_map(|(i, (job, file))| Some((i, (file.as_ref()?.as_ref().ok()?, small(job)?))))
        .collect();
    let (at, files): (Vec<usize>, Vec<(&File, u64)>) = wanted.into_iter().unzip();
    let mut read: Vec<Option<std::io::Result<Option<Vec<u8>>>>> = (0..chunk.len()).map(|_| None).collect();
    for (i, content) in at.into_iter().zip(reader.read_whole(&files)) {
        read[i] = Some(content);
    }
    chunk
        .into_iter()
        .zip(opened)
        .zip(read)
        .map(|((job, file), content)| ScanItem::Upsert(Box::new(process_opened(job, file, content, shared))))
        .collect()
}

/// Lowers the calling thread's scheduling priority a little. A scan's hashers (one per core and more, for the
/// disk's queue) are always runnable while the writer has work queued, and the scheduler shares a core per thread:
/// the writer, which every item passes through, got half a core against them. Niced, they take what it leaves.
fn yield_to_the_writer() {
    lower_this_thread(HASHER_NICE);
}

/// Gives the calling thread (only it: on Linux each thread has its own nice value) the nice value `nice`, so
/// background work waits while the CPU has something more urgent to run. A thread already lower (a thread started
/// by a lowered one inherits its value) stays as it is.
pub(crate) fn lower_this_thread(nice: i32) {
    // SAFETY: gettid, getpriority and setpriority on this thread only; a refusal leaves the priority as it was.
    unsafe {
        let tid = libc::gettid() as libc::id_t;
        if libc::getpriority(libc::PRIO_PROCESS, tid) < nice {
            libc::setpriority(libc::PRIO_PROCESS, tid, nice);
        }
    }
}

/// How much lower than the writer a hasher runs (nice value).
const HASHER_NICE: i32 = 19;
/// How much lower than the writer the walk runs (nice value): a thread of its own, not the caller's (whose nice
/// value could not be raised back). The writer is what a scan waits for; at the same priority the walk took a
/// quarter of the writer's core (measured with perf: 100,000 small files, warm). Above the hashers, which it feeds.
const WALKER_NICE: i32 = 10;

/// Opens a file to hash it, without following a symlink, blocking on a FIFO, or changing its access time (reading
/// through an index must not look like a user's read to tools that rely on atime; O_NOATIME is refused for files
/// of other owners unless the caller is root, and then the file is opened without it).
fn open_to_read(path: &Path) -> std::io::Result<File> {
    let open = |extra| File::options().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | extra).open(path);
    match open(libc::O_NOATIME) {
        Err(err) if err.raw_os_error() == Some(libc::EPERM) => open(0),
        other => other,
    }
}

/// As `open_to_read`, for the file `name` in the open `folder`.
fn open_to_read_in(folder: &File, name: &[u8]) -> std::io::Result<File> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let name = std::ffi::CString::new(name).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let open = |extra| {
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC | extra;
        // SAFETY: a valid C string and an open descriptor; the descriptor returned is owned by the File.
        let fd = unsafe { libc::openat(folder.as_raw_fd(), name.as_ptr(), flags) };
        if fd < 0 { Err(std::io::Error::last_os_error()) } else { Ok(unsafe { File::from_raw_fd(fd) }) }
    };
    match open(libc::O_NOATIME) {
        Err(err) if err.raw_os_error() == Some(libc::EPERM) => open(0),
        other => other,
    }
}

/// Whether an open file may have extended attributes to read (one call; most files have none, and asking for
/// each attribute by name would cost a call each).
fn has_xattrs(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: a null buffer of size 0 asks only for the size of the list.
    let size = unsafe { libc::flistxattr(file.as_raw_fd(), std::ptr::null_mut(), 0) };
    size != 0
}

fn out_of_descriptors(err: &std::io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}

/// Opens the file of a job, waiting (up to 5 s) while the process has no descriptor to spare: the other hashers
/// close theirs as they go, and a hasher that waits here holds none of its chunk.
fn open_when_free(job: &Job) -> std::io::Result<File> {
    let mut tries = 0;
    loop {
        match open_job(job) {
            Err(err) if out_of_descriptors(&err) && tries < 250 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            done => return done,
        }
    }
}

/// Opens the file of a job to read it.
fn open_job(job: &Job) -> std::io::Result<File> {
    match &job.folder {
        Some(folder) => open_to_read_in(folder, &job.entry.name),
        None => open_to_read(&job.path),
    }
}

/// Reads what the indexer needs from one file: its content id (when asked) and its xdg tags and comment. `opened`
/// is the job's file opened (files only), `content` its content when it was read whole already (`BatchReader`).
fn process_opened(
    job: Job,
    opened: Option<std::io::Result<File>>,
    content: Option<std::io::Result<Option<Vec<u8>>>>,
    shared: &Shared,
) -> ScannedEntry {
    // Out of descriptors while the chunk was opened: opened now, the files before it in the chunk closed.
    let opened = match opened {
        Some(Err(err)) if out_of_descriptors(&err) => Some(open_when_free(&job)),
        opened => opened,
    };
    let Job { mut entry, path, folder: _, hash, walked_at: _ } = job;
    match entry.kind {
        EntryKind::File => {
            let file = match opened.unwrap_or_else(|| open_to_read(&path)) {
                Ok(file) => file,
                Err(err) => {
                    shared.unreadable(&path, &err);
                    return entry;
                }
            };
            if hash {
                let hashed = match content {
                    Some(Ok(whole)) => hash_content(&file, shared.mode, whole),
                    Some(Err(err)) => Err(err),
                    None => hash_file(&file, shared.mode, entry.size),
                };
                match hashed {
                    Ok(Some(content)) => {
                        shared.counters.hashed.fetch_add(1, Ordering::Relaxed);
                        shared.counters.bytes.fetch_add(content.size as u64, Ordering::Relaxed);
                        entry.size = content.size;
                        entry.content = ContentUpdate::Set(content);
                    }
                    Ok(None) => {
                        entry.size = 0;
                        entry.content = ContentUpdate::Clear;
                    }
                    Err(err) => shared.unreadable(&path, &err),
                }
            }
            if has_xattrs(&file) {
                read_xdg(&mut entry, |name| xattr::FileExt::get_xattr(&file, name));
            }
        }
        EntryKind::Dir => read_xdg(&mut entry, |name| xattr::get(&path, name)),
        EntryKind::Symlink | EntryKind::Other => {}
    }
    entry
}

/// The content id of a file; `None` for an empty file, which has none (Spacedrive v2's rule,
/// `ContentHashError::EmptyFile`: every empty file would otherwise be one content).
///
/// `expected` is the size the file had when it was stated: a small file of that size is read whole at once, without
/// asking its size again (which costs a system call per file).
fn hash_file(file: &File, mode: IndexMode, expected: i64) -> std::io::Result<Option<ContentHash>> {
    let small = u64::try_from(expected).ok().filter(|&size| size <= cas::MINIMUM_SAMPLED_SIZE);
    let whole = small.map(|size| cas::read_whole(file, size)).transpose()?.flatten();
    hash_content(file, mode, whole)
}

/// As `hash_file`, given what is known of the content already: all of it (`whole`), or nothing (`None`: the file is
/// read here).
fn hash_content(file: &File, mode: IndexMode, whole: Option<Vec<u8>>) -> std::io::Result<Option<ContentHash>> {
    // Deep mode stores every full hash; a small file read whole needs no second read for it. (Other modes leave
    // small files unverified too: a content is matched by its row, and orphaned metadata by that row.)
    let deep = mode == IndexMode::Deep;
    let (size, found) = match whole {
        Some(bytes) if bytes.is_empty() => return Ok(None),
        Some(bytes) => (bytes.len() as u64, cas::identify_whole(bytes, deep)),
        None => {
            let size = file.metadata()?.len();
            if size == 0 {
                return Ok(None);
            }
            (size, cas::identify(file, size, deep)?)
        }
    };
    let full_hash = match found.full_hash {
        None if deep => Some(cas::full_hash(file)?),
        whole => whole,
    };
    let kind = kind::kind_of_content(&found.head);
    Ok(Some(ContentHash { cas_id: found.cas_id, full_hash, kind, size: size as i64 }))
}

fn read_xdg(entry: &mut ScannedEntry, get: impl Fn(&str) -> std::io::Result<Option<Vec<u8>>>) {
    if let Ok(Some(value)) = get(XDG_TAGS) {
        entry.xdg_tags = parse_xdg_tags(&value).0;
    }
    if let Ok(Some(value)) = get(XDG_COMMENT) {
        let comment = String::from_utf8_lossy(&value).trim().to_owned();
        if !comment.is_empty() {
            entry.xdg_comment = Some(comment);
        }
    }
}

/// What one entry is now on disk, as a scan item: its stamp and, for files, a fresh content id. Applying it keeps
/// the entry's tags, labels and notes (it is not re-imported from its xattrs). `None` when it is not there.
pub fn entry_now(location: &Location, relative_path: &[u8], name: &[u8]) -> Result<Option<ScanItem>> {
    entry_on_disk(location, relative_path, name, true)
}

/// As `entry_now`; without `hash`, only the stamp (a file just created has no content to identify yet).
pub fn entry_on_disk(location: &Location, relative_path: &[u8], name: &[u8], hash: bool) -> Result<Option<ScanItem>> {
    let path = crate::library::real_path(&location.path, relative_path, name);
    crate::longpath::with(&path, |short| Ok(read_entry(location, relative_path, name, short, &path, hash)))
        .map_err(|e| Error::io(&path, e))?
}

/// `entry_on_disk` with the real path given as `short` (which may be relative to a folder on the way to `path`).
fn read_entry(
    location: &Location,
    relative_path: &[u8],
    name: &[u8],
    short: &Path,
    path: &Path,
    hash: bool,
) -> Result<Option<ScanItem>> {
    let meta = match fs::symlink_metadata(short) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    let mut entry = scanned(relative_path, name.to_vec(), short, &meta);
    if hash && entry.kind == EntryKind::File && location.index_mode != IndexMode::Metadata {
        match open_to_read(short).and_then(|file| hash_file(&file, location.index_mode, entry.size)) {
            Ok(Some(content)) => {
                entry.size = content.size;
                entry.content = ContentUpdate::Set(content);
            }
            Ok(None) => entry.content = ContentUpdate::Clear,
            // Renamed or removed since it was stated: its own event says where it went.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            // Unreadable (as a scan does): recorded without a content id.
            Err(e) => log::info!("cannot read {}: {e}; recorded without a content id", path.display()),
        }
    }
    Ok(Some(ScanItem::Upsert(Box::new(entry))))
}

/// Records what one entry is now on disk (after a change through the mount).
pub fn refresh_entry(library: &Library, location: &Location, relative_path: &[u8], name: &[u8]) -> Result<()> {
    let path = crate::library::real_path(&location.path, relative_path, name);
    let item = entry_now(location, relative_path, name)?
        .ok_or_else(|| Error::io(&path, std::io::Error::from(std::io::ErrorKind::NotFound)))?;
    library.writer().apply_scan(location.id, vec![item])?;
    Ok(())
}

/// Gives a full hash to every file that shares a `cas_id` with another distinct file, in parallel, and links it to
/// the content identity of that hash. Returns how many files were verified.
fn verify_duplicates(library: &Library, shared: &Shared) -> Result<u64> {
    let candidates = library.reader()?.verify_candidates()?;
    if candidates.is_empty() {
        return Ok(0);
    }
    let (job_tx, job_rx) = bounded(BATCH);
    let (done_tx, done_rx) = bounded(BATCH);
    std::thread::scope(|scope| {
        for _ in 0..threads() {
            let job_rx: Receiver<crate::library::VerifyCandidate> = job_rx.clone();
            let done_tx = done_tx.clone();
            scope.spawn(move || {
                for c in job_rx {
                    let hashed = open_to_read(&c.path).and_then(|f| cas::full_hash(&f));
                    match hashed {
                        Ok(full) => {
                            let kind = kind::known_kind(&c.kind);
                            let hash = ContentHash { cas_id: c.cas_id, full_hash: Some(full), kind, size: c.size };
                            if done_tx.send((c.entry, hash)).is_err() {
                                return;
                            }
                        }
                        Err(err) => shared.unreadable(&c.path, &err),
                    }
                }
            });
        }
        drop(done_tx);
        // Owned here so that an early return (a writer failure) disconnects the hashers instead of blocking them.
        let done_rx = done_rx;
        scope.spawn(move || {
            for c in candidates {
                if job_tx.send(c).is_err() {
                    return;
                }
            }
        });
        let mut verified = 0;
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let next = done_rx.recv().ok();
            let done = next.is_none();
            batch.extend(next);
            if batch.len() >= BATCH || (done && !batch.is_empty()) {
                verified += batch.len() as u64;
                library.writer().set_full_hashes(std::mem::take(&mut batch))?;
            }
            if done {
                return Ok(verified);
            }
        }
    })
}
