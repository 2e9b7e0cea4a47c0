//! The trust policy on both stores: keys and requirements audited; publish
//! and activation refused with their codes (the messages below are what
//! operators read: one case per code); nothing stored by a refused publish;
//! a signature arriving later is kept.

mod common;

use yoi_manifest::{Package, PackageSignature, Rollout, Scope, SigningKey};
use yoi_registry::{Activation, NewTrustedKey, Outcome, RegistryError, Signer, TrustCode};

fn signed(package: Package, key: &SigningKey) -> Package {
    let sig = package.sign(key, None);
    package.with_signature(sig).expect("covers")
}

fn trust(name: &str, key: &SigningKey, scope: Scope, plugins: &[&str]) -> NewTrustedKey {
    NewTrustedKey {
        name: name.into(),
        public_key: key.public().to_pem(),
        scope,
        plugins: plugins.iter().map(|p| p.to_string()).collect(),
    }
}

fn on(scope: Scope) -> Activation {
    Activation {
        actor: "op".into(),
        rollout: Rollout {
            scope,
            percent: 100,
        },
    }
}

/// The message with the key id (random per run) masked.
fn shown(e: &RegistryError, key: &SigningKey) -> String {
    let id = key.public().key_id();
    e.to_string().replace(yoi_registry::short(&id), "KEYID")
}

