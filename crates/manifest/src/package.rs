use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::contract::Compat;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::digest::Digest;
use crate::manifest::Manifest;

/// The manifest's file name inside a package folder.
pub const MANIFEST_FILE: &str = "plugin.toml";
/// Largest `plugin.toml` read, in bytes.
pub const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;
/// Largest artifact read, in bytes.
pub const MAX_ARTIFACT_BYTES: u64 = 64 * 1024 * 1024;

/// An opened package: a validated manifest and artifact bytes whose digest
/// matches the manifest.
#[derive(Debug, Clone)]
pub struct Package {
    /// The package folder.
    pub dir: PathBuf,
    /// The validated manifest.
    pub manifest: Manifest,
    /// The artifact's bytes, digest verified.
    pub artifact: Vec<u8>,
}

impl Package {
    /// Opens the package in `dir`: reads and validates `plugin.toml`, checks it
    /// against the host's `compat`, reads the artifact (which must stay inside
    /// `dir`, links included) and verifies its digest. Returns every problem
    /// found.
    pub fn open(dir: &Path, compat: &Compat) -> Result<Package, Diagnostics> {
        let manifest_path = dir.join(MANIFEST_FILE);
        let text = read_limited(&manifest_path, MAX_MANIFEST_BYTES)
            .and_then(|bytes| {
                String::from_utf8(bytes).map_err(|_| ReadError::Other("is not UTF-8 text".into()))
            })
            .map_err(|e| {
                Diagnostics(vec![Diagnostic::new(
                    Code::ManifestUnreadable,
                    manifest_path.display().to_string(),
                    e.describe(MAX_MANIFEST_BYTES),
                    format!(
                        "give the package folder a UTF-8 `{MANIFEST_FILE}` (see docs/manifest.md)"
                    ),
                )])
            })?;
        let manifest = Manifest::parse(&text)?;
        let compat_problems = manifest.compatibility(compat);
        if !compat_problems.is_empty() {
            return Err(Diagnostics(compat_problems));
        }
        let artifact = read_artifact(dir, &manifest)?;
        Ok(Package {
            dir: dir.to_path_buf(),
            manifest,
            artifact,
        })
    }
}

fn read_artifact(dir: &Path, manifest: &Manifest) -> Result<Vec<u8>, Diagnostics> {
    let one = |code, message: String, fix: &str| {
        Diagnostics(vec![Diagnostic::new(
            code,
            "runtime.artifact",
            message,
            fix,
        )])
    };
    let rel = &manifest.runtime.artifact;
    let path = dir.join(rel);
    // Resolve links: the file that is read must lie inside the package folder.
    let (root, real) = match (dir.canonicalize(), path.canonicalize()) {
        (Ok(root), Ok(real)) => (root, real),
        _ => {
            return Err(one(
                Code::ArtifactMissing,
                format!("`{}` does not exist in {}", rel.display(), dir.display()),
                "build the component and put it at that path (`cargo xtask build-examples` for the examples)",
            ));
        }
    };
    if !real.starts_with(&root) {
        return Err(one(
            Code::ArtifactPath,
            format!(
                "`{}` resolves to {}, outside the package folder",
                rel.display(),
                real.display()
            ),
            "replace the link with the file itself",
        ));
    }
    let bytes = read_limited(&real, MAX_ARTIFACT_BYTES).map_err(|e| {
        let code = match e {
            ReadError::TooLarge => Code::ArtifactTooLarge,
            _ => Code::ArtifactMissing,
        };
        one(
            code,
            format!("`{}` {}", rel.display(), e.describe(MAX_ARTIFACT_BYTES)),
            "check the artifact path and size; release builds with opt-level \"s\" stay far below the limit",
        )
    })?;
    let actual = Digest::of(&bytes);
    if actual != manifest.runtime.digest {
        return Err(Diagnostics(vec![Diagnostic::new(
            Code::DigestMismatch,
            "runtime.digest",
            format!(
                "`{}` has digest {actual} but the manifest pins {}",
                rel.display(),
                manifest.runtime.digest
            ),
            "if you rebuilt the component on purpose, write the new digest into plugin.toml; otherwise the artifact was altered: do not run it",
        )]));
    }
    Ok(bytes)
}

enum ReadError {
    TooLarge,
    Io(std::io::Error),
    Other(String),
}

impl ReadError {
    fn describe(&self, limit: u64) -> String {
        match self {
            ReadError::TooLarge => format!("is larger than the limit of {limit} bytes"),
            ReadError::Io(e) => format!("cannot be read: {e}"),
            ReadError::Other(s) => s.clone(),
        }
    }
}

fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = File::open(path).map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::Other("is not a regular file".into()));
    }
    // The length check on metadata is advisory: read at most limit + 1 bytes
    // so a file that grows while read is still caught.
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compat() -> Compat {
        Compat {
            contract: "yoi:plugin@0.1.0".parse().unwrap(),
            engine: semver::Version::new(0, 1, 0),
        }
    }

    fn write_package(dir: &Path, artifact: &[u8], digest: &str) {
        std::fs::write(dir.join("p.wasm"), artifact).unwrap();
        std::fs::write(
            dir.join(MANIFEST_FILE),
            format!(
                "[plugin]\nid = \"t.p\"\nversion = \"0.1.0\"\ncontract = \"yoi:plugin@0.1.0\"\n\
                 [runtime]\nkind = \"wasm-component\"\nartifact = \"p.wasm\"\ndigest = \"{digest}\"\n\
                 [[hooks]]\npoint = \"tool.pre_exec\"\n"
            ),
        )
        .unwrap();
    }

    #[test]
    fn opens_a_package_whose_digest_matches() {
        let dir = tempfile::tempdir().unwrap();
        write_package(dir.path(), b"bytes", &Digest::of(b"bytes").to_string());
        let pkg = Package::open(dir.path(), &compat()).unwrap();
        assert_eq!(pkg.artifact, b"bytes");
    }

    #[test]
    fn refuses_a_digest_mismatch_naming_both_digests() {
        let dir = tempfile::tempdir().unwrap();
        let pinned = Digest::of(b"original");
        write_package(dir.path(), b"tampered", &pinned.to_string());
        let err = Package::open(dir.path(), &compat()).unwrap_err();
        assert!(err.has(Code::DigestMismatch));
        let text = err.to_string();
        assert!(
            text.contains(&pinned.to_string())
                && text.contains(&Digest::of(b"tampered").to_string())
        );
    }

    #[test]
    fn refuses_missing_manifest_and_artifact() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            Package::open(dir.path(), &compat())
                .unwrap_err()
                .has(Code::ManifestUnreadable)
        );
        write_package(dir.path(), b"x", &Digest::of(b"x").to_string());
        std::fs::remove_file(dir.path().join("p.wasm")).unwrap();
        assert!(
            Package::open(dir.path(), &compat())
                .unwrap_err()
                .has(Code::ArtifactMissing)
        );
    }

    #[cfg(unix)]
    #[test]
    fn refuses_an_artifact_link_that_leaves_the_package() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.wasm"), b"x").unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_package(dir.path(), b"x", &Digest::of(b"x").to_string());
        std::fs::remove_file(dir.path().join("p.wasm")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.wasm"),
            dir.path().join("p.wasm"),
        )
        .unwrap();
        let err = Package::open(dir.path(), &compat()).unwrap_err();
        assert!(err.has(Code::ArtifactPath), "{err}");
    }
}
