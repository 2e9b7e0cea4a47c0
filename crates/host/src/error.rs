use std::path::PathBuf;

use semver::Version;
use yoi_manifest::{Diagnostics, HookPoint, PluginId};

/// Why a plugin could not be loaded or the host could not start.
///
/// Every message names the plugin and version it is about and says what to
/// do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The package folder failed validation (manifest, compatibility, digest).
    #[error("package {} is not valid:\n{diagnostics}", dir.display())]
    Package {
        /// The package folder.
        dir: PathBuf,
        /// Every problem found.
        diagnostics: Diagnostics,
    },
    /// The artifact is not a WebAssembly component this engine can compile.
    #[error(
        "plugin {plugin}@{version}: the artifact is not a valid WebAssembly component: {reason}\n  \
         fix: build it with yoi-pdk for `wasm32-wasip2`; core modules and precompiled files are not accepted"
    )]
    Compile {
        /// Plugin id.
        plugin: PluginId,
        /// Plugin version.
        version: Version,
        /// The compiler's reason.
        reason: String,
    },
    /// `plugin.toml` declares a hook the component does not export.
    #[error(
        "plugin {plugin}@{version} declares hook {point} in plugin.toml, but its component does not export `{interface}`\n  \
         fix: add `{}` to the plugin's `yoi_pdk::register!` list, or remove the [[hooks]] entry",
        point.as_str().replace('.', "_")
    )]
    MissingExport {
        /// Plugin id.
        plugin: PluginId,
        /// Plugin version.
        version: Version,
        /// The declared point.
        point: HookPoint,
        /// The export the host looked for.
        interface: String,
    },
    /// A plugin with this id is already loaded.
    #[error(
        "plugin {plugin} is already loaded (version {loaded}); cannot load version {version} beside it\n  \
         fix: load one version of each plugin per host"
    )]
    AlreadyLoaded {
        /// Plugin id.
        plugin: PluginId,
        /// The loaded version.
        loaded: Version,
        /// The version that was refused.
        version: Version,
    },
    /// The component could not be linked against the host's imports.
    #[error("plugin {plugin}@{version} cannot be linked: {reason}")]
    Link {
        /// Plugin id.
        plugin: PluginId,
        /// Plugin version.
        version: Version,
        /// The linker's reason.
        reason: String,
    },
    /// The host is in safe mode, so it loads no plugin.
    #[error(
        "the host is in safe mode: no plugin is loaded\n  \
         fix: unset YOI_SAFE_MODE (or build the host with `safe_mode(false)`) once the faulty plugin is disabled"
    )]
    SafeMode,
    /// A registry operation was asked of a host built without one.
    #[error("this host has no registry\n  fix: build it with `Host::builder().registry(...)`")]
    NoRegistry,
    /// The registry could not be read; the loaded plugins did not change.
    #[error("the registry could not be read; the loaded plugins are unchanged: {0}")]
    #[cfg(feature = "registry")]
    Registry(#[source] yoi_registry::RegistryError),
    /// The compile cache folder could not be opened.
    #[error(
        "the compile cache {} cannot be used: {reason}\n  fix: make the folder writable by the host, or choose another",
        dir.display()
    )]
    Cache {
        /// The cache folder.
        dir: PathBuf,
        /// What failed.
        reason: String,
    },
    /// A host-defined point's declaration is not valid, or an event of it
    /// was refused (the point is not declared, the event fails its schema).
    #[error(
        "host point `{point}`: {reason}\n  fix: declare the point with a valid name and schema (docs/hooks.md, \"Host-defined points\") and give events that match it"
    )]
    HostPoint {
        /// The point's name, as given.
        point: String,
        /// What is wrong.
        reason: String,
    },
    /// A JSON payload is not a valid event of its hook point.
    #[error("{reason}\n  fix: give the fields of a {point} event (see docs/hooks.md)")]
    Payload {
        /// The hook point.
        point: HookPoint,
        /// What is wrong with the payload.
        reason: String,
    },
    /// A grant given to [`Host::load_with_grants`](crate::Host::load_with_grants)
    /// is malformed or wider than the plugin's request.
    #[error("plugin {plugin}: grant `{grant}` is refused: {reason}")]
    Grant {
        /// Plugin id.
        plugin: PluginId,
        /// The grant as given.
        grant: String,
        /// Why, and how to fix it.
        reason: String,
    },
    /// Setting values a plugin's manifest does not declare or its schema
    /// refuses, or a change asked of a plugin the registry configures.
    #[error("plugin {plugin}: {reason}\n  fix: {fix}")]
    Config {
        /// Plugin id.
        plugin: PluginId,
        /// What is wrong.
        reason: String,
        /// How to fix it.
        fix: String,
    },
    /// A tool cannot be registered: a plugin's declared tool, or a native
    /// tool the embedder registers.
    #[error("tool {tool} cannot be registered: {reason}")]
    Tool {
        /// The tool's (namespaced) name.
        tool: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The host configuration file (`yoi.toml`) cannot be read or is not
    /// valid.
    #[error("{}: {reason}", file.display())]
    HostConfig {
        /// The file.
        file: std::path::PathBuf,
        /// Every problem, naming its field, with the fix.
        reason: String,
    },
    /// A native provider the embedder registers is malformed or taken.
    #[error("provider {provider} cannot be registered: {reason}")]
    Provider {
        /// The provider's name.
        provider: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The inbound HTTP listener could not listen on its address.
    #[error(
        "the inbound HTTP listener cannot listen on {addr}: {reason}; choose another address (port 0 picks a free one)"
    )]
    Inbound {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// What the system said.
        reason: String,
    },
    /// The wasm engine could not be configured.
    #[error("the WebAssembly engine could not start: {0}")]
    Engine(String),
    /// A hook point name that is neither one of Yoi's points nor a valid
    /// name for a host-defined one.
    #[error("unknown hook point `{name}`\n  fix: {}", unknown_point_fix(name))]
    UnknownPoint {
        /// The name as given.
        name: String,
    },
    /// A value an embedder passed that is not what the call takes (a hook
    /// context, a tool or completion request, builder options).
    #[error("{what} is not valid: {reason}\n  fix: give {what} as docs/embedding.md describes it")]
    Input {
        /// What was passed.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// [`Host::dispatch_blocking`](crate::Host::dispatch_blocking) could not
    /// start its runtime.
    #[error(
        "cannot start a runtime for a blocking dispatch: {0}\n  fix: the process may be out of threads or file descriptors; dispatch from a Tokio runtime of your own instead"
    )]
    Runtime(String),
}

