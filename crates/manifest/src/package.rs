use std::io::Read;
use std::path::{Path, PathBuf};

use crate::compat::Compat;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::digest::Digest;
use crate::inspect::inspect;
use crate::manifest::Manifest;
use crate::signing::{
    MAX_SIGNATURE_BYTES, PackageSignature, SIGNATURE_FILE, SigningError, SigningKey,
};
use crate::tool::{InputSchema, check_input_schema};

pub use crate::manifest::MANIFEST_FILE;
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
    /// The author's signature, if the package carries one: parsed, and
    /// checked to be over this manifest and artifact (not yet checked
    /// against any trusted key).
    signature: Option<PackageSignature>,
    /// The host support its component was inspected against (`None`: a
    /// registry inspected it at publish).
    inspected: Option<Compat>,
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
    /// The host support the component was inspected against when the
    /// package was opened, if it was: a registry with the same support
    /// need not inspect it again.
    pub fn inspected_against(&self) -> Option<&Compat> {
        self.inspected.as_ref()
    }

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

    /// The author's signature (`plugin.sigstore.json`), if any. It is over
    /// this package's manifest and artifact; whether its key is trusted is
    /// the registry's and the host's question (docs/distribution.md).
    pub fn signature(&self) -> Option<&PackageSignature> {
        self.signature.as_ref()
    }

    /// Signs the package (its `plugin.toml` text and artifact) with `key`;
    /// `valid_for` sets an expiry. Attach it with
    /// [`Package::with_signature`], or write it beside `plugin.toml`.
    pub fn sign(
        &self,
        key: &SigningKey,
        valid_for: Option<std::time::Duration>,
    ) -> PackageSignature {
        let m = &self.manifest;
        PackageSignature::sign(
            &self.manifest_text,
            &m.runtime.artifact.display().to_string(),
            &m.runtime.digest,
            m.plugin.id.as_str(),
            &m.plugin.version.to_string(),
            key,
            valid_for,
        )
    }

    /// The package with `signature` attached, after checking that it is
    /// over this package's manifest and artifact (code `E0306`).
    pub fn with_signature(mut self, signature: PackageSignature) -> Result<Package, Diagnostics> {
        signature
            .covers(&self.manifest_text, &self.manifest.runtime.digest)
            .map_err(|e| {
                Diagnostics::new(
                    vec![signature_problem(&e)],
                    format!("{}/{SIGNATURE_FILE}", self.dir.display()),
                    None,
                )
            })?;
        self.signature = Some(signature);
        Ok(self)
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
            signature: None,
            inspected: (check == Check::Full).then(|| compat.clone()),
        })
    }

    /// Opens the package in `dir` and checks everything without running it:
    /// reads and validates `plugin.toml`, checks it against the host's
    /// `compat`, reads the artifact (which must stay inside `dir`, links
    /// included), verifies its digest, reads tool schema files, and inspects
    /// the component. Returns every problem found.
    pub fn open(dir: &Path, compat: &Compat) -> Result<Package, Diagnostics> {
        Package::open_dir(dir, compat, true)
    }

    /// [`Package::open`] without the signature: a `plugin.sigstore.json`
    /// in the folder is neither read nor checked. For signing a package
    /// again, whatever signature it held before.
    pub fn open_unsigned(dir: &Path, compat: &Compat) -> Result<Package, Diagnostics> {
        Package::open_dir(dir, compat, false)
    }

    fn open_dir(dir: &Path, compat: &Compat, signed: bool) -> Result<Package, Diagnostics> {
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
        let read = if signed {
            read_signature(dir)
        } else {
            Ok(None)
        };
        let signature = match read {
            Ok(Some(signature)) => match signature.covers(&text, &manifest.runtime.digest) {
                Ok(()) => Some(signature),
                Err(e) => {
                    problems.push(signature_problem(&e));
                    None
                }
            },
            Ok(None) => None,
            Err(d) => {
                problems.push(*d);
                None
            }
        };
        match artifact {
            Some(artifact) if problems.is_empty() => Ok(Package {
                dir: dir.to_path_buf(),
                manifest,
                manifest_text: text,
                artifact,
                tool_schemas,
                signature,
                inspected: Some(compat.clone()),
            }),
            _ => Err(Diagnostics::new(problems, file, Some(text))),
        }
    }
}

/// Opens `rel` inside `dir`, following links, and refuses anything that
/// lands outside `dir`. Where it lands is decided in the same step as the
/// open ([`open_beneath`]), so a folder swapped for a link between a check
/// and the open cannot move the read outside.
fn inside(dir: &Path, rel: &Path) -> Result<std::fs::File, (Code, String)> {
    open_beneath(dir, rel).map_err(|e| match e {
        Beneath::Outside => (
            Code::ArtifactPath,
            "is a link that leads outside the package folder".to_owned(),
        ),
        Beneath::Missing => (
            Code::ArtifactMissing,
            "does not exist in the package folder".into(),
        ),
        Beneath::Io(e) => (Code::ArtifactMissing, format!("cannot be opened: {e}")),
    })
}

