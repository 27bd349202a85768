//! POSIX operations on real files in `locations/`: made on the disk with the caller's modes and ownership, then
//! recorded in the library (queued when no user metadata depends on the record, see `pending`).

use super::SpaceFs;
use super::{Attr, pending};
use crate::error::{Error, Result};
use crate::library::write::ScanItem;
use crate::library::{EntryId, EntryInfo, EntryKind, Location};
use crate::longpath;
use crate::view::Node;
use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

impl SpaceFs {
    /// mkdir(2) in a real folder of `locations/`.
    pub(super) fn real_mkdir(
        &self,
        (location, dir): (Arc<Location>, Vec<u8>),
        name: &OsStr,
        mode: u32,
        caller: Caller,
    ) -> Result<Attr> {
        let path = crate::library::real_path(&location.path, &dir, name.as_bytes());
        no_umask();
        longpath::with(&path, |p| std::fs::DirBuilder::new().mode(mode & 0o7777).create(p))
            .map_err(|e| Error::io(&path, e))?;
        self.created(&location, &dir, name.as_bytes(), caller, libc::S_IFDIR | mode, None).map(|(_, attr)| attr)
    }

    /// rename(2) between two real folders of `locations/` (EXDEV across locations): made on disk, then recorded
    /// (queued when neither side carries user metadata).
    pub(super) fn real_rename(
        &self,
        (loc_a, dir_a): (Arc<Location>, Vec<u8>),
        name: &OsStr,
        (loc_b, dir_b): (Arc<Location>, Vec<u8>),
        new_name: &OsStr,
        flags: u32,
    ) -> Result<()> {
        if loc_a.id != loc_b.id {
            return Err(Error::Io {
                context: "rename across locations".into(),
                source: std::io::Error::from_raw_os_error(libc::EXDEV),
            });
        }
        let old = crate::library::real_path(&loc_a.path, &dir_a, name.as_bytes());
        let new = crate::library::real_path(&loc_b.path, &dir_b, new_name.as_bytes());
        if flags & !(libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE) != 0 {
            return Err(Error::Invalid("only RENAME_NOREPLACE and RENAME_EXCHANGE are supported".into()));
        }
        let (old_name, new_name) = (name.as_bytes(), new_name.as_bytes());
        let source = self.child_at(loc_a.id, &dir_a, old_name)?;
        let target = self.child_at(loc_b.id, &dir_b, new_name)?;
        let exchange = flags & libc::RENAME_EXCHANGE != 0;
        // Asked before the rename, after which `new` is the moved file.
        let replaced_linked = !exchange && target.is_some() && has_other_links(&new);
        let carries = |id: EntryId| self.with_reader(|r| r.has_metadata(id));
        let queued = match source {
            Some((id, kind)) => {
                !exchange && kind != EntryKind::Dir && !carries(id)? && !matches!(target, Some((t, _)) if carries(t)?)
            }
            None => false,
        };
        if !queued {
            // Recorded before the call returns, on a library holding everything queued before (a folder's
            // children created a moment ago move with it).
            self.settle();
        }
        longpath::with2(&old, &new, |a, b| rename_at(a, b, flags)).map_err(|e| Error::io(&old, e))?;
        crate::library::write::disk_changed();
        if replaced_linked && let Some((replaced, kind)) = target {
            self.keep_links(replaced, kind)?;
        }
        let writer = self.library.writer();
        if exchange {
            self.cache.clear();
            // A side not indexed yet is indexed where it is now.
            return match (source, target) {
                (Some((a, _)), Some((b, _))) => writer.exchange_entries(a, b),
                (Some((a, _)), None) => {
                    writer.rename_entry(a, dir_b.clone(), new_name.to_vec())?;
                    crate::index::refresh_entry(&self.library, &loc_a, &dir_a, old_name)
                }
                (None, Some((b, _))) => {
                    writer.rename_entry(b, dir_a.clone(), old_name.to_vec())?;
                    crate::index::refresh_entry(&self.library, &loc_b, &dir_b, new_name)
                }
                (None, None) => {
                    crate::index::refresh_entry(&self.library, &loc_a, &dir_a, old_name)?;
                    crate::index::refresh_entry(&self.library, &loc_b, &dir_b, new_name)
                }
            };
        }
        match source {
            // Nothing a user gave depends on this record (no metadata on either side, not a folder, whose
            // descendants may carry some): queued.
            Some((id, _)) if queued => self.moved_later(id, (&loc_a, &dir_a, old_name), (&loc_b, &dir_b, new_name)),
            // Committed before the call returns: the entry's tags go with it (or stay on the name it replaced,
            // for an editor's save), and whoever asks next must find them there.
            Some((id, kind)) => {
                writer.rename_entry(id, dir_b.clone(), new_name.to_vec())?;
                // A folder's descendants moved too; a file is the only entry whose path changed.
                if kind == EntryKind::Dir {
                    self.cache.clear()
                } else {
                    self.cache.remove(id)
                }
                Ok(())
            }
            // Not indexed yet: index it where it is now.
            None => crate::index::refresh_entry(&self.library, &loc_b, &dir_b, new_name),
        }
    }

