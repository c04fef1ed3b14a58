#!/usr/bin/env bash
# Builds strait's container image offline from Debian 12 packages and our binaries, and writes
# it as an OCI image archive. No container engine is needed (none runs on our CI machines):
#
#   meson (release, -Dcpu=generic: the image runs on other CPUs than the builder's)
#     -> straitd, strait-agent, strait_xdp.bpf.o
#   ldd + dpkg -S on the binaries  -> the runtime packages they link against
#   mmdebstrap (variant apt) bookworm + those packages + the DPDK drivers strait uses + wg,
#     ovs-vsctl/ovs-ofctl, ip, ethtool + our files (customize hook)  -> rootfs.tar
#   oci_archive.py  -> one-layer OCI image archive
#
# usage: build.sh [--build-dir DIR] [--out FILE] [--ref NAME:TAG] [--rootfs-out FILE]
#   --build-dir  meson build directory (default build-image; set up here if missing)
#   --out        the archive (default strait.oci.tar); load with `podman load -i` or
#                `skopeo copy oci-archive:strait.oci.tar docker://REGISTRY/strait:TAG`
#   --ref        image name (default strait:latest, the manifests' name)
#   --rootfs-out also keep the root filesystem tar (the smoke test runs it in a chroot)
# env: STRAIT_DEBIAN_MIRROR (default http://deb.debian.org/debian; security updates from
#      the matching -security suite), SOURCE_DATE_EPOCH (image creation time).
# Needs root (mmdebstrap's root mode keeps file ownership without user namespaces).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

build_dir=$root/build-image
out=$PWD/strait.oci.tar
ref=strait:latest
rootfs_out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=$(realpath -m "$2"); shift 2;;
    --out) out=$(realpath -m "$2"); shift 2;;
    --ref) ref=$2; shift 2;;
    --rootfs-out) rootfs_out=$(realpath -m "$2"); shift 2;;
    -h|--help) sed -n '2,22p' "$0"; exit 0;;
    *) echo "build.sh: unknown argument $1 (--help)" >&2; exit 2;;
  esac
done

die() { echo "build.sh: $*" >&2; exit 1; }
command -v mmdebstrap >/dev/null || die "mmdebstrap not found (apt-get install mmdebstrap)"
[ "$(id -u)" -eq 0 ] || die "run as root (mmdebstrap root mode)"

# ---- our binaries
if [ ! -f "$build_dir/build.ninja" ]; then
  meson setup "$build_dir" "$root" --buildtype=release -Dcpu=generic -Dtests=disabled \
    -Dperf=disabled --prefix=/usr
fi
ninja -C "$build_dir" dataplane/straitd/straitd control/strait-agent dataplane/uapi/strait-ctl
bpf_obj=$(find "$build_dir/ebpf" -name strait_xdp.bpf.o 2>/dev/null | head -n1 || true)
if [ -z "$bpf_obj" ]; then
  ninja -C "$build_dir" ebpf/strait_xdp.bpf.o >/dev/null 2>&1 || true
  bpf_obj=$(find "$build_dir/ebpf" -name strait_xdp.bpf.o 2>/dev/null | head -n1 || true)
fi
[ -n "$bpf_obj" ] || echo "build.sh: no strait_xdp.bpf.o (clang missing?): the afxdp overlays will not work with this image" >&2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/stage
install -D -m 0755 "$build_dir/dataplane/straitd/straitd" "$stage/usr/bin/straitd"
install -D -m 0755 "$build_dir/control/strait-agent" "$stage/usr/bin/strait-agent"
install -D -m 0755 "$build_dir/dataplane/uapi/strait-ctl" "$stage/usr/bin/strait-ctl"
install -D -m 0755 "$here/entrypoints/straitd-entrypoint" "$stage/usr/lib/strait/straitd-entrypoint"
install -D -m 0755 "$here/entrypoints/agent-entrypoint" "$stage/usr/lib/strait/agent-entrypoint"
install -D -m 0755 "$here/entrypoints/key-publisher-entrypoint" "$stage/usr/lib/strait/key-publisher-entrypoint"
# strait-mesh (the controller, key-publisher, join/status): python modules and a launcher.
for f in strait_mesh.py broker.py controller.py kube_watch.py mesh_ops.py node_services.py; do
  install -D -m 0644 "$root/deploy/mesh/$f" "$stage/usr/lib/strait/mesh/$f"
done
printf '#!/bin/sh\nexec python3 /usr/lib/strait/mesh/strait_mesh.py "$@"\n' > "$stage/usr/bin/strait-mesh"
chmod 0755 "$stage/usr/bin/strait-mesh"
[ -z "$bpf_obj" ] || install -D -m 0644 "$bpf_obj" "$stage/usr/lib/x86_64-linux-gnu/strait/strait_xdp.bpf.o"

# ---- the runtime packages: what the binaries link against, by package
libs=$(ldd "$stage/usr/bin/straitd" "$stage/usr/bin/strait-agent" "$stage/usr/bin/strait-ctl" |
  awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u)
packages=$(for l in $libs; do dpkg -S "$(realpath "$l")" 2>/dev/null || dpkg -S "$l" 2>/dev/null || true; done |
  cut -d: -f1 | sort -u)
[ -n "$packages" ] || die "could not map the binaries' libraries to packages (dpkg -S)"
# DPDK loads its drivers as plugins (not visible to ldd): the ones strait's ports use.
dpdk_drivers="librte-bus-pci23 librte-bus-vdev23 librte-mempool-ring23 librte-net-tap23
  librte-net-af-packet23 librte-net-af-xdp23 librte-net-iavf23 librte-net-i40e23
  librte-net-ice23 librte-net-ixgbe23 librte-net-mlx5-23"
# ovs-vsctl is in openvswitch-switch (its daemons are never started in the image).
tools="wireguard-tools openvswitch-common openvswitch-switch iproute2 ethtool ca-certificates
  python3 python3-yaml python3-kubernetes python3-etcd3"
include=$(echo $packages $dpdk_drivers $tools | tr ' ' ',')
echo "build.sh: packages: $include"

mirror=${STRAIT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${mirror%/debian}/debian-security
mmdebstrap --variant=apt --mode=root --format=tar \
  --include="$include" \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --customize-hook="sync-in $stage /" \
  --customize-hook='chroot "$1" ldconfig' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  bookworm "$work/rootfs.tar" \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
  "deb $security bookworm-security main"

created=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}" +%Y-%m-%dT%H:%M:%SZ)
version=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
python3 "$here/oci_archive.py" --rootfs "$work/rootfs.tar" --out "$out" --ref "$ref" \
  --created "$created" \
  --env PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  --label org.opencontainers.image.title=strait \
  --label org.opencontainers.image.revision="$version" \
  --label org.opencontainers.image.source=deploy/image/build.sh
[ -z "$rootfs_out" ] || cp "$work/rootfs.tar" "$rootfs_out"
echo "build.sh: $out"
