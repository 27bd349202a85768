//! Every change a program can ask of a view, through the core: what the library holds after it, and that the real
//! files are untouched.

use crate::{Core, errno, me, no_backing, read};
use spacefs::fs::FsOptions;
use spacefs::names::TagName;
use std::ffi::OsStr;

const FILES: &[(&str, &str)] =
    &[("a.txt", "a"), ("b.txt", "b"), ("d/c.txt", "c"), ("copy1", "same"), ("copy2", "same")];

/// A core with tag `t` on a.txt and on folder d.
fn tagged() -> Core {
    let core = Core::new(FILES);
    let ids = vec![core.entry("a.txt").unwrap(), core.entry("d").unwrap()];
    core.fs.library().writer().tag(ids, vec![TagName::parse("t").unwrap()]).unwrap();
    core
}

#[test]
fn tags_mkdir_creates_a_tag_rmdir_deletes_an_empty_one_and_mv_renames_it() {
    let core = tagged();
    let tags = core.ino("tags");
    let made = core.fs.mkdir(tags, OsStr::new("new"), 0o755, me()).unwrap();
    assert_eq!(made.kind, spacefs::view::NodeKind::Dir);
    assert_eq!(core.ls("tags"), ["new", "t"]);
    assert_eq!(errno(core.fs.mkdir(tags, OsStr::new("new"), 0o755, me())), libc::EEXIST);
    assert_eq!(errno(core.fs.mkdir(tags, OsStr::from_bytes(&[0xff]), 0o755, me())), libc::EINVAL, "not UTF-8");

    assert_eq!(errno(core.fs.rmdir(tags, OsStr::new("t"))), libc::ENOTEMPTY, "t still carries entries");
    core.fs.rmdir(tags, OsStr::new("new")).unwrap();
    assert_eq!(core.all_tags(), [("t".to_string(), 2)]);

    core.fs.rename(tags, OsStr::new("t"), tags, OsStr::new("u"), 0).unwrap();
    assert_eq!(core.tags("a.txt"), ["u"]);
    assert_eq!(core.ls("tags"), ["u"]);
    assert_eq!(errno(core.fs.rename(tags, OsStr::new("u"), core.ino("labels"), OsStr::new("u"), 0)), libc::EPERM);
    assert_eq!(errno(core.fs.rmdir(tags, OsStr::new("gone"))), libc::ENOENT);
}

use std::os::unix::ffi::OsStrExt;

#[test]
fn entries_join_and_leave_a_tag_by_link_unlink_rmdir_and_symlink_and_files_stay() {
    let core = tagged();
    let t = core.ino("tags/t");
    // ln locations/files/b.txt tags/t/
    let b = core.ino("locations/files/b.txt");
    let shown = core.fs.link(b, t, OsStr::new("b.txt")).unwrap();
    assert_eq!(shown.nlink, 2, "a file in a view counts its place in the library");
    assert_eq!(core.tags("b.txt"), ["t"]);
    assert_eq!(core.ls("tags/t"), ["a.txt", "b.txt", "d"]);

    // rm tags/t/a.txt, rmdir tags/t/d
    core.fs.unlink(t, OsStr::new("a.txt")).unwrap();
    core.fs.rmdir(t, OsStr::new("d")).unwrap();
    assert!(core.tags("a.txt").is_empty() && core.tags("d").is_empty());
    assert_eq!(read(&core.real("a.txt")), "a", "the real file is untouched");
    assert_eq!(read(&core.real("d/c.txt")), "c");
    assert_eq!(errno(core.fs.unlink(t, OsStr::new("a.txt"))), libc::ENOENT);

    // ln -s /real/path tags/t/
    let stand_in = core.fs.symlink(t, OsStr::new("a.txt"), &core.real("a.txt"), me()).unwrap();
    assert_eq!(stand_in.kind, spacefs::view::NodeKind::Symlink);
    assert_eq!(core.tags("a.txt"), ["t"]);
    let outside = std::env::temp_dir();
    assert_eq!(errno(core.fs.symlink(t, OsStr::new("x"), &outside, me())), libc::EXDEV, "not inside a location");
    core.assert_library_equals_disk();
}

