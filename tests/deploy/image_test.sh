#!/usr/bin/env bash
# The container image: deploy/image/build.sh builds it, then this checks the OCI archive
# (layout, digests, the manifests' image name) and runs the image's programs inside its root
# filesystem with chroot, since no container engine runs on our CI machines:
#   straitd --version, strait-agent --help, strait-ctl --version, wg --version, ovs-vsctl --version, ip, ethtool,
#   the XDP object, and straitd-entrypoint's dry run, all with only the image's libraries.
# Exits 77 (skipped) without root, mmdebstrap, or a reachable Debian mirror.
#   usage: image_test.sh BUILD_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=$(realpath "${1:?usage: image_test.sh BUILD_DIR}")

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (mmdebstrap root mode, chroot)"
command -v mmdebstrap >/dev/null || skip "mmdebstrap not installed (apt-get install mmdebstrap)"
mirror=${STRAIT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
python3 - "$mirror" <<'PY' || skip "Debian mirror $mirror not reachable (set STRAIT_DEBIAN_MIRROR)"
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/dists/bookworm/Release", timeout=10).read(64)
PY

work=$(mktemp -d)
cleanup() {
  for m in proc dev; do umount "$work/root/$m" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

"$root/deploy/image/build.sh" --build-dir "$build_dir" --out "$work/strait.oci.tar" \
  --rootfs-out "$work/rootfs.tar"

fail() { echo "FAIL: $*"; exit 1; }

# The archive: an OCI layout whose digests and sizes hold, named as the manifests say.
python3 - "$work/strait.oci.tar" "$root/deploy/k8s/base/daemonset.yaml" <<'PY' || fail "OCI archive"
import gzip, hashlib, json, sys, tarfile
t = tarfile.open(sys.argv[1])
def blob(d):
    return t.extractfile("blobs/sha256/" + d.split(":")[1]).read()
assert json.loads(t.extractfile("oci-layout").read())["imageLayoutVersion"] == "1.0.0"
index = json.loads(t.extractfile("index.json").read())
desc = index["manifests"][0]
image = open(sys.argv[2]).read().split("image: ")[1].split()[0]
assert desc["annotations"]["io.containerd.image.name"] == image, (desc, image)
for d in [desc]:
    data = blob(d["digest"])
    assert hashlib.sha256(data).hexdigest() == d["digest"].split(":")[1] and len(data) == d["size"]
manifest = json.loads(blob(desc["digest"]))
config = json.loads(blob(manifest["config"]["digest"]))
layer = blob(manifest["layers"][0]["digest"])
assert hashlib.sha256(layer).hexdigest() == manifest["layers"][0]["digest"].split(":")[1]
assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()]
print("OCI archive: ok,", image, len(layer) >> 20, "MiB")
PY

mkdir "$work/root"
tar -C "$work/root" -xf "$work/rootfs.tar"
mount -t proc proc "$work/root/proc"
mount --bind /dev "$work/root/dev"
in_image() { chroot "$work/root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

in_image straitd --version | tee /dev/stderr | grep -q straitd || fail "straitd --version"
in_image strait-agent --help | grep -q -- "--spec" || fail "strait-agent --help"
in_image strait-ctl --version | grep -q "^strait-ctl " || fail "strait-ctl --version"
in_image wg --version | grep -q wireguard-tools || fail "wg --version"
in_image ovs-vsctl --version | grep -q "Open vSwitch" || fail "ovs-vsctl --version"
in_image ovs-ofctl --version >/dev/null || fail "ovs-ofctl"
in_image ip -V >/dev/null || fail "ip"
in_image ethtool --version >/dev/null || fail "ethtool"
# Every DPDK driver the image ships resolves its libraries.
for so in "$work"/root/usr/lib/x86_64-linux-gnu/dpdk/pmds-*/*.so*; do
  missing=$(in_image ldd "${so#"$work/root"}" | grep "not found" || true)
  [ -z "$missing" ] || fail "$so: $missing"
done
if [ -f "$build_dir/ebpf/strait_xdp.bpf.o" ]; then
  [ -f "$work/root/usr/lib/x86_64-linux-gnu/strait/strait_xdp.bpf.o" ] || fail "no XDP object"
fi
out=$(in_image env STRAIT_DRY_RUN=1 STRAIT_CPUS=2-3 STRAIT_WIRE=net_af_xdp0,queue_count=@WORKERS@ \
  /usr/lib/strait/straitd-entrypoint --config=/c)
[ "$out" = "straitd --main-lcore=2 --lcores=3 --wire=net_af_xdp0,queue_count=1 --config=/c" ] ||
  fail "straitd-entrypoint in the image: $out"
[ -x "$work/root/usr/lib/strait/agent-entrypoint" ] || fail "agent-entrypoint"
[ -x "$work/root/usr/lib/strait/key-publisher-entrypoint" ] || fail "key-publisher-entrypoint"
# The controller and key-publisher run strait-mesh with the image's python3 and its
# Kubernetes and etcd client libraries.
in_image python3 -c 'import kubernetes, etcd3, yaml' || fail "python3 libraries of strait-mesh"
in_image strait-mesh controller --help > /dev/null || fail "strait-mesh controller in the image"
echo "image_test: 1 passed, 0 failed"
