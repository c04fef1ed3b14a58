#!/usr/bin/env bash
# Path MTU discovery through straitd (docs/STRAITD.md, "Path MTU"): a sender whose link is
# wider than the tunnel (tap MTU 1500, tunnel MTU 1420) gets ICMP "fragmentation needed" /
# ICMPv6 "packet too big" from straitd, its kernel's PMTU cache learns 1420 (ip route get
# shows it), and a TCP transfer whose receiver advertises a 1460-byte MSS completes. IPv4
# without DF is fragmented by straitd and arrives whole. Suite 'system'. Needs root,
# wireguard-go, wg, iperf3, ip, ping.
#
#   netns A (straitd, the "pod" side)                     netns B (wireguard-go)
#   ┌───────────────────────────────────────┐             ┌──────────────────────────────────┐
#   │ tap "$TAP" mtu 1500                   │             │ tun "$WG" mtu 1500 (so that it   │
#   │   10.99.1.1/24, fd00:99:1::1/64       │             │   advertises MSS 1460)           │
#   │   routes to B's prefixes via the tap  │             │   10.99.2.1-3/24, fd00:99:2::1/64│
#   │     ▲ net_tap (bridge port)           │             │                                  │
#   │ straitd --tunnel-mtu 1420             │             │ wireguard-go, UDP 51820          │
#   │     ▼ net_af_packet (wire port)       │             │                                  │
#   │ veth "$VA" 192.168.79.1/24            ├─────────────┤ veth "$VB" 192.168.79.2/24       │
#   └───────────────────────────────────────┘             └──────────────────────────────────┘
#
# Only A -> B carries big packets: B's own big packets (a 1500-byte echo reply, say) would
# leave wireguard-go as outer fragments, which straitd's wire side does not reassemble
# (outer_bad_ip). Big packets' arrival is therefore checked at B's kernel (its reassembly
# counters), not by a reply.
#
# usage: straitd_pmtu.sh /path/to/straitd
set -euo pipefail

STRAITD=${1:?usage: $0 /path/to/straitd}
for tool in ip wg wireguard-go iperf3 ping; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool not installed"
    exit 77
  fi
done

tag=m$$
NSA=${tag}a
NSB=${tag}b
VA=${tag}va
VB=${tag}vb
TAP=${tag}tap
IFN=${tag}sd
WG=${tag}wg
work=$(mktemp -d /tmp/straitd_pmtu.XXXXXX)
straitd_pid=
wggo_pid=

cleanup() {
  set +e
  [ -n "$straitd_pid" ] && kill -TERM "$straitd_pid" 2>/dev/null && wait "$straitd_pid" 2>/dev/null
  [ -n "$wggo_pid" ] && kill "$wggo_pid" 2>/dev/null
  ip netns pids "$NSB" 2>/dev/null | xargs -r kill 2>/dev/null
  ip netns pids "$NSA" 2>/dev/null | xargs -r kill 2>/dev/null
  ip netns del "$NSA" 2>/dev/null
  ip netns del "$NSB" 2>/dev/null
  rm -f "/var/run/wireguard/$WG.sock"
  rm -rf "$work"
}
trap cleanup EXIT

drop_counters() {
  python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"get=1\n\n"); print(s.recv(65536).decode())' \
    "/var/run/wireguard/$IFN.sock" 2>&1 | grep strait_ || true
}

fail() {
  echo "FAIL: $*"
  echo "---- straitd log (last lines)"
  tail -n 40 "$work/straitd.log" 2>/dev/null
  echo "---- straitd's UAPI (strait_ counters)"
  drop_counters
  echo "---- routes of A"
  ip -n "$NSA" route show cache 2>&1
  ip -n "$NSA" -6 route show cache 2>&1
  exit 1
}

# B's count of reassembled datagrams: IpReasmOKs (/proc/net/snmp) or Ip6ReasmOKs.
reasm_oks() {
  if [ "$1" = 4 ]; then
    ip netns exec "$NSB" awk '$1 == "Ip:" { if (!h) { for (i = 1; i <= NF; i++) if ($i == "ReasmOKs") c = i; h = 1 } else print $c }' /proc/net/snmp
  else
    ip netns exec "$NSB" awk '$1 == "Ip6ReasmOKs" { print $2 }' /proc/net/snmp6
  fi
}

