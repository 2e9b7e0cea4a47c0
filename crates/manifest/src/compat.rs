//! What a host supports, to check a package against: the contract
//! versions it implements, its engine version, the hook points it runs,
//! and the imports it links.

use semver::Version;

use crate::ContractVersion;

/// What a host supports, to check a package against.
#[derive(Debug, Clone, PartialEq, Eq)]
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
