//! `spacefs mount` and `spacefs unmount`: checks before mounting, the daemon that serves the mount, and the
//! thread that keeps the kernel's caches in step with the library.
//!
//! Without `--foreground`, `mount` starts itself again as a detached daemon (new session, no terminal) and waits
//! on a pipe until the daemon says the mount is ready or why it failed, like sshfs. The daemon serves until the
//! mount goes away (`spacefs unmount`, `fusermount3 -u`) or it gets SIGINT/SIGTERM/SIGHUP, then unmounts, closes the
//! library (checkpointing its WAL) and removes its pid file.

use crate::error::{Error, Result, shown};
use crate::fs::{FsOptions, SpaceFs};
use crate::fuse::FuseFs;
use crate::library::Library;
use fuser::{Config, MountOption, SessionACL};
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The environment variable through which a daemon learns the pipe to report readiness on.
const READY_FD: &str = "SPACEFS_READY_FD";
/// Where a background daemon writes its log (appended); unset: nowhere, as it has no terminal.
const DAEMON_LOG: &str = "SPACEFS_DAEMON_LOG";
/// How often the daemon checks whether another connection changed the library.
const POLL: Duration = Duration::from_millis(20);

#[derive(Debug, Clone)]
pub struct MountArgs {
    pub mountpoint: PathBuf,
    pub foreground: bool,
    pub read_only: bool,
    pub allow_other: bool,
    pub show_hidden: bool,
    pub nonempty: bool,
    pub cache_entries: usize,
}

/// Mounts the library at `args.mountpoint`; returns once it is ready (or, in the foreground, once unmounted).
pub fn mount(library: &Path, args: &MountArgs) -> Result<()> {
    let mountpoint = check_mountpoint(&args.mountpoint, args.nonempty)?;
    check_library(library)?;
    check_fuse()?;
    {
        let lib = Library::open(library)?;
        let reader = lib.reader()?;
        if let Some(loc) = reader.locations()?.into_iter().find(|l| mountpoint.starts_with(&l.path)) {
            return Err(Error::Invalid(format!(
                "{} is inside the location '{}' ({}): mounting there would show the mount inside itself \
                 (choose a mountpoint outside your locations)",
                shown(&args.mountpoint),
                loc.name,
                shown(&loc.path)
            )));
        }
    }
    if args.foreground {
        let ready = std::env::var(READY_FD).ok().and_then(|fd| fd.parse::<i32>().ok());
        // SAFETY: the parent passed us this descriptor for exactly this purpose and nothing else owns it.
        let ready = ready.map(|fd| std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) }));
        serve(library, &mountpoint, args, ready)
    } else {
        spawn_daemon(library, &mountpoint, args)
    }
}

/// The canonical mountpoint, after checking it is an empty folder that nothing is mounted on.
fn check_mountpoint(path: &Path, nonempty: bool) -> Result<PathBuf> {
    let mut meta = std::fs::metadata(path);
    // A mount whose daemon is gone answers ENOTCONN, or ECONNABORTED on newer kernels.
    let dead = |e: &std::io::Error| matches!(e.raw_os_error(), Some(libc::ENOTCONN | libc::ECONNABORTED));
    if meta.as_ref().is_err_and(dead) && clean_stale_mount(path)? {
        meta = std::fs::metadata(path);
    }
    let meta = meta.map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) => Error::NotFound(format!(
            "mountpoint {} does not exist (create it with 'mkdir -p {}')",
            shown(path),
            shown(path)
        )),
        Some(libc::ENOTCONN | libc::ECONNABORTED) => Error::Invalid(format!(
            "{} is a mount whose daemon is gone (clean it up with 'spacefs unmount {}')",
            shown(path),
            shown(path)
        )),
        _ => Error::io(path, e),
    })?;
    if !meta.is_dir() {
        return Err(Error::NotADirectory(format!(
            "mountpoint {} is not a folder (mount on an empty folder)",
            shown(path)
        )));
    }
    let canonical = path.canonicalize().map_err(|e| Error::io(path, e))?;
    if is_mounted(&canonical) {
        return Err(Error::AlreadyExists(format!(
            "{} is already mounted (unmount it with 'spacefs unmount {}')",
            shown(path),
            shown(path)
        )));
    }
    if !nonempty {
        let mut entries = std::fs::read_dir(&canonical).map_err(|e| Error::io(path, e))?;
        if entries.next().is_some() {
            return Err(Error::Invalid(format!(
                "mountpoint {} is not empty (its files would be hidden while mounted; use an empty folder, or --nonempty)",
                shown(path)
            )));
        }
    }
    Ok(canonical)
}