    /// link(2) into a real folder of `locations/`: a hard link on disk, recorded; the new name shows the inode the
    /// kernel knows the file by, as on a disk.
    pub(super) fn real_link(
        &self,
        ino: u64,
        node: Node,
        (location, dir): (Arc<Location>, Vec<u8>),
        new_name: &OsStr,
    ) -> Result<Attr> {
        let source = self.with_reader(|r| self.real_path_of(r, node))?.ok_or_else(|| self.refuse_write(node))?;
        let path = crate::library::real_path(&location.path, &dir, new_name.as_bytes());
        longpath::with2(&source, &path, |a, b| std::fs::hard_link(a, b)).map_err(|e| Error::io(&path, e))?;
        let source_entry = match node {
            Node::Entry(id) => Some(self.entry_of(node).unwrap_or(id)),
            _ => None,
        };
        let (_, mut attr) = self.created(&location, &dir, new_name.as_bytes(), Caller::KEEP, 0, source_entry)?;
        // The new name is the file the kernel knows by `ino`, as on a disk.
        if source_entry.is_some() && crate::inode::is_entry(ino) {
            attr.ino = ino;
        }
        Ok(attr)
    }

    /// Records in the library what a real entry is now, after a change made through the mount. Queued: what it
    /// records (size, times, content id) is no user's metadata, and reads through the mount see the queue.
    pub fn record_change(&self, ino: u64) -> Result<()> {
        self.record(ino)
    }

    pub(super) fn record(&self, ino: u64) -> Result<()> {
        let _change = self.changing();
        let Some(id) = self.node(ino).ok().and_then(|n| self.entry_of(n)) else { return Ok(()) };
        // An entry removed meanwhile (the file deleted before its release came) has nothing left to record.
        let found = self.with_reader(|r| {
            let info = match self.entry_info(r, id) {
                Ok(info) if info.id == id => info,
                _ => return Ok(None),
            };
            Ok(self.location(r, info.location)?.map(|location| (info, location)))
        })?;
        let Some((info, location)) = found else { return Ok(()) };
        // (An entry a pending change made or moved is not in the library as it is yet.)
        if self.pending.place(id).is_none() && self.recorded_already(&location, &info)? {
            return Ok(());
        }
        let Some(mut item) = crate::index::entry_now(&location, &info.relative_path, &info.name)? else {
            return Ok(());
        };
        if let ScanItem::Upsert(entry) = &mut item {
            entry.id = Some(id);
        }
        self.queue(location.id, vec![item], Vec::new())
    }

    /// Whether the library holds what the file is now (same size, times and inode, and its content id, or an empty
    /// file, which has none to read): a file closed without a change is not read and recorded again.
    pub(super) fn recorded_already(&self, location: &Location, info: &EntryInfo) -> Result<bool> {
        let Some(stamp) = self.with_reader(|r| r.child_stamp(location.id, &info.relative_path, &info.name))? else {
            return Ok(false);
        };
        let path = info.real_path();
        let Ok(meta) = longpath::with(&path, |p| std::fs::symlink_metadata(p)) else { return Ok(false) };
        Ok(stamp.kind == EntryKind::from_file_type(meta.file_type())
            && stamp.size == meta.size() as i64
            && stamp.modified_at == meta.mtime() * 1_000_000_000 + meta.mtime_nsec()
            && stamp.changed_at == meta.ctime() * 1_000_000_000 + meta.ctime_nsec()
            && stamp.inode == meta.ino() as i64
            && (stamp.has_content || meta.size() == 0 || location.index_mode == crate::library::IndexMode::Metadata))
    }

