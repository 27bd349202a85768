//! What each command does, over the library and the indexer. Output goes to `out`; progress to standard error.

use crate::cli::{Cli, Command, DevicesCommand, IndexModeArg, QueryCommand, data_dir};
use crate::error::{Error, Result, shown};
use crate::index::{self, ScanOptions, ScanReport};
use crate::library::resolve::{place_of, resolve_entries, resolve_entry};
use crate::library::write::{Flag, NewLocation};
use crate::library::{EntryId, IndexMode, Library, Location};
use crate::mount::MountArgs;
use crate::names::{LabelPath, TagName};
use indicatif::HumanBytes;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Runs one command; `Ok(false)` means it ran but found a problem to report with a non-zero exit (`check`).
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<bool> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Demo { mountpoint } => {
            // The demo keeps to its own library unless --library names one; $SPACEFS_LIBRARY is the user's own.
            let from_env = std::env::var_os("SPACEFS_LIBRARY").map(PathBuf::from);
            let library = cli.library.filter(|l| Some(l) != from_env.as_ref());
            return demo(mountpoint, library, quiet, out);
        }
        Command::Unmount { mountpoint } => {
            crate::mount::unmount(&mountpoint)?;
            return Ok(true);
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "spacefs", out);
            return Ok(true);
        }
        Command::Man { dir } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from("."));
            let written = write_man_pages(&dir)?;
            if !quiet {
                writeln!(out, "wrote {written} man pages to {} (see 'man spacefs')", shown(&dir)).map_err(write_err)?;
            }
            return Ok(true);
        }
        Command::Mount { mountpoint, foreground, read_only, allow_other, show_hidden, nonempty, cache_entries } => {
            let args =
                MountArgs { mountpoint, foreground, read_only, allow_other, show_hidden, nonempty, cache_entries };
            crate::mount::mount(&library_path(cli.library)?, &args)?;
            if !foreground && !quiet {
                writeln!(out, "mounted the library on {}", shown(&args.mountpoint)).map_err(write_err)?;
            }
            return Ok(true);
        }
        _ => {}
    }
    let library = Library::open(&library_path(cli.library)?)?;
    let ctx = Ctx { library, quiet };
    match cli.command {
        Command::Init => {
            writeln!(out, "library ready at {}", shown(ctx.library.path())).map_err(write_err)?;
        }
        Command::Add { dir, name, index_mode } => ctx.add(&dir, name, index_mode, out)?,
        Command::Rescan { names } => ctx.rescan(&names, out)?,
        Command::Locations => ctx.locations(out)?,
        Command::Remove { name } => ctx.remove(&name, out)?,
        Command::Status => ctx.status(out)?,
        Command::Tag { tag, files } => ctx.tag(&tag, &files, true, out)?,
        Command::Untag { tag, files } => ctx.tag(&tag, &files, false, out)?,
        Command::Tags { file } => ctx.tags(file.as_deref(), out)?,
        Command::ExportXattrs { names, dry_run } => ctx.export_xattrs(&names, dry_run, out)?,
        Command::Label { label, files } => ctx.label(&label, &files, true, out)?,
        Command::Unlabel { label, files } => ctx.label(&label, &files, false, out)?,
        Command::Favorite { files } => ctx.favorite(&files, true, out)?,
        Command::Unfavorite { files } => ctx.favorite(&files, false, out)?,
        Command::Note { file, text } => {
            let entry = resolve_or_index(&ctx.library, &[file])?[0];
            ctx.library.writer().set_notes(entry, (!text.is_empty()).then_some(text))?;
        }
        Command::TagRename { old, new } => {
            let (old, new) = (TagName::parse(&old)?, TagName::parse(&new)?);
            ctx.library.writer().rename_tag(old.clone(), new.clone())?;
            ctx.say(out, &format!("renamed tag '{old}' to '{new}'"))?;
        }
        Command::MergeTags { from, into } => {
            let (from, into) = (TagName::parse(&from)?, TagName::parse(&into)?);
            let moved = ctx.library.writer().merge_tags(from.clone(), into.clone())?;
            ctx.say(out, &format!("merged '{from}' into '{into}' ({moved} entries gained '{into}')"))?;
        }
        Command::Query(QueryCommand::Save { name, expression }) => {
            if name.is_empty()
                || name.contains('/')
                || name.len() > crate::names::MAX_NAME_BYTES
                || name.chars().any(char::is_control)
            {
                return Err(Error::InvalidName(format!(
                    "invalid query name {name:?}: it must be a non-empty folder name without '/' (at most 255 bytes)"
                )));
            }
            crate::query::parse(&expression)
                .map_err(|e| Error::Invalid(format!("invalid query {expression:?}: {e}")))?;
            ctx.library.writer().save_query(name.clone(), expression)?;
            ctx.say(out, &format!("saved query '{name}' (see <mnt>/query/{name}/)"))?;
        }
        Command::Query(QueryCommand::List) => {
            for (_, name, expression) in ctx.library.reader()?.saved_queries()? {
                writeln!(out, "{name}\t{expression}").map_err(write_err)?;
            }
        }
        Command::Query(QueryCommand::Forget { name }) => {
            ctx.library.writer().forget_query(name.clone())?;
            ctx.say(out, &format!("forgot query '{name}'"))?;
        }
        Command::TagColor { tag, color } => {
            let tag = TagName::parse(&tag)?;
            ctx.library.writer().set_tag_color(tag, crate::xattr::parse_color(&color)?)?;
        }
        Command::Find { query: Some(expr), .. } => {
            let parsed =
                crate::query::parse(&expr).map_err(|e| Error::Invalid(format!("invalid query {expr:?}: {e}")))?;
            for path in ctx.library.reader()?.query_paths(&parsed)? {
                out.write_all(path.as_os_str().as_bytes()).and_then(|()| out.write_all(b"\n")).map_err(write_err)?;
            }
        }
        Command::Find { tags, label, favorite, query: None } => ctx.find(&tags, label.as_deref(), favorite, out)?,
        Command::Dupes => ctx.dupes(out)?,
        Command::Devices { action: Some(DevicesCommand::Join { dir, name }) } => {
            let joined = crate::sync::join(&ctx.library, &dir, name.as_deref())?;
            ctx.say(out, &format!("joined {} as device '{}'", shown(&dir), joined.name))?;
            ctx.report_sync(&joined.synced, out)?;
        }
        Command::Devices { action: None } => ctx.devices(out)?,
        Command::Sync => {
            let synced = crate::sync::sync(&ctx.library)?;
            ctx.report_sync(&synced, out)?;
        }
        Command::Check => return ctx.check(out),
        Command::Backup { dest } => ctx.backup(&dest, out)?,
        Command::Optimize { vacuum } => {
            ctx.library.writer().optimize(vacuum)?;
            if !quiet {
                writeln!(out, "optimized {}", shown(ctx.library.path())).map_err(write_err)?;
            }
        }
        Command::Demo { .. }
        | Command::Mount { .. }
        | Command::Unmount { .. }
        | Command::Completions { .. }
        | Command::Man { .. } => unreachable!("handled above"),
    }
    Ok(true)
}

