//! Compiled components on disk, so a restart recompiles nothing.
//!
//! An entry is keyed by the artifact digest and a fingerprint of the engine
//! (wasmtime version, target and every setting that affects code), so a
//! host with another engine never picks up a stale entry. Each file starts
//! with a CRC-32 of the rest: a torn or corrupted entry is detected before
//! the code is loaded, and rebuilt. (A checksum, not a digest: it guards
//! against accidents at a tenth of SHA-256's cost on the boot path.)
//!
//! Loading compiled code trusts the file. The checksum catches accidents
//! (a crash mid-write, bit rot), not an attacker: the cache folder must be
//! writable only by the host's user, like the registry itself.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest as _, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;
use yoi_manifest::Digest;

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheUse {
    /// No cache is configured; compiled.
    Off,
    /// Loaded from the cache.
    Hit,
    /// Not in the cache; compiled and stored.
    Miss,
    /// The entry was corrupt or unusable; compiled again and replaced.
    Rebuilt,
    /// The host already held the same code (another plugin, or another
    /// version, with this digest): nothing compiled or read.
    InMemory,
}

/// The components this host has compiled, by digest: a second plugin (or
/// a reload) with the same code shares the compiled code instead of
/// compiling it again. Entries no loaded plugin uses are dropped whenever
/// a snapshot is published (`Compiled::retain`).
#[derive(Default)]
pub(crate) struct Compiled(std::sync::Mutex<std::collections::HashMap<Digest, Component>>);

impl Compiled {
    /// The component for `digest`: the one the host holds, or what `load`
    /// makes (compiled, or read from the compile cache), kept for later
    /// loads of the same code. The lock is not held while `load` runs.
    pub(crate) fn get_or<E>(
        &self,
        digest: Digest,
        load: impl FnOnce() -> Result<(Component, CacheUse), E>,
    ) -> Result<(Component, CacheUse), E> {
        let held = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&digest)
            .cloned();
        if let Some(component) = held {
            return Ok((component, CacheUse::InMemory));
        }
        let (component, used) = load()?;
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(digest, component.clone());
        Ok((component, used))
    }

    /// Drops the components of digests `used` does not name.
    pub(crate) fn retain(&self, used: &std::collections::HashSet<Digest>) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|d, _| used.contains(d));
    }
}

pub(crate) struct CompileCache {
    dir: PathBuf,
    fingerprint: String,
}

impl CompileCache {
    pub(crate) fn open(dir: &Path, engine: &Engine) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            fingerprint: fingerprint(engine),
        })
    }

    fn path(&self, digest: &Digest) -> PathBuf {
        self.dir
            .join(format!("{}-{}.cwasm", digest.hex(), self.fingerprint))
    }

    /// The compiled component for `artifact`, from the cache or compiled now.
    pub(crate) fn get_or_compile(
        &self,
        engine: &Engine,
        digest: &Digest,
        compile: impl FnOnce() -> Result<Component, String>,
    ) -> Result<(Component, CacheUse), String> {
        let path = self.path(digest);
        let found = match std::fs::read(&path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "compile cache entry unreadable; compiling");
                Some(Vec::new())
            }
        };
        let outcome = match found {
            None => CacheUse::Miss,
            Some(bytes) => match verified(&bytes) {
                // SAFETY: the bytes were written by `store` below from
                // `Component::serialize` with this engine fingerprint, and
                // their checksum matches, so they are what we wrote.
                Some(code) => match unsafe { Component::deserialize(engine, code) } {
                    Ok(component) => return Ok((component, CacheUse::Hit)),
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "compile cache entry rejected by the engine; rebuilding");
                        CacheUse::Rebuilt
                    }
                },
                None => {
                    tracing::warn!(path = %path.display(), "compile cache entry is corrupt (checksum mismatch); rebuilding");
                    CacheUse::Rebuilt
                }
            },
        };
        let component = compile()?;
        if let Err(e) = self.store(&path, &component) {
            // A cache that cannot be written costs time, never correctness.
            tracing::warn!(path = %path.display(), error = %e, "could not write the compile cache");
        }
        Ok((component, outcome))
    }

    fn store(&self, path: &Path, component: &Component) -> Result<(), String> {
        let code = component.serialize().map_err(|e| e.to_string())?;
        let sum = crc32fast::hash(&code).to_le_bytes();
        // Write beside, then rename: a crash leaves the old entry or none.
        // The temp name is unique per writer, so two hosts (or threads)
        // filling the same entry never write into one file.
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let n = WRITES.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp-{}-{n}", std::process::id()));
        let mut file = std::fs::File::create(&tmp).map_err(|e| e.to_string())?;
        file.write_all(&sum).map_err(|e| e.to_string())?;
        file.write_all(&code).map_err(|e| e.to_string())?;
        file.sync_all().map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            e.to_string()
        })?;
        Ok(())
    }
}

/// The code after the checksum, if the checksum matches.
fn verified(bytes: &[u8]) -> Option<&[u8]> {
    let (sum, code) = bytes.split_at_checked(4)?;
    (crc32fast::hash(code).to_le_bytes() == sum).then_some(code)
}

/// A short stable name for everything that makes compiled code valid for
/// this engine.
fn fingerprint(engine: &Engine) -> String {
    let mut h = StableHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    let sum = h.0.finalize();
    sum[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A `Hasher` over SHA-256, so the fingerprint does not depend on the
/// standard library's hasher (which may change between Rust releases).
struct StableHasher(Sha256);

impl Hasher for StableHasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_guards_the_code() {
        let code = b"compiled";
        let mut entry = crc32fast::hash(code).to_le_bytes().to_vec();
        entry.extend_from_slice(code);
        assert_eq!(verified(&entry), Some(&code[..]));
        let last = entry.len() - 1;
        entry[last] ^= 1;
        assert_eq!(verified(&entry), None);
        assert_eq!(verified(&entry[..3]), None);
    }
}
