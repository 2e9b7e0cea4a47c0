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
///
/// A `Package` exists only once it was opened and verified: from a folder
/// ([`Package::open`]), a `.yoi` archive ([`Package::open_archive`]), bytes
/// in memory ([`Package::from_bytes`]) or a registry's stored copy
/// ([`Package::from_published`]). Its fields cannot be changed afterwards,
/// so whoever holds one holds bytes that match their digest.
#[derive(Debug, Clone)]
pub struct Package {
    pub(crate) dir: PathBuf,
    manifest: Manifest,
    manifest_text: String,
    artifact: Vec<u8>,
    tool_schemas: Vec<serde_json::Value>,
}

/// How much of a package's contents to check when opening it from bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Everything: manifest, compatibility, digest, component inspection.
    Full,
    /// Everything but inspecting the component again: for bytes a registry
    /// inspected when they were published, whose digest proves they are
    /// those bytes.
    Published,
}

impl Package {
    /// Where the package came from: its folder, its archive, or the name it
    /// was given when opened from bytes.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The validated manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The manifest's text, as read.
    pub fn manifest_text(&self) -> &str {
        &self.manifest_text
    }

    /// The artifact's bytes, digest verified.
    pub fn artifact(&self) -> &[u8] {
        &self.artifact
    }

    /// Each tool's input schema (inline or read from its file), in
    /// `manifest().tools` order.
    pub fn tool_schemas(&self) -> &[serde_json::Value] {
        &self.tool_schemas
    }

    /// Takes the package apart: the manifest and the artifact bytes.
    pub fn into_parts(self) -> (Manifest, Vec<u8>) {
        (self.manifest, self.artifact)
    }

    /// Opens a package held in memory: `plugin.toml`'s text and the
    /// artifact's bytes, checked exactly as [`Package::open`] checks a
    /// folder (limits, manifest, compatibility, digest, component). Tool
    /// schemas must be inline: there is no folder to read files from.
    /// `name` says where the bytes came from in diagnostics.
    pub fn from_bytes(
        name: &str,
        manifest_text: &str,
        artifact: Vec<u8>,
        compat: &Compat,
    ) -> Result<Package, Diagnostics> {
        Package::verify_bytes(name, manifest_text, artifact, compat, Check::Full)
    }

    /// Reopens a package a registry stored when it was published: the same
    /// checks as [`Package::from_bytes`] except inspecting the component
    /// again, which the registry did at publish. The digest check proves
    /// these are the bytes it inspected.
    pub fn from_published(
        name: &str,
        manifest_text: &str,
        artifact: Vec<u8>,
        compat: &Compat,
    ) -> Result<Package, Diagnostics> {
        Package::verify_bytes(name, manifest_text, artifact, compat, Check::Published)
    }