/// The library file to use: the one given, else the default (whose folder is created when missing).
pub fn library_path(given: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(path) = given {
        return Ok(path);
    }
    let dir = data_dir().ok_or_else(|| {
        Error::Library(
            "cannot find a place for the library: neither XDG_DATA_HOME nor HOME is set (use --library PATH)".into(),
        )
    })?;
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(dir.join("library.db"))
}

fn write_err(e: std::io::Error) -> Error {
    Error::io_ctx("standard output", e)
}

struct Ctx {
    library: Library,
    quiet: bool,
}

impl Ctx {
    fn add(&self, dir: &Path, name: Option<String>, mode: IndexModeArg, out: &mut dyn Write) -> Result<()> {
        let meta = std::fs::metadata(dir).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(format!("{} does not exist (check the path)", shown(dir))),
            _ => Error::io(dir, e),
        })?;
        if !meta.is_dir() {
            return Err(Error::NotADirectory(format!(
                "{} is not a folder (add the folder that contains it)",
                shown(dir)
            )));
        }
        let path = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
        let name = match name {
            Some(name) => name,
            None => path.file_name().map(|n| n.to_string_lossy().into_owned()).ok_or_else(|| {
                Error::Invalid("the root folder has no name: give the location one with --name".into())
            })?,
        };
        check_location_name(&name)?;
        let index_mode = match mode {
            IndexModeArg::Metadata => IndexMode::Metadata,
            IndexModeArg::Content => IndexMode::Content,
            IndexModeArg::Deep => IndexMode::Deep,
        };
        let new =
            NewLocation { name: name.clone(), path: path.clone(), index_mode, device_id: self.library.device_id() };
        self.library.writer().add_location(new)?;
        if !self.quiet {
            writeln!(out, "added location '{name}' ({}), {} mode", shown(&path), index_mode.as_str())
                .map_err(write_err)?;
        }
        let location = self.library.reader()?.location_named(&name)?;
        self.scan(&location, out)
    }

    fn scan(&self, location: &Location, out: &mut dyn Write) -> Result<()> {
        let report = index::scan(&self.library, location, ScanOptions { progress: !self.quiet })?;
        if !self.quiet {
            print_report(&report, out)?;
        }
        if report.unreadable > 0 {
            eprintln!(
                "spacefs: {} files or folders in '{}' could not be read and were skipped, e.g. {}",
                report.unreadable,
                report.location,
                report.unreadable_examples.join("; ")
            );
        }
        Ok(())
    }

    fn rescan(&self, names: &[String], out: &mut dyn Write) -> Result<()> {
        let reader = self.library.reader()?;
        let locations = if names.is_empty() {
            reader.locations()?
        } else {
            names.iter().map(|n| reader.location_named(n)).collect::<Result<Vec<_>>>()?
        };
        if locations.is_empty() && !self.quiet {
            writeln!(out, "no locations yet (add one with 'spacefs add DIR')").map_err(write_err)?;
        }
        for location in &locations {
            self.scan(location, out)?;
        }
        Ok(())
    }

    fn locations(&self, out: &mut dyn Write) -> Result<()> {
        let locations = self.library.reader()?.locations()?;
        if locations.is_empty() {
            writeln!(out, "no locations yet (add one with 'spacefs add DIR')").map_err(write_err)?;
            return Ok(());
        }
        let width = locations.iter().map(|l| l.name.chars().count()).max().unwrap_or(4).max(4);
        writeln!(
            out,
            "{:width$}  {:8}  {:>9}  {:>8}  {:>10}  {:19}  PATH",
            "NAME", "MODE", "FILES", "FOLDERS", "SIZE", "LAST SCAN (UTC)"
        )
        .map_err(write_err)?;
        for l in locations {
            let last = match (&l.last_scan, l.scan_state.as_str()) {
                (_, "scanning") => "scanning or stopped".to_owned(),
                (_, "failed") => "failed".to_owned(),
                (Some(at), _) => at.clone(),
                (None, _) => "never".to_owned(),
            };
            writeln!(
                out,
                "{:width$}  {:8}  {:>9}  {:>8}  {:>10}  {:19}  {}",
                l.name,
                l.index_mode.as_str(),
                l.file_count,
                l.dir_count,
                HumanBytes(l.total_bytes.max(0) as u64).to_string(),
                last,
                shown(&l.path)
            )
            .map_err(write_err)?;
        }
        Ok(())
    }

    fn remove(&self, name: &str, out: &mut dyn Write) -> Result<()> {
        let location = self.library.reader()?.location_named(name)?;
        let removed = self.library.writer().remove_location(location.id)?;
        if !self.quiet {
            writeln!(
                out,
                "removed location '{name}': {} entries forgotten ({} with tags, labels or notes); no file was touched",
                removed.entries, removed.with_metadata
            )
            .map_err(write_err)?;
        }
        Ok(())
    }

    fn status(&self, out: &mut dyn Write) -> Result<()> {
        let s = self.library.reader()?.status()?;
        let path = self.library.path();
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let lines = [
            format!("library    {}", shown(path)),
            format!("size       {} (WAL {})", HumanBytes(size(path)), HumanBytes(size(Path::new(&wal)))),
            format!("locations  {}", s.locations),
            format!(
                "entries    {} files, {} folders, {} symlinks, {}",
                s.files,
                s.dirs,
                s.symlinks,
                HumanBytes(s.bytes.max(0) as u64)
            ),
            format!("contents   {} distinct content ids", s.contents),
            format!("tags       {} ({} entries tagged)", s.tags, s.tagged_entries),
            format!("labels     {}", s.labels),
            format!("favorites  {}", s.favorites),
            format!("orphaned   {} (metadata kept for files that vanished; re-linked when they come back)", s.orphans),
        ];
        for line in lines {
            writeln!(out, "{line}").map_err(write_err)?;
        }
        Ok(())
    }

    fn tag(&self, tag: &str, files: &[PathBuf], add: bool, out: &mut dyn Write) -> Result<()> {
        let tag = TagName::parse(tag)?;
        let entries = resolve_or_index(&self.library, files)?;
        let count = entries.len();
        let changed = if add {
            self.library.writer().tag(entries, vec![tag.clone()])?
        } else {
            self.library.writer().untag(entries, vec![tag.clone()])?
        };
        if !self.quiet {
            let (verb, prep) = if add { ("tagged", "with") } else { ("untagged", "from") };
            writeln!(out, "{verb} {changed} of {count} files {prep} '{tag}'").map_err(write_err)?;
        }
        Ok(())
    }

    /// A problem with one item of many, on standard error; the command goes on.
    fn warn(&self, line: &str) {
        eprintln!("spacefs: {line}");
    }

    fn report_sync(&self, synced: &crate::sync::Synced, out: &mut dyn Write) -> Result<()> {
        for why in &synced.refused {
            eprintln!("spacefs: refused {why} (the other devices' changes were applied; ask its owner to sync again)");
        }
        if synced.skipped > 0 {
            eprintln!("spacefs: skipped {} malformed values in the shared document", synced.skipped);
        }
        self.say(
            out,
            &format!(
                "synced: {} changes published, {} change files merged, {} tags, {} labels and {} entries updated here",
                synced.published, synced.merged, synced.tags_written, synced.labels_written, synced.entries_written
            ),
        )
    }

    fn devices(&self, out: &mut dyn Write) -> Result<()> {
        let (folder, devices) = crate::sync::devices(&self.library)?;
        writeln!(out, "sync folder: {}", shown(&folder)).map_err(write_err)?;
        let name_of = |d: &crate::sync::DeviceStatus| {
            if d.this_device { format!("{} (this)", d.name) } else { d.name.clone() }
        };
        let width = devices.iter().map(|d| name_of(d).chars().count()).max().unwrap_or(4).max(4);
        writeln!(out, "{:width$}  {:32}  {:14}  PENDING", "NAME", "ID", "LAST SYNC").map_err(write_err)?;
        for d in devices {
            let name = name_of(&d);
            let pending = match (d.this_device, d.pending) {
                (true, 0) => "nothing to publish".to_owned(),
                (true, n) => format!("{n} changes to publish"),
                (false, 0) => "nothing to apply".to_owned(),
                (false, n) => format!("{n} change files to apply"),
            };
            let refused = d.refused.map(|r| format!("; refused {r}")).unwrap_or_default();
            writeln!(out, "{name:width$}  {:32}  {:14}  {pending}{refused}", d.device.simple(), ago(d.last_sync_at))
                .map_err(write_err)?;
        }
        Ok(())
    }

    fn say(&self, out: &mut dyn Write, line: &str) -> Result<()> {
        if !self.quiet {
            writeln!(out, "{line}").map_err(write_err)?;
        }
        Ok(())
    }

    fn label(&self, label: &str, files: &[PathBuf], add: bool, out: &mut dyn Write) -> Result<()> {
        let label = LabelPath::parse(label)?;
        let entries = resolve_or_index(&self.library, files)?;
        let count = entries.len();
        if add {
            let changed = self.library.writer().label(entries, label.clone())?;
            self.say(out, &format!("labelled {changed} of {count} files with '{label}'"))
        } else {
            let changed = self.library.writer().unlabel(entries, label.clone())?;
            self.say(out, &format!("unlabelled {changed} of {count} files from '{label}'"))
        }
    }

    fn favorite(&self, files: &[PathBuf], on: bool, out: &mut dyn Write) -> Result<()> {
        let entries = resolve_or_index(&self.library, files)?;
        let count = entries.len();
        let changed = self.library.writer().set_flag(entries, Flag::Favorite, on)?;
        let verb = if on { "favorited" } else { "unfavorited" };
        self.say(out, &format!("{verb} {changed} of {count} files"))
    }

    fn export_xattrs(&self, names: &[String], dry_run: bool, out: &mut dyn Write) -> Result<()> {
        let reader = self.library.reader()?;
        let locations = if names.is_empty() {
            reader.locations()?
        } else {
            names.iter().map(|n| reader.location_named(n)).collect::<Result<Vec<_>>>()?
        };
        let (mut written, mut current, mut unsupported, mut failed) = (0u64, 0u64, 0u64, 0u64);
        for location in &locations {
            for entry in reader.exportable(location.id)? {
                let path = crate::library::real_path(&location.path, &entry.relative_path, &entry.name);
                let wanted = [(crate::xattr::XDG_TAGS, entry.tags), (crate::xattr::XDG_COMMENT, entry.notes)];
                match self.export_one(&path, wanted, dry_run, out)? {
                    Exported::Written => written += 1,
                    Exported::Current => current += 1,
                    Exported::Unsupported => unsupported += 1,
                    Exported::Failed => failed += 1,
                }
            }
        }
        let verb = if dry_run { "would write" } else { "wrote" };
        let mut summary = format!("{verb} the tags and notes of {written} files ({current} already up to date)");
        if unsupported > 0 {
            summary.push_str(&format!(
                "; {unsupported} files are on file systems without user extended attributes (not written)"
            ));
        }
        if failed > 0 {
            summary.push_str(&format!("; {failed} could not be written (see above)"));
        }
        self.say(out, &summary)
    }

    /// Writes the attributes of one file that differ from `wanted` (or, with `dry_run`, says it would).
    fn export_one(
        &self,
        path: &Path,
        wanted: [(&'static str, Option<String>); 2],
        dry_run: bool,
        out: &mut dyn Write,
    ) -> Result<Exported> {
        // A file system without user attributes is counted; any other failure (a file gone since it was indexed,
        // one that may not be written) is said once, and the rest goes on.
        let failure = |e: std::io::Error, what: &str| {
            if e.raw_os_error() == Some(libc::EOPNOTSUPP) {
                return Exported::Unsupported;
            }
            self.warn(&format!("cannot {what} {}", Error::io(path, e)));
            Exported::Failed
        };
        let mut changes = Vec::new();
        for (name, value) in wanted {
            let Some(value) = value else { continue };
            match ::xattr::get(path, name) {
                Ok(Some(now)) if now == value.as_bytes() => {}
                Ok(_) => changes.push((name, value)),
                Err(e) => return Ok(failure(e, "read the attributes of")),
            }
        }
        if changes.is_empty() {
            return Ok(Exported::Current);
        }
        for (name, value) in changes {
            if dry_run {
                writeln!(out, "would set {name}={value} on {}", shown(path)).map_err(write_err)?;
            } else if let Err(e) = ::xattr::set(path, name, value.as_bytes()) {
                return Ok(failure(e, &format!("write {name} on")));
            }
        }
        Ok(Exported::Written)
    }

    fn tags(&self, file: Option<&Path>, out: &mut dyn Write) -> Result<()> {
        let reader = self.library.reader()?;
        match file {
            Some(file) => {
                let entry = resolve_entries(&reader, &[file.to_path_buf()])?[0];
                for name in reader.tags_of(entry)? {
                    writeln!(out, "{name}").map_err(write_err)?;
                }
            }
            None => {
                for (name, _color, count) in reader.tags_with_counts()? {
                    writeln!(out, "{count:>8}  {name}").map_err(write_err)?;
                }
            }
        }
        Ok(())
    }

    fn find(&self, tags: &[String], label: Option<&str>, favorite: bool, out: &mut dyn Write) -> Result<()> {
        let tags = tags.iter().map(|t| TagName::parse(t)).collect::<Result<Vec<_>>>()?;
        let label = label.map(LabelPath::parse).transpose()?;
        if tags.is_empty() && label.is_none() && !favorite {
            return Err(Error::Invalid("find needs at least one of --tag, --label, --favorite, --query".into()));
        }
        for path in self.library.reader()?.find(&tags, label.as_ref(), favorite)? {
            out.write_all(path.as_os_str().as_bytes()).and_then(|()| out.write_all(b"\n")).map_err(write_err)?;
        }
        Ok(())
    }

    fn dupes(&self, out: &mut dyn Write) -> Result<()> {
        let groups = self.library.reader()?.dupe_groups()?;
        if groups.is_empty() && !self.quiet {
            writeln!(out, "no duplicates").map_err(write_err)?;
        }
        let mut wasted = 0u64;
        for g in &groups {
            let copies = g.distinct_files();
            wasted += (copies as u64 - 1) * g.size as u64;
            let links = if copies < g.copies.len() {
                format!(" ({} paths, some hard links)", g.copies.len())
            } else {
                String::new()
            };
            writeln!(
                out,
                "{copies} copies of {} each, blake3 {}{links}",
                HumanBytes(g.size as u64),
                &g.full_hash[..16]
            )
            .map_err(write_err)?;
            for copy in &g.copies {
                out.write_all(b"  ").map_err(write_err)?;
                out.write_all(copy.path.as_os_str().as_bytes())
                    .and_then(|()| out.write_all(b"\n"))
                    .map_err(write_err)?;
            }
        }
        if !groups.is_empty() && !self.quiet {
            writeln!(out, "{} groups; removing the extra copies would free {}", groups.len(), HumanBytes(wasted))
                .map_err(write_err)?;
        }
        Ok(())
    }

    fn check(&self, out: &mut dyn Write) -> Result<bool> {
        let problems = self.library.reader()?.check()?;
        if !problems.is_empty() {
            for p in &problems {
                writeln!(out, "problem: {p}").map_err(write_err)?;
            }
            eprintln!(
                "spacefs: library {} has {} problems (restore a copy made with 'spacefs backup')",
                shown(self.library.path()),
                problems.len()
            );
            return Ok(false);
        }
        writeln!(out, "ok: {} passed the integrity and foreign key checks", shown(self.library.path()))
            .map_err(write_err)?;
        let mut differing = 0;
        for location in self.library.reader()?.locations()? {
            if !location.path.is_dir() {
                writeln!(out, "skipped: location '{}' ({} cannot be read)", location.name, shown(&location.path))
                    .map_err(write_err)?;
                continue;
            }
            let differences = settled_differences(&self.library, &location)?;
            for d in &differences {
                let path = location.path.join(std::ffi::OsStr::from_bytes(d.path()));
                let line = match d {
                    index::Difference::Ghost(_) => format!("ghost: {} (in the library, not on disk)", shown(&path)),
                    index::Difference::Missing(_) => format!("missing: {} (on disk, not in the library)", shown(&path)),
                    index::Difference::Differs { library, disk, .. } => format!(
                        "differs: {} (library: {:?} of {} bytes, disk: {:?} of {} bytes)",
                        shown(&path),
                        library.0,
                        library.1,
                        disk.0,
                        disk.1
                    ),
                };
                writeln!(out, "{line}").map_err(write_err)?;
            }
            if differences.is_empty() {
                writeln!(out, "ok: location '{}' equals its folder on disk", location.name).map_err(write_err)?;
            }
            differing += differences.len();
        }
        if differing > 0 {
            eprintln!(
                "spacefs: the library differs from the disk in {differing} places (repair with 'spacefs rescan')"
            );
            return Ok(false);
        }
        Ok(true)
    }

    fn backup(&self, dest: &Path, out: &mut dyn Write) -> Result<()> {
        if dest.exists() {
            return Err(Error::AlreadyExists(format!("{} exists already (choose a new file name)", shown(dest))));
        }
        let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !parent.is_dir() {
            return Err(Error::NotFound(format!("folder {} does not exist (create it first)", shown(parent))));
        }
        // The copy holds the same private data as the library: create it private.
        {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(dest)
                .map_err(|e| Error::io(dest, e))?;
        }
        let bar = if self.quiet { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(0) };
        let result = self.library.reader()?.backup(dest, |done, total| {
            bar.set_length(total.max(0) as u64);
            bar.set_position(done.max(0) as u64);
        });
        bar.finish_and_clear();
        if let Err(err) = result {
            let _ = std::fs::remove_file(dest);
            return Err(err);
        }
        if !self.quiet {
            writeln!(out, "backed up {} to {}", shown(self.library.path()), shown(dest)).map_err(write_err)?;
        }
        Ok(())
    }
}

/// The differences between a location and its folder that last: a mounted daemon may still be recording changes
/// made a moment ago (through the mount or seen by its watcher), so differences are compared again until they stop
/// changing (about two seconds at most) before they are reported.
fn settled_differences(library: &Library, location: &Location) -> Result<Vec<index::Difference>> {
    let mut differences = index::compare(library, location)?;
    for _ in 0..8 {
        if differences.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        let again = index::compare(library, location)?;
        if again == differences {
            break;
        }
        differences = again;
    }
    Ok(differences)
}

fn check_location_name(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::InvalidName(format!("invalid location name {name:?}: {why} (choose another with --name)")))
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.contains('/') {
        return bad("'/' is not allowed");
    }
    if name.chars().any(char::is_control) {
        return bad("control characters are not allowed");
    }
    if name == "." || name == ".." {
        return bad("'.' and '..' are reserved");
    }
    if name.len() > crate::names::MAX_NAME_BYTES {
        return bad("it is longer than 255 bytes");
    }
    Ok(())
}

