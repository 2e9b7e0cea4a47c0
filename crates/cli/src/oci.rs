//! Packages in OCI registries (docs/distribution.md): `yoi push`,
//! `yoi publish oci://`, `yoi outdated`.
//!
//! A package is an OCI image manifest in the layout of the CNCF Wasm OCI
//! artifact (config `application/vnd.wasm.config.v0+json`, one
//! `application/wasm` layer), which wkg, wasmCloud, Spin and ORAS read;
//! `plugin.toml` travels in the manifest's `dev.yoi.plugin.manifest`
//! annotation. A signature is an OCI referrer of the package's manifest
//! holding the Sigstore bundle (artifact type
//! `application/vnd.dev.sigstore.bundle.v0.3+json`, as cosign stores
//! bundles), found through the referrers API or, on registries without it,
//! the referrers tag schema (`sha256-<hex>`) of OCI distribution 1.1.
//!
//! `oci-client` (the ORAS project's Rust client) does what Yoi sends: the
//! registry's token handshake and blob and manifest uploads. What Yoi reads
//! from a registry it reads itself, through [`Remote::get`]: the client
//! reads manifests, tag lists and referrer indexes whole, without a limit,
//! and follows redirects to any host, and a registry is untrusted input.
//! Every read here is bounded before it is parsed, hashed while it streams,
//! and redirected only within the registry's own host unless the operator
//! names another (`--allow-redirect`).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use yoi_host::Host;
use yoi_manifest::{
    BUNDLE_MEDIA_TYPE, MAX_ARTIFACT_BYTES, MAX_SIGNATURE_BYTES, Package, PackageSignature,
};
use yoi_registry::OciSource;

/// How an OCI reference is written on Yoi's command line.
pub(crate) const SCHEME: &str = "oci://";
const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const WASM_CONFIG_TYPE: &str = "application/vnd.wasm.config.v0+json";
const WASM_LAYER_TYPE: &str = "application/wasm";
const EMPTY_TYPE: &str = "application/vnd.oci.empty.v1+json";
const EMPTY_JSON: &[u8] = b"{}";
/// The annotation holding `plugin.toml`'s text.
pub(crate) const MANIFEST_ANNOTATION: &str = "dev.yoi.plugin.manifest";
const TITLE: &str = "org.opencontainers.image.title";
/// Largest image manifest read: a 1 MiB plugin.toml, escaped, and room.
const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;
/// Largest referrer index or tag list read.
const MAX_LIST_BYTES: u64 = 1024 * 1024;
/// Most signature referrers looked at for one package.
const MAX_REFERRERS: usize = 16;

/// Whether a command-line argument names an OCI reference.
pub(crate) fn is_reference(text: &str) -> bool {
    text.starts_with(SCHEME)
}

/// Where a registry's credentials come from: never the command line.
#[derive(Debug, Clone, Default)]
pub(crate) struct Credentials {
    /// `--username`, with the password in `YOI_SECRET_<password_secret>`.
    pub(crate) username: Option<String>,
    /// The secret's name.
    pub(crate) password_secret: Option<String>,
}

/// A registry repository and the means to talk to it.
pub(crate) struct Remote {
    client: Client,
    http: reqwest::Client,
    auth: RegistryAuth,
    reference: Reference,
    text: String,
    base: String,
}

