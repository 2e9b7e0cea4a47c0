//! Host-side bindings: one module per contract version this host serves,
//! each generated from the frozen WIT folder of that version in the PDK
//! crate (`crates/pdk/wit/<version>/`). docs/hooks.md ("Contract
//! versions") says what changed between them.
//!
//! The newest module owns the types the rest of the host uses. An older
//! module shares its event records (`with`, so the hook table converts an
//! event once for every version) and converts the few host API types that
//! differ at the edge, in `sandbox`. Adding a version is a new WIT folder,
//! a new module here, a new [`Contract`] variant and its arm in each
//! `match` the compiler then points at.

use semver::{Version, VersionReq};
use yoi_manifest::ContractVersion;

/// `yoi:plugin@0.5.0`: services (`service` export), fed by the host's
/// WebSocket and inbound HTTP drivers and answering with commands.
pub(crate) mod v0_5 {
    wasmtime::component::bindgen!({
        path: "../pdk/wit/0.5.0",
        world: "yoi:plugin/plugin",
        imports: {
            // Host calls that wait: on the network, and on the filesystem
            // (which runs on a blocking thread the deadline can abandon).
            "yoi:plugin/https": async,
            "yoi:plugin/fs": async,
            // The embedder's secret source may be remote (a vault).
            "yoi:plugin/secrets": async,
            // A chunk waits for the embedder to take it (backpressure).
            "yoi:plugin/completions": async,
        },
        exports: { default: async },
        with: {
            "yoi:plugin/https.incoming-body": crate::resources::IncomingBody,
            "yoi:plugin/completions.sink": crate::providerspec::Sink,
        },
    });
}

/// `yoi:plugin@0.4.0`: providers (`provider` export, `completions`
/// import with the chunk sink), observers (`observer` export), and
/// `https.open`, which reads a response body as it arrives. 0.5.0 only
/// added the `service` export, so every imported interface is the newest
/// contract's (`with`), linked again under its 0.4.0 name in `sandbox`.
pub(crate) mod v0_4 {
    wasmtime::component::bindgen!({
        path: "../pdk/wit/0.4.0",
        world: "yoi:plugin/plugin",
        exports: { default: async },
        with: {
            "yoi:plugin/types": super::latest::yoi::plugin::types,
            "yoi:plugin/log": super::latest::yoi::plugin::log,
            "yoi:plugin/context": super::latest::yoi::plugin::context,
            "yoi:plugin/config": super::latest::yoi::plugin::config,
            "yoi:plugin/https": super::latest::yoi::plugin::https,
            "yoi:plugin/fs": super::latest::yoi::plugin::fs,
            "yoi:plugin/secrets": super::latest::yoi::plugin::secrets,
            "yoi:plugin/completions": super::latest::yoi::plugin::completions,
        },
    });
}