fn print_report(r: &ScanReport, out: &mut dyn Write) -> Result<()> {
    let secs = r.elapsed.as_secs_f64();
    writeln!(
        out,
        "indexed '{}': {} files, {} folders, {} in {:.2}s ({:.0} entries/s): {} new or changed, {} removed, {} hashed ({}), {} verified",
        r.location,
        r.totals.files,
        r.totals.dirs,
        HumanBytes(r.totals.bytes.max(0) as u64),
        secs,
        r.seen as f64 / secs.max(0.001),
        r.upserted,
        r.removed,
        r.hashed,
        HumanBytes(r.hashed_bytes),
        r.verified
    )
    .map_err(write_err)?;
    if r.tags_imported > 0 {
        writeln!(out, "imported {} tags from user.xdg.tags", r.tags_imported).map_err(write_err)?;
    }
    if r.totals.relinked > 0 {
        writeln!(
            out,
            "re-linked the tags, labels and notes of {} files that came back (same inode, or same verified content)",
            r.totals.relinked
        )
        .map_err(write_err)?;
    }
    if r.orphaned > 0 {
        writeln!(
            out,
            "{} vanished files had tags, labels or notes: kept as orphans (see 'spacefs status')",
            r.orphaned
        )
        .map_err(write_err)?;
    }
    Ok(())
}

