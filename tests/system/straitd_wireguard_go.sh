#!/usr/bin/env bash
# straitd against a stock WireGuard peer (wireguard-go), each in its own network namespace,
# configured with the stock wg(8) tool; ping and iperf3 through the tunnel in both directions.
# Suite 'system' (tests/system/meson.build). Needs root, wireguard-go, wg, iperf3, ip.
#
#   netns A (straitd)                                     netns B (wireguard-go)
#   ┌───────────────────────────────────────┐             ┌──────────────────────────────┐
#   │ tap "$TAP" 10.99.1.1/24               │             │ tun "$WG" 10.99.2.1/24       │
#   │   route 10.99.2.0/24 dev $TAP         │             │   route 10.99.1.0/24 dev $WG │
#   │     ▲ net_tap (bridge port)           │             │                              │
#   │ straitd --ifname $IFN                 │             │ wireguard-go, UDP 51820      │
#   │     ▼ net_af_packet (wire port)       │             │                              │
#   │ veth "$VA" 192.168.77.1/24            ├─────────────┤ veth "$VB" 192.168.77.2/24   │
#   └───────────────────────────────────────┘             └──────────────────────────────┘
#
# The kernel of A keeps 192.168.77.1 on the veth: it answers B's ARP for it and resolves B's
# address for straitd (straitd reads A's neighbour table; dataplane/straitd/README.md).
#
# usage: straitd_wireguard_go.sh /path/to/straitd [/path/to/strait-ctl]
set -euo pipefail

export STRAITD=${1:?usage: $0 /path/to/straitd [/path/to/strait-ctl]}
STRAIT_CTL=${2:-}
RIG_WORK=$(mktemp -d /tmp/straitd_system.XXXXXX)
. "$(dirname "$0")/lib/rig.sh"
trap rig_exit EXIT
rig_require ip wg wireguard-go iperf3 ping curl

tag=s$$
NSA=${tag}a
NSB=${tag}b
VA=${tag}va
VB=${tag}vb
TAP=${tag}tap
IFN=${tag}sd
WG=${tag}wg
rig_on_fail ip netns exec "$NSA" wg show "$IFN"
rig_on_fail ip netns exec "$NSB" wg show "$WG"
rig_on_fail ip netns exec "$NSA" ip neigh

rig_netns_pair "$NSA" "$NSB" "$VA" "$VB" 192.168.77.1/24 192.168.77.2/24
a_pub=$(rig_keypair a)
b_pub=$(rig_keypair b)

# ---- B: wireguard-go
rig_start_wireguard_go "$NSB" "$WG" "" verbose
ip netns exec "$NSB" wg set "$WG" private-key "$RIG_WORK/b.key" listen-port 51820 \
  peer "$a_pub" allowed-ips 10.99.1.0/24 endpoint 192.168.77.1:51820
rig_inner_up "$NSB" "$WG" - 10.99.2.1/24 10.99.1.0/24 1420

# ---- A: straitd. The tap's kernel side gets a fixed MAC that straitd writes as the
# destination of decrypted packets (--bridge-mac-mode fixed).
tap_mac=02:00:00:99:01:01
rig_start_straitd "$NSA" "$IFN" "$VA" "$TAP" 192.168.77.1 "$tap_mac" "$RIG_WORK/a.key" 0 1 \
  --listen-port 51820 --log-level debug --metrics-listen 127.0.0.1:9478 --log-format json
straitd_pid=$RIG_PID
rig_inner_up "$NSA" "$TAP" "$tap_mac" 10.99.1.1/24 10.99.2.0/24 1420
ip netns exec "$NSA" wg set "$IFN" peer "$b_pub" allowed-ips 10.99.2.0/24 \
  endpoint 192.168.77.2:51820

# ---- straitd's /healthz (ports up, slow path answering) and /metrics (dataplane/straitd/README.md)
scrape() { ip netns exec "$NSA" curl -s --max-time 5 "http://127.0.0.1:9478$1"; }
# metric NAME{LABELS}: the value of that exact series
metric() { scrape /metrics | awk -v m="$1" '$1 == m {print $2}'; }
rig_wait_for "straitd's /healthz to answer ok" sh -c "ip netns exec $NSA curl -sf --max-time 5 http://127.0.0.1:9478/healthz | grep -qx ok"
scrape /metrics >"$RIG_WORK/metrics0.txt"
for series in 'strait_build_info{component="straitd",version=' 'strait_port_rx_packets_total{port="wire"}' \
    'strait_port_tx_packets_total{port="bridge"}' 'strait_port_rx_missed_total{port="wire"}' \
    'strait_port_rx_nombuf_total{port="wire"}' 'strait_lcore_polls_total{lcore="1",role="worker"}' \
    'strait_mempool_mbufs_in_use{' 'strait_drops_total{reason="no_route"}' \
    'strait_drops_total{reason="replay"}' 'strait_uapi_up 1'; do
  grep -qF "$series" "$RIG_WORK/metrics0.txt" || { cat "$RIG_WORK/metrics0.txt"; rig_fail "straitd's /metrics has no $series"; }