#[test]
fn removing_what_is_inside_a_folder_seen_through_a_view_succeeds_and_deletes_nothing() {
    let core = tagged();
    let d = core.ino("tags/t/d");
    core.fs.unlink(d, OsStr::new("c.txt")).unwrap();
    assert_eq!(read(&core.real("d/c.txt")), "c");
    assert_eq!(core.ls("tags/t/d"), ["c.txt"]);
    assert_eq!(core.tags("d"), ["t"], "the folder keeps its tag until it is itself removed from the view");
}

#[test]
fn an_entry_moved_between_views_leaves_one_and_joins_the_other() {
    let core = tagged();
    core.fs.rename(core.ino("tags/t"), OsStr::new("a.txt"), core.ino("favorites"), OsStr::new("a.txt"), 0).unwrap();
    let meta = core.meta("a.txt");
    assert!(meta.tags.is_empty() && meta.favorite);
    assert_eq!(core.ls("favorites"), ["a.txt"]);
    core.fs.mkdir(core.ino("tags"), OsStr::new("u"), 0o755, me()).unwrap();
    core.fs.rename(core.ino("favorites"), OsStr::new("a.txt"), core.ino("tags/u"), OsStr::new("a.txt"), 0).unwrap();
    let meta = core.meta("a.txt");
    assert_eq!((meta.tags.len(), meta.favorite), (1, false));
    assert_eq!(core.tags("a.txt"), ["u"]);
    // Into a view that stands for no membership: refused, nothing changes.
    let refused = core.fs.rename(core.ino("tags/u"), OsStr::new("a.txt"), core.ino("untagged"), OsStr::new("a.txt"), 0);
    assert_eq!(errno(refused), libc::EPERM);
    assert_eq!(core.tags("a.txt"), ["u"]);
}

#[test]
fn favorites_take_links_and_removals() {
    let core = tagged();
    let favorites = core.ino("favorites");
    core.fs.link(core.ino("locations/files/b.txt"), favorites, OsStr::new("b.txt")).unwrap();
    assert!(core.meta("b.txt").favorite);
    core.fs.unlink(favorites, OsStr::new("b.txt")).unwrap();
    assert!(!core.meta("b.txt").favorite);
    assert_eq!(read(&core.real("b.txt")), "b");
    assert_eq!(errno(core.fs.mkdir(favorites, OsStr::new("x"), 0o755, me())), libc::EPERM);
}

#[test]
fn labels_nest_move_and_hold_entries() {
    let core = tagged();
    let labels = core.ino("labels");
    let work = core.fs.mkdir(labels, OsStr::new("work"), 0o755, me()).unwrap().ino;
    let year = core.fs.mkdir(work, OsStr::new("2026"), 0o755, me()).unwrap().ino;
    assert_eq!(core.ls("labels/work"), ["2026"]);
    core.fs.link(core.ino("locations/files/b.txt"), year, OsStr::new("b.txt")).unwrap();
    assert_eq!(core.meta("b.txt").labels, ["work/2026"]);
    assert_eq!(core.ls("labels/work/2026"), ["b.txt"]);

    // mv labels/work/2026 labels/2026: to the top, entries kept.
    core.fs.rename(work, OsStr::new("2026"), labels, OsStr::new("2026"), 0).unwrap();
    assert_eq!(core.meta("b.txt").labels, ["2026"]);
    assert_eq!(core.ls("labels"), ["2026", "work"]);
    // ...and back under work as "y26".
    core.fs.rename(labels, OsStr::new("2026"), work, OsStr::new("y26"), 0).unwrap();
    assert_eq!(core.meta("b.txt").labels, ["work/y26"]);

    core.fs.unlink(core.ino("labels/work/y26"), OsStr::new("b.txt")).unwrap();
    assert!(core.meta("b.txt").labels.is_empty());
    core.fs.rmdir(work, OsStr::new("y26")).unwrap();
    core.fs.rmdir(labels, OsStr::new("work")).unwrap();
    assert!(core.ls("labels").is_empty());
    assert_eq!(read(&core.real("b.txt")), "b");
}

