use std::fmt;
use std::str::FromStr;

use semver::Version;

/// A version of the `yoi:plugin` WIT contract, e.g. `yoi:plugin@0.1.0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractVersion(pub Version);

impl ContractVersion {
    /// The package name every contract string starts with.
    pub const PACKAGE: &'static str = "yoi:plugin";

    /// Whether a component built against `self` can run on a host that
    /// implements `host`: the same major version, and for 0.x the same minor.
    pub fn runs_on(&self, host: &ContractVersion) -> bool {
        let (a, b) = (&self.0, &host.0);
        if a.major != b.major {
            return false;
        }
        a.major != 0 || a.minor == b.minor
    }
}

impl fmt::Display for ContractVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", Self::PACKAGE, self.0)
    }
}

impl FromStr for ContractVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((package, version)) = s.split_once('@') else {
            return Err("must be `yoi:plugin@<version>`".into());
        };
        if package != Self::PACKAGE {
            return Err(format!(
                "names package `{package}`; Yoi plugins target `{}`",
                Self::PACKAGE
            ));
        }
        Version::parse(version)
            .map(ContractVersion)
            .map_err(|e| format!("version `{version}` is not semver: {e}"))
    }
}

/// The contract versions this release knows, oldest first, the newest last:
/// one row each. A row names the version's bindings (variant, module), its
/// number, its WIT folder (relative to a crate that binds it), how its host
/// APIs relate to the newest version's, and the exports it has beyond hooks
/// and tools (which every version has, unchanged), and what it brought.
///
/// `host_apis` is `adapted` (its own host API bindings, adapted to the
/// newest's), `shared` (the newest version's host APIs, unchanged, under
/// its own names) or `newest` (the last row).
///
/// Every list of versions derives from this table: [`ContractVersion::ALL`],
/// [`ContractVersion::CURRENT`], [`ExportSurface::since`], and in `yoi-host`
/// the bindings, the export lookups and the linker. Adding a version is its
/// WIT folder and a row here (docs/architecture.md, "Adding a contract
/// version"). `$m!` is called with every row; `foreach_contract!(m,
/// tokens)` puts `tokens;` before them.
#[macro_export]
#[doc(hidden)]
macro_rules! foreach_contract {
    ($m:ident $(, $extra:tt)?) => {
        $m! {
            $($extra;)?
            V0_1 v0_1 (0, 1, 0) "wit/0.1.0" host_apis(adapted) exports()
                "hooks and tools; hook handlers receive the event alone";
            V0_2 v0_2 (0, 2, 0) "wit/0.2.0" host_apis(adapted) exports()
                "the `context` import: the hook context of the running call";
            V0_3 v0_3 (0, 3, 0) "wit/0.3.0" host_apis(adapted) exports()
                "the `config` import: the plugin's settings";
            V0_4 v0_4 (0, 4, 0) "wit/0.4.0" host_apis(shared) exports(provider, observer)
                "providers and observers (`provider` and `observer` exports, the \
                 `completions` import), and `https.open`, which reads a body as it arrives";
            V0_5 v0_5 (0, 5, 0) "wit/0.5.0" host_apis(shared) exports(provider, observer, service)
                "services (`service` export), fed by the host's drivers and answering with commands";
            V0_6 v0_6 (0, 6, 0) "wit/0.6.0" host_apis(newest)
                exports(provider, observer, service, host_hooks)
                "hook points the embedding host declares (`host-hooks` export), with JSON events";
        }
    };
}

/// The table's versions and exports as constants.
macro_rules! contract_table {
    ($(
        $variant:ident $module:ident ($major:literal, $minor:literal, $patch:literal) $path:literal
        host_apis($apis:ident) exports($($surface:ident),*) $doc:literal;
    )*) => {
        impl ContractVersion {
            /// Every contract version this release knows, oldest first.
            pub const ALL: &'static [ContractVersion] =
                &[$(ContractVersion(Version::new($major, $minor, $patch))),*];
        }

        /// Each version's exports beyond hooks and tools, by interface name.
        const EXPORTS: &[(ContractVersion, &[&str])] = &[$(
            (ContractVersion(Version::new($major, $minor, $patch)), &[$(stringify!($surface)),*]),
        )*];

        /// The version numbers, oldest first.
        const NUMBERS: &[(u64, u64, u64)] = &[$(($major, $minor, $patch)),*];

        /// The contract strings, oldest first (`yoi:plugin@0.1.0`, ...).
        const STRINGS: &[&str] = &[$(
            concat!("yoi:plugin@", $major, ".", $minor, ".", $patch),
        )*];
    };
}

