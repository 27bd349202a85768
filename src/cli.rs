//! The command line: clap definitions and the library path's defaults. Names here are pinned by the issues.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "spacefs",
    version,
    about = "Your files' tags, labels, favorites and duplicates, in one library you can browse as a filesystem",
    long_about = "spacefs keeps a library: one SQLite database that indexes the folders you add (its locations) and \
                  the tags, labels, notes and content hashes you keep about their files. Real files are never \
                  changed by indexing or tagging.",
    after_help = "Start with:\n  spacefs add ~/Pictures\n  spacefs tag holiday ~/Pictures/2026/beach.jpg\n  \
                  spacefs find --tag holiday\n  spacefs dupes"
)]
pub struct Cli {
    /// The library database [default: $SPACEFS_LIBRARY, else $XDG_DATA_HOME/spacefs/library.db, else
    /// ~/.local/share/spacefs/library.db]. Created on first use; its folder must exist.
    #[arg(long, global = true, value_name = "PATH", env = "SPACEFS_LIBRARY", hide_env = true)]
    pub library: Option<PathBuf>,

    /// No progress and no summaries; errors and requested output only.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IndexModeArg {
    /// Names, sizes and times only; no hashing (fastest; no duplicates).
    Metadata,
    /// Plus Spacedrive's sampled content id of every file; full hashes only for possible duplicates.
    Content,
    /// Plus a full BLAKE3 hash of every file (reads everything).
    Deep,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the library if it does not exist yet.
    #[command(after_help = "Example:\n  spacefs --library ~/lib.db init")]
    Init,

    /// Add a folder as a location and index it.
    #[command(after_help = "Examples:\n  spacefs add ~/Pictures\n  spacefs add /mnt/backup/photos --name old-photos \
                            --index-mode deep")]
    Add {
        /// The folder to index.
        dir: PathBuf,
        /// The location's name [default: the folder's name]. Names are unique.
        #[arg(long)]
        name: Option<String>,
        /// How much of each file to read.
        #[arg(long, value_enum, default_value = "content")]
        index_mode: IndexModeArg,
    },

    /// Re-index locations, reading only what changed (all locations when none is named).
    #[command(after_help = "Examples:\n  spacefs rescan\n  spacefs rescan Pictures Music")]
    Rescan {
        /// Location names.
        names: Vec<String>,
    },

    /// List the locations with their counts, sizes and last scan.
    #[command(after_help = "Example:\n  spacefs locations")]
    Locations,

    /// Forget a location and what the library knows of its files (the files themselves are not touched).
    #[command(after_help = "Example:\n  spacefs remove old-photos")]
    Remove {
        /// The location's name.
        name: String,
    },

    /// Counts, database and WAL sizes, and metadata kept for files that vanished.
    #[command(after_help = "Example:\n  spacefs status")]
    Status,

