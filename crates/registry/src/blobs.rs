//! Artifacts stored by content: `blobs/sha256/<hex>`. A blob is written to a
//! temporary file, flushed to disk, renamed into place and the folder
//! flushed, so it is either absent or complete; its digest is verified again
//! every time it is read.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use yoi_manifest::Digest;

use crate::error::RegistryError;

/// The blob folder of a registry.
pub(crate) struct Blobs {
    dir: PathBuf,
}

fn sync_dir(dir: &Path) -> Result<(), RegistryError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| RegistryError::io(dir, e))
}

pub(crate) fn parse(digest: &str) -> Result<Digest, RegistryError> {
    digest
        .parse()
        .map_err(|why| RegistryError::Invalid(format!("`{digest}` is not a sha256 digest: {why}")))
}

/// Refuses bytes whose digest is not `digest`.
pub(crate) fn verify(digest: &str, bytes: &[u8]) -> Result<(), RegistryError> {
    let actual = Digest::of(bytes);
    if actual == parse(digest)? {
        Ok(())
    } else {
        Err(RegistryError::CorruptBlob {
            digest: digest.to_owned(),
            actual: actual.to_string(),
        })
    }
}

/// A temporary file older than this is abandoned whoever wrote it: no
/// write of at most an artifact's size takes that long.
const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

/// Whether a temporary file is left over: its writer (the process id in
/// its name, `HEX.PID.THREAD`) is gone, or it is older than
/// [`ABANDONED_AFTER`].
fn abandoned(entry: &fs::DirEntry) -> bool {
    let old = entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_none_or(|age| age > ABANDONED_AFTER);
    if old {
        return true;
    }
    let name = entry.file_name();
    let pid = name
        .to_str()
        .and_then(|n| n.split('.').nth(1))
        .and_then(|p| p.parse::<u32>().ok());
    match pid {
        Some(pid) if pid == std::process::id() => false,
        Some(pid) => !alive(pid),
        None => false,
    }
}

/// Whether a process with this id runs on this machine.
fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        // Without a cheap way to ask, assume it does: the age rule cleans up.
        true
    }
}

impl Blobs {
    /// Opens the blob folder under `root`, removing temporary files that an
    /// interrupted write left behind (no record ever points at them). A
    /// temporary file whose writer is still alive is another process's
    /// publish in flight, and is left to it.
    pub(crate) fn open(root: &Path) -> Result<Self, RegistryError> {
        let dir = root.join("blobs");
        for sub in ["sha256", "tmp"] {
            fs::create_dir_all(dir.join(sub)).map_err(|e| RegistryError::io(dir.join(sub), e))?;
        }
        let tmp = dir.join("tmp");
        for entry in fs::read_dir(&tmp).map_err(|e| RegistryError::io(&tmp, e))? {
            let entry = entry.map_err(|e| RegistryError::io(&tmp, e))?;
            if abandoned(&entry) {
                let path = entry.path();
                // Another opener may have removed it first.
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(RegistryError::io(&path, e)),
                }
            }
        }
        Ok(Blobs { dir })
    }

    pub(crate) fn path(&self, digest: &str) -> Result<PathBuf, RegistryError> {
        Ok(self.dir.join("sha256").join(parse(digest)?.hex()))
    }

    /// Stores `bytes` under `digest` (which must be their digest). Storing
    /// the same content twice is a no-op.
    pub(crate) fn put(&self, digest: &str, bytes: &[u8]) -> Result<(), RegistryError> {
        verify(digest, bytes)?;
        let dest = self.path(digest)?;
        if self.get(digest).is_ok() {
            return Ok(());
        }
        let tmp = self.dir.join("tmp").join(format!(
            "{}.{}.{:?}",
            parse(digest)?.hex(),
            std::process::id(),
            std::thread::current().id()
        ));
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(RegistryError::io(&tmp, e));
        }
        fs::rename(&tmp, &dest).map_err(|e| RegistryError::io(&dest, e))?;
        sync_dir(&self.dir.join("sha256"))
    }

    /// Reads a blob and verifies its digest.
    pub(crate) fn get(&self, digest: &str) -> Result<Vec<u8>, RegistryError> {
        let bytes = self.read_unverified(digest)?;
        verify(digest, &bytes)?;
        Ok(bytes)
    }

    /// A blob's bytes without checking them: only for a caller that verifies
    /// the digest itself (reopening a package does), so it is hashed once.
    pub(crate) fn read_unverified(&self, digest: &str) -> Result<Vec<u8>, RegistryError> {
        let path = self.path(digest)?;
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(RegistryError::MissingBlob {
                    digest: digest.to_owned(),
                    place: path.display().to_string(),
                });
            }
            Err(e) => return Err(RegistryError::io(&path, e)),
        };
        Ok(bytes)
    }

    /// Every stored blob: its digest (`sha256:<hex>`) and size in bytes.
    pub(crate) fn list(&self) -> Result<Vec<(String, u64)>, RegistryError> {
        let dir = self.dir.join("sha256");
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| RegistryError::io(&dir, e))? {
            let entry = entry.map_err(|e| RegistryError::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let size = entry.metadata().map_or(0, |m| m.len());
            out.push((format!("sha256:{name}"), size));
        }
        out.sort();
        Ok(out)
    }

    /// Deletes one blob, if present; returns its size.
    pub(crate) fn remove(&self, digest: &str) -> Result<u64, RegistryError> {
        let path = self.path(digest)?;
        let size = match fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(RegistryError::io(&path, e)),
        };
        fs::remove_file(&path).map_err(|e| RegistryError::io(&path, e))?;
        Ok(size)
    }

    /// Deletes every blob (for `clear`).
    pub(crate) fn clear(&self) -> Result<(), RegistryError> {
        let dir = self.dir.join("sha256");
        for entry in fs::read_dir(&dir).map_err(|e| RegistryError::io(&dir, e))? {
            let path = entry.map_err(|e| RegistryError::io(&dir, e))?.path();
            fs::remove_file(&path).map_err(|e| RegistryError::io(&path, e))?;
        }
        sync_dir(&dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opening a registry cleans only what no live process is writing:
    /// another process's publish in flight keeps its temporary file.
    #[test]
    fn opening_removes_only_temporary_files_no_live_process_owns() {
        let root = tempfile::tempdir().expect("temp");
        let tmp = root.path().join("blobs").join("tmp");
        fs::create_dir_all(&tmp).expect("tmp");
        let hex = "ab".repeat(32);
        // PID 1 always runs; no process has an id this large.
        let live = tmp.join(format!("{hex}.1.ThreadId(2)"));
        let mine = tmp.join(format!("{hex}.{}.ThreadId(3)", std::process::id()));
        let dead = tmp.join(format!("{hex}.4294967295.ThreadId(2)"));
        for path in [&live, &mine, &dead] {
            fs::write(path, b"partial").expect("write");
        }
        Blobs::open(root.path()).expect("open");
        assert!(
            live.exists(),
            "another process's write in flight was deleted"
        );
        assert!(mine.exists(), "this process's write in flight was deleted");
        assert!(!dead.exists(), "an abandoned file was kept");
    }
}
