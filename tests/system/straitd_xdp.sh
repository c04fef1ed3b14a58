#!/usr/bin/env bash
# straitd with its WIRE port on net_af_xdp, sharing the veth with the kernel of its namespace,
# against wireguard-go: the XDP program strait_xdp (ebpf/) steers the tunnel port to straitd,
# passes everything else to the kernel and drops garbage sent to the tunnel port before it
# reaches the AF_XDP socket. Suite 'system'. Needs root, wireguard-go, wg, ip, nsenter,
# python3, bpftool, a bpffs on /sys/fs/bpf.
#
#   netns A                                               netns B (wireguard-go)
#   ┌───────────────────────────────────────┐             ┌──────────────────────────────┐
#   │ tap "$TAP" 10.99.1.1/24 (bridge port) │             │ tun "$WG" 10.99.2.1/24       │
#   │ straitd                               │             │ wireguard-go, UDP 51820      │
#   │   wire: net_af_xdp on $VA + strait_xdp│             │                              │
#   │ kernel: 192.168.77.1/24 on $VA, TCP   ├─────────────┤ veth "$VB" 192.168.77.2/24   │
#   └───────────────────────────────────────┘             └──────────────────────────────┘
#
# straitd runs under `nsenter --net` (not `ip netns exec`, which mounts a fresh /sys without
# the bpffs), so its pins land in /sys/fs/bpf/strait/$VA where bpftool reads them.
#
# The af_xdp PMD on a veth: the program is attached in native (driver) mode (veth has XDP
# support); frames reach it in copy mode (veth has no zero-copy), which needs no devarg. The
# kernel-side traffic the program passes (ARP, ICMP, TCP) is handled by $VA's own stack.
#
# usage: straitd_xdp.sh /path/to/straitd
set -euo pipefail

STRAITD=${1:?usage: $0 /path/to/straitd}
here=$(cd "$(dirname "$0")" && pwd)
for tool in ip wg wireguard-go ping nsenter python3 bpftool; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool not installed"
    exit 77
  fi
done
if ! mount | grep -q ' /sys/fs/bpf type bpf'; then
  echo "SKIP: no bpffs on /sys/fs/bpf"
  exit 77
fi

tag=x$$
NSA=${tag}a
NSB=${tag}b
VA=${tag}va
VB=${tag}vb
TAP=${tag}tap
IFN=${tag}sd
WG=${tag}wg
PIN=/sys/fs/bpf/strait/$VA
work=$(mktemp -d /tmp/straitd_xdp.XXXXXX)
straitd_pid=
wggo_pid=
tcp_pid=

cleanup() {
  set +e
  [ -n "$straitd_pid" ] && kill -TERM "$straitd_pid" 2>/dev/null && wait "$straitd_pid" 2>/dev/null
  [ -n "$wggo_pid" ] && kill "$wggo_pid" 2>/dev/null
  [ -n "$tcp_pid" ] && kill "$tcp_pid" 2>/dev/null
  ip netns pids "$NSB" 2>/dev/null | xargs -r kill 2>/dev/null
  ip netns del "$NSA" 2>/dev/null
  ip netns del "$NSB" 2>/dev/null
  rm -f "/var/run/wireguard/$WG.sock"
  rm -rf "$PIN" "$work"
}
trap cleanup EXIT

uapi_get() {
  python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"get=1\n\n"); print(s.recv(65536).decode())' \
    "/var/run/wireguard/$IFN.sock"
}

# Sum over CPUs of entry `index` of the pinned per-CPU array `map`.
xdp_counter() {
  bpftool -j map dump pinned "$PIN/$1" | python3 -c '
import json, sys
want = int(sys.argv[1])
total = 0
for e in json.load(sys.stdin):
    f = e.get("formatted")
    if f is not None:
        key, vals = f["key"], [v["value"] for v in f["values"]]
    else:
        key = int.from_bytes(bytes(int(b, 16) for b in e["key"]), "little")
        vals = [int.from_bytes(bytes(int(b, 16) for b in v["value"]), "little") for v in e["values"]]
    if key == want:
        total += sum(vals)
print(total)' "$2"
}

# The drop reason's index in dataplane/drop_reasons.def (the program shares the numbering).
reason_index() {
  python3 - "$1" "$here/../../dataplane/drop_reasons.def" <<'PY'
import re, sys
names = re.findall(r'^STRAIT_DROP\(\s*(\w+)', open(sys.argv[2]).read(), re.M)
print(names.index(sys.argv[1]))
PY
}

