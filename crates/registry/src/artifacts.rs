//! Components by content: stored with a publish (in files beside the
//! store, or in the database), read back verified against their digest,
//! opened as packages for hosts, and checked as a whole (`verify`).

use yoi_manifest::{Compat, Digest, Package};

use crate::model::manifest_of;
use yoi_manifest::{Scope, applies};

use crate::error::RegistryError;
use crate::model::{State, VersionRecord};
use crate::registry::Registry;
use crate::store::{Store, Tx};

impl<S: Store> Registry<S> {
    /// A stored artifact, its digest verified.
    pub fn artifact(&self, digest: &Digest) -> Result<Vec<u8>, RegistryError> {
        self.verified_artifact(&digest.to_string())
    }

    pub(crate) fn verified_artifact(&self, digest: &str) -> Result<Vec<u8>, RegistryError> {
        let bytes = self.unverified_artifact(digest)?;
        crate::blobs::verify(digest, &bytes)?;
        Ok(bytes)
    }

    /// An artifact's bytes as stored, for a caller that hashes them itself.
    pub(crate) fn unverified_artifact(&self, digest: &str) -> Result<Vec<u8>, RegistryError> {
        match &self.blobs {
            Some(files) => files.read_unverified(digest),
            None => {
                crate::blobs::parse(digest)?;
                self.store.read(|tx| tx.artifact(digest))?.ok_or_else(|| {
                    RegistryError::MissingBlob {
                        digest: digest.to_owned(),
                        place: "the registry database".into(),
                    }
                })
            }
        }
    }

    /// Stores an artifact with the operation `tx` belongs to: a file
    /// written under the store's write lock, or a row in the same
    /// transaction (so a concurrent prune can never delete it between the
    /// two).
    pub(crate) fn put_artifact(
        &self,
        tx: &mut dyn Tx,
        digest: &str,
        bytes: &[u8],
    ) -> Result<(), RegistryError> {
        match &self.blobs {
            Some(files) => files.put(digest, bytes),
            None => {
                crate::blobs::verify(digest, bytes)?;
                tx.put_artifact(digest, bytes)
            }
        }
    }

    pub(crate) fn artifact_sizes(
        &self,
        tx: &mut dyn Tx,
    ) -> Result<Vec<(String, u64)>, RegistryError> {
        match &self.blobs {
            Some(files) => files.list(),
            None => tx.artifact_sizes(),
        }
    }

    pub(crate) fn delete_artifact(
        &self,
        tx: &mut dyn Tx,
        digest: &str,
    ) -> Result<u64, RegistryError> {
        match &self.blobs {
            Some(files) => files.remove(digest),
            None => tx.delete_artifact(digest),
        }
    }

    /// A stored version as a [`Package`] a host can load: the artifact read
    /// back and its digest verified (`R0201`, `R0202`), the stored manifest
    /// checked against `compat` (`R0203`). The component itself is not
    /// inspected again: publish did that, and the digest proves these are
    /// the bytes it inspected.
    pub fn open_package(
        &self,
        record: &VersionRecord,
        compat: &Compat,
    ) -> Result<Package, RegistryError> {
        let digest = record.digest.to_string();
        // Hashed once, by the package check below.
        let artifact = self.unverified_artifact(&digest)?;
        let name = format!("{}@{}", record.plugin, record.version);
        Package::from_published(&name, &record.manifest, artifact, compat).map_err(|d| {
            if d.has(yoi_manifest::Code::DigestMismatch) {
                // The stored bytes changed: say so as every blob read does
                // (the error path reads and hashes them again).
                return match self.verified_artifact(&digest) {
                    Err(e) => e,
                    Ok(_) => RegistryError::StoredPackage {
                        plugin: record.plugin.to_string(),
                        version: record.version.to_string(),
                        detail: d.to_string(),
                    },
                };
            }
            RegistryError::StoredPackage {
                plugin: record.plugin.to_string(),
                version: record.version.to_string(),
                detail: d.to_string(),
            }
        })
    }

    /// Whether the active version of `plugin` applies to `subject` on a
    /// host of scope `host_scope`: deterministic for a given plugin,
    /// subject and rollout.
    pub fn applies(
        &self,
        plugin: &str,
        subject: &str,
        host_scope: Scope,
    ) -> Result<bool, RegistryError> {
        Ok(self
            .active(plugin)?
            .is_some_and(|v| applies(plugin, subject, v.rollout, host_scope)))
    }

    /// Checks the registry's invariants: at most one active version per
    /// plugin, and every version's artifact present and matching its digest.
    /// Returns the problems found (empty when consistent).
    pub fn verify(&self) -> Result<Vec<String>, RegistryError> {
        let snapshot = self.snapshot()?;
        let mut problems = Vec::new();
        let mut seen = std::collections::BTreeMap::new();
        for v in &snapshot.versions {
            if v.state == State::Active
                && seen.insert(v.plugin.clone(), v.version.clone()).is_some()
            {
                problems.push(format!("{} has more than one active version", v.plugin));
            }
            if let Err(e) = self.verified_artifact(&v.digest.to_string()) {
                problems.push(format!("{}@{}: {e}", v.plugin, v.version));
            }
            if let Err(e) = manifest_of(v) {
                problems.push(e.to_string());
            }
        }
        Ok(problems)
    }
}