fn check_library(library: &Path) -> Result<()> {
    if !library.exists() {
        return Err(Error::NotFound(format!(
            "no library at {} (create one with 'spacefs add DIR', or try 'spacefs demo')",
            shown(library)
        )));
    }
    Ok(())
}

fn check_fuse() -> Result<()> {
    if !Path::new("/dev/fuse").exists() {
        return Err(Error::Invalid(
            "cannot mount: /dev/fuse is missing (install fuse3 and load the module: 'modprobe fuse')".into(),
        ));
    }
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root && !command_exists("fusermount3") {
        return Err(Error::Invalid(
            "cannot mount: fusermount3 is missing (install it: 'apt-get install fuse3')".into(),
        ));
    }
    Ok(())
}

fn command_exists(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
        .unwrap_or(false)
}

/// Whether something is mounted exactly at `path` (canonical), per /proc/self/mountinfo.
/// A spacefs mount whose daemon died (killed, crashed) answers every access with ENOTCONN until it is unmounted:
/// detach it, say so, and return true. Other file systems' dead mounts are left to their owners (false).
fn clean_stale_mount(path: &Path) -> Result<bool> {
    let absolute = absolute(path);
    // Ours if a spacefs daemon recorded its pid for this mountpoint, and that daemon is gone.
    let pid = std::fs::read_to_string(pid_file(&absolute)).ok().and_then(|p| p.trim().parse::<i32>().ok());
    let fuse = mount_type(&absolute).is_some_and(|t| t.starts_with("fuse"));
    if !fuse || pid.is_none_or(process_alive) {
        return Ok(false);
    }
    let detached = detach(&absolute, true).is_ok();
    if detached {
        let _ = std::fs::remove_file(pid_file(&absolute));
        eprintln!("spacefs: {} was left mounted by a daemon that stopped; cleaned it up", shown(path));
    }
    Ok(detached)
}

pub fn is_mounted(path: &Path) -> bool {
    mount_type(path).is_some()
}

/// The file system type mounted exactly at `path`, if any.
fn mount_type(path: &Path) -> Option<String> {
    let info = std::fs::read("/proc/self/mountinfo").ok()?;
    let target = path.as_os_str().as_bytes();
    for line in info.split(|&b| b == b'\n') {
        let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        if fields.len() < 5 || unescape_mountinfo(fields[4]) != target {
            continue;
        }
        let dash = fields.iter().position(|f| *f == b"-")?;
        return fields.get(dash + 1).map(|t| String::from_utf8_lossy(t).into_owned());
    }
    None
}

/// Mountinfo escapes space, tab, newline and backslash as \ooo.
fn unescape_mountinfo(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if field[i] == b'\\' && i + 3 < field.len() && field[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b)) {
            let v = (field[i + 1] - b'0') * 64 + (field[i + 2] - b'0') * 8 + (field[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(field[i]);
            i += 1;
        }
    }
    out
}

fn spawn_daemon(library: &Path, mountpoint: &Path, args: &MountArgs) -> Result<()> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two descriptors into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Error::io_ctx("cannot create a pipe", std::io::Error::last_os_error()));
    }
    // SAFETY: both descriptors were just created and are owned by nothing else.
    let (mut read_end, write_end) =
        unsafe { (std::fs::File::from(OwnedFd::from_raw_fd(fds[0])), OwnedFd::from_raw_fd(fds[1])) };
    let exe = std::env::current_exe().map_err(|e| Error::io_ctx("cannot find the spacefs program", e))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--library").arg(library).arg("mount").arg(mountpoint).arg("--foreground");
    for (on, flag) in [
        (args.read_only, "--read-only"),
        (args.allow_other, "--allow-other"),
        (args.show_hidden, "--show-hidden"),
        (args.nonempty, "--nonempty"),
    ] {
        if on {
            cmd.arg(flag);
        }
    }
    cmd.arg("--cache-entries").arg(args.cache_entries.to_string());
    let raw = std::os::fd::AsRawFd::as_raw_fd(&write_end);
    // The daemon has no terminal: its warnings go to $SPACEFS_DAEMON_LOG when set (appended), else nowhere.
    let log = match std::env::var_os(DAEMON_LOG) {
        Some(path) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map(std::process::Stdio::from)
            .map_err(|e| Error::io(Path::new(&path), e))?,
        None => std::process::Stdio::null(),
    };
    // The daemon tells its parent, not systemd, that it is ready (systemd watches the foreground daemon only).
    cmd.env_remove("NOTIFY_SOCKET");
    cmd.env(READY_FD, raw.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            let flags = libc::fcntl(raw, libc::F_GETFD);
            libc::fcntl(raw, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| Error::io_ctx("cannot start the mount daemon", e))?;
    drop(write_end);
    let mut answer = String::new();
    let _ = read_end.read_to_string(&mut answer);
    if answer.starts_with("ready") {
        return Ok(());
    }
    let status = child.wait().ok();
    let reason = answer.strip_prefix("error: ").map(|s| s.trim().to_owned()).unwrap_or_else(|| {
        format!("the mount daemon stopped before the mount was ready ({status:?}); run with --foreground to see why")
    });
    Err(Error::Invalid(reason))
}

