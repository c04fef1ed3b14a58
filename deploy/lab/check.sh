#!/usr/bin/env bash
# Verifies a running lab. Every check prints PASS or FAIL; the exit status is the number of
# failures (0: all passed).
#
# Always (the lab's own plumbing, with or without strait):
#   1. pods of one node reach each other through br0 (ping; tables 0 -> 20 -> 30 -> 40/70 -> 80),
#      or on ovn-kubernetes through br-int and the node's logical switch, or on route through
#      the node's kernel
#   2. every pod reaches its gateway 10.x.y.1 (tun0; on ovn-kubernetes ovn_cluster_router's
#      rtos-<node>; on route the node itself)
#   3. a node cannot reach another cluster's node address (ping of the uplink fails), while it
#      does reach its gateway and the nodes of its own cluster (so the failure means something)
#   4. the VIP DNAT rules exist, one per node, to that node's uplink
#   5. a UDP packet from node X to node Y's VIP:51820 arrives at Y with X's VIP as its source
#      (DNAT + SNAT), and one sent straight to Y's uplink address does not arrive at all
# With --cross (straitd and strait-agent running):
#   6. every pod reaches every pod of every other cluster (ping both ways, all pairs)
#
# usage: check.sh [--cross]
set -euo pipefail
. "$(dirname "$0")/topology.sh"
. "$(dirname "$0")/process.sh"
lab_load_topology
[ -f "$LAB_RUN/topology.env" ] || lab_die "the lab is not up (deploy/lab/lab.sh up)"