/// As `resolve_entries`, but a file inside a location that the library has not recorded yet (made since the last
/// scan, or made through a mount that has not committed its record yet) is indexed first, with any folders above it
/// that are missing too: it is inside a location, so it belongs in the library.
pub fn resolve_or_index(library: &Library, files: &[PathBuf]) -> Result<Vec<EntryId>> {
    let reader = library.reader()?;
    let locations = reader.locations()?;
    files
        .iter()
        .map(|f| match resolve_entry(&reader, &locations, f) {
            Err(Error::NotIndexed(_)) => {
                let (location, parent, name) = place_of(&locations, f)?;
                let mut dir: Vec<u8> = Vec::new();
                for folder in parent.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
                    if reader.entry_by_path(location.id, &dir, folder)?.is_none() {
                        crate::index::refresh_entry(library, location, &dir, folder)?;
                    }
                    dir = crate::library::child_path(&dir, folder);
                }
                crate::index::refresh_entry(library, location, &parent, &name)?;
                resolve_entry(&reader, &locations, f)
            }
            found => found,
        })
        .collect()
}

/// The sample tree `spacefs demo` creates: (relative path, contents, xdg tags).
const DEMO_FILES: &[(&str, &[u8], &str)] = &[
    ("Documents/report-2026.txt", b"Quarterly report: all good.\n", "work,important"),
    ("Documents/invoice-0042.txt", b"Invoice 42: 3 widgets.\n", "work"),
    ("Documents/Archive/report-2026.txt", b"Quarterly report: all good.\n", ""),
    ("Photos/2026/beach.jpg", b"\xff\xd8\xff\xe0 pretend this is a photo of a beach", "holiday"),
    ("Photos/2026/beach (copy).jpg", b"\xff\xd8\xff\xe0 pretend this is a photo of a beach", "holiday"),
    ("Photos/2026/mountain.jpg", b"\xff\xd8\xff\xe0 a mountain", "holiday,favorite-places"),
    ("Music/song.ogg", b"OggS not really music", ""),
    ("Projects/spacefs/README.md", b"# spacefs\nBrowse your library as a filesystem.\n", "work"),
];

