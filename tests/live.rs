//! locations/ as a read-write window onto the real folders: programs work through it as on the real folder, and
//! tags follow files through renames.

mod common;

use common::Fixture;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

fn add(fx: &Fixture) {
    let run = fx.run(["add".as_ref(), fx.files().as_os_str(), "--quiet".as_ref()]);
    assert_eq!(run.code, 0, "{run:?}");
}

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
    add(&fx);
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
    add(&fx);
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
    add(&fx);
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
    mnt.unmount();
    // After unmount, on the real folder: the commit is there and the extracted files are identical.
    let real_repo = fx.file("repo");
    assert_eq!(run_in(&real_repo, "git", &["log", "--format=%s"]), "first\n");
    assert_eq!(run_in(&real_repo, "git", &["status", "--porcelain"]), "");
    run_in(&real_repo, "git", &["fsck", "--no-progress"]);
    let diff = Command::new("diff").arg("-r").arg(&source).arg(fx.file("untar")).output().unwrap();
    assert!(diff.status.success(), "{diff:?}");
}