/// Serves the mount in this process until it is unmounted or a signal asks to stop.
fn serve(library: &Path, mountpoint: &Path, args: &MountArgs, mut ready: Option<std::fs::File>) -> Result<()> {
    let result = serve_inner(library, mountpoint, args, &mut ready);
    if let (Err(err), Some(pipe)) = (&result, ready.as_mut()) {
        let _ = writeln!(pipe, "error: {err}");
    }
    result
}

fn serve_inner(library: &Path, mountpoint: &Path, args: &MountArgs, ready: &mut Option<std::fs::File>) -> Result<()> {
    // The daemon runs a dozen threads (FUSE workers, the writer, readers, the watcher); glibc would give each busy
    // one its own malloc arena, and freed memory spread over many arenas is never returned: RSS grows with the
    // thread count rather than with what is in use. Two arenas keep contention low and memory bounded.
    // SAFETY: mallopt only tunes the allocator; called before the daemon's other threads start.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
    let lib = Library::open_for_mount(library)?;
    if lib.is_read_only() && !args.read_only {
        return Err(Error::ReadOnly(format!(
            "library {} cannot be written, so it can only be mounted read-only (add --read-only)",
            shown(library)
        )));
    }
    // A library that cannot be written cannot follow the disk either: no watcher, no catch-up.
    let follow_disk = !lib.is_read_only();
    let options =
        FsOptions { read_only: args.read_only, show_hidden: args.show_hidden, cache_entries: args.cache_entries };
    let mut core = SpaceFs::new(lib, options);
    core.set_mountpoint(mountpoint.to_path_buf());
    let core = Arc::new(core);
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName(library.display().to_string()),
        // The kernel's own subtype option (fuser passes `Subtype` only to fusermount3): the mount's type is then
        // fuse.spacefs for the kernel too, as `mount -t fuse.spacefs`, fstab, findmnt and umount -t expect.
        MountOption::CUSTOM("subtype=spacefs".into()),
        MountOption::DefaultPermissions,
        MountOption::NoAtime,
    ];
    if args.read_only {
        config.mount_options.push(MountOption::RO);
    }
    if args.allow_other {
        // SessionACL::All makes fuser mount with allow_other.
        config.acl = SessionACL::All;
    }
    config.n_threads = Some(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 8));
    config.clone_fd = true;

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| Error::io_ctx("cannot install signal handlers", e))?;
    }
    let device = crate::fuse::Device::new();
    let session =
        fuser::Session::new(FuseFs::new(Arc::clone(&core), device.clone()), mountpoint, &config).map_err(|e| {
            Error::io_ctx(
                format!("cannot mount on {} (is fuse3 installed and /dev/fuse usable?)", shown(mountpoint)),
                e,
            )
        })?;
    // The threads poll the session's device for a moment after each reply (`fuse::poll`).
    device.set(std::os::fd::AsRawFd::as_raw_fd(&std::os::fd::AsFd::as_fd(&session)));
    let notifier = session.notifier();
    let background = session.spawn().map_err(|e| Error::io_ctx("cannot start serving the mount", e))?;
    let pid_file = pid_file(mountpoint);
    if let Some(parent) = pid_file.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = std::fs::write(&pid_file, std::process::id().to_string());
    // Watch before saying ready: a change made right after `spacefs mount` returns must not be missed.
    let watching = match follow_disk.then(|| start_watcher(&core, library, notifier.clone())) {
        Some(Ok(watching)) => Some(watching),
        Some(Err(err)) => {
            log::warn!("{err}; changes made outside the mount show after 'spacefs rescan'");
            None
        }
        None => None,
    };
    if follow_disk {
        catch_up(&core);
    }
    // The catch-up read every location's stamps; hand that memory back before serving.
    // SAFETY: malloc_trim only releases free heap pages.
    unsafe { libc::malloc_trim(0) };
    // Ready means the mount answers: its root is listed through the kernel before anyone is told.
    std::fs::read_dir(mountpoint).map_err(|e| Error::io(mountpoint, e))?;
    match ready.take() {
        Some(mut pipe) => {
            let _ = writeln!(pipe, "ready");
        }
        // In the foreground under systemd (Type=notify): READY=1 (nothing happens without $NOTIFY_SOCKET).
        None => {
            let status = format!("serving {} on {}", shown(library), shown(mountpoint));
            notify_systemd(&[sd_notify::NotifyState::Ready, sd_notify::NotifyState::Status(&status)]);
        }
    }
    log::info!("serving {} on {}", shown(library), shown(mountpoint));

    let watcher = crate::fs::invalidate::watch_library(
        Arc::downgrade(&core),
        crate::fuse::KernelCaches(notifier),
        Arc::clone(&stop),
    )
    .map_err(|e| Error::io_ctx("starting a thread", e))?;
    // A library that joined a sync folder keeps exchanging with it while mounted.
    let syncing = if follow_disk {
        let weak = Arc::downgrade(&core);
        let holder = move || weak.upgrade().map(|core| core as Arc<dyn crate::sync::AsLibrary>);
        crate::sync::follow(holder, Arc::clone(&stop))
            .map_err(|e| log::warn!("cannot start exchanging with the sync folder: {e}"))
            .ok()
    } else {
        None
    };
    let writer = core.library().writer().clone();
    drop(core);
    while !stop.load(Ordering::Relaxed) && !background.guard.is_finished() {
        std::thread::sleep(POLL);
    }
    // The session ends by itself when the kernel closes the connection: the mount was unmounted from outside
    // (spacefs unmount, fusermount3 -u, umount) or its connection aborted.
    let ended_outside = background.guard.is_finished();
    stop.store(true, Ordering::Relaxed);
    notify_systemd(&[sd_notify::NotifyState::Stopping]);
    let _ = watcher.join();
    if let Some(syncing) = syncing {
        let _ = syncing.join();
    }
    drop(watching);
    let result = if ended_outside {
        // What is at the path now may be a new mount of it (a restart: unmount, mount again at once): it is left
        // alone. Only a dead mount (its connection aborted) is taken away.
        if is_dead_mount(mountpoint) {
            let _ = detach(mountpoint, true);
        }
        join_leaving_the_mount(background)
    } else {
        background.umount_and_join()
    };
    // Leave the library whole in its file for whoever opens it next, even if a thread still holds it as we exit.
    if let Err(err) = writer.checkpoint() {
        log::warn!("could not checkpoint the library's WAL on exit ({err}); the next open recovers it");
    }
    let _ = std::fs::remove_file(&pid_file);
    result.map_err(|e| Error::io_ctx("the mount ended with an error", e))
}

