#!/usr/bin/env bash
# Two straitd nodes on AES-256-GCM (strait_cipher, DESIGN.md section 3), each in its own network
# namespace, in the variants straitd_pair.sh does not cover, and the failure cases of the issue
# "straitd: the DPDK poll-mode data plane". Suite 'system'. Needs root, wg, iperf3, ip,
# python3, ping. Built with the rig of tests/system/lib/rig.sh.
#
#   netns A                                        netns B
#   ┌──────────────────────────────────┐          ┌──────────────────────────────────┐
#   │ pod side 10.97.1.1/24            │          │ pod side 10.97.2.1/24            │
#   │   (the tap itself, or the far    │          │                                  │
#   │    end of a veth pair)           │          │                                  │
#   │     ▲ bridge: net_tap | af_xdp   │          │     ▲ bridge: net_tap | af_xdp   │
#   │ straitd A                        │          │ straitd B                        │
#   │     ▼ wire: net_af_packet        │          │     ▼ wire: net_af_packet        │
#   │ veth 192.168.79.1 | fd00:79::1   ├──────────┤ veth 192.168.79.2 | fd00:79::2   │
#   └──────────────────────────────────┘          └──────────────────────────────────┘
#
# Cases (all run by default; name some to run only those):
#   v4-tap v6-tap v4-xdp v6-xdp   outer IPv4/IPv6 x bridge net_tap/net_af_xdp: ping and
#                                 iperf3 (TCP, 2 s) both ways
#   rekey                         steady pings both ways (every 50 / 100 ms, 15 s) across at
#                                 least two rekeys (--test-rekey-after-seconds 3): none lost
#   restart                       kill -9 of B, restart, the same config re-applied (as the
#                                 agent would): ping resumes from B's first packet within a
#                                 bounded wait, and A shows a newer handshake
#   expire (not by default, ~100 s) packets staged for a peer that never answers are dropped
#                                 after REKEY_ATTEMPT_TIME
#
# usage: straitd_pair_matrix.sh /path/to/straitd [case...]
set -euo pipefail

