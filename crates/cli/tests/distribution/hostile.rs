//! What a hostile registry sends, from a stand-in on loopback: another
//! digest than asked, an altered or endless layer, a huge manifest, a
//! redirect to another host, a signature over another package or not a
//! signature at all. And signatures a real registry would carry but the
//! trust policy refuses: expired, by a key not trusted for the plugin.
//! Each is refused with a clear reason, and nothing is stored.

use std::io::{BufRead, BufReader, Read as _, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use serde_json::{Value, json};
use sha2::Digest as _;

use super::{Work, example};

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// What the stand-in answers one request with.
enum Answer {
    Bytes(&'static str, Vec<(String, String)>, Vec<u8>),
    /// A body that never ends.
    Endless,
    NotFound,
}

/// A registry stand-in on a free loopback port (plain HTTP, which Yoi
/// speaks only to loopback), answering each `GET /v2/<path>` with `route`.
fn stand_in(route: impl Fn(&str) -> Answer + Send + Sync + 'static) -> String {
    stand_in_at("127.0.0.1", route)
}

/// [`stand_in`] on another loopback address.
fn stand_in_at(ip: &str, route: impl Fn(&str) -> Answer + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind((ip, 0)).expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let route = Arc::new(route);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let route = Arc::clone(&route);
            std::thread::spawn(move || answer(stream, &*route));
        }
    });
    address
}

fn answer(mut stream: TcpStream, route: &dyn Fn(&str) -> Answer) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
    }
    let path = path.strip_prefix("/v2/").unwrap_or("");
    match route(path) {
        Answer::Bytes(status, headers, body) => {
            let mut head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
        Answer::NotFound => {
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
        Answer::Endless => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            let chunk = vec![b'x'; 64 * 1024];
            // Until the reader hangs up.
            while stream.write_all(&chunk).is_ok() {}
        }
    }
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
}

/// The guard package as a registry holds it: its manifest (with a layer
/// of `size`) and its component.
struct Guard {
    manifest: Vec<u8>,
    digest: String,
    component: Vec<u8>,
    layer: String,
}

fn guard(size: Option<u64>) -> Guard {
    let component = std::fs::read(example("guard").join("guard.wasm")).expect("component");
    let text = std::fs::read_to_string(example("guard").join("plugin.toml")).expect("manifest");
    let layer = sha256(&component);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.wasm.config.v0+json", "digest": sha256(b"{}"), "size": 2 },
        "layers": [{ "mediaType": "application/wasm", "digest": layer, "size": size.unwrap_or(component.len() as u64) }],
        "annotations": { "dev.yoi.plugin.manifest": text },
    }))
    .expect("json");
    Guard {
        digest: sha256(&manifest),
        manifest,
        component,
        layer,
    }
}

fn manifest_answer(bytes: &[u8], digest: &str) -> Answer {
    Answer::Bytes(
        "200 OK",
        vec![
            (
                "Content-Type".into(),
                "application/vnd.oci.image.manifest.v1+json".into(),
            ),
            ("Docker-Content-Digest".into(), digest.into()),
        ],
        bytes.to_vec(),
    )
}

/// A referrers index naming one bundle manifest, and that manifest.
fn referrer(bundle: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let bundle_type = "application/vnd.dev.sigstore.bundle.v0.3+json";
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": bundle_type,
        "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256(b"{}"), "size": 2 },
        "layers": [{ "mediaType": bundle_type, "digest": sha256(bundle), "size": bundle.len() }],
    }))
    .expect("json");
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{ "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha256(&manifest), "size": manifest.len(), "artifactType": bundle_type }],
    }))
    .expect("json");
    (index, manifest)
}

