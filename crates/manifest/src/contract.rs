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

/// What a host supports, to check a package against.
#[derive(Debug, Clone)]
pub struct Compat {
    /// The contract versions the host implements, oldest first. A
    /// component runs when it targets one of them (see
    /// [`ContractVersion::runs_on`]).
    pub contracts: Vec<ContractVersion>,
    /// The Yoi version of the host, matched against `plugin.engine`.
    pub engine: Version,
    /// The hook points the host's contract defines.
    pub hook_points: Vec<crate::HookPoint>,
    /// Interfaces a component may import, without version, e.g.
    /// `wasi:cli/stdout` or `yoi:plugin/log`. WASI imports must be 0.2.x;
    /// `yoi:plugin/*` imports must be of the declared contract version.
    pub imports: Vec<String>,
    /// The interface tools are exported through, if the contract has one.
    pub tools_interface: Option<String>,
}

impl Compat {
    /// Whether a component built against `contract` runs on this host.
    pub fn runs(&self, contract: &ContractVersion) -> bool {
        self.contracts.iter().any(|host| contract.runs_on(host))
    }

    /// The newest contract the host implements: what to rebuild against.
    pub fn newest(&self) -> Option<&ContractVersion> {
        self.contracts.iter().max_by(|a, b| a.0.cmp(&b.0))
    }

    /// The contracts as a list for messages: `yoi:plugin@0.1.0 and yoi:plugin@0.2.0`.
    pub fn contracts_text(&self) -> String {
        let all: Vec<String> = self.contracts.iter().map(ToString::to_string).collect();
        match all.split_last() {
            None => "no contract".into(),
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> ContractVersion {
        s.parse().unwrap()
    }

    #[test]
    fn zero_x_needs_same_minor_and_one_x_same_major() {
        assert!(v("yoi:plugin@0.1.0").runs_on(&v("yoi:plugin@0.1.5")));
        assert!(!v("yoi:plugin@0.2.0").runs_on(&v("yoi:plugin@0.1.0")));
        assert!(v("yoi:plugin@1.4.0").runs_on(&v("yoi:plugin@1.0.0")));
        assert!(!v("yoi:plugin@2.0.0").runs_on(&v("yoi:plugin@1.9.0")));
        assert!("wasi:cli@0.2.0".parse::<ContractVersion>().is_err());
        assert!("yoi:plugin".parse::<ContractVersion>().is_err());
    }
}
