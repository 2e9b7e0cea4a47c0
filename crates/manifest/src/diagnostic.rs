use std::fmt;
use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $name:literal; )+) => {
        /// A stable diagnostic code. A code never changes meaning once
        /// released; `docs/diagnostics.md` documents each one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Code {
            $( $(#[$doc])* $variant, )+
        }

        impl Code {
            /// Every code, in numeric order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),+];

            /// The code as printed, e.g. `E0103`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)+ }
            }

            /// The short name, e.g. `digest-format`.
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)+ }
            }
        }
    };
}

codes! {
    /// `plugin.toml` is not valid TOML.
    TomlSyntax = "E0001", "toml-syntax";
    /// A required field is missing.
    MissingField = "E0002", "missing-field";
    /// A field is not part of the format (often a typo).
    UnknownField = "E0003", "unknown-field";
    /// A field has the wrong type.
    WrongType = "E0004", "wrong-type";
    /// `plugin.id` is not a valid plugin id.
    IdFormat = "E0101", "id-format";
    /// `plugin.version` is not semver.
    VersionFormat = "E0102", "version-format";
    /// `runtime.digest` is not `sha256:<64 lowercase hex>`.
    DigestFormat = "E0103", "digest-format";
    /// `runtime.kind` is not `wasm-component`.
    RuntimeKind = "E0104", "runtime-kind";
    /// `runtime.artifact` is absolute, leaves the package, or is empty.
    ArtifactPath = "E0105", "artifact-path";
    /// `plugin.contract` is not `yoi:plugin@<semver>`.
    ContractFormat = "E0106", "contract-format";
    /// The host does not implement the contract version.
    ContractIncompatible = "E0107", "contract-incompatible";
    /// `plugin.engine` is not a semver range.
    EngineRange = "E0108", "engine-range";
    /// This Yoi version is outside `plugin.engine`.
    EngineIncompatible = "E0109", "engine-incompatible";
    /// The manifest declares no hooks and no tools.
    NoEntryPoints = "E0110", "no-entry-points";
    /// A metadata text is empty or too long.
    TextField = "E0111", "text-field";
    /// A hook names an unknown hook point.
    HookPoint = "E0201", "hook-point";
    /// `timeout_ms` is out of bounds.
    HookTimeout = "E0202", "hook-timeout";
    /// `fail` is neither `open` nor `closed`.
    HookFailMode = "E0203", "hook-fail-mode";
    /// The same hook point is declared twice.
    HookDuplicate = "E0204", "hook-duplicate";
    /// `priority` is out of bounds.
    HookPriority = "E0205", "hook-priority";
    /// A hook point the manifest's contract version does not have yet.
    HookContract = "E0206", "hook-contract";
    /// The artifact file cannot be read.
    ArtifactMissing = "E0301", "artifact-missing";
    /// The artifact bytes do not match `runtime.digest`.
    DigestMismatch = "E0302", "digest-mismatch";
    /// The artifact exceeds the size limit.
    ArtifactTooLarge = "E0303", "artifact-too-large";
    /// `plugin.toml` is missing, unreadable or too large.
    ManifestUnreadable = "E0304", "manifest-unreadable";
    /// `plugin.sigstore.json` is not a readable Yoi signature bundle (or is
    /// keyless, which this build cannot verify).
    SignatureMalformed = "E0305", "signature-malformed";
    /// `plugin.sigstore.json` signs another `plugin.toml` or artifact.
    SignatureMismatch = "E0306", "signature-mismatch";
    /// The artifact is a core WebAssembly module, not a component.
    NotAComponent = "E0401", "not-a-component";
    /// The artifact is a precompiled native file, not WebAssembly.
    PrecompiledArtifact = "E0402", "precompiled-artifact";
    /// The artifact is not a valid WebAssembly component.
    InvalidComponent = "E0403", "invalid-component";
    /// The component imports an interface Yoi does not provide.
    ForbiddenImport = "E0404", "forbidden-import";
    /// A declared hook is not exported by the component.
    HookNotExported = "E0405", "hook-not-exported";
    /// The component exports a hook the manifest does not declare.
    HookNotDeclared = "E0406", "hook-not-declared";
    /// The component targets another contract version than declared.
    ContractMismatch = "E0407", "contract-mismatch";
    /// The host's contract does not run a declared hook point.
    HookUnsupported = "E0408", "hook-unsupported";
    /// Declared tools are not exported (or the contract has no tools).
    ToolNotExported = "E0409", "tool-not-exported";
    /// The component exports tools, but the manifest declares none.
    ToolsNotDeclared = "E0410", "tools-not-declared";
    /// A function of the component is too large or too deeply nested to
    /// compile in bounded time and memory (docs/diagnostics.md lists the
    /// limits).
    CodeTooComplex = "E0411", "code-too-complex";
    /// A declared provider is not exported (the component does not export
    /// `yoi:plugin/provider`, which needs contract 0.4.0 or later).
    ProviderNotExported = "E0412", "provider-not-exported";
    /// The component exports `yoi:plugin/provider`, but the manifest
    /// declares no `[[providers]]`.
    ProvidersNotDeclared = "E0413", "providers-not-declared";
    /// `[observer]` is declared, but the component does not export
    /// `yoi:plugin/observer` (contract 0.4.0 or later).
    ObserverNotExported = "E0414", "observer-not-exported";
    /// The component exports `yoi:plugin/observer`, but the manifest has no
    /// `[observer]` table.
    ObserverNotDeclared = "E0415", "observer-not-declared";
    /// `[[services]]` are declared, but the component does not export
    /// `yoi:plugin/service` (contract 0.5.0 or later).
    ServiceNotExported = "E0416", "service-not-exported";
    /// The component exports `yoi:plugin/service`, but the manifest
    /// declares no `[[services]]`.
    ServicesNotDeclared = "E0417", "services-not-declared";
    /// A tool name breaks the naming rule.
    ToolName = "E0501", "tool-name";
    /// A tool's description is missing or empty.
    ToolDescription = "E0502", "tool-description";
    /// A tool's input schema is not a valid JSON Schema.
    ToolSchema = "E0503", "tool-schema";
    /// A tool's schema file cannot be used.
    ToolSchemaFile = "E0504", "tool-schema-file";
    /// The same tool name is declared twice.
    ToolDuplicate = "E0505", "tool-duplicate";
    /// An `https` capability is not a valid host pattern.
    HttpsPattern = "E0601", "https-pattern";
    /// An `fs` capability path is not a safe relative path.
    FsPath = "E0602", "fs-path";
    /// An `fs` capability mode is neither `ro` nor `rw`.
    FsMode = "E0603", "fs-mode";
    /// A `secrets` key breaks the naming rule.
    SecretKey = "E0604", "secret-key";
    /// The same capability is requested twice.
    CapabilityDuplicate = "E0605", "capability-duplicate";
    /// A `websocket` capability is not a valid endpoint pattern.
    WebSocketPattern = "E0606", "websocket-pattern";
    /// A `routes` capability is not a valid inbound route.
    RoutePattern = "E0607", "route-pattern";
    /// A `[limits]` value is out of bounds.
    LimitRange = "E0701", "limit-range";
    /// A `[config]` setting's name breaks the naming rule.
    ConfigName = "E0801", "config-name";
    /// A setting's `type` is missing or unknown.
    ConfigType = "E0802", "config-type";
    /// A setting's `schema` is not a valid JSON Schema for its type.
    ConfigSchema = "E0803", "config-schema";
    /// A setting's `default` does not fit its type and schema.
    ConfigDefault = "E0804", "config-default";
    /// A secret setting has a default, or a required one has a default.
    ConfigDefaultNotAllowed = "E0805", "config-default-not-allowed";
    /// A provider name breaks the naming rule.
    ProviderName = "E0901", "provider-name";
    /// A provider's `models` entry is not a model name or prefix, is listed
    /// twice, or the list is empty.
    ModelPattern = "E0902", "model-pattern";
    /// The same provider name is declared twice.
    ProviderDuplicate = "E0903", "provider-duplicate";
    /// A provider's `timeout_ms` is out of bounds.
    ProviderTimeout = "E0904", "provider-timeout";
    /// An observer's `kinds` entry is unknown or listed twice, or the list
    /// is empty.
    ObservationKind = "E0911", "observation-kind";
    /// An observer's `queue`, `batch` or `timeout_ms` is out of bounds.
    ObserverLimit = "E0912", "observer-limit";
    /// A service name breaks the naming rule.
    ServiceName = "E1001", "service-name";
    /// The same service name is declared twice.
    ServiceDuplicate = "E1002", "service-duplicate";
    /// A service's `websocket` is not a `wss://` (or `ws://`) URL naming one
    /// host.
    ServiceEndpoint = "E1003", "service-endpoint";
    /// A service's `http` is not a valid inbound route.
    ServiceRoute = "E1004", "service-route";
    /// A service's endpoint, route or signature secret is not requested
    /// under `[capabilities]`, so it could never be granted.
    ServiceNotRequested = "E1005", "service-not-requested";
    /// A service's `queue`, `timeout_ms`, `backoff_ms`, `max_backoff_ms` or
    /// `max_restarts` is out of bounds.
    ServiceLimit = "E1006", "service-limit";
    /// A service's `backpressure` or `restart` is not a known policy.
    ServicePolicy = "E1007", "service-policy";
    /// A service's `signature` table is incomplete or invalid, or the
    /// service has no `http` route to check it on.
    ServiceSignature = "E1008", "service-signature";
    /// `build.language` is not `rust`, `python` or `javascript`.
    BuildLanguage = "E1101", "build-language";
    /// `build.entry` leaves the package, is set for Rust, or does not end
    /// in the language's file extension.
    BuildEntry = "E1102", "build-entry";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.as_str(), self.name())
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Where in `plugin.toml` a problem is: byte range and 1-based line/column
/// of its start.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// Line of `start`, from 1.
    pub line: usize,
    /// Column of `start` in characters, from 1.
    pub column: usize,
}

