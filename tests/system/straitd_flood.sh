#!/usr/bin/env bash
# Two straitd nodes on AES-256-GCM (as straitd_pair.sh) carry iperf3 while a third namespace
# floods B's tunnel port, ~2 s per kind (docs/STRAITD.md; WireGuard paper section 5.3):
#  (a) handshake initiations with a valid mac1 (the flooder knows B's public key) and random
#      other fields, from 16 addresses and many source ports: B's exception ring fills, the
#      slow path goes under load and answers with cookie replies (counted as
#      handshake_bad_mac2), established sessions keep forwarding;
#  (b) garbage: random bytes (msg_bad_type / msg_bad_length), data headers with unknown
#      receiver indexes (unknown_index), and replays of captured A -> B transport messages
#      (replay);
#  (c) an ARP flood into B's tap (requests for A's pod addresses, which B's slow path answers)
#      plus a non-tunnel UDP flood to B's wire address, while A makes a new handshake with B:
#      handshake messages have their own ring, served first (issue 11), so the handshake
#      completes; the floods are counted by reason (outer_not_tunnel, exception_ring_full).
# Asserts: every iperf3 run completes, the drop counters by reason grew, straitd is still
# running and answers `wg show`. Prints the throughput during each flood next to the
# throughput without one (no assertion on speed). Suite 'system'. Needs root, wg, iperf3, ip,
# python3. Built with the rig of tests/system/lib/rig.sh.
#
#   netns A (straitd A) ─┐
#   netns B (straitd B) ─┼─ bridge in netns X (captures A -> B for the replays)
#   netns C (flooder)   ─┘   192.168.78.1 / .2 / .10-.25
#
# usage: straitd_flood.sh /path/to/straitd
set -euo pipefail

export STRAITD=${1:?usage: $0 /path/to/straitd}
RIG_WORK=$(mktemp -d /tmp/straitd_flood.XXXXXX)
. "$(dirname "$0")/lib/rig.sh"
trap rig_exit EXIT
rig_require ip wg iperf3 python3

tag=f$$
NSA=${tag}a
NSB=${tag}b
NSC=${tag}c
NSX=${tag}x
VA=${tag}va
VB=${tag}vb
VC=${tag}vc
TA=${tag}ta
TB=${tag}tb
IFA=${tag}sa
IFB=${tag}sb
FLOOD_SECONDS=${STRAIT_FLOOD_SECONDS:-2}

# Three namespaces on a bridge in a fourth (not a veth pair: C floods, X captures).
for ns in "$NSA" "$NSB" "$NSC" "$NSX"; do rig_netns "$ns"; done
ip -n "$NSX" link add br0 type bridge
ip -n "$NSX" link set br0 up
for n in a b c; do
  ns=${tag}$n
  ip link add "${tag}v$n" type veth peer name "${tag}x$n"
  ip link set "${tag}v$n" netns "$ns"
  ip link set "${tag}x$n" netns "$NSX"
  ip -n "$NSX" link set "${tag}x$n" master br0
  ip -n "$NSX" link set "${tag}x$n" up
  ip -n "$ns" link set "${tag}v$n" up
done
rig_addr_add "$NSA" "$VA" 192.168.78.1/24
rig_addr_add "$NSB" "$VB" 192.168.78.2/24
for i in $(seq 10 25); do rig_addr_add "$NSC" "$VC" "192.168.78.$i/24"; done

a_pub=$(rig_keypair a)
b_pub=$(rig_keypair b)
rig_start_straitd "$NSA" "$IFA" "$VA" "$TA" 192.168.78.1 02:00:00:98:01:01 "$RIG_WORK/a.key" 0 1
pid_a=$RIG_PID
rig_start_straitd "$NSB" "$IFB" "$VB" "$TB" 192.168.78.2 02:00:00:98:02:01 "$RIG_WORK/b.key" 0 1
pid_b=$RIG_PID
rig_link_straitd_pair "$a_pub" "$b_pub"
ip netns exec "$NSA" ping -c 3 -W 5 10.98.2.1 >/dev/null || rig_fail "ping A -> B"
echo "ok: session up"

ip netns exec "$NSB" iperf3 -s -B 10.98.2.1 >"$RIG_WORK/iperf_s.log" 2>&1 &
rig_wait_for "iperf3 server in B" ip netns exec "$NSB" sh -c "ss -ltn | grep -q 10.98.2.1:5201"

# iperf3 A -> B for 8 s; prints the receiver's Mbit/s.
iperf_run() {
  ip netns exec "$NSA" iperf3 -c 10.98.2.1 -t 8 -J >"$RIG_WORK/iperf_$1.json" 2>&1 ||
    { tail -n 20 "$RIG_WORK/iperf_$1.json"; rig_fail "iperf3 during $1"; }
  python3 -c 'import json,sys; print("%.0f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e6))' "$RIG_WORK/iperf_$1.json"
}