/// The fix for an unknown point: the closest of Yoi's points, and all of
/// them.
fn unknown_point_fix(name: &str) -> String {
    let all: Vec<&str> = HookPoint::ALL.iter().map(|p| p.as_str()).collect();
    let closest = all
        .iter()
        .map(|p| (strsim::levenshtein(name, p), *p))
        .min()
        .filter(|(d, _)| *d <= 3)
        .map(|(_, p)| format!("did you mean `{p}`? "))
        .unwrap_or_default();
    format!(
        "{closest}Yoi's points are {}; a host's own point needs a name outside Yoi's namespaces, declared with `[[points]]`",
        all.join(", ")
    )
}

impl HostError {
    /// Its stable code (docs/diagnostics.md): a package's first
    /// diagnostic's `E…`, the registry's `R…`, or the host's own `H…`.
    pub fn code(&self) -> String {
        let code = match self {
            HostError::Package { diagnostics, .. } => diagnostics
                .items()
                .first()
                .map_or("E0001", |d| d.code.as_str()),
            HostError::Compile { .. } => "H0101",
            HostError::MissingExport { .. } => "H0102",
            HostError::AlreadyLoaded { .. } => "H0103",
            HostError::Link { .. } => "H0104",
            HostError::SafeMode => "H0105",
            HostError::NoRegistry => "H0106",
            #[cfg(feature = "registry")]
            HostError::Registry(e) => return registry_code(&e.to_string()),
            HostError::Cache { .. } => "H0108",
            HostError::HostPoint { .. } => "H0109",
            HostError::Payload { .. } => "H0110",
            HostError::Grant { .. } => "H0111",
            HostError::Config { .. } => "H0112",
            HostError::Tool { .. } => "H0113",
            HostError::HostConfig { .. } => "H0114",
            HostError::Provider { .. } => "H0115",
            HostError::Inbound { .. } => "H0116",
            HostError::Engine(_) => "H0117",
            HostError::Runtime(_) => "H0118",
            HostError::UnknownPoint { .. } => "H0119",
            HostError::Input { .. } => "H0120",
        };
        code.to_owned()
    }

    /// What to do about it, for errors whose message has no `fix:` line
    /// of its own.
    pub fn fix(&self) -> &'static str {
        match self {
            HostError::Package { .. } => {
                "fix each problem listed; `yoi plugin check` shows them in place"
            }
            HostError::Grant { .. } => {
                "grant only what the manifest requests, in `yoi grant` form (docs/grants.md)"
            }
            HostError::Tool { .. } | HostError::Provider { .. } => "as the message says",
            HostError::HostConfig { .. } => "write the field as docs/configuration.md describes it",
            _ => "as the message says",
        }
    }
}

/// The registry's own code, which leads each of its messages (`R0101 …`):
/// the registry owns its codes, so they are read, not listed here.
#[cfg(feature = "registry")]
fn registry_code(message: &str) -> String {
    let word = message.split_whitespace().next().unwrap_or_default();
    let is_code =
        word.len() == 5 && word.starts_with('R') && word[1..].bytes().all(|b| b.is_ascii_digit());
    if is_code {
        word.to_owned()
    } else {
        "H0107".to_owned()
    }
}
