//! Every bad input in `scripts/badinput` (CLI arguments, damaged or locked libraries, mountpoints, names, attribute
//! values) gets a clear one-line error or the documented errno, and loses nothing.

#[test]
fn every_bad_input_gets_a_clear_answer_and_loses_nothing() {
    let out = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/badinput"))
        .args(["--bin", env!("CARGO_BIN_EXE_spacefs")])
        .output()
        .expect("python3 runs scripts/badinput");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains(" bad inputs tried, 0 problems"), "{stdout}{stderr}");
    assert!(!stdout.contains("| **NO** |"), "{stdout}");
}
