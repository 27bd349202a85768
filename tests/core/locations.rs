//! Changes made through `locations/`: made on the real files, with the disk's results and errors, and recorded in
//! the library, which ends equal to the disk.

use crate::{Core, errno, me, no_backing, read};
use spacefs::fs::AttrChange;
use spacefs::names::TagName;
use spacefs::view::NodeKind;
use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

const FILES: &[(&str, &str)] = &[("a.txt", "a"), ("d/c.txt", "c")];

#[test]
fn create_write_and_close_make_a_real_file_the_library_records() {
    let core = Core::new(FILES);
    let files = core.ino("locations/files");
    let (attr, fh, _) =
        core.fs.create(files, OsStr::new("new.txt"), (0o640, libc::O_WRONLY), me(), no_backing).unwrap();
    assert_eq!((attr.kind, attr.perm, attr.size), (NodeKind::File, 0o640, 0));
    core.fs.handle_file(fh, true).unwrap().write_all(b"hello").unwrap();
    core.fs.release(attr.ino, fh).unwrap();
    assert_eq!(read(&core.real("new.txt")), "hello");
    assert_eq!(std::fs::metadata(core.real("new.txt")).unwrap().permissions().mode() & 0o7777, 0o640);
    assert_eq!(core.attr("locations/files/new.txt").size, 5);
    assert!(core.entry("new.txt").is_some());
    let exclusive =
        core.fs.create(files, OsStr::new("new.txt"), (0o640, libc::O_WRONLY | libc::O_EXCL), me(), no_backing);
    assert_eq!(errno(exclusive), libc::EEXIST);
    core.assert_library_equals_disk();
}

#[test]
fn mkdir_rmdir_mknod_and_symlink_act_on_the_real_folder() {
    let core = Core::new(FILES);
    let files = core.ino("locations/files");
    let made = core.fs.mkdir(files, OsStr::new("sub"), 0o750, me()).unwrap();
    assert_eq!((made.kind, made.perm), (NodeKind::Dir, 0o750));
    assert!(core.real("sub").is_dir());
    assert_eq!(errno(core.fs.mkdir(files, OsStr::new("sub"), 0o750, me())), libc::EEXIST);

    let fifo = core.fs.mknod(core.ino("locations/files/sub"), OsStr::new("pipe"), libc::S_IFIFO | 0o600, 0, me());
    assert_eq!(fifo.unwrap().kind, NodeKind::Other);
    assert!(std::fs::symlink_metadata(core.real("sub/pipe")).unwrap().file_type().is_fifo());

    let link = core.fs.symlink(files, OsStr::new("to-a"), std::path::Path::new("a.txt"), me()).unwrap();
    assert_eq!(link.kind, NodeKind::Symlink);
    assert_eq!(core.fs.readlink(link.ino).unwrap(), b"a.txt");
    assert_eq!(std::fs::read_link(core.real("to-a")).unwrap(), std::path::Path::new("a.txt"));

    assert_eq!(errno(core.fs.rmdir(files, OsStr::new("sub"))), libc::ENOTEMPTY);
    core.fs.unlink(core.ino("locations/files/sub"), OsStr::new("pipe")).unwrap();
    core.fs.rmdir(files, OsStr::new("sub")).unwrap();
    assert!(!core.real("sub").exists());
    assert_eq!(core.entry("sub"), None);
    core.assert_library_equals_disk();
}

#[test]
fn hard_links_share_one_inode_and_the_disk_link_count() {
    let core = Core::new(FILES);
    let a = core.ino("locations/files/a.txt");
    let linked = core.fs.link(a, core.ino("locations/files/d"), OsStr::new("a2.txt")).unwrap();
    assert_eq!(linked.ino, a);
    assert_eq!(linked.nlink, 2);
    assert_eq!(core.attr("locations/files/d/a2.txt").ino, core.attr("locations/files/a.txt").ino);
    assert_eq!(std::fs::metadata(core.real("a.txt")).unwrap().nlink(), 2);
    core.fs.unlink(core.ino("locations/files"), OsStr::new("a.txt")).unwrap();
    assert_eq!(core.attr("locations/files/d/a2.txt").nlink, 1);
    assert_eq!(read(&core.real("d/a2.txt")), "a");
    core.assert_library_equals_disk();
}

#[test]
fn rename_moves_the_real_file_and_its_tags_and_refuses_to_cross_locations() {
    let core = Core::new(FILES);
    let id = core.entry("a.txt").unwrap();
    core.fs.library().writer().tag(vec![id], vec![TagName::parse("keep").unwrap()]).unwrap();
    let (files, d) = (core.ino("locations/files"), core.ino("locations/files/d"));
    core.fs.rename(files, OsStr::new("a.txt"), d, OsStr::new("moved.txt"), 0).unwrap();
    assert_eq!(read(&core.real("d/moved.txt")), "a");
    assert_eq!(core.entry("d/moved.txt"), Some(id), "the entry keeps its identity");
    assert_eq!(core.tags("d/moved.txt"), ["keep"]);
    let noreplace = core.fs.rename(d, OsStr::new("moved.txt"), d, OsStr::new("c.txt"), libc::RENAME_NOREPLACE);
    assert_eq!(errno(noreplace), libc::EEXIST);

    let other = core.fx.dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let run = core.fx.run(["add".as_ref(), other.as_os_str(), "--quiet".as_ref()]);
    assert_eq!(run.code, 0, "{run:?}");
    let across = core.fs.rename(d, OsStr::new("moved.txt"), core.ino("locations/other"), OsStr::new("x"), 0);
    assert_eq!(errno(across), libc::EXDEV);
    assert_eq!(read(&core.real("d/moved.txt")), "a");
    core.assert_library_equals_disk();
}