/// `yoi publish oci://ADDRESS/acme/guard:1` must fail with `expect`,
/// store nothing, and audit the refusal.
fn refused(work: &Work, address: &str, reference_tail: &str, expect: &str, extra: &[&str]) {
    let reference = format!("oci://{address}/acme/guard{reference_tail}");
    let mut args = vec!["publish", reference.as_str()];
    args.extend_from_slice(extra);
    let out = work.refused(&args);
    assert!(
        out.contains(expect),
        "{reference}: expected `{expect}` in:\n{out}"
    );
    assert!(work.versions().is_empty(), "{reference}: nothing is stored");
    let audit = work.ok(&["audit"]);
    assert!(
        audit.lines().last().is_some_and(|l| l.contains("REFUSED")),
        "{audit}"
    );
}

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn a_hostile_registry_is_refused_and_nothing_is_stored() {
    let work = Work::new();
    let g = Arc::new(guard(None));

    // Another digest than asked.
    let other = g.clone_with_manifest(b"{\"schemaVersion\":2}".to_vec());
    let address = stand_in(move |path| match path {
        p if p.starts_with("acme/guard/manifests/") => {
            manifest_answer(&other.manifest, &other.digest)
        }
        _ => Answer::NotFound,
    });
    refused(
        &work,
        &address,
        &format!("@{}", g.digest),
        &format!("answered {} with a manifest whose digest is", g.digest),
        &[],
    );

    // A tag answered with bytes that are not the digest the registry says.
    let liar = Arc::clone(&g);
    let address = stand_in(move |path| match path {
        "acme/guard/manifests/1" => manifest_answer(&liar.manifest, &sha256(b"something else")),
        _ => Answer::NotFound,
    });
    refused(&work, &address, ":1", "the registry says it sent", &[]);

    // An altered layer: the bytes do not hash to the layer's digest.
    let altered = Arc::clone(&g);
    let address = stand_in(move |path| match path {
        "acme/guard/manifests/1" => manifest_answer(&altered.manifest, &altered.digest),
        p if p.starts_with("acme/guard/blobs/") => {
            let mut bytes = altered.component.clone();
            bytes[100] ^= 1;
            Answer::Bytes("200 OK", vec![], bytes)
        }
        _ => Answer::NotFound,
    });
    refused(
        &work,
        &address,
        ":1",
        "it was altered; refused, nothing was stored",
        &[],
    );

    // A layer that never ends, and a manifest that never ends.
    let endless = Arc::clone(&g);
    let address = stand_in(move |path| match path {
        "acme/guard/manifests/1" => manifest_answer(&endless.manifest, &endless.digest),
        "acme/guard/manifests/2" => Answer::Endless,
        p if p.starts_with("acme/guard/blobs/") => Answer::Endless,
        _ => Answer::NotFound,
    });
    refused(
        &work,
        &address,
        ":1",
        &format!("sent more than the {} bytes", g.component.len()),
        &[],
    );
    refused(
        &work,
        &address,
        ":2",
        "sent more than the 4194304 bytes",
        &[],
    );

    // A layer declared far past the artifact limit is not fetched at all.
    let huge = Arc::new(guard(Some(10 * 1024 * 1024 * 1024)));
    let address = stand_in(move |path| match path {
        "acme/guard/manifests/1" => manifest_answer(&huge.manifest, &huge.digest),
        _ => Answer::Endless,
    });
    refused(
        &work,
        &address,
        ":1",
        "the component layer is 10737418240 bytes; the limit is",
        &[],
    );

    // A redirect to another host (127.0.0.2 is not 127.0.0.1), unless the
    // operator names it.
    let elsewhere = stand_in_at("127.0.0.2", {
        let g = Arc::clone(&g);
        move |path| match path {
            p if p.starts_with("acme/guard/blobs/") => {
                Answer::Bytes("200 OK", vec![], g.component.clone())
            }
            _ => Answer::NotFound,
        }
    });
    let port = elsewhere.rsplit(':').next().expect("port").to_owned();
    let redirecting = Arc::clone(&g);
    let target = port.clone();
    let address = stand_in(move |path| match path {
        "acme/guard/manifests/1" => manifest_answer(&redirecting.manifest, &redirecting.digest),
        p if p.starts_with("acme/guard/blobs/") => Answer::Bytes(
            "307 Temporary Redirect",
            vec![(
                "Location".into(),
                format!("http://127.0.0.2:{target}/v2/{p}"),
            )],
            Vec::new(),
        ),
        _ => Answer::NotFound,
    });
    refused(
        &work,
        &address,
        ":1",
        &format!(
            "the registry redirected to 127.0.0.2:{port}, another host; if you trust it to serve this registry's content, add --allow-redirect 127.0.0.2"
        ),
        &[],
    );
    // Named by the operator, the same redirect is followed (and the bytes
    // still checked against the digest).
    let out = work.ok(&[
        "publish",
        &format!("oci://{address}/acme/guard:1"),
        "--allow-redirect",
        "127.0.0.2",
    ]);
    assert!(out.contains("published example.guard@0.1.0"), "{out}");
    work.ok(&["clear", "--yes"]);

    // A signature over another package, and one that is not a signature.
    work.ok(&["keygen", "acme"]);
    let other_pkg = work.guard("other", |m| {
        m.replace("version = \"0.1.0\"", "version = \"9.0.0\"")
    });
    work.ok(&[
        "sign",
        other_pkg.to_str().expect("utf-8"),
        "--key",
        "acme.key",
    ]);
    let foreign = std::fs::read(other_pkg.join("plugin.sigstore.json")).expect("bundle");
    for (bundle, expect) in [
        (foreign, "E0306 signature-mismatch"),
        (
            b"{\"mediaType\": \"nope\"}".to_vec(),
            "E0305 signature-malformed",
        ),
    ] {
        let (index, sig_manifest) = referrer(&bundle);
        let g2 = Arc::clone(&g);
        let fallback = format!("acme/guard/manifests/{}", g.digest.replacen(':', "-", 1));
        let sig_path = format!("acme/guard/manifests/{}", sha256(&sig_manifest));
        let bundle_path = format!("acme/guard/blobs/{}", sha256(&bundle));
        let address = stand_in(move |path| match path {
            "acme/guard/manifests/1" => manifest_answer(&g2.manifest, &g2.digest),
            p if p == format!("acme/guard/blobs/{}", g2.layer) => {
                Answer::Bytes("200 OK", vec![], g2.component.clone())
            }
            p if p == fallback => Answer::Bytes("200 OK", vec![], index.clone()),
            p if p == sig_path => manifest_answer(&sig_manifest, &sha256(&sig_manifest)),
            p if p == bundle_path => Answer::Bytes("200 OK", vec![], bundle.clone()),
            _ => Answer::NotFound,
        });
        refused(&work, &address, ":1", expect, &[]);
    }

    // Signed packages the trust policy refuses: an expired signature, and
    // a key trusted only for other plugins.
    work.ok(&["trust", "add", "acme", "acme.pub", "--plugins", "acme.*"]);
    work.ok(&["trust", "require"]);
    let pkg = work.guard("pkg", |m| m);
    work.ok(&["sign", "pkg", "--key", "acme.key"]);
    let out = work.refused(&["publish", "pkg"]);
    assert!(out.contains("R0118 example.guard@0.1.0: example.guard is signed by `acme`, which may sign only acme.* in scope all"), "{out}");
    work.ok(&["trust", "remove", "acme"]);
    work.ok(&["trust", "add", "acme", "acme.pub", "--plugins", "example.*"]);
    work.ok(&[
        "sign",
        pkg.to_str().expect("utf-8"),
        "--key",
        "acme.key",
        "--expires-in",
        "0",
    ]);
    let out = work.refused(&["publish", "pkg"]);
    assert!(
        out.contains("R0119 example.guard@0.1.0: the signature expired at"),
        "{out}"
    );
    // A package changed after it was signed.
    work.ok(&["sign", "pkg", "--key", "acme.key"]);
    let manifest = std::fs::read_to_string(pkg.join("plugin.toml")).expect("manifest");
    std::fs::write(
        pkg.join("plugin.toml"),
        manifest.replace("priority = 100", "priority = 99"),
    )
    .expect("edit");
    let out = work.refused(&["publish", "pkg"]);
    assert!(out.contains("E0306 signature-mismatch"), "{out}");
    assert!(work.versions().is_empty());
    // Signed again, it publishes.
    work.ok(&["sign", "pkg", "--key", "acme.key"]);
    let out = work.ok(&["publish", "pkg"]);
    assert!(out.contains("signer: acme ("), "{out}");
    let _: Value = serde_json::from_str(&work.ok(&["trust", "list", "--json"])).expect("json");
}

impl Guard {
    fn clone_with_manifest(&self, manifest: Vec<u8>) -> Guard {
        Guard {
            digest: sha256(&manifest),
            manifest,
            component: self.component.clone(),
            layer: self.layer.clone(),
        }
    }
}
