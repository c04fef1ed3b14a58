#!/usr/bin/env bash
# The local multi-cluster lab: N clusters x M nodes in network namespaces on this machine
# (README.md in this directory has the picture and the addressing plan).
#
#   lab.sh up [--clusters N] [--nodes M] [--cni C] [--no-strait] [--broker]
#                                                        build it (idempotent); default 2 x 2,
#                                                        C = ovn-kubernetes (default),
#                                                        openshift-sdn or route; --broker:
#                                                        keys made by straitd, the spec by
#                                                        controllers through etcd (broker.sh)
#                                                        instead of gen-spec.sh
#   lab.sh down                                          tear everything down, also after a
#                                                        crash (idempotent)
#   lab.sh status                                        what runs, peers and handshakes
#
# `up` runs, in order: internet.sh up; per node node.sh up, pods.sh up, strait.sh keys;
# gen-spec.sh; then per node strait.sh start (straitd, then strait-agent) when both binaries
# are found (topology.sh: $STRAITD, $STRAIT_AGENT, $LAB_BUILD_DIR, build*/). Without them the
# lab still comes up with OVS, pods and the internet, and says what it skipped.
# Needs root. Everything it makes is under /run/strait-lab/ and in its namespaces.
set -euo pipefail
. "$(dirname "$0")/topology.sh"
. "$(dirname "$0")/process.sh"

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

want_strait=1
want_broker=0
parse_size() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --clusters) LAB_CLUSTERS=${2:?--clusters needs a number}; shift 2 ;;
      --nodes) LAB_NODES=${2:?--nodes needs a number}; shift 2 ;;
      --cni) LAB_CNI=${2:?--cni needs ovn-kubernetes, openshift-sdn or route}; shift 2 ;;
      --no-strait) want_strait=0; shift ;;
      --broker) want_broker=1; shift ;;
      *) usage ;;
    esac
  done
}