fail() {
  echo "FAIL: $*"
  echo "---- straitd log"
  cat "$work/straitd.log" 2>/dev/null
  echo "---- straitd's UAPI (strait_ counters)"
  uapi_get 2>&1 | grep strait_
  echo "---- XDP maps"
  bpftool map dump pinned "$PIN/drops" 2>&1 | head -40
  bpftool map dump pinned "$PIN/verdicts" 2>&1 | head -40
  ip -n "$NSA" link show "$VA"
  exit 1
}

wait_for() {
  local what=$1
  shift
  for _ in $(seq 1 150); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  fail "timed out waiting for $what"
}

ip netns add "$NSA"
ip netns add "$NSB"
ip link add "$VA" type veth peer name "$VB"
ip link set "$VA" netns "$NSA"
ip link set "$VB" netns "$NSB"
ip -n "$NSA" link set lo up
ip -n "$NSB" link set lo up
ip -n "$NSA" addr add 192.168.77.1/24 dev "$VA"
ip -n "$NSB" addr add 192.168.77.2/24 dev "$VB"
ip -n "$NSA" link set "$VA" up
ip -n "$NSB" link set "$VB" up
# AF_XDP sees the frames as the kernel built them: no checksum left for an offload to fill.
ip netns exec "$NSB" ethtool -K "$VB" tx off rx off >/dev/null 2>&1 || true

(umask 077; wg genkey >"$work/a.key"; wg genkey >"$work/b.key")
a_pub=$(wg pubkey <"$work/a.key")
b_pub=$(wg pubkey <"$work/b.key")

ip netns exec "$NSB" env WG_PROCESS_FOREGROUND=1 wireguard-go "$WG" >"$work/wggo.log" 2>&1 &
wggo_pid=$!
wait_for "wireguard-go's socket" test -S "/var/run/wireguard/$WG.sock"
ip netns exec "$NSB" wg set "$WG" private-key "$work/b.key" listen-port 51820 \
  peer "$a_pub" allowed-ips 10.99.1.0/24 endpoint 192.168.77.1:51820
ip -n "$NSB" addr add 10.99.2.1/24 dev "$WG"
ip -n "$NSB" link set "$WG" up
ip -n "$NSB" route add 10.99.1.0/24 dev "$WG"

tap_mac=02:00:00:99:01:01
nsenter --net="/run/netns/$NSA" "$STRAITD" --ifname "$IFN" --file-prefix "$tag" --no-huge -m 512 \
  --lcores 1 --main-lcore 0 \
  --wire "net_af_xdp_${tag},iface=$VA,start_queue=0,queue_count=1" \
  --bridge "net_tap_${tag},iface=$TAP" \
  --wire-ip 192.168.77.1 --listen-port 51820 --private-key-file "$work/a.key" \
  --bridge-mac-mode fixed --bridge-dst-mac "$tap_mac" --log-level debug \
  >"$work/straitd.log" 2>&1 &
straitd_pid=$!
wait_for "straitd's UAPI" ip netns exec "$NSA" wg show "$IFN"
grep -q "strait_xdp on $VA steers UDP port 51820" "$work/straitd.log" ||
  fail "straitd did not adopt and configure the XDP program"
test -e "$PIN/drops" || fail "no maps pinned under $PIN"
ip -n "$NSA" link show "$VA" | grep -q "prog/xdp" || fail "no XDP program on $VA"
ip -n "$NSA" link set "$TAP" address "$tap_mac"
ip -n "$NSA" addr add 10.99.1.1/24 dev "$TAP"
ip -n "$NSA" link set "$TAP" up
ip -n "$NSA" route add 10.99.2.0/24 dev "$TAP"
ip netns exec "$NSA" wg set "$IFN" peer "$b_pub" allowed-ips 10.99.2.0/24 \
  endpoint 192.168.77.2:51820

# ---- the kernel of A still has its veth: ping and a TCP connection pass the program
ip netns exec "$NSB" ping -c 2 -W 5 192.168.77.1 >"$work/ping_kernel.log" 2>&1 ||
  { cat "$work/ping_kernel.log"; fail "ping B -> A's kernel on the shared veth"; }
