//! `fs`: files inside a plugin's data root, under its `fs` grants.
//!
//! Each grant is opened as its own capability directory (`cap-std`), and the
//! path the plugin gives is resolved inside it: `..` and absolute paths are
//! refused before anything is touched, and symbolic links — already there or
//! made by the plugin, with or without a trailing slash — are followed only
//! while they stay inside the grant's folder. `ro` grants refuse every call
//! that writes, truncates, removes, renames or links. A byte quota covers
//! the whole data root.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions};
use yoi_manifest::FsMode;
use yoi_registry::Capability;

use super::{ApiFailure, PluginApi};
use crate::bindings::yoi::plugin::fs::{Entry, EntryKind};

/// Longest path accepted, in bytes.
const MAX_PATH_BYTES: usize = 4096;
/// Most entries `list` returns.
const MAX_LIST: usize = 10_000;

/// A plugin's data root and how much of its quota is used.
pub(crate) struct FsState {
    pub(crate) root: Option<PathBuf>,
    quota: u64,
    /// Bytes in the data root, counted on first use, then kept up to date by
    /// every write; `None` when it has to be counted again.
    usage: Mutex<Option<u64>>,
}

impl FsState {
    pub(crate) fn new(root: Option<PathBuf>, quota: u64) -> FsState {
        FsState {
            root,
            quota,
            usage: Mutex::new(None),
        }
    }
}

/// A path resolved to the grant that covers it.
struct Located {
    /// The grant's folder (or, for a grant naming a file, its parent).
    dir: Dir,
    /// The path inside `dir`; `.` is the grant's folder itself.
    rel: PathBuf,
    /// The normalized path, as the plugin sees it.
    path: String,
    /// Whether `rel` is the granted path itself.
    is_grant_root: bool,
}

/// What a call needs from a grant.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    Read,
    Write,
}

/// Sum of file sizes under `dir`, not following links.
fn disk_usage(dir: &Path) -> io::Result<u64> {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let meta = entry.path().symlink_metadata()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                total += meta.len();
            }
        }
    }
    Ok(total)
}

fn kind_of(ft: cap_std::fs::FileType) -> EntryKind {
    if ft.is_symlink() {
        EntryKind::Symlink
    } else if ft.is_dir() {
        EntryKind::Directory
    } else {
        EntryKind::File
    }
}

impl PluginApi {
    /// Normalizes the plugin's path and finds the most specific grant
    /// covering it, with the mode `need` asks for.
    fn locate(&self, raw: &str, need: Need) -> Result<Located, ApiFailure> {
        let shown: String = raw
            .chars()
            .take(256)
            .flat_map(char::escape_default)
            .collect();
        if raw.len() > MAX_PATH_BYTES {
            return Err(ApiFailure::Invalid(format!(
                "the path is longer than {MAX_PATH_BYTES} bytes"
            )));
        }
        if raw.starts_with('/') || raw.split('/').any(|part| part == "..") {
            return Err(self.deny(
                "fs",
                shown,
                "the path leaves the data root: paths are relative to it and may not contain `..`",
                None,
            ));
        }
        let path = yoi_manifest::relative_path(raw)
            .map_err(|why| ApiFailure::Invalid(format!("path `{shown}` {why}")))?;
        let needed_mode = if need == Need::Write {
            FsMode::Rw
        } else {
            FsMode::Ro
        };
        let covering = self
            .grants
            .fs
            .iter()
            .filter(|(g, _)| g == "." || *g == path || path.starts_with(&format!("{g}/")))
            // The longest path wins; for the same path, `rw` over `ro`.
            .max_by_key(|(g, m)| (if g == "." { 0 } else { g.len() }, *m == FsMode::Rw));
        let Some((grant, mode)) = covering else {
            let suggest = match path.split_once('/') {
                Some((top, _)) => top.to_owned(),
                None => path.clone(),
            };
            return Err(self.deny(
                "fs",
                path.clone(),
                format!("no fs grant covers `{path}`"),
                Some(Capability::Fs {
                    path: suggest,
                    mode: needed_mode,
                }),
            ));
        };
        if need == Need::Write && *mode == FsMode::Ro {
            return Err(self.deny(
                "fs",
                path.clone(),
                format!("`{grant}` is granted read-only; this call writes"),
                Some(Capability::Fs {
                    path: grant.clone(),
                    mode: FsMode::Rw,
                }),
            ));
        }
        let root_path = self.fs.root.as_ref().ok_or_else(|| {
            ApiFailure::Failed(
                "this host has no data directory for plugins (HostBuilder::data_dir)".into(),
            )
        })?;
        let io = |e: io::Error| self.io_failure(&path, e);
        std::fs::create_dir_all(root_path).map_err(io)?;
        let root = Dir::open_ambient_dir(root_path, ambient_authority()).map_err(io)?;
        let rest = if grant == "." {
            path.as_str()
        } else {
            path[grant.len()..].trim_start_matches('/')
        };
        let rest = if rest.is_empty() { "." } else { rest };
        let located = |dir, rel: &str| Located {
            dir,
            rel: PathBuf::from(rel),
            path: path.clone(),
            is_grant_root: rest == ".",
        };
        if grant == "." {
            return Ok(located(root, rest));
        }
        match root.metadata(grant) {
            Ok(meta) if meta.is_file() && rest == "." => {
                // A grant naming one file: only that file, opened from its
                // folder.
                let (parent, name) = grant.rsplit_once('/').unwrap_or((".", grant));
                let dir = if parent == "." {
                    root
                } else {
                    root.open_dir(parent).map_err(io)?
                };
                Ok(located(dir, name))
            }
            Ok(meta) if meta.is_file() => Err(ApiFailure::NotFound(format!(
                "`{grant}` is a file, so `{path}` does not exist"
            ))),
            Ok(_) => Ok(located(root.open_dir(grant).map_err(io)?, rest)),
            Err(e) if e.kind() == io::ErrorKind::NotFound && *mode == FsMode::Rw => {
                root.create_dir_all(grant).map_err(io)?;
                Ok(located(root.open_dir(grant).map_err(io)?, rest))
            }
            Err(e) => Err(io(e)),
        }
    }

