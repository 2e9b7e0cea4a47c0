//! Host-side bindings: one module per contract version this host serves,
//! each generated from the frozen WIT folder of that version
//! (`crates/host/wit/<version>/`, the repository's `wit/`), one per row of
//! the contract table (`yoi_manifest::foreach_contract!`). docs/hooks.md
//! ("Contract versions") says what changed between them.
//!
//! The newest module owns the types the rest of the host uses. An older
//! module shares its event records (`with`, so the hook table converts an
//! event once for every version); where its host APIs are the newest
//! version's unchanged (`shared`), it shares all of them, and where they
//! differ (`adapted`), `sandbox` converts at the edge. Adding a version is
//! a WIT folder and a table row; nothing here lists versions by hand.

use semver::{Version, VersionReq};
use yoi_manifest::ContractVersion;

/// One contract version's bindings module, by how its host APIs relate to
/// the newest version's.
macro_rules! bindings_module {
    (newest, $module:ident, $path:literal, $doc:expr) => {
        #[doc = $doc]
        pub(crate) mod $module {
            wasmtime::component::bindgen!({
                path: $path,
                world: "yoi:plugin/plugin",
                imports: {
                    // Host calls that wait: on the network, and on the
                    // filesystem (which runs on a blocking thread the
                    // deadline can abandon).
                    "yoi:plugin/https": async,
                    "yoi:plugin/fs": async,
                    // The embedder's secret source may be remote (a vault).
                    "yoi:plugin/secrets": async,
                    // A chunk waits for the embedder to take it
                    // (backpressure).
                    "yoi:plugin/completions": async,
                },
                exports: { default: async },
                with: {
                    "yoi:plugin/https.incoming-body": crate::resources::IncomingBody,
                    "yoi:plugin/completions.sink": crate::providerspec::Sink,
                },
            });
        }

        /// The newest contract's bindings: what the host's own code speaks.
        pub(crate) use $module as latest;
    };
    (shared, $module:ident, $path:literal, $doc:expr) => {
        #[doc = $doc]
        ///
        /// Its host APIs are the newest contract's (`with`), linked again
        /// under its names in `sandbox`.
        pub(crate) mod $module {
            wasmtime::component::bindgen!({
                path: $path,
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
    };
    (adapted, $module:ident, $path:literal, $doc:expr) => {
        #[doc = $doc]
        ///
        /// Its records are the newest contract's, field for field, so it
        /// shares them (`with`); its host APIs are its own, adapted in
        /// `sandbox`.
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
                with: { "yoi:plugin/types": super::latest::yoi::plugin::types },
            });
        }
    };
}

/// The bindings modules and [`Contract`], from the contract table.
macro_rules! contract_bindings {
    ($(
        $variant:ident $module:ident ($major:literal, $minor:literal, $patch:literal) $path:literal
        host_apis($apis:ident) exports($($surface:ident),*) $doc:literal;
    )*) => {
        $( bindings_module!(
            $apis,
            $module,
            $path,
            concat!("`yoi:plugin@", $major, ".", $minor, ".", $patch, "`: ", $doc, ".")
        ); )*

        /// A contract version this host serves, i.e. one bindings module.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Contract {
            $( $variant, )*
        }

        impl Contract {
            /// Every version served, oldest first.
            pub(crate) const ALL: &[Contract] = &[$(Contract::$variant),*];

            /// The version the module was generated from (its WIT folder's
            /// name).
            pub(crate) const fn generated_from(self) -> &'static str {
                match self {
                    $( Contract::$variant => concat!($major, ".", $minor, ".", $patch), )*
                }
            }

            /// The WIT folder the module was generated from, relative to
            /// this crate.
            #[cfg(test)]
            pub(crate) const fn folder(self) -> &'static str {
                match self {
                    $( Contract::$variant => $path, )*
                }
            }
        }
    };
}

yoi_manifest::foreach_contract!(contract_bindings);

impl Contract {
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
            .iter()
            .copied()
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
            let dir = format!("{}/{}", env!("CARGO_MANIFEST_DIR"), contract.folder());
            assert!(dir.ends_with(contract.generated_from()), "{dir}");
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
        for contract in Contract::ALL {
            let ours = contract.version();
            assert_eq!(Contract::serving(&ours), Some(*contract));
            let patched = Version::new(ours.0.major, ours.0.minor, ours.0.patch + 7);
            assert_eq!(
                Contract::serving(&ContractVersion(patched)),
                Some(*contract)
            );
        }
        let newest = Contract::ALL[Contract::ALL.len() - 1].version();
        let next = Version::new(newest.0.major, newest.0.minor + 1, 0);
        assert_eq!(Contract::serving(&ContractVersion(next)), None);
        assert_eq!(Contract::serving(&v("1.0.0")), None);
        assert_eq!(
            Contract::V0_1.interface("log"),
            "yoi:plugin/log@0.1.0".to_owned()
        );
    }

    #[test]
    fn the_modules_are_the_contract_table() {
        let ours: Vec<ContractVersion> = Contract::ALL.iter().map(|c| c.version()).collect();
        assert_eq!(ours, ContractVersion::ALL);
    }
}