/// Joins the session's thread without fuser's unmount of the path when its guard is dropped: fuser 0.18 asks
/// whether its connection still stands with a poll whose answer it reads the wrong way round (POLLERR, a connection
/// gone, counts as mounted), and would unmount whatever is mounted at the path now.
fn join_leaving_the_mount(background: fuser::BackgroundSession) -> std::io::Result<()> {
    let background = std::mem::ManuallyDrop::new(background);
    // SAFETY: the handle is read out of a value that is never dropped, so it has one owner.
    let guard = unsafe { std::ptr::read(&background.guard) };
    guard.join().unwrap_or_else(|_| Err(std::io::Error::other("the file system's thread panicked")))
}

/// Whether `path` is a FUSE mount whose server is gone ("Transport endpoint is not connected").
fn is_dead_mount(path: &Path) -> bool {
    is_mounted(path)
        && std::fs::symlink_metadata(path)
            .is_err_and(|e| matches!(e.raw_os_error(), Some(libc::ENOTCONN | libc::ECONNABORTED)))
}

/// Tells systemd (when it started the daemon with $NOTIFY_SOCKET) how the mount is doing.
fn notify_systemd(states: &[sd_notify::NotifyState]) {
    if let Err(err) = sd_notify::notify(false, states) {
        log::warn!("could not notify systemd: {err}");
    }
}

/// Records what changed in the locations while nothing watched them (unmounted, or a daemon that was killed in
/// the middle of a change): an incremental rescan of each, which re-hashes only what changed and re-links the
/// metadata of files that moved. Runs once the watcher is on, so nothing falls between the two.
fn catch_up(core: &SpaceFs) {
    let locations = match core.library().reader().and_then(|r| r.locations()) {
        Ok(locations) => locations,
        Err(err) => return log::warn!("cannot catch up with changes made while unmounted: {err}"),
    };
    for location in &locations {
        match crate::index::scan(core.library(), location, crate::index::ScanOptions { progress: false }) {
            Ok(r) if r.upserted + r.removed > 0 => {
                log::info!("'{}': {} changes made while unmounted recorded", location.name, r.upserted + r.removed)
            }
            Ok(_) => {}
            Err(err) => log::warn!("cannot catch up with '{}': {err}", location.name),
        }
    }
}