fn loopback(registry: &str) -> bool {
    let host = registry
        .strip_prefix('[')
        .and_then(|r| r.split(']').next())
        .unwrap_or_else(|| registry.split(':').next().unwrap_or(registry));
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The credentials for `registry`: `--username` with a secret, else the
/// user's Docker config (`$DOCKER_CONFIG/config.json` or
/// `~/.docker/config.json`: `auths`, `credHelpers`, `credsStore`), else
/// none.
fn credentials(registry: &str, given: &Credentials) -> Result<RegistryAuth> {
    if let Some(user) = &given.username {
        let Some(key) = &given.password_secret else {
            bail!(
                "--username needs --password-secret KEY, with the password in YOI_SECRET_KEY\n  fix: passwords are never taken on the command line"
            );
        };
        let var = format!("YOI_SECRET_{key}");
        let password = std::env::var(&var).map_err(|_| {
            anyhow!("the password secret {var} is not set\n  fix: export {var} (from your secret store) and try again")
        })?;
        return Ok(RegistryAuth::Basic(user.clone(), password));
    }
    if given.password_secret.is_some() {
        bail!("--password-secret needs --username");
    }
    docker_credentials(registry)
}

fn docker_credentials(registry: &str) -> Result<RegistryAuth> {
    let file = match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => std::path::PathBuf::from(dir).join("config.json"),
        None => match dirs::home_dir() {
            Some(home) => home.join(".docker/config.json"),
            None => return Ok(RegistryAuth::Anonymous),
        },
    };
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok(RegistryAuth::Anonymous);
    };
    let config: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", file.display()))?;
    let keys = [
        registry.to_owned(),
        format!("https://{registry}"),
        format!("http://{registry}"),
    ];
    let helper = keys
        .iter()
        .find_map(|k| config["credHelpers"][k].as_str())
        .or_else(|| config["credsStore"].as_str());
    if let Some(auth) = keys.iter().find_map(|k| config["auths"].get(k)) {
        if let Some(token) = auth["identitytoken"].as_str() {
            return Ok(RegistryAuth::Bearer(token.to_owned()));
        }
        if let Some(encoded) = auth["auth"].as_str() {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    anyhow!(
                        "{}: the auth for {registry} is not base64 of USER:PASSWORD",
                        file.display()
                    )
                })?;
            let (user, password) = decoded.split_once(':').ok_or_else(|| {
                anyhow!(
                    "{}: the auth for {registry} is not USER:PASSWORD",
                    file.display()
                )
            })?;
            return Ok(RegistryAuth::Basic(user.into(), password.into()));
        }
    }
    match helper {
        Some(helper) => credential_helper(helper, registry),
        None => Ok(RegistryAuth::Anonymous),
    }
}

/// Asks a Docker credential helper (`docker-credential-NAME get`).
fn credential_helper(helper: &str, registry: &str) -> Result<RegistryAuth> {
    use std::io::Write as _;
    let program = format!("docker-credential-{helper}");
    let mut child = std::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("running the Docker credential helper {program}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(registry.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        // The helper has nothing for this registry.
        return Ok(RegistryAuth::Anonymous);
    }
    let answer: Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("{program} answered with something other than JSON"))?;
    match (answer["Username"].as_str(), answer["Secret"].as_str()) {
        (Some("<token>"), Some(token)) => Ok(RegistryAuth::Bearer(token.into())),
        (Some(user), Some(secret)) => Ok(RegistryAuth::Basic(user.into(), secret.into())),
        _ => Ok(RegistryAuth::Anonymous),
    }
}

/// What a pull found.
pub(crate) struct Pulled {
    /// The package, opened and checked, with the registry's signature
    /// attached if it had one for it.
    pub(crate) package: Package,
    /// The reference and the manifest digest it resolved to.
    pub(crate) source: OciSource,
}