ip netns exec "$NSA" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.168.77.1", 7777)); s.listen(1)
c, _ = s.accept(); data = c.recv(100); c.sendall(data.upper()); c.close()' &
tcp_pid=$!
sleep 0.5
reply=$(ip netns exec "$NSB" python3 -c '
import socket
s = socket.create_connection(("192.168.77.1", 7777), timeout=5)
s.sendall(b"strait-xdp"); print(s.recv(100).decode())') || fail "TCP to A's kernel on the shared veth"
[ "$reply" = STRAIT-XDP ] || fail "TCP reply '$reply'"
tcp_pid=
echo "ok: the kernel of A answers ping and TCP on the veth straitd's AF_XDP socket uses"

# ---- the tunnel
ip netns exec "$NSA" ping -c 3 -W 5 10.99.2.1 >"$work/ping_ab.log" 2>&1 ||
  { cat "$work/ping_ab.log"; fail "ping A -> B through the tunnel"; }
ip netns exec "$NSB" ping -c 3 -W 5 10.99.1.1 >"$work/ping_ba.log" 2>&1 ||
  { cat "$work/ping_ba.log"; fail "ping B -> A through the tunnel"; }
echo "ok: ping both ways through the tunnel"

# ---- a flood of garbage to the tunnel port, dropped in XDP
unknown=$(reason_index unknown_index)
badtype=$(reason_index msg_bad_type)
redirected_before=$(xdp_counter verdicts 3)
unknown_before=$(xdp_counter drops "$unknown")
badtype_before=$(xdp_counter drops "$badtype")
sent=$(ip netns exec "$NSB" python3 -c '
import os, socket, struct, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n = 0
end = time.time() + 2
while time.time() < end:
    # A data message header (type 4, reserved 0) naming a random receiver index, 64 bytes.
    s.sendto(struct.pack("<II", 4, int.from_bytes(os.urandom(4), "little") | 0x80000000)
             + os.urandom(56), ("192.168.77.1", 51820))
    # Random bytes with a type byte no message has.
    s.sendto(b"\x07" + os.urandom(99), ("192.168.77.1", 51820))
    n += 1
print(n)')
unknown_after=$(xdp_counter drops "$unknown")
badtype_after=$(xdp_counter drops "$badtype")
redirected_after=$(xdp_counter verdicts 3)
d_unknown=$((unknown_after - unknown_before))
d_badtype=$((badtype_after - badtype_before))
d_redirected=$((redirected_after - redirected_before))
echo "flood: $sent pairs sent; XDP dropped unknown_index +$d_unknown, msg_bad_type +$d_badtype;" \
  "tunnel packets redirected to straitd +$d_redirected"
# Every flood packet crosses the veth (no loss on a veth), so each is counted once.
[ "$d_unknown" -ge "$sent" ] || fail "XDP unknown_index grew by $d_unknown, $sent sent"
[ "$d_badtype" -ge "$sent" ] || fail "XDP msg_bad_type grew by $d_badtype, $sent sent"
[ "$d_redirected" -lt $((sent / 10 + 10)) ] ||
  fail "$d_redirected tunnel packets reached straitd during a flood of $sent garbage pairs"
# The UAPI's device-wide counters include the program's drops.
uapi_unknown=$(uapi_get | awk -F= '$1 == "strait_drop_unknown_index" { print $2 }')
[ -n "$uapi_unknown" ] && [ "$uapi_unknown" -ge "$d_unknown" ] ||
  fail "UAPI strait_drop_unknown_index '$uapi_unknown' lacks the XDP drops ($d_unknown)"
echo "ok: the flood is dropped in XDP and shows in strait_drop_*"

# ---- the tunnel still works after the flood
ip netns exec "$NSA" ping -c 2 -W 5 10.99.2.1 >"$work/ping_after.log" 2>&1 ||
  { cat "$work/ping_after.log"; fail "ping through the tunnel after the flood"; }

# ---- clean exit: the program is detached and the pins removed
kill -TERM "$straitd_pid"
wait "$straitd_pid" || fail "straitd exited with $?"
straitd_pid=
ip -n "$NSA" link show "$VA" | grep -q "prog/xdp" && fail "XDP program left on $VA after exit"
[ -e "$PIN" ] && fail "pins left under $PIN after exit"
echo "ok: straitd removed its XDP program and pins on exit"
echo "PASS"
