#!/usr/bin/env bash
# Prepares this host for DPDK and XDP: hugepages, a hugetlbfs mount, bpffs, and the
# WireGuard UAPI socket directory. Idempotent; needs root.
#   STRAIT_HUGEPAGES  number of 2 MiB pages to reserve (default 1024 = 2 GiB)
set -euo pipefail

want=${STRAIT_HUGEPAGES:-1024}
have=$(cat /proc/sys/vm/nr_hugepages)
if [ "$have" -lt "$want" ]; then
  echo "$want" > /proc/sys/vm/nr_hugepages
  have=$(cat /proc/sys/vm/nr_hugepages)
  if [ "$have" -lt "$want" ]; then
    echo "setup-host: asked for $want hugepages, the kernel gave $have (memory fragmented?)" >&2
  fi
fi
if ! mount | grep -q "^hugetlbfs on /dev/hugepages "; then
  mkdir -p /dev/hugepages
  mount -t hugetlbfs nodev /dev/hugepages
fi
if ! mount | grep -q " /sys/fs/bpf type bpf"; then
  mount -t bpf bpf /sys/fs/bpf
fi
mkdir -p /var/run/wireguard
echo "setup-host: $have hugepages of 2 MiB, hugetlbfs on /dev/hugepages, bpffs on /sys/fs/bpf"
