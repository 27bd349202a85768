//! Tagging through the mount with extended attributes, as Dolphin, Finder and setfattr do it.

mod common;

use common::{Fixture, errno_of};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

fn get(path: &Path, name: &str) -> Option<String> {
    xattr::get(path, name).unwrap().map(|v| String::from_utf8(v).unwrap())
}

/// `getfattr -n NAME --only-values PATH` as a user would run it.
fn getfattr(path: &Path, name: &str) -> String {
    let out = Command::new("getfattr").args(["-n", name, "--only-values"]).arg(path).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn setfattr(path: &Path, name: &str, value: &str) -> std::process::Output {
    Command::new("setfattr").args(["-n", name, "-v", value]).arg(path).output().unwrap()
}

#[test]
fn every_attribute_reads_writes_and_removes() {
    let fx = Fixture::new();
    let real = fx.write("doc.txt", b"document");
    fx.write("dir/inner.txt", b"inner");
    fx.add();
    let mnt = fx.mount();
    let file = mnt.join("locations/files/doc.txt");

    // user.xdg.tags: set (trimmed, unknown tags created), read back sorted, the diff applied, removed.
    assert!(setfattr(&file, "user.xdg.tags", " work , home").status.success());
    assert_eq!(getfattr(&file, "user.xdg.tags"), "home,work");
    assert_eq!(mnt.ls("tags"), ["home", "work"]);
    assert_eq!(mnt.ls("tags/work"), ["doc.txt"]);
    xattr::set(&file, "user.xdg.tags", b"work,urgent").unwrap();
    assert_eq!(get(&mnt.join("tags/work/doc.txt"), "user.xdg.tags").as_deref(), Some("urgent,work"));
    assert!(mnt.ls("tags/home").is_empty());
    // user.xdg.comment
    xattr::set(&file, "user.xdg.comment", "Quarterly figures".as_bytes()).unwrap();
    assert_eq!(getfattr(&mnt.join("tags/urgent/doc.txt"), "user.xdg.comment"), "Quarterly figures");
    xattr::remove(&file, "user.xdg.comment").unwrap();
    assert_eq!(get(&file, "user.xdg.comment"), None);
    // user.spacefs.labels: missing labels along a path are created.
    xattr::set(&file, "user.spacefs.labels", b"work/2026/q1,home").unwrap();
    assert_eq!(get(&file, "user.spacefs.labels").as_deref(), Some("home,work/2026/q1"));
    assert_eq!(mnt.ls("labels/work/2026/q1"), ["doc.txt"]);
    xattr::remove(&file, "user.spacefs.labels").unwrap();
    assert!(mnt.ls("labels/work/2026/q1").is_empty());
    // Favorite and hidden accept 1/true/yes and 0/false/no.
    for (value, expected) in [("yes", "1"), ("0", "0"), ("TRUE", "1")] {
        xattr::set(&file, "user.spacefs.favorite", value.as_bytes()).unwrap();
        assert_eq!(get(&file, "user.spacefs.favorite").as_deref(), Some(expected), "{value}");
    }
    assert_eq!(mnt.ls("favorites"), ["doc.txt"]);
    xattr::remove(&file, "user.spacefs.favorite").unwrap();
    assert!(mnt.ls("favorites").is_empty());
    xattr::set(&file, "user.spacefs.hidden", b"true").unwrap();
    assert!(mnt.ls("tags/work").is_empty(), "hidden entries leave the flat views");
    assert_eq!(get(&file, "user.spacefs.hidden").as_deref(), Some("1"));
    xattr::remove(&file, "user.spacefs.hidden").unwrap();
    assert_eq!(mnt.ls("tags/work"), ["doc.txt"]);
    // Read-only attributes.
    let cas = get(&file, "user.spacefs.cas_id").unwrap();
    assert_eq!(cas.len(), 16);
    let uuid = get(&file, "user.spacefs.uuid").unwrap();
    assert_eq!(uuid.len(), 36);
    assert_eq!(errno_of(xattr::set(&file, "user.spacefs.cas_id", b"x")), libc::EPERM);
    assert_eq!(errno_of(xattr::remove(&file, "user.spacefs.uuid")), libc::EPERM);
    // listxattr: the names a user set; the read-only ones and Finder's are answered by name only.
    let names: Vec<String> = xattr::list(&file).unwrap().map(|n| n.to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["user.xdg.tags"]);
    // Other user.* names pass through to the real file; the real file's own tags attribute is untouched.
    xattr::set(&file, "user.mine", b"kept").unwrap();
    assert_eq!(xattr::get(&real, "user.mine").unwrap().as_deref(), Some(&b"kept"[..]));
    // ... but not in the virtual views: there they are absent (ENODATA, what KDE's probe of user.test needs to
    // see to offer Tags, Rating and Comment) and cannot be set.
    xattr::set(&file, "user.xdg.tags", b"work").unwrap();
    assert_eq!(get(&mnt.join("tags/work/doc.txt"), "user.mine"), None);
    assert_eq!(get(&mnt.join("tags/work/doc.txt"), "user.test"), None);
    assert_eq!(errno_of(xattr::set(mnt.join("tags/work/doc.txt"), "user.mine", b"x")), libc::EOPNOTSUPP);
    assert_eq!(xattr::get(&real, "user.xdg.tags").unwrap(), None);
    assert_eq!(std::fs::read(&real).unwrap(), b"document");
    // Removing all tags.
    xattr::remove(&file, "user.xdg.tags").unwrap();
    assert_eq!(get(&file, "user.xdg.tags"), None);
    assert!(mnt.ls("tags/work").is_empty());
    // A folder shown through a view has no attributes of its own but spacefs's.
    xattr::set(mnt.join("locations/files/dir"), "user.xdg.tags", b"folders").unwrap();
    assert_eq!(errno_of(xattr::set(mnt.join("tags/folders/dir"), "user.other", b"x")), libc::EOPNOTSUPP);
    assert_eq!(get(&mnt.join("tags/folders/dir"), "user.test"), None);
    assert_eq!(get(&mnt.join("tags/folders"), "user.test"), None);
    assert_eq!(get(&mnt.join("tags/folders/dir"), "user.xdg.tags").as_deref(), Some("folders"));
    // A tag folder's colour.
    xattr::set(mnt.join("tags/folders"), "user.spacefs.color", b"red").unwrap();
    assert_eq!(getfattr(&mnt.join("tags/folders"), "user.spacefs.color"), "red");
}

#[test]
fn kde_rating_is_kept_in_the_library_and_shown_in_every_view() {
    let fx = Fixture::new();
    let real = fx.write("beach.jpg", b"jpeg");
    fx.add();
    let mnt = fx.mount();
    let file = mnt.join("locations/files/beach.jpg");
    xattr::set(&file, "user.xdg.tags", b"holiday").unwrap();
    let in_tag = mnt.join("tags/holiday/beach.jpg");
    // What Dolphin's information panel does: probe, read, then write stars (8 = four stars) and a comment.
    assert_eq!(get(&in_tag, "user.test"), None);
    assert_eq!(get(&in_tag, "user.baloo.rating"), None);
    xattr::set(&in_tag, "user.baloo.rating", b"8").unwrap();
    xattr::set(&in_tag, "user.xdg.comment", "sunset".as_bytes()).unwrap();
    assert_eq!(get(&file, "user.baloo.rating").as_deref(), Some("8"));
    assert_eq!(get(&file, "user.xdg.comment").as_deref(), Some("sunset"));
    assert!(xattr::list(&in_tag).unwrap().any(|n| n == "user.baloo.rating"));
    // In the library, not on the real file.
    assert_eq!(xattr::get(&real, "user.baloo.rating").unwrap(), None);
    drop(mnt);
    let mnt = fx.mount();
    assert_eq!(getfattr(&mnt.join("tags/holiday/beach.jpg"), "user.baloo.rating"), "8");
    // Out of range is refused and changes nothing; 0 or removing clears it.
    assert_eq!(errno_of(xattr::set(mnt.join("tags/holiday/beach.jpg"), "user.baloo.rating", b"11")), libc::EINVAL);
    assert_eq!(get(&mnt.join("tags/holiday/beach.jpg"), "user.baloo.rating").as_deref(), Some("8"));
    xattr::set(mnt.join("tags/holiday/beach.jpg"), "user.baloo.rating", b"0").unwrap();
    assert_eq!(get(&mnt.join("tags/holiday/beach.jpg"), "user.baloo.rating"), None);
    xattr::set(mnt.join("tags/holiday/beach.jpg"), "user.baloo.rating", b"3").unwrap();
    xattr::remove(mnt.join("tags/holiday/beach.jpg"), "user.baloo.rating").unwrap();
    assert_eq!(get(&mnt.join("tags/holiday/beach.jpg"), "user.baloo.rating"), None);
}

#[test]
fn finder_tags_round_trip_with_colours() {
    let fx = Fixture::new();
    fx.write("photo.jpg", b"jpeg");
    fx.add();
    let mnt = fx.mount();
    let file = mnt.join("locations/files/photo.jpg");
    let items = vec![plist::Value::String("Rot\n6".into()), plist::Value::String("Ürlaub".into())];
    let mut value = Vec::new();
    plist::Value::Array(items).to_writer_binary(&mut value).unwrap();
    xattr::set(&file, "com.apple.metadata:_kMDItemUserTags", &value).unwrap();
    assert_eq!(get(&file, "user.xdg.tags").as_deref(), Some("Rot,Ürlaub"));
    assert_eq!(get(&mnt.join("tags/Rot"), "user.spacefs.color").as_deref(), Some("red"));
    let back = xattr::get(&file, "com.apple.metadata:_kMDItemUserTags").unwrap().unwrap();
    let parsed: Vec<String> = plist::Value::from_reader(std::io::Cursor::new(back))
        .unwrap()
        .into_array()
        .unwrap()
        .into_iter()
        .map(|v| v.into_string().unwrap())
        .collect();
    assert_eq!(parsed, ["Rot\n6", "Ürlaub"]);
    xattr::remove(&file, "com.apple.metadata:_kMDItemUserTags").unwrap();
    assert_eq!(get(&file, "user.xdg.tags"), None);
}

#[test]
fn bad_values_change_nothing() {
    let fx = Fixture::new();
    fx.write("a.txt", b"a");
    fx.add();
    let mnt = fx.mount();
    let file = mnt.join("locations/files/a.txt");
    xattr::set(&file, "user.xdg.tags", b"keep,these").unwrap();
    let too_long = "x".repeat(256);
    for bad in ["ok,a/b", "ok,bell\u{7}", too_long.as_str(), "ok,..", "\u{0}"] {
        assert_eq!(errno_of(xattr::set(&file, "user.xdg.tags", bad.as_bytes())), libc::EINVAL, "{bad:?}");
    }
    assert_eq!(errno_of(xattr::set(&file, "user.xdg.tags", b"\xff\xfe")), libc::EINVAL);
    assert_eq!(errno_of(xattr::set(&file, "com.apple.metadata:_kMDItemUserTags", b"not a plist")), libc::EINVAL);
    assert_eq!(errno_of(xattr::set(&file, "user.spacefs.labels", b"a//b")), libc::EINVAL);
    assert_eq!(errno_of(xattr::set(&file, "user.spacefs.favorite", b"maybe")), libc::EINVAL);
    assert_eq!(errno_of(xattr::set(&file, "user.xdg.comment", &vec![b'x'; 65 * 1024])), libc::E2BIG);
    assert_eq!(get(&file, "user.xdg.tags").as_deref(), Some("keep,these"), "the previous tags stay exactly");
    assert_eq!(mnt.ls("tags"), ["keep", "these"]);

    // Size probes and ERANGE, as the kernel expects.
    let path = CString::new(file.as_os_str().as_bytes()).unwrap();
    let name = CString::new("user.xdg.tags").unwrap();
    // SAFETY: valid NUL-terminated strings; a null buffer with size 0 is a size probe.
    let size = unsafe { libc::getxattr(path.as_ptr(), name.as_ptr(), std::ptr::null_mut(), 0) };
    assert_eq!(size, "keep,these".len() as isize);
    let mut small = [0u8; 4];
    // SAFETY: the buffer is valid for its length.
    let rc = unsafe { libc::getxattr(path.as_ptr(), name.as_ptr(), small.as_mut_ptr().cast(), small.len()) };
    assert_eq!((rc, std::io::Error::last_os_error().raw_os_error()), (-1, Some(libc::ERANGE)));

    let ro = fx.mount_at("ro", &["--read-only"]);
    assert_eq!(errno_of(xattr::set(ro.join("locations/files/a.txt"), "user.xdg.tags", b"x")), libc::EROFS);
}

#[test]
fn four_threads_each_making_a_thousand_changes_lose_none() {
    let fx = Fixture::new();
    for t in 0..4 {
        for i in 0..250 {
            fx.write(format!("t{t}/f{i:03}"), format!("{t}-{i}").as_bytes());
        }
    }
    fx.add();
    let mnt = fx.mount();
    std::thread::scope(|s| {
        for t in 0..4 {
            let mnt = &mnt;
            s.spawn(move || {
                for round in 0..4 {
                    for i in 0..250 {
                        let file = mnt.join(format!("locations/files/t{t}/f{i:03}"));
                        let tags = format!("thread{t},round{round}");
                        xattr::set(&file, "user.xdg.tags", tags.as_bytes()).unwrap();
                    }
                }
            });
        }
    });
    for t in 0..4 {
        assert_eq!(mnt.ls(format!("tags/thread{t}")).len(), 250, "thread {t}");
    }
    assert_eq!(mnt.ls("tags/round3").len(), 1000);
    assert!(mnt.ls("tags/round0").is_empty(), "each set replaced the previous round's");
}

#[test]
fn cli_commands_work_with_real_and_mount_paths_while_mounted() {
    let fx = Fixture::new();
    let a = fx.write("a.txt", b"a");
    let b = fx.write("b.txt", b"b");
    fx.add();
    let mnt = fx.mount();
    let in_mount = mnt.join("locations/files/b.txt");
    fx.run(["tag".as_ref(), "todo".as_ref(), a.as_os_str(), in_mount.as_os_str()]).ok();
    assert_eq!(mnt.ls("tags/todo"), ["a.txt", "b.txt"]);
    let run = fx.run(["label".as_ref(), "work/2026".as_ref(), a.as_os_str(), in_mount.as_os_str()]);
    assert_eq!(run.ok(), "labelled 2 of 2 files with 'work/2026'\n");
    assert_eq!(mnt.ls("labels/work/2026"), ["a.txt", "b.txt"]);
    fx.run(["unlabel".as_ref(), "work/2026".as_ref(), in_mount.as_os_str()]).ok();
    assert_eq!(mnt.ls("labels/work/2026"), ["a.txt"]);
    fx.run(["unlabel".as_ref(), "nope".as_ref(), a.as_os_str()]).fails_with("no label 'nope'");
    fx.run(["favorite".as_ref(), mnt.join("tags/todo/a.txt").as_os_str()]).ok();
    assert_eq!(mnt.ls("favorites"), ["a.txt"]);
    fx.run(["unfavorite".as_ref(), a.as_os_str()]).ok();
    assert!(mnt.ls("favorites").is_empty());
    fx.run(["note".as_ref(), b.as_os_str(), "call Anna".as_ref()]).ok();
    assert_eq!(get(&in_mount, "user.xdg.comment").as_deref(), Some("call Anna"));
    fx.run(["tag-color", "todo", "orange"]).ok();
    assert_eq!(get(&mnt.join("tags/todo"), "user.spacefs.color").as_deref(), Some("orange"));
    fx.run(["tag-color", "todo", "mauve"]).fails_with("unknown colour \"mauve\"");
    fx.run(["tag".as_ref(), "to-do".as_ref(), a.as_os_str()]).ok();
    fx.run(["tag-rename", "todo", "to-do"]).fails_with("a tag named 'to-do' exists already");
    assert_eq!(mnt.ls("tags/todo"), ["a.txt", "b.txt"], "a refused rename changes nothing");
    let run = fx.run(["merge-tags", "todo", "to-do"]);
    assert_eq!(run.ok(), "merged 'todo' into 'to-do' (1 entries gained 'to-do')\n");
    assert_eq!(mnt.ls("tags"), ["to-do"]);
    assert_eq!(mnt.ls("tags/to-do"), ["a.txt", "b.txt"]);
    fx.run(["tag-rename", "to-do", "done"]).ok();
    assert_eq!(mnt.ls("tags"), ["done"]);
    fx.run(["tag-rename", "nope", "x"]).fails_with("no tag named 'nope'");
    assert_eq!(std::fs::read(&a).unwrap(), b"a");
}

/// Content and mtime of every real file below `dir`, to check that nothing in a view touched them.
fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>, i64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap(), meta.mtime_nsec() + meta.mtime() * 1_000_000_000));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn folder_operations_in_tags_change_tags_and_never_files() {
    let fx = Fixture::new();
    let a = fx.write("a.txt", b"a");
    fx.write("b.txt", b"b");
    fx.write("sub/deep/c.txt", b"c");
    fx.add();
    let before = snapshot(&fx.files());
    let mnt = fx.mount();
    std::fs::create_dir(mnt.join("tags/work")).unwrap();
    assert_eq!(errno_of(std::fs::create_dir(mnt.join("tags/work"))), libc::EEXIST);
    assert_eq!(errno_of(std::fs::create_dir(mnt.join("tags/bad,name"))), libc::EINVAL);
    std::fs::hard_link(mnt.join("locations/files/a.txt"), mnt.join("tags/work/a.txt")).unwrap();
    std::os::unix::fs::symlink(fx.files().join("sub"), mnt.join("tags/work/sub")).unwrap();
    std::os::unix::fs::symlink(fx.files().join("b.txt"), mnt.join("tags/work/any-name")).unwrap();
    assert_eq!(mnt.ls("tags/work"), ["a.txt", "b.txt", "sub"], "entries show under their own names");
    assert!(mnt.join("tags/work/sub/deep/c.txt").is_file());
    // ln -s of something outside every location changes nothing.
    let outside = fx.dir.path().join("outside.txt");
    std::fs::write(&outside, b"o").unwrap();
    assert_ne!(errno_of(std::os::unix::fs::symlink(&outside, mnt.join("tags/work/outside.txt"))), 0);
    assert_eq!(mnt.ls("tags/work"), ["a.txt", "b.txt", "sub"]);
    // rmdir of a tag that carries entries: ENOTEMPTY; mv onto such a tag: ENOTEMPTY, nothing changes.
    assert_eq!(errno_of(std::fs::remove_dir(mnt.join("tags/work"))), libc::ENOTEMPTY);
    std::fs::create_dir(mnt.join("tags/home")).unwrap();
    std::fs::hard_link(mnt.join("locations/files/b.txt"), mnt.join("tags/home/b.txt")).unwrap();
    assert_eq!(errno_of(std::fs::rename(mnt.join("tags/work"), mnt.join("tags/home"))), libc::ENOTEMPTY);
    assert_eq!(mnt.ls("tags/home"), ["b.txt"]);
    // mv of an entry moves the tag; rm untags; mv of a tag renames it.
    std::fs::rename(mnt.join("tags/work/a.txt"), mnt.join("tags/home/a.txt")).unwrap();
    assert_eq!(mnt.ls("tags/home"), ["a.txt", "b.txt"]);
    assert_eq!(mnt.ls("tags/work"), ["b.txt", "sub"]);
    assert_eq!(get(&a, "user.xdg.tags"), None, "the real file's own attributes are not touched");
    std::fs::remove_file(mnt.join("tags/home/b.txt")).unwrap();
    assert_eq!(mnt.ls("tags/home"), ["a.txt"]);
    std::fs::rename(mnt.join("tags/home"), mnt.join("tags/house")).unwrap();
    assert_eq!(mnt.ls("tags"), ["house", "work"]);
    // Creating a file in a view is refused; duplicates/ is read-only.
    assert_eq!(errno_of(std::fs::write(mnt.join("tags/work/new.txt"), b"x")), libc::EPERM);
    assert_eq!(errno_of(std::fs::create_dir(mnt.join("duplicates/x"))), libc::EROFS);
    // rm -rf of a tag untags everything under it and deletes it; rm -rf of tags/ leaves every real file.
    let status = Command::new("rm").arg("-rf").arg(mnt.join("tags/work")).status().unwrap();
    assert!(status.success());
    assert_eq!(mnt.ls("tags"), ["house"]);
    let _ = Command::new("rm").arg("-rf").arg(mnt.join("tags")).status().unwrap();
    assert!(mnt.ls("tags").is_empty());
    assert!(mnt.join("tags").is_dir());
    assert_eq!(snapshot(&fx.files()), before, "no real file changed");
    // Everything survives a remount.
    std::fs::create_dir(mnt.join("tags/kept")).unwrap();
    std::fs::hard_link(mnt.join("locations/files/a.txt"), mnt.join("tags/kept/a.txt")).unwrap();
    mnt.unmount();
    let again = fx.mount_at("again", &[]);
    assert_eq!(again.ls("tags/kept"), ["a.txt"]);
}