fn demo(mountpoint: Option<PathBuf>, library: Option<PathBuf>, quiet: bool, out: &mut dyn Write) -> Result<bool> {
    let dir = data_dir()
        .map(|d| d.join("demo"))
        .ok_or_else(|| Error::Invalid("neither XDG_DATA_HOME nor HOME is set: set one of them for the demo".into()))?;
    let files = dir.join("files");
    for (rel, bytes, tags) in DEMO_FILES {
        let path = files.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
        if !tags.is_empty() {
            // Set as Dolphin would, so the import of user.xdg.tags shows; a file system without xattrs just skips it.
            let _ = xattr::set(&path, crate::xattr::XDG_TAGS, tags.as_bytes());
        }
    }
    // Two copies of a larger file, so the sampled content id and full-hash verification both show.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    for rel in ["Videos/clip.mp4", "Videos/Backup/clip.mp4"] {
        let path = files.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::write(&path, &big).map_err(|e| Error::io(&path, e))?;
    }
    let library_path = library.unwrap_or_else(|| dir.join("library.db"));
    let library = Library::open(&library_path)?;
    let ctx = Ctx { library, quiet };
    let reader = ctx.library.reader()?;
    let files = files.canonicalize().map_err(|e| Error::io(&files, e))?;
    match reader.locations()?.into_iter().find(|l| l.path == files) {
        Some(location) => ctx.scan(&location, out)?,
        None => ctx.add(&files, Some("demo".into()), IndexModeArg::Content, out)?,
    }
    let readme = files.join("Projects/spacefs/README.md");
    let entries = resolve_entries(&ctx.library.reader()?, std::slice::from_ref(&readme))?;
    ctx.library.writer().label(entries.clone(), LabelPath::parse("projects/open-source")?)?;
    ctx.library.writer().set_flag(entries, Flag::Favorite, true)?;

    writeln!(out, "\nTags:").map_err(write_err)?;
    ctx.tags(None, out)?;
    writeln!(out, "\nDuplicates:").map_err(write_err)?;
    ctx.dupes(out)?;
    drop(ctx);

    let mountpoint = mountpoint.unwrap_or_else(|| dir.join("mnt"));
    std::fs::create_dir_all(&mountpoint).map_err(|e| Error::io(&mountpoint, e))?;
    if crate::mount::is_mounted(&mountpoint.canonicalize().map_err(|e| Error::io(&mountpoint, e))?) {
        crate::mount::unmount(&mountpoint)?;
    }
    let args = MountArgs {
        mountpoint: mountpoint.clone(),
        foreground: false,
        read_only: false,
        allow_other: false,
        show_hidden: false,
        nonempty: false,
        cache_entries: crate::fs::FsOptions::default().cache_entries,
    };
    crate::mount::mount(&library_path, &args)?;
    let (lib, m, me) = (shown(&library_path), shown(&mountpoint), this_program());
    writeln!(
        out,
        "\nThe sample is in {}; its library {lib} is mounted on {m}. Try:\n  \
         ls {m}\n  ls -l {m}/tags/holiday {m}/labels/projects/open-source {m}/favorites\n  \
         ls -lR {m}/duplicates\n  cat {m}/tags/work/report-2026.txt\n  \
         {me} --library {lib} tag work {}/Music/song.ogg && ls {m}/tags/work\n  \
         {me} --library {lib} find --label projects --favorite\n\
         When done: {me} unmount {m}",
        shown(&files),
        shown(&files)
    )
    .map_err(write_err)?;
    Ok(true)
}

