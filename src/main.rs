//! The `spacefs` command: parse arguments, run, and turn the outcome into an exit code and one line on stderr.

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn,fuser::mnt=error")).init();
    spacefs::raise_open_files_limit();
    // `mount -t fuse.spacefs` and fstab lines call `spacefs LIBRARY MOUNTPOINT -o OPTIONS` (the fuse3 helper's way).
    let args = match spacefs::cli::from_mount_helper(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("spacefs: {message}");
            return ExitCode::FAILURE;
        }
    };
    let cli = spacefs::cli::Cli::parse_from(args);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = spacefs::app::run(cli, &mut out).and_then(|ok| {
        out.flush().map_err(|e| spacefs::Error::io_ctx("standard output", e))?;
        Ok(ok)
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        // A reader that went away (`spacefs find … | head`) is not an error.
        Err(spacefs::Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            drop(out);
            eprintln!("spacefs: {err}");
            ExitCode::FAILURE
        }
    }
}
