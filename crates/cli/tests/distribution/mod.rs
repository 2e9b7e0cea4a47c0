//! Packages through a real OCI registry (Debian's docker-registry, started
//! by `cargo xtask e2e`), read back by tools from outside Yoi (ORAS's
//! Python client, Sigstore's verifier for JavaScript), signed and checked
//! against the trust policy at publish, activation and host load; and a
//! hostile stand-in registry for what a real one would never send.

mod hostile;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use super::support::example;

/// The test registry `cargo xtask e2e` started, or `None` (the test is
/// skipped) when run by hand without one.
fn registry() -> Option<(String, String, String)> {
    match (
        std::env::var("YOI_TEST_OCI"),
        std::env::var("YOI_TEST_OCI_USER"),
        std::env::var("YOI_TEST_OCI_PASSWORD"),
    ) {
        (Ok(a), Ok(u), Ok(p)) => Some((a, u, p)),
        _ if std::env::var_os("YOI_REQUIRE_OCI").is_some() => {
            panic!("YOI_REQUIRE_OCI is set but YOI_TEST_OCI is not")
        }
        _ => {
            eprintln!("skipped: no test OCI registry (run `cargo xtask e2e`)");
            None
        }
    }
}

/// A workspace: a registry folder, a Docker config, a current folder.
pub(super) struct Work {
    pub(super) dir: tempfile::TempDir,
}

