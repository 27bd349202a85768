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
