//! `fs`: files inside a plugin's data root, under its `fs` grants.
//!
//! The rule (docs/grants.md, "Where a call lands"): the grant that applies
//! to a call is chosen by where the call really lands, after every symbolic
//! link on the way has been followed, never by the text of the path. Each
//! path is walked one component at a time from the data root, opening each
//! folder with `O_NOFOLLOW` and resolving links by hand, so the walk knows
//! the real location and holds a handle on the very folder the operation
//! then runs in: a link swapped in between check and use makes the call
//! fail, never land elsewhere. Grant paths are resolved the same way.
//!
//! Files are only ever opened with `O_NONBLOCK | O_NOFOLLOW` and checked on
//! the opened handle, so a FIFO, socket or device is refused without being
//! waited on. A write never opens an existing file for writing: it writes a
//! new file and renames it over the old name, so a hard link to a read-only
//! file (made before a grant was narrowed) is never written through; an
//! append in place happens only to a file with a single name, checked
//! under the data root's name lock (`PluginApi::name_lock`).
//!
//! Every call runs on a blocking thread (`blocking_call!`), so the host-side
//! timer of the handler can abandon a call the kernel does not answer.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use yoi_manifest::FsMode;

use crate::api::{ApiFailure, PluginApi};

#[path = "quota.rs"]
mod quota;
#[path = "resolve.rs"]
mod resolve;
use crate::bindings::latest::yoi::plugin::fs::{Entry, EntryKind};

/// Longest path accepted, in bytes.
const MAX_PATH_BYTES: usize = 4096;
/// Most entries `list` returns.
const MAX_LIST: usize = 10_000;
/// Most symbolic links followed while resolving one path (as Linux).
const MAX_LINK_HOPS: usize = 40;
/// Permissions of files and folders the host creates for a plugin.
const FILE_MODE: u32 = 0o644;
const DIR_MODE: u32 = 0o755;

/// A plugin's data root and how much of its quota is used.
pub(crate) struct FsState {
    pub(crate) root: Option<PathBuf>,
    quota: u64,
    entry_quota: u64,
    /// Bytes and entries in the data root, counted on first use, then kept
    /// up to date by every change; `None` when it has to be counted again.
    usage: Mutex<Option<Usage>>,
}

/// What a data root holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    /// Bytes of regular files (a file with several names counts for each).
    pub(crate) bytes: u64,
    /// Files, folders and links (the data root itself not included).
    pub(crate) entries: u64,
}

impl FsState {
    pub(crate) fn new(root: Option<PathBuf>, quota: u64, entry_quota: u64) -> FsState {
        FsState {
            root,
            quota,
            entry_quota,
            usage: Mutex::new(None),
        }
    }
}

/// How a call holds the data root's name lock (`PluginApi::name_lock`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum LockKind {
    Shared,
    Exclusive,
}

/// What a call needs from a grant.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Need {
    Read,
    Write,
}

/// Whether the last component of a path is followed when it is a link.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    /// Read, write, list: the call acts on what the link points to.
    Follow,
    /// Stat, remove, rename, making links: the call acts on the name itself.
    Keep,
}

/// A path walked to where it really lands.
struct Landing {
    /// The folder the final name lives in, held open.
    parent: OwnedFd,
    /// The real path of `parent` from the data root.
    parent_real: Vec<String>,
    /// Folders that do not exist yet between `parent` and `name`.
    missing: Vec<String>,
    /// The final name; `None` when the path is the data root itself.
    name: Option<String>,
    /// Where the links followed on the way are (real paths).
    links: Vec<String>,
}

/// A grant with its path resolved.
struct RealGrant {
    /// The path as granted.
    text: String,
    mode: FsMode,
    /// Where it really is.
    real: String,
    /// Every place whose removal or replacement would change what the grant
    /// reaches: its text path, its real path and the links on the way.
    anchors: Vec<String>,
}

impl Landing {
    fn new(
        parent: OwnedFd,
        dirs: Vec<(OwnedFd, String)>,
        missing: Vec<String>,
        name: Option<String>,
        links: Vec<String>,
    ) -> Landing {
        Landing {
            parent,
            parent_real: dirs.into_iter().map(|(_, n)| n).collect(),
            missing,
            name,
            links,
        }
    }