    /// chmod, chown, truncate and utimens of a real file or folder (not through duplicates/ or a folder seen
    /// through a view). Permission checks are the kernel's (default_permissions) against the real modes. With
    /// `open_file` (a descriptor of the file open through the mount), the change is made on it: that is how a file
    /// deleted while open is still changed, as on a disk.
    pub fn setattr(&self, ino: u64, change: &AttrChange, fh: Option<u64>) -> Result<Attr> {
        let held = fh.and_then(|fh| self.handle_file(fh, false).ok());
        self.or_open(
            ino,
            || self.settled(|| self.setattr_now(ino, change, held.as_ref())),
            // Deleted while open (fchmod, ftruncate, futimens): the change is made on the open file, as on a disk.
            |file| self.setattr_now(ino, change, Some(file)),
        )
    }

    pub(super) fn setattr_now(&self, ino: u64, change: &AttrChange, open_file: Option<&File>) -> Result<Attr> {
        let _change = self.changing();
        let node = self.node(ino)?;
        self.check_writable(node)?;
        if !matches!(node, Node::Entry(_) | Node::ViewFile(_)) {
            return Err(self.refuse_write(node));
        }
        if let Some(file) = open_file {
            let fd_path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
            set_attr_of_open(file, change).map_err(|e| Error::io(&fd_path, e))?;
            let _ = self.record_change(ino);
            return Ok(self.real_attr(ino, &file.metadata().map_err(|e| Error::io(&fd_path, e))?));
        }
        let path = self.with_reader(|r| self.real_path_of(r, node))?.ok_or_else(|| Error::NotFound(String::new()))?;
        let io = |e| Error::io(&path, e);
        longpath::with(&path, |p| {
            if let Some(size) = change.size {
                File::options().write(true).custom_flags(libc::O_NOFOLLOW).open(p)?.set_len(size)?;
            }
            if let Some(mode) = change.mode {
                std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(mode & 0o7777))?;
            }
            if change.uid.is_some() || change.gid.is_some() {
                std::os::unix::fs::lchown(p, change.uid, change.gid)?;
            }
            if let Some(who) = change.clear_set_id {
                let meta = std::fs::symlink_metadata(p)?;
                if let Some(mode) = who.cleared(meta.mode(), meta.gid()) {
                    std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(mode))?;
                }
            }
            Ok(())
        })
        .map_err(io)?;
        let times = change.atime.is_some() || change.mtime.is_some();
        if times {
            longpath::with(&path, |p| set_times(p, change.atime, change.mtime)).map_err(io)?;
        }
        self.record_change(ino)?;
        if times && longpath::with(&path, |p| std::fs::symlink_metadata(p)).is_ok_and(|m| m.file_type().is_symlink()) {
            // Recording read the link's target, and reading a link updates its access time: set the times again.
            longpath::with(&path, |p| set_times(p, change.atime, change.mtime)).map_err(io)?;
        }
        self.getattr(ino, None)
    }

    /// The attributes of a file open through the mount, from its descriptor (its name may be gone).
    pub(super) fn getattr_open(&self, ino: u64, file: &File) -> Result<Attr> {
        let meta = file.metadata().map_err(|e| Error::io(std::path::Path::new("an open file"), e))?;
        Ok(self.real_attr(ino, &meta))
    }

    /// The real folder behind a `locations/` node: its location and its path inside it.
    pub(super) fn real_folder(&self, node: Node) -> Result<Option<(Arc<Location>, Vec<u8>)>> {
        let (location, path) = match node {
            Node::Location(id) => (id, Vec::new()),
            Node::Entry(id) => {
                let info = self.with_reader(|r| self.entry_info(r, id))?;
                if info.kind != EntryKind::Dir {
                    return Ok(None);
                }
                (info.location, info.own_path())
            }
            _ => return Ok(None),
        };
        let location =
            self.with_reader(|r| self.location(r, location))?.ok_or_else(|| Error::NotFound(String::new()))?;
        Ok(Some((location, path)))
    }

    /// After something was created on disk: make it the caller's, index it, and return its attributes. Its content
    /// id follows when it is closed (a file being created has no content yet). The record is queued under an id
    /// reserved for it, which is the inode number the kernel gets at once: a new file carries no user metadata, so
    /// nothing waits for the commit (see `pending`).
    pub(super) fn created(
        &self,
        location: &Location,
        dir: &[u8],
        name: &[u8],
        caller: Caller,
        mode: u32,
        linked_from: Option<EntryId>,
    ) -> Result<(EntryId, Attr)> {
        let path = crate::library::real_path(&location.path, dir, name);
        longpath::with(&path, |p| give_to_caller(p, caller, mode)).map_err(|e| Error::io(&path, e))?;
        let meta = longpath::with(&path, |p| std::fs::symlink_metadata(p)).map_err(|e| Error::io(&path, e))?;
        let mut entry = longpath::with(&path, |p| Ok(crate::index::scanned(dir, name.to_vec(), p, &meta)))
            .map_err(|e| Error::io(&path, e))?;
        let id = self.pending.take_id(self.library.writer())?;
        entry.id = Some(id);
        let info = self.info_at(id, location, dir, name, entry.kind);
        let mut effects = vec![pending::Effect::Placed(info)];
        effects.extend(linked_from.map(|source| pending::Effect::Linked(source, id)));
        self.queue(location.id, vec![ScanItem::Upsert(Box::new(entry))], effects)?;
        let ino = self.ino_of(Node::Entry(id));
        let mut attr = self.real_attr(ino, &meta);
        // (A name linked through the mount shows its source's number: see `link`.)
        if meta.nlink() > 1 && linked_from.is_none() {
            attr.ino =
                self.with_reader(|r| Ok(self.shown_ino(r, ino, attr.kind, meta.nlink(), meta.dev(), meta.ino())))?;
        }
        Ok((id, attr))
    }

    /// Where entry `id` is, as a pending change puts it.
    pub(super) fn info_at(
        &self,
        id: EntryId,
        location: &Location,
        dir: &[u8],
        name: &[u8],
        kind: EntryKind,
    ) -> Arc<EntryInfo> {
        Arc::new(EntryInfo {
            id,
            location: location.id,
            root: Arc::from(location.path.as_path()),
            relative_path: dir.to_vec(),
            name: name.to_vec(),
            kind,
        })
    }

    /// A file without user metadata renamed on disk through the mount: its entry's move is queued (the entry keeps
    /// its id, so its inode number, and its content id).
    pub(super) fn moved_later(
        &self,
        id: EntryId,
        from: (&Location, &[u8], &[u8]),
        to: (&Location, &[u8], &[u8]),
    ) -> Result<()> {
        let (location, dir, name) = to;
        self.cache.remove(id);
        let vacated = pending::Effect::Vacated((from.0.id, from.1.to_vec(), from.2.to_vec()));
        let Some(ScanItem::Upsert(mut entry)) = crate::index::entry_on_disk(location, dir, name, false)? else {
            // Gone from its new name already: whatever removed it records that.
            return self.queue(location.id, Vec::new(), vec![vacated]);
        };
        entry.id = Some(id);
        entry.content = crate::library::write::ContentUpdate::Keep;
        let placed = pending::Effect::Placed(self.info_at(id, location, dir, name, entry.kind));
        self.queue(location.id, vec![ScanItem::Upsert(entry)], vec![vacated, placed])
    }

    /// In `locations/`: removes `name` from the real folder with `remove` (remove_file or remove_dir), then records
    /// it. `None` when `node` is not a real folder.
    pub(super) fn remove_real(
        &self,
        node: Node,
        name: &OsStr,
        remove: fn(&std::path::Path) -> std::io::Result<()>,
    ) -> Result<Option<()>> {
        let Some((location, dir)) = self.real_folder(node)? else { return Ok(None) };
        let path = crate::library::real_path(&location.path, &dir, name.as_bytes());
        let linked = has_other_links(&path);
        longpath::with(&path, remove).map_err(|e| Error::io(&path, e))?;
        crate::library::write::disk_changed();
        self.vanished(&location, &dir, name.as_bytes(), linked).map(Some)
    }

    /// Before entry `id` leaves the library (unlinked, or renamed over): if its file has other names, the kernel may
    /// know them all by this entry's inode number (see `shown_ino`), which from now on leads to one of them.
    pub(super) fn keep_links(&self, id: EntryId, kind: EntryKind) -> Result<()> {
        if kind == EntryKind::Dir {
            return Ok(());
        }
        // A name linked through the mount a moment ago may not be committed yet (its file may even be gone
        // before its own record is, as for a temporary file linked then unlinked at once).
        let other = match self.with_reader(|r| r.other_link(id))? {
            Some(other) => Some(other),
            None => self.pending.linked_to(id),
        };
        if let Some(other) = other {
            self.inodes.alias_link(id, other);
        }
        Ok(())
    }

    /// Records that `name` in a real folder is gone from disk (its metadata is kept as an orphan).
    /// `linked`: the file had other names (hard links) before it went.
    pub(super) fn vanished(&self, location: &Location, dir: &[u8], name: &[u8], linked: bool) -> Result<()> {
        let Some((id, kind)) = self.child_at(location.id, dir, name)? else { return Ok(()) };
        if linked {
            self.keep_links(id, kind)?;
        }
        let dir_path = (kind == EntryKind::Dir).then(|| crate::library::child_path(dir, name));
        let vacated = pending::Effect::Vacated((location.id, dir.to_vec(), name.to_vec()));
        self.queue(location.id, vec![ScanItem::Remove { id, dir_path }], vec![vacated])?;
        // Below a removed folder, cached paths are gone too.
        if kind == EntryKind::Dir {
            self.cache.clear()
        } else {
            self.cache.remove(id)
        }
        Ok(())
    }

    /// create(2) in `locations/`: a new real file, owned by the caller, indexed, and open as a new handle (see
    /// `handles` for `open_backing`).
    pub fn create<B: std::any::Any + Send + Sync>(
        &self,
        parent: u64,
        name: &OsStr,
        (mode, flags): (u32, i32),
        caller: Caller,
        open_backing: impl FnOnce(&File) -> std::io::Result<B>,
    ) -> Result<(Attr, u64, Option<Arc<B>>)> {
        let _change = self.changing();
        let node = self.node(parent)?;
        self.check_writable(node)?;
        let Some((location, dir)) = self.real_folder(node)? else { return Err(self.refuse_write(node)) };
        let path = crate::library::real_path(&location.path, &dir, name.as_bytes());
        let access = flags & libc::O_ACCMODE;
        let mut options = File::options();
        options.read(access != libc::O_WRONLY).write(true).mode(mode & 0o7777);
        if flags & libc::O_EXCL != 0 {
            options.create_new(true)
        } else {
            options.create(true)
        };
        let passed = libc::O_APPEND | libc::O_TRUNC | libc::O_SYNC | libc::O_DSYNC | libc::O_NOATIME | libc::O_DIRECT;
        no_umask();
        let file = longpath::with(&path, |p| options.custom_flags(flags & passed | libc::O_NOFOLLOW).open(p))
            .map_err(|e| Error::io(&path, e))?;
        let (_, attr) = self.created(&location, &dir, name.as_bytes(), caller, mode, None)?;
        let (fh, backing) = self.keep_open(attr.ino, file, true, open_backing);
        Ok((attr, fh, backing))
    }

    /// symlink(2) in `locations/`.
    pub(super) fn location_symlink(
        &self,
        node: Node,
        name: &[u8],
        target: &std::path::Path,
        caller: Caller,
    ) -> Result<Option<Attr>> {
        let Some((location, dir)) = self.real_folder(node)? else { return Ok(None) };
        let path = crate::library::real_path(&location.path, &dir, name);
        longpath::with(&path, |p| std::os::unix::fs::symlink(target, p)).map_err(|e| Error::io(&path, e))?;
        self.created(&location, &dir, name, caller, 0o777, None).map(|(_, attr)| Some(attr))
    }

    /// mknod(2) in `locations/`: a FIFO, socket, device node or empty regular file made in the real folder (with the
    /// real folder's rules: device nodes need root). Views hold entries, not special files: EPERM there.
    pub fn mknod(&self, parent: u64, name: &OsStr, mode: u32, rdev: u32, caller: Caller) -> Result<Attr> {
        let _change = self.changing();
        let node = self.node(parent)?;
        self.check_writable(node)?;
        let Some((location, dir)) = self.real_folder(node)? else { return Err(self.refuse_write(node)) };
        let path = crate::library::real_path(&location.path, &dir, name.as_bytes());
        no_umask();
        longpath::with(&path, |p| {
            let c_path = std::ffi::CString::new(p.as_os_str().as_bytes())
                .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
            // SAFETY: a valid NUL-terminated path; mknod reads nothing else.
            if unsafe { libc::mknod(c_path.as_ptr(), mode, libc::dev_t::from(rdev)) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
        .map_err(|e| Error::io(&path, e))?;
        self.created(&location, &dir, name.as_bytes(), caller, mode, None).map(|(_, attr)| attr)
    }
}

/// Who asked for an operation, so that what they create through the mount is theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
}

impl Caller {
    /// Leave ownership as the file system made it (hard links share their file's owner).
    pub const KEEP: Caller = Caller { uid: u32::MAX, gid: u32::MAX };
}

/// The daemon usually runs as root: what it creates for a caller is given to the caller (the group stays the
/// folder's when the folder is setgid, as the kernel would do).
/// `mode` is the one asked for: chown clears the set-user-ID and set-group-ID bits of a file, which the caller
/// asked for (the kernel has already taken off what the caller may not have), so they are put back.
pub(super) fn give_to_caller(path: &std::path::Path, caller: Caller, mode: u32) -> std::io::Result<()> {
    // SAFETY: geteuid cannot fail.
    if caller == Caller::KEEP || unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    let file_type = mode & libc::S_IFMT;
    let set_id =
        mode & (libc::S_ISUID | libc::S_ISGID) != 0 && file_type != libc::S_IFDIR && file_type != libc::S_IFLNK;
    // Made by root for root: it is the caller's already (a set-gid folder's group included).
    // SAFETY: getegid cannot fail.
    if caller.uid == 0 && caller.gid == unsafe { libc::getegid() } && !set_id {
        return Ok(());
    }
    let parent = path.parent().map(|p| if p.as_os_str().is_empty() { std::path::Path::new(".") } else { p });
    let setgid_parent = parent.and_then(|p| std::fs::metadata(p).ok()).is_some_and(|m| m.mode() & libc::S_ISGID != 0);
    let gid = if setgid_parent { None } else { Some(caller.gid) };
    // (The mode it got: a folder's default ACL may have taken bits off the one asked for.)
    let made = if set_id { Some(std::fs::symlink_metadata(path)?.mode()) } else { None };
    std::os::unix::fs::lchown(path, Some(caller.uid), gid)?;
    if let Some(made) = made {
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(made & 0o7777))?;
    }
    Ok(())
}