    fn io_failure(&self, path: &str, e: io::Error) -> ApiFailure {
        match e.kind() {
            io::ErrorKind::NotFound => ApiFailure::NotFound(format!("`{path}` does not exist")),
            io::ErrorKind::PermissionDenied | io::ErrorKind::CrossesDevices => self.refuse(
                "fs",
                path,
                format!("`{path}` leads outside its grant (through a symbolic link), or the system refused it: {e}"),
                "symbolic links may only point inside the granted folder; no grant changes that",
            ),
            _ => ApiFailure::Failed(format!("`{path}`: {e}")),
        }
    }

    fn not_on_grant_root(&self, at: &Located, what: &str) -> Result<(), ApiFailure> {
        if at.is_grant_root {
            return Err(ApiFailure::Invalid(format!(
                "`{}` is the granted path itself; it cannot be {what}",
                at.path
            )));
        }
        Ok(())
    }

    /// Accounts for a change of `add - remove` bytes; refuses it past the
    /// quota.
    fn reserve(&self, path: &str, add: u64, remove: u64) -> Result<(), ApiFailure> {
        let mut usage = self.fs.usage.lock().unwrap_or_else(|p| p.into_inner());
        let current = match *usage {
            Some(n) => n,
            None => match &self.fs.root {
                Some(root) => disk_usage(root).map_err(|e| self.io_failure(path, e))?,
                None => 0,
            },
        };
        let next = current.saturating_sub(remove).saturating_add(add);
        if add > remove && next > self.fs.quota {
            *usage = Some(current);
            return Err(self.refuse(
                "fs",
                path,
                format!(
                    "the write would bring the plugin's data to {next} bytes; its quota is {} bytes",
                    self.fs.quota
                ),
                "remove files the plugin no longer needs, or raise the host's quota (HostBuilder::fs_quota)",
            ));
        }
        *usage = Some(next);
        Ok(())
    }

