#!/usr/bin/env bash
# End to end, one rig, one run (perf/README.md, "End to end"): TCP and UDP iperf3 and ping
# between two pod namespaces through
#   plain      a veth pair, no tunnel (the ceiling of this machine's kernel path)
#   wggo       wireguard-go on both ends (ChaCha20-Poly1305)
#   chacha     straitd on both ends, ChaCha20-Poly1305 (net_af_packet wire, net_tap bridge)
#   aes        straitd on both ends, AES-256-GCM (UAPI key strait_cipher=aes256-gcm)
#   aesbusy    the same with --busy-poll: workers never sleep (latency without the idle
#              back-off; on this 2-CPU machine they take the CPUs from everything else)
#   aesxdp     straitd AES-256-GCM with both ports on net_af_xdp: the wire on the veth with
#              strait_xdp (ebpf/) steering the tunnel port to it, the bridge on one end of a
#              second veth pair whose other end is the pod's interface (as the system test
#              straitd_pair_matrix.sh's xdp cases); a system call per burst, not per packet
# each as a ratio to plain and to wggo. Writes e2e.json, e2e.txt and e2e.png into the results
# directory ($1; alone: perf/results/<UTC date>/, then copied to perf/results/latest/).
#
#   netns "pod A" (side A: CPU 0)                  netns "pod B" (side B: CPU 1)
#   ┌─────────────────────────────────────┐       ┌─────────────────────────────────────┐
#   │ iperf3 -c, ping         10.97.1.1   │       │ iperf3 -s               10.97.2.1   │
#   │ tap (straitd) / tun (wireguard-go)  │       │ tap (straitd) / tun (wireguard-go)  │
#   │  / aesxdp: veth pod end ── veth     │       │  / aesxdp: veth pod end ── veth     │
#   │    bridge end (straitd's AF_XDP)    │       │    bridge end (straitd's AF_XDP)    │
#   │ straitd worker or wireguard-go      │       │ straitd worker or wireguard-go      │
#   │ veth 192.168.97.1 (plain: iperf3 on ├───────┤ veth 192.168.97.2                   │
#   │ the veth addresses, no tunnel)      │       │                                     │
#   └─────────────────────────────────────┘       └─────────────────────────────────────┘
#
# Pinning (2 CPUs, shared by everything): side A's work on CPU 0, side B's on CPU 1 — the
# iperf3 client, straitd A's worker lcore and wireguard-go A on CPU 0; the iperf3 server,
# straitd B's worker and wireguard-go B on CPU 1. straitd's slow path (main lcore, idle but for
# timers) runs on the other side's CPU. The kernel's softirq work follows whoever sends.
# Inner MTU 1420 everywhere (straitd's --tunnel-mtu default, wireguard-go's default); UDP
# datagrams of 1392 bytes (1420-byte inner IP packets), offered without limit (-b 0).
#
# Tunnel CPU per packet (the "cycles / packet" column): a UDP test at one fixed rate
# (STRAIT_E2E_FIXED_MBPS, the same offered load for every row, low enough that every
# configuration carries it without loss; its loss is reported beside it to show that). Before
# and after it the script reads the on-CPU time of every thread of the tunnel processes of
# both ends (/proc/PID/task/TID/schedstat, first field: nanoseconds run, user and kernel, the
# figure perf's task-clock counts): straitd's worker lcores, its slow path and EAL threads;
# all of wireguard-go's threads. The sum over both ends, divided by the datagrams B received,
# is the tunnel's CPU time per packet carried; times the nominal clock ("cpu MHz" of
# /proc/cpuinfo, printed with the result) it is given as cycles, because this VM has no
# hardware cycle counter (`perf stat -e cycles` fails). Not counted, by construction: the
# iperf3 processes and whatever the kernel does in other contexts (ksoftirqd, softirqs on
# another task's time), the share of the veth/tap/tun path both tunnels have in common. Counted,
# and so the measure is not user space alone: the system calls the tunnel makes (tap and
# af_packet reads and writes, UDP sendmsg, AF_XDP wake-ups) and the softirq work the kernel
# runs in the tunnel's context when it re-enables bottom halves after a send (the receiving
# veth's or tap's protocol processing can land there). It includes the idle cost over the
# test's wall time (the slow path's 1 ms wake-ups, the workers' back-off polls), which is
# part of what a tunnel spends at that load. Then the same test again with perf counting the
# tunnel threads' system calls (raw_syscalls:sys_enter) in a window in its middle: system
# calls per packet carried (a separate pass: counting them costs a little on every call). A
# busy-polling worker (aesbusy) runs 100 % by design, so its figure is its wall time, not its
# cost: reported, marked, not a goal row.
#
#   STRAIT_BUILD_DIR     build directory with straitd (default: build)
#   STRAIT_E2E_REPS      rounds; every round runs every configuration (default 3); the
#                        median round is reported
#   STRAIT_E2E_SECONDS   iperf3 seconds per test (default 5)
#   STRAIT_E2E_CONFIGS   subset, e.g. "plain aes" (default: all six)
#   STRAIT_E2E_FIXED_MBPS offered load of the tunnel-CPU test, Mbit/s (default 200)
#   STRAIT_E2E_PROFILE   1: perf record -a -g for 2 s in the middle of each TCP test; the
#                        shares by program and library, and by symbol, land in e2e_raw/
#
# Needs root, ip, wg, wireguard-go, iperf3, ping, taskset, python3; without them e2e.json says
# why it was skipped and the script exits 0 (perf/run.sh goes on). aesxdp also needs nsenter,
# ethtool, a bpffs on /sys/fs/bpf and the built strait_xdp.bpf.o; without them it is left out
# and e2e.json says why (configs_skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
alone=0
if [ $# -ge 1 ]; then out=$1; else out=perf/results/$stamp; alone=1; fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
build=${STRAIT_BUILD_DIR:-build}
# STRAIT_PERF_QUICK=1 (perf/run.sh's rig check): one round of 2 s.
quick=${STRAIT_PERF_QUICK:-0}
reps=${STRAIT_E2E_REPS:-$([ "$quick" = 1 ] && echo 1 || echo 3)}
secs=${STRAIT_E2E_SECONDS:-$([ "$quick" = 1 ] && echo 2 || echo 5)}
read -r -a configs <<<"${STRAIT_E2E_CONFIGS:-plain wggo chacha aes aesbusy aesxdp}"
fixed_mbps=${STRAIT_E2E_FIXED_MBPS:-200}
# The system-call count's window inside a fixed-rate test of $secs seconds (>= 2).
syscall_window=$((secs > 2 ? secs - 1 : 1))

skip() {
  echo "perf/e2e.sh: skipped: $*"
  python3 -c 'import json,sys; json.dump({"skipped": sys.argv[1]}, open(sys.argv[2], "w"))' \
    "$*" "$out/e2e.json"
  exit 0
}
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
for t in ip wg wireguard-go iperf3 ping taskset python3; do
  command -v "$t" >/dev/null || skip "$t is not installed"
done
[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs"
if [ ! -x "$build/dataplane/straitd/straitd" ]; then
  [ -d "$build" ] || meson setup "$build"
  ninja -C "$build" -j 2 dataplane/straitd/straitd
fi
export STRAITD=$repo/$build/dataplane/straitd/straitd
# aesxdp: straitd hands the PMD the strait_xdp.bpf.o of its build tree (or the installed one)
# and pins its maps in the bpffs; without the program's tunnel port set nothing reaches it.
skipped_configs={}
xdp_missing() {
  local t
  for t in nsenter ethtool; do command -v "$t" >/dev/null || { echo "$t is not installed"; return; }; done
  mount | grep -q ' /sys/fs/bpf type bpf' || { echo "no bpffs on /sys/fs/bpf"; return; }
  [ -f "$build/ebpf/strait_xdp.bpf.o" ] || ninja -C "$build" -j 2 ebpf/strait_xdp.bpf.o >/dev/null 2>&1 ||
    { echo "ebpf/strait_xdp.bpf.o not built (clang, libbpf-dev)"; return; }
}
kept=()
for c in "${configs[@]}"; do
  why=
  [[ $c != *xdp ]] || why=$(xdp_missing)
  if [ -n "$why" ]; then
    echo "perf/e2e.sh: $c left out: $why"
    skipped_configs=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d[sys.argv[2]]=sys.argv[3]; print(json.dumps(d))' \
      "$skipped_configs" "$c" "$why")
  else
    kept+=("$c")
  fi
done
configs=("${kept[@]}")
[ ${#configs[@]} -gt 0 ] || skip "no configuration left to run"
# Hugepages when there are enough for two straitd (256 MB each) and some to spare.
free_huge_mb=$(awk '/HugePages_Free/ {f = $2} /Hugepagesize/ {s = $2} END {print int(f * s / 1024)}' /proc/meminfo)
[ "$free_huge_mb" -ge 1024 ] && export STRAIT_RIG_HUGE=1

RIG_WORK=$(mktemp -d /tmp/strait_e2e.XXXXXX)
. tests/system/lib/rig.sh
raw=$out/e2e_raw
mkdir -p "$raw"
trap rig_exit EXIT
rig_log "$RIG_WORK/iperf_s.log"

tag=e$$
NSA=${tag}a
NSB=${tag}b
CPU_A=0
CPU_B=1

# setup_<config>: brings the configuration up; sets DST (B's address A talks to), TUNNEL_PIDS
# (the tunnel processes of both ends, whose threads' CPU time the fixed-rate test reads) and,
# for straitd, TELEMETRY_A / TELEMETRY_B (the EAL file prefixes whose counters we sample).
setup_plain() {
  rig_netns_pair "$NSA" "$NSB" "${tag}va" "${tag}vb" 192.168.97.1/24 192.168.97.2/24
  DST=192.168.97.2
}

setup_wggo() {
  rig_netns_pair "$NSA" "$NSB" "${tag}va" "${tag}vb" 192.168.97.1/24 192.168.97.2/24
  local a_pub b_pub
  a_pub=$(rig_keypair a)
  b_pub=$(rig_keypair b)
  rig_start_wireguard_go "$NSA" "${tag}wa" "$CPU_A"
  TUNNEL_PIDS+=("$RIG_PID")
  rig_start_wireguard_go "$NSB" "${tag}wb" "$CPU_B"
  TUNNEL_PIDS+=("$RIG_PID")
  ip netns exec "$NSA" wg set "${tag}wa" private-key "$RIG_WORK/a.key" listen-port 51820 \
    peer "$b_pub" allowed-ips 10.97.2.0/24 endpoint 192.168.97.2:51820
  ip netns exec "$NSB" wg set "${tag}wb" private-key "$RIG_WORK/b.key" listen-port 51820 \
    peer "$a_pub" allowed-ips 10.97.1.0/24 endpoint 192.168.97.1:51820
  rig_inner_up "$NSA" "${tag}wa" - 10.97.1.1/24 10.97.2.0/24 1420
  rig_inner_up "$NSB" "${tag}wb" - 10.97.2.1/24 10.97.1.0/24 1420
  DST=10.97.2.1
}

# setup_straitd CIPHER [straitd options...]; with BRIDGE=xdp both ports are net_af_xdp.
setup_straitd() {
  local cipher=$1
  shift
  rig_netns_pair "$NSA" "$NSB" "${tag}va" "${tag}vb" 192.168.97.1/24 192.168.97.2/24
  local a_pub b_pub
  a_pub=$(rig_keypair a)
  b_pub=$(rig_keypair b)
  # The bridge straitd is given (a tap it creates, or the straitd end of a veth pair) and the
  # pod's interface (the tap itself, or the veth's other end).
  local bridge_a=${tag}ta bridge_b=${tag}tb pod_a=${tag}ta pod_b=${tag}tb
  # The rig's switches, for the calls below only (bash locals reach the functions called).
  local RIG_WIRE_PMD=af_packet RIG_BRIDGE_PMD=tap RIG_NSENTER=0
  if [ "${BRIDGE:-tap}" = xdp ]; then
    bridge_a=${tag}xa bridge_b=${tag}xb pod_a=${tag}pa pod_b=${tag}pb
    local ns br pod
    for ns in "$NSA" "$NSB"; do
      if [ "$ns" = "$NSA" ]; then br=$bridge_a pod=$pod_a; else br=$bridge_b pod=$pod_b; fi
      ip -n "$ns" link add "$br" type veth peer name "$pod"
      ip -n "$ns" link set "$br" up
      # AF_XDP takes the frames as the kernel built them: no checksum left for an offload.
      ip netns exec "$ns" ethtool -K "$pod" tx off rx off >/dev/null 2>&1 || true
      ip netns exec "$ns" ethtool -K "$br" tx off rx off >/dev/null 2>&1 || true
    done
    ip netns exec "$NSA" ethtool -K "${tag}va" tx off rx off >/dev/null 2>&1 || true
    ip netns exec "$NSB" ethtool -K "${tag}vb" tx off rx off >/dev/null 2>&1 || true
    # nsenter, not ip netns exec: straitd pins strait_xdp's maps in the host's bpffs.
    RIG_WIRE_PMD=af_xdp RIG_BRIDGE_PMD=af_xdp RIG_NSENTER=1
    rig_remove "/sys/fs/bpf/strait/${tag}va"
    rig_remove "/sys/fs/bpf/strait/${tag}vb"
  fi
  rig_start_straitd "$NSA" "${tag}sa" "${tag}va" "$bridge_a" 192.168.97.1 02:00:00:97:01:01 \
    "$RIG_WORK/a.key" "$CPU_B" "$CPU_A" "$@"
  TUNNEL_PIDS+=("$RIG_PID")
  rig_start_straitd "$NSB" "${tag}sb" "${tag}vb" "$bridge_b" 192.168.97.2 02:00:00:97:02:01 \
    "$RIG_WORK/b.key" "$CPU_A" "$CPU_B" "$@"
  TUNNEL_PIDS+=("$RIG_PID")
  rig_inner_up "$NSA" "$pod_a" 02:00:00:97:01:01 10.97.1.1/24 10.97.2.0/24 1420
  rig_inner_up "$NSB" "$pod_b" 02:00:00:97:02:01 10.97.2.1/24 10.97.1.0/24 1420
  rig_straitd_peer "${tag}sa" "$b_pub" 192.168.97.2:51820 10.97.2.0/24 "$cipher"
  rig_straitd_peer "${tag}sb" "$a_pub" 192.168.97.1:51820 10.97.1.0/24 "$cipher"
  TELEMETRY_A=${tag}sa
  TELEMETRY_B=${tag}sb
  DST=10.97.2.1
}

setup_chacha() { setup_straitd chacha20-poly1305; }
setup_aes() { setup_straitd aes256-gcm; }
setup_aesbusy() { setup_straitd aes256-gcm --busy-poll; }
setup_aesxdp() { BRIDGE=xdp setup_straitd aes256-gcm; }

# straitd's worker counters (polls, idle sleeps and their microseconds, port packets) from
# DPDK telemetry: the evidence of how busy the workers were during a test.
telemetry() {
  python3 - "/var/run/dpdk/$1/dpdk_telemetry.v2" <<'EOF'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.recv(4096)
s.send(b"/strait/counters")
c = json.loads(s.recv(65536).decode())["/strait/counters"]
c["monotonic_s"] = time.monotonic()
print(json.dumps(c))
EOF
}

# cpu_sample: the wall clock, then one line per thread of the tunnel processes: PID, TID,
# nanoseconds on a CPU so far (schedstat's first field, user and kernel), the thread's name.
cpu_sample() {
  local pid t ns comm
  echo "wall_ns $(date +%s%N)"
  for pid in "${TUNNEL_PIDS[@]}"; do
    for t in /proc/"$pid"/task/*; do
      # A thread may end between the glob and the reads: skip it.
      read -r ns _ <"$t/schedstat" 2>/dev/null || continue
      read -r comm <"$t/comm" 2>/dev/null || continue
      echo "$pid ${t##*/} $ns ${comm// /_}"
    done
  done
}

# measure CONFIG ROUND: ping (latency), UDP iperf3 A -> B at the fixed rate with the tunnel's
# CPU time around it, TCP and unlimited UDP iperf3 A -> B (the tunnel's CPU time around that
# too: its cost per packet when saturated, each configuration at its own rate); raw outputs
# under $raw.
measure() {
  local c=$1 r=$2 p=$raw/${1}_$2
  ip netns exec "$NSB" taskset -c "$CPU_B" iperf3 -s -B "$DST" >"$RIG_WORK/iperf_s.log" 2>&1 &
  RIG_PIDS+=("$!")
  rig_wait_for "iperf3 server" ip netns exec "$NSB" sh -c "ss -ltn | grep -q $DST:5201"
  # The first packets make the handshake; the timed ping starts on an established session.
  rig_wait_for "a session to $DST" ip netns exec "$NSA" ping -c 1 -W 1 "$DST"
  ip netns exec "$NSA" taskset -c "$CPU_A" ping -n -c 200 -i 0.01 "$DST" >"$p.ping.txt"
  cpu_sample >"$p.cpu0.txt"
  ip netns exec "$NSA" taskset -c "$CPU_A" iperf3 -c "$DST" -u -b "${fixed_mbps}M" -l 1392 \
    -t "$secs" -J >"$p.udpfix.json" 2>/dev/null || rig_fail "iperf3 UDP at $fixed_mbps Mbit/s ($c)"
  cpu_sample >"$p.cpu1.txt"
  if [ ${#TUNNEL_PIDS[@]} -gt 0 ] && command -v perf >/dev/null; then
    # System calls of the tunnel's threads at the same load: a second pass, because counting
    # them adds to each one; perf counts $syscall_window seconds inside the test's $secs.
    ip netns exec "$NSA" taskset -c "$CPU_A" iperf3 -c "$DST" -u -b "${fixed_mbps}M" -l 1392 \
      -t "$secs" -J >"$p.udpfix2.json" 2>/dev/null &
    local client=$! pids
    pids=$(IFS=,; echo "${TUNNEL_PIDS[*]}")
    sleep 0.5
    perf stat -x, -e raw_syscalls:sys_enter --per-thread -p "$pids" -o "$p.syscalls.txt" \
      -- sleep "$syscall_window" >/dev/null 2>&1 || true
    wait "$client" || rig_fail "iperf3 UDP at $fixed_mbps Mbit/s, second pass ($c)"
  fi
  [ -n "${TELEMETRY_A:-}" ] && telemetry "$TELEMETRY_A" >"$p.tel_a0.json" && telemetry "$TELEMETRY_B" >"$p.tel_b0.json"
  local prof=
  if [ "${STRAIT_E2E_PROFILE:-0}" = 1 ]; then
    # Both CPUs, whoever runs there, during the middle of the TCP test.
    (sleep 1.5; perf record -q -a -g -F 499 -o "$p.perf.data" -- sleep 2 >/dev/null 2>&1) &
    prof=$!
  fi
  ip netns exec "$NSA" taskset -c "$CPU_A" iperf3 -c "$DST" -t "$secs" -O 1 -J >"$p.tcp.json" ||
    rig_fail "iperf3 TCP ($c)"
  if [ -n "$prof" ]; then
    wait "$prof"
    perf report -i "$p.perf.data" --no-children --sort comm,dso -q --stdio -g none \
      --percent-limit 0.5 >"$p.perf_comm_dso.txt" 2>/dev/null || true
    perf report -i "$p.perf.data" --no-children --sort comm,sym -q --stdio -g none \
      --percent-limit 0.3 >"$p.perf_sym.txt" 2>/dev/null || true
  fi
  [ -n "${TELEMETRY_A:-}" ] && telemetry "$TELEMETRY_A" >"$p.tel_a1.json" && telemetry "$TELEMETRY_B" >"$p.tel_b1.json"
  cpu_sample >"$p.cpu2.txt"
  ip netns exec "$NSA" taskset -c "$CPU_A" iperf3 -c "$DST" -u -b 0 -l 1392 -t "$secs" -J \
    >"$p.udp.json" 2>/dev/null || rig_fail "iperf3 UDP ($c)"
  cpu_sample >"$p.cpu3.txt"
  echo "perf/e2e.sh: $c round $r done"
}

for ((r = 1; r <= reps; r++)); do
  for c in "${configs[@]}"; do
    TELEMETRY_A=
    TELEMETRY_B=
    TUNNEL_PIDS=()
    "setup_$c"
    measure "$c" "$r"
    rig_cleanup
  done
done

python3 perf/e2e_report.py "$raw" "$out" "$secs" "$fixed_mbps" "$syscall_window" "$skipped_configs" \
  "${configs[@]}"
gnuplot -e "data='$out/e2e.dat'; out='$out'" perf/e2e.gp
rm -f "$out/e2e.dat"
cat "$out/e2e.txt"
if [ "$alone" = 1 ] && [ "${STRAIT_PERF_LATEST:-1}" = 1 ] && [ "$quick" != 1 ]; then
  mkdir -p perf/results/latest
  cp "$out/e2e.json" "$out/e2e.txt" "$out/e2e.png" perf/results/latest/
  echo "perf/e2e.sh: perf/results/latest/ updated"
fi