done
echo "ok: straitd /healthz and /metrics"
wire_rx0=$(metric 'strait_port_rx_packets_total{port="wire"}')

# ---- ping both ways (A initiates the handshake, then B answers on the session)
ip netns exec "$NSA" ping -c 3 -W 5 10.99.2.1 >"$RIG_WORK/ping_ab.log" 2>&1 ||
  { cat "$RIG_WORK/ping_ab.log"; rig_fail "ping A -> B through the tunnel"; }
ip netns exec "$NSB" ping -c 3 -W 5 10.99.1.1 >"$RIG_WORK/ping_ba.log" 2>&1 ||
  { cat "$RIG_WORK/ping_ba.log"; rig_fail "ping B -> A through the tunnel"; }
echo "ok: ping both ways"

# ---- the handshake is visible to wg(8) on both sides
ip netns exec "$NSA" wg show "$IFN" latest-handshakes | grep -q "$b_pub"$'\t'"[1-9]" ||
  rig_fail "straitd reports no handshake with wireguard-go"
ip netns exec "$NSB" wg show "$WG" latest-handshakes | grep -q "$a_pub"$'\t'"[1-9]" ||
  rig_fail "wireguard-go reports no handshake with straitd"

# ---- wg show on straitd: the peer, a recent handshake (seconds since the epoch, within the
# last REJECT_AFTER_TIME of 180 s), and the transfer counters read before the traffic below
ip netns exec "$NSA" wg show "$IFN" | grep -q "peer: $b_pub" || rig_fail "wg show lists no peer"
hs=$(ip netns exec "$NSA" wg show "$IFN" latest-handshakes | awk -v k="$b_pub" '$1 == k { print $2 }')
now=$(date +%s)
[ -n "$hs" ] && [ "$hs" -gt $((now - 180)) ] && [ "$hs" -le $((now + 1)) ] ||
  rig_fail "straitd's latest handshake ($hs) is not recent (now $now)"
read -r rx0 tx0 < <(ip netns exec "$NSA" wg show "$IFN" transfer | awk -v k="$b_pub" '$1 == k { print $2, $3 }')

# ---- iperf3 both ways (a few seconds of TCP; throughput is perf/'s business, not asserted)
rig_iperf "$NSA" "$NSB" 10.99.2.1 3 "A -> B"
rig_iperf "$NSB" "$NSA" 10.99.1.1 3 "B -> A"
echo "ok: iperf3 both ways"

# ---- transfer counters grew on straitd's side across the iperf3 runs (both directions carried
# megabytes; the workers' counts are summed in, dataplane/straitd/README.md "Observing it")
read -r rx1 tx1 < <(ip netns exec "$NSA" wg show "$IFN" transfer | awk -v k="$b_pub" '$1 == k { print $2, $3 }')
[ "$rx1" -gt $((rx0 + 1000000)) ] && [ "$tx1" -gt $((tx0 + 1000000)) ] ||
  rig_fail "straitd's transfer counters did not grow with the traffic (rx $rx0 -> $rx1, tx $tx0 -> $tx1)"
echo "ok: wg show: recent handshake, transfer rx $rx0 -> $rx1, tx $tx0 -> $tx1"

# ---- straitd's /metrics moved with the traffic: the wire port's packets, the worker's busy
# fraction is a fraction (a second scrape has a previous one to measure against)
wire_rx1=$(metric 'strait_port_rx_packets_total{port="wire"}')
awk -v a="$wire_rx0" -v b="$wire_rx1" 'BEGIN { exit !(b > a + 1000) }' ||
  rig_fail "strait_port_rx_packets_total{port=\"wire\"} did not grow ($wire_rx0 -> $wire_rx1)"
busy=$(metric 'strait_lcore_busy_ratio{lcore="1",role="worker"}')
awk -v b="$busy" 'BEGIN { exit !(b != "" && b >= 0 && b <= 1) }' ||
  rig_fail "strait_lcore_busy_ratio of the worker is not a fraction: '$busy'"