#[test]
fn unlink_deletes_the_real_file_and_keeps_its_tags_for_a_file_that_comes_back() {
    let core = Core::new(FILES);
    let id = core.entry("a.txt").unwrap();
    core.fs.library().writer().tag(vec![id], vec![TagName::parse("keep").unwrap()]).unwrap();
    core.fs.unlink(core.ino("locations/files"), OsStr::new("a.txt")).unwrap();
    assert!(!core.real("a.txt").exists());
    assert_eq!(core.entry("a.txt"), None);
    assert_eq!(errno(core.try_ino("locations/files/a.txt")), libc::ENOENT);
    assert_eq!(core.all_tags(), [("keep".to_string(), 0)], "kept as an orphan");
    core.assert_library_equals_disk();
}

#[test]
fn setattr_changes_mode_size_and_times_of_the_real_file() {
    let core = Core::new(FILES);
    let a = core.ino("locations/files/a.txt");
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    let change = AttrChange {
        mode: Some(0o600),
        size: Some(10),
        mtime: Some(spacefs::fs::SetTime::At(when)),
        ..AttrChange::default()
    };
    let attr = core.fs.setattr(a, &change, None).unwrap();
    assert_eq!((attr.perm, attr.size, attr.mtime), (0o600, 10, when));
    let meta = std::fs::metadata(core.real("a.txt")).unwrap();
    assert_eq!((meta.mode() & 0o7777, meta.len(), meta.mtime()), (0o600, 10, 1_000_000_000));
    core.assert_library_equals_disk();
}

#[test]
fn a_file_deleted_while_open_is_still_stated_through_its_descriptor() {
    let core = Core::new(FILES);
    let a = core.ino("locations/files/a.txt");
    let (fh, _) = core.fs.open(a, libc::O_RDWR, no_backing).unwrap();
    core.fs.unlink(core.ino("locations/files"), OsStr::new("a.txt")).unwrap();
    assert_eq!(core.fs.getattr(a, Some(fh)).unwrap().size, 1, "fstat");
    assert_eq!(core.fs.getattr(a, None).unwrap().size, 1, "stat of the inode while open");
    let change = AttrChange { size: Some(0), mode: Some(0o600), ..AttrChange::default() };
    let attr = core.fs.setattr(a, &change, None).unwrap();
    assert_eq!((attr.size, attr.perm), (0, 0o600), "ftruncate and fchmod");
    core.fs.setxattr(a, OsStr::new("user.mine"), b"v", 0).unwrap();
    assert_eq!(core.fs.getxattr(a, OsStr::new("user.mine")).unwrap(), b"v");
    core.fs.release(a, fh).unwrap();
    assert_eq!(errno(core.fs.getattr(a, None)), libc::ENOENT, "closed, it is gone");
}

/// The first scan of a new location, while the mount works in it: what the walk read and the mount then removed or
/// renamed away is not recorded (`write::apply_scan` looks at the disk again once this process changed it).
#[test]
fn a_first_scan_records_no_file_the_mount_removed_or_renamed_after_the_walk_read_it() {
    use spacefs::index;
    use spacefs::library::{IndexMode, write};
    let core = Core::new(FILES);
    let more = core.fx.dir.path().join("more");
    std::fs::create_dir_all(&more).unwrap();
    let name = |i: usize| format!("f{i:02}");
    for i in 0..40 {
        std::fs::write(more.join(name(i)), format!("file {i}")).unwrap();
    }
    let lib = core.fs.library();
    let location = crate::common::add_location(lib, &more, "more", IndexMode::Content);
    let folder = core.ino("locations/more");
    // Two batches, each read by the walk (the counter, then the files) before the mount changes one of its files.
    let apply = |range: std::ops::Range<usize>, change: &dyn Fn()| {
        let walked_at = write::disk_changes();
        let items: Vec<_> =
            range.map(|i| index::entry_now(&location, b"", name(i).as_bytes()).unwrap().unwrap()).collect();
        change();
        let (done, answer) = crossbeam_channel::bounded(1);
        lib.writer().apply_scan_pipelined(location.id, items, (true, Some(walked_at)), &done).unwrap();
        answer.recv().unwrap().unwrap()
    };
    let applied = apply(0..20, &|| core.fs.unlink(folder, OsStr::new("f07")).unwrap());
    assert_eq!(applied.stale, 1, "the removed file is not recorded");
    let applied = apply(20..40, &|| core.fs.rename(folder, OsStr::new("f28"), folder, OsStr::new("g28"), 0).unwrap());
    assert_eq!(applied.stale, 1, "the old name of the renamed file is not recorded");
    core.fs.settle();
    let differences = index::compare(lib, &location).unwrap();
    assert!(differences.is_empty(), "the library equals the disk: {differences:?}");
}
