//! Operators' setting values: checked against the version they run with
//! when set and again at activation, scoped, audited without secrets, and
//! sealed at rest.

mod common;

use serde_json::json;
use yoi_registry::{Activation, NewValue, Registry, RegistryError, Rollout, Scope};

const SETTINGS_V1: &str = r#"
[config.deny]
type = "list"
default = ["shell"]
schema = { items = { type = "string" } }

[config.mode]
type = "string"
schema = { enum = ["strict", "lenient"] }

[config.api_key]
type = "string"
secret = true
"#;

/// Version 2 narrows `mode` to `strict` only and requires `region`.
const SETTINGS_V2: &str = r#"
[config.deny]
type = "list"
schema = { items = { type = "string" } }

[config.mode]
type = "string"
schema = { enum = ["strict"] }

[config.api_key]
type = "string"
secret = true

[config.region]
type = "string"
required = true
"#;

const SECRET: &str = "sk-very-secret-4711";

fn registry() -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("registry");
    for (version, settings) in [("1.0.0", SETTINGS_V1), ("2.0.0", SETTINGS_V2)] {
        let p = common::package_with("c.guard", version, version.as_bytes().to_vec(), settings);
        reg.publish(&p, &common::compat(), "ci").expect("publish");
    }
    let v1 = semver::Version::new(1, 0, 0);
    reg.activate("c.guard", &v1, &Activation::by("ops"))
        .expect("activate 1.0.0");
    (dir, reg)
}

fn text(value: &str) -> NewValue {
    NewValue::Text(value.to_owned())
}