impl Span {
    /// The span of `range` in `text`.
    pub fn locate(text: &str, range: Range<usize>) -> Span {
        let start = floor_char_boundary(text, range.start.min(text.len()));
        let end = floor_char_boundary(text, range.end.clamp(start, text.len()));
        let before = &text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = text[line_start..start].chars().count() + 1;
        Span {
            start,
            end,
            line,
            column,
        }
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One problem found in a package, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// Stable code.
    pub code: Code,
    /// The short name of the code.
    pub name: &'static str,
    /// The field the problem is in, e.g. `runtime.digest` or `hooks[1].point`.
    pub path: String,
    /// Where in `plugin.toml`, when it points at a place in the file.
    pub span: Option<Span>,
    /// What is wrong.
    pub message: String,
    /// One line that says how to fix it.
    pub fix: String,
}

impl Diagnostic {
    /// A diagnostic without a place in the file.
    pub fn new(
        code: Code,
        path: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            code,
            name: code.name(),
            path: path.into(),
            span: None,
            message: message.into(),
            fix: fix.into(),
        }
    }

    /// Points the diagnostic at `span`.
    pub fn at(mut self, span: Option<Span>) -> Self {
        self.span = span;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error[{}]: {}: {}", self.code, self.path, self.message)?;
        if let Some(span) = &self.span {
            write!(f, " (line {}, column {})", span.line, span.column)?;
        }
        write!(f, "\n  fix: {}", self.fix)
    }
}

