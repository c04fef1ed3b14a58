#!/usr/bin/env bash
# Path MTU discovery through straitd (docs/STRAITD.md, "Path MTU"): a sender whose link is
# wider than the tunnel (tap MTU 1500, tunnel MTU 1420) gets ICMP "fragmentation needed" /
# ICMPv6 "packet too big" from straitd, its kernel's PMTU cache learns 1420 (ip route get
# shows it), and a TCP transfer whose receiver advertises a 1460-byte MSS completes. IPv4
# without DF is fragmented by straitd and arrives whole. Suite 'system'. Needs root,
# wireguard-go, wg, iperf3, ip, ping, python3.
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

export STRAITD=${1:?usage: $0 /path/to/straitd}
RIG_WORK=$(mktemp -d /tmp/straitd_pmtu.XXXXXX)
. "$(dirname "$0")/lib/rig.sh"
trap rig_exit EXIT
rig_require ip wg wireguard-go iperf3 ping python3

tag=m$$
NSA=${tag}a
NSB=${tag}b
VA=${tag}va
VB=${tag}vb
TAP=${tag}tap
IFN=${tag}sd
WG=${tag}wg
rig_on_fail ip -n "$NSA" route show cache
rig_on_fail ip -n "$NSA" -6 route show cache

# B's count of reassembled datagrams: IpReasmOKs (/proc/net/snmp) or Ip6ReasmOKs.
reasm_oks() {
  if [ "$1" = 4 ]; then
    ip netns exec "$NSB" awk '$1 == "Ip:" { if (!h) { for (i = 1; i <= NF; i++) if ($i == "ReasmOKs") c = i; h = 1 } else print $c }' /proc/net/snmp
  else
    ip netns exec "$NSB" awk '$1 == "Ip6ReasmOKs" { print $2 }' /proc/net/snmp6
  fi
}

reasm_above() { [ "$(reasm_oks "$1")" -gt "$2" ]; }

rig_netns_pair "$NSA" "$NSB" "$VA" "$VB" 192.168.79.1/24 192.168.79.2/24
a_pub=$(rig_keypair a)
b_pub=$(rig_keypair b)

# ---- B: wireguard-go with a 1500-byte tun, so that B's TCP advertises MSS 1460; 10.99.2.2
# and .3 are fresh destinations for the later checks, which A's PMTU cache knows nothing about
rig_start_wireguard_go "$NSB" "$WG"
ip netns exec "$NSB" wg set "$WG" private-key "$RIG_WORK/b.key" listen-port 51820 \
  peer "$a_pub" allowed-ips 10.99.1.0/24,fd00:99:1::/64 endpoint 192.168.79.1:51820
rig_inner_up "$NSB" "$WG" - 10.99.2.1/24,10.99.2.2/24,10.99.2.3/24,fd00:99:2::1/64 \
  10.99.1.0/24,fd00:99:1::/64 1500

# ---- A: straitd with tunnel MTU 1420; the tap is then widened to 1500 (a pod network whose
# MTU was not lowered for the tunnel: exactly what PMTU discovery is for)
tap_mac=02:00:00:99:01:01
rig_start_straitd "$NSA" "$IFN" "$VA" "$TAP" 192.168.79.1 "$tap_mac" "$RIG_WORK/a.key" 0 1 \
  --listen-port 51820 --tunnel-mtu 1420 --log-level debug
straitd_pid=$RIG_PID
rig_inner_up "$NSA" "$TAP" "$tap_mac" 10.99.1.1/24,fd00:99:1::1/64 10.99.2.0/24,fd00:99:2::/64 1500
ip netns exec "$NSA" wg set "$IFN" peer "$b_pub" allowed-ips 10.99.2.0/24,fd00:99:2::/64 \
  endpoint 192.168.79.2:51820

# ---- small packets first: the session is up
ip netns exec "$NSA" ping -c 2 -W 5 10.99.2.1 >"$RIG_WORK/ping.log" 2>&1 ||
  { cat "$RIG_WORK/ping.log"; rig_fail "ping A -> B through the tunnel"; }
ip netns exec "$NSA" ping -6 -c 2 -W 5 fd00:99:2::1 >"$RIG_WORK/ping6.log" 2>&1 ||
  { cat "$RIG_WORK/ping6.log"; rig_fail "ping -6 A -> B through the tunnel"; }