/// How to run this program from a shell: `spacefs` when that name on the PATH is this program, else its path (the
/// demo runs from `cargo run`, before anything is installed, and its hints must work as printed).
fn this_program() -> String {
    let Ok(me) = std::env::current_exe().and_then(|p| p.canonicalize()) else { return "spacefs".into() };
    let on_path = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|dir| dir.join("spacefs")).find(|found| found.is_file()));
    match on_path {
        Some(found) if found.canonicalize().is_ok_and(|found| found == me) => "spacefs".into(),
        _ => shown(&me),
    }
}

/// Writes `spacefs.1` and a page per command (`spacefs-add.1`, `spacefs-query-save.1`, …) into `dir`.
fn write_man_pages(dir: &Path) -> Result<usize> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut command = <Cli as clap::CommandFactory>::command();
    command.build();
    let mut written = 0;
    let mut pages = vec![("spacefs".to_owned(), command)];
    while let Some((name, command)) = pages.pop() {
        for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
            let sub_name = format!("{name}-{}", sub.get_name());
            pages.push((sub_name.clone(), sub.clone().name(sub_name)));
        }
        let path = dir.join(format!("{name}.1"));
        let mut page = Vec::new();
        clap_mangen::Man::new(command).render(&mut page).map_err(|e| Error::io(&path, e))?;
        std::fs::write(&path, page).map_err(|e| Error::io(&path, e))?;
        written += 1;
    }
    Ok(written)
}

/// What `export-xattrs` did with one file.
enum Exported {
    Written,
    Current,
    Unsupported,
    Failed,
}

/// How long ago a time (ns since the epoch) was, as a person says it.
fn ago(at: Option<i64>) -> String {
    let Some(at) = at else { return "never".into() };
    let secs = (crate::clock::now_ns() - at).max(0) / 1_000_000_000;
    match secs {
        0..60 => format!("{secs} s ago"),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86400 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86400),
    }
}
