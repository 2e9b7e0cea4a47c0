//! Package signatures (docs/distribution.md, "Signatures").
//!
//! A signature is a Sigstore bundle (v0.3) holding a DSSE envelope over an
//! in-toto statement. The statement's subjects are `plugin.toml` and the
//! artifact, each by its sha256; its predicate names the plugin and
//! version and may carry an expiry. The envelope is signed with an ed25519
//! key the author made with `yoi keygen`; the bundle names the key by a
//! hint (the sha256 of its SubjectPublicKeyInfo), never carries it.
//!
//! This is the format Sigstore's own verifiers read (`@sigstore/verify`
//! checks a Yoi bundle in the end-to-end tests), and the one cosign stores
//! as an OCI referrer, so the signature travels the same way in a `.yoi`
//! archive (`plugin.sigstore.json`) and in a registry.
//!
//! Keyless signing (a Fulcio certificate and a Rekor entry instead of a
//! key) needs Sigstore's public services. A bundle holding a certificate is
//! recognised ([`Material::Certificate`]) and refused with its own reason:
//! that variant is where a keyless verifier would plug in.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::digest::Digest;

/// The signature's file name inside a package folder or `.yoi` archive.
pub const SIGNATURE_FILE: &str = "plugin.sigstore.json";
/// The Sigstore bundle media type Yoi writes (and the OCI artifact type of
/// a signature referrer).
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The DSSE payload type: an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The in-toto statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The predicate type of a Yoi package signature.
pub const PREDICATE_TYPE: &str = "https://yoi.dev/attestations/package/v1";
/// Largest signature read, in bytes. A Yoi bundle is about 1.5 KiB.
pub const MAX_SIGNATURE_BYTES: usize = 64 * 1024;

const PRIVATE_PEM: &str = "PRIVATE KEY";
const PUBLIC_PEM: &str = "PUBLIC KEY";
/// DER of an ed25519 SubjectPublicKeyInfo before the 32 key bytes
/// (RFC 8410).
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Why a key or a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// A key file is not an ed25519 key in PEM.
    #[error("{0}")]
    Key(String),
    /// The bytes are not a Yoi signature bundle.
    #[error("{0}")]
    Malformed(String),
    /// The bundle is keyless (a Fulcio certificate), which this build
    /// cannot verify.
    #[error(
        "the signature is keyless (a Sigstore certificate): this build verifies only signatures made with a key (`yoi sign --key`)"
    )]
    Keyless,
    /// The statement signs another package.
    #[error("the signature is for {what} {signed}, but this package has {actual}")]
    OtherPackage {
        /// What differs: `plugin.toml` or the artifact.
        what: &'static str,
        /// What the signature names.
        signed: String,
        /// What the package holds.
        actual: String,
    },
    /// The signature does not verify with the key (named by the first 16
    /// digits of its id).
    #[error(
        "the signature does not verify with key {key_id}: the package or the signature was altered, or another key signed it"
    )]
    BadSignature {
        /// The key tried.
        key_id: String,
    },
    /// The statement's expiry has passed.
    #[error("the signature expired at {at}")]
    Expired {
        /// When, RFC 3339.
        at: String,
    },
}

/// An ed25519 signing key, read from or written to PKCS#8 PEM
/// (`NAME.key` from `yoi keygen`).
pub struct SigningKey {
    pair: Ed25519KeyPair,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.public().key_id())
    }
}

impl SigningKey {
    /// A new random key.
    pub fn generate() -> Result<SigningKey, SigningError> {
        let rng = ring::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| SigningError::Key("the system's random source failed".into()))?;
        SigningKey::from_pkcs8(doc.as_ref())
    }

    fn from_pkcs8(der: &[u8]) -> Result<SigningKey, SigningError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|_| SigningError::Key("is not an ed25519 private key (PKCS#8)".into()))?;
        Ok(SigningKey {
            pair,
            pkcs8: der.to_vec(),
        })
    }

    /// Reads a `-----BEGIN PRIVATE KEY-----` PEM.
    pub fn from_pem(text: &str) -> Result<SigningKey, SigningError> {
        SigningKey::from_pkcs8(&pem_decode(text, PRIVATE_PEM)?)
    }

    /// The key as PKCS#8 PEM.
    pub fn to_pem(&self) -> String {
        pem_encode(PRIVATE_PEM, &self.pkcs8)
    }

    /// Its public half.
    pub fn public(&self) -> PublicKey {
        let mut raw = [0u8; 32];
        raw.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey { raw }
    }
}