echo "ok: tunnel up"

# ---- IPv4 with DF, 1500 bytes: straitd answers "fragmentation needed", mtu 1420
ip netns exec "$NSA" ping -c 1 -W 2 -M do -s 1472 10.99.2.1 >/dev/null 2>&1 || true
ip netns exec "$NSA" ip route get 10.99.2.1 | tee "$RIG_WORK/route4" | grep -q "mtu 1420" ||
  { cat "$RIG_WORK/route4"; rig_fail "A's PMTU cache for 10.99.2.1 does not say mtu 1420"; }
# Now the kernel itself refuses: the local error names the learnt MTU.
if ip netns exec "$NSA" ping -c 1 -W 2 -M do -s 1472 10.99.2.1 >"$RIG_WORK/ping_df.log" 2>&1; then
  rig_fail "a 1500-byte DF ping went through a 1420-byte tunnel"
fi
# ... and packets that fit still pass.
ip netns exec "$NSA" ping -c 1 -W 5 -M do -s 1392 10.99.2.1 >/dev/null 2>&1 ||
  rig_fail "a 1420-byte DF ping did not pass"
echo "ok: IPv4 frag-needed, PMTU 1420 learnt"

# ---- IPv6, 1500 bytes: "packet too big", mtu 1420
ip netns exec "$NSA" ping -6 -c 1 -W 2 -s 1452 fd00:99:2::1 >/dev/null 2>&1 || true
ip netns exec "$NSA" ip -6 route get fd00:99:2::1 | tee "$RIG_WORK/route6" | grep -q "mtu 1420" ||
  { cat "$RIG_WORK/route6"; rig_fail "A's PMTU cache for fd00:99:2::1 does not say mtu 1420"; }
# The kernel now fragments (IPv6 source fragmentation) and B reassembles the request.
before=$(reasm_oks 6)
ip netns exec "$NSA" ping -6 -c 1 -W 2 -s 1452 fd00:99:2::1 >/dev/null 2>&1 || true
rig_wait_for "B to reassemble A's fragmented 1500-byte IPv6 ping" reasm_above 6 "$before"
echo "ok: IPv6 packet-too-big, PMTU 1420 learnt"

# ---- IPv4 without DF, 1500 bytes: straitd fragments it; B reassembles and answers
# (10.99.2.2: a destination without a cached PMTU, so A's kernel sends 1500 bytes whole.)
ip netns exec "$NSA" ip route get 10.99.2.2 | grep -q "mtu 1420" && rig_fail "10.99.2.2 has a PMTU already"
before=$(reasm_oks 4)
ip netns exec "$NSA" ping -c 1 -W 2 -M dont -s 1472 10.99.2.2 >/dev/null 2>&1 || true
rig_wait_for "B to reassemble straitd's fragments of a 1500-byte ping" reasm_above 4 "$before"
echo "ok: IPv4 without DF fragmented by straitd"

# ---- TCP: B advertises MSS 1460, A's first full segments bounce, the transfer completes
ip netns exec "$NSA" ip route get 10.99.2.3 | grep -q "mtu 1420" && rig_fail "10.99.2.3 has a PMTU already"
ip netns exec "$NSB" iperf3 -s -1 -B 10.99.2.3 >"$RIG_WORK/iperf_s.log" 2>&1 &
rig_wait_for "iperf3 server in B" ip netns exec "$NSB" sh -c "ss -ltn | grep -q 10.99.2.3:5201"
ip netns exec "$NSA" iperf3 -c 10.99.2.3 -n 4M >"$RIG_WORK/iperf.log" 2>&1 ||
  { cat "$RIG_WORK/iperf.log"; rig_fail "iperf3 A -> B (4 MiB) with PMTU discovery"; }
grep -E "sender|receiver" "$RIG_WORK/iperf.log"
ip netns exec "$NSA" ip route get 10.99.2.3 | grep -q "mtu 1420" ||
  rig_fail "after the TCP transfer, A's PMTU cache does not say mtu 1420"
echo "ok: TCP transfer with PMTU discovery"

rig_uapi_get "$IFN" | grep -E "too_big" || true

rig_stop_straitd "$straitd_pid"
echo "ok: straitd path MTU"