/// The bindings of an older contract version. Its records are the newest
/// contract's, field for field, so it shares them (`with`): the hook table
/// converts an event once for every version.
macro_rules! older_contract {
    ($(#[$doc:meta])* $module:ident, $path:literal, $types:literal) => {
        $(#[$doc])*
        pub(crate) mod $module {
            wasmtime::component::bindgen!({
                path: $path,
                world: "yoi:plugin/plugin",
                imports: {
                    "yoi:plugin/https.send": async,
                    "yoi:plugin/fs": async,
                    "yoi:plugin/secrets": async,
                },
                exports: { default: async },
                with: { $types: super::latest::yoi::plugin::types },
            });
        }
    };
}

older_contract!(
    /// `yoi:plugin@0.3.0`: the `config` import, the plugin's settings.
    v0_3, "../pdk/wit/0.3.0", "yoi:plugin/types@0.3.0"
);
older_contract!(
    /// `yoi:plugin@0.2.0`: every hook handler also receives the hook context.
    v0_2, "../pdk/wit/0.2.0", "yoi:plugin/types@0.2.0"
);
older_contract!(
    /// `yoi:plugin@0.1.0`: hook handlers receive the event alone.
    v0_1, "../pdk/wit/0.1.0", "yoi:plugin/types@0.1.0"
);

/// The newest contract's bindings: what the host's own code speaks.
pub(crate) use v0_5 as latest;

/// A contract version this host serves, i.e. one bindings module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contract {
    V0_1,
    V0_2,
    V0_3,
    V0_4,
    V0_5,
}

impl Contract {
    /// Every version served, oldest first.
    pub(crate) const ALL: [Contract; 5] = [
        Contract::V0_1,
        Contract::V0_2,
        Contract::V0_3,
        Contract::V0_4,
        Contract::V0_5,
    ];

    /// The version the module was generated from (its WIT folder's name).
    pub(crate) const fn generated_from(self) -> &'static str {
        match self {
            Contract::V0_1 => "0.1.0",
            Contract::V0_2 => "0.2.0",
            Contract::V0_3 => "0.3.0",
            Contract::V0_4 => "0.4.0",
            Contract::V0_5 => "0.5.0",
        }
    }

    /// The versions a component may declare to run on this module: the
    /// same minor for 0.x, the same major after (`plugin.contract`).
    pub(crate) fn serves(self) -> VersionReq {
        VersionReq::parse(&format!("^{}", self.generated_from()))
            .unwrap_or_else(|e| unreachable!("a version is a valid requirement: {e}"))
    }

    /// This module's version as a contract string's version.
    pub(crate) fn version(self) -> ContractVersion {
        ContractVersion(
            Version::parse(self.generated_from())
                .unwrap_or_else(|e| unreachable!("module versions are semver: {e}")),
        )
    }

    /// The module that runs a component built against `declared`.
    pub(crate) fn serving(declared: &ContractVersion) -> Option<Contract> {
        Contract::ALL
            .into_iter()
            .find(|c| c.serves().matches(&declared.0))
    }

    /// A `yoi:plugin` interface's full name in this version.
    pub(crate) fn interface(self, interface: &str) -> String {
        format!(
            "{}/{interface}@{}",
            ContractVersion::PACKAGE,
            self.generated_from()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_module_is_generated_from_the_folder_it_names() {
        for contract in Contract::ALL {
            let dir = format!(
                "{}/../pdk/wit/{}",
                env!("CARGO_MANIFEST_DIR"),
                contract.generated_from()
            );
            let worlds = std::fs::read_to_string(format!("{dir}/worlds.wit")).unwrap();
            let package = format!("package {};", contract.version());
            assert!(worlds.starts_with(&package), "{dir}: expected `{package}`");
        }
    }

    #[test]
    fn the_public_contract_is_the_newest_module() {
        let newest = Contract::ALL[Contract::ALL.len() - 1];
        assert_eq!(crate::CONTRACT, newest.version().to_string());
        assert!(crate::Host::compat().newest() == Some(&newest.version()));
    }

    #[test]
    fn a_version_is_served_by_one_module_or_none() {
        let v = |s: &str| ContractVersion(Version::parse(s).unwrap());
        assert_eq!(Contract::serving(&v("0.1.0")), Some(Contract::V0_1));
        assert_eq!(Contract::serving(&v("0.1.7")), Some(Contract::V0_1));
        assert_eq!(Contract::serving(&v("0.2.0")), Some(Contract::V0_2));
        assert_eq!(Contract::serving(&v("0.3.0")), Some(Contract::V0_3));
        assert_eq!(Contract::serving(&v("0.4.0")), Some(Contract::V0_4));
        assert_eq!(Contract::serving(&v("0.5.0")), Some(Contract::V0_5));
        assert_eq!(Contract::serving(&v("0.6.0")), None);
        assert_eq!(Contract::serving(&v("1.0.0")), None);
        assert_eq!(
            Contract::V0_1.interface("log"),
            "yoi:plugin/log@0.1.0".to_owned()
        );
    }
}