    /// The real path, `/`-joined; `.` for the data root.
    fn real(&self) -> String {
        let parts: Vec<&str> = self
            .parent_real
            .iter()
            .chain(&self.missing)
            .chain(&self.name)
            .map(String::as_str)
            .collect();
        if parts.is_empty() {
            ".".into()
        } else {
            parts.join("/")
        }
    }

    /// The final name, or an error for a call that needs one.
    fn name(&self, what: &str) -> Result<&str, ApiFailure> {
        self.name
            .as_deref()
            .ok_or_else(|| ApiFailure::Invalid(format!("the data root itself cannot be {what}")))
    }
}

/// A path resolved to the grant that covers where it lands.
struct Located {
    landing: Landing,
    /// The path as the plugin gave it (normalized), for messages.
    path: String,
    /// The real path, for grant checks.
    real: String,
    /// The plugin's grants as resolved for this call, so later checks of
    /// the same call (anchors, link targets) do not walk them again.
    grants: Vec<RealGrant>,
}

fn errno_io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

fn lstat(dir: impl AsFd, name: &str) -> Result<Stat, Errno> {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
}

fn open_dir(dir: impl AsFd, name: &str) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// What a file type is, in the contract's words.
fn kind_of(ft: FileType) -> EntryKind {
    match ft {
        FileType::RegularFile => EntryKind::File,
        FileType::Directory => EntryKind::Directory,
        FileType::Symlink => EntryKind::Symlink,
        _ => EntryKind::Other,
    }
}

/// A special file in words, for refusals.
fn describe(ft: FileType) -> &'static str {
    match ft {
        FileType::RegularFile => "a file",
        FileType::Directory => "a folder",
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a named pipe (FIFO)",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        _ => "an unknown kind of file",
    }
}

/// Whether `grant` (a real path, `.` for the root) covers `real`.
fn covers(grant: &str, real: &str) -> bool {
    grant == "." || grant == real || real.starts_with(&format!("{grant}/"))
}

/// Whether `real` is a folder that holds `grant` (or is it).
fn holds(real: &str, grant: &str) -> bool {
    covers(real, grant)
}

/// Unique names for the files a write makes before renaming them in place.
static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// The data root's size, not following links.
fn disk_usage(root: &std::path::Path) -> io::Result<Usage> {
    let mut usage = Usage::default();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let meta = entry.path().symlink_metadata()?;
            usage.entries += 1;
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                usage.bytes += meta.len();
            }
        }
    }
    Ok(usage)
}

impl PluginApi {
    fn io_failure(&self, path: &str, e: io::Error) -> ApiFailure {
        match e.raw_os_error().map(Errno::from_raw_os_error) {
            Some(Errno::NOENT) => ApiFailure::NotFound(format!("`{path}` does not exist")),
            Some(Errno::EXIST) => ApiFailure::Invalid(format!("`{path}` already exists")),
            Some(Errno::NOTEMPTY) => {
                ApiFailure::Invalid(format!("the folder `{path}` is not empty"))
            }
            Some(Errno::ISDIR) => ApiFailure::Invalid(format!("`{path}` is a folder")),
            Some(Errno::NOTDIR) => {
                ApiFailure::NotFound(format!("`{path}`: a part of it is not a folder"))
            }
            Some(Errno::LOOP) => ApiFailure::Failed(format!(
                "`{path}` changed while it was being used (a link appeared); try again"
            )),
            Some(Errno::NXIO) => ApiFailure::Invalid(format!("`{path}` is not a regular file")),
            Some(Errno::NOSPC | Errno::DQUOT) => {
                ApiFailure::Failed(format!("`{path}`: the host's disk is full"))
            }
            _ => ApiFailure::Failed(format!("`{path}`: {e}")),
        }
    }