/// Why [`open_beneath`] opened nothing.
enum Beneath {
    /// The path, or a link on it, leads outside the folder.
    Outside,
    /// Nothing is there.
    Missing,
    /// Anything else.
    Io(std::io::Error),
}

/// Opens `rel` for reading beneath `dir`, without blocking on a FIFO. The
/// kernel resolves the whole path under `dir` (`openat2` with
/// `RESOLVE_BENEATH`): `..` and links may move within it but never out,
/// and an absolute link is refused, all atomically with the open.
#[cfg(target_os = "linux")]
fn open_beneath(dir: &Path, rel: &Path) -> Result<std::fs::File, Beneath> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    use rustix::io::Errno;
    let root = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::NOENT | Errno::NOTDIR => Beneath::Missing,
        e => Beneath::Io(e.into()),
    })?;
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    // A path with `..` fails with EAGAIN when any rename on the system
    // raced its resolution (the kernel cannot then vouch that `..` stayed
    // beneath): openat2(2) says to try again. A busy machine does that
    // often enough to fail a read now and then.
    let open = || {
        rustix::fs::openat2(
            &root,
            rel,
            OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
        )
    };
    let mut opened = open();
    for _ in 0..64 {
        if !matches!(opened, Err(Errno::AGAIN)) {
            break;
        }
        std::thread::yield_now();
        opened = open();
    }
    opened.map(std::fs::File::from).map_err(|e| match e {
        Errno::XDEV | Errno::LOOP => Beneath::Outside,
        Errno::NOENT | Errno::NOTDIR => Beneath::Missing,
        Errno::NOSYS => Beneath::Io(std::io::Error::other(
            "this kernel cannot open a file confined to a folder (openat2, Linux 5.6 or newer)",
        )),
        e => Beneath::Io(e.into()),
    })
}

/// [`open_beneath`] where the kernel has no `RESOLVE_BENEATH`: resolved,
/// checked, opened, then checked again on the handle.
#[cfg(not(target_os = "linux"))]
fn open_beneath(dir: &Path, rel: &Path) -> Result<std::fs::File, Beneath> {
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    let (root, real) = match (dir.canonicalize(), dir.join(rel).canonicalize()) {
        (Ok(root), Ok(real)) => (root, real),
        _ => return Err(Beneath::Missing),
    };
    if !real.starts_with(&root) {
        return Err(Beneath::Outside);
    }
    let file = std::fs::File::open(&real).map_err(Beneath::Io)?;
    match file.metadata() {
        Ok(_) if real.canonicalize().is_ok_and(|again| again == real) => Ok(file),
        _ => Err(Beneath::Outside),
    }
}

/// The diagnostic for a signature that cannot be used.
pub(crate) fn signature_problem(e: &SigningError) -> Diagnostic {
    let (code, fix) = match e {
        SigningError::OtherPackage { .. } => (
            Code::SignatureMismatch,
            "the package changed after it was signed: sign it again with `yoi sign PACKAGE --key KEY`, or remove the signature",
        ),
        SigningError::Keyless => (
            Code::SignatureMalformed,
            "sign with a key (`yoi keygen NAME`, then `yoi sign PACKAGE --key NAME.key`); keyless signatures are not supported yet (docs/distribution.md)",
        ),
        _ => (
            Code::SignatureMalformed,
            "sign the package again with `yoi sign PACKAGE --key KEY`, or remove the signature file",
        ),
    };
    Diagnostic::new(
        code,
        SIGNATURE_FILE,
        format!("`{SIGNATURE_FILE}`: {e}"),
        fix,
    )
}

/// Reads the package's signature file, if there is one: confined to the
/// folder like the artifact (a link out is refused) and bounded before it
/// is parsed.
fn read_signature(dir: &Path) -> Result<Option<PackageSignature>, Box<Diagnostic>> {
    let malformed = |why: String| Box::new(signature_problem(&SigningError::Malformed(why)));
    let file = match open_beneath(dir, Path::new(SIGNATURE_FILE)) {
        Ok(file) => file,
        Err(Beneath::Missing) => return Ok(None),
        Err(Beneath::Outside) => {
            return Err(malformed(
                "is a link that leads outside the package folder".into(),
            ));
        }
        Err(Beneath::Io(e)) => return Err(malformed(format!("cannot be opened: {e}"))),
    };
    let bytes = read_file_limited(file, MAX_SIGNATURE_BYTES as u64)
        .map_err(|e| malformed(e.describe(MAX_SIGNATURE_BYTES as u64)))?;
    let text = String::from_utf8(bytes).map_err(|_| malformed("is not UTF-8 text".into()))?;
    PackageSignature::parse(&text)
        .map(Some)
        .map_err(|e| Box::new(signature_problem(&e)))
}