export STRAITD=${1:?usage: $0 /path/to/straitd [case...]}
shift
CASES=("$@")
[ ${#CASES[@]} -gt 0 ] || CASES=(v4-tap v6-tap v4-xdp v6-xdp rekey restart)
RIG_WORK=$(mktemp -d /tmp/straitd_matrix.XXXXXX)
. "$(dirname "$0")/lib/rig.sh"
trap rig_exit EXIT
rig_require ip wg iperf3 ping python3

tag=mx$$
NSA=${tag}a
NSB=${tag}b
VA=${tag}va
VB=${tag}vb
IFA=${tag}sa
IFB=${tag}sb
pid_a=
pid_b=
rig_on_fail ip -n "$NSA" neigh
rig_on_fail ip -n "$NSB" neigh

a_pub=$(rig_keypair a)
b_pub=$(rig_keypair b)

# Per-variant settings, set by setup().
FAMILY=
BRIDGE=
REKEY=
wire_a=
wire_b=

# The bridge of node N (a|b) in namespace NS: the interface straitd is given ("$tag${n}br")
# and, for af_xdp, the pod-side end of the veth ("$tag${n}pod").
bridge_if() { echo "${tag}${1}br"; }
pod_if() { if [ "$BRIDGE" = tap ]; then bridge_if "$1"; else echo "${tag}${1}pod"; fi; }
pod_mac() { if [ "$1" = a ]; then echo 02:00:00:97:01:01; else echo 02:00:00:97:02:01; fi; }

# start N: straitd of node N in the background, its pid in pid_N.
start() {
  local n=$1 ns ifn veth ip pmd=tap
  if [ "$n" = a ]; then ns=$NSA ifn=$IFA veth=$VA ip=$wire_a; else ns=$NSB ifn=$IFB veth=$VB ip=$wire_b; fi
  [ "$BRIDGE" = tap ] || pmd=af_xdp
  local extra=()
  [ -n "$REKEY" ] && extra=(--test-rekey-after-seconds "$REKEY")
  RIG_BRIDGE_PMD=$pmd rig_start_straitd "$ns" "$ifn" "$veth" "$(bridge_if "$n")" "$ip" \
    "$(pod_mac "$n")" "$RIG_WORK/$n.key" 0 1 "${extra[@]}"
  if [ "$n" = a ]; then pid_a=$RIG_PID; else pid_b=$RIG_PID; fi
}

# pod_up N: the pod side of node N, once straitd runs (a tap exists only then). straitd gives
# its bridge port the tunnel MTU (1420); the pod end of a veth must match, or the veth drops
# the pod's full-size frames towards straitd (a tap is the pod side itself).
pod_up() {
  local n=$1 ns inner other
  if [ "$n" = a ]; then ns=$NSA inner=10.97.1.1 other=10.97.2.0/24; else ns=$NSB inner=10.97.2.1 other=10.97.1.0/24; fi
  rig_wait_for "pod side of $n" ip -n "$ns" link show "$(pod_if "$n")"
  rig_inner_up "$ns" "$(pod_if "$n")" "$(pod_mac "$n")" "$inner/24" "$other" 1420
}

# configure N: the peer of node N, as strait-agent (or wg set plus strait_cipher) would.
configure() {
  local n=$1 endpoint
  if [ "$n" = a ]; then endpoint=$wire_b; else endpoint=$wire_a; fi
  [ "$FAMILY" = 6 ] && endpoint="[$endpoint]"
  if [ "$n" = a ]; then
    rig_straitd_peer "$IFA" "$b_pub" "$endpoint:51820" 10.97.2.0/24 aes256-gcm
  else
    rig_straitd_peer "$IFB" "$a_pub" "$endpoint:51820" 10.97.1.0/24 aes256-gcm
  fi
}

# setup FAMILY BRIDGE [REKEY]: fresh namespaces, both straitd running and configured.
setup() {
  FAMILY=$1 BRIDGE=$2 REKEY=${3:-}
  if [ "$FAMILY" = 6 ]; then
    wire_a=fd00:79::1 wire_b=fd00:79::2
    rig_netns_pair "$NSA" "$NSB" "$VA" "$VB" "$wire_a/64" "$wire_b/64"
  else
    wire_a=192.168.79.1 wire_b=192.168.79.2
    rig_netns_pair "$NSA" "$NSB" "$VA" "$VB" "$wire_a/24" "$wire_b/24"
  fi
  if [ "$BRIDGE" = xdp ]; then
    # The bridge port is one end of a veth pair given to straitd over AF_XDP; the other end is
    # the pod (or OVS) side. Offloads off on the pod end: AF_XDP sees the frames as the kernel
    # built them, without a checksum filled in later by the NIC.
    for n in a b; do
      local ns=$NSA
      [ "$n" = b ] && ns=$NSB
      ip -n "$ns" link add "$(bridge_if "$n")" type veth peer name "$(pod_if "$n")"
      ip -n "$ns" link set "$(bridge_if "$n")" up
      ip netns exec "$ns" ethtool -K "$(pod_if "$n")" tx off rx off >/dev/null 2>&1 || true
      ip netns exec "$ns" ethtool -K "$(bridge_if "$n")" tx off rx off >/dev/null 2>&1 || true
    done
  fi
  start a
  start b
  pod_up a
  pod_up b
  configure a
  configure b
}

check_no_auth_drops() {
  for ifn in "$IFA" "$IFB"; do
    for reason in cipher_mismatch auth_failed; do
      local d
      d=$(rig_drop_count "$ifn" "$reason")
      [ "$d" -eq 0 ] || rig_fail "$ifn counted $d $reason drops"
    done
  done
}

# stop_clean: both straitd stop cleanly (exit 0 on SIGTERM), then the namespaces go.
stop_clean() {
  local p
  for p in "$pid_a" "$pid_b"; do
    [ -z "$p" ] || rig_stop_straitd "$p"
  done
  pid_a=
  pid_b=
  rig_cleanup
}


case_variant() { # FAMILY BRIDGE
  setup "$1" "$2"
  ip netns exec "$NSA" ping -c 3 -W 5 10.97.2.1 >/dev/null || rig_fail "ping A -> B"
  ip netns exec "$NSB" ping -c 3 -W 5 10.97.1.1 >/dev/null || rig_fail "ping B -> A"
  rig_iperf "$NSA" "$NSB" 10.97.2.1 2 "A -> B"
  rig_iperf "$NSB" "$NSA" 10.97.1.1 2 "B -> A"
  check_no_auth_drops
  stop_clean
}

case_rekey() {
  setup 4 tap 3
  ip netns exec "$NSA" ping -c 3 -W 5 10.97.2.1 >/dev/null || rig_fail "first ping A -> B"
  local first
  first=$(ip netns exec "$NSA" wg show "$IFA" latest-handshakes | awk '{ print $2 }')
  # 300 echo requests every 50 ms: 15 s, five rekey intervals. A reply may come late while a
  # handshake completes (staged), so -W is generous; only a lost packet fails.
  # At the same time B pings A, so both ends send data when their rekey timers fire and the
  # handshakes may cross.
  ip netns exec "$NSB" ping -q -c 150 -i 0.1 -W 5 10.97.1.1 >"$RIG_WORK/ping_ba.log" 2>&1 &
  local ping_ba=$!
  ip netns exec "$NSA" ping -q -c 300 -i 0.05 -W 5 10.97.2.1 >"$RIG_WORK/ping.log" 2>&1 || true
  wait "$ping_ba" || true
  grep transmitted "$RIG_WORK/ping.log" | sed 's/^/  A -> B /'
  grep transmitted "$RIG_WORK/ping_ba.log" | sed 's/^/  B -> A /'
  grep -q "300 packets transmitted, 300 received" "$RIG_WORK/ping.log" ||
    rig_fail "packets lost across rekeys A -> B: $(grep transmitted "$RIG_WORK/ping.log")"
  grep -q "150 packets transmitted, 150 received" "$RIG_WORK/ping_ba.log" ||
    rig_fail "packets lost across rekeys B -> A: $(grep transmitted "$RIG_WORK/ping_ba.log")"
  local last
  last=$(ip netns exec "$NSA" wg show "$IFA" latest-handshakes | awk '{ print $2 }')
  # Handshake times have one-second resolution: two rekeys 3 s apart move it by >= 3.
  [ "$last" -ge $((first + 3)) ] || rig_fail "fewer than two rekeys during the ping ($first -> $last)"
  check_no_auth_drops
  stop_clean
}

case_restart() {
  setup 4 tap
  ip netns exec "$NSA" ping -c 2 -W 5 10.97.2.1 >/dev/null || rig_fail "ping A -> B before the restart"
  local before
  before=$(ip netns exec "$NSA" wg show "$IFA" latest-handshakes | awk '{ print $2 }')
  # Handshake times are whole seconds: make the new one distinguishable.
  sleep 1.2
  kill -KILL "$pid_b"
  wait "$pid_b" 2>/dev/null || true
  rig_forget "$pid_b"
  pid_b=
  # A stale socket file stays behind after kill -9; straitd must start anyway.
  start b
  pod_up b
  configure b
  # B's first packet starts a handshake (B has no session) and waits staged; A must accept the
  # handshake although it still holds a session with B's previous incarnation, and answer on
  # the new session at once (encap uses the confirmed `next` keypair: B no longer knows the
  # old one). One echo request only, no retry loop or manual step: it must be the one
  # answered, within one REKEY_TIMEOUT (5 s) plus a generous margin.
  local t0 t1
  t0=$(date +%s%N)
  ip netns exec "$NSB" ping -c 1 -W 10 10.97.1.1 >"$RIG_WORK/ping_r.log" 2>&1 ||
    { cat "$RIG_WORK/ping_r.log"; rig_fail "the restarted side's first packet got no reply within 10 s"; }
  t1=$(date +%s%N)
  echo "  first reply after the restart: $(((t1 - t0) / 1000000)) ms"
  rig_uapi_get "$IFB" | grep "strait_drop" | sed "s/^/  B /"
  ip netns exec "$NSA" ping -c 3 -W 5 10.97.2.1 >/dev/null || rig_fail "ping A -> B after the restart"
  local after
  after=$(ip netns exec "$NSA" wg show "$IFA" latest-handshakes | awk '{ print $2 }')
  [ "$after" -gt "$before" ] || rig_fail "A shows no newer handshake ($before -> $after)"
  echo "  handshake on A: $before -> $after"
  check_no_auth_drops
  stop_clean
}

# Opt-in (about 100 s): packets staged for a peer that never answers are dropped after
# REKEY_ATTEMPT_TIME (90 s), counted as no_keypair, and not before.
case_expire() {
  setup 4 tap
  kill -TERM "$pid_b"
  wait "$pid_b" || true
  rig_forget "$pid_b"
  pid_b=
  local d0 d
  d0=$(rig_drop_count "$IFA" no_keypair)
  ip netns exec "$NSA" ping -c 5 -i 0.2 -W 1 10.97.2.1 >/dev/null 2>&1 && rig_fail "ping through a dead peer"
  d=$(rig_drop_count "$IFA" no_keypair)
  [ "$d" -eq "$d0" ] || rig_fail "staged packets dropped at once ($d0 -> $d)"
  for _ in $(seq 1 120); do
    d=$(rig_drop_count "$IFA" no_keypair)
    [ "$d" -ge $((d0 + 5)) ] && break
    sleep 1
  done
  [ "$d" -ge $((d0 + 5)) ] || rig_fail "staged packets not expired after 120 s ($d0 -> $d)"
  echo "  no_keypair drops: $d0 -> $d"
  stop_clean
}

for c in "${CASES[@]}"; do
  RIG_CASE=$c
  case "$c" in
    v4-tap) case_variant 4 tap ;;
    v6-tap) case_variant 6 tap ;;
    v4-xdp) case_variant 4 xdp ;;
    v6-xdp) case_variant 6 xdp ;;
    rekey) case_rekey ;;
    restart) case_restart ;;
    expire) case_expire ;;
    *) echo "unknown case $c"; exit 2 ;;
  esac
  echo "ok: $c"
done
echo "ok: straitd pair matrix (${CASES[*]})"
