//! Where an `fs` call lands: the data root, the name lock, a path walked
//! one component at a time with links resolved by hand, and the grant that
//! covers the real location (the rule in this module's parent).

use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;
use yoi_manifest::{Capability, FsMode};

use super::*;

impl PluginApi {
    /// Opens the data root (made on first use).
    pub(super) fn open_root(&self) -> Result<OwnedFd, ApiFailure> {
        let root = self.fs.root.as_ref().ok_or_else(|| {
            ApiFailure::Failed(
                "this host has no data directory for plugins (HostBuilder::data_dir)".into(),
            )
        })?;
        std::fs::create_dir_all(root)
            .and_then(|()| {
                rustix::fs::open(
                    root,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(errno_io)
            })
            .map_err(|e| ApiFailure::Failed(format!("the plugin's data root: {e}")))
    }

    /// Takes the data root's name lock (docs/grants.md, "Where a call
    /// lands"): `Exclusive` around every change that takes a name from a
    /// file (remove, rename, a write's rename over the old name, a new hard
    /// link), `Shared` from an in-place append's check to its write. The
    /// kernel lowers a file's link count before its name is gone, so an
    /// append checked during a concurrent unlink could see "one name" on a
    /// file whose last other name is in a read-only folder; the lock keeps
    /// the two apart. It is an `flock` on the root folder, so every process
    /// using the same data root (`yoi serve`, `yoi run`) takes part. Released
    /// when the returned handle is dropped.
    pub(super) fn name_lock(&self, kind: LockKind) -> Result<OwnedFd, ApiFailure> {
        let root = self.open_root()?;
        let op = match kind {
            LockKind::Shared => rustix::fs::FlockOperation::LockShared,
            LockKind::Exclusive => rustix::fs::FlockOperation::LockExclusive,
        };
        rustix::fs::flock(&root, op)
            .map_err(|e| ApiFailure::Failed(format!("locking the plugin's data root: {e}")))?;
        Ok(root)
    }

    /// Checks the path's text: relative, no `..`, not too long.
    pub(super) fn normalize(&self, raw: &str) -> Result<String, ApiFailure> {
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
        if raw.starts_with('/') {
            return Err(self.deny(
                "fs",
                shown,
                "the path is absolute: fs paths are relative to the plugin's data root (write `notes/a.md`, not `/notes/a.md`)",
                None,
            ));
        }
        if raw.split('/').any(|part| part == "..") {
            return Err(self.deny(
                "fs",
                shown,
                "the path climbs out with `..`: fs paths stay inside the plugin's data root",
                None,
            ));
        }
        yoi_manifest::relative_path(raw)
            .map_err(|why| ApiFailure::Invalid(format!("path `{shown}` {why}")))
    }

    /// Walks `path` from the data root to where it lands. Links are followed
    /// on the way (and at the end with [`Last::Follow`]); a link that climbs
    /// above the data root or is absolute is an escape.
    pub(super) fn walk(
        &self,
        root: &OwnedFd,
        path: &str,
        last: Last,
    ) -> Result<Landing, ApiFailure> {
        let mut pending: std::collections::VecDeque<String> = path
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .map(str::to_owned)
            .collect();
        let mut dirs: Vec<(OwnedFd, String)> = Vec::new();
        let mut links = Vec::new();
        let mut hops = 0;
        let escape = |link: &str| {
            self.refuse(
                "fs",
                path.to_owned(),
                format!("`{path}` leads outside the plugin's data root through the link `{link}`"),
                "symbolic links may only point inside the data root; no grant changes that",
            )
        };
        let changed = |what: &str| {
            ApiFailure::Failed(format!(
                "`{path}` changed while it was being resolved ({what}); try again"
            ))
        };
        let current = |dirs: &[(OwnedFd, String)]| -> Result<OwnedFd, ApiFailure> {
            let fd = dirs.last().map_or(root.as_fd(), |(fd, _)| fd.as_fd());
            fd.try_clone_to_owned()
                .map_err(|e| ApiFailure::Failed(format!("`{path}`: {e}")))
        };
        while let Some(part) = pending.pop_front() {
            if part == "." {
                continue;
            }
            if part == ".." {
                // Only link targets bring `..` here; the plugin's own text
                // was refused before.
                if dirs.pop().is_none() {
                    return Err(escape(&part));
                }
                continue;
            }
            let is_last = pending.iter().all(|p| p == ".");
            let parent = dirs.last().map_or(root.as_fd(), |(fd, _)| fd.as_fd());
            let stat = match lstat(parent, &part) {
                Ok(stat) => stat,
                Err(Errno::NOENT) => {
                    if is_last {
                        return Ok(Landing::new(
                            current(&dirs)?,
                            dirs,
                            Vec::new(),
                            Some(part),
                            links,
                        ));
                    }
                    // The rest does not exist: it lands there once made.
                    let mut missing = vec![part];
                    while let Some(p) = pending.pop_front() {
                        match p.as_str() {
                            "." => {}
                            ".." => {
                                return Err(ApiFailure::NotFound(format!(
                                    "`{path}` does not exist"
                                )));
                            }
                            _ => missing.push(p),
                        }
                    }
                    let name = missing.pop();
                    return Ok(Landing::new(current(&dirs)?, dirs, missing, name, links));
                }
                Err(e) => return Err(self.io_failure(path, errno_io(e))),
            };
            match FileType::from_raw_mode(stat.st_mode) {
                FileType::Symlink if !(is_last && last == Last::Keep) => {
                    hops += 1;
                    links.push(
                        dirs.iter()
                            .map(|(_, n)| n.as_str())
                            .chain([part.as_str()])
                            .collect::<Vec<_>>()
                            .join("/"),
                    );
                    if hops > MAX_LINK_HOPS {
                        return Err(ApiFailure::Invalid(format!(
                            "`{path}` goes through more than {MAX_LINK_HOPS} symbolic links"
                        )));
                    }
                    let target = rustix::fs::readlinkat(parent, part.as_str(), Vec::new())
                        .map_err(|e| self.io_failure(path, errno_io(e)))?;
                    let target = target.to_string_lossy().into_owned();
                    if target.starts_with('/') || target.is_empty() {
                        return Err(escape(&part));
                    }
                    for p in target.split('/').rev().filter(|p| !p.is_empty()) {
                        pending.push_front(p.to_owned());
                    }
                }
                FileType::Directory if !is_last => {
                    let fd = open_dir(parent, &part).map_err(|e| match e {
                        Errno::LOOP | Errno::NOTDIR => changed("a folder was replaced"),
                        e => self.io_failure(path, errno_io(e)),
                    })?;
                    dirs.push((fd, part));
                }
                _ if is_last => {
                    return Ok(Landing::new(
                        current(&dirs)?,
                        dirs,
                        Vec::new(),
                        Some(part),
                        links,
                    ));
                }
                other => {
                    return Err(ApiFailure::NotFound(format!(
                        "`{path}`: `{part}` is {}, not a folder",
                        describe(other)
                    )));
                }
            }
        }
        // The path named a folder (or the root) and nothing follows: it
        // lands on the last folder, as a name in its parent.
        match dirs.pop() {
            Some((_, name)) => Ok(Landing::new(
                current(&dirs)?,
                dirs,
                Vec::new(),
                Some(name),
                links,
            )),
            None => Ok(Landing::new(current(&dirs)?, dirs, Vec::new(), None, links)),
        }
    }

    /// The plugin's grants with their paths resolved to where they really
    /// are. A missing `rw` grant folder is made (it is the plugin's to use).
    pub(super) fn real_grants(&self, root: &OwnedFd) -> Vec<RealGrant> {
        let mut out = Vec::with_capacity(self.grants.fs.len());
        for (grant, mode) in &self.grants.fs {
            if grant == "." {
                out.push(RealGrant {
                    text: grant.clone(),
                    mode: *mode,
                    real: ".".into(),
                    anchors: Vec::new(),
                });
                continue;
            }
            // A grant whose path leads outside covers nothing.
            let Ok(landing) = self.walk(root, grant, Last::Follow) else {
                continue;
            };
            if *mode == FsMode::Rw
                && let Some(name) = &landing.name
                && lstat(&landing.parent, name).is_err()
            {
                let mut made = landing.missing.clone();
                made.push(name.clone());
                if make_dirs(&landing.parent, &made).is_ok() {
                    self.recount();
                }
            }
            let real = landing.real();
            let mut anchors = landing.links;
            anchors.push(grant.clone());
            anchors.push(real.clone());
            out.push(RealGrant {
                text: grant.clone(),
                mode: *mode,
                real,
                anchors,
            });
        }
        out
    }

    /// Walks `raw` and checks that a grant covers where it lands with the
    /// mode `need` asks for.
    pub(super) fn locate(&self, raw: &str, need: Need, last: Last) -> Result<Located, ApiFailure> {
        let path = self.normalize(raw)?;
        let root = self.open_root()?;
        let grants = self.real_grants(&root);
        let landing = self.walk(&root, &path, last)?;
        let real = landing.real();
        let needed_mode = if need == Need::Write {
            FsMode::Rw
        } else {
            FsMode::Ro
        };
        let covering = grants
            .iter()
            .filter(|g| covers(&g.real, &real))
            // The deepest grant wins; for the same place, `rw` over `ro`.
            .max_by_key(|g| {
                (
                    if g.real == "." {
                        0
                    } else {
                        g.real.split('/').count()
                    },
                    g.mode == FsMode::Rw,
                )
            });
        let via = if real == path {
            String::new()
        } else {
            format!(" (it lands on `{real}`)")
        };
        let Some(RealGrant {
            text: grant, mode, ..
        }) = covering
        else {
            let suggest = match real.split_once('/') {
                Some((top, _)) => top.to_owned(),
                None => real.clone(),
            };
            return Err(self.deny(
                "fs",
                path.clone(),
                format!("no fs grant covers `{path}`{via}"),
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
                format!("`{grant}` is granted read-only; this call writes to `{path}`{via}"),
                Some(Capability::Fs {
                    path: grant.clone(),
                    mode: FsMode::Rw,
                }),
            ));
        }
        Ok(Located {
            landing,
            path,
            real,
            grants,
        })
    }

    /// Refuses to remove, move or replace a granted path or a folder that
    /// holds one: grants are anchored by path, so moving them would carry a
    /// read-only grant's files out from under it.
    pub(super) fn not_a_grant_anchor(&self, at: &Located, what: &str) -> Result<(), ApiFailure> {
        for grant in &at.grants {
            if let Some(anchor) = grant.anchors.iter().find(|a| holds(&at.real, a)) {
                let why = if &at.real == anchor {
                    format!("`{}` is where the grant `{}` points", at.path, grant.text)
                } else {
                    format!(
                        "`{}` holds `{anchor}`, where the grant `{}` points",
                        at.path, grant.text
                    )
                };
                return Err(ApiFailure::Invalid(format!("{why}; it cannot be {what}")));
            }
        }
        Ok(())
    }
}