    /// Give files a tag (created if new).
    #[command(after_help = "Example:\n  spacefs tag holiday ~/Pictures/2026/*.jpg")]
    Tag {
        /// The tag: no '/', ',' or control characters, at most 255 bytes.
        tag: String,
        /// Files or folders inside a location.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },

    /// Take a tag off files.
    #[command(after_help = "Example:\n  spacefs untag holiday ~/Pictures/2026/beach.jpg")]
    Untag {
        /// The tag.
        tag: String,
        /// Files or folders inside a location.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },

    /// Give files a label (a path like work/2026; missing labels along it are created).
    #[command(after_help = "Example:\n  spacefs label work/clients/acme ~/Documents/acme/*.pdf")]
    Label {
        /// The label path: names joined by '/'.
        label: String,
        /// Files or folders inside a location (or inside the mount).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },

    /// Take a label off files (labels below it stay).
    #[command(after_help = "Example:\n  spacefs unlabel work/clients/acme ~/Documents/acme/old.pdf")]
    Unlabel {
        /// The label path.
        label: String,
        /// Files or folders inside a location (or inside the mount).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },

    /// Mark files as favorites.
    #[command(after_help = "Example:\n  spacefs favorite ~/Pictures/2026/beach.jpg")]
    Favorite {
        /// Files or folders inside a location (or inside the mount).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },

    /// Unmark favorites.
    #[command(after_help = "Example:\n  spacefs unfavorite ~/Pictures/2026/beach.jpg")]
    Unfavorite {
        /// Files or folders inside a location (or inside the mount).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },

    /// Set a file's notes (an empty TEXT clears them); shown as user.xdg.comment.
    #[command(after_help = "Example:\n  spacefs note ~/Documents/report.pdf \"sent to Anna on Monday\"")]
    Note {
        /// A file or folder inside a location (or inside the mount).
        file: PathBuf,
        /// The notes.
        text: String,
    },

    /// Rename a tag everywhere (refused if NEW exists: use merge-tags).
    #[command(after_help = "Example:\n  spacefs tag-rename holidays vacation")]
    TagRename {
        /// The tag's current name.
        old: String,
        /// Its new name.
        new: String,
    },

    /// Move every entry of tag FROM to tag INTO, then delete FROM.
    #[command(after_help = "Example:\n  spacefs merge-tags todo to-do")]
    MergeTags {
        /// The tag to merge away.
        from: String,
        /// The tag that remains.
        into: String,
    },

    /// Set a tag's colour: none, gray, green, purple, blue, yellow, red, orange, or Finder's digit 0-7.
    #[command(after_help = "Example:\n  spacefs tag-color urgent red")]
    TagColor {
        /// The tag.
        tag: String,
        /// The colour.
        color: String,
    },

    /// List all tags with how many entries carry each, or the tags of one file.
    #[command(after_help = "Examples:\n  spacefs tags\n  spacefs tags ~/Pictures/2026/beach.jpg")]
    Tags {
        /// A file or folder inside a location.
        file: Option<PathBuf>,
    },

    /// Print the real paths of the entries matching all the given conditions.
    #[command(after_help = "Examples:\n  spacefs find --tag holiday --tag 2026\n  spacefs find --label work/clients \
                            --favorite\n  spacefs find --query 'kind:image and (holiday or family) and not hidden'")]
    Find {
        /// Carries this tag (repeat for several: all must match).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// Carries this label or one below it (a path like work/2026).
        #[arg(long, value_name = "LABEL")]
        label: Option<String>,
        /// Is a favorite.
        #[arg(long)]
        favorite: bool,
        /// A query expression instead (see the README): `work and not old`, `kind:image size>10M`, …
        #[arg(long, value_name = "EXPR", conflicts_with_all = ["tags", "label", "favorite"])]
        query: Option<String>,
    },

    /// List groups of identical files (full-content hashes agree), largest first.
    #[command(after_help = "Example:\n  spacefs dupes")]
    Dupes,

    /// Check the library database's integrity and references, then compare every location's entries with its
    /// folder on disk (names, kinds, file sizes): lists ghosts (in the library, not on disk), missing files (on
    /// disk, not in the library) and entries that differ; exits 1 when anything is found ('spacefs rescan'
    /// repairs the differences). Changes a mounted daemon is still recording are waited for.
    #[command(after_help = "Example:\n  spacefs check")]
    Check,

    /// Copy the library to DEST while it is in use (SQLite online backup).
    #[command(after_help = "Example:\n  spacefs backup ~/library-2026-11-23.db")]
    Backup {
        /// A new file to write the copy to.
        dest: PathBuf,
    },

    /// Fold the write-ahead log back into the database file (and with --vacuum, reclaim free space).
    #[command(after_help = "Example:\n  spacefs optimize --vacuum")]
    Optimize {
        /// Also rebuild the database file to reclaim free space (slower).
        #[arg(long)]
        vacuum: bool,
    },

    /// Devices sharing this library through a sync folder: with no subcommand, lists them (this one first) with
    /// when each last exchanged and what is pending.
    #[command(after_help = "Examples:\n  spacefs devices join ~/Sync/spacefs --name laptop\n  spacefs devices")]
    Devices {
        #[command(subcommand)]
        action: Option<DevicesCommand>,
    },

    /// Exchange with the sync folder now: publish this device's tag, favorite, hidden, note and rating changes and
    /// apply the other devices' (a mounted daemon also does it whenever the folder changes).
    #[command(after_help = "Example:\n  spacefs sync")]
    Sync,

    /// Saved queries: folders of <mnt>/query/ that keep their expression (see the README for the language).
    #[command(subcommand)]
    Query(QueryCommand),

    /// Mount the library as a filesystem: locations/, tags/, labels/, favorites/, duplicates/.
    #[command(after_help = "Returns once the mount is ready and keeps serving in the background; stop it with \
                            'spacefs unmount MOUNTPOINT' (or 'fusermount3 -u MOUNTPOINT').\n\nExamples:\n  \
                            spacefs mount ~/Library\n  spacefs mount /mnt/lib --read-only --show-hidden")]
    Mount {
        /// An empty folder to mount on.
        mountpoint: PathBuf,
        /// Stay attached to the terminal; unmount cleanly on Ctrl-C or SIGTERM.
        #[arg(long)]
        foreground: bool,
        /// Refuse every change through the mount (EROFS).
        #[arg(long)]
        read_only: bool,
        /// Let other users enter the mount (file permissions still apply; needs user_allow_other in
        /// /etc/fuse.conf when not root).
        #[arg(long)]
        allow_other: bool,
        /// Show hidden entries in tags/, labels/, favorites/ and duplicates/.
        #[arg(long)]
        show_hidden: bool,
        /// Mount even if the folder is not empty (its files are hidden while mounted).
        #[arg(long)]
        nonempty: bool,
        /// How many entries the metadata cache keeps.
        #[arg(long, value_name = "N", default_value_t = 65_536)]
        cache_entries: usize,
    },

    /// Write each file's tags and notes onto the real file as user.xdg.tags and user.xdg.comment (what Dolphin and
    /// Baloo read), so they show in file managers and travel with cp -a, rsync -X and tar --xattrs. Files whose
    /// attributes already say so are left alone; files without tags or notes are not touched. Files on file
    /// systems without user extended attributes are counted and reported; the rest is still written.
    #[command(name = "export-xattrs")]
    #[command(after_help = "Examples:\n  spacefs export-xattrs --dry-run\n  spacefs export-xattrs Pictures\n  \
                            rsync -aX ~/Pictures/ /mnt/backup/Pictures/   (the tags go along)")]
    ExportXattrs {
        /// Location names [default: every location].
        names: Vec<String>,
        /// List what would change; write nothing.
        #[arg(long)]
        dry_run: bool,
    },

    /// Print a shell's completion script for spacefs (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Examples:\n  spacefs completions bash > ~/.local/share/bash-completion/completions/spacefs\n  \
                            spacefs completions zsh > ~/.zfunc/_spacefs\n  \
                            spacefs completions fish > ~/.config/fish/completions/spacefs.fish"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },

    /// Write a man page for spacefs and one per command (spacefs.1, spacefs-add.1, …) into DIR.
    #[command(after_help = "Examples:\n  spacefs man ~/.local/share/man/man1   (then: man spacefs)\n  \
                            sudo spacefs man /usr/local/share/man/man1")]
    Man {
        /// The folder to write the pages into [default: the current folder]; created if missing.
        dir: Option<PathBuf>,
    },

    /// Unmount a spacefs mount and wait for its daemon to close the library.
    #[command(after_help = "Example:\n  spacefs unmount ~/Library")]
    Unmount {
        /// Where the library is mounted.
        mountpoint: PathBuf,
    },

    /// Create a sample folder with duplicates, tags, labels and favorites in a demo library, mount it, and print
    /// what to try. The sample and its library live in $XDG_DATA_HOME/spacefs/demo (else
    /// ~/.local/share/spacefs/demo); running it again refreshes and remounts them.
    #[command(after_help = "Examples:\n  spacefs demo\n  spacefs demo /tmp/spacefs-demo-mount")]
    Demo {
        /// Where to mount [default: the demo folder's mnt/].
        mountpoint: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DevicesCommand {
    /// Tie this library to DIR, a folder that a file sync (Syncthing, a NAS share, a USB stick) carries between
    /// devices; an empty folder becomes a new sync folder. Tags, labels' entries, favorites, hidden flags, notes and
    /// ratings are shared; each device's locations and entries stay its own and are published as a snapshot.
    #[command(after_help = "Example:\n  spacefs devices join ~/Sync/spacefs --name laptop")]
    Join {
        /// The sync folder.
        dir: PathBuf,
        /// This device's name as other devices list it [default: the host name].
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum QueryCommand {
    /// Save EXPR under NAME, so <mnt>/query/NAME/ lists its matches (for expressions too long for a file name).
    #[command(after_help = "Example:\n  spacefs query save recent-photos 'kind:image and modified<30d and not hidden'")]
    Save {
        /// The folder name under query/: no '/', at most 255 bytes.
        name: String,
        /// The query expression.
        expression: String,
    },
    /// List the saved queries with their expressions.
    #[command(after_help = "Example:\n  spacefs query list")]
    List,
    /// Forget a saved query (entries are not touched).
    #[command(after_help = "Example:\n  spacefs query forget recent-photos")]
    Forget {
        /// The saved query's name.
        name: String,
    },
}

/// `$XDG_DATA_HOME/spacefs`, else `~/.local/share/spacefs`.
pub fn data_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = || std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".local/share"));
    xdg.filter(|p| p.is_absolute()).or_else(home).map(|d| d.join("spacefs"))
}

/// Mount options of the fuse3 helper convention that spacefs takes, for messages.
const MOUNT_OPTIONS: &str = "ro, rw, allow_other, default_permissions, nonempty, show_hidden, cache_entries=N";

/// The arguments of a call in the fuse3 mount helper's convention, as `mount -t fuse.spacefs LIBRARY MOUNTPOINT -o
/// OPTS` and an fstab line make `mount.fuse3` call spacefs: `spacefs LIBRARY MOUNTPOINT [-o OPTS] [-f]`, turned into
/// the equivalent `spacefs --library LIBRARY mount MOUNTPOINT [--read-only] …`. Any other call is returned as it is.
/// Options about the mount itself that mount(8) and its helper have dealt with (`user`, `noauto`, `nosuid`, …) are
/// ignored; an unknown option is an error naming those spacefs takes.
pub fn from_mount_helper(args: Vec<std::ffi::OsString>) -> Result<Vec<std::ffi::OsString>, String> {
    use clap::CommandFactory;
    use std::os::unix::ffi::OsStrExt;
    let positional = |i: usize| args.get(i).filter(|a| !a.as_bytes().starts_with(b"-"));
    let (Some(library), Some(mountpoint)) = (positional(1), positional(2)) else { return Ok(args) };
    let command = Cli::command();
    let library_text = library.to_string_lossy();
    if library_text == "help" || command.get_subcommands().any(|s| s.get_name() == library_text) {
        return Ok(args);
    }
    // Quiet, as mount(8) helpers are: mount says nothing when all went well.
    let mut out: Vec<std::ffi::OsString> = vec![
        args[0].clone(),
        "--quiet".into(),
        "--library".into(),
        library.clone(),
        "mount".into(),
        mountpoint.clone(),
    ];
    let mut rest = args[3..].iter();
    while let Some(arg) = rest.next() {
        let arg = arg.to_str().ok_or_else(|| format!("{} is not valid text", arg.to_string_lossy()))?;
        let options = match arg {
            "-o" => rest
                .next()
                .and_then(|o| o.to_str())
                .ok_or_else(|| "-o needs a list of options (like -o ro,allow_other)".to_owned())?,
            "-f" | "-d" => {
                out.push("--foreground".into());
                continue;
            }
            other if other.starts_with("-o") => &other[2..],
            other => {
                return Err(format!("unknown argument '{other}' for a mount (spacefs LIBRARY MOUNTPOINT -o OPTIONS)"));
            }
        };
        for option in options.split(',').filter(|o| !o.is_empty()) {
            let (name, value) = match option.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (option, None),
            };
            match (name, value) {
                ("ro", None) => out.push("--read-only".into()),
                ("allow_other", None) => out.push("--allow-other".into()),
                ("nonempty", None) => out.push("--nonempty".into()),
                ("show_hidden", None) => out.push("--show-hidden".into()),
                ("cache_entries", Some(n)) => out.extend(["--cache-entries".into(), n.into()]),
                // spacefs always lets the kernel check permissions against the real files' modes.
                ("default_permissions" | "rw", None) => {}
                // What mount(8) and mount.fuse3 handle: when and by whom it mounts, and how the kernel treats it.
                (
                    "defaults" | "user" | "users" | "nouser" | "owner" | "group" | "auto" | "noauto" | "_netdev"
                    | "nofail" | "suid" | "nosuid" | "dev" | "nodev" | "exec" | "noexec" | "atime" | "noatime"
                    | "relatime" | "norelatime" | "strictatime" | "nodiratime" | "diratime" | "sync" | "async"
                    | "dirsync" | "lazytime" | "nolazytime" | "silent" | "loud",
                    None,
                ) => {}
                (name, _) if name.starts_with("x-") || name == "comment" => {}
                _ => return Err(format!("unknown mount option '{option}' (spacefs takes {MOUNT_OPTIONS})")),
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn helper(args: &[&str]) -> Result<Vec<String>, String> {
        let args = args.iter().map(OsString::from).collect();
        from_mount_helper(args).map(|a| a.into_iter().map(|a| a.into_string().unwrap()).collect())
    }

    #[test]
    fn the_mount_helper_convention_becomes_a_mount_command() {
        assert_eq!(
            helper(&["spacefs", "/l.db", "/mnt", "-o", "rw,noauto,user,allow_other,nosuid,nodev,cache_entries=9"])
                .unwrap(),
            ["spacefs", "--quiet", "--library", "/l.db", "mount", "/mnt", "--allow-other", "--cache-entries", "9"]
        );
        assert_eq!(
            helper(&["spacefs", "/l.db", "/mnt", "-oro,show_hidden", "-f"]).unwrap(),
            [
                "spacefs",
                "--quiet",
                "--library",
                "/l.db",
                "mount",
                "/mnt",
                "--read-only",
                "--show-hidden",
                "--foreground"
            ]
        );
        // Commands are left alone.
        assert_eq!(helper(&["spacefs", "tag", "t", "f"]).unwrap(), ["spacefs", "tag", "t", "f"]);
        assert_eq!(helper(&["spacefs", "mount", "/mnt"]).unwrap(), ["spacefs", "mount", "/mnt"]);
        assert_eq!(helper(&["spacefs", "--library", "x", "status"]).unwrap(), ["spacefs", "--library", "x", "status"]);
        let unknown = helper(&["spacefs", "/l.db", "/mnt", "-o", "bogus"]).unwrap_err();
        assert!(unknown.contains("unknown mount option 'bogus'") && unknown.contains("allow_other"), "{unknown}");
    }
}
