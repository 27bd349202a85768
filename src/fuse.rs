//! `impl fuser::Filesystem`: decode, call one `SpaceFs` method, reply. No SQL and no rules here.
//!
//! Opens of real files use kernel passthrough when the kernel offers it (the core keeps the handles and their
//! backing, see `fs::handles`), so reads run at the backing file system's speed; otherwise reads and writes come
//! here and go to the handle's real file.

mod poll;

use crate::error::Error;
use crate::fs::{Attr, AttrChange, Caller, DirSink, SetIdClearer, SetTime, SpaceFs};
use crate::view::NodeKind;
use fuser::{
    CopyFileRangeFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, LockOwner, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty,
    ReplyEntry, ReplyLseek, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request,
};
pub use poll::Device;
use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::Duration;

/// How long the kernel may trust what it was told. Changes to the library are invalidated explicitly.
const TTL: Duration = Duration::from_secs(60);
/// For view entries the core could not record for invalidation (its record is full): stale for at most this long.
const SHORT_TTL: Duration = Duration::from_secs(1);

fn ttl(attr: &Attr) -> &'static Duration {
    if attr.short_ttl { &SHORT_TTL } else { &TTL }
}

pub struct FuseFs {
    core: Arc<SpaceFs>,
    /// The kernel agreed to FUSE_HANDLE_KILLPRIV_V2: set-ID bits are ours to clear on write, truncate and chown.
    killpriv: bool,
    /// Where requests arrive: the threads poll it for a moment after each reply (see `poll`).
    device: poll::Device,
}

impl FuseFs {
    pub fn new(core: Arc<SpaceFs>, device: poll::Device) -> FuseFs {
        FuseFs { core, killpriv: false, device }
    }

    fn handle_file(&self, fh: FileHandle, for_writing: bool) -> Result<File, Errno> {
        self.core.handle_file(fh.0, for_writing).map_err(|e| errno(&e))
    }
}

/// Who is asking, for the ownership of what they create.
fn caller(req: &Request) -> Caller {
    Caller { uid: req.uid(), gid: req.gid() }
}

fn set_id_clearer(req: &Request) -> SetIdClearer {
    SetIdClearer { uid: req.uid(), gid: req.gid(), pid: req.pid() }
}

fn errno(err: &Error) -> Errno {
    let errno = err.errno();
    if errno == libc::EIO {
        // Never a user's mistake: worth a line in the daemon's log.
        log::warn!("{err}");
    } else if !matches!(err, Error::NotFound(_) | Error::NotIndexed(_)) {
        log::debug!("{err}");
    }
    Errno::from_i32(errno)
}

/// A size probe (`size` 0) gets the length; a buffer too small gets ERANGE; otherwise the value.
fn reply_xattr(reply: ReplyXattr, size: u32, value: &[u8]) {
    if size == 0 {
        reply.size(value.len() as u32);
    } else if (size as usize) < value.len() {
        reply.error(Errno::ERANGE);
    } else {
        reply.data(value);
    }
}

fn file_type(kind: NodeKind) -> FileType {
    match kind {
        NodeKind::Dir => FileType::Directory,
        NodeKind::File => FileType::RegularFile,
        NodeKind::Symlink => FileType::Symlink,
        NodeKind::Other => FileType::NamedPipe,
    }
}

/// The type `stat` shows: a special file's own (FIFO, socket, device) from its mode.
fn attr_type(a: &Attr) -> FileType {
    match a.format {
        libc::S_IFSOCK => FileType::Socket,
        libc::S_IFCHR => FileType::CharDevice,
        libc::S_IFBLK => FileType::BlockDevice,
        _ => file_type(a.kind),
    }
}

fn file_attr(a: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.blocks,
        atime: a.atime,
        mtime: a.mtime,
        ctime: a.ctime,
        crtime: a.mtime,
        kind: attr_type(a),
        perm: a.perm,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: a.rdev,
        blksize: a.blksize,
        flags: 0,
    }
}

