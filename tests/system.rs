//! spacefs as the system mounts it: through `mount -t fuse.spacefs` and an fstab line (the fuse3 helper's calling
//! convention), and under systemd (Type=notify: READY=1 once the mount answers, STOPPING=1 and a clean unmount on
//! SIGTERM).

mod common;

use common::{Fixture, Mounted, eventually, mounted, spacefs};
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

/// Runs a shell script in a mount namespace of its own, where /usr/local/bin holds only the spacefs under test (the
/// fuse3 helper finds `spacefs` in the standard PATH; the system's own folder is not touched). Returns its output.
fn in_namespace(fx: &Fixture, script: &str) -> std::process::Output {
    let bin = fx.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let _ = std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_spacefs"), bin.join("spacefs"));
    let script = format!("set -eu\nmount --bind {} /usr/local/bin\n{script}", bin.display());
    Command::new("unshare").args(["--mount", "--propagation", "private", "sh", "-c", &script]).output().unwrap()
}

#[test]
fn mount_t_fuse_spacefs_and_an_fstab_line_mount_and_umount_unmounts() {
    let fx = Fixture::new();
    fx.write("a.txt", b"hello");
    fx.add();
    let (lib, mnt) = (fx.library(), fx.dir.path().join("Library"));
    std::fs::create_dir(&mnt).unwrap();
    let fstab = fx.dir.path().join("fstab");
    std::fs::write(
        &fstab,
        format!("{}  {}  fuse.spacefs  noauto,user,ro,allow_other  0 0\n", lib.display(), mnt.display()),
    )
    .unwrap();
    let out = in_namespace(
        &fx,
        &format!(
            r#"
mount -t fuse.spacefs {lib} {mnt} -o noauto,allow_other,show_hidden
cat {mnt}/locations/files/a.txt; echo
grep " {mnt} " /proc/self/mounts | cut -d' ' -f3
umount {mnt}
grep -c " {mnt} " /proc/self/mounts || echo unmounted
# umount returns at once; the daemon then closes the library (a second mount of it would wait for that).
for i in $(seq 200); do pgrep -f "[m]ount {mnt} --foreground" >/dev/null || break; sleep 0.05; done
mount -T {fstab} {mnt} || echo "mount -T failed"
grep " {mnt} " /proc/self/mounts | cut -d' ' -f4 | tr ',' '\n' | grep -x ro || echo "not ro"
touch {mnt}/locations/files/new 2>&1 || true
umount {mnt}
grep -c " {mnt} " /proc/self/mounts || echo unmounted
"#,
            lib = lib.display(),
            mnt = mnt.display(),
            fstab = fstab.display()
        ),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    // (`grep -c` prints 0 when the mount is gone; then "unmounted".)
    assert_eq!(lines[..4], ["hello", "fuse.spacefs", "0", "unmounted"], "{stdout}\n{stderr}");
    assert_eq!(lines[4], "ro", "the fstab line's ro: {stdout}\n{stderr}");
    assert!(lines[5].contains("Read-only file system"), "{stdout}\n{stderr}");
    assert_eq!(lines[6..], ["0", "unmounted"], "{stdout}\n{stderr}");
    assert!(!fx.file("new").exists());
}

#[test]
fn a_bad_mount_option_is_one_clear_line() {
    let fx = Fixture::new();
    fx.add();
    let mnt = fx.dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let run = common::Run::from(spacefs().arg(fx.library()).arg(&mnt).args(["-o", "rw,bogus"]).output().unwrap());
    run.fails_with("unknown mount option 'bogus' (spacefs takes ro, rw, allow_other");
    assert!(!mounted(&mnt));
}

#[test]
fn under_systemd_ready_comes_once_the_mount_answers_and_sigterm_unmounts() {
    let fx = Fixture::new();
    fx.write("a.txt", b"a");
    fx.add();
    let socket_path = fx.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let guard = Mounted { path: fx.dir.path().join("Library") };
    std::fs::create_dir(&guard.path).unwrap();
    let mut child = spacefs()
        .env("NOTIFY_SOCKET", &socket_path)
        .arg("--library")
        .arg(fx.library())
        .args(["mount", "--foreground"])
        .arg(&guard.path)
        .spawn()
        .unwrap();
    let receive = || {
        let mut buf = [0u8; 4096];
        let n = socket.recv(&mut buf).expect("a notification from spacefs");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let first = receive();
    assert!(first.lines().any(|l| l == "READY=1"), "{first:?}");
    // At READY=1 the mount is usable, not merely started.
    assert!(mounted(&guard.path));
    assert_eq!(guard.ls("locations/files"), ["a.txt"]);
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let stopping = receive();
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping:?}");
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    eventually("unmounted", || !mounted(&guard.path));
}
