# The namespace rig of the system tests and perf (sourced, not run): tests/system/straitd_*.sh,
# perf/e2e.sh, perf/soak.sh and perf/pktgen_smoke.sh build their topologies from these
# functions (dataplane/straitd/README.md, "Development: net_af_packet wire, net_tap bridge"):
#
#   netns A                                   netns B
#   ┌──────────────────────────────┐         ┌──────────────────────────────┐
#   │ tap/tun: inner address        │         │ tap/tun: inner address        │
#   │   ▲ straitd (net_tap bridge)  │         │   ▲ straitd or wireguard-go   │
#   │   ▼ (net_af_packet wire)      │         │   ▼                           │
#   │ veth: wire address            ├─────────┤ veth: wire address            │
#   └──────────────────────────────┘         └──────────────────────────────┘
#
# Every namespace, process, socket and path a rig_* function creates (or a script registers)
# is removed by rig_cleanup; rig_exit (the EXIT trap: `trap rig_exit EXIT`) also removes
# $RIG_WORK. Failures go through rig_fail, which prints the registered logs and diagnostics
# and exits 1. The UAPI client is lib/uapi.py; wg(8) and strait-ctl do the rest.

RIG_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RIG_NAMESPACES=()
RIG_PIDS=()
RIG_SOCKETS=()
RIG_PATHS=()
RIG_LOGS=()
RIG_DIAGNOSTICS=()
RIG_STRAITDS=()
RIG_WORK=${RIG_WORK:-$(mktemp -d /tmp/strait_rig.XXXXXX)}
# Lines of each registered log rig_fail prints; RIG_CASE, when set, names the case that failed.
RIG_LOG_LINES=${RIG_LOG_LINES:-40}
RIG_CASE=${RIG_CASE:-}

# rig_require TOOL...: exit 77 (meson's "skipped") unless every tool is installed.
rig_require() {
  local tool
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null; then
      echo "SKIP: $tool not installed"
      exit 77
    fi
  done
}

# rig_log FILE: rig_fail prints the end of FILE (the rig_start_* functions register theirs).
rig_log() {
  local f
  for f in "${RIG_LOGS[@]}"; do [ "$f" != "$1" ] || return 0; done
  RIG_LOGS+=("$1")
}

# rig_on_fail COMMAND [ARGS...]: rig_fail runs it and prints what it says (state worth seeing
# when a test fails: neighbour tables, route caches, BPF maps).
rig_on_fail() { RIG_DIAGNOSTICS+=("$(printf '%q ' "$@")"); }

# rig_remove PATH: removed (rm -rf) by rig_cleanup, e.g. BPF pins a test leaves when it fails.
rig_remove() { RIG_PATHS+=("$1"); }

# rig_fail MESSAGE: prints it, the end of every registered log, each running straitd's UAPI
# state and the registered diagnostics (all on stderr, so that a failure inside $(...) still
# shows them), and exits 1.
rig_fail() {
  set +e
  echo "FAIL${RIG_CASE:+ [$RIG_CASE]}: $*" >&2
  local f d
  for f in "${RIG_LOGS[@]}"; do
    [ -f "$f" ] || continue
    echo "---- $f (last $RIG_LOG_LINES lines)" >&2
    tail -n "$RIG_LOG_LINES" "$f" >&2
  done
  for f in "${RIG_STRAITDS[@]}"; do
    [ -S "/var/run/wireguard/$f.sock" ] || continue
    echo "---- UAPI get of $f" >&2
    rig_uapi_get "$f" >&2
  done
  for d in "${RIG_DIAGNOSTICS[@]}"; do
    echo "---- $d" >&2
    eval "$d" >&2 2>&1
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
  for p in "${RIG_SOCKETS[@]}" "${RIG_PATHS[@]}"; do rm -rf "$p"; done
  RIG_PIDS=()
  RIG_NAMESPACES=()
  RIG_SOCKETS=()
  RIG_PATHS=()
  RIG_STRAITDS=()
  set -e
}

rig_exit() {
  rig_cleanup
  rm -rf "$RIG_WORK"
}

