//! POSIX behaviour of `locations/`: the same operations run on a real folder and on its window through the mount,
//! side by side, must give the same results (values and errno names), and an fsx-style stream of random
//! read/write/truncate/mmap/fallocate operations through the mount must keep a file equal to the same stream on a
//! native file.

mod common;

use common::{Fixture, Rng};
use std::ffi::{CString, OsStr};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The errno's name, so a trace reads like the man page.
fn errno_name(err: &std::io::Error) -> String {
    let names = [
        (libc::ENOENT, "ENOENT"),
        (libc::EEXIST, "EEXIST"),
        (libc::ENOTDIR, "ENOTDIR"),
        (libc::EISDIR, "EISDIR"),
        (libc::ENOTEMPTY, "ENOTEMPTY"),
        (libc::EINVAL, "EINVAL"),
        (libc::EPERM, "EPERM"),
        (libc::EACCES, "EACCES"),
        (libc::ENODATA, "ENODATA"),
        (libc::ENAMETOOLONG, "ENAMETOOLONG"),
        (libc::ERANGE, "ERANGE"),
        (libc::ENOSPC, "ENOSPC"),
        (libc::E2BIG, "E2BIG"),
        (libc::EXDEV, "EXDEV"),
        (libc::EBADF, "EBADF"),
        (libc::ELOOP, "ELOOP"),
        (libc::ENOTSUP, "ENOTSUP"),
        (libc::EROFS, "EROFS"),
    ];
    match err.raw_os_error() {
        Some(code) => names.iter().find(|(c, _)| *c == code).map_or(format!("errno {code}"), |(_, n)| n.to_string()),
        None => format!("{err}"),
    }
}

fn result<T: std::fmt::Debug>(r: std::io::Result<T>) -> String {
    match r {
        Ok(v) => format!("ok {v:?}"),
        Err(e) => errno_name(&e),
    }
}

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

fn check(rc: libc::c_int) -> std::io::Result<()> {
    if rc < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
}

fn setxattr(p: &Path, name: &str, value: &[u8], flags: i32) -> std::io::Result<()> {
    let name = CString::new(name).unwrap();
    // SAFETY: valid C strings and a buffer of the given length.
    check(unsafe { libc::setxattr(cstr(p).as_ptr(), name.as_ptr(), value.as_ptr().cast(), value.len(), flags) })
}

fn renameat2(old: &Path, new: &Path, flags: u32) -> std::io::Result<()> {
    // SAFETY: valid C strings.
    check(unsafe { libc::renameat2(libc::AT_FDCWD, cstr(old).as_ptr(), libc::AT_FDCWD, cstr(new).as_ptr(), flags) })
}

fn utimens(p: &Path, atime: (i64, i64), mtime: (i64, i64)) -> std::io::Result<()> {
    let times =
        [libc::timespec { tv_sec: atime.0, tv_nsec: atime.1 }, libc::timespec { tv_sec: mtime.0, tv_nsec: mtime.1 }];
    // SAFETY: a valid C string and two timespecs.
    check(unsafe { libc::utimensat(libc::AT_FDCWD, cstr(p).as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) })
}

/// What `stat` says that must not depend on where the file lives (no inode or device numbers, no times that
/// depend on the clock). The link count is the disk's in `locations/` (views add one, documented in the README).
fn shape(p: &Path) -> String {
    match fs::symlink_metadata(p) {
        Ok(m) => format!(
            "kind {:?} mode {:o} size {} uid {} gid {} links {}",
            m.file_type(),
            m.mode(),
            if m.is_dir() { 0 } else { m.size() },
            m.uid(),
            m.gid(),
            if m.is_dir() { 0 } else { m.nlink() }
        ),
        Err(e) => errno_name(&e),
    }
}

fn listing(dir: &Path) -> String {
    match fs::read_dir(dir) {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .map(|e| format!("{:?}", e.unwrap().file_name().as_bytes().escape_ascii().to_string()))
                .collect();
            names.sort();
            names.join(" ")
        }
        Err(e) => errno_name(&e),
    }
}

/// The attribute names, leaving out the `user.spacefs.*` ones the mount adds (documented: spacefs owns them).
fn xattr_names(p: &Path) -> String {
    match xattr::list(p) {
        Ok(names) => {
            let mut names: Vec<String> =
                names.map(|n| n.to_string_lossy().into_owned()).filter(|n| !n.starts_with("user.spacefs.")).collect();
            names.sort();
            names.join(" ")
        }
        Err(e) => errno_name(&e),
    }
}