/// Whether `path` is a file (not a folder) with other names: its removal must leave the kernel a way to them.
pub(super) fn has_other_links(path: &std::path::Path) -> bool {
    longpath::with(path, |p| std::fs::symlink_metadata(p)).is_ok_and(|m| !m.is_dir() && m.nlink() > 1)
}

/// Makes the calling thread's umask 0, once per thread: the kernel has applied the caller's umask to the modes it
/// sends, and the daemon's own must not be applied a second time. The thread first gets file system attributes of
/// its own (`unshare(CLONE_FS)`), so the rest of the daemon keeps its umask for the files it makes for itself.
pub(super) fn no_umask() {
    thread_local! {
        static DONE: () = if longpath::own_fs_attributes() {
            // SAFETY: umask changes only this thread's file system attributes (unshared).
            unsafe { libc::umask(0) };
        };
    }
    DONE.with(|_| ());
}

pub(super) fn rename_at(old: &std::path::Path, new: &std::path::Path, flags: u32) -> std::io::Result<()> {
    let c = |p: &std::path::Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
    };
    let (old, new) = (c(old)?, c(new)?);
    // SAFETY: two valid NUL-terminated paths.
    let rc = unsafe { libc::renameat2(libc::AT_FDCWD, old.as_ptr(), libc::AT_FDCWD, new.as_ptr(), flags) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// What a setattr asks to change.
#[derive(Debug, Clone, Copy, Default)]
pub struct AttrChange {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<SetTime>,
    pub mtime: Option<SetTime>,
    /// Clear the set-user-ID and set-group-ID bits as the disk does when this caller writes to, truncates or
    /// chowns the file (made after the rest of the change).
    pub clear_set_id: Option<SetIdClearer>,
}

/// Who wrote to, truncated or chowned a file, for clearing its set-ID bits as the kernel clears them on a disk
/// (`setattr_should_drop_suidgid`): set-user-ID always; set-group-ID when the file is group-executable, or when the
/// caller is neither root nor in the file's group (`pid` tells its supplementary groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetIdClearer {
    pub uid: u32,
    pub gid: u32,
    pub pid: u32,
}

