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
for t in ovs-vswitchd ovsdb-server nft wg iperf3 ethtool; do
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
read -r rx0 tx0 <<< "$(transfer)"
ip netns exec a1-p1 ping -n -q -c 20 -i 0.05 -w 10 "$(lab_pod_ip b2-p1)"
read -r rx1 tx1 <<< "$(transfer)"
echo "strait-b2 peer a1: rx $rx0 -> $rx1 bytes, tx $tx0 -> $tx1 bytes"
if [ $((rx1 - rx0)) -lt $((20 * 84)) ] || [ $((tx1 - tx0)) -lt $((20 * 84)) ]; then
  echo "FAIL: a1-p1 -> b2-p1 did not go through b2's straitd"
  exit 1
fi
echo "PASS: a1-p1 -> b2-p1 went through b2's straitd"