fn read_schema_file(dir: &Path, rel: &str) -> Result<serde_json::Value, (Code, String)> {
    let file = inside(dir, Path::new(rel)).map_err(|(_, why)| (Code::ToolSchemaFile, why))?;
    let bytes = read_file_limited(file, MAX_MANIFEST_BYTES)
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
    let file = inside(dir, rel).map_err(|(code, why)| {
        let fix = if code == Code::ArtifactPath {
            "replace the link with the file itself"
        } else {
            "build the component and put it at that path (`cargo xtask build-examples` for the examples)"
        };
        one(code, format!("`{}` {why}", rel.display()), fix)
    })?;
    let bytes = read_file_limited(file, MAX_ARTIFACT_BYTES).map_err(|e| {
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
/// server), with the checks a package folder's artifact gets: the path must
/// name a file under `root` (an absolute path starting with it), links and
/// `..` on the way may move within `root` but never out, and it must be a
/// regular file of at most [`MAX_ARTIFACT_BYTES`]. The path is not trusted:
/// a path that is not under `root` is refused before anything is looked up,
/// so whether it exists is never told (code `E0105`, as for a path leading
/// out); one under `root` is opened confined to it ([`open_beneath`]).
pub fn read_artifact_in(root: &Path, path: &Path) -> Result<Vec<u8>, Box<Diagnostic>> {
    let shown = path.display();
    let field = "artifact";
    let fail = |code, why: String| {
        Box::new(Diagnostic::new(
            code,
            field,
            why,
            "name a file inside a folder the server allows packages from",
        ))
    };
    let outside = || {
        fail(
            Code::ArtifactPath,
            format!("`{shown}` is not inside {}", root.display()),
        )
    };
    let rel = if path.is_absolute() {
        path.strip_prefix(root).map_err(|_| outside())?
    } else {
        path
    };
    let file = open_beneath(root, rel).map_err(|e| match e {
        Beneath::Outside => outside(),
        Beneath::Missing => fail(
            Code::ArtifactMissing,
            format!("`{shown}` does not exist in {}", root.display()),
        ),
        Beneath::Io(e) => fail(
            Code::ArtifactMissing,
            format!("`{shown}` cannot be opened: {e}"),
        ),
    })?;
    read_file_limited(file, MAX_ARTIFACT_BYTES).map_err(|e| {
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
    read_file_limited(file, limit)
}

/// Reads an opened file of at most `limit` bytes; anything but a regular
/// file is refused.
fn read_file_limited(file: std::fs::File, limit: u64) -> Result<Vec<u8>, ReadError> {
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

    /// Outside paths are no existence oracle: a file that exists and one
    /// that does not are refused alike, before anything is looked up.
    #[test]
    fn outside_paths_are_refused_alike_whether_they_exist_or_not() {
        let root = tempfile::tempdir().unwrap();
        let base = root.path().canonicalize().unwrap();
        let there = read_artifact_in(&base, Path::new("/etc/passwd")).unwrap_err();
        let absent = read_artifact_in(&base, Path::new("/etc/no-such-file-here")).unwrap_err();
        assert_eq!(there.code, Code::ArtifactPath);
        assert_eq!(absent.code, Code::ArtifactPath);
        assert_eq!(
            there.message.replace("passwd", "X"),
            absent.message.replace("no-such-file-here", "X")
        );
        for path in ["../../../etc/passwd", "../../../etc/no-such-file-here"] {
            let err = read_artifact_in(&base, Path::new(path)).unwrap_err();
            assert_eq!(err.code, Code::ArtifactPath, "{path}: {err:?}");
        }
    }

    /// A folder on the path swapped for a link to somewhere else, over and
    /// over while the file is read: the read lands inside the root or
    /// fails, and never returns the outside file's bytes.
    #[test]
    fn a_folder_swapped_for_a_link_mid_read_never_leads_outside() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let base = root.path().canonicalize().unwrap();
        std::fs::create_dir(base.join("real")).unwrap();
        std::fs::write(base.join("real/p.wasm"), b"inside").unwrap();
        std::fs::write(outside.path().join("p.wasm"), b"OUTSIDE").unwrap();
        std::os::unix::fs::symlink(outside.path(), base.join("evil")).unwrap();
        std::fs::create_dir(base.join("d")).unwrap();
        std::fs::write(base.join("d/p.wasm"), b"inside").unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flipper = {
            let (stop, base) = (stop.clone(), base.clone());
            std::thread::spawn(move || {
                // `d` is a folder, then a link to the outside, then a folder.
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = std::fs::rename(base.join("d"), base.join("d.dir"));
                    let _ = std::fs::rename(base.join("evil"), base.join("d"));
                    let _ = std::fs::rename(base.join("d"), base.join("evil"));
                    let _ = std::fs::rename(base.join("d.dir"), base.join("d"));
                }
            })
        };
        let target = base.join("d/p.wasm");
        let mut read = 0;
        for _ in 0..20_000 {
            if let Ok(bytes) = read_artifact_in(&base, &target) {
                assert_eq!(bytes, b"inside", "read outside the root");
                read += 1;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        flipper.join().unwrap();
        assert!(
            read > 0,
            "the swap never let a read through; the test proves nothing"
        );
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