/// Every problem found in one package, in file order, with the manifest text
/// they point into so they can be shown with excerpts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
    file: String,
    source: Option<String>,
}

impl Diagnostics {
    /// Diagnostics about the manifest `file` (a display name) whose text is
    /// `source`, when it could be read.
    pub fn new(items: Vec<Diagnostic>, file: impl Into<String>, source: Option<String>) -> Self {
        let mut items = items;
        // File order reads best; problems without a place go last.
        items.sort_by_key(|d| d.span.as_ref().map_or(usize::MAX, |s| s.start));
        Self {
            items,
            file: file.into(),
            source,
        }
    }

    /// The diagnostics.
    pub fn items(&self) -> &[Diagnostic] {
        &self.items
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether a diagnostic with this code is present.
    pub fn has(&self, code: Code) -> bool {
        self.items.iter().any(|d| d.code == code)
    }

    /// The manifest's display name, e.g. `examples/guard/plugin.toml`.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Renames the manifest file in rendered output.
    pub fn with_file(mut self, file: impl Into<String>) -> Self {
        self.file = file.into();
        self
    }

    /// Human text: each problem with its code, the `file:line:col`, an
    /// excerpt with a caret under the spot, and the fix. `color` adds ANSI
    /// colours (use it when writing to a terminal).
    pub fn render(&self, color: bool) -> String {
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        let mut out = String::new();
        for d in &self.items {
            let title = Level::ERROR
                .primary_title(format!("{}: {}", d.path, d.message))
                .id(format!("{} {}", d.code.as_str(), d.code.name()));
            let fix = Level::HELP
                .with_name(None::<&str>)
                .message(format!("fix: {}", d.fix));
            let group: Group<'_> = match (&d.span, &self.source) {
                (Some(span), Some(source)) => title
                    .element(
                        Snippet::source(source.as_str())
                            .path(self.file.as_str())
                            .annotation(AnnotationKind::Primary.span(span.start..span.end)),
                    )
                    .element(fix),
                _ => title.element(fix),
            };
            out.push_str(&renderer.render(&[group]));
            out.push_str("\n\n");
        }
        let n = self.items.len();
        out.push_str(&format!(
            "{}: {n} problem{} found",
            self.file,
            if n == 1 { "" } else { "s" }
        ));
        out
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.items.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl serde::Serialize for Diagnostics {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Diagnostics", 2)?;
        st.serialize_field("file", &self.file)?;
        st.serialize_field("diagnostics", &self.items)?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "duplicate {}", code.as_str());
            assert!(code.as_str().starts_with('E') && code.as_str().len() == 5);
            assert!(
                code.name()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-')
            );
        }
    }

    #[test]
    fn spans_count_lines_and_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        let s = Span::locate(text, 11..14);
        assert_eq!((s.line, s.column), (2, 5));
        // Out-of-range and mid-character offsets are clamped, never panic.
        let s = Span::locate(text, 8..999);
        assert_eq!((s.start, s.end), (7, text.len()));
    }
}
