#!/usr/bin/env python3
"""Writes an OCI image archive (an OCI image layout, image-spec v1.0, in a tar) with one layer:
a root filesystem tar. Standard library only, so that no container engine, buildah or umoci
is needed to make the image; `skopeo copy oci-archive:FILE ...` and `podman load -i FILE`
read the result. The layer is gzip with mtime 0, so the same rootfs gives the same digests.

usage: oci_archive.py --rootfs ROOTFS.tar --out IMAGE.oci.tar --ref NAME:TAG
                      [--env K=V]... [--label K=V]... [--created RFC3339]
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rootfs", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--ref", required=True)
    p.add_argument("--env", action="append", default=[])
    p.add_argument("--label", action="append", default=[])
    p.add_argument("--created", default="1970-01-01T00:00:00Z")
    a = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        blobs = os.path.join(tmp, "blobs", "sha256")
        os.makedirs(blobs)
        layer_tmp = os.path.join(tmp, "layer.tar.gz")
        diff = hashlib.sha256()
        with open(a.rootfs, "rb") as src, open(layer_tmp, "wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=6) as gz:
                for chunk in iter(lambda: src.read(1 << 20), b""):
                    diff.update(chunk)
                    gz.write(chunk)
        layer_digest = sha256_file(layer_tmp)
        layer_size = os.path.getsize(layer_tmp)
        shutil.move(layer_tmp, os.path.join(blobs, layer_digest))

        def blob(obj, media_type):
            data = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
            digest = hashlib.sha256(data).hexdigest()
            with open(os.path.join(blobs, digest), "wb") as f:
                f.write(data)
            return {"mediaType": media_type, "digest": "sha256:" + digest, "size": len(data)}

        config = {
            "created": a.created, "architecture": "amd64", "os": "linux",
            "config": {"Env": a.env, "Labels": dict(kv.split("=", 1) for kv in a.label),
                       "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff.hexdigest()]},
            "history": [{"created": a.created, "created_by": "deploy/image/build.sh"}],
        }
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": blob(config, "application/vnd.oci.image.config.v1+json"),
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": "sha256:" + layer_digest, "size": layer_size}],
        }
        mdesc = blob(manifest, "application/vnd.oci.image.manifest.v1+json")
        mdesc["annotations"] = {"org.opencontainers.image.ref.name": a.ref.rsplit(":", 1)[-1],
                                "io.containerd.image.name": a.ref}
        with open(os.path.join(tmp, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "manifests": [mdesc]}, f)
        with open(os.path.join(tmp, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)

        with tarfile.open(a.out, "w") as out:
            for name in ("oci-layout", "index.json", "blobs"):
                out.add(os.path.join(tmp, name), arcname=name)
    print(f"oci_archive: {a.out} ({a.ref}, layer sha256:{layer_digest[:12]}, {layer_size >> 20} MiB)")


if __name__ == "__main__":
    main()
