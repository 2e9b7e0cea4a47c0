use std::fmt;

/// A stable diagnostic code. The number never changes meaning once released;
/// `docs/diagnostics.md` documents each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[non_exhaustive]
pub enum Code {
    /// `E0001 toml-syntax`: the file is not valid TOML or has the wrong shape.
    TomlSyntax,
    /// `E0101 id-format`: `plugin.id` is not a valid plugin id.
    IdFormat,
    /// `E0102 version-format`: `plugin.version` is not semver.
    VersionFormat,
    /// `E0103 digest-format`: `runtime.digest` is not `sha256:<64 lowercase hex>`.
    DigestFormat,
    /// `E0104 runtime-kind`: `runtime.kind` is not `wasm-component`.
    RuntimeKind,
    /// `E0105 artifact-path`: `runtime.artifact` is absolute, leaves the package, or is empty.
    ArtifactPath,
    /// `E0106 contract-format`: `plugin.contract` is not `yoi:plugin@<semver>`.
    ContractFormat,
    /// `E0107 contract-incompatible`: the host does not support the contract version.
    ContractIncompatible,
    /// `E0108 engine-range`: `plugin.engine` is not a semver range.
    EngineRange,
    /// `E0109 engine-incompatible`: this Yoi version is outside `plugin.engine`.
    EngineIncompatible,
    /// `E0110 no-hooks`: the manifest declares no hooks.
    NoHooks,
    /// `E0201 hook-point`: a hook names an unknown hook point.
    HookPoint,
    /// `E0202 hook-timeout`: `timeout_ms` is out of bounds.
    HookTimeout,
    /// `E0203 hook-fail-mode`: `fail` is neither `open` nor `closed`.
    HookFailMode,
    /// `E0204 hook-duplicate`: the same hook point is declared twice.
    HookDuplicate,
    /// `E0301 artifact-missing`: the artifact file cannot be read.
    ArtifactMissing,
    /// `E0302 digest-mismatch`: the artifact bytes do not match `runtime.digest`.
    DigestMismatch,
    /// `E0303 artifact-too-large`: the artifact exceeds the size limit.
    ArtifactTooLarge,
    /// `E0304 manifest-unreadable`: `plugin.toml` is missing, unreadable or too large.
    ManifestUnreadable,
}

impl Code {
    /// The code as printed, e.g. `E0103`.
    pub fn as_str(self) -> &'static str {
        self.parts().0
    }

    /// The short name, e.g. `digest-format`.
    pub fn name(self) -> &'static str {
        self.parts().1
    }

    fn parts(self) -> (&'static str, &'static str) {
        match self {
            Code::TomlSyntax => ("E0001", "toml-syntax"),
            Code::IdFormat => ("E0101", "id-format"),
            Code::VersionFormat => ("E0102", "version-format"),
            Code::DigestFormat => ("E0103", "digest-format"),
            Code::RuntimeKind => ("E0104", "runtime-kind"),
            Code::ArtifactPath => ("E0105", "artifact-path"),
            Code::ContractFormat => ("E0106", "contract-format"),
            Code::ContractIncompatible => ("E0107", "contract-incompatible"),
            Code::EngineRange => ("E0108", "engine-range"),
            Code::EngineIncompatible => ("E0109", "engine-incompatible"),
            Code::NoHooks => ("E0110", "no-hooks"),
            Code::HookPoint => ("E0201", "hook-point"),
            Code::HookTimeout => ("E0202", "hook-timeout"),
            Code::HookFailMode => ("E0203", "hook-fail-mode"),
            Code::HookDuplicate => ("E0204", "hook-duplicate"),
            Code::ArtifactMissing => ("E0301", "artifact-missing"),
            Code::DigestMismatch => ("E0302", "digest-mismatch"),
            Code::ArtifactTooLarge => ("E0303", "artifact-too-large"),
            Code::ManifestUnreadable => ("E0304", "manifest-unreadable"),
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.as_str(), self.name())
    }
}

/// One problem found in a package, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// Stable code.
    #[serde(serialize_with = "code_str")]
    pub code: Code,
    /// The field the problem is in, e.g. `runtime.digest` or `hooks[1].point`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// One line that says how to fix it.
    pub fix: String,
}

fn code_str<S: serde::Serializer>(code: &Code, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(code.as_str())
}

impl Diagnostic {
    pub(crate) fn new(
        code: Code,
        path: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            code,
            path: path.into(),
            message: message.into(),
            fix: fix.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "error[{}]: {}: {}\n  fix: {}",
            self.code, self.path, self.message, self.fix
        )
    }
}

/// Every problem found in one package, in the order they were found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Whether a diagnostic with this code is present.
    pub fn has(&self, code: Code) -> bool {
        self.0.iter().any(|d| d.code == code)
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}