    fn verify_bytes(
        name: &str,
        text: &str,
        artifact: Vec<u8>,
        compat: &Compat,
        check: Check,
    ) -> Result<Package, Diagnostics> {
        let file = format!("{name}/{MANIFEST_FILE}");
        if text.len() as u64 > MAX_MANIFEST_BYTES {
            let d = Diagnostic::new(
                Code::ManifestUnreadable,
                MANIFEST_FILE,
                format!("`{MANIFEST_FILE}` is larger than the limit of {MAX_MANIFEST_BYTES} bytes"),
                "a manifest is a few kilobytes; check that the right text was given",
            );
            return Err(Diagnostics::new(vec![d], file, None));
        }
        let manifest = Manifest::parse(text).map_err(|d| d.with_file(file.clone()))?;
        let at = |path: &str| manifest.locations.get(path).cloned();
        let mut problems = manifest.compatibility(compat);
        let rel = manifest.runtime.artifact.display().to_string();
        if artifact.len() as u64 > MAX_ARTIFACT_BYTES {
            problems.push(
                Diagnostic::new(
                    Code::ArtifactTooLarge,
                    "runtime.artifact",
                    format!(
                        "`{rel}` is {} bytes; the limit is {MAX_ARTIFACT_BYTES}",
                        artifact.len()
                    ),
                    "release builds with opt-level \"s\" stay far below the limit",
                )
                .at(at("runtime.artifact")),
            );
        } else if let Err(d) = check_digest(&rel, &artifact, &manifest) {
            problems.push((*d).at(at("runtime.digest")));
        }
        let mut tool_schemas = Vec::new();
        for (i, tool) in manifest.tools.iter().enumerate() {
            match &tool.input_schema {
                InputSchema::Inline(schema) => tool_schemas.push(schema.clone()),
                InputSchema::File(rel) => problems.push(
                    Diagnostic::new(
                        Code::ToolSchemaFile,
                        format!("tools[{i}].input_schema"),
                        format!("schema file `{rel}` cannot be read: this package was given as bytes, not a folder"),
                        "write the schema inline in plugin.toml, or load the package from its folder",
                    )
                    .at(at(&format!("tools[{i}].name"))),
                ),
            }
        }
        if problems.is_empty() && check == Check::Full {
            problems.extend(inspect(&manifest, &artifact, compat));
        }
        if !problems.is_empty() {
            return Err(Diagnostics::new(problems, file, Some(text.to_owned())));
        }
        Ok(Package {
            dir: PathBuf::from(name),
            manifest,
            manifest_text: text.to_owned(),
            artifact,
            tool_schemas,
        })
    }

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
    check_digest(&rel.display().to_string(), &bytes, manifest)?;
    Ok(bytes)
}