impl Work {
    pub(super) fn new() -> Work {
        Work {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub(super) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(super) fn home(&self) -> PathBuf {
        self.path().join("registry")
    }

    /// `yoi ARGS` in this folder, with this registry and Docker config.
    pub(super) fn yoi(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_yoi"))
            .args(["--registry", self.home().to_str().expect("utf-8")])
            .args(args)
            .current_dir(self.path())
            .env("DOCKER_CONFIG", self.path().join("docker"))
            .env_remove("YOI_REGISTRY")
            .output()
            .expect("yoi runs")
    }

    /// `yoi ARGS`, which must succeed; its stdout.
    pub(super) fn ok(&self, args: &[&str]) -> String {
        let out = self.yoi(args);
        assert!(out.status.success(), "yoi {args:?}:\n{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `yoi ARGS`, which must fail (exit 1); stdout and stderr.
    pub(super) fn refused(&self, args: &[&str]) -> String {
        let out = self.yoi(args);
        assert_eq!(out.status.code(), Some(1), "yoi {args:?}:\n{}", text(&out));
        text(&out)
    }

    /// A copy of the guard example (manifest and component) at `name`,
    /// with `edit` applied to its manifest.
    pub(super) fn guard(&self, name: &str, edit: impl Fn(String) -> String) -> PathBuf {
        let dir = self.path().join(name);
        std::fs::create_dir_all(&dir).expect("package folder");
        let src = example("guard");
        std::fs::copy(src.join("guard.wasm"), dir.join("guard.wasm")).expect("component");
        let manifest = std::fs::read_to_string(src.join("plugin.toml")).expect("manifest");
        std::fs::write(dir.join("plugin.toml"), edit(manifest)).expect("manifest");
        dir
    }

    /// The published versions, as `yoi snapshot --json` shows them.
    pub(super) fn versions(&self) -> Vec<Value> {
        let snapshot: Value =
            serde_json::from_str(&self.ok(&["snapshot", "--json"])).expect("snapshot JSON");
        snapshot["versions"].as_array().cloned().unwrap_or_default()
    }
}

pub(super) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn guard_digest() -> String {
    let manifest = std::fs::read_to_string(example("guard").join("plugin.toml")).expect("manifest");
    let doc: toml::Table = manifest.parse().expect("toml");
    doc["runtime"]["digest"]
        .as_str()
        .expect("digest")
        .to_owned()
}

/// The manifest digest `yoi push` printed.
fn pushed_digest(out: &str) -> String {
    let start = out.find("(sha256:").expect("a digest in the output") + 1;
    out[start..start + 71].to_owned()
}

/// The tools from outside Yoi, as `cargo xtask e2e` installed them.
fn outside(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: run `cargo xtask e2e`"))
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/distribution")
        .join(name)
}

#[test]
#[ignore = "needs the example components and an OCI registry: run `cargo xtask e2e`"]
fn keygen_sign_push_trust_publish_activate_and_a_host_loads_it() {
    let Some((address, user, password)) = registry() else {
        return;
    };
    let work = Work::new();
    // Credentials from the Docker config, as `docker login` writes it.
    std::fs::create_dir_all(work.path().join("docker")).expect("docker folder");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::write(
        work.path().join("docker/config.json"),
        serde_json::json!({ "auths": { &address: { "auth": auth } } }).to_string(),
    )
    .expect("docker config");

    // keygen: a private key only its owner reads, and the public half.
    let out = work.ok(&["keygen", "acme"]);
    assert!(out.contains("key id: "), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(work.path().join("acme.key"))
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = work.refused(&["keygen", "acme"]);
    assert!(again.contains("Yoi never overwrites a key"), "{again}");

    // sign, push: the signature travels as a referrer.
    let pkg = work.guard("pkg", |m| m);
    let out = work.ok(&["sign", "pkg", "--key", "acme.key"]);
    assert!(out.contains("signed example.guard@0.1.0 with key"), "{out}");
    let reference = format!("oci://{address}/yoi/guard:0.1.0");
    let out = work.ok(&["push", "pkg", &reference]);
    assert!(out.contains("signed by key"), "{out}");
    let manifest_digest = pushed_digest(&out);

    // Read back by ORAS's Python client: the Wasm OCI layout, the component
    // byte for byte, the signature under the referrers tag.
    let pulled = work.path().join("pulled");
    let oras = Command::new(std::env::var("YOI_PYTHON").unwrap_or_else(|_| "python3".into()))
        .arg(script("oras_read.py"))
        .args([&address, "yoi/guard", "0.1.0", &user, &password])
        .arg(&pulled)
        .arg(&manifest_digest)
        .env("PYTHONPATH", outside("YOI_ORAS_PYTHONPATH"))
        .output()
        .expect("python runs");
    assert!(oras.status.success(), "oras:\n{}", text(&oras));
    let read: Value = serde_json::from_slice(&oras.stdout).expect("oras JSON");
    assert_eq!(read["config"], "application/vnd.wasm.config.v0+json");
    assert_eq!(read["layers"], serde_json::json!(["application/wasm"]));
    assert_eq!(read["files"]["guard.wasm"], guard_digest());
    assert_eq!(
        read["referrers"],
        serde_json::json!(["application/vnd.dev.sigstore.bundle.v0.3+json"])
    );
    let bundle = read["bundle"].as_str().expect("the bundle was read");
    assert_eq!(
        std::fs::read(bundle).expect("bundle"),
        std::fs::read(pkg.join("plugin.sigstore.json")).expect("signature file")
    );

    // Verified by Sigstore's own verifier with the author's public key.
    let verify = Command::new(outside("YOI_MCP_NODE"))
        .arg(script("sigstore_verify.js"))
        .arg(bundle)
        .arg(work.path().join("acme.pub"))
        .arg(guard_digest())
        .env("NODE_PATH", outside("YOI_SIGSTORE_NODE_PATH"))
        .output()
        .expect("node runs");
    assert!(
        verify.status.success(),
        "@sigstore/verify:\n{}",
        text(&verify)
    );
    let verified: Value = serde_json::from_slice(&verify.stdout).expect("verify JSON");
    assert_eq!(verified["verified"], true);
    assert_eq!(
        verified["predicateType"],
        "https://yoi.dev/attestations/package/v1"
    );
    // A changed byte is refused by the same verifier.
    let mut altered: Value =
        serde_json::from_str(&std::fs::read_to_string(bundle).expect("bundle")).expect("json");
    let sig = altered["dsseEnvelope"]["signatures"][0]["sig"]
        .as_str()
        .expect("sig")
        .to_owned();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    altered["dsseEnvelope"]["signatures"][0]["sig"] = format!("{flipped}{}", &sig[1..]).into();
    std::fs::write(work.path().join("altered.json"), altered.to_string()).expect("write");
    let refused = Command::new(outside("YOI_MCP_NODE"))
        .arg(script("sigstore_verify.js"))
        .arg(work.path().join("altered.json"))
        .arg(work.path().join("acme.pub"))
        .arg(guard_digest())
        .env("NODE_PATH", outside("YOI_SIGSTORE_NODE_PATH"))
        .output()
        .expect("node runs");
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("signature verification failed"),
        "{}",
        text(&refused)
    );

    // An unsigned 0.2.0 in the same repository, pushed before the policy.
    work.guard("unsigned", |m| {
        m.replace("version = \"0.1.0\"", "version = \"0.2.0\"")
    });
    let unsigned = format!("oci://{address}/yoi/guard:0.2.0");
    let out = work.ok(&["push", "unsigned", &unsigned]);
    assert!(out.contains(", unsigned"), "{out}");
    // And a version published unsigned from a folder before the policy.
    work.guard("early", |m| {
        m.replace("version = \"0.1.0\"", "version = \"0.0.9\"")
    });
    work.ok(&["publish", "early"]);

    // The operator trusts the author's key for example.* and requires it.
    let out = work.ok(&["trust", "add", "acme", "acme.pub", "--plugins", "example.*"]);
    assert!(out.contains("to sign example.* in scope all"), "{out}");
    work.ok(&["trust", "require"]);

    // Checkpoint 1, publish: unsigned is refused with its code and fix, and
    // nothing is stored.
    let refused = work.refused(&["publish", &unsigned]);
    assert!(
        refused.contains("R0117 example.guard@0.2.0: example.guard is not signed"),
        "{refused}"
    );
    assert!(refused.contains("fix: sign the package"), "{refused}");
    assert!(!work.versions().iter().any(|v| v["version"] == "0.2.0"));

    // Checkpoint 2, activation: the version published before the policy.
    let refused = work.refused(&["activate", "example.guard@0.0.9"]);
    assert!(refused.contains("R0117 example.guard@0.0.9"), "{refused}");

    // The signed package publishes from the registry, keeping where it came
    // from and who signed it, and activates.
    let out = work.ok(&["publish", &reference]);
    assert!(
        out.contains(&format!("pulled {reference} ({manifest_digest})")),
        "{out}"
    );
    assert!(out.contains("signer: acme ("), "{out}");
    let record = work
        .versions()
        .into_iter()
        .find(|v| v["version"] == "0.1.0")
        .expect("published");
    assert_eq!(
        record["provenance"]["source"]["reference"],
        reference.as_str()
    );
    assert_eq!(
        record["provenance"]["source"]["digest"],
        manifest_digest.as_str()
    );
    assert!(record["provenance"]["key_id"].as_str().is_some());
    // The snapshot shows each version's signer.
    let snapshot: Value =
        serde_json::from_str(&work.ok(&["snapshot", "--json"])).expect("snapshot JSON");
    assert_eq!(
        snapshot["signers"]["example.guard@0.1.0"]["kind"],
        "trusted"
    );
    assert_eq!(snapshot["signers"]["example.guard@0.1.0"]["name"], "acme");
    assert_eq!(
        snapshot["signers"]["example.guard@0.0.9"]["kind"],
        "unsigned"
    );
    let audit = work.ok(&["audit", "example.guard"]);
    assert!(
        audit.contains(&format!("from {reference} ({manifest_digest})")),
        "{audit}"
    );
    // By digest, it is the same version.
    let by_digest = format!("oci://{address}/yoi/guard@{manifest_digest}");
    let out = work.ok(&["publish", &by_digest]);
    assert!(out.contains("already published"), "{out}");
    work.ok(&["activate", "example.guard@0.1.0"]);
    let list = work.ok(&["trust", "list"]);
    assert!(list.contains("example.guard@0.1.0: acme ("), "{list}");

    // A host booted from the registry (a fleet host, following it) loads it.
    let host = super::support::Process(
        Command::new(env!("CARGO_BIN_EXE_yoi"))
            .args(["--registry", work.home().to_str().expect("utf-8")])
            .args(["host", "--name", "trusting", "--json"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("yoi host starts"),
    );
    let loaded = |want: Option<&str>| {
        let started = Instant::now();
        loop {
            let hosts: Value =
                serde_json::from_str(&work.ok(&["hosts", "--json"])).expect("hosts JSON");
            let now: Vec<String> = hosts["hosts"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|h| h["loaded"].as_array().cloned().unwrap_or_default())
                .map(|l| {
                    format!(
                        "{}@{}",
                        l["plugin"].as_str().unwrap_or_default(),
                        l["version"].as_str().unwrap_or_default()
                    )
                })
                .collect();
            if now.iter().map(String::as_str).eq(want) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "hosts load {now:?}, not {want:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    loaded(Some("example.guard@0.1.0"));

    // Checkpoint 3, host load: the key is no longer trusted; the running
    // host stops running the version at its next load, and records why.
    work.ok(&["trust", "remove", "acme"]);
    loaded(None);
    let events = work.ok(&["audit", "example.guard", "--json"]);
    assert!(
        events.contains("trust_refused") && events.contains("R0118"),
        "{events}"
    );
    drop(host);

    // `yoi outdated`: the newer tag, with what it changes.
    let outdated: Value =
        serde_json::from_str(&work.ok(&["outdated", "--json"])).expect("outdated JSON");
    let rows = outdated.as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{outdated:#}");
    assert_eq!(rows[0]["version"], "0.2.0");
    assert_eq!(rows[0]["reference"], unsigned.as_str());
    let text = work.ok(&["outdated"]);
    assert!(text.contains("example.guard 0.1.0 -> 0.2.0"), "{text}");
}
