#!/usr/bin/env bash
# The "internet" namespace: one node network per cluster, and one public VIP per node.
#
#                       namespace "internet" (ip_forward=1, nftables table ip lab_internet)
#   a1 eth0 --veth-- up-a1 -+                          +- up-b1 --veth-- eth0 b1
#   172.16.0.11             +- br-a 172.16.0.1/24      |
#   a2 eth0 --veth-- up-a2 -+     br-b 172.17.0.1/24 --+- up-b2 --veth-- eth0 b2
#   172.16.0.12                   lo: VIPs 203.0.113.11 .12 .21 .22 (/32 each)
#
#   prerouting   ip daddr <VIP of n> udp dport 51820  dnat to <uplink of n>   (the LB Service)
#   postrouting  ct status dnat, ip saddr <uplink of n>  snat to <VIP of n>    (n's public face)
#   forward      policy drop: established/related, and what was DNATed to a VIP, pass; the
#                rest (a1 -> 172.17.0.11, ...) is counted and dropped
#
# Why the SNAT: WireGuard learns a peer's endpoint from the source of its packets (roaming).
# Without it b1 would learn a1's private uplink address and answer there, which the forward
# policy drops, as a real network between clusters would. With it every node only ever sees
# other clusters' VIPs, and both directions of a node pair share one conntrack entry.
# Nodes of one cluster share a Linux bridge, so they reach each other directly (L2).
#
# usage: internet.sh up|down   (the topology comes from topology.sh)
set -euo pipefail
. "$(dirname "$0")/topology.sh"
. "$(dirname "$0")/process.sh"
lab_load_topology

ns=internet

ruleset() {
  local node
  echo "table ip lab_internet {"
  echo "  chain prerouting {"
  echo "    type nat hook prerouting priority dstnat; policy accept;"
  for node in $(lab_nodes); do
    echo "    ip daddr $(lab_vip "$node") udp dport $LAB_PORT counter dnat to $(lab_uplink_ip "$node") comment \"VIP of $node\""
  done
  echo "  }"
  echo "  chain postrouting {"
  echo "    type nat hook postrouting priority srcnat; policy accept;"
  for node in $(lab_nodes); do
    echo "    ct status dnat ip saddr $(lab_uplink_ip "$node") counter snat to $(lab_vip "$node") comment \"$node leaves as its VIP\""
  done
  echo "  }"
  echo "  chain forward {"
  echo "    type filter hook forward priority filter; policy drop;"
  echo "    ct state established,related accept"
  echo "    ct status dnat accept comment \"to a VIP: the only way between clusters\""
  echo "    counter comment \"node to node across clusters\""
  echo "  }"
  echo "}"
}

up() {
  local c letter node
  lab_add_netns "$ns"
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
  # Nodes of one cluster talk over their bridge; with br_netfilter loaded that bridged traffic
  # would also cross the forward chain below, which is meant for routed traffic only.
  ip netns exec "$ns" sysctl -qw net.bridge.bridge-nf-call-iptables=0 2> /dev/null || true
  for ((c = 0; c < LAB_CLUSTERS; c++)); do
    letter=$(lab_cluster_letter "$c")
    if ! ip -n "$ns" link show "br-$letter" > /dev/null 2>&1; then
      ip -n "$ns" link add name "br-$letter" address "$(lab_gateway_mac "$c")" type bridge
      ip -n "$ns" addr add "$(lab_gateway_ip "$c")/24" dev "br-$letter"
      ip -n "$ns" link set "br-$letter" up
    fi
  done
  # The VIPs live on lo (this kernel has no dummy driver): the namespace answers ARP and
  # ping for them, as a load balancer would, and forwards only UDP 51820 behind them.
  for node in $(lab_nodes); do
    ip -n "$ns" addr replace "$(lab_vip "$node")/32" dev lo
  done
  # Replaces the table whole: `up` twice leaves one copy of each rule.
  {
    echo "table ip lab_internet {}"
    echo "delete table ip lab_internet"
    ruleset
  } | ip netns exec "$ns" nft -f -
  lab_log "internet: $LAB_CLUSTERS node networks, VIPs $(for n in $(lab_nodes); do printf '%s=%s ' "$n" "$(lab_vip "$n")"; done)"
}

down() {
  lab_del_netns "$ns"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  ruleset) ruleset ;;
  *) echo "usage: $0 up|down|ruleset" >&2; exit 2 ;;
esac
