#!/usr/bin/env bash
# br0's OpenFlow tables, laid out like an OpenShift SDN node (single-tenant plugin; DESIGN.md
# section 5). Shown for node a1 (subnet 10.128.0.0/23, cluster CIDR 10.128.0.0/14):
#
#   ofport 1 vxlan0 (absent, see below)   2 tun0 10.128.0.1   3.. pods   9 strait0 (straitd)
#
#   table 0   classify by in_port: tun0 -> 30; pods (ip, arp) -> 20; else drop
#   table 20  per pod ofport: source IP (and MAC, ARP sender) must be the pod's -> 21
#   table 21  -> 30 (OpenShift's network-policy hook; empty here)
#   table 30  routing: ARP/IP for tun0 -> out tun0; ARP for the local subnet -> 40;
#             IP to the local subnet -> 70; ARP to the cluster CIDR -> 50; IP to the cluster
#             CIDR -> 90; any other IP -> 100 -> 101 -> out tun0 (the node's kernel)
#   table 40  ARP to a local pod -> its ofport
#   table 70  IP to a local pod: reg2 = its ofport -> 80
#   table 80  policy: allow all (priority 200) -> output:reg2
#   table 50/90  to other nodes of the same cluster over VXLAN: not built, drop (see README)
#
# strait-agent adds its two rules to this layout (cookie 0x57a17...): table 30 priority 150,
# IP to a remote cluster CIDR -> out strait0; table 0 priority 210, IP in from strait0 whose
# source is a remote cluster CIDR -> 30 (skips table 20: no local pod has that source).
#
# The lab's flows carry cookie $LAB_SDN_COOKIE and are replaced in one bundle, so running this
# again (or after a `del-flows`) restores them and leaves the agent's flows alone.
#
# usage: sdn-flows.sh NODE [--print]
set -euo pipefail
. "$(dirname "$0")/topology.sh"
lab_load_topology

node=${1:?usage: sdn-flows.sh NODE [--print]}
subnet=$(lab_node_subnet "$node")
tun0=$(lab_tun0_ip "$node")
cluster=$(lab_cluster_cidr "$(lab_cluster_index "$node")")
t=$LAB_OFPORT_TUN0

flows() {
  local pod port ip mac
  cat << EOF
table=0,priority=250,ip,in_port=$t,nw_dst=224.0.0.0/4,actions=drop
table=0,priority=200,arp,in_port=$t,arp_spa=$tun0,arp_tpa=$cluster,actions=goto_table:30
table=0,priority=200,ip,in_port=$t,actions=goto_table:30
table=0,priority=150,in_port=$t,actions=drop
table=0,priority=100,arp,actions=goto_table:20
table=0,priority=100,ip,actions=goto_table:20
table=0,priority=0,actions=drop
table=20,priority=0,actions=drop
table=21,priority=0,actions=goto_table:30
table=30,priority=300,arp,arp_tpa=$tun0,actions=output:$t
table=30,priority=300,ip,nw_dst=$tun0,actions=output:$t
table=30,priority=200,arp,arp_tpa=$subnet,actions=goto_table:40
table=30,priority=200,ip,nw_dst=$subnet,actions=goto_table:70
table=30,priority=100,arp,arp_tpa=$cluster,actions=goto_table:50
table=30,priority=100,ip,nw_dst=$cluster,actions=goto_table:90
table=30,priority=0,ip,actions=goto_table:100
table=30,priority=0,arp,actions=drop
table=40,priority=0,actions=drop
table=50,priority=0,actions=drop
table=70,priority=0,actions=drop
table=80,priority=300,ip,nw_src=$tun0,actions=output:NXM_NX_REG2[]
table=80,priority=200,actions=output:NXM_NX_REG2[]
table=80,priority=0,actions=drop
table=90,priority=0,actions=drop
table=100,priority=0,actions=goto_table:101
table=101,priority=0,actions=output:$t
EOF
  for pod in $(lab_pods "$node"); do
    port=$(lab_pod_ofport "$pod")
    ip=$(lab_pod_ip "$pod")
    mac=$(lab_pod_mac "$pod")
    cat << EOF
table=20,priority=100,arp,in_port=$port,arp_spa=$ip,arp_sha=$mac,actions=goto_table:21
table=20,priority=100,ip,in_port=$port,dl_src=$mac,nw_src=$ip,actions=goto_table:21
table=40,priority=100,arp,arp_tpa=$ip,actions=output:$port
table=70,priority=100,ip,nw_dst=$ip,actions=load:$port->NXM_NX_REG2[],goto_table:80
EOF
  done
}

if [ "${2:-}" = "--print" ]; then
  flows
  exit 0
fi
{
  echo "delete cookie=$LAB_SDN_COOKIE/-1"
  flows | sed "s/^/add cookie=$LAB_SDN_COOKIE,/"
} | lab_ovs "$node" ovs-ofctl -O OpenFlow13 --bundle add-flows br0 -
