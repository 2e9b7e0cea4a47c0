//! The trust policy at every host load: a registry-booted host refuses a
//! version once the policy changes, records why, loads it again once it is
//! signed by a trusted key, and (capped by its own yoi.toml) keeps the
//! previous version when a new one is refused.

use std::sync::Arc;

use yoi_host::Host;
use yoi_manifest::{Package, SigningKey};
use yoi_registry::{Activation, NewTrustedKey, Scope};

use super::{altered_copy, example, publish_and_activate, registry};

fn sign(package: Package, key: &SigningKey) -> Package {
    let sig = package.sign(key, None);
    package.with_signature(sig).expect("covers")
}

/// Trusts `key` to sign the plugins `pattern` names, everywhere.
fn trust(reg: &yoi_registry::Registry, key: &SigningKey, pattern: &str) {
    reg.trust_add(
        &NewTrustedKey {
            name: "examples".into(),
            public_key: key.public().to_pem(),
            scope: Scope::All,
            plugins: vec![pattern.into()],
        },
        "op",
    )
    .expect("trust");
}

fn loaded(host: &Host) -> Vec<String> {
    host.plugins()
        .iter()
        .map(|p| format!("{}@{}", p.id, p.version))
        .collect()
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_registry_booted_host_refuses_a_version_after_the_policy_changes() {
    let (_dir, reg) = registry();
    let key = SigningKey::generate().expect("key");
    publish_and_activate(&reg, &example("guard"), &Activation::by("alice"));
    let host = super::builder()
        .name("trusting")
        .registry(Arc::clone(&reg))
        .build()
        .expect("boot");
    assert_eq!(loaded(&host), ["example.guard@0.1.0"]);

    // The operator requires signatures: the running unsigned version is
    // refused at the next load, with the code and the fix, and recorded.
    reg.trust_require(Scope::All, true, "op").expect("require");
    let report = host.reload().expect("reload");
    assert!(loaded(&host).is_empty(), "{:?}", loaded(&host));
    let refusal = &report.refused[0];
    assert!(
        refusal
            .reason
            .starts_with("R0117 example.guard@0.1.0: example.guard is not signed"),
        "{}",
        refusal.reason
    );
    assert_eq!(refusal.kept_previous, None);
    host.flush_events();
    let events = reg.events(Some("example.guard"), 0, 100).expect("events");
    let recorded = events
        .iter()
        .find(|e| e.kind == "trust_refused")
        .expect("the refusal is recorded");
    assert_eq!(recorded.host.as_deref(), Some("trusting"));
    assert!(
        recorded.detail["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("R0117"))
    );

    // The key trusted and the version signed: it loads again.
    trust(&reg, &key, "example.*");
    let signed = sign(
        Package::open(&example("guard"), &Host::compat()).expect("opens"),
        &key,
    );
    reg.publish(&signed, &Host::compat(), "alice")
        .expect("signature kept");
    let report = host.reload().expect("reload");
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!(loaded(&host), ["example.guard@0.1.0"]);

    // A fresh host boots under the same policy and loads it.
    let fresh = super::builder()
        .name("fresh")
        .registry(Arc::clone(&reg))
        .build()
        .expect("boot");
    assert_eq!(loaded(&fresh), ["example.guard@0.1.0"]);
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_host_capped_by_its_own_config_keeps_the_previous_signed_version() {
    let (_dir, reg) = registry();
    let key = SigningKey::generate().expect("key");
    trust(&reg, &key, "example.guard");
    let signed = sign(
        Package::open(&example("guard"), &Host::compat()).expect("opens"),
        &key,
    );
    reg.publish(&signed, &Host::compat(), "alice")
        .expect("publish");
    reg.activate(
        "example.guard",
        &"0.1.0".parse().expect("v"),
        &Activation::by("alice"),
    )
    .expect("activate");
    let host = super::builder()
        .registry(Arc::clone(&reg))
        .require_signatures(true)
        .build()
        .expect("boot");
    assert_eq!(loaded(&host), ["example.guard@0.1.0"]);

    // The registry requires nothing, so an unsigned 0.2.0 activates there;
    // this host's cap refuses it and keeps 0.1.0 running.
    let next = altered_copy("guard", |m| {
        m.replace("version = \"0.1.0\"", "version = \"0.2.0\"")
    });
    publish_and_activate(&reg, next.path(), &Activation::by("alice"));
    let report = host.reload().expect("reload");
    assert_eq!(loaded(&host), ["example.guard@0.1.0"]);
    let refusal = &report.refused[0];
    assert_eq!(refusal.version, "0.2.0");
    assert_eq!(refusal.kept_previous.as_deref(), Some("0.1.0"));
    assert!(
        refusal.reason.starts_with("R0117 example.guard@0.2.0"),
        "{}",
        refusal.reason
    );

    // A host without the cap runs 0.2.0.
    let uncapped = super::builder()
        .registry(Arc::clone(&reg))
        .build()
        .expect("boot");
    assert_eq!(loaded(&uncapped), ["example.guard@0.2.0"]);
}

/// A host checks every version under its own scope: a requirement on
/// canary holds canary hosts to it, versions activated for all included.
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_canary_requirement_holds_canary_hosts_to_it() {
    let (_dir, reg) = registry();
    publish_and_activate(&reg, &example("guard"), &Activation::by("alice"));
    reg.trust_require(Scope::Canary, true, "op")
        .expect("require");
    let canary = super::builder()
        .registry(Arc::clone(&reg))
        .scope(Scope::Canary)
        .build()
        .expect("boot");
    assert!(loaded(&canary).is_empty(), "{:?}", loaded(&canary));
    let everywhere = super::builder()
        .registry(Arc::clone(&reg))
        .build()
        .expect("boot");
    assert_eq!(loaded(&everywhere), ["example.guard@0.1.0"]);
}