    /// Opens the regular file at `at` for reading without blocking on it.
    fn open_regular(&self, at: &Located) -> Result<(File, Stat), ApiFailure> {
        let io = |e: Errno| self.io_failure(&at.path, errno_io(e));
        let name = at.landing.name("read")?;
        if !at.landing.missing.is_empty() {
            return Err(ApiFailure::NotFound(format!(
                "`{}` does not exist",
                at.path
            )));
        }
        // Refuse special files before opening them at all (opening some
        // devices has effects), then check again on the handle.
        let before = lstat(&at.landing.parent, name).map_err(io)?;
        self.regular_only(at, &before)?;
        let fd = rustix::fs::openat(
            &at.landing.parent,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
            Mode::empty(),
        )
        .map_err(io)?;
        let stat = rustix::fs::fstat(&fd).map_err(io)?;
        self.regular_only(at, &stat)?;
        if (before.st_dev, before.st_ino) != (stat.st_dev, stat.st_ino) {
            // The name was swapped between the check and the open (a hard
            // link to a file no grant covers): not the file checked.
            return Err(io(Errno::NXIO));
        }
        Ok((File::from(fd), stat))
    }

    fn regular_only(&self, at: &Located, stat: &Stat) -> Result<(), ApiFailure> {
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => Ok(()),
            FileType::Directory => Err(ApiFailure::Invalid(format!("`{}` is a folder", at.path))),
            other => Err(ApiFailure::Invalid(format!(
                "`{}` is {}; only regular files can be read or written",
                at.path,
                describe(other)
            ))),
        }
    }

    pub(crate) fn fs_read(&self, path: &str) -> Result<Vec<u8>, ApiFailure> {
        let at = self.locate(path, Need::Read, Last::Follow)?;
        let (file, stat) = self.open_regular(&at)?;
        let max = self.settings.limits.fs_read_bytes;
        let size = u64::try_from(stat.st_size).unwrap_or(0);
        let too_large = |n: u64| {
            ApiFailure::TooLarge(format!(
                "`{}` is {n} bytes; reads are limited to {max}",
                at.path
            ))
        };
        if size > max {
            return Err(too_large(size));
        }
        // The file may grow while it is read: read one byte past the limit
        // to notice.
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.take(max.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|e| self.io_failure(&at.path, e))?;
        if data.len() as u64 > max {
            return Err(too_large(data.len() as u64));
        }
        Ok(data)
    }

    /// Makes the folders a landing is missing (each must be granted `rw`,
    /// which `locate` checked for the deepest).
    fn make_missing(&self, at: &Located) -> Result<OwnedFd, ApiFailure> {
        if at.landing.missing.is_empty() {
            return at
                .landing
                .parent
                .try_clone()
                .map_err(|e| self.io_failure(&at.path, e));
        }
        self.reserve(&at.path, 0, 0, at.landing.missing.len() as i64)?;
        make_dirs(&at.landing.parent, &at.landing.missing).map_err(|e| {
            self.recount();
            self.io_failure(&at.path, errno_io(e))
        })
    }

    pub(crate) fn fs_write(&self, path: &str, data: &[u8], append: bool) -> Result<(), ApiFailure> {
        let at = self.locate(path, Need::Write, Last::Follow)?;
        let name = at.landing.name("written")?.to_owned();
        let dir = self.make_missing(&at)?;
        let io = |e: Errno| self.io_failure(&at.path, errno_io(e));
        // Held from the check of the name to the append's write.
        let shared_lock = if append {
            Some(self.name_lock(LockKind::Shared)?)
        } else {
            None
        };
        let existing = match lstat(&dir, &name) {
            Ok(stat) => {
                self.regular_only(&at, &stat)?;
                Some(stat)
            }
            Err(Errno::NOENT) => None,
            Err(e) => return Err(io(e)),
        };
        let new_entry = i64::from(existing.is_none());
        let old_size = existing.map_or(0, |s| u64::try_from(s.st_size).unwrap_or(0));
        let shared = existing.is_some_and(|s| s.st_nlink > 1);

        if append && !shared {
            // One name only: appending in place changes nothing else. The
            // handle written through must be the file just checked (same
            // device and inode, still one name), or a new file this open
            // created: a name swapped in between (a hard link to a file
            // of another grant) is refused, not written.
            self.reserve(&at.path, data.len() as u64, 0, new_entry)?;
            let create = if existing.is_some() {
                OFlags::empty()
            } else {
                OFlags::CREATE | OFlags::EXCL
            };
            let written = rustix::fs::openat(
                &dir,
                name.as_str(),
                OFlags::WRONLY
                    | OFlags::APPEND
                    | create
                    | OFlags::NOFOLLOW
                    | OFlags::NONBLOCK
                    | OFlags::CLOEXEC
                    | OFlags::NOCTTY,
                Mode::from_raw_mode(FILE_MODE),
            )
            .map_err(errno_io)
            .and_then(|fd| {
                let stat = rustix::fs::fstat(&fd).map_err(errno_io)?;
                let same =
                    existing.is_none_or(|e| (e.st_dev, e.st_ino) == (stat.st_dev, stat.st_ino));
                if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile
                    || stat.st_nlink > 1
                    || !same
                {
                    // Swapped for something else since the check.
                    return Err(io::Error::from_raw_os_error(Errno::NXIO.raw_os_error()));
                }
                File::from(fd).write_all(data)
            });
            drop(shared_lock);
            return written.map_err(|e| {
                self.recount();
                self.io_failure(&at.path, e)
            });
        }
        drop(shared_lock);

        // A new file renamed over the old name: the old file's other names
        // (hard links) keep the old content, and a failed write leaves the
        // old file whole.
        let mut content = Vec::new();
        if append && let Some(stat) = existing {
            let (file, _) = self.open_regular(&at)?;
            let size = u64::try_from(stat.st_size).unwrap_or(0);
            if size.saturating_add(data.len() as u64) > self.fs.quota {
                return Err(self.refuse(
                    "fs",
                    at.path.clone(),
                    format!("appending would make `{}` larger than the quota of {} bytes", at.path, self.fs.quota),
                    "remove files the plugin no longer needs, or raise the host's quota (HostBuilder::fs_quota)",
                ));
            }
            file.take(self.fs.quota)
                .read_to_end(&mut content)
                .map_err(|e| self.io_failure(&at.path, e))?;
        }
        content.extend_from_slice(data);
        let removed = if shared { 0 } else { old_size };
        self.reserve(&at.path, content.len() as u64, removed, new_entry)?;
        let temp = format!(
            ".{}.yoi-{}-{}",
            name.chars().take(64).collect::<String>(),
            std::process::id(),
            TEMP_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let result = rustix::fs::openat(
            &dir,
            temp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(FILE_MODE),
        )
        .map_err(errno_io)
        .and_then(|fd| File::from(fd).write_all(&content))
        .map_err(|e| self.io_failure(&at.path, e))
        .and_then(|()| {
            let _lock = self.name_lock(LockKind::Exclusive)?;
            rustix::fs::renameat(&dir, temp.as_str(), &dir, name.as_str())
                .map_err(|e| self.io_failure(&at.path, errno_io(e)))
        });
        result.inspect_err(|_| {
            let _ = rustix::fs::unlinkat(&dir, temp.as_str(), AtFlags::empty());
            self.recount();
        })
    }

    pub(crate) fn fs_list(&self, path: &str) -> Result<Vec<Entry>, ApiFailure> {
        let at = self.locate(path, Need::Read, Last::Follow)?;
        let io = |e: Errno| self.io_failure(&at.path, errno_io(e));
        if !at.landing.missing.is_empty() {
            return Err(ApiFailure::NotFound(format!(
                "`{}` does not exist",
                at.path
            )));
        }
        let dir = match &at.landing.name {
            Some(name) => open_dir(&at.landing.parent, name).map_err(|e| match e {
                Errno::NOTDIR => ApiFailure::Invalid(format!("`{}` is not a folder", at.path)),
                e => io(e),
            })?,
            None => at
                .landing
                .parent
                .try_clone()
                .map_err(|e| self.io_failure(&at.path, e))?,
        };
        let mut out = Vec::new();
        for entry in rustix::fs::Dir::read_from(&dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "." || name == ".." {
                continue;
            }
            if out.len() == MAX_LIST {
                return Err(ApiFailure::TooLarge(format!(
                    "`{}` has more than {MAX_LIST} entries",
                    at.path
                )));
            }
            let stat = match lstat(&dir, &name) {
                Ok(s) => s,
                // Removed meanwhile.
                Err(Errno::NOENT) => continue,
                Err(e) => return Err(io(e)),
            };
            let kind = kind_of(FileType::from_raw_mode(stat.st_mode));
            out.push(Entry {
                name,
                size: if kind == EntryKind::File {
                    u64::try_from(stat.st_size).unwrap_or(0)
                } else {
                    0
                },
                kind,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub(crate) fn fs_stat(&self, path: &str) -> Result<Entry, ApiFailure> {
        let at = self.locate(path, Need::Read, Last::Keep)?;
        let stat = match (&at.landing.name, at.landing.missing.is_empty()) {
            (_, false) => {
                return Err(ApiFailure::NotFound(format!(
                    "`{}` does not exist",
                    at.path
                )));
            }
            (Some(name), true) => lstat(&at.landing.parent, name),
            (None, true) => rustix::fs::fstat(&at.landing.parent),
        }
        .map_err(|e| self.io_failure(&at.path, errno_io(e)))?;
        let kind = kind_of(FileType::from_raw_mode(stat.st_mode));
        Ok(Entry {
            name: at.path.clone(),
            size: if kind == EntryKind::File {
                u64::try_from(stat.st_size).unwrap_or(0)
            } else {
                0
            },
            kind,
        })
    }

    pub(crate) fn fs_create_dir(&self, path: &str) -> Result<(), ApiFailure> {
        let at = self.locate(path, Need::Write, Last::Follow)?;
        let Some(name) = at.landing.name.clone() else {
            return Ok(());
        };
        let dir = self.make_missing(&at)?;
        match lstat(&dir, &name) {
            Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Directory => Ok(()),
            Ok(_) => Err(ApiFailure::Invalid(format!(
                "`{}` exists and is not a folder",
                at.path
            ))),
            Err(Errno::NOENT) => {
                self.reserve(&at.path, 0, 0, 1)?;
                rustix::fs::mkdirat(&dir, name.as_str(), Mode::from_raw_mode(DIR_MODE)).map_err(
                    |e| {
                        self.recount();
                        self.io_failure(&at.path, errno_io(e))
                    },
                )
            }
            Err(e) => Err(self.io_failure(&at.path, errno_io(e))),
        }
    }

    pub(crate) fn fs_remove(&self, path: &str) -> Result<(), ApiFailure> {
        let at = self.locate(path, Need::Write, Last::Keep)?;
        self.not_a_grant_anchor(&at, "removed")?;
        let name = at.landing.name("removed")?;
        let io = |e: Errno| self.io_failure(&at.path, errno_io(e));
        if !at.landing.missing.is_empty() {
            return Err(ApiFailure::NotFound(format!(
                "`{}` does not exist",
                at.path
            )));
        }
        let stat = lstat(&at.landing.parent, name).map_err(io)?;
        let ft = FileType::from_raw_mode(stat.st_mode);
        let flags = if ft == FileType::Directory {
            AtFlags::REMOVEDIR
        } else {
            AtFlags::empty()
        };
        let lock = self.name_lock(LockKind::Exclusive)?;
        rustix::fs::unlinkat(&at.landing.parent, name, flags).map_err(io)?;
        drop(lock);
        let bytes = if ft == FileType::RegularFile {
            u64::try_from(stat.st_size).unwrap_or(0)
        } else {
            0
        };
        self.reserve(&at.path, 0, bytes, -1)
    }

    pub(crate) fn fs_rename(&self, from: &str, to: &str) -> Result<(), ApiFailure> {
        let src = self.locate(from, Need::Write, Last::Keep)?;
        let dst = self.locate(to, Need::Write, Last::Keep)?;
        self.not_a_grant_anchor(&src, "moved")?;
        self.not_a_grant_anchor(&dst, "replaced")?;
        let src_name = src.landing.name("moved")?;
        if !src.landing.missing.is_empty() {
            return Err(ApiFailure::NotFound(format!(
                "`{}` does not exist",
                src.path
            )));
        }
        let dst_name = dst.landing.name("replaced")?.to_owned();
        let dst_dir = self.make_missing(&dst)?;
        let lock = self.name_lock(LockKind::Exclusive)?;
        let replaced = lstat(&dst_dir, &dst_name).ok();
        rustix::fs::renameat(&src.landing.parent, src_name, &dst_dir, dst_name.as_str())
            .map_err(|e| self.io_failure(&src.path, errno_io(e)))?;
        drop(lock);
        match replaced {
            Some(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile => {
                self.reserve(&dst.path, 0, u64::try_from(stat.st_size).unwrap_or(0), -1)
            }
            Some(_) => self.reserve(&dst.path, 0, 0, -1),
            None => Ok(()),
        }
    }

    pub(crate) fn fs_symlink(&self, target: &str, link: &str) -> Result<(), ApiFailure> {
        let at = self.locate(link, Need::Write, Last::Keep)?;
        self.not_a_grant_anchor(&at, "replaced by a link")?;
        let name = at.landing.name("replaced by a link")?.to_owned();
        let shown: String = target
            .chars()
            .take(256)
            .flat_map(char::escape_default)
            .collect();
        if target.is_empty() || target.contains('\0') || target.contains('\\') {
            return Err(ApiFailure::Invalid(format!(
                "link target `{shown}` must be a non-empty `/`-separated path"
            )));
        }
        // The target, read as text from the link's real folder, must stay
        // inside the data root and land under a grant. (Using the link is
        // checked again where it really lands; this keeps links that point
        // outside from being made at all.)
        let mut at_parts: Vec<&str> = at
            .landing
            .parent_real
            .iter()
            .chain(&at.landing.missing)
            .map(String::as_str)
            .collect();
        let mut escapes = target.starts_with('/');
        for part in target.split('/') {
            match part {
                "" | "." => {}
                ".." => escapes |= at_parts.pop().is_none(),
                p => at_parts.push(p),
            }
        }
        let lands = if at_parts.is_empty() {
            ".".to_owned()
        } else {
            at_parts.join("/")
        };
        let granted = at.grants.iter().any(|g| covers(&g.real, &lands));
        if escapes || !granted {
            return Err(self.refuse(
                "fs",
                at.path.clone(),
                format!("a link to `{shown}` would point outside the plugin's granted folders"),
                "link targets must be relative and stay inside the grants; no grant changes that",
            ));
        }
        let dir = self.make_missing(&at)?;
        self.reserve(&at.path, 0, 0, 1)?;
        rustix::fs::symlinkat(target, &dir, name.as_str()).map_err(|e| {
            self.recount();
            self.io_failure(&at.path, errno_io(e))
        })
    }

    pub(crate) fn fs_hard_link(&self, existing: &str, link: &str) -> Result<(), ApiFailure> {
        let src = self.locate(existing, Need::Write, Last::Keep)?;
        let dst = self.locate(link, Need::Write, Last::Keep)?;
        self.not_a_grant_anchor(&dst, "replaced by a link")?;
        let src_name = src.landing.name("linked")?;
        let stat = lstat(&src.landing.parent, src_name)
            .map_err(|e| self.io_failure(&src.path, errno_io(e)))?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Err(ApiFailure::Invalid(format!(
                "`{}` is {}; only regular files can be hard-linked",
                src.path,
                describe(FileType::from_raw_mode(stat.st_mode))
            )));
        }
        let dst_name = dst.landing.name("replaced by a link")?.to_owned();
        let dst_dir = self.make_missing(&dst)?;
        self.reserve(&dst.path, u64::try_from(stat.st_size).unwrap_or(0), 0, 1)?;
        let _lock = self.name_lock(LockKind::Exclusive)?;
        rustix::fs::linkat(
            &src.landing.parent,
            src_name,
            &dst_dir,
            dst_name.as_str(),
            AtFlags::empty(),
        )
        .map_err(|e| {
            self.recount();
            self.io_failure(&src.path, errno_io(e))
        })
    }
}

/// Makes `names` as nested folders under `dir`, one at a time and without
/// following links; returns the deepest.
fn make_dirs(dir: &OwnedFd, names: &[String]) -> Result<OwnedFd, Errno> {
    let mut current = dir
        .try_clone()
        .map_err(|e| e.raw_os_error().map_or(Errno::IO, Errno::from_raw_os_error))?;
    for name in names {
        match rustix::fs::mkdirat(&current, name.as_str(), Mode::from_raw_mode(DIR_MODE)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(e),
        }
        current = open_dir(&current, name)?;
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_cover_by_whole_components() {
        assert!(covers(".", "a/b"));
        assert!(covers("a", "a"));
        assert!(covers("a", "a/b"));
        assert!(!covers("a", "ab"));
        assert!(!covers("a/b", "a"));
        assert!(holds("a", "a/b"));
        assert!(!holds("a/b", "a"));
    }
}