/// The one digest check: `bytes` must hash to what the manifest pins.
fn check_digest(rel: &str, bytes: &[u8], manifest: &Manifest) -> Result<(), Box<Diagnostic>> {
    let actual = Digest::of(bytes);
    if actual != manifest.runtime.digest {
        return Err(Box::new(Diagnostic::new(
            Code::DigestMismatch,
            "runtime.digest",
            format!(
                "`{rel}` has digest {actual} but the manifest pins {}",
                manifest.runtime.digest
            ),
            "if you rebuilt the component on purpose, write the new digest into plugin.toml; otherwise the artifact was altered: do not run it",
        )));
    }
    Ok(())
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

/// Reads a file a client named by path (a `file://` URL given to a
/// server), with the checks a package folder's artifact gets: the path,
/// links followed, must land inside `root`, and it must be a regular file
/// of at most [`MAX_ARTIFACT_BYTES`]. The path is not trusted: it may be
/// absolute, hold `..` or pass through links; only where it lands counts.
pub fn read_artifact_in(root: &Path, path: &Path) -> Result<Vec<u8>, Box<Diagnostic>> {
    let shown = path.display();
    let field = "artifact";
    let real = inside(root, path).map_err(|(code, _)| {
        let why = if code == Code::ArtifactPath {
            format!("`{shown}` leads outside {}", root.display())
        } else {
            format!("`{shown}` does not exist in {}", root.display())
        };
        Box::new(Diagnostic::new(
            code,
            field,
            why,
            "name a file inside a folder the server allows packages from",
        ))
    })?;
    read_limited(&real, MAX_ARTIFACT_BYTES).map_err(|e| {
        let code = match e {
            ReadError::TooLarge => Code::ArtifactTooLarge,
            _ => Code::ArtifactMissing,
        };
        Box::new(Diagnostic::new(
            code,
            field,
            format!("`{shown}` {}", e.describe(MAX_ARTIFACT_BYTES)),
            "name the built component (a regular file) itself",
        ))
    })
}

fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // A FIFO put where a file was expected must not block the reader: open
    // without waiting, then refuse anything but a regular file.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        rustix::fs::OFlags::NONBLOCK.bits() as i32,
    );
    let file = options.open(path).map_err(ReadError::Io)?;
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

    fn manifest_text(digest: &str, extra: &str) -> String {
        format!(
            "[plugin]\nid = \"t.p\"\nversion = \"0.1.0\"\ncontract = \"yoi:plugin@0.1.0\"\n\
             [runtime]\nkind = \"wasm-component\"\nartifact = \"p.wasm\"\ndigest = \"{digest}\"\n\
             [[hooks]]\npoint = \"tool.pre_exec\"\n{extra}"
        )
    }

    #[test]
    fn a_named_file_must_land_inside_the_root_and_be_a_regular_file() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let base = root.path().canonicalize().unwrap();
        std::fs::create_dir(base.join("sub")).unwrap();
        std::fs::write(base.join("sub/p.wasm"), b"bytes").unwrap();
        std::fs::write(outside.path().join("secret"), b"secret").unwrap();

        // Relative, absolute, and through `..` that stays inside: read.
        for path in [
            PathBuf::from("sub/p.wasm"),
            base.join("sub/p.wasm"),
            base.join("sub/../sub/p.wasm"),
        ] {
            assert_eq!(
                read_artifact_in(&base, &path).unwrap(),
                b"bytes",
                "{path:?}"
            );
        }
        // Out by `..`, by an absolute path, or by a link: refused as a path.
        std::os::unix::fs::symlink(outside.path().join("secret"), base.join("link")).unwrap();
        for path in [
            PathBuf::from("../")
                .join(outside.path().file_name().unwrap())
                .join("secret"),
            outside.path().join("secret"),
            base.join("link"),
        ] {
            let err = read_artifact_in(&base, &path).unwrap_err();
            assert_eq!(err.code, Code::ArtifactPath, "{path:?}: {err:?}");
        }
        // Missing, a folder, a FIFO (which must not block), too large.
        let err = read_artifact_in(&base, Path::new("nope.wasm")).unwrap_err();
        assert_eq!(err.code, Code::ArtifactMissing);
        let err = read_artifact_in(&base, Path::new("sub")).unwrap_err();
        assert!(err.message.contains("not a regular file"), "{err:?}");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            base.join("fifo"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
            0,
        )
        .unwrap();
        let err = read_artifact_in(&base, Path::new("fifo")).unwrap_err();
        assert!(err.message.contains("not a regular file"), "{err:?}");
        let big = std::fs::File::create(base.join("big.wasm")).unwrap();
        big.set_len(MAX_ARTIFACT_BYTES + 1).unwrap();
        let err = read_artifact_in(&base, Path::new("big.wasm")).unwrap_err();
        assert_eq!(err.code, Code::ArtifactTooLarge);
    }

    #[test]
    fn bytes_are_checked_like_a_folder() {
        let text = manifest_text(&Digest::of(b"original").to_string(), "");
        let err = Package::from_bytes("mem", &text, b"tampered".to_vec(), &compat()).unwrap_err();
        assert!(err.has(Code::DigestMismatch), "{err}");

        // A matching digest still has to be a component...
        let text = manifest_text(&Digest::of(b"bytes").to_string(), "");
        let err = Package::from_bytes("mem", &text, b"bytes".to_vec(), &compat()).unwrap_err();
        assert!(err.has(Code::InvalidComponent), "{err}");
        // ...unless a registry inspected these very bytes when it stored them.
        let p = Package::from_published("reg", &text, b"bytes".to_vec(), &compat()).unwrap();
        assert_eq!((p.dir(), p.artifact()), (Path::new("reg"), &b"bytes"[..]));
        // The digest is checked either way.
        let err = Package::from_published("reg", &text, b"other".to_vec(), &compat()).unwrap_err();
        assert!(err.has(Code::DigestMismatch), "{err}");
    }

    #[test]
    fn bytes_carry_no_schema_files_and_no_oversized_artifact() {
        let tool = "[[tools]]\nname = \"t\"\ndescription = \"T.\"\ninput_schema = \"s.json\"\n";
        let text = manifest_text(&Digest::of(b"x").to_string(), tool);
        let err = Package::from_published("mem", &text, b"x".to_vec(), &compat()).unwrap_err();
        assert!(err.has(Code::ToolSchemaFile), "{err}");
        assert!(err.to_string().contains("inline"), "{err}");

        let big = vec![0u8; MAX_ARTIFACT_BYTES as usize + 1];
        let text = manifest_text(&Digest::of(&big).to_string(), "");
        let err = Package::from_bytes("mem", &text, big, &compat()).unwrap_err();
        assert!(err.has(Code::ArtifactTooLarge), "{err}");
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