    /// Forgets the usage count after a failed write, so it is counted again.
    fn recount(&self) {
        *self.fs.usage.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn file_size(at: &Located) -> u64 {
        at.dir
            .symlink_metadata(&at.rel)
            .ok()
            .filter(|m| m.is_file())
            .map_or(0, |m| m.len())
    }

    pub(crate) fn fs_read(&self, path: &str) -> Result<Vec<u8>, ApiFailure> {
        let at = self.locate(path, Need::Read)?;
        let io = |e| self.io_failure(&at.path, e);
        let meta = at.dir.metadata(&at.rel).map_err(io)?;
        if meta.is_dir() {
            return Err(ApiFailure::Invalid(format!("`{}` is a folder", at.path)));
        }
        let max = self.settings.limits.fs_read_bytes;
        if meta.len() > max {
            return Err(ApiFailure::TooLarge(format!(
                "`{}` is {} bytes; reads are limited to {max}",
                at.path,
                meta.len()
            )));
        }
        at.dir.read(&at.rel).map_err(io)
    }

    pub(crate) fn fs_write(&self, path: &str, data: &[u8], append: bool) -> Result<(), ApiFailure> {
        let at = self.locate(path, Need::Write)?;
        let io = |e| self.io_failure(&at.path, e);
        if let Some(parent) = at.rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Missing folders are made; an existing one is followed (inside
            // the grant only), so a link that leaves it is refused here.
            match at.dir.metadata(parent) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    at.dir.create_dir_all(parent).map_err(io)?;
                }
                Err(e) => return Err(io(e)),
            }
        }
        // An existing link at the path is followed by the write: it must
        // resolve inside the grant.
        if let Err(e) = at.dir.metadata(&at.rel)
            && e.kind() != io::ErrorKind::NotFound
        {
            return Err(io(e));
        }
        let old = if append { 0 } else { Self::file_size(&at) };
        self.reserve(&at.path, data.len() as u64, old)?;
        let written = if append {
            at.dir
                .open_with(&at.rel, OpenOptions::new().append(true).create(true))
                .and_then(|mut f| f.write_all(data))
        } else {
            at.dir.write(&at.rel, data)
        };
        written.map_err(|e| {
            self.recount();
            io(e)
        })
    }

    pub(crate) fn fs_list(&self, path: &str) -> Result<Vec<Entry>, ApiFailure> {
        let at = self.locate(path, Need::Read)?;
        let io = |e| self.io_failure(&at.path, e);
        let mut out = Vec::new();
        for entry in at.dir.read_dir(&at.rel).map_err(io)? {
            let entry = entry.map_err(io)?;
            if out.len() == MAX_LIST {
                return Err(ApiFailure::TooLarge(format!(
                    "`{}` has more than {MAX_LIST} entries",
                    at.path
                )));
            }
            let kind = kind_of(entry.file_type().map_err(io)?);
            let size = match kind {
                EntryKind::File => entry.metadata().map(|m| m.len()).unwrap_or(0),
                _ => 0,
            };
            out.push(Entry {
                name: entry.file_name().to_string_lossy().into_owned(),
                kind,
                size,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub(crate) fn fs_stat(&self, path: &str) -> Result<Entry, ApiFailure> {
        let at = self.locate(path, Need::Read)?;
        let meta = at
            .dir
            .symlink_metadata(&at.rel)
            .map_err(|e| self.io_failure(&at.path, e))?;
        let kind = kind_of(meta.file_type());
        Ok(Entry {
            name: at.path.clone(),
            size: if kind == EntryKind::File {
                meta.len()
            } else {
                0
            },
            kind,
        })
    }

    pub(crate) fn fs_create_dir(&self, path: &str) -> Result<(), ApiFailure> {
        let at = self.locate(path, Need::Write)?;
        at.dir
            .create_dir_all(&at.rel)
            .map_err(|e| self.io_failure(&at.path, e))
    }

    pub(crate) fn fs_remove(&self, path: &str) -> Result<(), ApiFailure> {
        let at = self.locate(path, Need::Write)?;
        self.not_on_grant_root(&at, "removed")?;
        let io = |e| self.io_failure(&at.path, e);
        let meta = at.dir.symlink_metadata(&at.rel).map_err(io)?;
        if meta.is_dir() {
            at.dir.remove_dir(&at.rel).map_err(io)
        } else {
            at.dir.remove_file(&at.rel).map_err(io)?;
            if meta.is_file() {
                self.reserve(&at.path, 0, meta.len())?;
            }
            Ok(())
        }
    }

    pub(crate) fn fs_rename(&self, from: &str, to: &str) -> Result<(), ApiFailure> {
        let src = self.locate(from, Need::Write)?;
        let dst = self.locate(to, Need::Write)?;
        self.not_on_grant_root(&src, "renamed")?;
        self.not_on_grant_root(&dst, "replaced")?;
        let replaced = Self::file_size(&dst);
        src.dir
            .rename(&src.rel, &dst.dir, &dst.rel)
            .map_err(|e| self.io_failure(&src.path, e))?;
        self.reserve(&dst.path, 0, replaced)
    }

    pub(crate) fn fs_symlink(&self, target: &str, link: &str) -> Result<(), ApiFailure> {
        let at = self.locate(link, Need::Write)?;
        self.not_on_grant_root(&at, "replaced by a link")?;
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
        // Resolve the target by its text from the link's folder: it must not
        // climb above the grant. (Following links is confined anyway; this
        // keeps links that point outside from being made at all.)
        let mut depth = at.rel.components().count() as i64 - 1;
        let escapes = target.starts_with('/')
            || target.split('/').any(|part| {
                match part {
                    "" | "." => {}
                    ".." => depth -= 1,
                    _ => depth += 1,
                }
                depth < 0
            });
        if escapes {
            return Err(self.refuse(
                "fs",
                at.path.clone(),
                format!("a link to `{shown}` would point outside the granted folder"),
                "link targets must be relative and stay inside the grant; no grant changes that",
            ));
        }
        at.dir
            .symlink(target, &at.rel)
            .map_err(|e| self.io_failure(&at.path, e))
    }

    pub(crate) fn fs_hard_link(&self, existing: &str, link: &str) -> Result<(), ApiFailure> {
        let src = self.locate(existing, Need::Write)?;
        let dst = self.locate(link, Need::Write)?;
        self.not_on_grant_root(&dst, "replaced by a link")?;
        let size = Self::file_size(&src);
        self.reserve(&dst.path, size, 0)?;
        src.dir
            .hard_link(&src.rel, &dst.dir, &dst.rel)
            .map_err(|e| {
                self.recount();
                self.io_failure(&src.path, e)
            })
    }
}