need_tools() {
  local t missing=()
  for t in ip nft ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl ovs-ofctl wg ethtool ping iperf3 \
      ovn-northd ovn-controller ovn-nbctl ovn-sbctl; do
    command -v "$t" > /dev/null || missing+=("$t")
  done
  [ ${#missing[@]} -eq 0 ] || lab_die "missing ${missing[*]} (run deploy/install-deps.sh)"
  [ "$(id -u)" -eq 0 ] || lab_die "the lab needs root (namespaces, OVS, hugepages)"
}

up() {
  local node cluster running straitd agent started=0 failed=()
  need_tools
  if [ -f "$LAB_RUN/topology.env" ]; then
    running=$( . "$LAB_RUN/topology.env"; echo "$LAB_CLUSTERS x $LAB_NODES ${LAB_CNI:-openshift-sdn}")
    [ "$running" = "${LAB_CLUSTERS:-2} x ${LAB_NODES:-2} ${LAB_CNI:-ovn-kubernetes}" ] ||
      lab_die "a $running lab is up: lab.sh down first"
  fi
  lab_load_topology
  lab_save_topology
  lab_log "up: $LAB_CLUSTERS clusters x $LAB_NODES nodes x $LAB_PODS pods, CNI $LAB_CNI, run dir $LAB_RUN"
  "$LAB_DIR/internet.sh" up
  if [ "$LAB_CNI" = ovn-kubernetes ]; then
    for cluster in $(lab_clusters); do
      "$LAB_DIR/ovn.sh" central-up "$cluster"
      "$LAB_DIR/ovn-topology.sh" "$cluster"
    done
  fi
  for node in $(lab_nodes); do
    "$LAB_DIR/node.sh" up "$node"
    "$LAB_DIR/pods.sh" up "$node"
    [ "$want_broker" = 1 ] || "$LAB_DIR/strait.sh" keys "$node"
  done
  if [ "$want_broker" = 0 ]; then
    "$LAB_DIR/gen-spec.sh" --out "$LAB_RUN/spec.yaml"
    lab_log "mesh spec: $LAB_RUN/spec.yaml"
  fi

  straitd=$(lab_straitd)
  agent=$(lab_agent)
  if [ "$want_strait" = 0 ]; then
    lab_log "SKIPPED straitd and strait-agent (--no-strait)"
  elif [ -z "$straitd" ] || [ -z "$agent" ]; then
    [ -n "$straitd" ] || lab_log "SKIPPED straitd: not built (ninja -C build dataplane/straitd/straitd)"
    [ -n "$agent" ] || lab_log "SKIPPED strait-agent: not built (ninja -C build control/strait-agent)"
    lab_log "the lab is up without strait: OVS, pods and the internet only (check.sh checks them)"
  else
    lab_log "straitd: $straitd"
    lab_log "strait-agent: $agent"
    if [ "$want_broker" = 1 ]; then
      # Each straitd makes its key, broker.sh publishes the public halves through etcd and
      # the controllers write each cluster's spec; then the agents start on it.
      for node in $(lab_nodes); do "$LAB_DIR/strait.sh" start-straitd "$node" || failed+=("$node"); done
      [ ${#failed[@]} -eq 0 ] && "$LAB_DIR/broker.sh" up || failed+=(broker)
    fi
    for node in $(lab_nodes); do
      [ "$want_broker" = 0 ] || [ ${#failed[@]} -eq 0 ] || break
      if "$LAB_DIR/strait.sh" "$( [ "$want_broker" = 1 ] && echo start-agent || echo start)" "$node"; then
        started=$((started + 1))
      else
        failed+=("$node")
      fi
    done
  fi
  echo "$started" > "$LAB_RUN/strait-nodes"
  if [ ${#failed[@]} -gt 0 ]; then
    lab_log "up: strait did not start on ${failed[*]} (logs in $LAB_RUN/<node>/); the rest is up"
    return 1
  fi
  lab_log "up: done ($started nodes run straitd + strait-agent)"
}

down() {
  local node cluster ns
  lab_load_topology
  for node in $(lab_nodes); do
    "$LAB_DIR/strait.sh" stop "$node" 2> /dev/null || true
    "$LAB_DIR/pods.sh" down "$node" || true
    "$LAB_DIR/node.sh" down "$node" || true
  done
  # Whatever else the lab created, even of another size or half-made by a crash.
  if [ -f "$LAB_RUN/namespaces" ]; then
    while read -r ns; do
      [ -n "$ns" ] || continue
      lab_del_netns "$ns"
      # A node's leftovers when its straitd was killed (a clean stop removes them itself).
      rm -f "/var/run/wireguard/$(lab_ifname "$ns").sock"
      rm -rf "/var/run/dpdk/strait-lab-$ns"
    done < "$LAB_RUN/namespaces"
  fi
  for cluster in $(lab_clusters); do "$LAB_DIR/ovn.sh" central-down "$cluster"; done
  "$LAB_DIR/internet.sh" down
  rm -rf "$LAB_RUN"
  lab_log "down: done"
}

status() {
  local node dir pidfile name line
  if [ ! -f "$LAB_RUN/topology.env" ]; then
    echo "the lab is down"
    return 0
  fi
  lab_load_topology
  echo "lab: $LAB_CLUSTERS clusters x $LAB_NODES nodes x $LAB_PODS pods, CNI $LAB_CNI (run dir $LAB_RUN)"
  printf '%-5s %-14s %-15s %-22s %-s\n' node uplink VIP subnet processes
  for node in $(lab_nodes); do
    dir=$(lab_node_dir "$node")
    line=""
    for pidfile in "$(lab_ovs_dir "$node")/ovsdb-server.pid" "$(lab_ovs_dir "$node")/ovs-vswitchd.pid" \
        "$dir/straitd.pid" "$dir/strait-agent.pid"; do
      name=$(basename "$pidfile" .pid)
      if lab_pid_alive "$(cat "$pidfile" 2>/dev/null || true)"; then
        line+="$name "
      elif [ -f "$pidfile" ]; then
        line+="$name(DEAD) "
      fi
    done
    printf '%-5s %-14s %-15s %-22s %-s\n' "$node" "$(lab_uplink_ip "$node")" "$(lab_vip "$node")" \
      "$(lab_node_subnet "$node")" "$line"
  done
  for node in $(lab_nodes); do
    if [ -S "/var/run/wireguard/$(lab_ifname "$node").sock" ]; then
      echo "--- wg show $(lab_ifname "$node") latest-handshakes"
      wg show "$(lab_ifname "$node")" latest-handshakes || true
    fi
  done
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  up) parse_size "$@"; up ;;
  down) down ;;
  status) status ;;
  *) usage ;;
esac
