//! locations/ as a read-write window onto the real folders: programs work through it as on the real folder, and
//! tags follow files through renames.

mod common;

use common::{Fixture, eventually};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

fn tags_of(path: &Path) -> Option<String> {
    xattr::get(path, "user.xdg.tags").unwrap().map(|v| String::from_utf8(v).unwrap())
}

fn run_in(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{program} {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn files_and_folders_made_through_the_mount_are_real_and_indexed() {
    let fx = Fixture::new();
    fx.add();
    let mnt = fx.mount();
    let root = mnt.join("locations/files");
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::write(root.join("a/b/new.txt"), b"written through the mount").unwrap();
    std::os::unix::fs::symlink("b/new.txt", root.join("a/link")).unwrap();
    std::fs::hard_link(root.join("a/b/new.txt"), root.join("a/hard.txt")).unwrap();
    assert_eq!(std::fs::read(fx.file("a/b/new.txt")).unwrap(), b"written through the mount");
    assert_eq!(std::fs::read_link(fx.file("a/link")).unwrap(), Path::new("b/new.txt"));
    assert_eq!(
        std::fs::metadata(fx.file("a/hard.txt")).unwrap().ino(),
        std::fs::metadata(fx.file("a/b/new.txt")).unwrap().ino()
    );
    // Indexed at once: taggable by its real path, with a content id.
    fx.run(["tag".as_ref(), "fresh".as_ref(), fx.file("a/b/new.txt").as_os_str()]).ok();
    assert_eq!(mnt.ls("tags/fresh"), ["new.txt"]);
    assert_eq!(xattr::get(root.join("a/b/new.txt"), "user.spacefs.cas_id").unwrap().map(|v| v.len()), Some(16));
    // Removing through locations/ removes the real thing; a non-empty folder is refused like on disk.
    assert_eq!(std::fs::remove_dir(root.join("a")).unwrap_err().raw_os_error(), Some(libc::ENOTEMPTY));
    std::fs::remove_file(root.join("a/hard.txt")).unwrap();
    assert!(!fx.file("a/hard.txt").exists());
    // A new entry never takes an old one's inode.
    let old_ino = std::fs::metadata(root.join("a/link")).unwrap().ino();
    std::fs::remove_file(root.join("a/link")).unwrap();
    std::fs::create_dir(root.join("a/after")).unwrap();
    assert_ne!(std::fs::metadata(root.join("a/after")).unwrap().ino(), old_ino);
    // Renames across locations behave like across file systems.
    let other = fx.dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    fx.run(["add".as_ref(), other.as_os_str(), "--quiet".as_ref()]).ok();
    let mnt2 = fx.mount_at("mnt2", &[]);
    let err =
        std::fs::rename(mnt2.join("locations/files/a/b/new.txt"), mnt2.join("locations/other/new.txt")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EXDEV));
}

#[test]
fn tags_follow_files_through_renames_and_editor_saves() {
    let fx = Fixture::new();
    fx.write("docs/report.txt", b"v1");
    fx.write("docs/deep/inner.txt", b"inner");
    fx.add();
    fx.run([
        "tag".as_ref(),
        "keep".as_ref(),
        fx.file("docs/report.txt").as_os_str(),
        fx.file("docs/deep/inner.txt").as_os_str(),
    ])
    .ok();
    let mnt = fx.mount();
    let root = mnt.join("locations/files");
    // A file renamed through the mount keeps its tags.
    std::fs::rename(root.join("docs/report.txt"), root.join("docs/final.txt")).unwrap();
    assert_eq!(tags_of(&root.join("docs/final.txt")).as_deref(), Some("keep"));
    // A folder renamed keeps its descendants' tags, at their new paths.
    std::fs::rename(root.join("docs"), root.join("papers")).unwrap();
    assert_eq!(tags_of(&root.join("papers/deep/inner.txt")).as_deref(), Some("keep"));
    assert_eq!(mnt.ls("tags/keep"), ["final.txt", "inner.txt"]);
    assert_eq!(std::fs::read(mnt.join("tags/keep/inner.txt")).unwrap(), b"inner");
    // An editor's save-by-rename: the tags stay on the file's name.
    std::fs::write(root.join("papers/final.txt.tmp"), b"v2").unwrap();
    std::fs::rename(root.join("papers/final.txt.tmp"), root.join("papers/final.txt")).unwrap();
    assert_eq!(tags_of(&root.join("papers/final.txt")).as_deref(), Some("keep"));
    // The view's cached entry for the replaced file is invalidated within the poll interval.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while std::fs::read(mnt.join("tags/keep/final.txt")).ok().as_deref() != Some(&b"v2"[..]) {
        assert!(std::time::Instant::now() < deadline, "tags/keep/final.txt never showed the saved file");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        fx.run(["status"]).ok().lines().find(|l| l.starts_with("orphaned")).unwrap().split_whitespace().nth(1),
        Some("0")
    );
    // Remount: all of it is in the library.
    mnt.unmount();
    let again = fx.mount_at("again", &[]);
    assert_eq!(again.ls("tags/keep"), ["final.txt", "inner.txt"]);
}

