// Verifies a Yoi package signature with Sigstore's own verifier for
// JavaScript (@sigstore/verify on npm), offline: no transparency log or
// timestamp, the signer's key given by the caller, as `cosign
// verify-blob-attestation --key` would with an offline bundle.
//
// usage: node sigstore_verify.js BUNDLE PUBKEY.pem ARTIFACT_DIGEST
//
// Prints JSON: verified, the key id Sigstore computes for the key, the
// predicate type and the statement's subjects. Exits non-zero when the
// signature does not verify or names no subject with ARTIFACT_DIGEST.
const fs = require('fs');
const crypto = require('crypto');
const { bundleFromJSON } = require('@sigstore/bundle');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

const [bundlePath, keyPath, artifactDigest] = process.argv.slice(2);
const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, 'utf8')));
const key = crypto.createPublicKey(fs.readFileSync(keyPath));
const keyId = crypto
  .createHash('sha256')
  .update(key.export({ type: 'spki', format: 'der' }))
  .digest('hex');
const material = toTrustMaterial(
  { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] },
  (hint) => {
    if (hint !== keyId) throw new Error(`the bundle names key ${hint}, not ${keyId}`);
    return { publicKey: key, validFor: () => true };
  },
);
const verifier = new Verifier(material, {
  tlogThreshold: 0,
  ctlogThreshold: 0,
  timestampThreshold: 0,
});
verifier.verify(toSignedEntity(bundle));
const statement = JSON.parse(Buffer.from(bundle.content.dsseEnvelope.payload).toString('utf8'));
const subjects = statement.subject.map((s) => `${s.name} sha256:${s.digest.sha256}`);
if (!subjects.some((s) => s.endsWith(` ${artifactDigest}`))) {
  throw new Error(`no subject has ${artifactDigest}: ${subjects.join(', ')}`);
}
console.log(
  JSON.stringify({ verified: true, keyId, predicateType: statement.predicateType, subjects }),
);