#[test]
fn every_checkpoint_refuses_with_its_code_on_both_stores() {
    let author = SigningKey::generate().expect("key");
    let stranger = SigningKey::generate().expect("key");
    for store in common::stores() {
        let reg = store.open();
        let label = &store.label;
        let compat = common::compat();

        // R0120: a bad key, name or pattern, and a duplicate.
        let bad_key = reg
            .trust_add(
                &NewTrustedKey {
                    public_key: "not a key".into(),
                    ..trust("acme", &author, Scope::All, &[])
                },
                "op",
            )
            .expect_err("bad key");
        assert_eq!(
            bad_key.to_string(),
            "R0120 trust: the public key is not a PEM file starting with `-----BEGIN PUBLIC KEY-----`\n  fix: give the `.pub` file `yoi keygen` wrote (a PEM `PUBLIC KEY`)",
            "{label}"
        );
        let bad_pattern = reg
            .trust_add(&trust("acme", &author, Scope::All, &["Acme/*"]), "op")
            .expect_err("bad pattern");
        assert!(
            bad_pattern
                .to_string()
                .starts_with("R0120 trust: `Acme/*` is not a plugin pattern"),
            "{label}"
        );
        let added = reg
            .trust_add(&trust("acme", &author, Scope::All, &["acme.*"]), "op")
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(added.key_id, author.public().key_id());
        let again = reg
            .trust_add(&trust("acme-2", &author, Scope::All, &["*"]), "op")
            .expect_err("duplicate");
        assert!(
            again.to_string().contains("is already trusted"),
            "{label}: {again}"
        );

        // Nothing required yet: an unsigned package publishes.
        let plain = common::package_with("acme.plain", "1.0.0", b"plain".to_vec(), "");
        reg.publish(&plain, &compat, "op")
            .unwrap_or_else(|e| panic!("{label}: {e}"));

        reg.trust_require(Scope::All, true, "op").expect("require");

        // R0117 at publish: unsigned, nothing stored.
        let unsigned = common::package_with("acme.unsigned", "1.0.0", b"u".to_vec(), "");
        let refused = reg.publish(&unsigned, &compat, "op").expect_err("unsigned");
        assert_eq!(
            refused.to_string(),
            "R0117 acme.unsigned@1.0.0: acme.unsigned is not signed, and publishing requires a trusted signature\n  fix: sign the package (`yoi sign PACKAGE --key KEY`) with a key in `yoi trust list`, and publish it again",
            "{label}"
        );
        assert!(matches!(
            refused,
            RegistryError::Trust {
                code: TrustCode::Unsigned,
                ..
            }
        ));
        let snap = reg.snapshot().expect("snapshot");
        assert!(
            snap.versions
                .iter()
                .all(|v| v.plugin.as_str() != "acme.unsigned"),
            "{label}: a refused publish stores nothing"
        );
        let last = snap.audits.last().expect("audit");
        assert_eq!(
            (last.action.as_str(), last.outcome),
            ("publish", Outcome::Error)
        );

        // R0118 at publish: signed by a key nobody trusts.
        let stranger_signed = signed(
            common::package_with("acme.other", "1.0.0", b"o".to_vec(), ""),
            &stranger,
        );
        let refused = reg
            .publish(&stranger_signed, &compat, "op")
            .expect_err("untrusted");
        assert_eq!(
            shown(&refused, &stranger),
            "R0118 acme.other@1.0.0: acme.other is signed by key KEYID, which is not trusted; publishing requires a trusted signature\n  fix: if you trust the author, `yoi trust add NAME KEY.pub --plugins ID` (with `--scope` where it should count); otherwise do not run it",
            "{label}"
        );

        // R0118: a trusted key outside its plugin patterns.
        let outside = signed(
            common::package_with("evil.x", "1.0.0", b"e".to_vec(), ""),
            &author,
        );
        let refused = reg
            .publish(&outside, &compat, "op")
            .expect_err("outside patterns");
        assert!(
            refused
                .to_string()
                .contains("is signed by `acme`, which may sign only acme.* in scope all"),
            "{label}: {refused}"
        );

        // R0119: a forged signature naming the trusted key.
        let forged_text = stranger_signed
            .sign(&stranger, None)
            .text()
            .replace(&stranger.public().key_id(), &author.public().key_id());
        let forged = common::package_with("acme.other", "1.0.0", b"o".to_vec(), "")
            .with_signature(PackageSignature::parse(&forged_text).expect("parses"))
            .expect("covers");
        let refused = reg.publish(&forged, &compat, "op").expect_err("forged");
        assert_eq!(
            shown(&refused, &author),
            "R0119 acme.other@1.0.0: the signature does not verify with key KEYID: the package or the signature was altered, or another key signed it\n  fix: ask the author for a package signed again (`yoi sign`); do not run this one",
            "{label}"
        );

        // A trusted signature publishes and records its signer.
        let good = signed(
            common::package_with("acme.good", "1.0.0", b"g".to_vec(), ""),
            &author,
        );
        let published = reg
            .publish(&good, &compat, "op")
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(
            published.record.provenance.key_id.as_deref(),
            Some(author.public().key_id().as_str())
        );
        let audit = reg
            .snapshot()
            .expect("snapshot")
            .audits
            .last()
            .cloned()
            .expect("audit");
        assert!(
            audit.reason.contains("signed by acme ("),
            "{label}: {}",
            audit.reason
        );
        reg.activate("acme.good", &"1.0.0".parse().expect("v"), &on(Scope::All))
            .unwrap_or_else(|e| panic!("{label}: {e}"));

        // R0117 at activation: the unsigned version published before the
        // requirement cannot be activated now.
        let refused = reg
            .activate(
                "acme.plain",
                &"1.0.0".parse().expect("v"),
                &on(Scope::Canary),
            )
            .expect_err("policy changed since publish");
        assert!(
            refused.to_string().starts_with(
                "R0117 acme.plain@1.0.0: acme.plain is not signed, and scope canary requires"
            ),
            "{label}: {refused}"
        );

        // A scope-limited requirement: off for all, on for canary only.
        reg.trust_require(Scope::All, false, "op").expect("off");
        reg.trust_require(Scope::Canary, true, "op")
            .expect("canary");
        reg.activate("acme.plain", &"1.0.0".parse().expect("v"), &on(Scope::Beta))
            .unwrap_or_else(|e| panic!("{label}: beta requires nothing: {e}"));
        let refused = reg
            .activate(
                "acme.plain",
                &"1.0.0".parse().expect("v"),
                &on(Scope::Canary),
            )
            .expect_err("canary requires");
        assert!(matches!(
            refused,
            RegistryError::Trust {
                code: TrustCode::Unsigned,
                ..
            }
        ));

        // Signing later keeps the same version and adds the signature.
        let plain_signed = signed(plain.clone(), &author);
        let again = reg
            .publish(&plain_signed, &compat, "op")
            .expect("republish");
        assert!(!again.created);
        assert!(again.record.provenance.signature.is_some(), "{label}");
        reg.activate(
            "acme.plain",
            &"1.0.0".parse().expect("v"),
            &on(Scope::Canary),
        )
        .unwrap_or_else(|e| panic!("{label}: now signed: {e}"));

        // The policy as hosts read it, and each version's signer.
        let deployment = reg.deployment().expect("deployment");
        assert_eq!(deployment.trust.required, vec![Scope::Canary]);
        let record = deployment
            .active
            .iter()
            .find(|v| v.plugin.as_str() == "acme.good")
            .expect("active");
        let signer = deployment.trust.check(
            "acme.good",
            &record.manifest,
            &record.digest,
            record.provenance.signature.as_deref(),
            yoi_registry::Checkpoint::Scope(Scope::All),
            true,
        );
        assert!(matches!(signer, Ok(Signer::Trusted { ref name, .. }) if name == "acme"));

        // Removing the key: the signature no longer vouches anywhere.
        reg.trust_remove("acme", "op").expect("remove");
        let refused = reg
            .activate(
                "acme.plain",
                &"1.0.0".parse().expect("v"),
                &on(Scope::Canary),
            )
            .expect_err("key removed");
        assert!(matches!(
            refused,
            RegistryError::Trust {
                code: TrustCode::Untrusted,
                ..
            }
        ));
        let missing = reg.trust_remove("acme", "op").expect_err("gone");
        assert!(
            missing
                .to_string()
                .starts_with("R0120 trust: no trusted key is named `acme`")
        );

        let actions: Vec<String> = reg
            .snapshot()
            .expect("snapshot")
            .audits
            .iter()
            .filter(|a| a.action.starts_with("trust_"))
            .map(|a| format!("{} {:?}", a.action, a.outcome))
            .collect();
        assert_eq!(
            actions,
            [
                "trust_add Error",
                "trust_add Error",
                "trust_add Ok",
                "trust_add Error",
                "trust_require Ok",
                "trust_require Ok",
                "trust_require Ok",
                "trust_remove Ok",
                "trust_remove Error",
            ],
            "{label}"
        );
    }
}