fn code(e: &RegistryError) -> String {
    e.to_string()
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn values_are_checked_against_the_active_version_when_set() {
    let (_dir, reg) = registry();
    let r = reg
        .set_config(
            "c.guard",
            Scope::All,
            "deny",
            text(r#"["rm", "dd"]"#),
            "alice",
        )
        .expect("a list as JSON");
    assert_eq!(r.value, Some(json!(["rm", "dd"])));
    // A string setting takes the text as it is.
    let r = reg
        .set_config("c.guard", Scope::All, "mode", text("lenient"), "alice")
        .expect("a string as text");
    assert_eq!(r.value, Some(json!("lenient")));

    // Refusals: the schema's reason, an undeclared name, bad JSON.
    let e = reg
        .set_config("c.guard", Scope::All, "mode", text("loose"), "alice")
        .unwrap_err();
    assert_eq!(code(&e), "R0113", "{e}");
    assert!(e.to_string().contains("\"loose\" is not one of"), "{e}");
    let e = reg
        .set_config(
            "c.guard",
            Scope::All,
            "deny",
            NewValue::Json(json!([1])),
            "alice",
        )
        .unwrap_err();
    assert!(e.to_string().contains("at /0"), "{e}");
    let e = reg
        .set_config("c.guard", Scope::All, "deny", text("rm"), "alice")
        .unwrap_err();
    assert!(e.to_string().contains("written as JSON"), "{e}");
    let e = reg
        .set_config("c.guard", Scope::All, "colour", text("red"), "alice")
        .unwrap_err();
    assert_eq!(code(&e), "R0112", "{e}");
    assert!(e.to_string().contains("deny, mode, api_key"), "{e}");
    let e = reg
        .set_config("c.none", Scope::All, "deny", text("[]"), "alice")
        .unwrap_err();
    assert!(e.to_string().contains("no published version"), "{e}");
    let e = reg
        .unset_config("c.guard", Scope::Canary, "deny", "alice")
        .unwrap_err();
    assert_eq!(code(&e), "R0115", "{e}");

    // Every attempt is in the audit log, refusals included.
    let audits = reg.audits(Some("c.guard"), 0, 1000).expect("audits");
    let config: Vec<_> = audits
        .iter()
        .filter(|a| a.action.starts_with("config_"))
        .collect();
    // (The attempt on `c.none` is in that plugin's log.)
    assert_eq!(config.len(), 7, "{config:#?}");
    assert!(
        config[0].reason.contains(r#"["rm","dd"]"#),
        "{:?}",
        config[0]
    );
    assert!(
        config
            .iter()
            .filter(|a| a.outcome == yoi_registry::Outcome::Error)
            .count()
            == 5
    );
    // The snapshot carries the values.
    let snap = reg.snapshot().expect("snapshot");
    assert_eq!(snap.config.len(), 2);
}

#[test]
fn a_scope_wins_over_all_which_wins_over_the_default() {
    let (_dir, reg) = registry();
    let (v1, _) = reg.settings("c.guard").expect("settings");
    let manifest = yoi_manifest::Manifest::parse(&v1.manifest).expect("manifest");
    let effective = |scope| {
        reg.effective_config("c.guard", &manifest.config, scope)
            .expect("effective")
    };
    assert_eq!(
        effective(Scope::All)["deny"],
        json!(["shell"]),
        "the default"
    );
    assert!(
        !effective(Scope::All).contains_key("mode"),
        "no value, no default"
    );

    reg.set_config("c.guard", Scope::All, "deny", text(r#"["a"]"#), "ops")
        .expect("set");
    reg.set_config("c.guard", Scope::Canary, "deny", text(r#"["b"]"#), "ops")
        .expect("set");
    assert_eq!(effective(Scope::All)["deny"], json!(["a"]));
    assert_eq!(effective(Scope::Beta)["deny"], json!(["a"]));
    assert_eq!(effective(Scope::Canary)["deny"], json!(["b"]));
    reg.unset_config("c.guard", Scope::Canary, "deny", "ops")
        .expect("unset");
    assert_eq!(effective(Scope::Canary)["deny"], json!(["a"]));
}

#[test]
fn a_secret_is_sealed_at_rest_and_never_shown_or_audited() {
    let (dir, reg) = registry();
    let r = reg
        .set_config("c.guard", Scope::All, "api_key", text(SECRET), "alice")
        .expect("set a secret");
    assert!(r.secret && r.value.is_none(), "{r:?}");
    let shown = serde_json::to_string(&reg.config("c.guard").expect("config")).expect("JSON");
    assert!(!shown.contains(SECRET) && !shown.contains("v1:"), "{shown}");
    let snap = serde_json::to_string(&reg.snapshot().expect("snapshot")).expect("JSON");
    assert!(!snap.contains(SECRET), "the snapshot never holds it");
    let audits = reg.audits(None, 0, 1000).expect("audits");
    assert!(audits.iter().all(|a| !a.reason.contains(SECRET)));
    assert!(
        audits
            .iter()
            .any(|a| a.reason.contains("a secret value (not recorded)"))
    );

    // Not in the database files, in any form a grep finds.
    drop(reg);
    for entry in std::fs::read_dir(dir.path()).expect("folder") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let bytes = std::fs::read(&path).expect("read");
            let found = bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
            assert!(!found, "the secret is readable in {}", path.display());
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = dir.path().join(yoi_registry::CONFIG_KEY_FILE);
        let mode = std::fs::metadata(&key)
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is the owner's only");
    }

    // A host gets it opened.
    let reg = Registry::open(dir.path()).expect("reopen");
    let (v1, _) = reg.settings("c.guard").expect("settings");
    let manifest = yoi_manifest::Manifest::parse(&v1.manifest).expect("manifest");
    let effective = reg
        .effective_config("c.guard", &manifest.config, Scope::All)
        .expect("effective");
    assert_eq!(effective["api_key"], json!(SECRET));

    // Rotation: sealed again under a new key, still opened; the old key is gone.
    assert_eq!(reg.rotate_config_key("alice").expect("rotate"), 1);
    let keys =
        std::fs::read_to_string(dir.path().join(yoi_registry::CONFIG_KEY_FILE)).expect("key file");
    assert!(keys.contains("\nk2 ") && !keys.contains("\nk1 "), "{keys}");
    let reg = Registry::open(dir.path()).expect("reopen");
    let effective = reg
        .effective_config("c.guard", &manifest.config, Scope::All)
        .expect("effective");
    assert_eq!(effective["api_key"], json!(SECRET));

    // Without the key file, a secret cannot be opened: a coded error.
    std::fs::remove_file(dir.path().join(yoi_registry::CONFIG_KEY_FILE)).expect("remove key");
    let reg = Registry::open(dir.path()).expect("reopen");
    let e = reg
        .effective_config("c.guard", &manifest.config, Scope::All)
        .unwrap_err();
    assert_eq!(code(&e), "R0305", "{e}");
}

#[test]
fn a_version_that_rejects_the_stored_values_is_not_activated() {
    let (_dir, reg) = registry();
    reg.set_config("c.guard", Scope::All, "mode", text("lenient"), "ops")
        .expect("set");
    let v2 = semver::Version::new(2, 0, 0);
    let canary = Activation {
        actor: "ops".into(),
        rollout: Rollout {
            scope: Scope::Canary,
            percent: 10,
        },
    };
    let e = reg.activate("c.guard", &v2, &canary).unwrap_err();
    assert_eq!(code(&e), "R0114", "{e}");
    let text_of = e.to_string();
    assert!(
        text_of.contains("the value of `mode` (scope all) no longer fits"),
        "{text_of}"
    );
    assert!(
        text_of.contains("fix: `yoi config unset c.guard mode --scope all`"),
        "{text_of}"
    );
    assert!(
        text_of.contains("`region` is required by 2.0.0 and has no value for scope canary"),
        "{text_of}"
    );
    assert!(
        text_of.contains("fix: `yoi config set c.guard region VALUE`"),
        "{text_of}"
    );
    assert_eq!(
        reg.active("c.guard")
            .expect("active")
            .map(|v| v.version.to_string()),
        Some("1.0.0".into()),
        "nothing changed"
    );

    // Follow the fixes: a value for the scope, the old one removed.
    reg.unset_config("c.guard", Scope::All, "mode", "ops")
        .expect("unset");
    // A name no version declares is refused, with the names there are.
    let e = reg
        .set_config("c.guard", Scope::Canary, "regoin", text("eu"), "ops")
        .unwrap_err();
    assert_eq!(code(&e), "R0112", "{e}");
    // `region` is not a setting of the active 1.0.0 but of 2.0.0: set
    // while 1.0.0 runs (so the upgrade needs no gap), checked against
    // 2.0.0's declaration, and not given to 1.0.0.
    let e = reg
        .set_config(
            "c.guard",
            Scope::Canary,
            "region",
            NewValue::Json(json!(7)),
            "ops",
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("2.0.0"),
        "checked against 2.0.0: {e}"
    );
    reg.set_config("c.guard", Scope::Canary, "region", text("eu"), "ops")
        .expect("set region against 2.0.0");
    let (_, settings) = reg.settings("c.guard").expect("settings");
    let running = reg
        .effective_config("c.guard", &settings, Scope::Canary)
        .expect("effective");
    assert!(!running.contains_key("region"), "{running:?}");
    reg.activate("c.guard", &v2, &canary)
        .expect("activate 2.0.0");
    let v1 = semver::Version::new(1, 0, 0);

    // Rolling back to 1.0.0, which does not declare `region`, is not
    // blocked by its value; 1.0.0 just does not get it.
    reg.rollback("c.guard", &v1, "ops")
        .expect("rollback past region");
    let (_, settings) = reg.settings("c.guard").expect("settings");
    let manifest = yoi_manifest::Manifest::parse(
        &reg.active("c.guard")
            .expect("active")
            .expect("one")
            .manifest,
    )
    .expect("manifest");
    assert!(settings.iter().all(|s| s.name != "region"));
    let effective = reg
        .effective_config("c.guard", &manifest.config, Scope::Canary)
        .expect("effective");
    assert!(!effective.contains_key("region"), "{effective:?}");
    let v1_active = reg.active("c.guard").expect("active").expect("one");
    reg.deactivate("c.guard", &v1_active.version, "ops")
        .expect("deactivate");
    reg.activate("c.guard", &v2, &canary)
        .expect("activate 2.0.0 again");

    // Removing the plugin removes its values.
    reg.deactivate("c.guard", &v2, "ops").expect("deactivate");
    reg.remove_all("c.guard", "ops").expect("remove");
    assert!(reg.config("c.guard").expect("config").is_empty());
}

/// A secret refused by its schema is refused without its value: the
/// refusal is stored in the audit log and printed by every client.
#[test]
fn a_refused_secret_never_reaches_an_error_or_the_audit_log() {
    const GUARDED: &str = r#"
[config.token]
type = "string"
secret = true
schema = { minLength = 12 }
"#;
    const STRICTER: &str = r#"
[config.token]
type = "string"
secret = true
schema = { minLength = 12, pattern = "^live-" }
"#;
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = Registry::open(dir.path()).expect("registry");
    for (version, settings) in [("1.0.0", GUARDED), ("2.0.0", STRICTER)] {
        let p = common::package_with("c.keys", version, version.as_bytes().to_vec(), settings);
        reg.publish(&p, &common::compat(), "ci").expect("publish");
    }
    let v1 = semver::Version::new(1, 0, 0);
    reg.activate("c.keys", &v1, &Activation::by("ops"))
        .expect("activate");
    let typo = "tok-typo42";
    // Typed as text (`yoi config set`) and as JSON (`yoi serve`'s
    // operations): neither refusal quotes the value.
    let err = reg
        .set_config("c.keys", Scope::All, "token", text(typo), "ops")
        .expect_err("too short");
    assert!(err.to_string().contains("shorter than 12"), "{err}");
    assert!(!err.to_string().contains(typo), "{err}");
    {
        let set = yoi_registry::Operation::ConfigSet {
            plugin: "c.keys".into(),
            key: "token".into(),
            value: Some(json!(typo)),
            text: None,
            scope: Scope::All,
        };
        let answer = reg.apply(&set, "ops");
        let shown = serde_json::to_string(&answer).expect("JSON");
        assert!(!answer.ok, "{shown}");
        assert!(
            shown.contains("shorter than 12"),
            "says what is wrong: {shown}"
        );
        assert!(
            !shown.contains(typo),
            "the answer quotes the secret: {shown}"
        );
    }
    // A value set under 1.0.0 that 2.0.0 refuses: the activation's refusal
    // names the setting, not the value.
    let kept = "test-key-0123456789";
    reg.set_config("c.keys", Scope::All, "token", text(kept), "ops")
        .expect("fits 1.0.0");
    let v2 = semver::Version::new(2, 0, 0);
    let activate = yoi_registry::Operation::Activate {
        plugin: "c.keys".into(),
        version: v2,
        scope: Scope::All,
        rollout_pct: 100,
    };
    let answer = reg.apply(&activate, "ops");
    let shown = serde_json::to_string(&answer).expect("JSON");
    assert!(!answer.ok && shown.contains("token"), "{shown}");
    assert!(!shown.contains(kept), "{shown}");
    let audits = serde_json::to_string(&reg.audits(None, 0, 1000).expect("audits")).expect("JSON");
    assert!(!audits.contains(typo) && !audits.contains(kept), "{audits}");
}