#[test]
fn query_folders_are_saved_by_mkdir_and_forgotten_by_rmdir() {
    let core = tagged();
    let query = core.ino("query");
    core.fs.mkdir(query, OsStr::new("t and not u"), 0o755, me()).unwrap();
    assert_eq!(core.ls("query"), ["t and not u"]);
    assert_eq!(core.ls("query/t and not u"), ["a.txt", "d"]);
    assert_eq!(errno(core.fs.mkdir(query, OsStr::new("t and ("), 0o755, me())), libc::EINVAL, "not a query");
    assert_eq!(errno(core.fs.unlink(core.ino("query/t and not u"), OsStr::new("a.txt"))), libc::EPERM);
    core.fs.rmdir(query, OsStr::new("t and not u")).unwrap();
    assert!(core.ls("query").is_empty());
    let reader = core.fs.library().reader().unwrap();
    assert_eq!(reader.saved_query("t and not u").unwrap(), None);
}

#[test]
fn untagged_and_the_top_level_take_no_change() {
    let core = tagged();
    assert_eq!(core.ls("untagged"), ["b.txt", "c.txt", "copy1", "copy2"], "files; a folder's tag is not its files'");
    let untagged = core.ino("untagged");
    assert_eq!(errno(core.fs.unlink(untagged, OsStr::new("b.txt"))), libc::EPERM);
    assert_eq!(errno(core.fs.mkdir(untagged, OsStr::new("x"), 0o755, me())), libc::EPERM);
    assert_eq!(errno(core.fs.link(core.ino("locations/files/a.txt"), untagged, OsStr::new("a.txt"))), libc::EPERM);
    assert_eq!(errno(core.fs.mkdir(spacefs::inode::ROOT, OsStr::new("x"), 0o755, me())), libc::EPERM);
    assert_eq!(errno(core.fs.rmdir(spacefs::inode::ROOT, OsStr::new("tags"))), libc::EPERM);
    assert_eq!(errno(core.fs.rmdir(core.ino("locations"), OsStr::new("files"))), libc::EPERM);
    assert_eq!(read(&core.real("b.txt")), "b");
}

#[test]
fn duplicates_are_read_only() {
    let core = tagged();
    let groups = core.ls("duplicates");
    assert_eq!(groups.len(), 1, "{groups:?}");
    let group = format!("duplicates/{}", groups[0]);
    assert_eq!(core.ls(&group), ["files\u{2215}copy1", "files\u{2215}copy2"]);
    let (dir, copy) = (core.ino(&group), OsStr::new("files\u{2215}copy1"));
    assert_eq!(errno(core.fs.unlink(dir, copy)), libc::EROFS);
    assert_eq!(errno(core.fs.rename(dir, copy, core.ino("favorites"), OsStr::new("x"), 0)), libc::EROFS);
    assert_eq!(errno(core.fs.mkdir(core.ino("duplicates"), OsStr::new("x"), 0o755, me())), libc::EROFS);
    let file = core.ino(&format!("{group}/files\u{2215}copy1"));
    assert_eq!(errno(core.fs.open(file, libc::O_WRONLY, no_backing)), libc::EROFS);
    assert_eq!(errno(core.fs.setxattr(file, OsStr::new("user.xdg.tags"), b"x", 0)), libc::EROFS);
    assert_eq!(read(&core.real("copy1")), "same");
}