impl Remote {
    /// A repository from `oci://REGISTRY/REPO[:TAG|@sha256:…]`. Plain HTTP
    /// only to a loopback registry.
    pub(crate) fn new(
        text: &str,
        given: &Credentials,
        allow_redirect: &[String],
    ) -> Result<Remote> {
        let bare = text.strip_prefix(SCHEME).ok_or_else(|| {
            anyhow!("`{text}` is not an OCI reference\n  fix: write oci://REGISTRY/REPOSITORY:TAG, e.g. oci://ghcr.io/acme/redact:1.2.0")
        })?;
        let reference: Reference = bare.parse().map_err(|e| {
            anyhow!("`{text}` is not an OCI reference: {e}\n  fix: write oci://REGISTRY/REPOSITORY:TAG or oci://REGISTRY/REPOSITORY@sha256:DIGEST")
        })?;
        let registry = reference.resolve_registry().to_owned();
        let plain = loopback(&registry);
        let scheme = if plain { "http" } else { "https" };
        let protocol = if plain {
            oci_client::client::ClientProtocol::Http
        } else {
            oci_client::client::ClientProtocol::Https
        };
        let client = Client::new(oci_client::client::ClientConfig {
            protocol,
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(60)),
            ..Default::default()
        });
        let origin = registry.clone();
        let allowed: Vec<String> = allow_redirect.to_vec();
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            let to = attempt.url();
            let host = match (to.host_str(), to.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_owned(),
                _ => String::new(),
            };
            let bare_host = to.host_str().unwrap_or_default().to_owned();
            if attempt.previous().len() >= 5 {
                attempt.error("more than 5 redirects")
            } else if host == origin || allowed.iter().any(|a| *a == host || *a == bare_host) {
                attempt.follow()
            } else {
                attempt.error(format!(
                    "the registry redirected to {host}, another host; if you trust it to serve this registry's content, add --allow-redirect {bare_host}"
                ))
            }
        });
        let http = reqwest::Client::builder()
            .redirect(policy)
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .build()?;
        Ok(Remote {
            client,
            http,
            auth: credentials(&registry, given)?,
            base: format!("{scheme}://{registry}/v2/{}", reference.repository()),
            reference,
            text: text.to_owned(),
        })
    }

    /// The `Authorization` header for reads, after the registry's token
    /// handshake if it asks for one.
    async fn authorization(&self) -> Result<Option<HeaderValue>> {
        let value = match &self.auth {
            RegistryAuth::Bearer(token) => Some(format!("Bearer {token}")),
            auth => {
                let token = self
                    .client
                    .auth(&self.reference, auth, RegistryOperation::Pull)
                    .await
                    .map_err(|e| {
                        anyhow!(
                            "authenticating with {}: {e}",
                            self.reference.resolve_registry()
                        )
                    })?;
                match (token, auth) {
                    (Some(token), _) => Some(format!("Bearer {token}")),
                    (None, RegistryAuth::Basic(user, password)) => Some(format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD
                            .encode(format!("{user}:{password}"))
                    )),
                    _ => None,
                }
            }
        };
        value
            .map(|v| {
                HeaderValue::from_str(&v)
                    .map_err(|_| anyhow!("the registry token is not a valid header"))
            })
            .transpose()
    }

    /// Reads `path` under the repository, at most `limit` bytes, hashing
    /// as it reads. `None` when the registry has nothing there (404).
    async fn get(
        &self,
        auth: Option<&HeaderValue>,
        path: &str,
        accept: &str,
        limit: u64,
    ) -> Result<Option<Fetched>> {
        let url = format!("{}/{path}", self.base);
        let mut request = self.http.get(&url).header(ACCEPT, accept);
        if let Some(auth) = auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let mut response = request.send().await.map_err(|e| {
            let mut chain = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                chain = format!("{chain}: {s}");
                source = s.source();
            }
            anyhow!("reading {url}: {chain}")
        })?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            bail!(
                "{} refused access ({status}) to {url}\n  fix: log in with `docker login {}` (Yoi reads the Docker config), or pass --username with --password-secret",
                self.reference.resolve_registry(),
                self.reference.resolve_registry()
            );
        }
        if !status.is_success() {
            bail!("{url} answered {status}");
        }
        if response.content_length().is_some_and(|n| n > limit) {
            bail!("{url} is larger than the {limit} bytes Yoi reads for it");
        }
        let digest_header = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut bytes = Vec::new();
        let mut hasher = Sha256::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| anyhow!("reading {url}: {e}"))?
        {
            if bytes.len() as u64 + chunk.len() as u64 > limit {
                bail!("{url} sent more than the {limit} bytes Yoi reads for it; nothing was kept");
            }
            hasher.update(&chunk);
            bytes.extend_from_slice(&chunk);
        }
        Ok(Some(Fetched {
            digest: format!("sha256:{}", hex::encode(hasher.finalize())),
            bytes,
            digest_header,
        }))
    }

    /// The image manifest at `reference` (a tag or a digest), with its
    /// digest, checked: the bytes must hash to the digest asked for, and to
    /// the digest the registry says it sent.
    async fn manifest(
        &self,
        auth: Option<&HeaderValue>,
        reference: &str,
        limit: u64,
    ) -> Result<(Value, String)> {
        let fetched = self
            .get(auth, &format!("manifests/{reference}"), &format!("{MANIFEST_TYPE}, {INDEX_TYPE}"), limit)
            .await?
            .ok_or_else(|| anyhow!("{} has no manifest `{reference}`\n  fix: check the tag (`yoi outdated` lists the tags of active plugins)", self.text))?;
        if reference.starts_with("sha256:") && fetched.digest != reference {
            bail!(
                "the registry answered {reference} with a manifest whose digest is {}; refused, nothing was stored",
                fetched.digest
            );
        }
        if let Some(said) = &fetched.digest_header
            && *said != fetched.digest
        {
            bail!(
                "the registry says it sent {said} but the manifest's digest is {}; refused, nothing was stored",
                fetched.digest
            );
        }
        let value = serde_json::from_slice(&fetched.bytes)
            .map_err(|e| anyhow!("the manifest of {} is not JSON: {e}", self.text))?;
        Ok((value, fetched.digest))
    }

    /// A blob of known digest and size: not a byte more is read, and the
    /// bytes must hash to the digest.
    async fn blob(&self, auth: Option<&HeaderValue>, digest: &str, size: u64) -> Result<Vec<u8>> {
        let fetched = self
            .get(auth, &format!("blobs/{digest}"), "*/*", size)
            .await?
            .ok_or_else(|| anyhow!("{} lists blob {digest} but does not have it", self.text))?;
        if fetched.digest != digest {
            bail!(
                "blob {digest} from {} hashes to {}: it was altered; refused, nothing was stored",
                self.text,
                fetched.digest
            );
        }
        if fetched.bytes.len() as u64 != size {
            bail!(
                "blob {digest} is {} bytes, not the {size} its manifest says",
                fetched.bytes.len()
            );
        }
        Ok(fetched.bytes)
    }

    /// Pulls the package the reference names and checks it like a package
    /// folder; attaches the registry's signature for it, if any.
    pub(crate) async fn pull(&self) -> Result<Pulled> {
        let auth = self.authorization().await?;
        let auth = auth.as_ref();
        let wanted = self
            .reference
            .digest()
            .or(self.reference.tag())
            .unwrap_or("latest")
            .to_owned();
        let (manifest, digest) = self.manifest(auth, &wanted, MAX_MANIFEST_BYTES).await?;
        let not_yoi = |why: &str| {
            anyhow!(
                "{} is not a Yoi package: {why}\n  fix: push packages with `yoi push PACKAGE {}`",
                self.text,
                self.text
            )
        };
        if manifest["mediaType"].as_str() != Some(MANIFEST_TYPE) {
            return Err(not_yoi(&format!(
                "its manifest is `{}`, not an OCI image manifest",
                manifest["mediaType"]
            )));
        }
        if manifest["config"]["mediaType"].as_str() != Some(WASM_CONFIG_TYPE) {
            return Err(not_yoi(
                "its config is not a Wasm config (application/vnd.wasm.config.v0+json)",
            ));
        }
        let text = manifest["annotations"][MANIFEST_ANNOTATION]
            .as_str()
            .ok_or_else(|| {
                not_yoi("it carries no plugin.toml (annotation dev.yoi.plugin.manifest)")
            })?
            .to_owned();
        let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
        let [layer] = layers.as_slice() else {
            return Err(not_yoi(&format!(
                "it has {} layers; a Yoi package has one application/wasm layer",
                layers.len()
            )));
        };
        if layer["mediaType"].as_str() != Some(WASM_LAYER_TYPE) {
            return Err(not_yoi("its layer is not application/wasm"));
        }
        let layer_digest = layer["digest"].as_str().unwrap_or_default().to_owned();
        let size = layer["size"].as_u64().unwrap_or(u64::MAX);
        if size > MAX_ARTIFACT_BYTES {
            bail!(
                "{}: the component layer is {size} bytes; the limit is {MAX_ARTIFACT_BYTES}; refused, nothing was stored",
                self.text
            );
        }
        if !layer_digest.starts_with("sha256:") {
            return Err(not_yoi("its layer's digest is not sha256"));
        }
        let artifact = self.blob(auth, &layer_digest, size).await?;
        let package =
            Package::from_bytes(&self.text, &text, artifact, &Host::compat()).map_err(|d| {
                anyhow!(
                    "{}\n{} was not published: fix the problems above and push again",
                    d.render(false),
                    self.text
                )
            })?;
        let package = match self.signature_for(auth, &digest, &package).await? {
            Some(signature) => package.with_signature(signature).map_err(|d| {
                anyhow!("{}\nthe signature {} holds for {} is over another package; refused, nothing was stored", d.render(false), self.reference.resolve_registry(), self.text)
            })?,
            None => package,
        };
        Ok(Pulled {
            package,
            source: OciSource {
                reference: self.text.clone(),
                digest,
            },
        })
    }

    /// The signature referrers of `subject`: the referrers API, else the
    /// referrers tag schema.
    async fn referrers(&self, auth: Option<&HeaderValue>, subject: &str) -> Result<Vec<Value>> {
        let index = match self
            .get(
                auth,
                &format!("referrers/{subject}"),
                INDEX_TYPE,
                MAX_LIST_BYTES,
            )
            .await?
        {
            Some(fetched) => serde_json::from_slice::<Value>(&fetched.bytes).ok(),
            None => None,
        };
        let index = match index {
            Some(index) => Some(index),
            None => self
                .get(
                    auth,
                    &format!("manifests/{}", fallback_tag(subject)),
                    INDEX_TYPE,
                    MAX_LIST_BYTES,
                )
                .await?
                .and_then(|f| serde_json::from_slice::<Value>(&f.bytes).ok()),
        };
        Ok(index
            .and_then(|i| i["manifests"].as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter(|d| d["artifactType"].as_str() == Some(BUNDLE_MEDIA_TYPE))
            .take(MAX_REFERRERS)
            .collect())
    }

    /// The first signature referrer of `subject` that parses, preferring
    /// one over this package.
    async fn signature_for(
        &self,
        auth: Option<&HeaderValue>,
        subject: &str,
        package: &Package,
    ) -> Result<Option<PackageSignature>> {
        let mut found = None;
        for descriptor in self.referrers(auth, subject).await? {
            let Some(digest) = descriptor["digest"].as_str() else {
                continue;
            };
            let (manifest, _) = self.manifest(auth, digest, MAX_LIST_BYTES).await?;
            let Some(layer) = manifest["layers"].get(0) else {
                continue;
            };
            let size = layer["size"].as_u64().unwrap_or(u64::MAX);
            if size > MAX_SIGNATURE_BYTES as u64 {
                bail!(
                    "a signature referrer of {} is {size} bytes; a signature is at most {MAX_SIGNATURE_BYTES}; refused",
                    self.text
                );
            }
            let Some(layer_digest) = layer["digest"].as_str() else {
                continue;
            };
            let bytes = self.blob(auth, layer_digest, size).await?;
            let text = String::from_utf8(bytes)
                .map_err(|_| anyhow!("a signature of {} is not UTF-8", self.text))?;
            let signature = PackageSignature::parse(&text).map_err(|e| {
                anyhow!("error[E0305 signature-malformed]: the signature {} holds for {} is not usable: {e}\n  fix: sign the package again and push it", self.reference.resolve_registry(), self.text)
            })?;
            let m = package.manifest();
            if signature
                .covers(package.manifest_text(), &m.runtime.digest)
                .is_ok()
            {
                return Ok(Some(signature));
            }
            found.get_or_insert(signature);
        }
        Ok(found)
    }

    /// The repository's tags (one page of up to 1000).
    pub(crate) async fn tags(&self) -> Result<Vec<String>> {
        let auth = self.authorization().await?;
        let fetched = self
            .get(
                auth.as_ref(),
                "tags/list?n=1000",
                "application/json",
                MAX_LIST_BYTES,
            )
            .await?
            .ok_or_else(|| anyhow!("{} has no tags", self.text))?;
        let list: Value = serde_json::from_slice(&fetched.bytes)
            .map_err(|e| anyhow!("the tag list of {} is not JSON: {e}", self.text))?;
        Ok(list["tags"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `plugin.toml` of the package at `tag`, without its component.
    pub(crate) async fn manifest_text(&self, tag: &str) -> Result<(String, String)> {
        let auth = self.authorization().await?;
        let (manifest, digest) = self
            .manifest(auth.as_ref(), tag, MAX_MANIFEST_BYTES)
            .await?;
        let text = manifest["annotations"][MANIFEST_ANNOTATION]
            .as_str()
            .ok_or_else(|| anyhow!("{}:{tag} carries no plugin.toml", self.text))?;
        Ok((text.to_owned(), digest))
    }

    /// A reference to another tag of this repository, as written.
    pub(crate) fn with_tag(&self, tag: &str) -> String {
        format!(
            "{SCHEME}{}/{}:{tag}",
            self.reference.registry(),
            self.reference.repository()
        )
    }

    /// Pushes `package` (and its signature, if it has one) under the
    /// reference's tag; returns the manifest's digest.
    pub(crate) async fn push(&self, package: &Package) -> Result<String> {
        let registry = self.reference.resolve_registry().to_owned();
        let pushing = |e: oci_client::errors::OciDistributionError| {
            anyhow!(
                "pushing to {}: {e}\n  fix: check the address and that you may push there (`docker login {registry}`, or --username with --password-secret)",
                self.text
            )
        };
        self.client
            .auth(&self.reference, &self.auth, RegistryOperation::Push)
            .await
            .map_err(pushing)?;
        let m = package.manifest();
        let artifact = package.artifact();
        let artifact_digest = m.runtime.digest.to_string();
        let summary =
            yoi_manifest::summarize(artifact).map_err(|(_, why)| anyhow!("the component {why}"))?;
        let created = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let config = serde_json::to_vec(&json!({
            "created": created,
            "author": (!m.plugin.authors.is_empty()).then(|| m.plugin.authors.join(", ")),
            "architecture": "wasm",
            "os": "wasip2",
            "layerDigests": [artifact_digest],
            "component": { "exports": summary.exports, "imports": summary.imports, "target": null },
        }))?;
        let config_digest = sha256(&config);
        self.client
            .push_blob(&self.reference, &config, &config_digest)
            .await
            .map_err(pushing)?;
        self.client
            .push_blob(&self.reference, artifact, &artifact_digest)
            .await
            .map_err(pushing)?;
        let file = m
            .runtime
            .artifact
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| "plugin.wasm".into());
        let mut annotations = BTreeMap::new();
        annotations.insert(TITLE.to_owned(), m.plugin.id.to_string());
        annotations.insert(
            "org.opencontainers.image.version".to_owned(),
            m.plugin.version.to_string(),
        );
        annotations.insert("org.opencontainers.image.created".to_owned(), created);
        if let Some(d) = &m.plugin.description {
            annotations.insert("org.opencontainers.image.description".to_owned(), d.clone());
        }
        annotations.insert(
            MANIFEST_ANNOTATION.to_owned(),
            package.manifest_text().to_owned(),
        );
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": { "mediaType": WASM_CONFIG_TYPE, "digest": config_digest, "size": config.len() },
            "layers": [{
                "mediaType": WASM_LAYER_TYPE,
                "digest": artifact_digest,
                "size": artifact.len(),
                "annotations": { TITLE: file },
            }],
            "annotations": annotations,
        }))?;
        let digest = sha256(&manifest);
        let size = manifest.len();
        self.client
            .push_manifest_raw(
                &self.reference,
                manifest,
                HeaderValue::from_static(MANIFEST_TYPE),
            )
            .await
            .map_err(pushing)?;
        if let Some(signature) = package.signature() {
            self.push_signature(&digest, size, signature)
                .await
                .map_err(|e| {
                    anyhow!("the package was pushed as {digest}, but its signature was not: {e}")
                })?;
        }
        Ok(digest)
    }

    /// Pushes `signature` as a referrer of the manifest `subject`, and
    /// lists it under the referrers tag where the registry has no
    /// referrers API.
    async fn push_signature(
        &self,
        subject: &str,
        subject_size: usize,
        signature: &PackageSignature,
    ) -> Result<()> {
        let registry = self.reference.resolve_registry().to_owned();
        let repository = self.reference.repository().to_owned();
        let bundle = signature.text().as_bytes();
        let bundle_digest = sha256(bundle);
        self.client
            .push_blob(&self.reference, EMPTY_JSON, &sha256(EMPTY_JSON))
            .await?;
        self.client
            .push_blob(&self.reference, bundle, &bundle_digest)
            .await?;
        let annotations = json!({
            "dev.sigstore.bundle.content": "dsse-envelope",
            "dev.sigstore.bundle.predicateType": yoi_manifest::PREDICATE_TYPE,
            "org.opencontainers.image.created": signature.statement().signed_at,
        });
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "artifactType": BUNDLE_MEDIA_TYPE,
            "config": { "mediaType": EMPTY_TYPE, "digest": sha256(EMPTY_JSON), "size": EMPTY_JSON.len() },
            "layers": [{ "mediaType": BUNDLE_MEDIA_TYPE, "digest": bundle_digest, "size": bundle.len() }],
            "subject": { "mediaType": MANIFEST_TYPE, "digest": subject, "size": subject_size },
            "annotations": annotations,
        }))?;
        let digest = sha256(&manifest);
        let size = manifest.len();
        let at = Reference::with_digest(registry.clone(), repository.clone(), digest.clone());
        self.client
            .push_manifest_raw(&at, manifest, HeaderValue::from_static(MANIFEST_TYPE))
            .await?;
        // A registry with the referrers API lists it by its subject; the
        // others need the referrers tag (OCI distribution 1.1).
        let auth = self.authorization().await?;
        if self
            .get(
                auth.as_ref(),
                &format!("referrers/{subject}"),
                INDEX_TYPE,
                MAX_LIST_BYTES,
            )
            .await?
            .is_some()
        {
            return Ok(());
        }
        let tag = fallback_tag(subject);
        let mut index = self
            .get(
                auth.as_ref(),
                &format!("manifests/{tag}"),
                INDEX_TYPE,
                MAX_LIST_BYTES,
            )
            .await?
            .and_then(|f| serde_json::from_slice::<Value>(&f.bytes).ok())
            .unwrap_or_else(
                || json!({ "schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": [] }),
            );
        let entry = json!({
            "mediaType": MANIFEST_TYPE,
            "digest": digest,
            "size": size,
            "artifactType": BUNDLE_MEDIA_TYPE,
            "annotations": annotations,
        });
        if let Some(list) = index["manifests"].as_array_mut()
            && !list.iter().any(|d| d["digest"] == entry["digest"])
        {
            list.push(entry);
        }
        let at = Reference::with_tag(registry, repository, tag);
        self.client
            .push_manifest_raw(
                &at,
                serde_json::to_vec(&index)?,
                HeaderValue::from_static(INDEX_TYPE),
            )
            .await?;
        Ok(())
    }
}