/// An ed25519 public key, read from or written to SubjectPublicKeyInfo PEM
/// (`NAME.pub`), the form OpenSSL, Node and Sigstore's tools read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    raw: [u8; 32],
}

impl PublicKey {
    /// Reads a `-----BEGIN PUBLIC KEY-----` PEM holding an ed25519 key.
    pub fn from_pem(text: &str) -> Result<PublicKey, SigningError> {
        let der = pem_decode(text, PUBLIC_PEM)?;
        match der.strip_prefix(&SPKI_PREFIX[..]) {
            Some(raw) if raw.len() == 32 => {
                let mut key = [0u8; 32];
                key.copy_from_slice(raw);
                Ok(PublicKey { raw: key })
            }
            _ => Err(SigningError::Key(
                "is not an ed25519 public key (only ed25519 keys from `yoi keygen` or `openssl genpkey -algorithm ed25519` are accepted)".into(),
            )),
        }
    }

    fn spki(&self) -> Vec<u8> {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.raw);
        der
    }

    /// The key as SubjectPublicKeyInfo PEM.
    pub fn to_pem(&self) -> String {
        pem_encode(PUBLIC_PEM, &self.spki())
    }

    /// The key's id: the lowercase hex sha256 of its SubjectPublicKeyInfo
    /// DER, as a bundle's `publicKey.hint` names it.
    pub fn key_id(&self) -> String {
        hex::encode(Sha256::digest(self.spki()))
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, self.raw)
            .verify(message, signature)
            .is_ok()
    }
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn pem_decode(text: &str, label: &str) -> Result<Vec<u8>, SigningError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = text
        .trim()
        .strip_prefix(&begin)
        .and_then(|rest| rest.trim_end().strip_suffix(&end))
        .ok_or_else(|| SigningError::Key(format!("is not a PEM file starting with `{begin}`")))?;
    let compact: String = body.split_whitespace().collect();
    B64.decode(compact)
        .map_err(|_| SigningError::Key("holds PEM whose body is not base64".into()))
}

/// Where a bundle's verification material points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Material {
    /// A key, named by its id; the verifier holds the key.
    PublicKey {
        /// The key id ([`PublicKey::key_id`]).
        hint: String,
    },
    /// A keyless signature's certificate (DER). Not verified by this
    /// build: the seam for a Sigstore trust root (docs/distribution.md).
    Certificate(Vec<u8>),
}

/// What a signature says about the package it signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The plugin id signed.
    pub plugin: String,
    /// The version signed.
    pub version: String,
    /// The sha256 of `plugin.toml`'s text.
    pub manifest: Digest,
    /// The artifact's digest.
    pub artifact: Digest,
    /// When it was signed, RFC 3339.
    pub signed_at: String,
    /// When it stops being valid, RFC 3339.
    pub expires_at: Option<String>,
}

