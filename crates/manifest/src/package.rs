use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::contract::Compat;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::digest::Digest;
use crate::inspect::inspect;
use crate::manifest::Manifest;
use crate::tool::{InputSchema, check_input_schema};

/// The manifest's file name inside a package folder.
pub const MANIFEST_FILE: &str = "plugin.toml";
/// Largest `plugin.toml` read, in bytes.
pub const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;
/// Largest artifact read, in bytes.
pub const MAX_ARTIFACT_BYTES: u64 = 64 * 1024 * 1024;

/// An opened package: a validated manifest, artifact bytes whose digest
/// matches it, and the tools' input schemas.
#[derive(Debug, Clone)]
pub struct Package {
    /// The package folder.
    pub dir: PathBuf,
    /// The validated manifest.
    pub manifest: Manifest,
    /// The manifest's text, as read.
    pub manifest_text: String,
    /// The artifact's bytes, digest verified.
    pub artifact: Vec<u8>,
    /// Each tool's input schema (inline or read from its file), in
    /// `manifest.tools` order.
    pub tool_schemas: Vec<serde_json::Value>,
}

impl Package {
    /// Opens the package in `dir` and checks everything without running it:
    /// reads and validates `plugin.toml`, checks it against the host's
    /// `compat`, reads the artifact (which must stay inside `dir`, links
    /// included), verifies its digest, reads tool schema files, and inspects
    /// the component. Returns every problem found.
    pub fn open(dir: &Path, compat: &Compat) -> Result<Package, Diagnostics> {
        let manifest_path = dir.join(MANIFEST_FILE);
        let file = manifest_path.display().to_string();
        let text = read_limited(&manifest_path, MAX_MANIFEST_BYTES)
            .and_then(|bytes| {
                String::from_utf8(bytes).map_err(|_| ReadError::Other("is not UTF-8 text".into()))
            })
            .map_err(|e| {
                let d = Diagnostic::new(
                    Code::ManifestUnreadable,
                    MANIFEST_FILE,
                    format!("`{MANIFEST_FILE}` {}", e.describe(MAX_MANIFEST_BYTES)),
                    format!(
                        "give the package folder a UTF-8 `{MANIFEST_FILE}` (see docs/manifest.md)"
                    ),
                );
                Diagnostics::new(vec![d], file.clone(), None)
            })?;
        let manifest = Manifest::parse(&text).map_err(|d| d.with_file(file.clone()))?;

        let mut problems = manifest.compatibility(compat);
        let at = |path: &str| manifest.locations.get(path).cloned();
        let artifact = match read_artifact(dir, &manifest) {
            Ok(bytes) => Some(bytes),
            Err(d) => {
                let field = if d.code == Code::DigestMismatch {
                    "runtime.digest"
                } else {
                    "runtime.artifact"
                };
                problems.push((*d).at(at(field)));
                None
            }
        };
        let mut tool_schemas = Vec::new();
        for (i, tool) in manifest.tools.iter().enumerate() {
            match &tool.input_schema {
                InputSchema::Inline(schema) => tool_schemas.push(schema.clone()),
                InputSchema::File(rel) => match read_schema_file(dir, rel) {
                    Ok(schema) => tool_schemas.push(schema),
                    Err((code, why)) => problems.push(
                        Diagnostic::new(
                            code,
                            format!("tools[{i}].input_schema"),
                            format!("schema file `{rel}` {why}"),
                            "put a JSON Schema file (root `\"type\": \"object\"`) at that path inside the package",
                        )
                        .at(at(&format!("tools[{i}].name"))),
                    ),
                },
            }
        }
        if let Some(bytes) = &artifact {
            problems.extend(inspect(&manifest, bytes, compat));
        }
        match artifact {
            Some(artifact) if problems.is_empty() => Ok(Package {
                dir: dir.to_path_buf(),
                manifest,
                manifest_text: text,
                artifact,
                tool_schemas,
            }),
            _ => Err(Diagnostics::new(problems, file, Some(text))),
        }
    }
}

/// Resolves `rel` inside `dir`, following links, and refuses anything that
/// lands outside `dir`.
fn inside(dir: &Path, rel: &Path) -> Result<PathBuf, (Code, String)> {
    let (root, real) = match (dir.canonicalize(), dir.join(rel).canonicalize()) {
        (Ok(root), Ok(real)) => (root, real),
        _ => {
            return Err((
                Code::ArtifactMissing,
                "does not exist in the package folder".into(),
            ));
        }
    };
    if !real.starts_with(&root) {
        return Err((
            Code::ArtifactPath,
            "is a link that leads outside the package folder".to_owned(),
        ));
    }
    Ok(real)
}

fn read_schema_file(dir: &Path, rel: &str) -> Result<serde_json::Value, (Code, String)> {
    let real = inside(dir, Path::new(rel)).map_err(|(_, why)| (Code::ToolSchemaFile, why))?;
    let bytes = read_limited(&real, MAX_MANIFEST_BYTES)
        .map_err(|e| (Code::ToolSchemaFile, e.describe(MAX_MANIFEST_BYTES)))?;
    let schema: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| (Code::ToolSchemaFile, format!("is not valid JSON: {e}")))?;
    check_input_schema(&schema).map_err(|why| (Code::ToolSchema, why))?;
    Ok(schema)
}

fn read_artifact(dir: &Path, manifest: &Manifest) -> Result<Vec<u8>, Box<Diagnostic>> {
    let rel = &manifest.runtime.artifact;
    let one =
        |code, message: String, fix: &str| Diagnostic::new(code, "runtime.artifact", message, fix);
    let real = inside(dir, rel).map_err(|(code, why)| {
        let fix = if code == Code::ArtifactPath {
            "replace the link with the file itself"
        } else {
            "build the component and put it at that path (`cargo xtask build-examples` for the examples)"
        };
        one(code, format!("`{}` {why}", rel.display()), fix)
    })?;
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
        return Err(Box::new(Diagnostic::new(
            Code::DigestMismatch,
            "runtime.digest",
            format!(
                "`{}` has digest {actual} but the manifest pins {}",
                rel.display(),
                manifest.runtime.digest
            ),
            "if you rebuilt the component on purpose, write the new digest into plugin.toml; otherwise the artifact was altered: do not run it",
        )));
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
            contracts: vec!["yoi:plugin@0.1.0".parse().unwrap()],
            engine: semver::Version::new(0, 1, 0),
            hook_points: vec![crate::HookPoint::ToolPreExec],
            imports: vec!["yoi:plugin/log".into()],
            tools_interface: None,
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
    fn a_matching_digest_moves_on_to_inspection() {
        let dir = tempfile::tempdir().unwrap();
        write_package(dir.path(), b"bytes", &Digest::of(b"bytes").to_string());
        // The digest matches, so the next check is the component itself.
        let err = Package::open(dir.path(), &compat()).unwrap_err();
        assert!(err.has(Code::InvalidComponent), "{err}");
        assert!(!err.has(Code::DigestMismatch));
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