/// Watches the locations for changes made outside the mount, records them, and makes the kernel forget what it
/// cached of the changed entries.
fn start_watcher(core: &Arc<SpaceFs>, library: &Path, notifier: fuser::Notifier) -> Result<crate::watch::Watching> {
    let locations = core.library().reader()?.locations()?;
    let ignore = vec![library.canonicalize().unwrap_or_else(|_| library.to_path_buf())];
    let weak = Arc::downgrade(core);
    let kernel = crate::fuse::KernelCaches(notifier);
    crate::watch::start(Arc::downgrade(core), locations, ignore, move |changes| {
        if let Some(core) = weak.upgrade() {
            core.disk_changed(changes, &kernel);
        }
    })
}

/// Where the daemon serving `mountpoint` records its pid.
fn pid_file(mountpoint: &Path) -> PathBuf {
    let base = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()).map(PathBuf::from).unwrap_or_else(|| {
        // SAFETY: getuid cannot fail.
        std::env::temp_dir().join(format!("spacefs-{}", unsafe { libc::getuid() }))
    });
    let hash = blake3::hash(mountpoint.as_os_str().as_bytes()).to_hex();
    base.join("spacefs").join(format!("{}.pid", &hash[..16]))
}

/// Unmounts a spacefs mount and waits (up to 10 s) for its daemon to finish closing the library.
pub fn unmount(mountpoint: &Path) -> Result<()> {
    let absolute = absolute(mountpoint);
    let kind = mount_type(&absolute);
    match kind.as_deref() {
        None => return Err(Error::NotFound(format!("{} is not mounted", shown(mountpoint)))),
        Some(t) if !t.starts_with("fuse") => {
            return Err(Error::Invalid(format!("{} is a {t} mount, not spacefs (use umount)", shown(mountpoint))));
        }
        Some(_) => {}
    }
    let pid = std::fs::read_to_string(pid_file(&absolute)).ok().and_then(|p| p.trim().parse::<i32>().ok());
    detach(&absolute, false).map_err(|err| match err {
        Detach::Busy => Error::Invalid(format!(
            "{} is busy (close the programs and shells using it, then try again)",
            shown(mountpoint)
        )),
        Detach::Failed(why) => Error::Invalid(format!("cannot unmount {}: {why}", shown(mountpoint))),
    })?;
    if let Some(pid) = pid {
        let deadline = Instant::now() + Duration::from_secs(10);
        while process_alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(())
}

enum Detach {
    Busy,
    Failed(String),
}

/// Unmounts `absolute` (lazily: detached now, gone once unused): umount2 as root, else `fusermount3 -u [-z]`.
fn detach(absolute: &Path, lazy: bool) -> std::result::Result<(), Detach> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        let c = std::ffi::CString::new(absolute.as_os_str().as_bytes())
            .map_err(|_| Detach::Failed("a mountpoint cannot contain a NUL byte".into()))?;
        // SAFETY: `c` is a valid NUL-terminated path.
        if unsafe { libc::umount2(c.as_ptr(), if lazy { libc::MNT_DETACH } else { 0 }) } == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        return Err(if err.raw_os_error() == Some(libc::EBUSY) {
            Detach::Busy
        } else {
            Detach::Failed(err.to_string())
        });
    }
    let out = std::process::Command::new("fusermount3")
        .args(if lazy { &["-u", "-z"][..] } else { &["-u"][..] })
        .arg(absolute)
        .output()
        .map_err(|e| Detach::Failed(format!("cannot run fusermount3 ({e}); install fuse3")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Detach::Failed(String::from_utf8_lossy(&out.stderr).trim().to_owned()))
    }
}

/// Whether `pid` is a live process; a zombie (exited, not yet reaped by its new parent) is not.
fn process_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}

fn absolute(path: &Path) -> PathBuf {
    if let Ok(canonical) = path.canonicalize() {
        return canonical;
    }
    // A dead mount cannot be canonicalized; resolve its parent instead.
    match (path.parent().map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p }), path.file_name()) {
        (Some(parent), Some(name)) => {
            parent.canonicalize().map(|p| p.join(name)).unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    }
}

impl crate::sync::AsLibrary for SpaceFs {
    fn library(&self) -> &Library {
        SpaceFs::library(self)
    }
    fn exchanging(&self, on: bool) {
        self.exchanging.store(on, std::sync::atomic::Ordering::Release);
    }
}
