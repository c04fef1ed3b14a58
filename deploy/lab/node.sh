#!/usr/bin/env bash
# One node: its network namespace, its uplink into the internet namespace, its own Open vSwitch
# (ovsdb-server + ovs-vswitchd, userspace `netdev` datapath: no OVS kernel module exists here)
# with br0 and tun0, and the OpenShift-SDN-like flows (sdn-flows.sh). Pods: pods.sh. straitd
# and strait-agent: strait.sh.
#
#   namespace a1                                               namespace internet
#   +----------------------------------------------------+
#   | pods a1-p1, a1-p2 (pods.sh)                          |
#   |   |  veth-p1 (ofport 3), veth-p2 (4)                 |
#   | br0 (netdev) -- tun0 10.128.0.1/23 (ofport 2)        |
#   |   |                                                  |
#   |   +-- strait0 (ofport 9): straitd's net_tap          |
#   |          straitd -- net_af_packet -- eth0 172.16.0.11/24 ==veth== up-a1 (in br-a)
#   | nftables: input udp dport 51820 drop (straitd's, not the kernel's)
#   +----------------------------------------------------+
#
# With --cni ovn-kubernetes (the default) the node has br-int instead of br0 and tun0:
# ovn-controller programs it (ovn.sh node-up), and the management port ovn-k8s-mp0 (an
# internal port bound to the logical port k8s-<node>) gives the node its .2 address in the
# pod subnet, as on an OVN-Kubernetes node.
#
# Run-time files of node a1: /run/strait-lab/a1/ovs/ (OVS_RUNDIR = OVS_DBDIR: conf.db,
# db.sock, br0.mgmt, *.pid, *.ctl) and /run/strait-lab/a1/*.log.
#
# Why the nftables rule: straitd reads the uplink through an AF_PACKET socket, which sees a
# copy of every frame while the kernel, which owns the address, still processes the original.
# With no socket bound to UDP 51820 the kernel would answer every tunnel packet with ICMP port
# unreachable; the rule drops the kernel's copy. Its two counters (from a VIP / from
# elsewhere) also let check.sh see what reached the node.
#
# usage: node.sh up|down NODE
set -euo pipefail
. "$(dirname "$0")/topology.sh"
. "$(dirname "$0")/process.sh"
lab_load_topology

ovs_schema=${OVS_PKGDATADIR:-/usr/share/openvswitch}/vswitch.ovsschema

# Offloads off: OVS's userspace datapath reads and writes these devices through AF_PACKET
# sockets without virtio-net headers, so it cannot complete a partial checksum or split a
# GSO frame. Packets must leave every sender whole.
plain_frames() {
  ip netns exec "$1" ethtool -K "$2" tx off tso off gso off gro off > /dev/null 2>&1 || true
}

start_ovs() {
  local node=$1 dir log
  dir=$(lab_ovs_dir "$node")
  log=$(lab_node_dir "$node")
  mkdir -p "$dir"
  [ -f "$dir/conf.db" ] || ovsdb-tool create "$dir/conf.db" "$ovs_schema"
  if ! lab_pid_alive "$(cat "$dir/ovsdb-server.pid" 2>/dev/null || true)"; then
    lab_ovs "$node" ip netns exec "$node" ovsdb-server "$dir/conf.db" \
      --remote="punix:$dir/db.sock" --pidfile="$dir/ovsdb-server.pid" \
      --unixctl="$dir/ovsdb-server.ctl" --detach --no-chdir -vconsole:off \
      --log-file="$log/ovsdb-server.log"
  fi
  lab_ovs "$node" ovs-vsctl --no-wait init
  # One handler and one revalidator: four nodes share two cores.
  lab_ovs "$node" ovs-vsctl --no-wait set Open_vSwitch . other_config:n-handler-threads=1 \
    other_config:n-revalidator-threads=1
  if ! lab_pid_alive "$(cat "$dir/ovs-vswitchd.pid" 2>/dev/null || true)"; then
    lab_ovs "$node" ip netns exec "$node" ovs-vswitchd "unix:$dir/db.sock" \
      --pidfile="$dir/ovs-vswitchd.pid" --detach --no-chdir -vconsole:off \
      --log-file="$log/ovs-vswitchd.log" 2> /dev/null
  fi
}

