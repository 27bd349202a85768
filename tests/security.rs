//! Who can reach what through a mount: other users are kept out unless `--allow-other`, and then the real files'
//! modes apply (default_permissions); the library file is private; nothing in the mount reaches outside the
//! locations. Other users are played by `setpriv` as uid/gid 65534 (nobody).

mod common;

use common::Fixture;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

/// Runs `sh -c SCRIPT` as nobody; returns (success, stderr).
fn as_nobody(script: &str) -> (bool, String) {
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", script])
        .output()
        .expect("setpriv (util-linux) runs");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A fixture whose folders other users may enter, so the only thing in their way is the mount itself.
fn open_fixture() -> Fixture {
    let fx = Fixture::new();
    std::fs::set_permissions(fx.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    fx.write("public.txt", b"for everyone");
    fx.write("private.txt", b"for root only");
    std::fs::set_permissions(fx.file("private.txt"), std::fs::Permissions::from_mode(0o600)).unwrap();
    fx.run(["add".as_ref(), fx.files().as_os_str()]).ok();
    let files = [fx.file("public.txt"), fx.file("private.txt")];
    fx.run(["tag".as_ref(), "shared".as_ref()].into_iter().chain(files.iter().map(|f| f.as_os_str()))).ok();
    fx
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

#[test]
fn without_allow_other_other_users_cannot_enter_the_mount() {
    let fx = open_fixture();
    // The real folder is readable by nobody: the refusal below is the mount's doing.
    let (ok, err) = as_nobody(&format!("cat {}", shell_quote(&fx.file("public.txt"))));
    assert!(ok, "{err}");
    let mnt = fx.mount();
    for path in [mnt.join(""), mnt.join("locations/files/public.txt"), mnt.join("tags/shared")] {
        let (ok, err) = as_nobody(&format!("ls {}", shell_quote(&path)));
        assert!(!ok, "nobody listed {}", path.display());
        assert!(err.contains("Permission denied"), "{err}");
    }
    // root, who mounted it, still can.
    assert_eq!(mnt.ls("tags/shared"), ["private.txt", "public.txt"]);
}

#[test]
fn with_allow_other_the_real_files_modes_decide() {
    let fx = open_fixture();
    let mnt = fx.mount_at("mnt", &["--allow-other"]);
    let public = shell_quote(&mnt.join("locations/files/public.txt"));
    let private = shell_quote(&mnt.join("locations/files/private.txt"));
    let (ok, err) = as_nobody(&format!("cat {public} && ls {}", shell_quote(&mnt.join("tags/shared"))));
    assert!(ok, "nobody cannot read a 0644 file through --allow-other: {err}");
    for (script, what) in [
        (format!("cat {private}"), "read a 0600 file of root"),
        (format!("cat {}", shell_quote(&mnt.join("tags/shared/private.txt"))), "read it through a tag folder"),
        (format!("echo x >> {public}"), "write a 0644 file of root"),
        (format!("touch {}", shell_quote(&mnt.join("locations/files/new"))), "create in root's 0755 folder"),
        (format!("rm {public}"), "delete from root's folder"),
        (format!("chmod 777 {public}"), "chmod root's file"),
        (format!("setfattr -n user.xdg.tags -v mine {public}"), "tag root's file"),
        (format!("mv {public} {}", shell_quote(&mnt.join("locations/files/moved"))), "rename root's file"),
    ] {
        let (ok, _) = as_nobody(&script);
        assert!(!ok, "nobody could {what}: {script}");
    }
    drop(mnt);
    assert_eq!(std::fs::read(fx.file("public.txt")).unwrap(), b"for everyone");
    assert_eq!(std::fs::read(fx.file("private.txt")).unwrap(), b"for root only");
    assert!(!fx.file("new").exists() && !fx.file("moved").exists());
    assert_eq!(fx.run(["tags".as_ref(), fx.file("public.txt").as_os_str()]).ok().trim(), "shared");
    assert_eq!(fx.run(["tags".as_ref(), fx.file("private.txt").as_os_str()]).ok().trim(), "shared");
}

#[test]
fn the_library_file_is_private() {
    let fx = Fixture::new();
    fx.run(["init"]).ok();
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", fx.library().display());
        if let Ok(meta) = std::fs::metadata(&path) {
            assert_eq!(meta.mode() & 0o777, 0o600, "{path}");
        }
    }
    assert_eq!(std::fs::metadata(fx.library()).unwrap().mode() & 0o777, 0o600);
}

#[test]
fn nothing_in_the_mount_reaches_outside_the_locations() {
    let fx = Fixture::new();
    let outside = fx.dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"not indexed").unwrap();
    fx.write("inside/file", b"indexed");
    std::os::unix::fs::symlink(&outside, fx.file("to-outside")).unwrap();
    std::os::unix::fs::symlink("../outside/secret", fx.file("relative-link")).unwrap();
    fx.run(["add".as_ref(), fx.files().as_os_str()]).ok();
    let mnt = fx.mount();
    let loc = mnt.join("locations/files");

    // Symlinks are shown as symlinks with their own text; the mount never lists what they point to.
    assert!(std::fs::symlink_metadata(loc.join("to-outside")).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_link(loc.join("relative-link")).unwrap(), Path::new("../outside/secret"));
    // A relative link resolves inside the mount, where there is no `outside`.
    assert_eq!(std::fs::read(loc.join("relative-link")).unwrap_err().kind(), std::io::ErrorKind::NotFound);
    // `..` stays inside the mount.
    let up: Vec<_> = std::fs::read_dir(loc.join("inside/../..")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(up, ["files"]);
    assert_eq!(mnt.ls("locations/files/inside/../../files/.."), ["files"]);
    // Attributes of a link are the link's: setting one never lands on the file it points to.
    let link = loc.join("to-outside");
    let set = Command::new("setfattr").args(["-h", "-n", "user.note", "-v", "x"]).arg(&link).output().unwrap();
    assert!(!set.status.success());
    assert!(xattr::get(&outside, "user.note").unwrap().is_none());
    // Tagging the link (`ln` into a tag folder) tags the link's entry: the tag folder shows the link, and
    // `find --tag` names the link, not the target.
    std::fs::create_dir(mnt.join("tags/linked")).unwrap();
    std::fs::hard_link(&link, mnt.join("tags/linked/to-outside")).unwrap();
    assert!(std::fs::symlink_metadata(mnt.join("tags/linked/to-outside")).unwrap().file_type().is_symlink());
    assert_eq!(fx.run(["find", "--tag", "linked"]).ok().trim(), fx.file("to-outside").display().to_string());
    assert!(xattr::get(&outside, "user.xdg.tags").unwrap().is_none());
    // A name with `/` cannot be made; a tag name with `/` is refused with EINVAL, not split into a path.
    let made = std::fs::create_dir(mnt.join("tags/a\u{2215}b"));
    assert!(made.is_ok(), "a lookalike slash is an ordinary character: {made:?}");
    let set =
        Command::new("setfattr").args(["-n", "user.xdg.tags", "-v", "../../etc"]).arg(loc.join("inside/file")).output();
    assert!(!set.unwrap().status.success());
    assert!(mnt.ls("tags").iter().all(|t| !t.contains('/')));
    // No view lists a file outside the locations.
    let listed = Command::new("find").arg(mnt.join("")).output().unwrap();
    assert!(!String::from_utf8_lossy(&listed.stdout).contains("secret"));
}

/// A write, a truncate or a chown(-1, -1) clears set-user-ID and set-group-ID bits through `locations/` exactly as
/// on the disk: the same modes come out for another user's append and truncate and for root's.
#[test]
fn set_id_bits_are_cleared_as_on_the_disk() {
    let fx = open_fixture();
    let native = fx.dir.path().join("native");
    std::fs::create_dir(&native).unwrap();
    let mnt = fx.mount_at("mnt", &["--allow-other"]);
    let mounted = mnt.join("locations/files");
    // (mode, group): other users may write each file; the last is in nobody's own group.
    let cases = [(0o4757, 0), (0o2757, 0), (0o2747, 0), (0o2707, 0), (0o6777, 0), (0o2767, 65534), (0o0757, 0)];
    let nobody = |script: String| {
        let (ok, err) = as_nobody(&script);
        assert!(ok, "{script}: {err}");
    };
    type Step<'a> = (&'a str, &'a dyn Fn(&Path));
    let steps: [Step; 4] = [
        ("nobody appends", &|p| nobody(format!("echo x >> {}", shell_quote(p)))),
        ("nobody truncates", &|p| nobody(format!("truncate -s 1 {}", shell_quote(p)))),
        ("root appends", &|p| {
            use std::io::Write;
            std::fs::OpenOptions::new().append(true).open(p).unwrap().write_all(b"x").unwrap();
        }),
        ("root chowns to -1:-1", &|p| std::os::unix::fs::chown(p, None, None).unwrap()),
    ];
    let mut differences = Vec::new();
    for (i, (mode, gid)) in cases.into_iter().enumerate() {
        for (what, step) in &steps {
            let outcome = |dir: &Path| {
                let p = dir.join(format!("f{i}"));
                std::fs::write(&p, b"data").unwrap();
                std::os::unix::fs::chown(&p, None, Some(gid)).unwrap();
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
                step(&p);
                std::fs::metadata(&p).unwrap().mode() & 0o7777
            };
            let (disk, through) = (outcome(&native), outcome(&mounted));
            if disk != through {
                differences.push(format!("{mode:o} (group {gid}), {what}: disk {disk:o}, mount {through:o}"));
            }
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// A POSIX ACL as Linux keeps it in `system.posix_acl_*`: a version, then (tag, permissions, id) entries.
fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
    let mut value = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in entries {
        value.extend(tag.to_le_bytes());
        value.extend(perm.to_le_bytes());
        value.extend(id.to_le_bytes());
    }
    value
}
const USER_OBJ: u16 = 0x01;
const USER: u16 = 0x02;
const GROUP_OBJ: u16 = 0x04;
const MASK: u16 = 0x10;
const OTHER: u16 = 0x20;
const UNDEFINED: u32 = u32::MAX;

#[test]
fn posix_acls_pass_through_to_the_real_file() {
    let fx = open_fixture();
    let mnt = fx.mount_at("mnt", &["--allow-other"]);
    let through = mnt.join("locations/files/private.txt");
    // What getfacl, setfacl, cp -a and rsync -A do: an ACL set through the mount is the real file's, and reads back.
    let granted = acl(&[
        (USER_OBJ, 6, UNDEFINED),
        (USER, 4, 65534),
        (GROUP_OBJ, 0, UNDEFINED),
        (MASK, 4, UNDEFINED),
        (OTHER, 0, UNDEFINED),
    ]);
    xattr::set(&through, "system.posix_acl_access", &granted).unwrap();
    let on_disk = xattr::get(fx.file("private.txt"), "system.posix_acl_access").unwrap();
    assert!(on_disk.is_some());
    assert_eq!(on_disk, xattr::get(&through, "system.posix_acl_access").unwrap());
    // (The ACL's mask shows as the group's bits, on the disk and through the mount.)
    assert_eq!(std::fs::metadata(&through).unwrap().mode(), std::fs::metadata(fx.file("private.txt")).unwrap().mode());
    assert!(xattr::list(&through).unwrap().any(|n| n == "system.posix_acl_access"));
    xattr::remove(&through, "system.posix_acl_access").unwrap();
    assert_eq!(xattr::get(fx.file("private.txt"), "system.posix_acl_access").unwrap(), None);
    // A file without one says ACLs are not supported, so `ls -l` stops asking each file through the mount.
    let missing = xattr::get(&through, "system.posix_acl_access").unwrap_err();
    assert_eq!(missing.raw_os_error(), Some(libc::EOPNOTSUPP));

    // An owner outside the file's group who sets an ACL on a set-group-ID file loses the bit, as on the disk.
    std::fs::create_dir_all(fx.file("disk")).unwrap();
    std::fs::create_dir_all(mnt.join("locations/files/mount")).unwrap();
    let value: String = granted.iter().map(|b| format!("{b:02x}")).collect();
    for file in [fx.file("disk/sgid"), mnt.join("locations/files/mount/sgid")] {
        std::fs::write(&file, b"x").unwrap();
        std::os::unix::fs::chown(&file, Some(65534), Some(0)).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o2660)).unwrap();
        let (ok, err) = as_nobody(&format!("setfattr -n system.posix_acl_access -v 0x{value} {}", shell_quote(&file)));
        assert!(ok, "{err}");
    }
    let modes: Vec<u32> = [fx.file("disk/sgid"), fx.file("mount/sgid")]
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().mode() & 0o7777)
        .collect();
    assert_eq!(modes[1], modes[0], "set-group-ID after an ACL set by its owner outside its group");
    assert_eq!(modes[0] & 0o2000, 0);
}
