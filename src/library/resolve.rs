//! From a real path (as a user or a program names a file) to the library's entry: inside which location, at which
//! path there; a path inside a spacefs mount names its entry by the uuid the mount serves. Shared by the commands
//! and the mount (`ln -s REALPATH <mnt>/tags/T/`).

use crate::error::{Error, Result, shown};
use crate::library::{EntryId, Location, Reader};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Maps real paths given on the command line to the library's entries, all or nothing.
pub fn resolve_entries(reader: &Reader, files: &[PathBuf]) -> Result<Vec<EntryId>> {
    let locations = reader.locations()?;
    files.iter().map(|f| resolve_entry(reader, &locations, f)).collect()
}

pub fn resolve_entry(reader: &Reader, locations: &[Location], file: &Path) -> Result<EntryId> {
    // A path inside a spacefs mount names its entry by uuid.
    if let Ok(Some(uuid)) = ::xattr::get(file, crate::xattr::UUID)
        && let Ok(uuid) = uuid::Uuid::try_parse_ascii(&uuid)
    {
        return reader.entry_by_uuid(uuid.as_bytes())?.ok_or_else(|| {
            Error::NotFound(format!(
                "{} is in a mount of another library (use that library with --library)",
                shown(file)
            ))
        });
    }
    let (location, parent, name) = place_of(locations, file)?;
    reader.entry_by_path(location.id, &parent, &name)?.ok_or_else(|| {
        Error::NotIndexed(format!("{} is not indexed yet (run 'spacefs rescan {}')", shown(file), location.name))
    })
}

/// Where an existing file is in the locations: its location, its folder's path there, and its name.
pub fn place_of<'a>(locations: &'a [Location], file: &Path) -> Result<(&'a Location, Vec<u8>, Vec<u8>)> {
    let absolute = absolute(file)?;
    if std::fs::symlink_metadata(&absolute).is_err() {
        return Err(Error::NotFound(format!("{} does not exist (check the path)", shown(file))));
    }
    let location = locations
        .iter()
        .filter(|l| absolute.starts_with(&l.path))
        .max_by_key(|l| l.path.as_os_str().len())
        .ok_or_else(|| {
            Error::OutsideLocations(format!(
                "{} is not inside any location (add its folder with 'spacefs add DIR')",
                shown(file)
            ))
        })?;
    let relative = absolute.strip_prefix(&location.path).unwrap_or(Path::new(""));
    let (Some(name), parent) = (relative.file_name(), relative.parent()) else {
        return Err(Error::Invalid(format!(
            "{} is the folder of location '{}' itself (name the files inside it)",
            shown(file),
            location.name
        )));
    };
    let parent = parent.map(|p| p.as_os_str().as_bytes()).unwrap_or(b"");
    Ok((location, parent.to_vec(), name.as_bytes().to_vec()))
}

/// The absolute path of `file` with its folders resolved (the last component is kept as is, even a symlink).
pub fn absolute(file: &Path) -> Result<PathBuf> {
    let joined = if file.is_absolute() {
        file.to_path_buf()
    } else {
        std::env::current_dir().map_err(|e| Error::io_ctx("the current folder", e))?.join(file)
    };
    let mut clean = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other.as_os_str()),
        }
    }
    match (clean.parent(), clean.file_name()) {
        (Some(parent), Some(name)) => {
            let parent = parent
                .canonicalize()
                .map_err(|_| Error::NotFound(format!("{} does not exist (check the path)", shown(file))))?;
            Ok(parent.join(name))
        }
        _ => Ok(clean),
    }
}