up() {
  local node=$1 c ns_up="up-$1"
  c=$(lab_cluster_index "$node")
  lab_add_netns "$node"

  # Uplink: eth0 here, up-<node> on the cluster's bridge in the internet namespace.
  if ! ip -n "$node" link show eth0 > /dev/null 2>&1; then
    ip -n internet link add name "$ns_up" type veth peer name eth0 netns "$node"
    ip -n internet link set "$ns_up" master "br-$(lab_cluster_of "$node")" up
    ip -n "$node" addr add "$(lab_uplink_ip "$node")/24" dev eth0
    ip -n "$node" link set eth0 up
    ip -n "$node" route add default via "$(lab_gateway_ip "$c")"
    plain_frames internet "$ns_up"
    plain_frames "$node" eth0
  fi
  {
    echo "table inet lab_node {}"
    echo "delete table inet lab_node"
    echo "table inet lab_node {"
    echo "  chain input {"
    echo "    type filter hook input priority filter; policy accept;"
    echo "    udp dport $LAB_PORT ip saddr 203.0.113.0/24 counter drop comment \"tunnel from a VIP\""
    echo "    udp dport $LAB_PORT counter drop comment \"tunnel from elsewhere\""
    echo "  }"
    echo "}"
  } | ip netns exec "$node" nft -f -

  if [ "$LAB_CNI" = route ]; then
    # No OVS: the node's kernel routes its pods (a /32 per pod, pods.sh) and, through the
    # agent's routes, the remote clusters to straitd's tap. The gateway .1 is the node's own.
    ip netns exec "$node" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
      net.ipv4.conf.default.rp_filter=0
    ip -n "$node" addr replace "$(lab_tun0_ip "$node")/32" dev lo
    lab_log "node $node: uplink $(lab_uplink_ip "$node"), VIP $(lab_vip "$node"), kernel-routed pods, gateway $(lab_tun0_ip "$node")"
    return 0
  fi
  start_ovs "$node"
  if [ "$LAB_CNI" = ovn-kubernetes ]; then
    "$LAB_DIR/ovn.sh" node-up "$node"
    lab_ovs "$node" ovs-vsctl --timeout=10 --may-exist add-port br-int ovn-k8s-mp0 \
      -- set interface ovn-k8s-mp0 type=internal external_ids:iface-id="k8s-$node" \
      mac="\"$(lab_mac_of_ip "$(lab_mgmt_ip "$node")")\""
    lab_wait_for 10 "ovn-k8s-mp0 in $node" ip -n "$node" link show ovn-k8s-mp0
    ip -n "$node" link set ovn-k8s-mp0 address "$(lab_mac_of_ip "$(lab_mgmt_ip "$node")")" mtu "$LAB_POD_MTU"
    ip -n "$node" addr replace "$(lab_mgmt_ip "$node")/23" dev ovn-k8s-mp0
    ip -n "$node" link set ovn-k8s-mp0 up
    plain_frames "$node" ovn-k8s-mp0
    lab_log "node $node: uplink $(lab_uplink_ip "$node"), VIP $(lab_vip "$node"), br-int + k8s-$node $(lab_mgmt_ip "$node")"
    return 0
  fi
  # OpenShift SDN's br0: secure fail mode (no NORMAL fallback), OpenFlow 1.3.
  lab_ovs "$node" ovs-vsctl --timeout=10 --may-exist add-br br0 \
    -- set bridge br0 datapath_type=netdev fail_mode=secure protocols=OpenFlow13 \
    -- --may-exist add-port br0 tun0 \
    -- set interface tun0 type=internal ofport_request="$LAB_OFPORT_TUN0"
  lab_wait_for 10 "tun0 in $node" ip -n "$node" link show tun0
  ip -n "$node" link set tun0 mtu "$LAB_POD_MTU"
  ip -n "$node" addr replace "$(lab_tun0_ip "$node")/23" dev tun0
  ip -n "$node" link set tun0 up
  plain_frames "$node" tun0
  "$LAB_DIR/sdn-flows.sh" "$node"
  lab_log "node $node: uplink $(lab_uplink_ip "$node"), VIP $(lab_vip "$node"), br0 + tun0 $(lab_tun0_ip "$node")"
}

down() {
  local node=$1 dir
  dir=$(lab_ovs_dir "$node")
  "$LAB_DIR/ovn.sh" node-down "$node"
  lab_stop_pidfile "$dir/ovs-vswitchd.pid" ovs-vswitchd
  lab_stop_pidfile "$dir/ovsdb-server.pid" ovsdb-server
  lab_del_netns "$node"  # also removes both ends of the uplink veth
  rm -rf "$(lab_node_dir "$node")"
}

case "${1:-}" in
  up) up "${2:?usage: node.sh up NODE}" ;;
  down) down "${2:?usage: node.sh down NODE}" ;;
  *) echo "usage: $0 up|down NODE" >&2; exit 2 ;;
esac
