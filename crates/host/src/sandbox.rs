//! What a plugin instance can reach: the WASI subset it may import (with
//! nothing ambient behind it), Yoi's host APIs (the units of `api`, with
//! the store state they act on) linked for every contract version, and the
//! adapters of older versions whose host APIs changed.

use wasmtime::Engine;
use wasmtime::component::Linker;

use crate::api::HOST_APIS;
pub(crate) use crate::api::state::{HasState, PluginState};
use crate::bindings::latest::yoi::plugin::fs::{self as wit_fs, Entry};
use crate::bindings::latest::yoi::plugin::types::ApiError;
use crate::bindings::latest::yoi::plugin::{config, context, https, log, secrets};
use crate::bindings::v0_2::yoi::plugin as v0_2;
use crate::bindings::v0_3::yoi::plugin as v0_3;

/// The WASI interfaces a plugin may import, without version (0.2.x:
/// `yoi-manifest` checks). With Yoi's own ([`allowed_imports`]) they are
/// everything a plugin may import; anything else is refused at load time,
/// never linked as a trap.
///
/// WASI is here because the standard libraries of Rust, Python and
/// JavaScript guests import it even when a plugin never touches it. It is
/// linked with nothing behind it (docs/hooks.md, "What a plugin can
/// reach"): an empty environment, no arguments, a closed stdin, captured
/// and capped stdout/stderr, no preopened folder (so no file can be
/// opened), sockets that refuse every address and name lookups that
/// refuse every name. Clocks tell the time and randomness seeds hash maps;
/// neither reaches anything outside the instance. Files, the network and
/// secrets are reached only through Yoi's own `fs`, `https` and
/// `secrets`, which check the plugin's grants on every call.
const WASI_IMPORTS: &[&str] = &[
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
    "wasi:sockets/ip-name-lookup",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
];

/// Every interface a plugin may import, without version: WASI's
/// ([`WASI_IMPORTS`]), the contract's records (`yoi:plugin/types`) and each
/// host API unit's (`api::HOST_APIS`). Yoi's must be of the plugin's
/// contract version (`yoi-manifest` checks).
pub(crate) fn allowed_imports() -> Vec<String> {
    let yoi = |i: &str| format!("{}/{i}", yoi_manifest::ContractVersion::PACKAGE);
    WASI_IMPORTS
        .iter()
        .map(|i| (*i).to_owned())
        .chain([yoi("types")])
        .chain(HOST_APIS.iter().map(|api| yoi(api.interface)))
        .collect()
}

/// The linker every plugin is instantiated with: exactly [`allowed_imports`].
pub(crate) fn linker(engine: &Engine) -> wasmtime::Result<Linker<PluginState>> {
    let mut l = Linker::new(engine);
    // All of WASI 0.2, with nothing behind it (see WASI_IMPORTS and
    // `PluginState::new`).
    wasmtime_wasi::p2::add_to_linker_async(&mut l)?;
    // Every contract version's host APIs, each under its own versioned
    // name: one linker serves components of all of them.
    link_contracts(&mut l)?;
    // Host APIs an older version had in another form, adapted.
    v0_2::context::add_to_linker::<PluginState, HasState>(&mut l, |s| s)?;
    v0_3::context::add_to_linker::<PluginState, HasState>(&mut l, |s| s)?;
    v0_3::config::add_to_linker::<PluginState, HasState>(&mut l, |s| s)?;
    Ok(l)
}

/// Each contract version's host APIs, linked by how they relate to the
/// newest version's (the contract table's `host_apis`), and the adapters
/// of the `adapted` ones.
macro_rules! link_contracts {
    ($(
        $variant:ident $v:ident ($major:literal, $minor:literal, $patch:literal) $path:literal
        host_apis($apis:ident) exports($($surface:ident),*) $doc:literal;
    )*) => {
        fn link_contracts(l: &mut Linker<PluginState>) -> wasmtime::Result<()> {
            $( link_contract!($apis, $v, l, concat!($major, ".", $minor, ".", $patch)); )*
            Ok(())
        }
        $( adapt_contract!($apis, $v); )*
    };
}

macro_rules! link_contract {
    (newest, $v:ident, $l:ident, $version:expr) => {
        for api in &HOST_APIS {
            (api.link)($l)?;
        }
    };
    (shared, $v:ident, $l:ident, $version:expr) => {
        for api in &HOST_APIS {
            (api.link_as)($l, $version)?;
        }
    };
    (adapted, $v:ident, $l:ident, $version:expr) => {{
        use crate::bindings::$v::yoi::plugin as api;
        api::log::add_to_linker::<PluginState, HasState>($l, |s| s)?;
        api::https::add_to_linker::<PluginState, HasState>($l, |s| s)?;
        api::fs::add_to_linker::<PluginState, HasState>($l, |s| s)?;
        api::secrets::add_to_linker::<PluginState, HasState>($l, |s| s)?;
    }};
}

macro_rules! adapt_contract {
    (adapted, $v:ident) => {
        older_host_apis!($v);
    };
    ($apis:ident, $v:ident) => {};
}

