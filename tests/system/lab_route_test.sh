#!/usr/bin/env bash
# The lab with --cni route (deploy/lab/README.md): no OVS; pods on veths routed by the node's
# kernel, Calico-like (a /32 per pod, default via 169.254.1.1 answered by proxy ARP), and
# strait-agent's `route` profile (kernel routes for the remote cluster CIDR through straitd's
# tap, proto 87; straitd answers the kernel's ARP for them).
#
#   a1-p1,a1-p2 =veth= a1 kernel -- strait0 (straitd) --+              +-- straitd b1 ... b1-p*
#   a2-p1,a2-p2 =veth= a2 kernel -- strait0 (straitd) --+-- internet --+-- straitd b2 ... b2-p*
#
# Checks: check.sh --cross (the lab's plumbing, then every pod to every pod of the other
# cluster both ways: all 8 node pairs), and that every node has exactly its route for the
# other cluster's CIDR, marked proto 87, through strait0.
# Exit 77 (meson: skipped) without root, the lab's tools, or straitd and strait-agent built.
set -euo pipefail
lab=$(cd "$(dirname "$0")/../../deploy/lab" && pwd)
. "$lab/topology.sh"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in nft wg ethtool python3; do
  command -v "$t" > /dev/null || { echo "SKIP: $t is not installed"; exit 77; }
done
if [ -z "$(lab_straitd)" ] || [ -z "$(lab_agent)" ]; then
  echo "SKIP: straitd and strait-agent are not built"
  exit 77
fi

lab_lock
trap '"$lab/lab.sh" down' EXIT
"$lab/lab.sh" down > /dev/null 2>&1 || true
unset LAB_CLUSTERS LAB_NODES LAB_CNI
"$lab/lab.sh" up --clusters 2 --nodes 2 --cni route
lab_load_topology
[ "$(cat "$LAB_RUN/strait-nodes")" = 4 ] || { echo "FAIL: strait did not start on every node"; exit 1; }

strait_routes() { ip -n "$1" route show proto 87 | sed 's/ *$//'; }  # iproute2 pads lines
for node in $(lab_nodes); do
  other=$(lab_cluster_cidr $((1 - $(lab_cluster_index "$node"))))
  want="$other dev strait0 scope link"
  for ((i = 0; i < 100; i++)); do
    [ "$(strait_routes "$node")" = "$want" ] && break
    sleep 0.2
  done
  got=$(strait_routes "$node")
  [ "$got" = "$want" ] || { echo "FAIL: $node's strait routes: '$got', want '$want'"; exit 1; }
  echo "PASS  $node routes $other to strait0 (proto 87), nothing else"
done
"$lab/check.sh" --cross
echo "lab_route: all passed"