cross=0
[ "${1:-}" = "--cross" ] && cross=1
failures=0
pass() { printf 'PASS  %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; failures=$((failures + 1)); }

pings() {  # NS ADDR: three answers within 10 s
  ip netns exec "$1" ping -n -q -c 3 -i 0.2 -w 10 "$2" > /dev/null 2>&1
}
no_ping() {  # NS ADDR: no answer within 2 s
  ! ip netns exec "$1" ping -n -q -c 2 -i 0.5 -w 2 "$2" > /dev/null 2>&1
}

# 1, 2
for node in $(lab_nodes); do
  mapfile -t pods < <(lab_pods "$node")
  for pod in "${pods[@]}"; do
    if pings "$pod" "$(lab_tun0_ip "$node")"; then pass "$pod reaches its gateway $(lab_tun0_ip "$node")"
    else fail "$pod does not reach its gateway $(lab_tun0_ip "$node")"; fi
  done
  for ((i = 1; i < ${#pods[@]}; i++)); do
    if pings "${pods[0]}" "$(lab_pod_ip "${pods[i]}")"; then pass "${pods[0]} reaches ${pods[i]} on $node ($LAB_CNI)"
    else fail "${pods[0]} does not reach ${pods[i]} ($(lab_pod_ip "${pods[i]}"))"; fi
  done
done

# 3
for node in $(lab_nodes); do
  c=$(lab_cluster_index "$node")
  if pings "$node" "$(lab_gateway_ip "$c")"; then pass "$node reaches its gateway"
  else fail "$node does not reach its gateway $(lab_gateway_ip "$c")"; fi
  for other in $(lab_nodes); do
    [ "$other" != "$node" ] || continue
    if [ "$(lab_cluster_of "$other")" = "$(lab_cluster_of "$node")" ]; then
      if pings "$node" "$(lab_uplink_ip "$other")"; then pass "$node reaches $other (same cluster)"
      else fail "$node does not reach $other (same cluster, $(lab_uplink_ip "$other"))"; fi
    elif no_ping "$node" "$(lab_uplink_ip "$other")"; then
      pass "$node cannot reach $other's node address $(lab_uplink_ip "$other")"
    else
      fail "$node reaches $other's node address $(lab_uplink_ip "$other"): clusters are not isolated"
    fi
  done
done

# 4
rules=$(ip netns exec internet nft list chain ip lab_internet prerouting 2>/dev/null || true)
for node in $(lab_nodes); do
  if grep -q "ip daddr $(lab_vip "$node") udp dport $LAB_PORT .*dnat to $(lab_uplink_ip "$node")" <<< "$rules"; then
    pass "VIP $(lab_vip "$node"):$LAB_PORT DNATs to $node $(lab_uplink_ip "$node")"
  else
    fail "no DNAT rule for VIP $(lab_vip "$node") to $node"
  fi
done

# 5: one pair of nodes in different clusters, with a rule counting exactly the probe.
mapfile -t all_nodes < <(lab_nodes)
probe_from=${all_nodes[0]}
probe_to=""
for n in "${all_nodes[@]}"; do
  if [ "$(lab_cluster_of "$n")" != "$(lab_cluster_of "$probe_from")" ]; then probe_to=$n; break; fi
done
if [ -n "$probe_to" ]; then
  sport=51999
  rules_of() { ip netns exec "$probe_to" nft -a list chain inet lab_node input; }
  counted() {  # COMMENT: packets its rule has seen
    rules_of | awk -v c="\"$1\"" 'index($0, c) { for (i = 1; i <= NF; i++) if ($i == "packets") print $(i + 1) }'
  }
  send_udp() {  # NS DST
    ip netns exec "$1" python3 -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('', $sport)); s.sendto(b'lab probe', ('$2', $LAB_PORT))"
  }
  # Two rules at the head of the node's input chain (`insert` prepends, so "any" comes
  # first): "any" counts every probe, whatever its source; "vip" counts and drops those
  # whose source is the sender's VIP.
  ip netns exec "$probe_to" nft insert rule inet lab_node input ip saddr "$(lab_vip "$probe_from")" \
    udp sport "$sport" udp dport "$LAB_PORT" counter drop comment '"lab probe vip"'
  ip netns exec "$probe_to" nft insert rule inet lab_node input \
    udp sport "$sport" udp dport "$LAB_PORT" counter comment '"lab probe any"'
  send_udp "$probe_from" "$(lab_uplink_ip "$probe_to")"
  sleep 0.3
  direct_any=$(counted "lab probe any")
  send_udp "$probe_from" "$(lab_vip "$probe_to")"
  sleep 0.3
  vip_any=$(counted "lab probe any")
  vip_vip=$(counted "lab probe vip")
  for handle in $(rules_of | awk '/lab probe/ {print $NF}'); do
    ip netns exec "$probe_to" nft delete rule inet lab_node input handle "$handle"
  done
  if [ "$direct_any" = 0 ]; then pass "UDP $probe_from -> $probe_to's node address does not arrive"
  else fail "UDP $probe_from -> $probe_to's node address arrived"; fi
  if [ "$vip_any" = 1 ] && [ "$vip_vip" = 1 ]; then
    pass "UDP $probe_from -> VIP $(lab_vip "$probe_to"):$LAB_PORT arrives at $probe_to from VIP $(lab_vip "$probe_from")"
  else
    fail "UDP $probe_from -> VIP $(lab_vip "$probe_to"):$LAB_PORT: $vip_any arrived at $probe_to, $vip_vip from VIP $(lab_vip "$probe_from") (want 1, 1)"
  fi
fi

# 6
if [ "$cross" = 1 ]; then
  for src in $(lab_nodes); do
    for dst in $(lab_nodes); do
      [ "$(lab_cluster_of "$src")" != "$(lab_cluster_of "$dst")" ] || continue
      for sp in $(lab_pods "$src"); do
        for dp in $(lab_pods "$dst"); do
          if pings "$sp" "$(lab_pod_ip "$dp")"; then pass "$sp reaches $dp ($(lab_pod_ip "$dp")) across clusters"
          else fail "$sp does not reach $dp ($(lab_pod_ip "$dp")) across clusters"; fi
        done
      done
    done
  done
fi

if [ "$failures" -eq 0 ]; then echo "check: all passed"; else echo "check: $failures FAILED"; fi
[ "$failures" -eq 0 ]