struct Plain<'a>(&'a mut ReplyDirectory);
impl DirSink for Plain<'_> {
    fn add(&mut self, ino: u64, offset: u64, kind: NodeKind, name: &OsStr, attr: Option<&Attr>) -> bool {
        self.0.add(INodeNo(ino), offset, attr.map_or_else(|| file_type(kind), attr_type), name)
    }
}

struct Plus<'a>(&'a mut ReplyDirectoryPlus);
impl DirSink for Plus<'_> {
    fn add(&mut self, ino: u64, offset: u64, _kind: NodeKind, name: &OsStr, attr: Option<&Attr>) -> bool {
        match attr {
            Some(attr) => self.0.add(INodeNo(ino), offset, name, ttl(attr), &file_attr(attr), Generation(0)),
            None => false,
        }
    }
}

impl Filesystem for FuseFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Always readdirplus (not _AUTO, which uses it only for a folder's first page): a listing then carries every
        // entry's attributes, and `find`, `ls -l` or a file manager need no lookup per file afterwards.
        let wanted = InitFlags::FUSE_DO_READDIRPLUS | InitFlags::FUSE_PARALLEL_DIROPS;
        if let Err(missing) = config.add_capabilities(wanted) {
            log::info!("kernel lacks {missing:?}; continuing without");
        }
        let passthrough =
            config.add_capabilities(InitFlags::FUSE_PASSTHROUGH).is_ok() && config.set_max_stack_depth(2).is_ok();
        if !passthrough {
            log::warn!("kernel passthrough is not available: reads go through spacefs (slower)");
        }
        self.core.set_passthrough(passthrough);
        // The kernel otherwise asks for `security.capability` before every write(2), to learn whether the write must
        // clear the file's privileges: a round trip that made a small write through `locations/` cost ten times
        // the disk's. With KILLPRIV_V2 it asks once per file, and leaves clearing set-ID bits to us (`setattr`,
        // `write`).
        self.killpriv = config.add_capabilities(InitFlags::FUSE_HANDLE_KILLPRIV_V2).is_ok();
        // Not FUSE_POSIX_ACL (with FUSE_DONT_MASK): the kernel would check access by ACLs as the disk does, but it
        // makes the root's inode before it learns ACLs are on and never caches that inode's ACL (a round trip per
        // path walk of users other than the owner), and `ls -l` would ask for every file's ACL through the mount
        // (ten times slower on a large folder), where "not supported" makes it stop asking. See docs/conformance.md.
        Ok(())
    }

    fn lookup(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let _poll = self.device.request();
        match self.core.lookup_for(parent.0, name, req.pid()) {
            Ok(attr) => reply.entry(ttl(&attr), &file_attr(&attr), Generation(0)),
            Err(err) => reply.error(errno(&err)),
        }
    }

    /// No poll after a forget: nobody waits for one, and a batch of them calls this once per node.
    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.core.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let _poll = self.device.request();
        match self.core.getattr(ino.0, fh.map(|fh| fh.0)) {
            Ok(attr) => reply.attr(ttl(&attr), &file_attr(&attr)),
            Err(err) => reply.error(errno(&err)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let _poll = self.device.request();
        match self.core.readlink(ino.0) {
            Ok(target) => reply.data(&target),
            Err(err) => reply.error(errno(&err)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let _poll = self.device.request();
        match self.core.open(ino.0, flags.0, |f| reply.open_backing(f)) {
            Ok((fh, Some(id))) => reply.opened_passthrough(FileHandle(fh), FopenFlags::empty(), &id),
            Ok((fh, None)) => reply.opened(FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE),
            Err(err) => reply.error(errno(&err)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let _poll = self.device.request();
        let file = match self.handle_file(fh, false) {
            Ok(file) => file,
            Err(errno) => return reply.error(errno),
        };
        let mut buf = vec![0u8; size as usize];
        let mut filled = 0;
        while filled < buf.len() {
            match file.read_at(&mut buf[filled..], offset + filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => return reply.error(Errno::from(err)),
            }
        }
        reply.data(&buf[..filled]);
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let _poll = self.device.request();
        if let Err(err) = self.core.release(ino.0, fh.0) {
            log::warn!("could not record a change made through the mount: {err}");
        }
        reply.ok();
    }

    fn write(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        write_flags: fuser::WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: fuser::ReplyWrite,
    ) {
        let _poll = self.device.request();
        let file = match self.handle_file(fh, true) {
            Ok(file) => file,
            Err(errno) => return reply.error(errno),
        };
        if write_flags.contains(fuser::WriteFlags::FUSE_WRITE_KILL_SUIDGID)
            && let Err(err) = crate::fs::clear_set_id_of_open(&file, set_id_clearer(req))
        {
            return reply.error(Errno::from(err));
        }
        match file.write_all_at(data, offset) {
            Ok(()) => reply.written(data.len() as u32),
            Err(err) => reply.error(Errno::from(err)),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        let _poll = self.device.request();
        let file = match self.handle_file(fh, true) {
            Ok(file) => file,
            Err(errno) => return reply.error(errno),
        };
        let (Ok(offset), Ok(length)) = (i64::try_from(offset), i64::try_from(length)) else {
            return reply.error(Errno::EFBIG);
        };
        // SAFETY: fallocate on a descriptor we own; no memory is passed.
        match unsafe { libc::fallocate(std::os::fd::AsRawFd::as_raw_fd(&file), mode, offset, length) } {
            0 => reply.ok(),
            _ => reply.error(Errno::from(std::io::Error::last_os_error())),
        }
    }

    /// Programs probe files with ioctls (Python's open asks TCGETS, `lsattr` asks for flags): a real file of a
    /// disk answers ENOTTY to what it does not support, and so does spacefs, without fuser's warning per call.
    fn ioctl(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _flags: fuser::IoctlFlags,
        _cmd: u32,
        _in_data: &[u8],
        _out_size: u32,
        reply: fuser::ReplyIoctl,
    ) {
        let _poll = self.device.request();
        reply.error(Errno::ENOTTY);
    }

    fn fsync(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, datasync: bool, reply: ReplyEmpty) {
        let _poll = self.device.request();
        let file = match self.handle_file(fh, false) {
            Ok(file) => file,
            Err(errno) => return reply.error(errno),
        };
        match if datasync { file.sync_data() } else { file.sync_all() } {
            Ok(()) => reply.ok(),
            Err(err) => reply.error(Errno::from(err)),
        }
    }

    /// No flush: answering ENOSYS once makes the kernel stop sending it, so close(2) costs no round trip. What a
    /// file became is recorded at release, once its last descriptor is closed (queued to the writer either way;
    /// reads through the mount see the queue, see `fs::pending`). (Answered here rather than by fuser's default,
    /// which logs a warning that something is missing.)
    fn flush(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _lock_owner: LockOwner, reply: ReplyEmpty) {
        let _poll = self.device.request();
        reply.error(Errno::ENOSYS);
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let _poll = self.device.request();
        match self.core.opendir(ino.0) {
            // Without KEEP_CACHE the kernel drops the listing it cached and asks again.
            Ok((fh, true)) => reply.opened(FileHandle(fh), FopenFlags::FOPEN_CACHE_DIR | FopenFlags::FOPEN_KEEP_CACHE),
            Ok((fh, false)) => reply.opened(FileHandle(fh), FopenFlags::FOPEN_CACHE_DIR),
            Err(err) => reply.error(errno(&err)),
        }
    }

    fn releasedir(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, _flags: OpenFlags, reply: ReplyEmpty) {
        let _poll = self.device.request();
        self.core.releasedir(fh.0);
        reply.ok();
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let _poll = self.device.request();
        match self.core.readdir(ino.0, fh.0, offset, false, &mut Plain(&mut reply)) {
            Ok(()) => reply.ok(),
            Err(err) => reply.error(errno(&err)),
        }
    }

    fn readdirplus(&self, _req: &Request, ino: INodeNo, fh: FileHandle, offset: u64, mut reply: ReplyDirectoryPlus) {
        let _poll = self.device.request();
        match self.core.readdir(ino.0, fh.0, offset, true, &mut Plus(&mut reply)) {
            Ok(()) => reply.ok(),
            Err(err) => return reply.error(errno(&err)),
        }
        // The reply is on its way; prepare the next page while the kernel takes this one in.
        self.core.prefetch(fh.0);
    }

    fn statfs(&self, _req: &Request, ino: INodeNo, reply: ReplyStatfs) {
        let _poll = self.device.request();
        match self.core.statfs(ino.0) {
            Ok(s) => reply.statfs(s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.bsize, s.namelen, s.frsize),
            Err(err) => reply.error(errno(&err)),
        }
    }

    fn lseek(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, offset: i64, whence: i32, reply: ReplyLseek) {
        let _poll = self.device.request();
        match self.core.lseek(fh.0, offset, whence) {
            Ok(at) => reply.offset(at),
            Err(err) => reply.error(errno(&err)),
        }
    }

    fn copy_file_range(
        &self,
        _req: &Request,
        _ino_in: INodeNo,
        fh_in: FileHandle,
        offset_in: u64,
        _ino_out: INodeNo,
        fh_out: FileHandle,
        offset_out: u64,
        len: u64,
        _flags: CopyFileRangeFlags,
        reply: ReplyWrite,
    ) {
        let _poll = self.device.request();
        match self.core.copy_file_range((fh_in.0, offset_in), (fh_out.0, offset_out), len) {
            Ok(copied) => reply.written(copied),
            Err(err) => reply.error(errno(&err)),
        }
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let _poll = self.device.request();
        let result = self.core.getxattr(ino.0, name);
        match result {
            Ok(value) => reply_xattr(reply, size, &value),
            Err(err) => reply.error(errno(&err)),
        }
    }

    fn listxattr(&self, req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        let _poll = self.device.request();
        let result = self.core.listxattr(ino.0, req.uid() == 0);
        match result {
            Ok(names) => reply_xattr(reply, size, &names),
            Err(err) => reply.error(errno(&err)),
        }
    }

    fn setxattr(
        &self,
        req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        let _poll = self.device.request();
        let mut result = self.core.setxattr(ino.0, name, value, flags);
        if result.is_ok() && name == "system.posix_acl_access" && req.uid() != 0 {
            result = self.core.acl_set_by(ino.0, set_id_clearer(req));
        }
        match result {
            Ok(()) => reply.ok(),
            Err(err) => reply.error(errno(&err)),
        }
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let _poll = self.device.request();
        match self.core.removexattr(ino.0, name) {
            Ok(()) => reply.ok(),
            Err(err) => reply.error(errno(&err)),
        }
    }

    fn setattr(
        &self,
        req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<fuser::TimeOrNow>,
        mtime: Option<fuser::TimeOrNow>,
        _ctime: Option<std::time::SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<std::time::SystemTime>,
        _chgtime: Option<std::time::SystemTime>,
        _bkuptime: Option<std::time::SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let _poll = self.device.request();
        let time = |t: Option<fuser::TimeOrNow>| {
            t.map(|t| match t {
                fuser::TimeOrNow::Now => SetTime::Now,
                fuser::TimeOrNow::SpecificTime(at) => SetTime::At(at),
            })
        };
        // Under KILLPRIV_V2 the kernel leaves clearing set-ID bits to us. It sends a truncate as a size alone (the
        // caller's want of CAP_FSETID, told by a flag fuser does not pass on, is taken from its uid), and the
        // clearing that a passthrough write or a chown(-1, -1) calls for as a setattr that changes nothing (no
        // other call sends one: utimensat with both times omitted returns before reaching the file system).
        // File capabilities are cleared by the real file system, on the write or truncate made on the real file.
        let nothing =
            [mode, uid, gid].iter().all(Option::is_none) && size.is_none() && atime.is_none() && mtime.is_none();
        let clears = self.killpriv && (nothing || size.is_some() && req.uid() != 0);
        let change = AttrChange {
            mode,
            uid,
            gid,
            size,
            atime: time(atime),
            mtime: time(mtime),
            clear_set_id: clears.then(|| set_id_clearer(req)),
        };
        match self.core.setattr(ino.0, &change, fh.map(|fh| fh.0)) {
            Ok(attr) => reply.attr(ttl(&attr), &file_attr(&attr)),
            Err(err) => reply.error(errno(&err)),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let _poll = self.device.request();
        match self.core.mknod(parent.0, name, mode, rdev, caller(req)) {
            Ok(attr) => reply.entry(ttl(&attr), &file_attr(&attr), Generation(0)),
            Err(err) => reply.error(errno(&err)),
        }
    }

    fn mkdir(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, _umask: u32, reply: ReplyEntry) {
        let _poll = self.device.request();
        match self.core.mkdir(parent.0, name, mode, caller(req)) {
            Ok(attr) => reply.entry(ttl(&attr), &file_attr(&attr), Generation(0)),
            Err(err) => reply.error(errno(&err)),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let _poll = self.device.request();
        match self.core.unlink(parent.0, name) {
            Ok(()) => reply.ok(),
            Err(err) => reply.error(errno(&err)),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let _poll = self.device.request();
        match self.core.rmdir(parent.0, name) {
            Ok(()) => reply.ok(),
            Err(err) => reply.error(errno(&err)),
        }
    }

    fn symlink(&self, req: &Request, parent: INodeNo, link_name: &OsStr, target: &std::path::Path, reply: ReplyEntry) {
        let _poll = self.device.request();
        match self.core.symlink(parent.0, link_name, target, caller(req)) {
            // In a view the answer is a stand-in: the kernel must not keep it beyond the next look.
            Ok(attr) if crate::inode::is_stand_in(attr.ino) => {
                reply.entry(&Duration::ZERO, &file_attr(&attr), Generation(0))
            }
            Ok(attr) => reply.entry(ttl(&attr), &file_attr(&attr), Generation(0)),
            Err(err) => reply.error(errno(&err)),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: fuser::RenameFlags,
        reply: ReplyEmpty,
    ) {
        let _poll = self.device.request();
        match self.core.rename(parent.0, name, newparent.0, newname, flags.bits()) {
            Ok(()) => reply.ok(),
            Err(err) => reply.error(errno(&err)),
        }
    }

    fn link(&self, _req: &Request, ino: INodeNo, newparent: INodeNo, newname: &OsStr, reply: ReplyEntry) {
        let _poll = self.device.request();
        match self.core.link(ino.0, newparent.0, newname) {
            Ok(attr) => reply.entry(ttl(&attr), &file_attr(&attr), Generation(0)),
            Err(err) => reply.error(errno(&err)),
        }
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        flags: i32,
        reply: fuser::ReplyCreate,
    ) {
        let _poll = self.device.request();
        let created = self.core.create(parent.0, name, (mode, flags), caller(req), |f| reply.open_backing(f));
        match created {
            Ok((attr, fh, Some(id))) => {
                let shown = file_attr(&attr);
                reply.created_passthrough(&TTL, &shown, Generation(0), FileHandle(fh), FopenFlags::empty(), &id);
            }
            Ok((attr, fh, None)) => {
                reply.created(&TTL, &file_attr(&attr), Generation(0), FileHandle(fh), FopenFlags::empty());
            }
            Err(err) => reply.error(errno(&err)),
        }
    }
}

/// The kernel's caches, as the core's invalidation policy tells them what to drop.
pub struct KernelCaches(pub fuser::Notifier);

impl crate::fs::invalidate::Kernel for KernelCaches {
    fn forget_entry(&self, parent: u64, name: &[u8]) {
        use std::os::unix::ffi::OsStrExt;
        let _ = self.0.inval_entry(INodeNo(parent), OsStr::from_bytes(name));
    }

    fn forget_inode(&self, ino: u64) {
        let _ = self.0.inval_inode(INodeNo(ino), 0, 0);
    }
}