/// Runs the conformance scenario in `root` (an empty folder) and returns what each step observed.
fn scenario(root: &Path) -> Vec<String> {
    let mut trace = Vec::new();
    let mut say = |step: &str, what: String| trace.push(format!("{step}: {what}"));
    let p = |rel: &str| root.join(rel);

    // create, exclusive create, missing files
    let made = OpenOptions::new().write(true).create_new(true).mode(0o640).open(p("f"));
    say("create f 0640", result(made.map(|_| ())));
    say("create_new f again", result(OpenOptions::new().write(true).create_new(true).open(p("f")).map(|_| ())));
    say("open missing", result(File::open(p("missing")).map(|_| ())));
    say("write f", result(fs::write(p("f"), b"hello")));
    say("stat f", shape(&p("f")));
    say("read f", result(fs::read(p("f"))));

    // O_APPEND and O_TRUNC
    let appended = OpenOptions::new().append(true).open(p("f")).and_then(|mut f| f.write_all(b" world"));
    say("append f", result(appended));
    say("read f", result(fs::read(p("f"))));
    let truncated = OpenOptions::new().write(true).truncate(true).open(p("f")).and_then(|mut f| f.write_all(b"hi"));
    say("open O_TRUNC f", result(truncated));
    say("read f", result(fs::read(p("f"))));
    let positional = OpenOptions::new().write(true).open(p("f")).and_then(|f| f.write_all_at(b"!", 6));
    say("pwrite past the end", result(positional));
    say("read f", result(fs::read(p("f"))));

    // directories
    say("mkdir d", result(fs::create_dir(p("d"))));
    say("mkdir d again", result(fs::create_dir(p("d"))));
    say("mkdir f/x", result(fs::create_dir(p("f/x"))));
    say("mkdir missing/x", result(fs::create_dir(p("missing/x"))));
    say("rmdir f", result(fs::remove_dir(p("f"))));
    say("unlink d", result(fs::remove_file(p("d"))));
    say("rmdir missing", result(fs::remove_dir(p("missing"))));
    say("create d/inner", result(fs::write(p("d/inner"), b"in")));
    say("rmdir d (not empty)", result(fs::remove_dir(p("d"))));
    say("open f/ as a folder", result(fs::read_dir(p("f/")).map(|_| ())));
    say("stat d", shape(&p("d")));

    // rename
    say("rename f g", result(fs::rename(p("f"), p("g"))));
    say("stat f", shape(&p("f")));
    say("read g", result(fs::read(p("g"))));
    say("rename g over d", result(fs::rename(p("g"), p("d"))));
    say("rename d over g", result(fs::rename(p("d"), p("g"))));
    say("rename d into d/sub", result(fs::rename(p("d"), p("d/sub"))));
    say("mkdir e", result(fs::create_dir(p("e"))));
    say("rename d over empty e", result(fs::rename(p("d"), p("e"))));
    say("stat d", shape(&p("d")));
    say("read e/inner", result(fs::read(p("e/inner"))));
    say("mkdir d2", result(fs::create_dir(p("d2"))));
    say("rename d2 over non-empty e", result(fs::rename(p("d2"), p("e"))));
    say("rename missing", result(fs::rename(p("missing"), p("x"))));
    say("create g2", result(fs::write(p("g2"), b"two")));
    say("rename g2 over g", result(fs::rename(p("g2"), p("g"))));
    say("read g", result(fs::read(p("g"))));
    say("create g3", result(fs::write(p("g3"), b"three")));
    say("RENAME_NOREPLACE g3 over g", result(renameat2(&p("g3"), &p("g"), libc::RENAME_NOREPLACE)));
    say("RENAME_NOREPLACE g3 to g4", result(renameat2(&p("g3"), &p("g4"), libc::RENAME_NOREPLACE)));
    say("create x1", result(fs::write(p("x1"), b"one")));
    say("create x2", result(fs::write(p("x2"), b"two")));
    say("RENAME_EXCHANGE x1 x2", result(renameat2(&p("x1"), &p("x2"), libc::RENAME_EXCHANGE)));
    say("read x1", result(fs::read(p("x1"))));
    say("read x2", result(fs::read(p("x2"))));
    say("RENAME_EXCHANGE x1 e (a file and a folder)", result(renameat2(&p("x1"), &p("e"), libc::RENAME_EXCHANGE)));
    say("stat x1", shape(&p("x1")));
    say("read e", result(fs::read(p("e"))));
    say("read x1/inner", result(fs::read(p("x1/inner"))));
    say("RENAME_EXCHANGE x1 e back", result(renameat2(&p("x1"), &p("e"), libc::RENAME_EXCHANGE)));
    say("RENAME_EXCHANGE with a missing name", result(renameat2(&p("x1"), &p("missing"), libc::RENAME_EXCHANGE)));
    say("rename g4 e/g4 (another folder)", result(fs::rename(p("g4"), p("e/g4"))));
    say("read e/g4", result(fs::read(p("e/g4"))));
    say("listing", listing(root));

    // hard links
    say("link g h", result(fs::hard_link(p("g"), p("h"))));
    say("stat g", shape(&p("g")));
    say("link g h again", result(fs::hard_link(p("g"), p("h"))));
    say("link a folder", result(fs::hard_link(p("e"), p("e-link"))));
    say("write through h", result(fs::write(p("h"), b"shared")));
    say("read g", result(fs::read(p("g"))));
    say("unlink g", result(fs::remove_file(p("g"))));
    say("stat h", shape(&p("h")));
    say("unlink g again", result(fs::remove_file(p("g"))));

    // symlinks
    say("symlink s", result(std::os::unix::fs::symlink("target/x", p("s"))));
    say("readlink s", result(fs::read_link(p("s"))));
    say("stat s", shape(&p("s")));
    say("symlink s again", result(std::os::unix::fs::symlink("y", p("s"))));
    say("read dangling s", result(fs::read(p("s"))));
    say("symlink t -> h", result(std::os::unix::fs::symlink("h", p("t"))));
    say("read through t", result(fs::read(p("t"))));
    say("readlink h (not a link)", result(fs::read_link(p("h"))));

    // modes, owners, times
    say("chmod h 600", result(fs::set_permissions(p("h"), fs::Permissions::from_mode(0o600))));
    say("stat h", shape(&p("h")));
    say("chmod h 4755", result(fs::set_permissions(p("h"), fs::Permissions::from_mode(0o4755))));
    say("stat h", shape(&p("h")));
    say("chown h 1000:1000", result(std::os::unix::fs::chown(p("h"), Some(1000), Some(1000))));
    say("stat h", shape(&p("h")));
    say("chown h 0:0", result(std::os::unix::fs::chown(p("h"), Some(0), Some(0))));
    say("chmod missing", result(fs::set_permissions(p("missing"), fs::Permissions::from_mode(0o600))));
    say("utimens h", result(utimens(&p("h"), (1_000_000_000, 5), (1_234_567_890, 500_000_000))));
    let times = fs::metadata(p("h")).map(|m| (m.atime(), m.atime_nsec(), m.mtime(), m.mtime_nsec()));
    say("times of h", result(times));
    say("write h", result(OpenOptions::new().write(true).open(p("h")).and_then(|f| f.write_all_at(b"S", 0))));
    let advanced = fs::metadata(p("h")).map(|m| m.mtime() > 1_234_567_890);
    say("write moved mtime forward", result(advanced));
    let before = fs::metadata(p("h")).map(|m| (m.ctime(), m.ctime_nsec()));
    std::thread::sleep(std::time::Duration::from_millis(20));
    say("chmod h 644", result(fs::set_permissions(p("h"), fs::Permissions::from_mode(0o644))));
    let after = fs::metadata(p("h")).map(|m| (m.ctime(), m.ctime_nsec()));
    say("chmod moved ctime", format!("{}", before.is_ok() && after.is_ok() && after.unwrap() > before.unwrap()));
    say("utimens a folder", result(utimens(&p("e"), (7, 0), (8, 0))));
    say("times of e", result(fs::metadata(p("e")).map(|m| (m.atime(), m.mtime()))));

    // truncate
    let f = OpenOptions::new().read(true).write(true).open(p("h"));
    say("open h rw", f.as_ref().map_or_else(errno_name, |_| "ok".into()));
    if let Ok(f) = f {
        say("ftruncate 2", result(f.set_len(2)));
        say("read h", result(fs::read(p("h"))));
        say("ftruncate 10", result(f.set_len(10)));
        say("read h", result(fs::read(p("h"))));
    }
    let truncate = |len: i64| {
        // SAFETY: a valid C string.
        check(unsafe { libc::truncate(cstr(&p("h")).as_ptr(), len) })
    };
    say("truncate 3", result(truncate(3)));
    say("read h", result(fs::read(p("h"))));
    say("truncate -1", result(truncate(-1)));
    say("truncate a folder", result(fs::OpenOptions::new().write(true).open(p("e")).map(|_| ())));

    // extended attributes (names spacefs does not own pass through to the real file)
    say("list h", xattr_names(&p("h")));
    say("get missing", result(xattr::get(p("h"), "user.test")));
    say("set user.test", result(setxattr(&p("h"), "user.test", b"value", 0)));
    say("get user.test", result(xattr::get(p("h"), "user.test")));
    say("list h", xattr_names(&p("h")));
    say("XATTR_CREATE existing", result(setxattr(&p("h"), "user.test", b"v2", libc::XATTR_CREATE)));
    say("XATTR_REPLACE missing", result(setxattr(&p("h"), "user.other", b"v2", libc::XATTR_REPLACE)));
    say("XATTR_REPLACE existing", result(setxattr(&p("h"), "user.test", b"v3", libc::XATTR_REPLACE)));
    say("get user.test", result(xattr::get(p("h"), "user.test")));
    say("set empty", result(setxattr(&p("h"), "user.empty", b"", 0)));
    say("get empty", result(xattr::get(p("h"), "user.empty")));
    say("set 3 KiB", result(setxattr(&p("h"), "user.big", &[7u8; 3072], 0)));
    say("get 3 KiB", result(xattr::get(p("h"), "user.big").map(|v| v.map(|v| v.len()))));
    say("set 64 KiB", result(setxattr(&p("h"), "user.huge", &vec![7u8; 65536], 0)));
    say("set on a folder", result(setxattr(&p("e"), "user.folder", b"f", 0)));
    say("get on a folder", result(xattr::get(p("e"), "user.folder")));
    say("remove user.test", result(xattr::remove(p("h"), "user.test")));
    say("remove user.test again", result(xattr::remove(p("h"), "user.test")));
    say("set an unknown namespace", result(setxattr(&p("h"), "bogus.x", b"1", 0)));
    say("list h", xattr_names(&p("h")));

    // names
    let long = "n".repeat(255);
    say("create a 255-byte name", result(fs::write(p(&long), b"long")));
    say("read it", result(fs::read(p(&long))));
    say("create a 256-byte name", result(fs::write(p(&"n".repeat(256)), b"x")));
    let odd = root.join(OsStr::from_bytes(b"caf\xe9 \n name"));
    say("create a non-UTF-8 name with a newline", result(fs::write(&odd, b"odd")));
    say("read it", result(fs::read(&odd)));
    say("rename it", result(fs::rename(&odd, root.join(OsStr::from_bytes(b"\xff\xfe")))));
    say("create .", result(fs::write(p("."), b"x")));
    say("mkdir ..", result(fs::create_dir(p(".."))));
    say("rmdir .", result(fs::remove_dir(p("e/."))));

    // an open file survives its unlink
    let kept = File::open(p("h"));
    say("open h", kept.as_ref().map_or_else(errno_name, |_| "ok".into()));
    say("unlink h", result(fs::remove_file(p("h"))));
    if let Ok(mut kept) = kept {
        let mut bytes = Vec::new();
        say("read the unlinked h", result(kept.read_to_end(&mut bytes).map(|_| bytes)));
    }
    say("stat h", shape(&p("h")));
    say("listing", listing(root));
    say("listing e", listing(&p("e")));

    // names of one file are one inode: same number, the link count, and a change seen under every name at once
    say("create l1", result(fs::write(p("l1"), b"linked")));
    say("link l1 l2", result(fs::hard_link(p("l1"), p("l2"))));
    let same = fs::metadata(p("l1")).and_then(|a| fs::metadata(p("l2")).map(|b| a.ino() == b.ino()));
    say("l1 and l2 are one inode", result(same));
    say("stat l1", shape(&p("l1")));
    say("chmod l1 600", result(fs::set_permissions(p("l1"), fs::Permissions::from_mode(0o600))));
    say("stat l2", shape(&p("l2")));
    say("unlink l1", result(fs::remove_file(p("l1"))));
    say("stat l2", shape(&p("l2")));
    say("chmod l2 644", result(fs::set_permissions(p("l2"), fs::Permissions::from_mode(0o644))));
    say("read l2", result(fs::read(p("l2"))));

    // new files and folders get the caller's mode under the caller's umask, special bits included
    // SAFETY: umask only changes this process's mask; the scenario runs on one thread.
    let saved = unsafe { libc::umask(0o002) };
    say("create m under umask 002", result(fs::write(p("m"), b"")));
    say("stat m", shape(&p("m")));
    say("mkdir md under umask 002", result(fs::create_dir(p("md"))));
    say("stat md", shape(&p("md")));
    // SAFETY: as above.
    unsafe { libc::umask(0) };
    let setuid = OpenOptions::new().write(true).create_new(true).mode(0o4777).open(p("suid"));
    say("create suid 04777 under umask 0", result(setuid.map(|_| ())));
    say("stat suid", shape(&p("suid")));
    // SAFETY: as above.
    unsafe { libc::umask(saved) };

    // special files: FIFOs, sockets, device nodes (root), and mknod of a regular file
    // SAFETY: valid C strings.
    say("mkfifo fifo", result(check(unsafe { libc::mkfifo(cstr(&p("fifo")).as_ptr(), 0o640) })));
    say("stat fifo", shape(&p("fifo")));
    say("mkfifo fifo again", result(check(unsafe { libc::mkfifo(cstr(&p("fifo")).as_ptr(), 0o640) })));
    let regular = unsafe { libc::mknod(cstr(&p("node")).as_ptr(), libc::S_IFREG | 0o600, 0) };
    say("mknod S_IFREG node", result(check(regular)));
    say("stat node", shape(&p("node")));
    let device = unsafe { libc::mknod(cstr(&p("null")).as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    say("mknod a character device", result(check(device)));
    say("stat null", shape(&p("null")));
    say("its device number", result(fs::symlink_metadata(p("null")).map(|m| m.rdev())));
    let socket = std::os::unix::net::UnixListener::bind(p("sock"));
    say("bind a unix socket", result(socket.map(|_| ())));
    say("stat sock", shape(&p("sock")));

    // a writer opens a file a reader holds open (shells, tail -f beside an appender)
    say("create shared", result(fs::write(p("shared"), b"one\n")));
    let reader = File::open(p("shared"));
    say("open shared for reading", reader.as_ref().map_or_else(errno_name, |_| "ok".into()));
    let appended = OpenOptions::new().append(true).open(p("shared")).and_then(|mut f| f.write_all(b"two\n"));
    say("append to it meanwhile", result(appended));
    if let Ok(mut reader) = reader {
        let mut text = String::new();
        say("the reader sees both lines", result(reader.read_to_string(&mut text).map(|_| text)));
    }

    // a file deleted while open is still changed and stated through its descriptor
    let open = OpenOptions::new().read(true).write(true).create_new(true).mode(0o644).open(p("doomed"));
    say("create doomed", open.as_ref().map_or_else(errno_name, |_| "ok".into()));
    say("unlink doomed", result(fs::remove_file(p("doomed"))));
    if let Ok(file) = open {
        use xattr::FileExt;
        say("fstat", result(file.metadata().map(|m| (m.len(), m.mode(), m.nlink()))));
        say("ftruncate 10", result(file.set_len(10)));
        say("fchmod 600", result(file.set_permissions(fs::Permissions::from_mode(0o600))));
        say("fstat", result(file.metadata().map(|m| (m.len(), m.mode(), m.nlink()))));
        say("fsetxattr", result(file.set_xattr("user.kept", b"yes")));
        say("fgetxattr", result(file.get_xattr("user.kept")));
        say("fremovexattr", result(file.remove_xattr("user.kept")));
        say("fgetxattr after", result(file.get_xattr("user.kept")));
    }

    // a symlink's own times
    say("symlink times -> h", result(std::os::unix::fs::symlink("h", p("times"))));
    say("utimens the link itself", result(utimens(&p("times"), (1_000, 0), (2_000, 0))));
    say("its times", result(fs::symlink_metadata(p("times")).map(|m| (m.atime(), m.mtime()))));
    // a sparse file keeps its holes (cp, tar and rsync find them by SEEK_DATA and SEEK_HOLE), and a copy made by
    // copy_file_range has its bytes
    let sparse = OpenOptions::new().read(true).write(true).create_new(true).mode(0o644).open(p("sparse"));
    say("create sparse", sparse.as_ref().map_or_else(errno_name, |_| "ok".into()));
    if let Ok(file) = sparse {
        say("write at 600000 of 1 MiB", result(file.set_len(1 << 20).and_then(|()| file.write_all_at(b"x", 600_000))));
        let seek = |at: i64, whence: i32| {
            // SAFETY: lseek on a descriptor this test owns.
            let to = unsafe { libc::lseek(std::os::fd::AsRawFd::as_raw_fd(&file), at, whence) };
            if to < 0 { Err(std::io::Error::last_os_error()) } else { Ok(to) }
        };
        say("SEEK_DATA from 0", result(seek(0, libc::SEEK_DATA)));
        say("SEEK_HOLE from 600000", result(seek(600_000, libc::SEEK_HOLE)));
        say("SEEK_DATA past the end", result(seek(2 << 20, libc::SEEK_DATA)));
        let copy = OpenOptions::new().write(true).create_new(true).mode(0o644).open(p("sparse-copy"));
        let copied = copy.and_then(|out| {
            let (fd_in, fd_out) = (std::os::fd::AsRawFd::as_raw_fd(&file), std::os::fd::AsRawFd::as_raw_fd(&out));
            let (mut from, mut to) = (0i64, 0i64);
            // SAFETY: two descriptors this test owns, offsets on the stack.
            let n = unsafe { libc::copy_file_range(fd_in, &mut from, fd_out, &mut to, 1 << 20, 0) };
            if n < 0 { Err(std::io::Error::last_os_error()) } else { Ok(n) }
        });
        say("copy_file_range 1 MiB", result(copied));
        say("the copy equals it", result(fs::read(p("sparse-copy")).map(|b| b == fs::read(p("sparse")).unwrap())));
    }

    // the file system's size and free space are the disk's (df, a file manager's free space, an installer's check)
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: statvfs fills the struct on success; it is read only then.
    let stats = check(unsafe { libc::statvfs(cstr(root).as_ptr(), st.as_mut_ptr()) }).map(|()| {
        // SAFETY: initialised by the successful call.
        let st = unsafe { st.assume_init() };
        (st.f_bsize, st.f_frsize, st.f_blocks, st.f_files, st.f_namemax)
    });
    say("statvfs: block size, fragment size, blocks, inodes, longest name", result(stats));
    say("listing", listing(root));
    trace
}

#[test]
fn locations_behave_like_the_real_folder() {
    let fx = Fixture::new();
    fs::create_dir(fx.file("posix")).unwrap();
    fx.run(["add".as_ref(), fx.files().as_os_str()]).ok();
    let native_root = fx.dir.path().join("native");
    fs::create_dir(&native_root).unwrap();
    let mnt = fx.mount();
    let native = scenario(&native_root);
    let mounted = scenario(&mnt.join("locations/files/posix"));
    let differences: Vec<String> =
        native.iter().zip(&mounted).filter(|(n, m)| n != m).map(|(n, m)| format!("native  {n}\nmounted {m}")).collect();
    assert!(differences.is_empty(), "{} differences:\n{}", differences.len(), differences.join("\n"));
    assert_eq!(native.len(), mounted.len());
    // What the mount did reached the real folder: the same tree as the native run, byte for byte.
    drop(mnt);
    assert_eq!(listing(&fx.file("posix")), listing(&native_root));
    assert_eq!(fs::read(fx.file("posix/e/g4")).unwrap(), b"three");
}

const FSX_MAX: u64 = 256 * 1024;

/// Applies one random operation to both files; returns a description of it.
fn fsx_step(rng: &mut Rng, files: &[File; 2], op: u64) -> String {
    let len = files[0].metadata().unwrap().len();
    let offset = rng.below(FSX_MAX);
    let size = 1 + rng.below(32 * 1024).min(FSX_MAX - offset - 1);
    match rng.below(6) {
        0 => {
            let data: Vec<u8> = (0..size).map(|i| (op as u8).wrapping_add(i as u8)).collect();
            for f in files {
                f.write_all_at(&data, offset).unwrap();
            }
            format!("write {offset}+{size}")
        }
        1 => {
            let mut bufs = [vec![0u8; size as usize], vec![0u8; size as usize]];
            let got: Vec<usize> =
                files.iter().zip(bufs.iter_mut()).map(|(f, b)| f.read_at(b, offset).unwrap()).collect();
            assert_eq!(got[0], got[1], "op {op}: read {offset}+{size} returned different lengths");
            assert!(bufs[0] == bufs[1], "op {op}: read {offset}+{size} returned different bytes");
            format!("read {offset}+{size}")
        }
        2 => {
            let new_len = rng.below(FSX_MAX);
            for f in files {
                f.set_len(new_len).unwrap();
            }
            format!("truncate {new_len}")
        }
        3 if len > 0 => {
            // mmap write: change bytes inside the current length through a shared mapping, then msync.
            let at = rng.below(len);
            let n = 1 + rng.below(len - at).min(8192);
            for f in files {
                mmap_write(f, len, at, n, op as u8);
            }
            format!("mapwrite {at}+{n}")
        }
        4 if len > 0 => {
            let maps: Vec<Vec<u8>> = files.iter().map(|f| mmap_read(f, len)).collect();
            assert!(maps[0] == maps[1], "op {op}: mapped reads differ");
            format!("mapread {len}")
        }
        _ => {
            let keep = if rng.below(2) == 0 { libc::FALLOC_FL_KEEP_SIZE } else { 0 };
            for f in files {
                // SAFETY: fallocate on an open descriptor.
                let rc =
                    unsafe { libc::fallocate(std::os::fd::AsRawFd::as_raw_fd(f), keep, offset as i64, size as i64) };
                assert_eq!(rc, 0, "op {op}: fallocate failed: {}", std::io::Error::last_os_error());
            }
            format!("fallocate {offset}+{size} keep_size={}", keep != 0)
        }
    }
}

fn mmap_write(f: &File, len: u64, at: u64, n: u64, byte: u8) {
    use std::os::fd::AsRawFd;
    // SAFETY: a shared mapping of `len` bytes of a file at least that long; we write inside it, sync, unmap.
    unsafe {
        let map = libc::mmap(
            std::ptr::null_mut(),
            len as usize,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        );
        assert_ne!(map, libc::MAP_FAILED, "mmap: {}", std::io::Error::last_os_error());
        std::ptr::write_bytes(map.cast::<u8>().add(at as usize), byte, n as usize);
        assert_eq!(libc::msync(map, len as usize, libc::MS_SYNC), 0);
        libc::munmap(map, len as usize);
    }
}

fn mmap_read(f: &File, len: u64) -> Vec<u8> {
    use std::os::fd::AsRawFd;
    // SAFETY: a read-only shared mapping of `len` bytes, copied out, then unmapped.
    unsafe {
        let map = libc::mmap(std::ptr::null_mut(), len as usize, libc::PROT_READ, libc::MAP_SHARED, f.as_raw_fd(), 0);
        assert_ne!(map, libc::MAP_FAILED, "mmap: {}", std::io::Error::last_os_error());
        let bytes = std::slice::from_raw_parts(map.cast::<u8>(), len as usize).to_vec();
        libc::munmap(map, len as usize);
        bytes
    }
}

#[test]
fn random_reads_writes_truncates_and_mmaps_agree_with_a_native_file() {
    let fx = Fixture::new();
    fx.write("fsx.bin", b"");
    fx.run(["add".as_ref(), fx.files().as_os_str()]).ok();
    let native_path = fx.dir.path().join("native.bin");
    let mnt = fx.mount();
    let mounted_path = mnt.join("locations/files/fsx.bin");
    for seed in [1u64, 2, 3] {
        let open = |p: &Path| OpenOptions::new().read(true).write(true).create(true).truncate(true).open(p).unwrap();
        let files = [open(&native_path), open(&mounted_path)];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed);
        let mut log = Vec::new();
        for op in 0..1500 {
            log.push(fsx_step(&mut rng, &files, op));
            if op % 100 == 99 {
                let lens: Vec<u64> = files.iter().map(|f| f.metadata().unwrap().len()).collect();
                assert_eq!(lens[0], lens[1], "seed {seed}: sizes differ after: {}", log[log.len() - 5..].join(", "));
                let whole = [fs::read(&native_path).unwrap(), fs::read(&mounted_path).unwrap()];
                assert!(
                    whole[0] == whole[1],
                    "seed {seed}: contents differ after: {}",
                    log[log.len() - 5..].join(", ")
                );
            }
        }
        drop(files);
        // After close, the real file on disk (not only the mount's view of it) holds the same bytes.
        assert!(fs::read(&native_path).unwrap() == fs::read(fx.file("fsx.bin")).unwrap(), "seed {seed}");
    }
    drop(mnt);
}

#[test]
fn rename_exchange_swaps_two_entries_with_their_tags() {
    let fx = Fixture::new();
    fx.write("a", b"first");
    fx.write("b", b"second");
    fx.write("dir/inside", b"child");
    fx.run(["add".as_ref(), fx.files().as_os_str()]).ok();
    fx.run(["tag".as_ref(), "one".as_ref(), fx.file("a").as_os_str()]).ok();
    fx.run(["tag".as_ref(), "two".as_ref(), fx.file("b").as_os_str()]).ok();
    fx.run(["tag".as_ref(), "deep".as_ref(), fx.file("dir/inside").as_os_str()]).ok();
    let mnt = fx.mount();
    let loc = mnt.join("locations/files");
    renameat2(&loc.join("a"), &loc.join("b"), libc::RENAME_EXCHANGE).unwrap();
    assert_eq!(fs::read(fx.file("a")).unwrap(), b"second");
    assert_eq!(fx.run(["tags".as_ref(), fx.file("a").as_os_str()]).ok().trim(), "two");
    assert_eq!(fx.run(["tags".as_ref(), fx.file("b").as_os_str()]).ok().trim(), "one");
    // A file and a folder: the folder's descendants follow it.
    renameat2(&loc.join("a"), &loc.join("dir"), libc::RENAME_EXCHANGE).unwrap();
    assert_eq!(fs::read(loc.join("a/inside")).unwrap(), b"child");
    assert_eq!(fx.run(["find", "--tag", "deep"]).ok().trim(), fx.file("a/inside").display().to_string());
    assert_eq!(fx.run(["tags".as_ref(), fx.file("dir").as_os_str()]).ok().trim(), "two");
    assert_eq!(mnt.ls("tags/deep"), ["inside"]);
    assert_eq!(fs::read(mnt.join("tags/two/dir")).unwrap(), b"second");
    // The watcher sees the exchanges too (as moves); once it has caught up, nothing has changed.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(fx.run(["tags".as_ref(), fx.file("dir").as_os_str()]).ok().trim(), "two");
    assert_eq!(fx.run(["tags".as_ref(), fx.file("b").as_os_str()]).ok().trim(), "one");
    assert_eq!(fx.run(["find", "--tag", "deep"]).ok().trim(), fx.file("a/inside").display().to_string());
    drop(mnt);
    assert!(fx.run(["check"]).code == 0);
}

#[test]
fn special_files_are_made_in_locations_and_refused_in_views() {
    let fx = Fixture::new();
    fx.write("a.txt", b"a");
    fx.run(["add".as_ref(), fx.files().as_os_str()]).ok();
    fx.run(["tag".as_ref(), "t".as_ref(), fx.file("a.txt").as_os_str()]).ok();
    let mnt = fx.mount();
    let mkfifo = |p: &Path| {
        // SAFETY: a valid C string.
        check(unsafe { libc::mkfifo(cstr(p).as_ptr(), 0o644) })
    };
    // In locations/: a real FIFO on disk, indexed.
    mkfifo(&mnt.join("locations/files/pipe")).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&fs::symlink_metadata(fx.file("pipe")).unwrap().file_type()));
    // In a view: EPERM (views hold entries, not new files); in duplicates/: EROFS. Nothing reaches the disk.
    for (folder, errno) in [("tags/t", "EPERM"), ("favorites", "EPERM"), ("untagged", "EPERM"), ("duplicates", "EROFS")]
    {
        let made = mkfifo(&mnt.join(folder).join("fifo"));
        assert_eq!(made.map_err(|e| errno_name(&e)), Err(errno.to_string()), "mkfifo in {folder}");
    }
    assert_eq!(listing(&fx.files()), r#""a.txt" "pipe""#);
    drop(mnt);
    let check = fx.run(["check"]);
    assert_eq!(check.code, 0, "{check:?}");
}