impl SetIdClearer {
    /// The mode `mode` becomes (of a file owned by group `file_gid`), or None when nothing changes.
    pub fn cleared(&self, mode: u32, file_gid: u32) -> Option<u32> {
        if mode & libc::S_IFMT != libc::S_IFREG {
            return None;
        }
        let mut kept = mode & !libc::S_ISUID;
        let group_exec = mode & libc::S_IXGRP != 0;
        if mode & libc::S_ISGID != 0 && (group_exec || !self.in_group(file_gid)) {
            kept &= !libc::S_ISGID;
        }
        (kept != mode).then_some(kept & 0o7777)
    }

    /// The mode `mode` becomes when this caller sets an access ACL on a file of group `file_gid`: set-group-ID goes
    /// unless the caller is in that group (or root), as the kernel's `posix_acl_update_mode` does on a disk.
    pub fn cleared_by_acl(&self, mode: u32, file_gid: u32) -> Option<u32> {
        (mode & libc::S_ISGID != 0 && !self.in_group(file_gid)).then_some(mode & !libc::S_ISGID & 0o7777)
    }

    fn in_group(&self, gid: u32) -> bool {
        self.uid == 0 || self.gid == gid || supplementary_groups(self.pid).contains(&gid)
    }
}

/// A process's supplementary groups (none when it is gone).
fn supplementary_groups(pid: u32) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .map(|groups| groups.split_whitespace().filter_map(|g| g.parse().ok()).collect())
        .unwrap_or_default()
}

