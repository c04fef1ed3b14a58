#!/usr/bin/env bash
# OVN for the ovn-kubernetes lab, as an OVN-Kubernetes cluster runs it: per cluster the
# central part (the NB and SB ovsdb-servers and ovn-northd, "ovnkube-db" and "ovnkube-master"
# of OVN-Kubernetes, one NB database for the cluster), per node ovn-controller on the node's
# own Open vSwitch, with br-int in the userspace datapath. The logical topology itself:
# ovn-topology.sh.
#
#   /run/strait-lab/ovn-a/  nb.db nb.sock  sb.db sb.sock  ovn-northd   (host namespace; the
#                           nodes reach the sockets through the file system)
#   namespace a1:  ovn-controller --> unix:/run/strait-lab/a1/ovs/db.sock (br-int, netdev)
#                                 --> unix:/run/strait-lab/ovn-a/sb.sock
#                  chassis a1, encap geneve 172.16.0.11
#
# The Debian packages' own services are not used (deploy/install-deps.sh stops them): every
# daemon here has its own run directory, pidfile, control socket and log.
#
# usage: ovn.sh central-up|central-down CLUSTER    (cluster letter: a, b, ...)
#        ovn.sh node-up|node-down NODE
set -euo pipefail
. "$(dirname "$0")/topology.sh"
. "$(dirname "$0")/process.sh"
lab_load_topology

ovn_schemas=${OVN_PKGDATADIR:-/usr/share/ovn}

db_server() {  # DIR NAME(nb|sb) SCHEMA
  local dir=$1 name=$2 schema=$3
  [ -f "$dir/$name.db" ] || ovsdb-tool create "$dir/$name.db" "$ovn_schemas/$schema"
  lab_pid_alive "$(cat "$dir/$name.pid" 2>/dev/null || true)" && return 0
  ovsdb-server "$dir/$name.db" --remote="punix:$dir/$name.sock" --pidfile="$dir/$name.pid" \
    --unixctl="$dir/$name.ctl" --detach --no-chdir -vconsole:off --log-file="$dir/$name.log"
}

central_up() {
  local cluster=$1 dir
  dir=$(lab_ovn_dir "$cluster")
  mkdir -p "$dir"
  db_server "$dir" nb ovn-nb.ovsschema
  db_server "$dir" sb ovn-sb.ovsschema
  ovn-nbctl --db="$(lab_ovn_nb "$cluster")" --no-wait init
  ovn-sbctl --db="$(lab_ovn_sb "$cluster")" init
  if ! lab_pid_alive "$(cat "$dir/northd.pid" 2>/dev/null || true)"; then
    ovn-northd --ovnnb-db="$(lab_ovn_nb "$cluster")" --ovnsb-db="$(lab_ovn_sb "$cluster")" \
      --pidfile="$dir/northd.pid" --unixctl="$dir/northd.ctl" --detach --no-chdir \
      -vconsole:off --log-file="$dir/northd.log"
  fi
  lab_log "ovn central of cluster $cluster: NB $(lab_ovn_nb "$cluster"), SB $(lab_ovn_sb "$cluster"), ovn-northd"
}

central_down() {
  local dir
  dir=$(lab_ovn_dir "$1")
  lab_stop_pidfile "$dir/northd.pid" ovn-northd
  lab_stop_pidfile "$dir/sb.pid" ovsdb-server
  lab_stop_pidfile "$dir/nb.pid" ovsdb-server
  rm -rf "$dir"
}

node_up() {
  local node=$1 dir log
  dir=$(lab_ovs_dir "$node")
  log=$(lab_node_dir "$node")
  # br-int as ovn-controller wants it (secure: nothing but OVN's flows), userspace datapath.
  lab_ovs "$node" ovs-vsctl --timeout=10 --may-exist add-br br-int \
    -- set bridge br-int datapath_type=netdev fail_mode=secure \
    other_config:disable-in-band=true
  lab_ovs "$node" ovs-vsctl --timeout=10 set Open_vSwitch . \
    external_ids:system-id="$node" \
    external_ids:ovn-remote="$(lab_ovn_sb "$(lab_cluster_of "$node")")" \
    external_ids:ovn-encap-type=geneve \
    external_ids:ovn-encap-ip="$(lab_uplink_ip "$node")" \
    external_ids:ovn-bridge=br-int \
    external_ids:ovn-bridge-datapath-type=netdev
  if ! lab_pid_alive "$(cat "$dir/ovn-controller.pid" 2>/dev/null || true)"; then
    # Its control socket goes to $OVN_RUNDIR (ovn-controller.<pid>.ctl): there is no --unixctl;
    # it reaches br-int's OpenFlow socket (br-int.mgmt) through $OVS_RUNDIR (lab_ovs).
    OVN_RUNDIR=$dir lab_ovs "$node" ip netns exec "$node" ovn-controller "unix:$dir/db.sock" \
      --pidfile="$dir/ovn-controller.pid" --detach \
      --no-chdir -vconsole:off --log-file="$log/ovn-controller.log"
  fi
  lab_log "node $node: ovn-controller, chassis $node, br-int (netdev)"
}

node_down() {
  lab_stop_pidfile "$(lab_ovs_dir "$1")/ovn-controller.pid" ovn-controller
}

case "${1:-}" in
  central-up) central_up "${2:?usage: ovn.sh central-up CLUSTER}" ;;
  central-down) central_down "${2:?usage: ovn.sh central-down CLUSTER}" ;;
  node-up) node_up "${2:?usage: ovn.sh node-up NODE}" ;;
  node-down) node_down "${2:?usage: ovn.sh node-down NODE}" ;;
  *) echo "usage: $0 central-up|central-down CLUSTER | node-up|node-down NODE" >&2; exit 2 ;;
esac