reasm_above() { [ "$(reasm_oks "$1")" -gt "$2" ]; }

wait_for() {
  local what=$1
  shift
  for _ in $(seq 1 150); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  fail "timed out waiting for $what"
}

# ---- namespaces and the veth between them
ip netns add "$NSA"
ip netns add "$NSB"
ip link add "$VA" type veth peer name "$VB"
ip link set "$VA" netns "$NSA"
ip link set "$VB" netns "$NSB"
ip -n "$NSA" link set lo up
ip -n "$NSB" link set lo up
ip -n "$NSA" addr add 192.168.79.1/24 dev "$VA"
ip -n "$NSB" addr add 192.168.79.2/24 dev "$VB"
ip -n "$NSA" link set "$VA" up
ip -n "$NSB" link set "$VB" up

(umask 077; wg genkey >"$work/a.key"; wg genkey >"$work/b.key")
a_pub=$(wg pubkey <"$work/a.key")
b_pub=$(wg pubkey <"$work/b.key")

# ---- B: wireguard-go with a 1500-byte tun, so that B's TCP advertises MSS 1460
ip netns exec "$NSB" env WG_PROCESS_FOREGROUND=1 wireguard-go "$WG" >"$work/wggo.log" 2>&1 &
wggo_pid=$!
wait_for "wireguard-go's socket" test -S "/var/run/wireguard/$WG.sock"
ip netns exec "$NSB" wg set "$WG" private-key "$work/b.key" listen-port 51820 \
  peer "$a_pub" allowed-ips 10.99.1.0/24,fd00:99:1::/64 endpoint 192.168.79.1:51820
ip -n "$NSB" link set "$WG" mtu 1500
ip -n "$NSB" addr add 10.99.2.1/24 dev "$WG"
# Fresh destinations for the later checks, which A's PMTU cache knows nothing about.
ip -n "$NSB" addr add 10.99.2.2/24 dev "$WG"
ip -n "$NSB" addr add 10.99.2.3/24 dev "$WG"
ip -n "$NSB" addr add fd00:99:2::1/64 dev "$WG" nodad
ip -n "$NSB" link set "$WG" up
ip -n "$NSB" route replace 10.99.1.0/24 dev "$WG"
ip -n "$NSB" route replace fd00:99:1::/64 dev "$WG"

# ---- A: straitd with tunnel MTU 1420; the tap is then widened to 1500 (a pod network whose
# MTU was not lowered for the tunnel: exactly what PMTU discovery is for)
tap_mac=02:00:00:99:01:01
ip netns exec "$NSA" "$STRAITD" --ifname "$IFN" --file-prefix "$tag" --no-huge -m 512 \
  --lcores 1 --main-lcore 0 \
  --wire "net_af_packet_${tag},iface=$VA,qpairs=1" \
  --bridge "net_tap_${tag},iface=$TAP" \
  --wire-ip 192.168.79.1 --listen-port 51820 --private-key-file "$work/a.key" \
  --bridge-mac-mode fixed --bridge-dst-mac "$tap_mac" --tunnel-mtu 1420 --log-level debug \
  >"$work/straitd.log" 2>&1 &
straitd_pid=$!
wait_for "straitd's UAPI" ip netns exec "$NSA" wg show "$IFN"
ip -n "$NSA" link set "$TAP" address "$tap_mac"
ip -n "$NSA" link set "$TAP" mtu 1500
ip -n "$NSA" addr add 10.99.1.1/24 dev "$TAP"
ip -n "$NSA" addr add fd00:99:1::1/64 dev "$TAP" nodad
ip -n "$NSA" link set "$TAP" up
ip -n "$NSA" route replace 10.99.2.0/24 dev "$TAP"
ip -n "$NSA" route replace fd00:99:2::/64 dev "$TAP"
ip netns exec "$NSA" wg set "$IFN" peer "$b_pub" allowed-ips 10.99.2.0/24,fd00:99:2::/64 \
  endpoint 192.168.79.2:51820

# ---- small packets first: the session is up
ip netns exec "$NSA" ping -c 2 -W 5 10.99.2.1 >"$work/ping.log" 2>&1 ||
  { cat "$work/ping.log"; fail "ping A -> B through the tunnel"; }
