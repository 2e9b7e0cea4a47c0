//! State-machine property test: random operation sequences run against the
//! registry and against a small in-memory model; after every step both agree
//! on success or refusal, on every version's state and rollout, on the active
//! versions, the grants, the disabled plugins, and the audit log grows by one.
//! The same body runs on both stores (SQLite, and PostgreSQL when the tests
//! have a server).

use std::collections::{BTreeMap, BTreeSet};

mod common;

use proptest::prelude::*;
use semver::Version;
use yoi_manifest::Package;
use yoi_registry::{Activation, Capability, Registry, Rollout, Scope, State};

const PLUGINS: [&str; 2] = ["a.one", "b.two"];
const VERSIONS: [&str; 3] = ["0.1.0", "0.2.0", "0.3.0"];
const CAPS: [&str; 3] = [
    "secret:A_KEY",
    "https:api.example.com",
    "https:evil.example.com",
];

fn requests(plugin: &str) -> Vec<&'static str> {
    if plugin == "b.two" {
        vec!["https:api.example.com", "secret:A_KEY"]
    } else {
        vec!["secret:A_KEY"]
    }
}

fn package(plugin: &str, version: &str, variant: u8) -> Package {
    let https = if plugin == "b.two" {
        "https = [\"api.example.com\"]\nsecrets = [\"A_KEY\"]\n"
    } else {
        "secrets = [\"A_KEY\"]\n"
    };
    let artifact = format!("{plugin}-{version}-{variant}").into_bytes();
    common::package_with(plugin, version, artifact, https)
}

