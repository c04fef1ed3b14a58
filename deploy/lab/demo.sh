#!/usr/bin/env bash
# The README's demo: two clusters of two nodes joined by strait, on this machine.
#
#   1. deploy/install-deps.sh, deploy/setup-host.sh (Debian packages, 2 GiB of hugepages)
#   2. meson/ninja: straitd and strait-agent into build/ (or $LAB_BUILD_DIR)
#   3. lab.sh up --clusters 2 --nodes 2 --cni C, then check.sh (the lab's own plumbing)
#   4. from pod p1 of every node to pod p1 of every node of the other cluster:
#      ping, and iperf3 for 3 s (TCP, through br-int/br0 -> straitd -> VIP -> straitd ->
#      br-int/br0)
#   5. `wg show strait-a1` (the stock tool, on straitd's UAPI socket) and a summary table
#   6. lab.sh down (kept with --keep; take it down later with deploy/lab/lab.sh down)
#
# usage: demo.sh [--keep] [--no-build] [--cni ovn-kubernetes|openshift-sdn|route]     needs root
#        (default ovn-kubernetes: OVN's northd, databases and ovn-controllers, the logical
#        topology of OVN-Kubernetes, the agent's ovn-kubernetes profile)
set -euo pipefail
. "$(dirname "$0")/topology.sh"

keep=0
build=1
cni=ovn-kubernetes
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=1 ;;
    --no-build) build=0 ;;
    --cni) cni=${2:?--cni needs ovn-kubernetes, openshift-sdn or route}; shift ;;
    *) echo "usage: $0 [--keep] [--no-build] [--cni ovn-kubernetes|openshift-sdn|route]" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || lab_die "the demo needs root (namespaces, OVS, hugepages)"
cd "$LAB_REPO"

"$LAB_REPO/deploy/install-deps.sh"
"$LAB_REPO/deploy/setup-host.sh"

build_dir=${LAB_BUILD_DIR:-$LAB_REPO/build}
if [ "$build" = 1 ]; then
  [ -f "$build_dir/build.ninja" ] || meson setup "$build_dir"
  # Only what the lab runs; two jobs at most on a small machine.
  ninja -C "$build_dir" -j 2 dataplane/straitd/straitd control/strait-agent
fi
export LAB_BUILD_DIR=$build_dir

section() { printf '\n=== %s\n' "$*"; }

finish() {
  if [ "$keep" = 1 ]; then
    section "the lab stays up (--keep): deploy/lab/lab.sh status | down"
  else
    section "tearing down"
    "$LAB_DIR/lab.sh" down
  fi
}
trap finish EXIT

section "lab up: 2 clusters x 2 nodes, CNI $cni"
"$LAB_DIR/lab.sh" down > /dev/null 2>&1 || true
unset LAB_CLUSTERS LAB_NODES LAB_CNI
"$LAB_DIR/lab.sh" up --clusters 2 --nodes 2 --cni "$cni"
lab_load_topology
echo "CNI: $LAB_CNI"

section "the lab's plumbing (check.sh)"
"$LAB_DIR/check.sh"

mapfile -t nodes < <(lab_nodes)
if [ "$(cat "$LAB_RUN/strait-nodes" 2> /dev/null || echo 0)" != "${#nodes[@]}" ]; then
  lab_die "straitd and strait-agent do not run on every node: no cross-cluster traffic to show"
fi

if [ "$LAB_CNI" = ovn-kubernetes ]; then
  section "waiting for strait-agent's rows in every cluster's OVN northbound database"
  for node in "${nodes[@]}"; do
    nb=$(lab_ovn_nb "$(lab_cluster_of "$node")")
    for ((i = 0; i < 100; i++)); do
      [ -n "$(ovn-nbctl --db="$nb" --bare --columns=_uuid find Logical_Router_Policy \
        "external_ids:\"strait.io/owner\"=\"$node\"")" ] && break
      sleep 0.2
    done
    echo "$node: logical switch port $(ovn-nbctl --db="$nb" lsp-get-addresses "strait-$node" 2> /dev/null || echo '(none)'),"\
      "$(ovn-nbctl --db="$nb" --bare --columns=_uuid find Logical_Router_Policy \
        "external_ids:\"strait.io/owner\"=\"$node\"" | grep -c .) reroute policies on ovn_cluster_router"
  done
