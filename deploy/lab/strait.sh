#!/usr/bin/env bash
# strait on one node: its WireGuard key pair, straitd, and strait-agent, inside the node's
# namespace. straitd makes the node's key itself when there is none (--create-private-key)
# and writes the public half to public.key (what the lab publishes, broker.sh register).
#
#   namespace a1
#   br0 -- strait0 (ofport 9) = straitd --bridge net_tap0,iface=strait0   (tap made by straitd)
#                               straitd --wire net_af_packet0,iface=eth0,qpairs=1 (shares
#                                        eth0 with the kernel, which keeps 172.16.0.11 and
#                                        resolves the gateway's MAC for straitd; see node.sh)
#   strait-agent --profile openshift-sdn --bridge br0 --strait-port strait0
#        |-- UAPI /var/run/wireguard/strait-a1.sock --> straitd (peers: every remote node)
#        '-- ovs-ofctl/ovs-vsctl (OVS_RUNDIR=/run/strait-lab/a1/ovs) --> br0 (its 2 rules)
#
# Resources: each straitd takes -m 256 MiB of hugepages (4 nodes = half of the 2 GiB that
# deploy/setup-host.sh reserves; with too few free pages the lab falls back to --no-huge) and
# the same two cores: the slow path on lcore 0, one worker on lcore 1 (so qpairs=1: an
# af_packet queue pair nobody polls would lose the packets the kernel's fanout hashes to it). Idle workers back off
# (adaptive sleep), which is what lets four instances share two cores.
#
# OVS opens strait0 only once the tap exists, so the port is added after straitd made it, and
# re-added after every straitd start (a new tap is a new device for OVS).
#
# usage: strait.sh keys|start|stop NODE
#   env STRAITD, STRAIT_AGENT, LAB_BUILD_DIR (binaries; see topology.sh),
#       LAB_STRAITD_MEM (MiB, default 256), LAB_NO_HUGE=1, LAB_STRAITD_ARGS (extra options)
set -euo pipefail
. "$(dirname "$0")/topology.sh"
. "$(dirname "$0")/process.sh"
lab_load_topology

keys() {
  local dir
  dir=$(lab_node_dir "$1")
  mkdir -p "$dir"
  if [ ! -s "$dir/private.key" ]; then
    (umask 077 && wg genkey > "$dir/private.key")
    wg pubkey < "$dir/private.key" > "$dir/public.key"
  fi
}

socket_of() { echo "/var/run/wireguard/$(lab_ifname "$1").sock"; }

memory_args() {
  local mem=${LAB_STRAITD_MEM:-256} free_mb
  free_mb=$(awk '/HugePages_Free/ {f = $2} /Hugepagesize/ {s = $2} END {print int(f * s / 1024)}' /proc/meminfo)
  if [ "${LAB_NO_HUGE:-0}" = 1 ] || [ "$free_mb" -lt "$mem" ]; then
    [ "${LAB_NO_HUGE:-0}" = 1 ] || lab_log "only ${free_mb} MiB of hugepages free: straitd runs with --no-huge"
    echo "--no-huge -m $mem"
  else
    echo "-m $mem"
  fi
}

# Decrypted packets' destination MAC: the pod's own (0a:58:<IPv4>) on a bridge; on route the
# node's kernel, i.e. straitd's tap, which gets a fixed MAC below.
bridge_mac_args() {
  if [ "$LAB_CNI" = route ]; then echo "--bridge-mac-mode fixed --bridge-dst-mac $lab_strait_tap_mac"
  else echo "--bridge-mac-mode pod"; fi
}

