#!/usr/bin/env bash
# Two straitd nodes, each in its own network namespace, on AES-256-GCM transport (the strait
# extension key strait_cipher, DESIGN.md section 3), with a shortened rekey interval so that
# keypair rotation happens under traffic: ping and iperf3 through the tunnel both ways, a
# handshake newer than the first one after the rekey interval, and no cipher or
# authentication drops. Suite 'system'. Needs root, wg, iperf3, ip, python3.
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

STRAITD=${1:?usage: $0 /path/to/straitd}
for tool in ip wg iperf3 ping python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool not installed"
    exit 77
  fi
done

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
work=$(mktemp -d /tmp/straitd_pair.XXXXXX)
pid_a=
pid_b=

cleanup() {
  set +e
  [ -n "$pid_a" ] && kill -TERM "$pid_a" 2>/dev/null && wait "$pid_a" 2>/dev/null
  [ -n "$pid_b" ] && kill -TERM "$pid_b" 2>/dev/null && wait "$pid_b" 2>/dev/null
  ip netns pids "$NSA" 2>/dev/null | xargs -r kill 2>/dev/null
  ip netns pids "$NSB" 2>/dev/null | xargs -r kill 2>/dev/null
  ip netns del "$NSA" 2>/dev/null
  ip netns del "$NSB" 2>/dev/null
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

ip netns add "$NSA"
ip netns add "$NSB"
ip link add "$VA" type veth peer name "$VB"
ip link set "$VA" netns "$NSA"
ip link set "$VB" netns "$NSB"
for ns in "$NSA" "$NSB"; do ip -n "$ns" link set lo up; done
ip -n "$NSA" addr add 192.168.78.1/24 dev "$VA"
ip -n "$NSB" addr add 192.168.78.2/24 dev "$VB"
ip -n "$NSA" link set "$VA" up
ip -n "$NSB" link set "$VB" up

(umask 077; wg genkey >"$work/a.key"; wg genkey >"$work/b.key")
a_hex=$(hex_of "$(wg pubkey <"$work/a.key")")
b_hex=$(hex_of "$(wg pubkey <"$work/b.key")")

# start NS IFNAME VETH TAP WIRE_IP TAP_MAC KEY LOG
start() {
  ip netns exec "$1" "$STRAITD" --ifname "$2" --file-prefix "$2" --no-huge -m 512 \
    --lcores 1 --main-lcore 0 --wire "net_af_packet_$2,iface=$3,qpairs=1" \
    --bridge "net_tap_$2,iface=$4" --wire-ip "$5" --private-key-file "$7" \
    --bridge-mac-mode fixed --bridge-dst-mac "$6" --test-rekey-after-seconds "$REKEY" \
    >"$8" 2>&1 &
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
ip netns exec "$NSB" ping -c 3 -W 5 10.98.1.1 >/dev/null || fail "ping B -> A"
echo "ok: ping both ways on aes256-gcm"
ip netns exec "$NSA" wg show "$IFA" | grep -q "latest handshake" || fail "A shows no handshake"
first=$(ip netns exec "$NSA" wg show "$IFA" latest-handshakes | awk '{ print $2 }')

# Traffic across several rekey intervals: the session rotates under it.
ip netns exec "$NSB" iperf3 -s -1 -B 10.98.2.1 >"$work/iperf_s1.log" 2>&1 &
wait_for "iperf3 server in B" ip netns exec "$NSB" sh -c "ss -ltn | grep -q 10.98.2.1:5201"
ip netns exec "$NSA" iperf3 -c 10.98.2.1 -t $((REKEY * 3)) >"$work/iperf_ab.log" 2>&1 ||
  { cat "$work/iperf_ab.log"; fail "iperf3 A -> B across rekeys"; }
grep -E "sender|receiver" "$work/iperf_ab.log"
ip netns exec "$NSA" iperf3 -s -1 -B 10.98.1.1 >"$work/iperf_s2.log" 2>&1 &
wait_for "iperf3 server in A" ip netns exec "$NSA" sh -c "ss -ltn | grep -q 10.98.1.1:5201"
ip netns exec "$NSB" iperf3 -c 10.98.1.1 -t 3 >"$work/iperf_ba.log" 2>&1 ||
  { cat "$work/iperf_ba.log"; fail "iperf3 B -> A"; }
grep -E "sender|receiver" "$work/iperf_ba.log"
echo "ok: iperf3 both ways"

last=$(ip netns exec "$NSA" wg show "$IFA" latest-handshakes | awk '{ print $2 }')
[ "$last" -gt "$first" ] || fail "no new handshake after ${REKEY}s rekey intervals ($first -> $last)"
echo "ok: rekeyed under traffic ($first -> $last)"
ip netns exec "$NSA" ping -c 2 -W 5 10.98.2.1 >/dev/null || fail "ping A -> B after rekeys"

for ifn in "$IFA" "$IFB"; do
  for reason in cipher_mismatch auth_failed; do
    n=$(drop_count "$ifn" "$reason")
    [ "$n" -eq 0 ] || fail "$ifn counted $n $reason drops"
  done
done
echo "ok: no cipher_mismatch or auth_failed drops"

for p in "$pid_a" "$pid_b"; do
  kill -TERM "$p"
  rc=0
  wait "$p" || rc=$?
  [ "$rc" -eq 0 ] || fail "straitd exited with $rc on SIGTERM"
done
pid_a=
pid_b=
echo "ok: two straitd on aes256-gcm"
