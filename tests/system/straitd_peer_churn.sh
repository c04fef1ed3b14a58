#!/usr/bin/env bash
# `wg syncconf` with a changed peer list, 200 times, while ping flows to the peer that stays
# (issue 11 item 1: a change that removes one peer and adds another hands the removed peer's
# id to the new one; the slow path must not free the old peer's blocks under a worker).
# straitd (A) against wireguard-go (B), set up with tests/system/lib/rig.sh. Each change
# drops the oldest of three dummy peers and adds a new one; traffic also goes to the dummies
# (staged: they have no endpoint). Asserts: straitd survives, no ping to B is lost, the final
# configuration is the last file's. Suite 'system'. Needs root, wg, wireguard-go, ping, python3.
#
#   netns A (straitd)                           netns B (wireguard-go)
#   tap 10.96.1.1/24 ── straitd ── veth 192.168.96.1 ─── veth 192.168.96.2 ── wireguard-go
#   dummies: 10.96.100+k.0/24 (no endpoint)                                   tun 10.96.2.1/24
#
# usage: straitd_peer_churn.sh /path/to/straitd
set -euo pipefail

export STRAITD=${1:?usage: $0 /path/to/straitd}
CHANGES=${CHANGES:-200}
RIG_WORK=$(mktemp -d /tmp/straitd_churn.XXXXXX)
. "$(dirname "$0")/lib/rig.sh"
trap rig_exit EXIT
rig_require ip wg wireguard-go ping python3

tag=c$$
NSA=${tag}a
NSB=${tag}b
IFA=${tag}sa
WGB=${tag}wb
rig_netns_pair "$NSA" "$NSB" "${tag}va" "${tag}vb" 192.168.96.1/24 192.168.96.2/24
a_pub=$(rig_keypair a)
b_pub=$(rig_keypair b)
rig_start_wireguard_go "$NSB" "$WGB" 1
ip netns exec "$NSB" wg set "$WGB" private-key "$RIG_WORK/b.key" listen-port 51820 \
  peer "$a_pub" allowed-ips 10.96.1.0/24 endpoint 192.168.96.1:51820
rig_inner_up "$NSB" "$WGB" - 10.96.2.1/24 10.96.1.0/24 1420
rig_start_straitd "$NSA" "$IFA" "${tag}va" "${tag}ta" 192.168.96.1 02:00:00:96:01:01 \
  "$RIG_WORK/a.key" 0 1
rig_inner_up "$NSA" "${tag}ta" 02:00:00:96:01:01 10.96.1.1/24 10.96.0.0/16 1420

# One configuration file per change: B, and dummies i, i+1, i+2 (random public keys; each
# file removes one dummy and adds one, so the new dummy takes the removed one's peer id).
python3 - "$RIG_WORK" "$b_pub" "$(cat "$RIG_WORK/a.key")" "$CHANGES" <<'EOF'
import base64, os, sys
work, b_pub, a_key, changes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
dummies = [base64.b64encode(os.urandom(32)).decode() for _ in range(changes + 3)]
for i in range(changes + 1):
    lines = ["[Interface]", f"PrivateKey = {a_key}", "ListenPort = 51820", "",
             "[Peer]", f"PublicKey = {b_pub}", "AllowedIPs = 10.96.2.0/24",
             "Endpoint = 192.168.96.2:51820", ""]
    for k in range(i, i + 3):
        lines += ["[Peer]", f"PublicKey = {dummies[k]}", f"AllowedIPs = 10.96.{100 + k % 3}.0/24", ""]
    with open(f"{work}/conf{i}", "w") as f:
        f.write("\n".join(lines))
EOF
ip netns exec "$NSA" wg syncconf "$IFA" "$RIG_WORK/conf0"
rig_wait_for "a session with B" ip netns exec "$NSA" ping -c 1 -W 1 10.96.2.1

# Traffic while the peer list changes: pings to B in rounds of 20 (each round's summary is
# complete, so a lost packet is counted, never cut off), and a stream to the dummies.
rm -f "$RIG_WORK/stop"
(
  while [ ! -e "$RIG_WORK/stop" ]; do
    ip netns exec "$NSA" ping -q -c 20 -i 0.005 -W 2 10.96.2.1 || true
  done
) >"$RIG_WORK/ping_b.log" 2>&1 &
pinger=$!
(
  while [ ! -e "$RIG_WORK/stop" ]; do
    ip netns exec "$NSA" ping -q -c 100 -i 0.002 -W 1 10.96.101.7 >/dev/null 2>&1 || true
  done
) &
staged=$!

for i in $(seq 1 "$CHANGES"); do
  ip netns exec "$NSA" wg syncconf "$IFA" "$RIG_WORK/conf$i" ||
    rig_fail "wg syncconf $i was refused"
  kill -0 "$RIG_PID" 2>/dev/null || rig_fail "straitd died during change $i"
done
touch "$RIG_WORK/stop"
wait "$pinger" "$staged"
kill -0 "$RIG_PID" 2>/dev/null || rig_fail "straitd died after the changes"

read -r sent received < <(awk '/packets transmitted/ { s += $1; r += $4 } END { print s + 0, r + 0 }' \
  "$RIG_WORK/ping_b.log")
echo "pings to B during $CHANGES changes: $sent sent, $received received"
[ "$sent" -ge 40 ] || rig_fail "too few pings to B ($sent) ran during the changes"
[ "$received" -eq "$sent" ] || { cat "$RIG_WORK/ping_b.log"; rig_fail "pings to B were lost"; }

# The last file is in force: B and the three newest dummies.
want=$(grep -c '^\[Peer\]' "$RIG_WORK/conf$CHANGES")
have=$(ip netns exec "$NSA" wg show "$IFA" peers | wc -l)
[ "$have" -eq "$want" ] || rig_fail "straitd has $have peers after the changes, the file $want"
for k in $(awk '/PublicKey/ { print $3 }' "$RIG_WORK/conf$CHANGES"); do
  ip netns exec "$NSA" wg show "$IFA" peers | grep -qx "$k" || rig_fail "peer $k missing"
done
rig_stop_straitd "$RIG_PID"
echo "ok: $CHANGES peer-list changes under traffic, no loss to the peer that stays"