# The flooder: python3 in netns C, for FLOOD_SECONDS after a 2 s delay (iperf3 ramps up first).
flood() {
  ip netns exec "$NSC" python3 - "$1" "$FLOOD_SECONDS" "$b_pub" "$RIG_WORK/captured.bin" <<'PYEOF'
import base64, hashlib, os, random, socket, sys, time
kind, seconds, b_pub, captured = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
time.sleep(2)
socks = []
for i in range(10, 26):
    for _ in range(4):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("192.168.78.%d" % i, 0))  # a new source port per socket
        s.setblocking(False)
        socks.append(s)
dst = ("192.168.78.2", 51820)
msgs = []
if kind == "handshake":
    # WireGuard paper section 5.4.4: mac1 = MAC(HASH("mac1----" || S_pub_responder), msg[0:116]).
    key = hashlib.blake2s(b"mac1----" + base64.b64decode(b_pub)).digest()
    for _ in range(512):
        body = b"\x01\x00\x00\x00" + os.urandom(112)
        mac1 = hashlib.blake2s(body, key=key, digest_size=16).digest()
        msgs.append(body + mac1 + b"\x00" * 16)
else:
    for _ in range(256):
        msgs.append(os.urandom(random.randint(1, 200)))                   # bad type / length
        hdr = b"\x84\x00\x00\x00" + os.urandom(4) + os.urandom(8)         # unknown index
        msgs.append(hdr + os.urandom(16 * random.randint(1, 10) + 16))
    with open(captured, "rb") as f:
        data = f.read()
    pos = 0
    while pos + 2 <= len(data):                                          # replays
        n = int.from_bytes(data[pos:pos + 2], "big")
        msgs.append(data[pos + 2:pos + 2 + n])
        pos += 2 + n
sent = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    for m in msgs:
        try:
            socks[sent % len(socks)].sendto(m, dst)
            sent += 1
        except BlockingIOError:
            pass
print(sent)
PYEOF
}

# Captures A -> B transport messages on the bridge (for the replay flood): UDP payloads with
# first byte 0x84 from A, length-prefixed, into captured.bin (20 of them, or what 10 s bring).
capture() {
  ip netns exec "$NSX" timeout 10 python3 - "${tag}xb" "$RIG_WORK/captured.bin" <<'PYEOF' || true
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
out = open(sys.argv[2], "wb")
got = 0
while got < 20:
    f = s.recv(65535)
    if len(f) < 42 or f[12:14] != b"\x08\x00" or f[23] != 17:
        continue
    ihl = (f[14] & 15) * 4
    udp = 14 + ihl
    if int.from_bytes(f[udp + 2:udp + 4], "big") != 51820 or f[udp + 8] != 0x84:
        continue
    if f[26:30] != bytes([192, 168, 78, 1]):
        continue
    payload = f[udp + 8:udp + int.from_bytes(f[udp + 4:udp + 6], "big")]
    out.write(len(payload).to_bytes(2, "big") + payload)
    out.flush()  # timeout(1) may end us before 20
    got += 1
print(got)
PYEOF
}

base=$(iperf_run baseline)
echo "baseline: $base Mbit/s"

reasons="handshake_bad_mac2 handshake_invalid handshake_rate_limited exception_ring_full msg_bad_type msg_bad_length unknown_index replay"
declare -A before
for r in $reasons; do before[$r]=$(rig_drop_count "$IFB" "$r"); done

flood handshake >"$RIG_WORK/flood_handshake.txt" &
flood_pid=$!
during_hs=$(iperf_run handshake)
wait "$flood_pid" || rig_fail "handshake flooder failed"
echo "during handshake flood ($(cat "$RIG_WORK/flood_handshake.txt") initiations sent): $during_hs Mbit/s"
declare -A mid
for r in $reasons; do mid[$r]=$(rig_drop_count "$IFB" "$r"); done
hs_total=0
for r in handshake_bad_mac2 handshake_invalid handshake_rate_limited exception_ring_full; do
  echo "  $r: +$((mid[$r] - before[$r]))"
  hs_total=$((hs_total + mid[$r] - before[$r]))
done
[ "$hs_total" -gt 0 ] || rig_fail "the handshake flood was not counted"
cookies=$((mid[handshake_bad_mac2] - before[handshake_bad_mac2]))
[ "$cookies" -gt 0 ] || rig_fail "no cookie replies: the under-load mode never engaged"
echo "ok: under load, $cookies initiations answered with cookie replies"

