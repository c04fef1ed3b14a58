#!/usr/bin/env bash
# System test on the lab (deploy/lab/README.md) with --cni openshift-sdn: 2 clusters x 2 nodes
# in network namespaces, each node with its own OVS (OpenShift-SDN-like br0), pods, straitd and
# strait-agent; an internet namespace with one VIP per node. (The default CNI, ovn-kubernetes,
# is lab_ovn_test.sh's.)
#
#   a1-p1,a1-p2 -- br0(a1) -- straitd a1 --+                 +-- straitd b1 -- br0(b1) -- b1-p*
#   a2-p1,a2-p2 -- br0(a2) -- straitd a2 --+-- internet ----+-- straitd b2 -- br0(b2) -- b2-p*
#                                           VIPs 203.0.113.11 .12 .21 .22 (DNAT to the nodes)
#
# Checks: check.sh (pods through br0, tun0, clusters isolated but for the VIPs, VIP DNAT);
# when straitd and strait-agent run: check.sh --cross (every pod to every pod of the other
# cluster, both ways), and that traffic for a pod on b2 went through b2's straitd (its
# `wg show strait-b2 transfer` counters for peer a1 grow by at least what was sent).
# The lab is torn down at the end, whatever happened (trap).
# Exit 77 (meson: skipped) without root or without the lab's tools.
set -euo pipefail
lab=$(cd "$(dirname "$0")/../../deploy/lab" && pwd)
. "$lab/topology.sh"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in ovs-vswitchd ovsdb-server nft wg iperf3 ethtool curl; do
  command -v "$t" > /dev/null || { echo "SKIP: $t is not installed"; exit 77; }
done

lab_lock  # one lab session at a time on this machine
trap '"$lab/lab.sh" down' EXIT
"$lab/lab.sh" down > /dev/null 2>&1 || true
unset LAB_CLUSTERS LAB_NODES LAB_CNI
"$lab/lab.sh" up --clusters 2 --nodes 2 --cni openshift-sdn
"$lab/check.sh"

lab_load_topology
if [ "$(cat "$LAB_RUN/strait-nodes")" != 4 ]; then
  echo "NOTE: straitd/strait-agent not built: the cross-cluster part was skipped"
  exit 0
fi

# The agents install their flows within one resync; wait for all four before pinging.
for node in a1 a2 b1 b2; do
  for ((i = 0; i < 100; i++)); do
    lab_ovs "$node" ovs-ofctl -O OpenFlow13 dump-flows br0 table=30 2> /dev/null |
      grep -q "output:$LAB_OFPORT_STRAIT" && break
    sleep 0.2
  done
done
"$lab/check.sh" --cross

# Traffic a1-p1 -> b2-p1 must be b2's straitd's: its rx bytes from peer a1 grow by at least
# the 20 echo requests' IP bytes (20 x 84), and its tx bytes to a1 by the replies'.
a1_key=$(cat "$(lab_node_dir a1)/public.key")
transfer() { wg show strait-b2 transfer | awk -v k="$a1_key" '$1 == k {print $2, $3}'; }
# metric NODE PORT SERIES: the value of that exact series on the node's agent (9477) or straitd (9478)
metric() {
  ip netns exec "$1" curl -s --max-time 5 "http://127.0.0.1:$2/metrics" | awk -v m="$3" '$1 == m {print $2}'
}
peer_a1='{peer_cluster="a",peer_node="a1"}'
read -r rx0 tx0 <<< "$(transfer)"
agent_rx0=$(metric b2 9477 "strait_peer_rx_bytes_total$peer_a1")
wire_rx0=$(metric b2 9478 'strait_port_rx_packets_total{port="wire"}')
ip netns exec a1-p1 ping -n -q -c 20 -i 0.05 -w 10 "$(lab_pod_ip b2-p1)"
read -r rx1 tx1 <<< "$(transfer)"
echo "strait-b2 peer a1: rx $rx0 -> $rx1 bytes, tx $tx0 -> $tx1 bytes"
if [ $((rx1 - rx0)) -lt $((20 * 84)) ] || [ $((tx1 - tx0)) -lt $((20 * 84)) ]; then
  echo "FAIL: a1-p1 -> b2-p1 did not go through b2's straitd"
  exit 1
fi
echo "PASS: a1-p1 -> b2-p1 went through b2's straitd"

# The same traffic in /metrics (dataplane/straitd/README.md, control/README.md "Metrics"):
# straitd's wire port counted it; the agent (which publishes after each 5 s resync) shows the
# peer's bytes growing and a handshake time that is a recent Unix time, under the spec's names.
wire_rx1=$(metric b2 9478 'strait_port_rx_packets_total{port="wire"}')
if ! awk -v a="${wire_rx0:-x}" -v b="${wire_rx1:-x}" 'BEGIN { exit !(a != "x" && b >= a + 20) }'; then
  echo "FAIL: straitd b2's strait_port_rx_packets_total{port=\"wire\"} did not grow by 20 ($wire_rx0 -> $wire_rx1)"
  exit 1
fi
agent_moved() {
  local rx hs
  rx=$(metric b2 9477 "strait_peer_rx_bytes_total$peer_a1")
  hs=$(metric b2 9477 "strait_peer_last_handshake_timestamp_seconds$peer_a1")
  awk -v a="${agent_rx0:-0}" -v b="${rx:-0}" -v hs="${hs:-0}" -v now="$(date +%s)" \
    'BEGIN { exit !(b >= a + 20 * 84 && hs > now - 180 && hs <= now + 1) }'
}
for ((i = 0; i < 100; i++)); do agent_moved && break; sleep 0.2; done
if ! agent_moved; then
  echo "FAIL: b2's agent: strait_peer_rx_bytes_total$peer_a1 did not grow from $agent_rx0, or" \
    "strait_peer_last_handshake_timestamp_seconds$peer_a1 is not recent"
  ip netns exec b2 curl -s --max-time 5 http://127.0.0.1:9477/metrics | grep -E 'strait_peer_' || true
  exit 1
fi
echo "PASS: /metrics of straitd b2 (wire rx $wire_rx0 -> $wire_rx1) and of agent b2 (peer a1) moved"