foreach_contract!(contract_table);

impl ContractVersion {
    /// The newest contract version: what the PDKs and `yoi plugin new`
    /// build against.
    pub const CURRENT: ContractVersion = {
        let (major, minor, patch) = NUMBERS[NUMBERS.len() - 1];
        ContractVersion(Version::new(major, minor, patch))
    };

    /// [`ContractVersion::CURRENT`] as a contract string,
    /// `yoi:plugin@<version>`.
    pub const CURRENT_STR: &'static str = STRINGS[STRINGS.len() - 1];
}

/// An export beyond hooks and tools: what a manifest table stands for, and
/// the contract version that brought it (read off the contract table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportSurface {
    /// `[[providers]]`: the `provider` export.
    Provider,
    /// `[observer]`: the `observer` export.
    Observer,
    /// `[[services]]`: the `service` export.
    Service,
    /// `[[hooks]]` naming a host-defined point: the `host-hooks` export.
    HostHooks,
}

impl ExportSurface {
    /// Every surface.
    pub const ALL: [ExportSurface; 4] = [
        ExportSurface::Provider,
        ExportSurface::Observer,
        ExportSurface::Service,
        ExportSurface::HostHooks,
    ];

    /// The interface name, e.g. `provider`, `host-hooks`.
    pub fn interface(self) -> &'static str {
        match self {
            ExportSurface::Provider => "provider",
            ExportSurface::Observer => "observer",
            ExportSurface::Service => "service",
            ExportSurface::HostHooks => "host-hooks",
        }
    }

    /// The name the contract table gives it (the interface as a Rust
    /// name), e.g. `host_hooks`.
    pub fn key(self) -> &'static str {
        match self {
            ExportSurface::Provider => "provider",
            ExportSurface::Observer => "observer",
            ExportSurface::Service => "service",
            ExportSurface::HostHooks => "host_hooks",
        }
    }

    /// The manifest table that declares it, e.g. `[[providers]]`.
    pub fn table(self) -> &'static str {
        match self {
            ExportSurface::Provider => "[[providers]]",
            ExportSurface::Observer => "[observer]",
            ExportSurface::Service => "[[services]]",
            ExportSurface::HostHooks => "[[hooks]] of a host-defined point",
        }
    }

    /// The contract version that brought it: the first row of the contract
    /// table that has it.
    pub fn since(self) -> ContractVersion {
        EXPORTS
            .iter()
            .find(|(_, exports)| exports.contains(&self.key()))
            .map(|(version, _)| version.clone())
            .unwrap_or_else(|| unreachable!("every surface has a row (a test checks)"))
    }

    /// Whether components built against `contract` can have it.
    pub fn in_contract(self, contract: &ContractVersion) -> bool {
        EXPORTS
            .iter()
            .rev()
            .find(|(version, _)| version.0 <= contract.0)
            .is_some_and(|(_, exports)| exports.contains(&self.key()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_order_and_names_each_version_once() {
        for pair in ContractVersion::ALL.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0], pair[1]);
        }
        for (version, text) in ContractVersion::ALL.iter().zip(STRINGS) {
            assert_eq!(&version.to_string(), text);
        }
        assert_eq!(
            ContractVersion::CURRENT_STR,
            ContractVersion::CURRENT.to_string()
        );
    }

    #[test]
    fn every_surface_came_in_some_version_and_stays() {
        for surface in ExportSurface::ALL {
            let since = surface.since();
            assert!(surface.in_contract(&since));
            assert!(surface.in_contract(&ContractVersion::CURRENT));
            for (version, exports) in EXPORTS {
                assert_eq!(
                    exports.contains(&surface.key()),
                    version.0 >= since.0,
                    "{surface:?} in {version}"
                );
            }
        }
        let v = |minor| ContractVersion(Version::new(0, minor, 0));
        assert_eq!(ExportSurface::Provider.since(), v(4));
        assert_eq!(ExportSurface::Service.since(), v(5));
        assert!(!ExportSurface::Service.in_contract(&v(4)));
    }

    #[test]
    fn every_surface_of_the_table_is_a_surface() {
        for (version, exports) in EXPORTS {
            for name in *exports {
                assert!(
                    ExportSurface::ALL.iter().any(|s| s.key() == *name),
                    "{version} names `{name}`, which is no ExportSurface"
                );
            }
        }
    }
}
