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
#   vip_packets  (prerouting, before the DNAT) counts every tunnel packet sent to each VIP:
#                NAT chains see only the first packet of a flow, this chain sees them all
#
# A node may have more than one VIP while it moves (a load balancer given a new address):
# `add-vip NODE ADDR` adds ADDR, DNATed to the node, and makes it the node's SNAT address
# (its public face; gen-spec.sh then writes it as the endpoint); `del-vip NODE ADDR` retires
# one. Both flush the namespace's conntrack table: NAT bindings live in conntrack entries, so
# without the flush the node's established flows would keep leaving as the old address, and
# its peers would roam back to it. The VIPs are in $LAB_RUN/vips (topology.sh: lab_vips).
#
# Why the SNAT: WireGuard learns a peer's endpoint from the source of its packets (roaming).
# Without it b1 would learn a1's private uplink address and answer there, which the forward
# policy drops, as a real network between clusters would. With it every node only ever sees
# other clusters' VIPs, and both directions of a node pair share one conntrack entry.
# Nodes of one cluster share a Linux bridge, so they reach each other directly (L2).
#
# usage: internet.sh up|down|ruleset | add-vip|del-vip NODE ADDR | flush-conntrack
#        (the topology comes from topology.sh)
set -euo pipefail
. "$(dirname "$0")/topology.sh"
. "$(dirname "$0")/process.sh"
lab_load_topology

ns=internet

ruleset() {
  local node vip
  echo "table ip lab_internet {"
  echo "  chain prerouting {"
  echo "    type nat hook prerouting priority dstnat; policy accept;"
  for node in $(lab_nodes); do
    for vip in $(lab_vips "$node"); do
      echo "    ip daddr $vip udp dport $LAB_PORT counter dnat to $(lab_uplink_ip "$node") comment \"VIP of $node\""
    done
  done
  echo "  }"
  echo "  chain postrouting {"
  echo "    type nat hook postrouting priority srcnat; policy accept;"
  for node in $(lab_nodes); do
    echo "    ct status dnat ip saddr $(lab_uplink_ip "$node") counter snat to $(lab_public_vip "$node") comment \"$node leaves as its VIP\""
  done
  echo "  }"
  echo "  chain forward {"
  echo "    type filter hook forward priority filter; policy drop;"
  echo "    ct state established,related accept"
  echo "    ct status dnat accept comment \"to a VIP: the only way between clusters\""
  echo "    counter comment \"node to node across clusters\""
  echo "  }"
  echo "  chain vip_packets {"
  echo "    type filter hook prerouting priority mangle; policy accept;"
  for node in $(lab_nodes); do
    for vip in $(lab_vips "$node"); do
      echo "    ip daddr $vip udp dport $LAB_PORT counter comment \"to $vip\""
    done
  done
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
    for vip in $(lab_vips "$node"); do ip -n "$ns" addr replace "$vip/32" dev lo; done
  done
  apply_ruleset
  lab_log "internet: $LAB_CLUSTERS node networks, VIPs $(for n in $(lab_nodes); do printf '%s=%s ' "$n" "$(lab_vip "$n")"; done)"
}

# Replaces the table whole, in one transaction: `up` twice leaves one copy of each rule.
apply_ruleset() {
  {
    echo "table ip lab_internet {}"
    echo "delete table ip lab_internet"
    ruleset
  } | ip netns exec "$ns" nft -f -
}

down() {
  lab_del_netns "$ns"
}

# Deletes every IPv4 conntrack entry of the namespace (and with them their NAT bindings):
# ctnetlink IPCTNL_MSG_CT_DELETE without a tuple is a flush (what `conntrack -F` sends; the
# conntrack tool is not installed here). Tunnel flows re-form at their next packet.
flush_conntrack() {
  ip netns exec "$ns" python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)       # NETLINK_NETFILTER
body = struct.pack("=BBH", socket.AF_INET, 0, 0)                # nfgenmsg: family, version, res_id
hdr = struct.pack("=IHHII", 16 + len(body), (1 << 8) | 2, 0x1 | 0x4, 1, 0)  # CTNETLINK, CT_DELETE; REQUEST|ACK
s.sendto(hdr + body, (0, 0))
reply = s.recv(4096)
kind, = struct.unpack("=H", reply[4:6])
err, = struct.unpack("=i", reply[16:20])
if kind != 2 or err != 0:                                       # NLMSG_ERROR with 0 = ack
    sys.exit("conntrack flush refused: type %d error %d" % (kind, err))
'
}

# Writes a node's VIP list (oldest first) to $LAB_RUN/vips.
save_vips() {
  local node=$1
  shift
  { grep -v "^$node " "$LAB_RUN/vips" 2>/dev/null || true; echo "$node $*"; } > "$LAB_RUN/vips.tmp"
  mv -f "$LAB_RUN/vips.tmp" "$LAB_RUN/vips"
}

add_vip() {
  local node=$1 addr=$2 vips vip other
  [[ $addr =~ ^203\.0\.113\.[0-9]+$ ]] || lab_die "add-vip: $addr is not in 203.0.113.0/24 (the lab's VIP range)"
  mapfile -t vips < <(lab_vips "$node")
  for vip in "${vips[@]}"; do [ "$vip" != "$addr" ] || lab_die "add-vip: $node already has $addr"; done
  for other in $(lab_nodes); do
    [ "$other" = "$node" ] || ! lab_vips "$other" | grep -qx -- "$addr" ||
      lab_die "add-vip: $addr is $other's VIP"
  done
  ip -n "$ns" addr replace "$addr/32" dev lo
  save_vips "$node" "${vips[@]}" "$addr"
  apply_ruleset
  flush_conntrack
  lab_log "internet: $node has VIPs $(lab_vips "$node" | tr '\n' ' ')(leaves as $addr)"
}

del_vip() {
  local node=$1 addr=$2 vips vip keep=()
  mapfile -t vips < <(lab_vips "$node")
  for vip in "${vips[@]}"; do [ "$vip" = "$addr" ] || keep+=("$vip"); done
  [ ${#keep[@]} -lt ${#vips[@]} ] || lab_die "del-vip: $addr is not a VIP of $node"
  [ ${#keep[@]} -gt 0 ] || lab_die "del-vip: $addr is $node's only VIP"
  save_vips "$node" "${keep[@]}"
  apply_ruleset
  ip -n "$ns" addr del "$addr/32" dev lo
  flush_conntrack
  lab_log "internet: $node has VIPs $(lab_vips "$node" | tr '\n' ' ')(leaves as $(lab_public_vip "$node"))"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  ruleset) ruleset ;;
  add-vip) add_vip "${2:?usage: internet.sh add-vip NODE ADDR}" "${3:?usage: internet.sh add-vip NODE ADDR}" ;;
  del-vip) del_vip "${2:?usage: internet.sh del-vip NODE ADDR}" "${3:?usage: internet.sh del-vip NODE ADDR}" ;;
  flush-conntrack) flush_conntrack ;;
  *) echo "usage: $0 up|down|ruleset | add-vip|del-vip NODE ADDR | flush-conntrack" >&2; exit 2 ;;
esac
