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
  libgtest-dev libgmock-dev libbenchmark-dev libclang-rt-14-dev
  python3 python3-scapy python3-yaml gnuplot-nox jq
  # real peers and tools for the system tests and the lab
  wireguard-go wireguard-tools iperf3 openvswitch-switch iproute2 nftables
  iputils-ping ethtool procps psmisc kmod curl
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