/// Clears the set-ID bits of an open file as `who`'s write, truncate or chown does on a disk.
pub fn clear_set_id_of_open(file: &File, who: SetIdClearer) -> std::io::Result<()> {
    let meta = file.metadata()?;
    if let Some(mode) = who.cleared(meta.mode(), meta.gid()) {
        // SAFETY: fchmod on a descriptor we own.
        if unsafe { libc::fchmod(file.as_raw_fd(), mode as libc::mode_t) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
pub enum SetTime {
    Now,
    At(SystemTime),
}

/// setattr on an open descriptor: ftruncate (through a writable descriptor of the same file when this one is
/// read-only), fchmod, fchown, futimens.
pub(super) fn set_attr_of_open(file: &File, change: &AttrChange) -> std::io::Result<()> {
    let fd = file.as_raw_fd();
    let check = |rc: libc::c_int| if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) };
    if let Some(size) = change.size {
        // SAFETY: fcntl(F_GETFL) on a descriptor we own.
        let access = unsafe { libc::fcntl(fd, libc::F_GETFL) } & libc::O_ACCMODE;
        if access == libc::O_RDONLY {
            File::options().write(true).open(format!("/proc/self/fd/{fd}"))?.set_len(size)?;
        } else {
            file.set_len(size)?;
        }
    }
    if let Some(mode) = change.mode {
        // SAFETY: fchmod on a descriptor we own.
        check(unsafe { libc::fchmod(fd, (mode & 0o7777) as libc::mode_t) })?;
    }
    if change.uid.is_some() || change.gid.is_some() {
        let (uid, gid) = (change.uid.unwrap_or(u32::MAX), change.gid.unwrap_or(u32::MAX));
        // SAFETY: fchown on a descriptor we own; -1 leaves an id as it is.
        check(unsafe { libc::fchown(fd, uid, gid) })?;
    }
    if change.atime.is_some() || change.mtime.is_some() {
        let times = [timespec(change.atime), timespec(change.mtime)];
        // SAFETY: futimens on a descriptor we own, with two timespecs.
        check(unsafe { libc::futimens(fd, times.as_ptr()) })?;
    }
    if let Some(who) = change.clear_set_id {
        clear_set_id_of_open(file, who)?;
    }
    Ok(())
}

pub(super) fn timespec(t: Option<SetTime>) -> libc::timespec {
    match t {
        None => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_OMIT },
        Some(SetTime::Now) => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_NOW },
        Some(SetTime::At(at)) => {
            let d = at.duration_since(UNIX_EPOCH).unwrap_or_default();
            libc::timespec { tv_sec: d.as_secs() as libc::time_t, tv_nsec: d.subsec_nanos() as libc::c_long }
        }
    }
}

