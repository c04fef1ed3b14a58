#!/usr/bin/env bash
# Installs every Debian 12 package strait needs to build, test, benchmark and run the lab.
# Idempotent: packages already present are skipped by apt. Needs root (or sudo).
set -euo pipefail

packages=(
  # build
  build-essential meson ninja-build pkg-config git
  # data plane
  dpdk dpdk-dev libdpdk-dev libipsec-mb-dev libnuma-dev
  # crypto for the slow path
  libssl-dev libsodium-dev
  # eBPF
  libbpf-dev libxdp-dev bpftool clang llvm libelf-dev zlib1g-dev linux-libc-dev
  # control plane
  libspdlog-dev libfmt-dev libyaml-cpp-dev
  # metrics endpoint of straitd and strait-agent (prometheus-cpp's Exposer, on civetweb)
  prometheus-cpp-dev libcivetweb-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev libclang-rt-14-dev clang-format clang-tidy
  python3 python3-scapy python3-yaml gnuplot-nox jq
  # the broker (etcd, TLS with openssl) and the per-cluster controller (deploy/mesh)
  etcd-server etcd-client openssl python3-etcd3 python3-kubernetes
  # real peers and tools for the system tests and the lab
  wireguard-go wireguard-tools iperf3 openvswitch-switch iproute2 nftables
  ovn-central ovn-host
  iputils-ping ethtool procps psmisc kmod curl
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# The lab runs its own northd, databases and ovn-controllers per cluster and node, each with
# its own run directory (deploy/lab/ovn.sh); the system-wide ones the packages start on a
# systemd host would only compete with them for the default sockets.
stop_system_ovn() {
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now ovn-central ovn-host ovn-northd ovn-controller \
      ovn-ovsdb-server-nb ovn-ovsdb-server-sb >/dev/null 2>&1 || true
  fi
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  stop_system_ovn
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
stop_system_ovn

# Debian starts etcd-server's own system-wide member on 2379; strait's tests and lab run their
# own members on ports of their own, and a stray broker is not wanted: stop and disable it.
if [[ " ${missing[*]} " == *" etcd-server "* ]]; then
  $SUDO systemctl disable --now etcd.service > /dev/null 2>&1 ||
    $SUDO service etcd stop > /dev/null 2>&1 || true
  $SUDO update-rc.d etcd disable > /dev/null 2>&1 || true
fi