#[derive(Debug, Clone)]
enum Op {
    Publish(usize, usize, u8),
    Activate(usize, usize, u8, bool),
    Deactivate(usize, usize),
    Rollback(usize, usize),
    Grant(usize, usize),
    Deny(usize, usize),
    Revoke(usize, usize),
    Disable(usize),
    Enable(usize),
    Remove(usize, usize),
    RemoveAll(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let p = 0..PLUGINS.len();
    let v = 0..VERSIONS.len();
    let c = 0..CAPS.len();
    prop_oneof![
        3 => (p.clone(), v.clone(), 0u8..2).prop_map(|(p, v, x)| Op::Publish(p, v, x)),
        3 => (p.clone(), v.clone(), 0u8..=100, any::<bool>()).prop_map(|(p, v, n, c)| Op::Activate(p, v, n, c)),
        1 => (p.clone(), v.clone()).prop_map(|(p, v)| Op::Deactivate(p, v)),
        2 => (p.clone(), v.clone()).prop_map(|(p, v)| Op::Rollback(p, v)),
        2 => (p.clone(), c.clone()).prop_map(|(p, c)| Op::Grant(p, c)),
        1 => (p.clone(), c.clone()).prop_map(|(p, c)| Op::Deny(p, c)),
        1 => (p.clone(), c).prop_map(|(p, c)| Op::Revoke(p, c)),
        1 => p.clone().prop_map(Op::Disable),
        1 => p.clone().prop_map(Op::Enable),
        2 => (p.clone(), v.clone()).prop_map(|(p, v)| Op::Remove(p, v)),
        1 => p.prop_map(Op::RemoveAll),
    ]
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct MVersion {
    digest: String,
    state: State,
    rollout: Rollout,
    seq: u64,
}

#[derive(Default)]
struct Model {
    versions: BTreeMap<(String, Version), MVersion>,
    next_seq: u64,
    decisions: BTreeMap<(String, String), bool>,
    disabled: BTreeSet<String>,
}

impl Model {
    fn of(&self, p: &str) -> Vec<(Version, MVersion)> {
        self.versions
            .iter()
            .filter(|((q, _), _)| q == p)
            .map(|((_, v), m)| (v.clone(), m.clone()))
            .collect()
    }

    fn active(&self, p: &str) -> Option<(Version, MVersion)> {
        self.of(p)
            .into_iter()
            .find(|(_, m)| m.state == State::Active)
    }

    fn granted_all(&self, p: &str) -> bool {
        requests(p).iter().all(|req| {
            let req: Capability = req.parse().expect("request");
            self.decisions.iter().any(|((q, cap), granted)| {
                q == p
                    && if *granted {
                        cap.parse::<Capability>().is_ok_and(|c| c.within(&req))
                    } else {
                        *cap == req.to_string()
                    }
            })
        })
    }

    /// Applies `op`; returns whether it succeeded.
    fn apply(&mut self, op: &Op) -> bool {
        match *op {
            Op::Publish(p, v, x) => {
                let key = (
                    PLUGINS[p].to_owned(),
                    Version::parse(VERSIONS[v]).expect("v"),
                );
                let digest = package(PLUGINS[p], VERSIONS[v], x)
                    .manifest()
                    .runtime
                    .digest
                    .to_string();
                match self.versions.get(&key) {
                    Some(m) => m.digest == digest,
                    None => {
                        self.next_seq += 1;
                        self.versions.insert(
                            key,
                            MVersion {
                                digest,
                                state: State::Published,
                                rollout: Rollout::default(),
                                seq: self.next_seq,
                            },
                        );
                        true
                    }
                }
            }
            Op::Activate(p, v, percent, canary) => {
                let (p, v) = (PLUGINS[p], Version::parse(VERSIONS[v]).expect("v"));
                let key = (p.to_owned(), v.clone());
                if !self.versions.contains_key(&key)
                    || self.disabled.contains(p)
                    || !self.granted_all(p)
                {
                    return false;
                }
                if let Some((prev, _)) = self.active(p)
                    && prev != v
                {
                    self.versions
                        .get_mut(&(p.to_owned(), prev))
                        .expect("prev")
                        .state = State::Inactive;
                }
                let m = self.versions.get_mut(&key).expect("target");
                m.state = State::Active;
                m.rollout = Rollout {
                    scope: if canary { Scope::Canary } else { Scope::All },
                    percent,
                };
                true
            }
            Op::Deactivate(p, v) => {
                let key = (
                    PLUGINS[p].to_owned(),
                    Version::parse(VERSIONS[v]).expect("v"),
                );
                match self.versions.get_mut(&key) {
                    Some(m) if m.state == State::Active => {
                        m.state = State::Inactive;
                        true
                    }
                    _ => false,
                }
            }
            Op::Rollback(p, v) => {
                let (p, v) = (PLUGINS[p], Version::parse(VERSIONS[v]).expect("v"));
                let Some(target) = self.versions.get(&(p.to_owned(), v.clone())).cloned() else {
                    return false;
                };
                let Some((cur_v, cur)) = self.active(p) else {
                    return false;
                };
                if cur_v == v
                    || target.seq > cur.seq
                    || self.disabled.contains(p)
                    || !self.granted_all(p)
                {
                    return false;
                }
                self.versions
                    .get_mut(&(p.to_owned(), cur_v))
                    .expect("cur")
                    .state = State::RolledBack;
                let t = self.versions.get_mut(&(p.to_owned(), v)).expect("target");
                t.state = State::Active;
                t.rollout = cur.rollout;
                true
            }
            Op::Grant(p, c) | Op::Deny(p, c) => {
                let granted = matches!(op, Op::Grant(..));
                let p = PLUGINS[p];
                let cap: Capability = CAPS[c].parse().expect("cap");
                let published = !self.of(p).is_empty();
                let ok = published
                    && requests(p).iter().any(|r| {
                        let r: Capability = r.parse().expect("req");
                        if granted { cap.within(&r) } else { cap == r }
                    });
                if ok {
                    self.decisions
                        .insert((p.to_owned(), cap.to_string()), granted);
                }
                ok
            }
            Op::Revoke(p, c) => self
                .decisions
                .remove(&(PLUGINS[p].to_owned(), CAPS[c].to_owned()))
                .is_some(),
            Op::Disable(p) => {
                let ok = !self.of(PLUGINS[p]).is_empty();
                if ok {
                    self.disabled.insert(PLUGINS[p].to_owned());
                }
                ok
            }
            Op::Enable(p) => self.disabled.remove(PLUGINS[p]),
            Op::Remove(p, v) => {
                let key = (
                    PLUGINS[p].to_owned(),
                    Version::parse(VERSIONS[v]).expect("v"),
                );
                let ok = self
                    .versions
                    .get(&key)
                    .is_some_and(|m| m.state != State::Active);
                if ok {
                    self.versions.remove(&key);
                    self.forget_if_gone(PLUGINS[p]);
                }
                ok
            }
            Op::RemoveAll(p) => {
                let p = PLUGINS[p];
                let versions = self.of(p);
                let ok = !versions.is_empty() && self.active(p).is_none();
                if ok {
                    self.versions.retain(|(q, _), _| q != p);
                    self.forget_if_gone(p);
                }
                ok
            }
        }
    }

    /// A plugin without versions keeps no grants and no flag.
    fn forget_if_gone(&mut self, p: &str) {
        if self.of(p).is_empty() {
            self.decisions.retain(|(q, _), _| q != p);
            self.disabled.remove(p);
        }
    }
}

fn run(reg: &Registry, op: &Op) -> bool {
    let ver = |v: usize| Version::parse(VERSIONS[v]).expect("v");
    match *op {
        Op::Publish(p, v, x) => reg
            .publish(
                &package(PLUGINS[p], VERSIONS[v], x),
                &common::compat(),
                "test",
            )
            .is_ok(),
        Op::Activate(p, v, percent, canary) => {
            let how = Activation {
                actor: "test".into(),
                rollout: Rollout {
                    scope: if canary { Scope::Canary } else { Scope::All },
                    percent,
                },
            };
            reg.activate(PLUGINS[p], &ver(v), &how).is_ok()
        }
        Op::Deactivate(p, v) => reg.deactivate(PLUGINS[p], &ver(v), "test").is_ok(),
        Op::Rollback(p, v) => reg.rollback(PLUGINS[p], &ver(v), "test").is_ok(),
        Op::Grant(p, c) => reg
            .grant(PLUGINS[p], &[CAPS[c].to_owned()], true, "test")
            .is_ok(),
        Op::Deny(p, c) => reg
            .grant(PLUGINS[p], &[CAPS[c].to_owned()], false, "test")
            .is_ok(),
        Op::Revoke(p, c) => reg
            .revoke(PLUGINS[p], &[CAPS[c].to_owned()], "test")
            .is_ok(),
        Op::Disable(p) => reg.disable(PLUGINS[p], "testing", "test").is_ok(),
        Op::Enable(p) => reg.enable(PLUGINS[p], "test").is_ok(),
        Op::Remove(p, v) => reg.remove(PLUGINS[p], &ver(v), "test").is_ok(),
        Op::RemoveAll(p) => reg.remove_all(PLUGINS[p], "test").is_ok(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn registry_matches_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        // A new folder per case; one database emptied per case.
        static POSTGRES: std::sync::OnceLock<Option<common::TestStore>> = std::sync::OnceLock::new();
        let sqlite = common::sqlite_store();
        let postgres = POSTGRES.get_or_init(common::postgres_store).as_ref().filter(|s| s.reset());
        for store in std::iter::once(&sqlite).chain(postgres) {
        let reg = store.open();
        let mut model = Model::default();
        for (i, op) in ops.iter().enumerate() {
            let want = model.apply(op);
            let got = run(&reg, op);
            prop_assert_eq!(got, want, "{}: step {} {:?}", store.label, i, op);

            let snap = reg.snapshot().expect("snapshot");
            let stored: BTreeMap<(String, Version), (String, State, Rollout)> = snap
                .versions
                .iter()
                .map(|v| ((v.plugin.to_string(), v.version.clone()), (v.digest.to_string(), v.state, v.rollout)))
                .collect();
            let expected: BTreeMap<(String, Version), (String, State, Rollout)> = model
                .versions
                .iter()
                .map(|(k, m)| (k.clone(), (m.digest.clone(), m.state, m.rollout)))
                .collect();
            prop_assert_eq!(&stored, &expected, "versions after step {} {:?}", i, op);
            let order: Vec<_> = snap.versions.iter().map(|v| (v.plugin.to_string(), v.version.clone())).collect();
            let mut by_seq: Vec<_> = model.versions.iter().map(|(k, m)| (m.seq, k.clone())).collect();
            by_seq.sort();
            prop_assert_eq!(order, by_seq.into_iter().map(|(_, k)| k).collect::<Vec<_>>());
            for p in PLUGINS {
                let want_active = model.active(p).map(|(v, _)| v);
                prop_assert_eq!(snap.active_versions.get(p), want_active.as_ref());
            }
            let decisions: BTreeMap<(String, String), bool> =
                snap.grants.iter().map(|g| ((g.plugin.to_string(), g.capability.to_string()), g.granted)).collect();
            prop_assert_eq!(&decisions, &model.decisions);
            let disabled: BTreeSet<String> = snap.disabled.keys().cloned().collect();
            prop_assert_eq!(&disabled, &model.disabled);
            prop_assert_eq!(snap.audits.len(), i + 1, "one audit record per operation");
            prop_assert_eq!(snap.audits[i].outcome == yoi_registry::Outcome::Ok, want);
        }
        prop_assert!(reg.verify().expect("verify").is_empty());
        }
    }
}