#[test]
fn folder_operations_in_labels_and_favorites() {
    let fx = Fixture::new();
    fx.write("a.txt", b"a");
    fx.write("b.txt", b"b");
    fx.add();
    let before = snapshot(&fx.files());
    let mnt = fx.mount();
    std::fs::create_dir_all(mnt.join("labels/work/2026/q1")).unwrap();
    assert_eq!(mnt.ls("labels/work/2026"), ["q1"]);
    std::fs::hard_link(mnt.join("locations/files/a.txt"), mnt.join("labels/work/2026/q1/a.txt")).unwrap();
    std::fs::hard_link(mnt.join("locations/files/b.txt"), mnt.join("labels/work/b.txt")).unwrap();
    assert_eq!(get(&mnt.join("locations/files/a.txt"), "user.spacefs.labels").as_deref(), Some("work/2026/q1"));
    assert_eq!(errno_of(std::fs::remove_dir(mnt.join("labels/work/2026/q1"))), libc::ENOTEMPTY);
    // mv re-parents a label, with everything in it.
    std::fs::create_dir(mnt.join("labels/archive")).unwrap();
    std::fs::rename(mnt.join("labels/work/2026"), mnt.join("labels/archive/2026")).unwrap();
    assert_eq!(mnt.ls("labels/archive/2026/q1"), ["a.txt"]);
    assert_eq!(mnt.ls("labels/work"), ["b.txt"]);
    assert_eq!(
        errno_of(std::fs::rename(mnt.join("labels/archive"), mnt.join("labels/archive/2026/inside"))),
        libc::EINVAL
    );
    // mv of an entry between labels; rm unlabels; an empty label goes with rmdir.
    std::fs::rename(mnt.join("labels/work/b.txt"), mnt.join("labels/archive/b.txt")).unwrap();
    assert_eq!(mnt.ls("labels/archive"), ["2026", "b.txt"]);
    std::fs::remove_file(mnt.join("labels/archive/2026/q1/a.txt")).unwrap();
    std::fs::remove_dir(mnt.join("labels/archive/2026/q1")).unwrap();
    std::fs::remove_dir(mnt.join("labels/work")).unwrap();
    assert_eq!(mnt.ls("labels"), ["archive"]);
    // Favorites: ln favorites, rm unfavorites.
    std::fs::hard_link(mnt.join("locations/files/a.txt"), mnt.join("favorites/a.txt")).unwrap();
    assert_eq!(mnt.ls("favorites"), ["a.txt"]);
    assert_eq!(get(&mnt.join("locations/files/a.txt"), "user.spacefs.favorite").as_deref(), Some("1"));
    std::fs::remove_file(mnt.join("favorites/a.txt")).unwrap();
    assert!(mnt.ls("favorites").is_empty());
    assert_eq!(snapshot(&fx.files()), before, "no real file changed");
}

