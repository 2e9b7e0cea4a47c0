//! A large registry for benchmarks, written through the public store seam
//! in one transaction: `versions` versions (ten per plugin, the last of each
//! active), `audits` audit records and `events` runtime events. Shared by
//! the registry's benchmarks and the control plane's load test.

use std::path::Path;

use semver::Version;
use yoi_registry::{
    AuditRecord, EventRecord, Outcome, Rollout, SqliteStore, State, Store, VersionRecord,
};

/// A small manifest like the ones operators publish.
pub fn manifest_text(plugin: &str, version: &str, digest: &str) -> String {
    format!(
        "[plugin]\nid = \"{plugin}\"\nversion = \"{version}\"\ncontract = \"yoi:plugin@0.1.0\"\n\n\
         [runtime]\nkind = \"wasm-component\"\nartifact = \"p.wasm\"\ndigest = \"{digest}\"\n\n\
         [[hooks]]\npoint = \"tool.pre_exec\"\n"
    )
}

/// Seeds the registry database in `root` (which must hold no registry yet).
pub fn seed(root: &Path, versions: u64, audits: i64, events: i64) {
    let store = SqliteStore::open(&root.join(yoi_registry::DATABASE_FILE)).expect("store");
    seed_store(&store, versions, audits, events);
}

/// Seeds an empty store of either backend.
pub fn seed_store(store: &impl Store, versions: u64, audits: i64, events: i64) {
    store
        .write(|tx| {
            for i in 0..versions {
                let plugin = format!("plugin.{}", i / 10);
                let version = Version::new(1, 0, i % 10);
                let digest = format!("sha256:{:064x}", i);
                tx.insert_version(&VersionRecord {
                    manifest: manifest_text(&plugin, &version.to_string(), &digest),
                    plugin: yoi_manifest::PluginId::new(&plugin).expect("id"),
                    version,
                    digest: digest.parse().expect("digest"),
                    state: if i % 10 == 9 {
                        State::Active
                    } else {
                        State::Inactive
                    },
                    rollout: Rollout::default(),
                    published_at: 1,
                    published_by: "seed".into(),
                    updated_at: 1,
                    seq: 0,
                    provenance: Default::default(),
                })?;
            }
            for i in 0..audits {
                tx.append_audit(&AuditRecord {
                    id: 0,
                    at: i,
                    actor: "seed".into(),
                    action: "activate".into(),
                    plugin: Some(format!("plugin.{}", i % 1000)),
                    version: Some("1.0.9".into()),
                    outcome: Outcome::Ok,
                    reason: "active for scope all at 100%".into(),
                })?;
            }
            let batch: Vec<EventRecord> = (0..events)
                .map(|i| EventRecord {
                    host: None,
                    id: 0,
                    at: i,
                    kind: "receipt".into(),
                    plugin: format!("plugin.{}", i % 1000),
                    version: Some("1.0.9".into()),
                    detail: serde_json::json!({
                        "point": "tool.pre_exec", "status": "ok", "changed": false,
                        "detail": null, "duration_ms": 0.05, "subject": null,
                    }),
                })
                .collect();
            tx.append_events(&batch)?;
            Ok(())
        })
        .expect("seed");
}
