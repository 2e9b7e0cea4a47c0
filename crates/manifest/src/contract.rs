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

/// An export beyond hooks and tools: what a manifest table stands for, and
/// the contract version that brought it. The one place that says which
/// version brought which (the manifest's inspection and the host's load
/// errors read it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportSurface {
    /// `[[providers]]`: the `provider` export.
    Provider,
    /// `[observer]`: the `observer` export.
    Observer,
    /// `[[services]]`: the `service` export.
    Service,
}

impl ExportSurface {
    /// The interface name, e.g. `provider`.
    pub fn interface(self) -> &'static str {
        match self {
            ExportSurface::Provider => "provider",
            ExportSurface::Observer => "observer",
            ExportSurface::Service => "service",
        }
    }

    /// The manifest table that declares it, e.g. `[[providers]]`.
    pub fn table(self) -> &'static str {
        match self {
            ExportSurface::Provider => "[[providers]]",
            ExportSurface::Observer => "[observer]",
            ExportSurface::Service => "[[services]]",
        }
    }

    /// The contract version that brought it.
    pub fn since(self) -> ContractVersion {
        let minor = match self {
            ExportSurface::Provider | ExportSurface::Observer => 4,
            ExportSurface::Service => 5,
        };
        ContractVersion(Version::new(0, minor, 0))
    }
}
