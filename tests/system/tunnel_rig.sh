# Shared set-up of the namespace rigs that run straitd and wireguard-go (sourced, not run):
# perf/e2e.sh and perf/pktgen_smoke.sh build their topologies from these functions, the same
# steps tests/system/straitd_pair.sh and straitd_wireguard_go.sh take (dataplane/straitd/
# README.md, "Development: net_af_packet wire, net_tap bridge"):
#
#   netns A                                   netns B
#   ┌──────────────────────────────┐         ┌──────────────────────────────┐
#   │ tap/tun: inner address        │         │ tap/tun: inner address        │
#   │   ▲ straitd (net_tap bridge)  │         │   ▲ straitd or wireguard-go   │
#   │   ▼ (net_af_packet wire)      │         │   ▼                           │
#   │ veth: wire address            ├─────────┤ veth: wire address            │
#   └──────────────────────────────┘         └──────────────────────────────┘
#
# Every namespace and process a rig_* function creates is registered and removed by
# rig_cleanup (call it from an EXIT trap). Functions fail with rig_fail, which prints the
# logs in $RIG_WORK and exits 1.

RIG_NAMESPACES=()
RIG_PIDS=()
RIG_SOCKETS=()
RIG_WORK=${RIG_WORK:-$(mktemp -d /tmp/strait_rig.XXXXXX)}

rig_fail() {
  echo "FAIL: $*" >&2
  local f
  for f in "$RIG_WORK"/*.log; do
    [ -f "$f" ] || continue
    echo "---- $f (last lines)" >&2
    tail -n 20 "$f" >&2
  done
  exit 1
}

# Stops what the rig started: straitd gets SIGTERM (it unlinks its socket and closes its
# ports), everything else in the namespaces is killed, then the namespaces go.
rig_cleanup() {
  set +e
  local p ns
  for p in "${RIG_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${RIG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  for ns in "${RIG_NAMESPACES[@]}"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
  done
  for ns in "${RIG_NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
  for p in "${RIG_SOCKETS[@]}"; do rm -f "$p"; done
  RIG_PIDS=()
  RIG_NAMESPACES=()
  RIG_SOCKETS=()
  set -e
}

# Waits (bounded, not a timing assertion) until the command succeeds.
rig_wait_for() {
  local what=$1
  shift
  for _ in $(seq 1 150); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  rig_fail "timed out waiting for $what"
}

# rig_uapi SOCKET TEXT: one get=1 or set=1 exchange, the raw reply (wg(8) does not know the
# strait_ keys; dataplane/uapi/UAPI.md).
rig_uapi() {
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

# The hex form the UAPI takes of a base64 key.
rig_hex_of() { python3 -c 'import base64,sys; print(base64.b64decode(sys.argv[1]).hex())' "$1"; }

# rig_keypair NAME: $RIG_WORK/NAME.key (private, base64) and prints the public key.
rig_keypair() {
  (umask 077; wg genkey >"$RIG_WORK/$1.key")
  wg pubkey <"$RIG_WORK/$1.key"
}

# rig_netns_pair NSA NSB VA VB IPA/LEN IPB/LEN: two namespaces joined by a veth pair; an
# address "-" leaves that end without one (a DPDK program answers ARP for it instead).
rig_netns_pair() {
  ip netns add "$1"
  RIG_NAMESPACES+=("$1")
  ip netns add "$2"
  RIG_NAMESPACES+=("$2")
  ip link add "$3" type veth peer name "$4"
  ip link set "$3" netns "$1"
  ip link set "$4" netns "$2"
  ip -n "$1" link set lo up
  ip -n "$2" link set lo up
  if [ "$5" != - ]; then ip -n "$1" addr add "$5" dev "$3"; fi
  if [ "$6" != - ]; then ip -n "$2" addr add "$6" dev "$4"; fi
  ip -n "$1" link set "$3" up
  ip -n "$2" link set "$4" up
}

# rig_start_straitd NS IFNAME VETH TAP WIRE_IP TAP_MAC KEYFILE MAIN_LCORE WORKER_LCORE
#                   [straitd options...]
# Starts straitd in NS (af_packet wire on VETH, net_tap bridge TAP, fixed bridge MAC), waits
# for its UAPI socket and tap; sets RIG_PID. Hugepages when STRAIT_RIG_HUGE=1, else --no-huge.
rig_start_straitd() {
  local ns=$1 ifn=$2 veth=$3 tap=$4 wire_ip=$5 mac=$6 key=$7 main=$8 worker=$9
  shift 9
  local mem=(--no-huge -m 512)
  [ "${STRAIT_RIG_HUGE:-0}" = 1 ] && mem=(-m 256)
  ip netns exec "$ns" "${STRAITD:?STRAITD is the straitd binary}" --ifname "$ifn" \
    --file-prefix "$ifn" "${mem[@]}" --main-lcore "$main" --lcores "$worker" \
    --wire "net_af_packet_$ifn,iface=$veth,qpairs=1" --bridge "net_tap_$ifn,iface=$tap" \
    --wire-ip "$wire_ip" --private-key-file "$key" \
    --bridge-mac-mode fixed --bridge-dst-mac "$mac" "$@" >"$RIG_WORK/straitd_$ifn.log" 2>&1 &
  RIG_PID=$!
  RIG_PIDS+=("$RIG_PID")
  RIG_SOCKETS+=("/var/run/wireguard/$ifn.sock")
  rig_wait_for "straitd $ifn's UAPI socket" test -S "/var/run/wireguard/$ifn.sock"
  rig_wait_for "straitd $ifn's tap" ip -n "$ns" link show "$tap"
}

# rig_start_wireguard_go NS IFNAME CPUS: wireguard-go pinned to CPUS (taskset list); RIG_PID.
rig_start_wireguard_go() {
  ip netns exec "$1" env WG_PROCESS_FOREGROUND=1 taskset -c "$3" wireguard-go "$2" \
    >"$RIG_WORK/wggo_$2.log" 2>&1 &
  RIG_PID=$!
  RIG_PIDS+=("$RIG_PID")
  RIG_SOCKETS+=("/var/run/wireguard/$2.sock")
  rig_wait_for "wireguard-go $2's socket" test -S "/var/run/wireguard/$2.sock"
}

# rig_inner_up NS DEV MAC|- ADDR/LEN ROUTE MTU: the kernel side of a tap/tun: its MAC (for a
# straitd tap: the --bridge-dst-mac), address, MTU, and an on-link route to the other side.
rig_inner_up() {
  if [ "$3" != - ]; then ip -n "$1" link set "$2" address "$3"; fi
  ip -n "$1" link set "$2" mtu "$6"
  ip -n "$1" addr add "$4" dev "$2"
  ip -n "$1" link set "$2" up
  ip -n "$1" route replace "$5" dev "$2"
}

# rig_straitd_peer IFNAME PEER_PUBLIC_B64 ENDPOINT ALLOWED_IP CIPHER: one peer over the UAPI,
# with the strait_cipher extension key (chacha20-poly1305 or aes256-gcm).
rig_straitd_peer() {
  local hex
  hex=$(rig_hex_of "$2")
  rig_uapi "/var/run/wireguard/$1.sock" "set=1
public_key=$hex
endpoint=$3
allowed_ip=$4
strait_cipher=$5" | grep -q "errno=0" || rig_fail "configuring peer of $1"
}