/// The referrers tag of OCI distribution 1.1: `sha256-<hex>`.
fn fallback_tag(subject: &str) -> String {
    subject.replacen(':', "-", 1)
}

struct Fetched {
    bytes: Vec<u8>,
    digest: String,
    digest_header: Option<String>,
}

/// Runs `f` on a small runtime of its own: the CLI is synchronous.
pub(crate) fn block_on<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_registries_are_reached_over_plain_http() {
        for plain in [
            "127.0.0.1:5000",
            "localhost:5000",
            "[::1]:5000",
            "127.1.2.3",
        ] {
            assert!(loopback(plain), "{plain}");
        }
        for tls in [
            "ghcr.io",
            "10.0.0.1:5000",
            "localhost.example.com",
            "[fe80::1]:5000",
        ] {
            assert!(!loopback(tls), "{tls}");
        }
    }

    #[test]
    fn references_must_say_oci() {
        let none = Credentials::default();
        let e = Remote::new("ghcr.io/acme/x:1", &none, &[])
            .err()
            .expect("refused");
        assert!(
            e.to_string()
                .contains("write oci://REGISTRY/REPOSITORY:TAG"),
            "{e}"
        );
        let e = Remote::new("oci://ghcr.io/Acme X", &none, &[])
            .err()
            .expect("refused");
        assert!(e.to_string().contains("is not an OCI reference"), "{e}");
        assert_eq!(fallback_tag("sha256:ab"), "sha256-ab");
    }

    #[test]
    fn a_password_is_never_taken_from_the_command_line() {
        let given = Credentials {
            username: Some("u".into()),
            password_secret: None,
        };
        let e = credentials("r", &given).expect_err("refused");
        assert!(
            e.to_string().contains("never taken on the command line"),
            "{e}"
        );
        let given = Credentials {
            username: Some("u".into()),
            password_secret: Some("YOI_OCI_TEST_UNSET".into()),
        };
        let e = credentials("r", &given).expect_err("refused");
        assert!(
            e.to_string()
                .contains("YOI_SECRET_YOI_OCI_TEST_UNSET is not set"),
            "{e}"
        );
    }
}