/// The `context` of contracts 0.2.0 and 0.3.0: the newest one's record.
macro_rules! older_context {
    ($v:ident) => {
        impl $v::context::Host for PluginState {
            fn current(&mut self) -> $v::context::HookContext {
                let c = context::Host::current(self);
                $v::context::HookContext {
                    point: c.point,
                    plugin_id: c.plugin_id,
                    work_item_id: c.work_item_id,
                    run_id: c.run_id,
                    agent_id: c.agent_id,
                    session_id: c.session_id,
                    subject: c.subject,
                }
            }
        }
    };
}
older_context!(v0_2);
older_context!(v0_3);

impl v0_3::config::Host for PluginState {
    fn get(&mut self, key: String) -> Result<Option<String>, v0_3::config::ConfigError> {
        config::Host::get(self, key).map_err(|e| match e {
            config::ConfigError::Undeclared(k) => v0_3::config::ConfigError::Undeclared(k),
        })
    }

    fn all(&mut self) -> String {
        config::Host::all(self)
    }
}

// The older contracts' host APIs (`log`, `https`, `fs` and `secrets` did
// not change after 0.1.0): the same calls as the newest contract's, with
// the records that are not shared converted at the edge.
macro_rules! older_host_apis {
    ($module:ident) => {
        // A block of its own per version: `old_entry` is each one's.
        const _: () = {
            use crate::bindings::$module::yoi::plugin as v;
            impl v::log::Host for PluginState {
                fn write(
                    &mut self,
                    level: v::log::Level,
                    message: String,
                    fields: Vec<(String, String)>,
                ) {
                    let level = match level {
                        v::log::Level::Trace => log::Level::Trace,
                        v::log::Level::Debug => log::Level::Debug,
                        v::log::Level::Info => log::Level::Info,
                        v::log::Level::Warn => log::Level::Warn,
                        v::log::Level::Error => log::Level::Error,
                    };
                    log::Host::write(self, level, message, fields);
                }
            }

            impl v::https::Host for PluginState {
                async fn send(
                    &mut self,
                    r: v::https::Request,
                ) -> Result<v::https::Response, ApiError> {
                    use v::https::Method as Old;
                    let method = match r.method {
                        Old::Get => https::Method::Get,
                        Old::Head => https::Method::Head,
                        Old::Post => https::Method::Post,
                        Old::Put => https::Method::Put,
                        Old::Patch => https::Method::Patch,
                        Old::Delete => https::Method::Delete,
                    };
                    let request = https::Request {
                        method,
                        url: r.url,
                        headers: r.headers,
                        body: r.body,
                        timeout_ms: r.timeout_ms,
                    };
                    let response = https::Host::send(self, request).await?;
                    Ok(v::https::Response {
                        status: response.status,
                        headers: response.headers,
                        body: response.body,
                        url: response.url,
                    })
                }
            }

            fn old_entry(e: Entry) -> v::fs::Entry {
                use wit_fs::EntryKind as New;
                v::fs::Entry {
                    name: e.name,
                    kind: match e.kind {
                        New::File => v::fs::EntryKind::File,
                        New::Directory => v::fs::EntryKind::Directory,
                        New::Symlink => v::fs::EntryKind::Symlink,
                        New::Other => v::fs::EntryKind::Other,
                    },
                    size: e.size,
                }
            }

            impl v::fs::Host for PluginState {
                async fn read(&mut self, path: String) -> Result<Vec<u8>, ApiError> {
                    wit_fs::Host::read(self, path).await
                }
                async fn write(&mut self, path: String, data: Vec<u8>) -> Result<(), ApiError> {
                    wit_fs::Host::write(self, path, data).await
                }
                async fn append(&mut self, path: String, data: Vec<u8>) -> Result<(), ApiError> {
                    wit_fs::Host::append(self, path, data).await
                }
                async fn list_dir(&mut self, path: String) -> Result<Vec<v::fs::Entry>, ApiError> {
                    let entries = wit_fs::Host::list_dir(self, path).await?;
                    Ok(entries.into_iter().map(old_entry).collect())
                }
                async fn stat(&mut self, path: String) -> Result<v::fs::Entry, ApiError> {
                    wit_fs::Host::stat(self, path).await.map(old_entry)
                }
                async fn create_dir(&mut self, path: String) -> Result<(), ApiError> {
                    wit_fs::Host::create_dir(self, path).await
                }
                async fn remove(&mut self, path: String) -> Result<(), ApiError> {
                    wit_fs::Host::remove(self, path).await
                }
                async fn rename(&mut self, from: String, to: String) -> Result<(), ApiError> {
                    wit_fs::Host::rename(self, from, to).await
                }
                async fn symlink(&mut self, target: String, link: String) -> Result<(), ApiError> {
                    wit_fs::Host::symlink(self, target, link).await
                }
                async fn hard_link(
                    &mut self,
                    existing: String,
                    link: String,
                ) -> Result<(), ApiError> {
                    wit_fs::Host::hard_link(self, existing, link).await
                }
            }

            impl v::secrets::Host for PluginState {
                async fn get(&mut self, key: String) -> Result<String, ApiError> {
                    secrets::Host::get(self, key).await
                }
            }
        };
    };
}
yoi_manifest::foreach_contract!(link_contracts);
