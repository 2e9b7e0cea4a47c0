//! Upgrade plans: what activating a candidate would change and still
//! needs, read without changing anything.

mod common;

use semver::Version;
use yoi_registry::{Activation, Operation, Registry, Rollout, Scope};

const V1: &str = "https = [\"api.example.com\"]\n\n[config.level]\ntype = \"integer\"\n";
const V2: &str = "https = [\"api.example.com\", \"upload.example.com\"]\nsecrets = [\"api_key\"]\n\n\
                  [config.level]\ntype = \"string\"\n\n[config.region]\ntype = \"string\"\nrequired = true\n";

fn registry() -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("registry");
    for (version, caps) in [("1.0.0", V1), ("2.0.0", V2)] {
        let p = common::package_with("u.demo", version, version.as_bytes().to_vec(), caps);
        reg.publish(&p, &common::compat(), "ci").expect("publish");
    }
    reg.grant("u.demo", &["https:api.example.com".into()], true, "ops")
        .expect("grant");
    let how = Activation {
        rollout: Rollout {
            scope: Scope::Canary,
            percent: 30,
        },
        ..Activation::by("ops")
    };
    reg.activate("u.demo", &Version::new(1, 0, 0), &how)
        .expect("activate 1.0.0");
    (dir, reg)
}

#[test]
fn a_plan_shows_the_diff_the_decisions_and_what_is_missing_without_changing_anything() {
    let (_dir, reg) = registry();
    let before = reg.snapshot().expect("snapshot");
    let plan = reg
        .upgrade_plan("u.demo", &Version::new(2, 0, 0))
        .expect("plan");
    assert_eq!(plan.from, Some(Version::new(1, 0, 0)));
    assert_eq!(plan.to.version, Version::new(2, 0, 0));
    assert_eq!(
        plan.rollout.scope,
        Scope::Canary,
        "the active version's scope"
    );
    assert_eq!(plan.rollout.percent, 30);
    let text = |c: &[yoi_registry::Capability]| c.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    assert_eq!(
        text(&plan.diff.capabilities.added),
        ["https:upload.example.com", "secret:api_key"]
    );
    assert_eq!(
        text(&plan.diff.capabilities.unchanged),
        ["https:api.example.com"]
    );
    assert_eq!(
        text(&plan.undecided),
        ["https:upload.example.com", "secret:api_key"]
    );
    let lines: Vec<(String, &str, &str)> = plan
        .capabilities
        .iter()
        .map(|l| (l.capability.to_string(), l.change, l.decision))
        .collect();
    assert_eq!(
        lines,
        [
            ("https:upload.example.com".into(), "added", "undecided"),
            ("secret:api_key".into(), "added", "undecided"),
            ("https:api.example.com".into(), "unchanged", "granted"),
        ]
    );
    assert_eq!(plan.decisions.len(), 1);
    assert!(plan.decisions[0].granted);
    assert_eq!(plan.diff.settings.newly_required, ["region"]);
    assert_eq!(plan.diff.settings.changed_type.len(), 1);
    let settings = plan.settings.expect("region has no value");
    assert!(settings.contains("`region` is required"), "{settings}");
    assert!(
        settings.contains("yoi config set u.demo region"),
        "{settings}"
    );
    assert!(plan.disabled.is_none());
    // Read only: nothing changed, nothing audited.
    let after = reg.snapshot().expect("snapshot");
    assert_eq!(before.change_seq, after.change_seq);
    assert_eq!(before.audits.len(), after.audits.len());

    // With the decisions made and the setting set, nothing is missing, and
    // the activation the plan describes goes through.
    for op in [
        Operation::Grant {
            plugin: "u.demo".into(),
            capabilities: vec!["https:upload.example.com".into()],
        },
        Operation::Deny {
            plugin: "u.demo".into(),
            capabilities: vec!["secret:api_key".into()],
        },
        Operation::ConfigSet {
            plugin: "u.demo".into(),
            key: "region".into(),
            value: Some(serde_json::json!("eu")),
            text: None,
            scope: Scope::All,
        },
    ] {
        let answer = reg.apply(&op, "ops");
        assert!(answer.ok, "{op:?}: {:?}", answer.error);
    }
    let plan = reg
        .upgrade_plan("u.demo", &Version::new(2, 0, 0))
        .expect("plan");
    assert!(plan.undecided.is_empty(), "{:?}", plan.undecided);
    let decided: Vec<&str> = plan.capabilities.iter().map(|l| l.decision).collect();
    assert_eq!(decided, ["granted", "denied", "granted"]);
    assert!(plan.settings.is_none(), "{:?}", plan.settings);
}

#[test]
fn a_plan_for_a_version_that_is_not_there_says_so() {
    let (_dir, reg) = registry();
    let e = reg
        .upgrade_plan("u.demo", &Version::new(9, 0, 0))
        .expect_err("no such version");
    assert!(e.to_string().contains("9.0.0"), "{e}");
}