#[test]
fn programs_work_through_the_mount_as_on_the_real_folder() {
    let fx = Fixture::new();
    fx.add();
    let mnt = fx.mount();
    let root = mnt.join("locations/files");
    // git: init, add, commit through the mount; the repository is sound on disk.
    std::fs::create_dir(root.join("repo")).unwrap();
    let repo = root.join("repo");
    run_in(&repo, "git", &["init", "-q"]);
    std::fs::write(repo.join("a.txt"), b"hello\n").unwrap();
    std::fs::create_dir(repo.join("sub")).unwrap();
    std::fs::write(repo.join("sub/b.txt"), b"there\n").unwrap();
    run_in(&repo, "git", &["add", "-A"]);
    run_in(&repo, "git", &["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "first"]);
    // tar: extract a tree through the mount; byte for byte the same as the source.
    let source = fx.dir.path().join("source");
    for (i, name) in ["x/1.txt", "x/y/2.bin", "z.txt"].iter().enumerate() {
        let p = source.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, vec![i as u8; 10_000 * (i + 1)]).unwrap();
    }
    let tarball = fx.dir.path().join("t.tar");
    let ok = Command::new("tar").arg("cf").arg(&tarball).arg("-C").arg(&source).arg(".").status().unwrap();
    assert!(ok.success());
    std::fs::create_dir(root.join("untar")).unwrap();
    let ok = Command::new("tar").arg("xf").arg(&tarball).arg("-C").arg(root.join("untar")).status().unwrap();
    assert!(ok.success());
    let diff = Command::new("diff").arg("-r").arg(&source).arg(root.join("untar")).output().unwrap();
    assert!(diff.status.success(), "{diff:?}");
    // rsync -a into and out of the mount: identical trees, times and modes included.
    let ok = Command::new("rsync")
        .arg("-a")
        .arg(format!("{}/", source.display()))
        .arg(root.join("synced"))
        .status()
        .unwrap();
    assert!(ok.success());
    let back = fx.dir.path().join("back");
    let ok =
        Command::new("rsync").arg("-a").arg(format!("{}/", root.join("synced").display())).arg(&back).status().unwrap();
    assert!(ok.success());
    let diff = Command::new("diff").arg("-r").arg(&source).arg(&back).output().unwrap();
    assert!(diff.status.success(), "{diff:?}");
    let mtime = |p: &Path| std::fs::metadata(p).unwrap().mtime();
    assert_eq!(mtime(&source.join("x/y/2.bin")), mtime(&back.join("x/y/2.bin")), "rsync -a kept the times");
    // cargo new through the mount.
    let out =
        Command::new("cargo").args(["new", "--vcs", "git", "--quiet", "hello"]).current_dir(&root).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    mnt.unmount();
    // After unmount, on the real folder: the commit is there and the extracted files are identical.
    assert!(
        fx.file("hello/Cargo.toml").is_file()
            && fx.file("hello/src/main.rs").is_file()
            && fx.file("hello/.git").is_dir()
    );
    let real_repo = fx.file("repo");
    assert_eq!(run_in(&real_repo, "git", &["log", "--format=%s"]), "first\n");
    assert_eq!(run_in(&real_repo, "git", &["status", "--porcelain"]), "");
    run_in(&real_repo, "git", &["fsck", "--no-progress"]);
    let diff = Command::new("diff").arg("-r").arg(&source).arg(fx.file("untar")).output().unwrap();
    assert!(diff.status.success(), "{diff:?}");
}

/// Every indexed path of a library, sorted.
fn indexed(library: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open_with_flags(library, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn
        .prepare("SELECT CAST(relative_path AS TEXT) || '/' || CAST(name AS TEXT), kind, size FROM entries")
        .unwrap();
    let mut rows: Vec<String> = stmt
        .query_map([], |r| Ok(format!("{} {} {}", r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    rows.sort();
    rows
}

#[test]
fn changes_outside_the_mount_show_and_tags_follow() {
    let fx = Fixture::new();
    fx.write("inbox/report.txt", b"report");
    fx.write("projects/alpha/plan.txt", b"plan");
    fx.add();
    fx.run([
        "tag".as_ref(),
        "keep".as_ref(),
        fx.file("inbox/report.txt").as_os_str(),
        fx.file("projects/alpha").as_os_str(),
    ])
    .ok();
    let mnt = fx.mount();
    let root = mnt.join("locations/files");
    // Created outside: shows in locations/ within a second.
    std::fs::write(fx.file("inbox/new.txt"), b"new").unwrap();
    std::fs::create_dir_all(fx.file("inbox/folder/deeper")).unwrap();
    std::fs::write(fx.file("inbox/folder/deeper/x.txt"), b"x").unwrap();
    eventually("new files show", || {
        root.join("inbox/folder/deeper/x.txt").exists() && root.join("inbox/new.txt").exists()
    });
    // Renamed and moved outside: the tag follows.
    std::fs::rename(fx.file("inbox/report.txt"), fx.file("projects/report-final.txt")).unwrap();
    eventually("the rename is seen", || mnt.ls("tags/keep").contains(&"report-final.txt".to_string()));
    assert_eq!(tags_of(&root.join("projects/report-final.txt")).as_deref(), Some("keep"));
    // A whole tagged folder moved: still tagged, with its contents.
    std::fs::rename(fx.file("projects/alpha"), fx.file("inbox/alpha-moved")).unwrap();
    eventually("the folder move is seen", || mnt.ls("tags/keep").contains(&"alpha-moved".to_string()));
    assert_eq!(std::fs::read(mnt.join("tags/keep/alpha-moved/plan.txt")).unwrap(), b"plan");
    // Deleted outside: gone from every view.
    std::fs::remove_file(fx.file("inbox/new.txt")).unwrap();
    eventually("the deletion is seen", || !mnt.ls("locations/files/inbox").contains(&"new.txt".to_string()));
    // Changed outside: the mount shows the new content and size.
    std::fs::write(fx.file("projects/report-final.txt"), b"report, second edition").unwrap();
    eventually("the new size is seen", || {
        std::fs::metadata(root.join("projects/report-final.txt")).map(|m| m.len()).unwrap_or(0) == 22
    });
    assert_eq!(std::fs::read(mnt.join("tags/keep/report-final.txt")).unwrap(), b"report, second edition");
}

#[test]
fn a_burst_of_outside_changes_ends_equal_to_a_fresh_rescan() {
    let fx = Fixture::new();
    fx.write("keep/tagged.txt", b"tagged");
    fx.add();
    fx.run(["tag".as_ref(), "survivor".as_ref(), fx.file("keep/tagged.txt").as_os_str()]).ok();
    let mnt = fx.mount();
    let burst = fx.file("burst");
    std::fs::create_dir(&burst).unwrap();
    for i in 0..10_000 {
        std::fs::write(burst.join(format!("f{i:05}")), format!("{i}")).unwrap();
    }
    for i in 0..10_000 {
        std::fs::rename(burst.join(format!("f{i:05}")), burst.join(format!("g{i:05}"))).unwrap();
    }
    for i in 0..10_000 {
        if i % 2 == 0 {
            std::fs::remove_file(burst.join(format!("g{i:05}"))).unwrap();
        }
    }
    std::fs::rename(fx.file("keep/tagged.txt"), fx.file("keep/renamed.txt")).unwrap();
    // A second library, scanned fresh, is the reference.
    let reference = fx.dir.path().join("reference.db");
    let run = common::Run::from(
        common::spacefs()
            .arg("--library")
            .arg(&reference)
            .args(["add", "--quiet", "--name", "files"])
            .arg(fx.files())
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{run:?}");
    let expected = indexed(&reference);
    assert_eq!(expected.len(), 5_000 + 3, "5,000 files, burst/, keep/ and keep/renamed.txt");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let now = indexed(&fx.library());
        if now == expected {
            break;
        }
        if std::time::Instant::now() > deadline {
            let missing: Vec<_> = expected.iter().filter(|e| !now.contains(e)).take(5).collect();
            let extra: Vec<_> = now.iter().filter(|e| !expected.contains(e)).take(5).collect();
            panic!("the watcher never caught up: {} entries, missing {missing:?}, extra {extra:?}", now.len());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(mnt.ls("tags/survivor"), ["renamed.txt"], "no tag on a surviving file is lost");
}

/// `count` empty files named `f0000`… in folder `folder` of the fixture's files; returns their names.
fn empty_files(fx: &Fixture, folder: &str, count: usize) -> Vec<String> {
    let names: Vec<String> = (0..count).map(|i| format!("f{i:04}")).collect();
    for name in &names {
        fx.write(format!("{folder}/{name}"), b"");
    }
    names
}

/// Fails unless every one of `names` in `dir` shows `size` bytes.
fn assert_sizes(dir: &Path, names: &[String], size: u64) {
    let stale: Vec<&String> = names.iter().filter(|n| std::fs::metadata(dir.join(n)).unwrap().len() != size).collect();
    assert!(stale.is_empty(), "{} files show an old size, e.g. {:?}", stale.len(), &stale[..stale.len().min(5)]);
}

/// Lists `dir` to its end, with `meanwhile` run after the first entry (once the kernel has the first page and
/// spacefs prepares the next); returns how many entries it listed.
fn list_around(dir: &Path, meanwhile: impl FnOnce(&std::ffi::OsStr)) -> usize {
    let mut listing = std::fs::read_dir(dir).unwrap();
    let first = listing.next().unwrap().unwrap().file_name();
    std::thread::sleep(std::time::Duration::from_millis(50));
    meanwhile(&first);
    let mut count = 1;
    for entry in listing {
        entry.unwrap();
        count += 1;
    }
    count
}

#[test]
fn a_listing_that_straddles_writes_shows_every_new_size() {
    // A folder whose listing takes several requests: spacefs prepares the next page while the kernel takes one
    // in, and must not hand out a size stated before a write made through the mount in between.
    let fx = Fixture::new();
    let names = empty_files(&fx, "big", 1200);
    fx.add();
    let mnt = fx.mount();
    let dir = mnt.join("locations/files/big");
    let listed = list_around(&dir, |_| {
        for name in &names {
            std::fs::write(dir.join(name), b"grown").unwrap();
        }
    });
    assert_eq!(listed, names.len());
    assert_sizes(&dir, &names, 5);
}

#[test]
fn a_listing_that_straddles_outside_changes_shows_every_new_size() {
    let fx = Fixture::new();
    let names = empty_files(&fx, "big", 1200);
    fx.add();
    let mnt = fx.mount();
    let dir = mnt.join("locations/files/big");
    let listed = list_around(&dir, |first| {
        // Changed on disk, the first listed file last: once the mount shows its new size, the watcher has handled
        // every change before it.
        for name in names.iter().filter(|n| first != n.as_str()) {
            std::fs::write(fx.file(format!("big/{name}")), b"grown").unwrap();
        }
        std::fs::write(fx.file(Path::new("big").join(first)), b"grown").unwrap();
        eventually("the watcher handled the changes", || std::fs::metadata(dir.join(first)).unwrap().len() == 5);
    });
    assert_eq!(listed, names.len());
    assert_sizes(&dir, &names, 5);
}

#[test]
fn a_walk_shows_changes_made_to_the_folder_it_enters_next() {
    // Listing a folder to its end also begins the listing of the folder a walk enters next (its first subfolder,
    // or the next folder in its parent); what changed there in between must show.
    let fx = Fixture::new();
    let names = empty_files(&fx, "walk/a", 300);
    empty_files(&fx, "walk/b", 300);
    fx.add();
    let mnt = fx.mount();
    let walk = mnt.join("locations/files/walk");
    let mut folders: Vec<_> = std::fs::read_dir(&walk).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(folders.len(), 2);
    let (first, next) = (walk.join(folders.remove(0)), walk.join(folders.remove(0)));
    assert_eq!(std::fs::read_dir(&first).unwrap().count(), names.len());
    std::thread::sleep(std::time::Duration::from_millis(50));
    for name in &names[..150] {
        std::fs::write(next.join(name), b"grown").unwrap();
    }
    std::fs::remove_file(next.join(&names[299])).unwrap();
    let listed: Vec<String> =
        std::fs::read_dir(&next).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(listed.len(), names.len() - 1);
    assert!(!listed.contains(&names[299]));
    assert_sizes(&next, &names[..150], 5);
}

#[test]
fn a_listing_shows_sizes_written_through_files_held_open() {
    // Writes through a descriptor opened on the mount reach the real file without a request to spacefs, so a
    // child stated for an earlier request must be stated again while any file is open for writing.
    let fx = Fixture::new();
    let names = empty_files(&fx, "held", 600);
    fx.add();
    let mnt = fx.mount();
    let dir = mnt.join("locations/files/held");
    let open: Vec<std::fs::File> =
        names.iter().map(|n| std::fs::OpenOptions::new().write(true).open(dir.join(n)).unwrap()).collect();
    let listed = list_around(&dir, |_| {
        for mut file in &open {
            std::io::Write::write_all(&mut file, b"grown").unwrap();
        }
    });
    assert_eq!(listed, names.len());
    assert_sizes(&dir, &names, 5);
    drop(open);
}