#[test]
fn attributes_of_entries_are_the_same_in_every_view_and_a_tag_folder_has_a_colour() {
    let core = tagged();
    let in_tag = core.ino("tags/t/a.txt");
    core.fs.setxattr(in_tag, OsStr::new("user.xdg.tags"), b"t,work", 0).unwrap();
    assert_eq!(core.tags("a.txt"), ["t", "work"]);
    let real = core.ino("locations/files/a.txt");
    assert_eq!(core.fs.getxattr(real, OsStr::new("user.xdg.tags")).unwrap(), b"t,work");
    core.fs.setxattr(real, OsStr::new("user.xdg.comment"), b"a note", 0).unwrap();
    assert_eq!(core.fs.getxattr(in_tag, OsStr::new("user.xdg.comment")).unwrap(), b"a note");
    core.fs.removexattr(in_tag, OsStr::new("user.xdg.comment")).unwrap();
    assert_eq!(core.meta("a.txt").notes, None);

    let t = core.ino("tags/t");
    assert_eq!(errno(core.fs.getxattr(t, OsStr::new("user.spacefs.color"))), libc::ENODATA);
    core.fs.setxattr(t, OsStr::new("user.spacefs.color"), b"red", 0).unwrap();
    assert_eq!(core.fs.getxattr(t, OsStr::new("user.spacefs.color")).unwrap(), b"red");
    assert_eq!(core.fs.listxattr(t, false).unwrap(), b"user.spacefs.color\0");
    assert_eq!(errno(core.fs.setxattr(t, OsStr::new("user.spacefs.color"), b"redish", 0)), libc::EINVAL);
    assert_eq!(errno(core.fs.setxattr(t, OsStr::new("user.other"), b"1", 0)), libc::EOPNOTSUPP);
    core.fs.removexattr(t, OsStr::new("user.spacefs.color")).unwrap();
    assert_eq!(core.fs.listxattr(t, false).unwrap(), b"");
    assert_eq!(errno(core.fs.setxattr(core.ino("tags"), OsStr::new("user.x"), b"1", 0)), libc::EOPNOTSUPP);
}

#[test]
fn a_read_only_mount_refuses_every_change_with_erofs() {
    let options = FsOptions { read_only: true, ..FsOptions::default() };
    let core = Core::with(FILES, options);
    let (files, tags) = (core.ino("locations/files"), core.ino("tags"));
    assert_eq!(errno(core.fs.mkdir(tags, OsStr::new("x"), 0o755, me())), libc::EROFS);
    assert_eq!(errno(core.fs.unlink(files, OsStr::new("a.txt"))), libc::EROFS);
    assert_eq!(errno(core.fs.create(files, OsStr::new("n"), (0o644, libc::O_WRONLY), me(), no_backing)), libc::EROFS);
    assert_eq!(
        errno(core.fs.setxattr(core.ino("locations/files/a.txt"), OsStr::new("user.xdg.tags"), b"x", 0)),
        libc::EROFS
    );
    assert_eq!(read(&core.real("a.txt")), "a");
    assert!(core.all_tags().is_empty());
}

#[test]
fn what_the_mount_keeps_per_inode_goes_when_the_kernel_forgets_it() {
    let core = tagged();
    let t = core.ino("tags/t");
    let kept = core.fs.kept();
    // A folder seen through a view (a hashed number) and a query folder, each handed out twice.
    let d = core.fs.lookup(t, OsStr::new("d")).unwrap().ino;
    assert_eq!(core.fs.lookup(t, OsStr::new("d")).unwrap().ino, d);
    let query = core.ino("query");
    let q = core.fs.lookup(query, OsStr::new("t or u")).unwrap().ino;
    core.fs.lookup(query, OsStr::new("t or u")).unwrap();
    assert!(core.fs.kept() > kept);

    core.fs.forget(d, 1);
    core.fs.forget(q, 1);
    assert_eq!(core.fs.getattr(d, None).unwrap().kind, spacefs::view::NodeKind::Dir, "still held once");
    assert_eq!(core.ls("query/t or u"), ["a.txt", "d"], "(a third lookup of it)");
    core.fs.forget(d, 1);
    core.fs.forget(q, 2);
    assert_eq!(errno(core.fs.getattr(d, None)), libc::ENOENT, "forgotten");
    assert_eq!(core.fs.kept(), kept, "nothing left for them");
    // Looked up again, they are back.
    assert_eq!(core.fs.lookup(t, OsStr::new("d")).unwrap().ino, d);
    assert_eq!(core.ls("tags/t/d"), ["c.txt"]);
}
