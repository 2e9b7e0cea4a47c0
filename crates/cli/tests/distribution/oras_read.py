"""Reads what `yoi push` wrote with ORAS's Python client (oras on PyPI),
a tool from outside Yoi: the package's manifest, its files, and the
signature found under the referrers tag of OCI distribution 1.1.

usage: oras_read.py REGISTRY REPOSITORY TAG USER PASSWORD OUTDIR [SUBJECT]
(SUBJECT: the manifest digest whose signature referrers to read)
prints JSON: config and layer media types, each pulled file's sha256, the
signature referrers and the bundle's path.
"""
import hashlib
import json
import os
import sys

import oras.client

registry, repository, tag, user, password, out = sys.argv[1:7]
client = oras.client.OrasClient(hostname=registry, insecure=True, auth_backend="basic")
client.login(username=user, password=password, hostname=registry)
ref = f"{registry}/{repository}:{tag}"
manifest = client.get_manifest(ref)
files = client.pull(target=ref, outdir=out)
pulled = {
    os.path.basename(f): "sha256:" + hashlib.sha256(open(f, "rb").read()).hexdigest()
    for f in files
}
index = client.get_manifest(f"{registry}/{repository}:{sys.argv[7].replace(':', '-')}") if len(sys.argv) > 7 else None
bundle = None
referrers = []
if index:
    for d in index.get("manifests", []):
        referrers.append(d.get("artifactType"))
        sig = client.get_manifest(f"{registry}/{repository}@{d['digest']}")
        layer = sig["layers"][0]
        bundle = os.path.join(out, "bundle.json")
        client.download_blob(f"{registry}/{repository}", layer["digest"], bundle)
print(json.dumps({
    "config": manifest["config"]["mediaType"],
    "layers": [l["mediaType"] for l in manifest["layers"]],
    "annotations": sorted(manifest.get("annotations", {})),
    "files": pulled,
    "referrers": referrers,
    "bundle": bundle,
}))