pub(super) fn set_times(path: &std::path::Path, atime: Option<SetTime>, mtime: Option<SetTime>) -> std::io::Result<()> {
    let times = [timespec(atime), timespec(mtime)];
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: a valid NUL-terminated path and two timespecs, as utimensat expects.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// What statfs(2) tells of the file system a node is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsStats {
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub bsize: u32,
    pub namelen: u32,
    pub frsize: u32,
}

impl FsStats {
    /// A folder of the library's own (the root, `tags/`, a tag): it holds no blocks, as `/proc` holds none, so `df`
    /// leaves the mount out of its table.
    const VIRTUAL: FsStats =
        FsStats { blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, bsize: 4096, namelen: 255, frsize: 4096 };

    fn of(file: &File) -> std::io::Result<FsStats> {
        let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: fstatvfs fills the struct on success; it is read only then.
        if unsafe { libc::fstatvfs(file.as_raw_fd(), st.as_mut_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: initialised by the successful call above.
        let st = unsafe { st.assume_init() };
        Ok(FsStats {
            blocks: st.f_blocks,
            bfree: st.f_bfree,
            bavail: st.f_bavail,
            files: st.f_files,
            ffree: st.f_ffree,
            bsize: st.f_bsize as u32,
            namelen: st.f_namemax as u32,
            frsize: st.f_frsize as u32,
        })
    }
}

impl SpaceFs {
    /// statfs(2): a real file or folder (in `locations/`, or shown in a view) answers for the file system it is on,
    /// so `df`, a file manager's free space and an installer's check see the disk; the library's own folders hold
    /// nothing.
    pub fn statfs(&self, ino: u64) -> Result<FsStats> {
        let path = match self.real_path(ino) {
            Ok(Some(path)) => path,
            // (A file of a device that is not reachable: nothing here to tell of.)
            Ok(None) | Err(_) => return Ok(FsStats::VIRTUAL),
        };
        // O_PATH without following: the file system of a symlink is where the link itself is.
        let open =
            |p: &std::path::Path| File::options().read(true).custom_flags(libc::O_PATH | libc::O_NOFOLLOW).open(p);
        let file = longpath::with(&path, open).map_err(|e| Error::io(&path, e))?;
        FsStats::of(&file).map_err(|e| Error::io(&path, e))
    }

    /// lseek(2) with SEEK_DATA or SEEK_HOLE (the kernel answers the other kinds itself) on an open real file:
    /// where its data and holes are on the disk, so `cp`, `tar` and `rsync` keep a sparse file sparse.
    pub fn lseek(&self, fh: u64, offset: i64, whence: i32) -> Result<i64> {
        let file = self.handle_file(fh, false)?;
        // SAFETY: lseek on a descriptor of our own (a duplicate: reads and writes here use explicit offsets).
        match unsafe { libc::lseek(file.as_raw_fd(), offset, whence) } {
            -1 => Err(Error::io_ctx("an open file", std::io::Error::last_os_error())),
            at => Ok(at),
        }
    }

    /// copy_file_range(2) between two open real files: done by the disk's file system (which may share the blocks
    /// rather than copy them), not through the mount a page at a time. Answers how much was copied.
    pub fn copy_file_range(
        &self,
        (fh_in, offset_in): (u64, u64),
        (fh_out, offset_out): (u64, u64),
        len: u64,
    ) -> Result<u32> {
        let source = self.handle_file(fh_in, false)?;
        let target = self.handle_file(fh_out, true)?;
        let invalid = || Error::io_ctx("an open file", std::io::Error::from_raw_os_error(libc::EINVAL));
        let mut from = i64::try_from(offset_in).map_err(|_| invalid())?;
        let mut to = i64::try_from(offset_out).map_err(|_| invalid())?;
        // (A reply says how much in 32 bits.)
        let len = len.min(u32::MAX as u64 & !0xfff) as usize;
        // SAFETY: both descriptors are ours; the offsets are valid pointers for the call's duration.
        match unsafe { libc::copy_file_range(source.as_raw_fd(), &mut from, target.as_raw_fd(), &mut to, len, 0) } {
            -1 => Err(Error::io_ctx("an open file", std::io::Error::last_os_error())),
            copied => Ok(copied as u32),
        }
    }

    /// After `who` set an access ACL on a real file: clears set-group-ID as the disk would have (the daemon set the
    /// ACL as root, whom the kernel lets keep it).
    pub fn acl_set_by(&self, ino: u64, who: SetIdClearer) -> Result<()> {
        let Some(path) = self.real_path(ino)? else { return Ok(()) };
        let meta = longpath::with(&path, |p| std::fs::symlink_metadata(p)).map_err(|e| Error::io(&path, e))?;
        if let Some(mode) = who.cleared_by_acl(meta.mode(), meta.gid())
            && !meta.file_type().is_symlink()
        {
            longpath::with(&path, |p| std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(mode)))
                .map_err(|e| Error::io(&path, e))?;
        }
        Ok(())
    }
}