# rig_forget PID: a process the script itself stopped (kill -9, say), so that rig_cleanup
# does not signal whatever later reuses its id.
rig_forget() {
  local p kept=()
  for p in "${RIG_PIDS[@]}"; do [ "$p" = "$1" ] || kept+=("$p"); done
  RIG_PIDS=("${kept[@]}")
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

# rig_iperf FROM_NS TO_NS TO_ADDR SECONDS LABEL: one iperf3 TCP run from FROM_NS to a
# one-shot server on TO_ADDR in TO_NS; prints the receiver's line and fails unless data moved
# (iperf3 exits 0 when its control connection works but no data arrived).
rig_iperf() {
  local from=$1 to=$2 addr=$3 seconds=$4 label=$5 log
  log="$RIG_WORK/iperf_${label//[^A-Za-z0-9]/_}.log"
  ip netns exec "$to" iperf3 -s -1 -B "$addr" >"$log.server" 2>&1 &
  rig_wait_for "iperf3 server on $addr" ip netns exec "$to" sh -c "ss -ltn | grep -q '$addr:5201'"
  ip netns exec "$from" iperf3 -c "$addr" -t "$seconds" >"$log" 2>&1 ||
    { cat "$log"; rig_fail "iperf3 $label"; }
  grep -E "receiver" "$log" | sed "s/^/  $label /"
  grep -E "receiver" "$log" | grep -qv " 0.00 Bytes" || rig_fail "iperf3 $label moved no data"
}

# rig_uapi_get IFNAME: the whole get=1 reply (wg(8) skips the strait_ keys; UAPI.md).
rig_uapi_get() { python3 "$RIG_LIB/uapi.py" "$1" get; }

# rig_uapi_set IFNAME <<<KEY=VALUE LINES: one set=1 request; fails unless errno=0.
rig_uapi_set() { python3 "$RIG_LIB/uapi.py" "$1" set; }

# rig_drop_count IFNAME REASON: strait_drop_REASON summed over the device-wide counter and
# every peer's, so that a check for none sees a drop wherever it is counted.
rig_drop_count() {
  rig_uapi_get "$1" | awk -F= -v k="strait_drop_$2" '$1 == k { n += $2 } END { print n + 0 }'
}

# The hex form the UAPI takes of a base64 key.
rig_hex_of() { printf '%s' "$1" | base64 -d | od -An -v -tx1 | tr -d ' \n'; }

# rig_keypair NAME: $RIG_WORK/NAME.key (private, base64) and prints the public key.
rig_keypair() {
  (umask 077; wg genkey >"$RIG_WORK/$1.key")
  wg pubkey <"$RIG_WORK/$1.key"
}

# rig_netns NAME: a namespace with its loopback up.
rig_netns() {
  ip netns add "$1"
  RIG_NAMESPACES+=("$1")
  ip -n "$1" link set lo up
}

# rig_netns_pair NSA NSB VA VB IPA/LEN IPB/LEN: two namespaces joined by a veth pair; an
# address "-" leaves that end without one (a DPDK program answers ARP for it instead). IPv6
# addresses skip duplicate address detection (usable at once).
rig_netns_pair() {
  rig_netns "$1"
  rig_netns "$2"
  ip link add "$3" type veth peer name "$4"
  ip link set "$3" netns "$1"
  ip link set "$4" netns "$2"
  rig_addr_add "$1" "$3" "$5"
  rig_addr_add "$2" "$4" "$6"
  ip -n "$1" link set "$3" up
  ip -n "$2" link set "$4" up
}

# rig_addr_add NS DEV ADDR/LEN[,ADDR/LEN...]|-
rig_addr_add() {
  local a addrs
  [ "$3" != - ] || return 0
  IFS=, read -r -a addrs <<<"$3"
  for a in "${addrs[@]}"; do
    if [[ $a == *:* ]]; then
      ip -n "$1" addr add "$a" dev "$2" nodad
    else
      ip -n "$1" addr add "$a" dev "$2"
    fi
  done
}

# rig_start_straitd NS IFNAME WIRE BRIDGE WIRE_IP BRIDGE_MAC KEYFILE MAIN_LCORE WORKER_LCORE
#                   [straitd options...]
# Starts straitd in NS: its wire port on interface WIRE, its bridge port on BRIDGE (a tap it
# creates, or an existing interface), the fixed MAC it writes on decrypted packets; waits for
# its UAPI to answer and the bridge interface to exist; sets RIG_PID. Its log: $RIG_WORK/straitd_IFNAME.log
# (appended to, so a restart keeps the first run's lines). Set for the call:
#   RIG_WIRE_PMD=af_xdp    the wire on net_af_xdp (default net_af_packet)
#   RIG_BRIDGE_PMD=af_xdp  the bridge on net_af_xdp (default net_tap)
#   RIG_NSENTER=1          nsenter --net, not `ip netns exec` (which mounts a /sys without
#                          the bpffs, where straitd pins its XDP maps)
#   STRAIT_RIG_HUGE=1      hugepages (default --no-huge)
rig_start_straitd() {
  local ns=$1 ifn=$2 wire=$3 bridge=$4 wire_ip=$5 mac=$6 key=$7 main=$8 worker=$9
  shift 9
  local mem=(--no-huge -m 512)
  [ "${STRAIT_RIG_HUGE:-0}" = 1 ] && mem=(-m 256)
  local wire_vdev="net_af_packet_$ifn,iface=$wire,qpairs=1"
  [ "${RIG_WIRE_PMD:-af_packet}" = af_xdp ] &&
    wire_vdev="net_af_xdp_${ifn}w,iface=$wire,start_queue=0,queue_count=1"
  local bridge_vdev="net_tap_$ifn,iface=$bridge"
  [ "${RIG_BRIDGE_PMD:-tap}" = af_xdp ] &&
    bridge_vdev="net_af_xdp_$ifn,iface=$bridge,start_queue=0,queue_count=1"
  local enter=(ip netns exec "$ns")
  [ "${RIG_NSENTER:-0}" = 1 ] && enter=(nsenter --net="/run/netns/$ns")
  "${enter[@]}" "${STRAITD:?STRAITD is the straitd binary}" --ifname "$ifn" \
    --file-prefix "$ifn" "${mem[@]}" --main-lcore "$main" --lcores "$worker" \
    --wire "$wire_vdev" --bridge "$bridge_vdev" --wire-ip "$wire_ip" --private-key-file "$key" \
    --bridge-mac-mode fixed --bridge-dst-mac "$mac" "$@" >>"$RIG_WORK/straitd_$ifn.log" 2>&1 &
  RIG_PID=$!
  RIG_PIDS+=("$RIG_PID")
  RIG_SOCKETS+=("/var/run/wireguard/$ifn.sock")
  [[ " ${RIG_STRAITDS[*]} " == *" $ifn "* ]] || RIG_STRAITDS+=("$ifn")  # a restart: once
  rig_log "$RIG_WORK/straitd_$ifn.log"
  # The socket file appears at bind(), a moment before straitd listens: wait for an answer.
  rig_wait_for "straitd $ifn's UAPI" rig_uapi_get "$ifn"
  rig_wait_for "straitd $ifn's bridge interface" ip -n "$ns" link show "$bridge"
}

# rig_stop_straitd PID: SIGTERM, and straitd must exit 0 (its clean shutdown).
rig_stop_straitd() {
  local rc=0
  kill -TERM "$1"
  wait "$1" || rc=$?
  rig_forget "$1"
  [ "$rc" -eq 0 ] || rig_fail "straitd exited with $rc on SIGTERM"
}

# rig_start_wireguard_go NS IFNAME [CPUS] [LOG_LEVEL]: wireguard-go, pinned to CPUS (a
# taskset list) if given, logging at LOG_LEVEL (error, verbose, debug); sets RIG_PID.
rig_start_wireguard_go() {
  local pin=()
  [ -n "${3:-}" ] && pin=(taskset -c "$3")
  ip netns exec "$1" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL="${4:-error}" "${pin[@]}" \
    wireguard-go "$2" >"$RIG_WORK/wggo_$2.log" 2>&1 &
  RIG_PID=$!
  RIG_PIDS+=("$RIG_PID")
  RIG_SOCKETS+=("/var/run/wireguard/$2.sock")
  rig_log "$RIG_WORK/wggo_$2.log"
  rig_wait_for "wireguard-go $2's socket" test -S "/var/run/wireguard/$2.sock"
}

# rig_inner_up NS DEV MAC|- ADDR/LEN[,...] ROUTE[,...] MTU: the kernel side of a tap/tun: its
# MAC (for a straitd tap: the --bridge-dst-mac), addresses, MTU, and on-link routes to the
# other side.
rig_inner_up() {
  local r routes
  if [ "$3" != - ]; then ip -n "$1" link set "$2" address "$3"; fi
  ip -n "$1" link set "$2" mtu "$6"
  rig_addr_add "$1" "$2" "$4"
  ip -n "$1" link set "$2" up
  IFS=, read -r -a routes <<<"$5"
  for r in "${routes[@]}"; do ip -n "$1" route replace "$r" dev "$2"; done
}

# rig_link_straitd_pair A_PUBLIC B_PUBLIC: the two-straitd plan of straitd_pair.sh and
# straitd_flood.sh, on the caller's $NSA/$NSB, taps $TA/$TB and interfaces $IFA/$IFB (wires
# 192.168.78.1 and .2): inner 10.98.1.1/24 on A and 10.98.2.1/24 on B, each the other's
# AES-256-GCM peer. Call it once both straitd run.
rig_link_straitd_pair() {
  rig_inner_up "$NSA" "$TA" 02:00:00:98:01:01 10.98.1.1/24 10.98.2.0/24 1420
  rig_inner_up "$NSB" "$TB" 02:00:00:98:02:01 10.98.2.1/24 10.98.1.0/24 1420
  rig_straitd_peer "$IFA" "$2" 192.168.78.2:51820 10.98.2.0/24 aes256-gcm
  rig_straitd_peer "$IFB" "$1" 192.168.78.1:51820 10.98.1.0/24 aes256-gcm
}

# rig_straitd_peer IFNAME PEER_PUBLIC_B64 ENDPOINT ALLOWED_IP CIPHER: one peer and its
# strait_cipher (chacha20-poly1305 or aes256-gcm) in one set request, as strait-agent sends it
# (wg(8) cannot set the cipher, strait-ctl only changes an existing peer's).
rig_straitd_peer() {
  rig_uapi_set "$1" <<EOF || rig_fail "configuring peer of $1"
public_key=$(rig_hex_of "$2")
endpoint=$3
allowed_ip=$4
strait_cipher=$5
EOF
}
