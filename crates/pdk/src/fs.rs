//! Files in the plugin's data root, a folder the host gives each plugin.
//!
//! Paths are relative (`notes/today.md`), `/`-separated, without `..`. A
//! call reaches a path only under a granted `fs` capability
//! (`fs = [{ path = "notes", mode = "rw" }]` in plugin.toml, then
//! `yoi grant`); `ro` grants allow reading only. The grant that applies is
//! the one covering where the call really lands, after symbolic links are
//! followed. Only regular files are read or written (`EntryKind::Other`
//! marks pipes, sockets and devices). Writes count against a per-plugin
//! quota of bytes and entries. A refused call returns
//! [`Error::Denied`](crate::Error::Denied).
//!
//! ```no_run
//! use yoi_pdk::fs;
//!
//! # fn demo() -> Result<(), yoi_pdk::Error> {
//! fs::append("notes/inbox.md", b"- call Ana\n")?;
//! let inbox = fs::read_to_string("notes/inbox.md")?;
//! for entry in fs::list_dir("notes")? {
//!     yoi_pdk::log::info(&format!("{} ({} bytes)", entry.name, entry.size));
//! }
//! # let _ = inbox; Ok(()) }
//! ```

use crate::__private::host_api::yoi::plugin::fs as wit;
use crate::Error;

/// A file, folder or link, as [`list_dir`] and [`stat`] report it.
pub use wit::{Entry, EntryKind};

/// The whole content of a file.
pub fn read(path: &str) -> Result<Vec<u8>, Error> {
    Ok(wit::read(path)?)
}

/// The whole content of a UTF-8 text file.
pub fn read_to_string(path: &str) -> Result<String, Error> {
    String::from_utf8(read(path)?).map_err(|_| Error::new(format!("`{path}` is not UTF-8 text")))
}

/// Creates or replaces a file (and any missing folders above it).
pub fn write(path: &str, data: impl AsRef<[u8]>) -> Result<(), Error> {
    Ok(wit::write(path, data.as_ref())?)
}

/// Appends to a file, creating it if missing.
pub fn append(path: &str, data: impl AsRef<[u8]>) -> Result<(), Error> {
    Ok(wit::append(path, data.as_ref())?)
}

/// The entries of a folder, sorted by name.
pub fn list_dir(path: &str) -> Result<Vec<Entry>, Error> {
    Ok(wit::list_dir(path)?)
}

/// What is at `path` (a final link is not followed).
pub fn stat(path: &str) -> Result<Entry, Error> {
    Ok(wit::stat(path)?)
}

/// Whether something exists at `path`.
pub fn exists(path: &str) -> Result<bool, Error> {
    match stat(path) {
        Ok(_) => Ok(true),
        Err(Error::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Creates a folder and any missing parents.
pub fn create_dir(path: &str) -> Result<(), Error> {
    Ok(wit::create_dir(path)?)
}

/// Removes a file, link or empty folder.
pub fn remove(path: &str) -> Result<(), Error> {
    Ok(wit::remove(path)?)
}

/// Moves a file or folder.
pub fn rename(from: &str, to: &str) -> Result<(), Error> {
    Ok(wit::rename(from, to)?)
}

/// Creates a symbolic link at `link` pointing to `target` (relative to the
/// link's folder, and inside the grant).
pub fn symlink(target: &str, link: &str) -> Result<(), Error> {
    Ok(wit::symlink(target, link)?)
}

/// Creates a hard link at `link` to the file `existing`.
pub fn hard_link(existing: &str, link: &str) -> Result<(), Error> {
    Ok(wit::hard_link(existing, link)?)
}