ip netns exec "$NSA" ping -6 -c 2 -W 5 fd00:99:2::1 >"$work/ping6.log" 2>&1 ||
  { cat "$work/ping6.log"; fail "ping -6 A -> B through the tunnel"; }
echo "ok: tunnel up"

# ---- IPv4 with DF, 1500 bytes: straitd answers "fragmentation needed", mtu 1420
ip netns exec "$NSA" ping -c 1 -W 2 -M do -s 1472 10.99.2.1 >/dev/null 2>&1 || true
ip netns exec "$NSA" ip route get 10.99.2.1 | tee "$work/route4" | grep -q "mtu 1420" ||
  { cat "$work/route4"; fail "A's PMTU cache for 10.99.2.1 does not say mtu 1420"; }
# Now the kernel itself refuses: the local error names the learnt MTU.
if ip netns exec "$NSA" ping -c 1 -W 2 -M do -s 1472 10.99.2.1 >"$work/ping_df.log" 2>&1; then
  fail "a 1500-byte DF ping went through a 1420-byte tunnel"
fi
# ... and packets that fit still pass.
ip netns exec "$NSA" ping -c 1 -W 5 -M do -s 1392 10.99.2.1 >/dev/null 2>&1 ||
  fail "a 1420-byte DF ping did not pass"
echo "ok: IPv4 frag-needed, PMTU 1420 learnt"

# ---- IPv6, 1500 bytes: "packet too big", mtu 1420
ip netns exec "$NSA" ping -6 -c 1 -W 2 -s 1452 fd00:99:2::1 >/dev/null 2>&1 || true
ip netns exec "$NSA" ip -6 route get fd00:99:2::1 | tee "$work/route6" | grep -q "mtu 1420" ||
  { cat "$work/route6"; fail "A's PMTU cache for fd00:99:2::1 does not say mtu 1420"; }
# The kernel now fragments (IPv6 source fragmentation) and B reassembles the request.
before=$(reasm_oks 6)
ip netns exec "$NSA" ping -6 -c 1 -W 2 -s 1452 fd00:99:2::1 >/dev/null 2>&1 || true
wait_for "B to reassemble A's fragmented 1500-byte IPv6 ping" reasm_above 6 "$before"
echo "ok: IPv6 packet-too-big, PMTU 1420 learnt"

# ---- IPv4 without DF, 1500 bytes: straitd fragments it; B reassembles and answers
# (10.99.2.2: a destination without a cached PMTU, so A's kernel sends 1500 bytes whole.)
ip netns exec "$NSA" ip route get 10.99.2.2 | grep -q "mtu 1420" && fail "10.99.2.2 has a PMTU already"
before=$(reasm_oks 4)
ip netns exec "$NSA" ping -c 1 -W 2 -M dont -s 1472 10.99.2.2 >/dev/null 2>&1 || true
wait_for "B to reassemble straitd's fragments of a 1500-byte ping" reasm_above 4 "$before"
echo "ok: IPv4 without DF fragmented by straitd"

# ---- TCP: B advertises MSS 1460, A's first full segments bounce, the transfer completes
ip netns exec "$NSA" ip route get 10.99.2.3 | grep -q "mtu 1420" && fail "10.99.2.3 has a PMTU already"
ip netns exec "$NSB" iperf3 -s -1 -B 10.99.2.3 >"$work/iperf_s.log" 2>&1 &
wait_for "iperf3 server in B" ip netns exec "$NSB" sh -c "ss -ltn | grep -q 10.99.2.3:5201"
ip netns exec "$NSA" iperf3 -c 10.99.2.3 -n 4M >"$work/iperf.log" 2>&1 ||
  { cat "$work/iperf.log"; fail "iperf3 A -> B (4 MiB) with PMTU discovery"; }
grep -E "sender|receiver" "$work/iperf.log"
ip netns exec "$NSA" ip route get 10.99.2.3 | grep -q "mtu 1420" ||
  fail "after the TCP transfer, A's PMTU cache does not say mtu 1420"
echo "ok: TCP transfer with PMTU discovery"

drop_counters | grep -E "too_big" || true

kill -TERM "$straitd_pid"
rc=0
wait "$straitd_pid" || rc=$?
straitd_pid=
[ "$rc" -eq 0 ] || fail "straitd exited with $rc on SIGTERM"
echo "ok: straitd path MTU"
