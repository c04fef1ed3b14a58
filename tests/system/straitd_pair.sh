#!/usr/bin/env bash
# Two straitd nodes, each in its own network namespace, on AES-256-GCM transport (the strait
# extension key strait_cipher, DESIGN.md section 3), with a shortened rekey interval so that
# keypair rotation happens under traffic: ping and iperf3 through the tunnel both ways, a
# handshake newer than the first one after the rekey interval, and no cipher or
# authentication drops. Suite 'system'. Needs root, wg, iperf3, ip, python3. Built with the
# rig of tests/system/lib/rig.sh.
#
#   netns A                                              netns B
#   ┌────────────────────────────────────┐               ┌────────────────────────────────────┐
#   │ tap "$TA" 10.98.1.1/24             │               │ tap "$TB" 10.98.2.1/24             │
#   │   route 10.98.2.0/24 dev $TA       │               │   route 10.98.1.0/24 dev $TB       │
#   │     ▲ net_tap                      │               │     ▲ net_tap                      │
#   │ straitd A (aes256-gcm to B)        │               │ straitd B (aes256-gcm to A)        │
#   │     ▼ net_af_packet                │               │     ▼ net_af_packet                │
#   │ veth "$VA" 192.168.78.1/24         ├───────────────┤ veth "$VB" 192.168.78.2/24         │
#   └────────────────────────────────────┘               └────────────────────────────────────┘
#
# usage: straitd_pair.sh /path/to/straitd
set -euo pipefail

export STRAITD=${1:?usage: $0 /path/to/straitd}
RIG_WORK=$(mktemp -d /tmp/straitd_pair.XXXXXX)
. "$(dirname "$0")/lib/rig.sh"
trap rig_exit EXIT
rig_require ip wg iperf3 ping python3

tag=p$$
NSA=${tag}a
NSB=${tag}b
VA=${tag}va
VB=${tag}vb
TA=${tag}ta
TB=${tag}tb
IFA=${tag}sa
IFB=${tag}sb
REKEY=4

rig_netns_pair "$NSA" "$NSB" "$VA" "$VB" 192.168.78.1/24 192.168.78.2/24
a_pub=$(rig_keypair a)
b_pub=$(rig_keypair b)
rig_start_straitd "$NSA" "$IFA" "$VA" "$TA" 192.168.78.1 02:00:00:98:01:01 "$RIG_WORK/a.key" 0 1 \
  --test-rekey-after-seconds "$REKEY"
pid_a=$RIG_PID
rig_start_straitd "$NSB" "$IFB" "$VB" "$TB" 192.168.78.2 02:00:00:98:02:01 "$RIG_WORK/b.key" 0 1 \
  --test-rekey-after-seconds "$REKEY"
pid_b=$RIG_PID
rig_link_straitd_pair "$a_pub" "$b_pub"

ip netns exec "$NSA" ping -c 3 -W 5 10.98.2.1 >/dev/null || rig_fail "ping A -> B"
ip netns exec "$NSB" ping -c 3 -W 5 10.98.1.1 >/dev/null || rig_fail "ping B -> A"
echo "ok: ping both ways on aes256-gcm"
ip netns exec "$NSA" wg show "$IFA" | grep -q "latest handshake" || rig_fail "A shows no handshake"
first=$(ip netns exec "$NSA" wg show "$IFA" latest-handshakes | awk '{ print $2 }')

# Traffic across several rekey intervals: the session rotates under it.
rig_iperf "$NSA" "$NSB" 10.98.2.1 $((REKEY * 3)) "A -> B across rekeys"
rig_iperf "$NSB" "$NSA" 10.98.1.1 3 "B -> A"
echo "ok: iperf3 both ways"

last=$(ip netns exec "$NSA" wg show "$IFA" latest-handshakes | awk '{ print $2 }')
[ "$last" -gt "$first" ] || rig_fail "no new handshake after ${REKEY}s rekey intervals ($first -> $last)"
echo "ok: rekeyed under traffic ($first -> $last)"
ip netns exec "$NSA" ping -c 2 -W 5 10.98.2.1 >/dev/null || rig_fail "ping A -> B after rekeys"

for ifn in "$IFA" "$IFB"; do
  for reason in cipher_mismatch auth_failed; do
    n=$(rig_drop_count "$ifn" "$reason")
    [ "$n" -eq 0 ] || rig_fail "$ifn counted $n $reason drops"
  done
done
echo "ok: no cipher_mismatch or auth_failed drops"

rig_stop_straitd "$pid_a"
rig_stop_straitd "$pid_b"
echo "ok: two straitd on aes256-gcm"