#[test]
fn writes_through_views_go_to_the_real_file_and_the_library_follows() {
    use std::io::Write;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let fx = Fixture::new();
    let real = fx.write("notes.txt", b"first line\n");
    fx.add();
    fx.run(["tag".as_ref(), "t".as_ref(), real.as_os_str()]).ok();
    let mnt = fx.mount();
    let via_tag = mnt.join("tags/t/notes.txt");
    let cas_before = get(&via_tag, "user.spacefs.cas_id").unwrap();
    {
        let mut f = std::fs::OpenOptions::new().append(true).open(&via_tag).unwrap();
        f.write_all(b"second line\n").unwrap();
        f.sync_all().unwrap();
    }
    assert_eq!(std::fs::read(&real).unwrap(), b"first line\nsecond line\n");
    let cas_after = get(&mnt.join("locations/files/notes.txt"), "user.spacefs.cas_id").unwrap();
    assert_ne!(cas_before, cas_after, "the content id follows the new content");
    assert_eq!(mnt.ls("tags/t"), ["notes.txt"], "the tag stays");
    // Truncate, chmod and times through a view reach the real file.
    std::fs::OpenOptions::new().write(true).open(&via_tag).unwrap().set_len(5).unwrap();
    assert_eq!(std::fs::read(&real).unwrap(), b"first");
    std::fs::set_permissions(&via_tag, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_eq!(std::fs::metadata(&real).unwrap().mode() & 0o777, 0o640);
    let status = Command::new("touch").args(["-d", "2020-02-02 02:02:02"]).arg(&via_tag).status().unwrap();
    assert!(status.success());
    assert_eq!(std::fs::metadata(&real).unwrap().mtime(), std::fs::metadata(&via_tag).unwrap().mtime());
    // The record of a change made through the mount is queued to its writer: the CLI, another connection, sees it
    // once committed (within milliseconds).
    common::eventually("the library records the new size", || {
        fx.run(["status"]).ok().contains("1 files, 0 folders, 0 symlinks, 5 B")
    });
    // Read-only mounts refuse writes.
    let ro = fx.mount_at("ro", &["--read-only"]);
    assert_eq!(errno_of(std::fs::OpenOptions::new().write(true).open(ro.join("tags/t/notes.txt"))), libc::EROFS);
    assert_eq!(std::fs::read(&real).unwrap(), b"first");
}

/// What `rsync -aX`, `cp -a` and `tar --xattrs` do with attributes, into `locations/` and out of it: every listed
/// name reads, can be set on a file of a Linux disk, and a copy made in the mount can be given exactly the source's
/// attributes (the names it lists that the source lacks are removed).
#[test]
fn attributes_copy_in_and_out_as_rsync_does() {
    let fx = Fixture::new();
    fx.write("doc.txt", b"document");
    fx.add();
    let mnt = fx.mount();
    let dir = mnt.join("locations/files");
    let file = dir.join("doc.txt");
    xattr::set(&file, "user.xdg.tags", b"work,home").unwrap();
    xattr::set(&file, "user.xdg.comment", b"a note").unwrap();
    xattr::set(&file, "user.mine", b"kept").unwrap();
    std::os::unix::fs::symlink("doc.txt", dir.join("link")).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(
        unsafe { libc::mkfifo(CString::new(dir.join("fifo").as_os_str().as_bytes()).unwrap().as_ptr(), 0o644) },
        0
    );
    let listed = |p: &Path| -> Vec<std::ffi::OsString> { xattr::list(p).unwrap().collect() };
    // Out: onto a file of the disk.
    let outside = fx.dir.path().join("copy.txt");
    std::fs::write(&outside, b"document").unwrap();
    for name in listed(&file) {
        let value = xattr::get(&file, &name).unwrap().unwrap_or_else(|| panic!("{name:?} is listed, not readable"));
        xattr::set(&outside, &name, &value).unwrap_or_else(|e| panic!("{name:?} cannot be set on the disk: {e}"));
    }
    for special in ["link", "fifo"] {
        for name in listed(&dir.join(special)) {
            assert!(
                xattr::get(dir.join(special), &name).unwrap().is_some(),
                "{special}: {name:?} listed, not readable"
            );
        }
    }
    // In: a new file made through the mount gets the copy's attributes, and only them.
    let copy = dir.join("copy.txt");
    std::fs::write(&copy, b"document").unwrap();
    let wanted = listed(&outside);
    for name in listed(&copy) {
        if !wanted.contains(&name) {
            xattr::remove(&copy, &name).unwrap_or_else(|e| panic!("{name:?} cannot be removed: {e}"));
        }
    }
    for name in &wanted {
        xattr::set(&copy, name, &xattr::get(&outside, name).unwrap().unwrap()).unwrap();
    }
    let mut got = listed(&copy);
    let mut expected = listed(&file);
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    assert_eq!(get(&copy, "user.xdg.tags").as_deref(), Some("home,work"));
}