capture >"$RIG_WORK/captured.txt" &
cap_pid=$!
sleep 0.5
ip netns exec "$NSA" ping -c 40 -i 0.05 -W 2 10.98.2.1 >/dev/null || true
wait "$cap_pid" || true
[ -s "$RIG_WORK/captured.bin" ] || rig_fail "captured nothing to replay"
flood garbage >"$RIG_WORK/flood_garbage.txt" &
flood_pid=$!
during_gb=$(iperf_run garbage)
wait "$flood_pid" || rig_fail "garbage flooder failed"
echo "during garbage flood ($(cat "$RIG_WORK/flood_garbage.txt") datagrams sent): $during_gb Mbit/s"
for r in msg_bad_type msg_bad_length unknown_index replay exception_ring_full; do
  now=$(rig_drop_count "$IFB" "$r")
  echo "  $r: +$((now - mid[$r]))"
  if [ "$r" != exception_ring_full ] && [ "$((now - mid[$r]))" -le 0 ]; then
    rig_fail "garbage flood: no $r drops counted"
  fi
done
echo "ok: garbage dropped by reason"

# (c) ARP + non-tunnel UDP floods while A makes a new handshake with B.
declare -A pre
for r in outer_not_tunnel exception_ring_full handshake_ring_full; do pre[$r]=$(rig_drop_count "$IFB" "$r"); done
rm -f "$RIG_WORK/stop"
arp_flood() {
  ip netns exec "$NSB" python3 - "$TB" "$RIG_WORK/stop" <<'PYEOF'
import os, socket, struct, sys, time
iface, stop = sys.argv[1:3]
mac = bytes.fromhex(open(f"/sys/class/net/{iface}/address").read().strip().replace(":", ""))
frames = []
for i in range(2, 254):
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, bytes([10, 98, 2, 1]), bytes(6),
                      bytes([10, 98, 1, i]))
    frames.append(b"\xff" * 6 + mac + b"\x08\x06" + arp)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
end = time.monotonic() + 60
while not os.path.exists(stop) and time.monotonic() < end:
    for f in frames:
        try:
            s.send(f)
        except OSError:
            pass
PYEOF
}
udp_flood() {
  ip netns exec "$NSC" python3 - "$RIG_WORK/stop" <<'PYEOF'
import os, socket, sys, time
stop = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
end = time.monotonic() + 60
while not os.path.exists(stop) and time.monotonic() < end:
    for port in range(9000, 9100):
        try:
            s.sendto(b"not a tunnel packet" * 4, ("192.168.78.2", port))
        except OSError:
            pass
PYEOF
}
arp_flood &
arp_pid=$!
udp_flood &
udp_pid=$!
sleep 1
# A forgets its session with B: the next packet needs a new handshake.
ip netns exec "$NSA" wg set "$IFA" peer "$b_pub" remove || rig_fail "removing B from A"
rig_straitd_peer "$IFA" "$b_pub" 192.168.78.2:51820 10.98.2.0/24 aes256-gcm
rekeyed=
start=$(date +%s)
while [ $(($(date +%s) - start)) -lt 30 ]; do
  if ip netns exec "$NSA" ping -c 1 -W 1 10.98.2.1 >/dev/null 2>&1; then
    rekeyed=$(($(date +%s) - start))
    break
  fi
done
touch "$RIG_WORK/stop"
wait "$arp_pid" "$udp_pid" || true
for r in outer_not_tunnel exception_ring_full handshake_ring_full; do
  echo "  $r: +$(($(rig_drop_count "$IFB" "$r") - pre[$r]))"
done
[ -n "$rekeyed" ] || rig_fail "A's new handshake with B did not complete during the ARP and UDP floods"
echo "ok: a new handshake completed in ${rekeyed} s during the ARP and non-tunnel UDP floods"
[ $(($(rig_drop_count "$IFB" outer_not_tunnel) - pre[outer_not_tunnel])) -gt 0 ] ||
  rig_fail "the non-tunnel UDP flood was not counted (outer_not_tunnel)"
[ $(($(rig_drop_count "$IFB" handshake_ring_full) - pre[handshake_ring_full])) -eq 0 ] ||
  rig_fail "handshakes were dropped as handshake_ring_full during floods of other traffic"

kill -0 "$pid_b" 2>/dev/null || rig_fail "straitd B died"
ip netns exec "$NSB" wg show "$IFB" >/dev/null || rig_fail "straitd B does not answer wg show"
ip netns exec "$NSA" ping -c 2 -W 5 10.98.2.1 >/dev/null || rig_fail "ping A -> B after the floods"
echo "throughput A -> B (Mbit/s): baseline $base, handshake flood $during_hs, garbage flood $during_gb"

rig_stop_straitd "$pid_a"
rig_stop_straitd "$pid_b"
echo "ok: straitd under floods"