elif [ "$LAB_CNI" = route ]; then
  section "waiting for strait-agent's routes on every node (proto 87, via straitd's tap)"
  for node in "${nodes[@]}"; do
    for ((i = 0; i < 100; i++)); do
      [ -n "$(ip -n "$node" route show proto 87)" ] && break
      sleep 0.2
    done
    echo "$node: $(ip -n "$node" route show proto 87 | tr '\n' ' ')"
  done
else
  section "waiting for strait-agent's flows on every br0"
  for node in "${nodes[@]}"; do
    for ((i = 0; i < 100; i++)); do
      lab_ovs "$node" ovs-ofctl -O OpenFlow13 dump-flows br0 table=30 2> /dev/null |
        grep -q "output:$LAB_OFPORT_STRAIT" && break
      sleep 0.2
    done
    echo "$node: $(lab_ovs "$node" ovs-ofctl -O OpenFlow13 dump-flows br0 | grep -c 'cookie=0x57a17') strait flows"
  done
fi

section "pod to pod across clusters: ping and iperf3 -t 3"
rows=()
reached=0
pairs=0
total_mbit=0
for src in "${nodes[@]}"; do
  for dst in "${nodes[@]}"; do
    [ "$(lab_cluster_of "$src")" != "$(lab_cluster_of "$dst")" ] || continue
    sp=$src-p1
    dp=$dst-p1
    ip=$(lab_pod_ip "$dp")
    pairs=$((pairs + 1))
    ping_out=$(ip netns exec "$sp" ping -n -q -c 5 -i 0.2 -w 15 "$ip" 2>&1 || true)
    got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<< "$ping_out")
    rtt=$(sed -n 's|^rtt [^=]*= [0-9.]*/\([0-9.]*\)/.*|\1|p' <<< "$ping_out")
    mbit="-"
    if [ "${got:-0}" -gt 0 ]; then
      reached=$((reached + 1))
      ip netns exec "$dp" iperf3 -s -1 -D -p 5201 > /dev/null 2>&1
      sleep 0.3
      bps=$(ip netns exec "$sp" timeout 20 iperf3 -c "$ip" -p 5201 -t 3 -J 2> /dev/null |
        jq -r '.end.sum_received.bits_per_second // empty' 2> /dev/null || true)
      if [ -n "$bps" ]; then
        mbit=$(awk -v b="$bps" 'BEGIN { printf "%.0f", b / 1e6 }')
        total_mbit=$((total_mbit + mbit))
      fi
    fi
    echo "$sp -> $dp ($ip): ping ${got:-0}/5, iperf3 ${mbit} Mbit/s"
    rows+=("$sp|$dp|${got:-0}/5|${rtt:--}|$mbit")
  done
done

section "wg show $(lab_ifname "${nodes[0]}")  (the stock wg tool on straitd's UAPI socket)"
wg show "$(lab_ifname "${nodes[0]}")" || true

section "summary"
now=$(date +%s)
handshakes=0
peers=0
printf '%-7s %-7s %-6s %-8s %-12s %s\n' from to ping "rtt ms" "iperf3 Mbit/s" "handshake (sender's straitd)"
for row in "${rows[@]}"; do
  IFS='|' read -r sp dp got rtt mbit <<< "$row"
  key=$(cat "$(lab_node_dir "${dp%-p*}")/public.key")
  t=$(wg show "$(lab_ifname "${sp%-p*}")" latest-handshakes 2> /dev/null | awk -v k="$key" '$1 == k {print $2}')
  peers=$((peers + 1))
  if [ -n "$t" ] && [ "$t" != 0 ]; then
    hs="$((now - t)) s ago"
    handshakes=$((handshakes + 1))
  else
    hs="none"
  fi
  printf '%-7s %-7s %-6s %-8s %-12s %s\n' "$sp" "$dp" "$got" "$rtt" "$mbit" "$hs"
done
echo
mean=-
[ "$reached" -eq 0 ] || mean=$((total_mbit / reached))
echo "CNI: $LAB_CNI   pairs reached: $reached/$pairs   handshakes: $handshakes/$peers   iperf3 mean: $mean Mbit/s per pair"
echo "(one pair at a time; the 2 cores are shared by 4 straitd, 4 ovs-vswitchd and iperf3, so this"
echo " shows the path works, not what strait does on dedicated cores: perf/ measures that)"
[ "$reached" -eq "$pairs" ]
