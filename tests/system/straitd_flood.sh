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
# python3.
#
#   netns A (straitd A) ─┐
#   netns B (straitd B) ─┼─ bridge in netns X (captures A -> B for the replays)
#   netns C (flooder)   ─┘   192.168.78.1 / .2 / .10-.25
#
# usage: straitd_flood.sh /path/to/straitd
set -euo pipefail

STRAITD=${1:?usage: $0 /path/to/straitd}
for tool in ip wg iperf3 python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool not installed"
    exit 77
  fi
done

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
work=$(mktemp -d /tmp/straitd_flood.XXXXXX)
pid_a=
pid_b=

cleanup() {
  set +e
  [ -n "$pid_a" ] && kill -TERM "$pid_a" 2>/dev/null && wait "$pid_a" 2>/dev/null
  [ -n "$pid_b" ] && kill -TERM "$pid_b" 2>/dev/null && wait "$pid_b" 2>/dev/null
  ip netns pids "$NSA" 2>/dev/null | xargs -r kill 2>/dev/null
  ip netns pids "$NSB" 2>/dev/null | xargs -r kill 2>/dev/null
  for ns in "$NSA" "$NSB" "$NSC" "$NSX"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT

# get=1 or set=1 over a UAPI socket, the raw text (wg(8) does not know strait_ keys).
uapi() {
  python3 - "$1" "$2" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n\n")
reply = b""
while not reply.endswith(b"\n\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    reply += chunk
print(reply.decode(), end="")
EOF
}
hex_of() { python3 -c 'import base64,sys; print(base64.b64decode(sys.argv[1]).hex())' "$1"; }
drop_count() { uapi "/var/run/wireguard/$1.sock" "get=1" | awk -F= -v k="strait_drop_$2" '$1 == k { n += $2 } END { print n + 0 }'; }

fail() {
  echo "FAIL: $*"
  for n in a b; do
    echo "---- straitd $n log (last lines)"
    tail -n 40 "$work/straitd_$n.log" 2>/dev/null
  done
  echo "---- UAPI A"
  uapi "/var/run/wireguard/$IFA.sock" "get=1" 2>&1
  echo "---- UAPI B"
  uapi "/var/run/wireguard/$IFB.sock" "get=1" 2>&1
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

for ns in "$NSA" "$NSB" "$NSC" "$NSX"; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
done
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
ip -n "$NSA" addr add 192.168.78.1/24 dev "$VA"
ip -n "$NSB" addr add 192.168.78.2/24 dev "$VB"
for i in $(seq 10 25); do ip -n "$NSC" addr add "192.168.78.$i/24" dev "$VC"; done

(umask 077; wg genkey >"$work/a.key"; wg genkey >"$work/b.key")
b_pub=$(wg pubkey <"$work/b.key")
a_hex=$(hex_of "$(wg pubkey <"$work/a.key")")
b_hex=$(hex_of "$b_pub")

# start NS IFNAME VETH TAP WIRE_IP TAP_MAC KEY LOG
start() {
  ip netns exec "$1" "$STRAITD" --ifname "$2" --file-prefix "$2" --no-huge -m 512 \
    --lcores 1 --main-lcore 0 --wire "net_af_packet_$2,iface=$3,qpairs=1" \
    --bridge "net_tap_$2,iface=$4" --wire-ip "$5" --private-key-file "$7" \
    --bridge-mac-mode fixed --bridge-dst-mac "$6" >"$8" 2>&1 &
}
start "$NSA" "$IFA" "$VA" "$TA" 192.168.78.1 02:00:00:98:01:01 "$work/a.key" "$work/straitd_a.log"
pid_a=$!
start "$NSB" "$IFB" "$VB" "$TB" 192.168.78.2 02:00:00:98:02:01 "$work/b.key" "$work/straitd_b.log"
pid_b=$!
wait_for "straitd A" test -S "/var/run/wireguard/$IFA.sock"
wait_for "straitd B" test -S "/var/run/wireguard/$IFB.sock"
wait_for "tap of A" ip -n "$NSA" link show "$TA"
wait_for "tap of B" ip -n "$NSB" link show "$TB"

ip -n "$NSA" link set "$TA" address 02:00:00:98:01:01
ip -n "$NSA" addr add 10.98.1.1/24 dev "$TA"
ip -n "$NSA" link set "$TA" up
ip -n "$NSA" route add 10.98.2.0/24 dev "$TA"
ip -n "$NSB" link set "$TB" address 02:00:00:98:02:01
ip -n "$NSB" addr add 10.98.2.1/24 dev "$TB"
ip -n "$NSB" link set "$TB" up
ip -n "$NSB" route add 10.98.1.0/24 dev "$TB"

uapi "/var/run/wireguard/$IFA.sock" "set=1
public_key=$b_hex
endpoint=192.168.78.2:51820
allowed_ip=10.98.2.0/24
strait_cipher=aes256-gcm" | grep -q "errno=0" || fail "configuring A"
uapi "/var/run/wireguard/$IFB.sock" "set=1
public_key=$a_hex
endpoint=192.168.78.1:51820
allowed_ip=10.98.1.0/24
strait_cipher=aes256-gcm" | grep -q "errno=0" || fail "configuring B"
ip netns exec "$NSA" ping -c 3 -W 5 10.98.2.1 >/dev/null || fail "ping A -> B"
echo "ok: session up"

ip netns exec "$NSB" iperf3 -s -B 10.98.2.1 >"$work/iperf_s.log" 2>&1 &
wait_for "iperf3 server in B" ip netns exec "$NSB" sh -c "ss -ltn | grep -q 10.98.2.1:5201"

# iperf3 A -> B for 8 s; prints the receiver's Mbit/s.
iperf_run() {
  ip netns exec "$NSA" iperf3 -c 10.98.2.1 -t 8 -J >"$work/iperf_$1.json" 2>&1 ||
    { tail -n 20 "$work/iperf_$1.json"; fail "iperf3 during $1"; }
  python3 -c 'import json,sys; print("%.0f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e6))' "$work/iperf_$1.json"
}

# The flooder: python3 in netns C, for FLOOD_SECONDS after a 2 s delay (iperf3 ramps up first).
flood() {
  ip netns exec "$NSC" python3 - "$1" "$FLOOD_SECONDS" "$b_pub" "$work/captured.bin" <<'PYEOF'
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
  ip netns exec "$NSX" timeout 10 python3 - "${tag}xb" "$work/captured.bin" <<'PYEOF' || true
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
for r in $reasons; do before[$r]=$(drop_count "$IFB" "$r"); done

flood handshake >"$work/flood_handshake.txt" &
flood_pid=$!
during_hs=$(iperf_run handshake)
wait "$flood_pid" || fail "handshake flooder failed"
echo "during handshake flood ($(cat "$work/flood_handshake.txt") initiations sent): $during_hs Mbit/s"
declare -A mid
for r in $reasons; do mid[$r]=$(drop_count "$IFB" "$r"); done
hs_total=0
for r in handshake_bad_mac2 handshake_invalid handshake_rate_limited exception_ring_full; do
  echo "  $r: +$((mid[$r] - before[$r]))"
  hs_total=$((hs_total + mid[$r] - before[$r]))
done
[ "$hs_total" -gt 0 ] || fail "the handshake flood was not counted"
cookies=$((mid[handshake_bad_mac2] - before[handshake_bad_mac2]))
[ "$cookies" -gt 0 ] || fail "no cookie replies: the under-load mode never engaged"
echo "ok: under load, $cookies initiations answered with cookie replies"

capture >"$work/captured.txt" &
cap_pid=$!
sleep 0.5
ip netns exec "$NSA" ping -c 40 -i 0.05 -W 2 10.98.2.1 >/dev/null || true
wait "$cap_pid" || true
[ -s "$work/captured.bin" ] || fail "captured nothing to replay"
flood garbage >"$work/flood_garbage.txt" &
flood_pid=$!
during_gb=$(iperf_run garbage)
wait "$flood_pid" || fail "garbage flooder failed"
echo "during garbage flood ($(cat "$work/flood_garbage.txt") datagrams sent): $during_gb Mbit/s"
for r in msg_bad_type msg_bad_length unknown_index replay exception_ring_full; do
  now=$(drop_count "$IFB" "$r")
  echo "  $r: +$((now - mid[$r]))"
  if [ "$r" != exception_ring_full ] && [ "$((now - mid[$r]))" -le 0 ]; then
    fail "garbage flood: no $r drops counted"
  fi
done
echo "ok: garbage dropped by reason"

# (c) ARP + non-tunnel UDP floods while A makes a new handshake with B.
declare -A pre
for r in outer_not_tunnel exception_ring_full handshake_ring_full; do pre[$r]=$(drop_count "$IFB" "$r"); done
rm -f "$work/stop"
arp_flood() {
  ip netns exec "$NSB" python3 - "$TB" "$work/stop" <<'PYEOF'
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
  ip netns exec "$NSC" python3 - "$work/stop" <<'PYEOF'
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
uapi "/var/run/wireguard/$IFA.sock" "set=1
public_key=$b_hex
remove=true" | grep -q "errno=0" || fail "removing B from A"
uapi "/var/run/wireguard/$IFA.sock" "set=1
public_key=$b_hex
endpoint=192.168.78.2:51820
allowed_ip=10.98.2.0/24
strait_cipher=aes256-gcm" | grep -q "errno=0" || fail "adding B to A again"
rekeyed=
start=$(date +%s)
while [ $(($(date +%s) - start)) -lt 30 ]; do
  if ip netns exec "$NSA" ping -c 1 -W 1 10.98.2.1 >/dev/null 2>&1; then
    rekeyed=$(($(date +%s) - start))
    break
  fi
done
touch "$work/stop"
wait "$arp_pid" "$udp_pid" || true
for r in outer_not_tunnel exception_ring_full handshake_ring_full; do
  echo "  $r: +$(($(drop_count "$IFB" "$r") - pre[$r]))"
done
[ -n "$rekeyed" ] || fail "A's new handshake with B did not complete during the ARP and UDP floods"
echo "ok: a new handshake completed in ${rekeyed} s during the ARP and non-tunnel UDP floods"
[ $(($(drop_count "$IFB" outer_not_tunnel) - pre[outer_not_tunnel])) -gt 0 ] ||
  fail "the non-tunnel UDP flood was not counted (outer_not_tunnel)"
[ $(($(drop_count "$IFB" handshake_ring_full) - pre[handshake_ring_full])) -eq 0 ] ||
  fail "handshakes were dropped as handshake_ring_full during floods of other traffic"

kill -0 "$pid_b" 2>/dev/null || fail "straitd B died"
ip netns exec "$NSB" wg show "$IFB" >/dev/null || fail "straitd B does not answer wg show"
ip netns exec "$NSA" ping -c 2 -W 5 10.98.2.1 >/dev/null || fail "ping A -> B after the floods"
echo "throughput A -> B (Mbit/s): baseline $base, handshake flood $during_hs, garbage flood $during_gb"

for p in "$pid_a" "$pid_b"; do
  kill -TERM "$p"
  rc=0
  wait "$p" || rc=$?
  [ "$rc" -eq 0 ] || fail "straitd exited with $rc on SIGTERM"
done
pid_a=
pid_b=
echo "ok: straitd under floods"