start_straitd() {
  local node=$1 bin dir sock
  bin=$(lab_straitd)
  [ -n "$bin" ] || { lab_log "SKIPPED straitd on $node: no binary (ninja -C build dataplane/straitd/straitd)"; return 1; }
  dir=$(lab_node_dir "$node")
  sock=$(socket_of "$node")
  lab_stop_pidfile "$dir/straitd.pid" straitd
  rm -f "$sock"
  mkdir -p /var/run/wireguard
  # shellcheck disable=SC2046,SC2086
  lab_spawn "$node" "$dir/straitd.pid" "$dir/straitd.log" "$bin" \
    --ifname "$(lab_ifname "$node")" \
    --wire "net_af_packet0,iface=eth0,qpairs=1" \
    --bridge "net_tap0,iface=strait0" \
    --main-lcore 0 --lcores 1 \
    --file-prefix "strait-lab-$node" $(memory_args) \
    --listen-port "$LAB_PORT" \
    --private-key-file "$dir/private.key" --create-private-key --public-key-file "$dir/public.key" \
    --wire-ip "$(lab_uplink_ip "$node")" \
    $(bridge_mac_args) \
    --tunnel-mtu "$LAB_POD_MTU" \
    --metrics-listen 127.0.0.1:9478 \
    ${LAB_STRAITD_ARGS:-}
  local i pid
  pid=$(cat "$dir/straitd.pid")
  for ((i = 0; i < 300; i++)); do
    [ -S "$sock" ] && ip -n "$node" link show strait0 > /dev/null 2>&1 && break
    if ! lab_pid_alive "$pid"; then
      lab_log "straitd on $node exited during start-up; the end of $dir/straitd.log:"
      tail -n 15 "$dir/straitd.log" >&2 || true
      return 1
    fi
    sleep 0.1
  done
  if [ "$i" -ge 300 ]; then
    lab_log "straitd on $node: no UAPI socket $sock and tap strait0 after 30 s"
    return 1
  fi
  ip netns exec "$node" ethtool -K strait0 tx off tso off gso off gro off > /dev/null 2>&1 || true
  if [ "$LAB_CNI" = route ]; then
    # The node's kernel sends to remote pods out of this tap (the agent's routes); straitd
    # answers its ARP for them.
    ip -n "$node" link set strait0 address "$lab_strait_tap_mac" mtu "$LAB_POD_MTU" up
    lab_log "straitd on $node: pid $(cat "$dir/straitd.pid"), wg show $(lab_ifname "$node")"
    return 0
  fi
  # On br-int the agent binds the port to its logical switch port (external_ids:iface-id).
  lab_ovs "$node" ovs-vsctl --timeout=10 --if-exists del-port "$(lab_bridge)" strait0
  lab_ovs "$node" ovs-vsctl --timeout=10 add-port "$(lab_bridge)" strait0 \
    -- set interface strait0 ofport_request="$LAB_OFPORT_STRAIT"
  lab_log "straitd on $node: pid $(cat "$dir/straitd.pid"), wg show $(lab_ifname "$node")"
}

profile_args() {
  if [ "$LAB_CNI" = route ]; then
    echo "--profile route"
  elif [ "$LAB_CNI" = ovn-kubernetes ]; then
    echo "--profile ovn-kubernetes --bridge br-int --ovn-nb $(lab_ovn_nb "$(lab_cluster_of "$1")")"
  else
    echo "--profile openshift-sdn --bridge br0"
  fi
}

start_agent() {
  local node=$1 bin dir
  bin=$(lab_agent)
  [ -n "$bin" ] || { lab_log "SKIPPED strait-agent on $node: no binary (ninja -C build control/strait-agent)"; return 1; }
  dir=$(lab_node_dir "$node")
  # With the broker (lab.sh up --broker), each cluster's controller writes its own spec.
  local spec=$LAB_RUN/spec.yaml
  [ -f "$LAB_RUN/broker/auth-enabled" ] && spec=$LAB_RUN/spec-$(lab_cluster_of "$node").yaml
  [ -f "$spec" ] || lab_die "no $spec (gen-spec.sh --out it, or broker.sh up, first)"
  lab_stop_pidfile "$dir/strait-agent.pid" strait-agent
  # The metrics port is the same on every node: each agent listens in its own namespace.
  lab_spawn "$node" "$dir/strait-agent.pid" "$dir/strait-agent.log" \
    env OVS_RUNDIR="$(lab_ovs_dir "$node")" OVS_DBDIR="$(lab_ovs_dir "$node")" \
    "$bin" --node "$node" --spec "$spec" --ifname "$(lab_ifname "$node")" \
    $(profile_args "$node") --strait-port strait0 \
    --metrics-listen 127.0.0.1:9477 --resync-interval 5s
  lab_log "strait-agent on $node: pid $(cat "$dir/strait-agent.pid")"
}

stop() {
  local node=$1 dir
  dir=$(lab_node_dir "$node")
  lab_stop_pidfile "$dir/strait-agent.pid" strait-agent
  lab_stop_pidfile "$dir/straitd.pid" straitd
  rm -f "$(socket_of "$node")"
  rm -rf "/var/run/dpdk/strait-lab-$node"
  if [ "$LAB_CNI" != route ] &&
      lab_pid_alive "$(cat "$(lab_ovs_dir "$node")/ovs-vswitchd.pid" 2>/dev/null || true)"; then
    lab_ovs "$node" ovs-vsctl --timeout=5 --if-exists del-port "$(lab_bridge)" strait0 || true
  fi
}

node=${2:-}
case "${1:-}" in
  keys) keys "${node:?usage: strait.sh keys NODE}" ;;
  start) start_straitd "${node:?usage: strait.sh start NODE}" && start_agent "$node" ;;
  start-straitd) start_straitd "${node:?}" ;;
  start-agent) start_agent "${node:?}" ;;
  stop) stop "${node:?usage: strait.sh stop NODE}" ;;
  *) echo "usage: $0 keys|start|start-straitd|start-agent|stop NODE" >&2; exit 2 ;;
esac