/// A parsed package signature: the bundle's text as it travels, and what
/// it claims. Holding one says nothing about trust until
/// [`PackageSignature::verify`] succeeds with a trusted key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSignature {
    text: String,
    material: Material,
    pae: Vec<u8>,
    sig: Vec<u8>,
    statement: Statement,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bundle {
    media_type: String,
    verification_material: VerificationMaterial,
    dsse_envelope: Option<Envelope>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerificationMaterial {
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key: Option<Hint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate: Option<RawBytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    x509_certificate_chain: Option<serde_json::Value>,
    #[serde(default)]
    tlog_entries: Vec<serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
struct Hint {
    hint: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBytes {
    raw_bytes: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    payload: String,
    payload_type: String,
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Serialize, Deserialize)]
struct EnvelopeSignature {
    sig: String,
    #[serde(default)]
    keyid: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InTotoStatement {
    #[serde(rename = "_type")]
    kind: String,
    subject: Vec<Subject>,
    predicate_type: String,
    predicate: Predicate,
}

#[derive(Serialize, Deserialize)]
struct Subject {
    name: String,
    digest: std::collections::BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Predicate {
    plugin: String,
    version: String,
    signed_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
}

/// DSSE's pre-authentication encoding: what the key actually signs.
fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

/// The subject name `plugin.toml` is signed under.
const MANIFEST_SUBJECT: &str = crate::manifest::MANIFEST_FILE;

impl PackageSignature {
    /// Signs a package: `manifest_text` (its `plugin.toml`) and the
    /// artifact digest it pins, for `plugin`@`version`. `valid_for` sets an
    /// expiry from now.
    pub fn sign(
        manifest_text: &str,
        artifact_name: &str,
        artifact: &Digest,
        plugin: &str,
        version: &str,
        key: &SigningKey,
        valid_for: Option<Duration>,
    ) -> PackageSignature {
        let now = SystemTime::now();
        let statement = InTotoStatement {
            kind: STATEMENT_TYPE.into(),
            subject: vec![
                subject(MANIFEST_SUBJECT, &Digest::of(manifest_text.as_bytes())),
                subject(artifact_name, artifact),
            ],
            predicate_type: PREDICATE_TYPE.into(),
            predicate: Predicate {
                plugin: plugin.into(),
                version: version.into(),
                signed_at: rfc3339(now),
                expires_at: valid_for.map(|d| rfc3339(now + d)),
            },
        };
        // Serialising plain structs of strings cannot fail.
        let payload = serde_json::to_vec(&statement).unwrap_or_default();
        let key_id = key.public().key_id();
        let sig = key.pair.sign(&pae(PAYLOAD_TYPE, &payload));
        let bundle = Bundle {
            media_type: BUNDLE_MEDIA_TYPE.into(),
            verification_material: VerificationMaterial {
                public_key: Some(Hint {
                    hint: key_id.clone(),
                }),
                certificate: None,
                x509_certificate_chain: None,
                tlog_entries: Vec::new(),
            },
            dsse_envelope: Some(Envelope {
                payload: B64.encode(&payload),
                payload_type: PAYLOAD_TYPE.into(),
                signatures: vec![EnvelopeSignature {
                    sig: B64.encode(sig.as_ref()),
                    keyid: String::new(),
                }],
            }),
        };
        let text = serde_json::to_string_pretty(&bundle).unwrap_or_default() + "\n";
        PackageSignature {
            text,
            material: Material::PublicKey { hint: key_id },
            pae: pae(PAYLOAD_TYPE, &payload),
            sig: sig.as_ref().to_vec(),
            statement: Statement {
                plugin: plugin.into(),
                version: version.into(),
                manifest: Digest::of(manifest_text.as_bytes()),
                artifact: *artifact,
                signed_at: statement.predicate.signed_at,
                expires_at: statement.predicate.expires_at,
            },
        }
    }

    /// Parses a bundle. Its size is checked before anything is decoded.
    pub fn parse(text: &str) -> Result<PackageSignature, SigningError> {
        let bad = |why: String| SigningError::Malformed(why);
        if text.len() > MAX_SIGNATURE_BYTES {
            return Err(bad(format!(
                "the signature is {} bytes; a signature is at most {MAX_SIGNATURE_BYTES}",
                text.len()
            )));
        }
        let bundle: Bundle = serde_json::from_str(text)
            .map_err(|e| bad(format!("the signature is not a Sigstore bundle: {e}")))?;
        if bundle.media_type != BUNDLE_MEDIA_TYPE {
            return Err(bad(format!(
                "the bundle's mediaType is `{}`; Yoi reads `{BUNDLE_MEDIA_TYPE}`",
                bundle.media_type
            )));
        }
        let vm = &bundle.verification_material;
        let material = match (&vm.public_key, &vm.certificate, &vm.x509_certificate_chain) {
            (Some(key), None, None) => Material::PublicKey {
                hint: key.hint.clone(),
            },
            (None, Some(cert), None) => Material::Certificate(
                B64.decode(&cert.raw_bytes)
                    .map_err(|_| bad("the bundle's certificate is not base64".into()))?,
            ),
            (None, None, Some(_)) => Material::Certificate(Vec::new()),
            _ => {
                return Err(bad(
                    "the bundle must name exactly one of publicKey or certificate".into(),
                ));
            }
        };
        if matches!(material, Material::Certificate(_)) {
            return Err(SigningError::Keyless);
        }
        let envelope = bundle
            .dsse_envelope
            .ok_or_else(|| bad("the bundle holds no dsseEnvelope".into()))?;
        if envelope.payload_type != PAYLOAD_TYPE {
            return Err(bad(format!(
                "the envelope's payloadType is `{}`; Yoi signs `{PAYLOAD_TYPE}`",
                envelope.payload_type
            )));
        }
        let [signature] = envelope.signatures.as_slice() else {
            return Err(bad(format!(
                "the envelope holds {} signatures; a Yoi signature holds exactly one",
                envelope.signatures.len()
            )));
        };
        let sig = B64
            .decode(&signature.sig)
            .map_err(|_| bad("the envelope's signature is not base64".into()))?;
        let payload = B64
            .decode(&envelope.payload)
            .map_err(|_| bad("the envelope's payload is not base64".into()))?;
        let statement: InTotoStatement = serde_json::from_slice(&payload).map_err(|e| {
            bad(format!(
                "the signed payload is not an in-toto statement: {e}"
            ))
        })?;
        if statement.kind != STATEMENT_TYPE || statement.predicate_type != PREDICATE_TYPE {
            return Err(bad(format!(
                "the statement is `{}` with predicate `{}`; a Yoi signature is `{STATEMENT_TYPE}` with `{PREDICATE_TYPE}`",
                statement.kind, statement.predicate_type
            )));
        }
        let digest_of = |s: &Subject| -> Result<Digest, SigningError> {
            let hex = s
                .digest
                .get("sha256")
                .ok_or_else(|| bad(format!("subject `{}` has no sha256 digest", s.name)))?;
            format!("sha256:{hex}")
                .parse()
                .map_err(|_| bad(format!("subject `{}` has a malformed sha256", s.name)))
        };
        let [manifest, artifact] = statement.subject.as_slice() else {
            return Err(bad(format!(
                "the statement names {} subjects; a Yoi signature names plugin.toml and the artifact",
                statement.subject.len()
            )));
        };
        if manifest.name != MANIFEST_SUBJECT {
            return Err(bad(format!(
                "the first subject is `{}`; a Yoi signature names `{MANIFEST_SUBJECT}` first",
                manifest.name
            )));
        }
        for at in std::iter::once(&statement.predicate.signed_at)
            .chain(statement.predicate.expires_at.as_ref())
        {
            humantime::parse_rfc3339(at)
                .map_err(|_| bad(format!("`{at}` is not an RFC 3339 time")))?;
        }
        Ok(PackageSignature {
            text: text.to_owned(),
            material,
            pae: pae(&envelope.payload_type, &payload),
            sig,
            statement: Statement {
                plugin: statement.predicate.plugin,
                version: statement.predicate.version,
                manifest: digest_of(manifest)?,
                artifact: digest_of(artifact)?,
                signed_at: statement.predicate.signed_at,
                expires_at: statement.predicate.expires_at,
            },
        })
    }

    /// The bundle as it travels (JSON).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// What the bundle's key material points at.
    pub fn material(&self) -> &Material {
        &self.material
    }

    /// The id of the key that signed it.
    pub fn key_id(&self) -> &str {
        match &self.material {
            Material::PublicKey { hint } => hint,
            Material::Certificate(_) => "",
        }
    }

    /// What the signature claims.
    pub fn statement(&self) -> &Statement {
        &self.statement
    }

    /// Checks that the signature is for this `plugin.toml` text and
    /// artifact digest.
    pub fn covers(&self, manifest_text: &str, artifact: &Digest) -> Result<(), SigningError> {
        let manifest = Digest::of(manifest_text.as_bytes());
        if manifest != self.statement.manifest {
            return Err(SigningError::OtherPackage {
                what: "plugin.toml",
                signed: self.statement.manifest.to_string(),
                actual: manifest.to_string(),
            });
        }
        if *artifact != self.statement.artifact {
            return Err(SigningError::OtherPackage {
                what: "the artifact",
                signed: self.statement.artifact.to_string(),
                actual: artifact.to_string(),
            });
        }
        Ok(())
    }

    /// Verifies the signature with `key` and checks its expiry against
    /// `now`.
    pub fn verify(&self, key: &PublicKey, now: SystemTime) -> Result<(), SigningError> {
        if !key.verify(&self.pae, &self.sig) {
            return Err(SigningError::BadSignature {
                key_id: key.key_id().chars().take(16).collect(),
            });
        }
        if let Some(at) = &self.statement.expires_at
            && humantime::parse_rfc3339(at).is_ok_and(|end| end <= now)
        {
            return Err(SigningError::Expired { at: at.clone() });
        }
        Ok(())
    }
}

fn subject(name: &str, digest: &Digest) -> Subject {
    Subject {
        name: name.into(),
        digest: [("sha256".to_owned(), digest.hex())].into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "[plugin]\nid = \"acme.x\"\n";

    fn signed(key: &SigningKey, valid_for: Option<Duration>) -> PackageSignature {
        PackageSignature::sign(
            MANIFEST,
            "x.wasm",
            &Digest::of(b"wasm"),
            "acme.x",
            "1.0.0",
            key,
            valid_for,
        )
    }

    #[test]
    fn a_signature_verifies_with_its_key_only() {
        let key = SigningKey::generate().expect("key");
        let other = SigningKey::generate().expect("key");
        let sig = signed(&key, None);
        assert_eq!(sig.key_id(), key.public().key_id());
        sig.verify(&key.public(), SystemTime::now())
            .expect("verifies");
        assert!(matches!(
            sig.verify(&other.public(), SystemTime::now()),
            Err(SigningError::BadSignature { .. })
        ));
        sig.covers(MANIFEST, &Digest::of(b"wasm")).expect("covers");
        let again = PackageSignature::parse(sig.text()).expect("parses");
        assert_eq!(again, sig);
    }

    #[test]
    fn keys_round_trip_through_pem() {
        let key = SigningKey::generate().expect("key");
        let back = SigningKey::from_pem(&key.to_pem()).expect("private pem");
        assert_eq!(back.public(), key.public());
        let public = PublicKey::from_pem(&key.public().to_pem()).expect("public pem");
        assert_eq!(public, key.public());
        assert!(PublicKey::from_pem(&key.to_pem()).is_err());
        assert!(SigningKey::from_pem(&key.public().to_pem()).is_err());
        assert!(
            PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
                .is_err()
        );
    }

    #[test]
    fn another_package_is_not_covered() {
        let key = SigningKey::generate().expect("key");
        let sig = signed(&key, None);
        assert!(matches!(
            sig.covers("[plugin]\nid = \"acme.y\"\n", &Digest::of(b"wasm")),
            Err(SigningError::OtherPackage {
                what: "plugin.toml",
                ..
            })
        ));
        assert!(matches!(
            sig.covers(MANIFEST, &Digest::of(b"other")),
            Err(SigningError::OtherPackage {
                what: "the artifact",
                ..
            })
        ));
    }

    #[test]
    fn an_altered_statement_no_longer_verifies() {
        let key = SigningKey::generate().expect("key");
        let sig = signed(&key, None);
        let mut bundle: serde_json::Value = serde_json::from_str(sig.text()).expect("json");
        let payload = bundle["dsseEnvelope"]["payload"].as_str().expect("payload");
        let mut statement: serde_json::Value =
            serde_json::from_slice(&B64.decode(payload).expect("b64")).expect("statement");
        statement["subject"][1]["digest"]["sha256"] = hex::encode([7u8; 32]).into();
        bundle["dsseEnvelope"]["payload"] = B64
            .encode(serde_json::to_vec(&statement).expect("json"))
            .into();
        let altered = PackageSignature::parse(&bundle.to_string()).expect("still parses");
        assert!(matches!(
            altered.verify(&key.public(), SystemTime::now()),
            Err(SigningError::BadSignature { .. })
        ));
    }

    #[test]
    fn an_expired_signature_is_refused() {
        let key = SigningKey::generate().expect("key");
        let sig = signed(&key, Some(Duration::from_secs(60)));
        sig.verify(&key.public(), SystemTime::now()).expect("fresh");
        let later = SystemTime::now() + Duration::from_secs(120);
        assert!(matches!(
            sig.verify(&key.public(), later),
            Err(SigningError::Expired { .. })
        ));
    }

    #[test]
    fn malformed_bundles_are_refused_with_a_reason() {
        let key = SigningKey::generate().expect("key");
        let good: serde_json::Value =
            serde_json::from_str(signed(&key, None).text()).expect("json");
        let cases: Vec<(&str, String)> = vec![
            ("not json", "{".into()),
            (
                "too large",
                format!("\"{}\"", "a".repeat(MAX_SIGNATURE_BYTES)),
            ),
            ("media type", {
                let mut b = good.clone();
                b["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.1".into();
                b.to_string()
            }),
            ("no envelope", {
                let mut b = good.clone();
                b.as_object_mut().expect("object").remove("dsseEnvelope");
                b.to_string()
            }),
            ("two signatures", {
                let mut b = good.clone();
                let one = b["dsseEnvelope"]["signatures"][0].clone();
                b["dsseEnvelope"]["signatures"] = serde_json::json!([one.clone(), one]);
                b.to_string()
            }),
            ("payload not base64", {
                let mut b = good.clone();
                b["dsseEnvelope"]["payload"] = "%%%".into();
                b.to_string()
            }),
            ("payload type", {
                let mut b = good.clone();
                b["dsseEnvelope"]["payloadType"] = "text/plain".into();
                b.to_string()
            }),
        ];
        for (name, text) in cases {
            assert!(
                matches!(
                    PackageSignature::parse(&text),
                    Err(SigningError::Malformed(_))
                ),
                "{name}"
            );
        }
        let mut keyless = good;
        keyless["verificationMaterial"] =
            serde_json::json!({"certificate": {"rawBytes": "MAA="}, "tlogEntries": []});
        assert_eq!(
            PackageSignature::parse(&keyless.to_string()),
            Err(SigningError::Keyless)
        );
    }
}