# The handshake A initiated with wireguard-go is in straitd's message counters.
hs_sent=$(metric 'strait_handshake_messages_total{direction="sent",type="initiation"}')
hs_answered=$(metric 'strait_handshake_messages_total{direction="received",type="response"}')
hs_done=$(metric 'strait_handshakes_completed_total')
for v in "$hs_sent" "$hs_answered" "$hs_done"; do
  awk -v v="$v" 'BEGIN { exit !(v != "" && v >= 1) }' ||
    rig_fail "straitd's /metrics counts no handshake (initiations sent '$hs_sent', responses received '$hs_answered', completed '$hs_done')"
done
[ "$(metric strait_under_load)" = 0 ] || rig_fail "strait_under_load is not 0 on an idle device"
echo "ok: straitd /metrics: wire rx packets $wire_rx0 -> $wire_rx1, worker busy $busy, handshakes $hs_sent sent / $hs_done completed"

# ---- strait-ctl: the strait_ keys wg(8) skips (dataplane/uapi/UAPI.md, "strait-ctl")
if [ -n "$STRAIT_CTL" ]; then
  "$STRAIT_CTL" "$IFN" show >"$RIG_WORK/ctl_show.txt" || rig_fail "strait-ctl show"
  grep -qx "peer: $b_pub" "$RIG_WORK/ctl_show.txt" && grep -qx "  cipher: chacha20-poly1305" "$RIG_WORK/ctl_show.txt" ||
    { cat "$RIG_WORK/ctl_show.txt"; rig_fail "strait-ctl show: no peer $b_pub with cipher chacha20-poly1305"; }
  grep -qE "^  packets: [1-9][0-9]* received, [1-9][0-9]* sent$" "$RIG_WORK/ctl_show.txt" ||
    { cat "$RIG_WORK/ctl_show.txt"; rig_fail "strait-ctl show: no packet counts"; }
  "$STRAIT_CTL" "$IFN" drops --all >"$RIG_WORK/ctl_drops.txt" || rig_fail "strait-ctl drops"
  grep -qP '^no_route\t[0-9]+$' "$RIG_WORK/ctl_drops.txt" || { cat "$RIG_WORK/ctl_drops.txt"; rig_fail "strait-ctl drops --all: no no_route line"; }
  "$STRAIT_CTL" "$IFN" set-cipher "$b_pub" aes256-gcm || rig_fail "strait-ctl set-cipher"
  "$STRAIT_CTL" "$IFN" show | grep -qx "  cipher: aes256-gcm" || rig_fail "strait-ctl set-cipher did not change strait_cipher"
  unknown=$(wg genkey | wg pubkey)
  rc=0
  "$STRAIT_CTL" "$IFN" set-cipher "$unknown" aes256-gcm 2>"$RIG_WORK/ctl_err.txt" || rc=$?
  [ "$rc" -eq 1 ] && grep -q "no peer $unknown" "$RIG_WORK/ctl_err.txt" ||
    rig_fail "strait-ctl set-cipher of an unknown peer: exit $rc, $(cat "$RIG_WORK/ctl_err.txt")"
  ip netns exec "$NSA" wg show "$IFN" peers | grep -qx "$b_pub" || rig_fail "the peer is gone after set-cipher"
  echo "ok: strait-ctl show, drops, set-cipher"
fi

# ---- clean stop
rig_stop_straitd "$straitd_pid"
[ ! -e "/var/run/wireguard/$IFN.sock" ] || rig_fail "straitd left its socket behind"

# ---- --log-format json: every line straitd wrote (DPDK's included) is one JSON object with
# an ISO 8601 UTC timestamp, a level and a message
python3 - "$RIG_WORK/straitd_$IFN.log" <<'PY' || rig_fail "straitd's log is not one JSON object per line"
import json, re, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
assert lines, "empty log"
for n, line in enumerate(lines, 1):
    r = json.loads(line)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", r["ts"]), (n, r)
    assert r["level"] and isinstance(r["msg"], str), (n, r)
assert any(r.startswith('{"ts"') and '"msg":"dpdk: ' in r for r in lines), "no DPDK line"
assert any('running' in json.loads(l)["msg"] for l in lines), "no start-up record"
print(f"ok: {len(lines)} log lines, each one JSON object")
PY
echo "ok: straitd <-> wireguard-go"
