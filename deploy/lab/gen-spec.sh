#!/usr/bin/env bash
# Writes the mesh spec of the lab (control/mesh_spec.hpp's format) from the topology and the
# nodes' public keys (strait.sh keys NODE makes them). Every node runs straitd, so every pair
# of nodes in different clusters uses AES-256-GCM transport. Endpoints are the VIPs (each
# node's newest, after internet.sh add-vip). --omit leaves a node out, as when it leaves the
# mesh (tests/system/lab_resilience_test.sh).
#
#   clusters: [{name: a, pod_cidrs: [10.128.0.0/14]}, {name: b, ...}]
#   nodes:    [{name: a1, cluster: a, pod_subnets: [10.128.0.0/23],
#               endpoint: "203.0.113.11:51820", public_key: <base64>, straitd: true}, ...]
#
# usage: gen-spec.sh [--out FILE] [--omit NODE]...   (default: stdout)
set -euo pipefail
. "$(dirname "$0")/topology.sh"
lab_load_topology

out=""
omit=" "
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=${2:?--out needs a file}; shift 2 ;;
    --omit) omit+="${2:?--omit needs a node} "; shift 2 ;;
    *) echo "usage: $0 [--out FILE] [--omit NODE]..." >&2; exit 2 ;;
  esac
done

spec() {
  local c node key
  echo "# The lab's mesh: $LAB_CLUSTERS clusters x $LAB_NODES nodes (deploy/lab/gen-spec.sh)."
  echo "clusters:"
  for ((c = 0; c < LAB_CLUSTERS; c++)); do
    echo "  - name: $(lab_cluster_letter "$c")"
    echo "    pod_cidrs: [$(lab_cluster_cidr "$c")]"
  done
  echo "nodes:"
  for node in $(lab_nodes); do
    [[ $omit != *" $node "* ]] || continue
    key=$(cat "$(lab_node_dir "$node")/public.key" 2>/dev/null) ||
      lab_die "no public key for $node (run: deploy/lab/strait.sh keys $node)"
    echo "  - name: $node"
    echo "    cluster: $(lab_cluster_of "$node")"
    echo "    pod_subnets: [$(lab_node_subnet "$node")]"
    echo "    endpoint: \"$(lab_public_vip "$node"):$LAB_PORT\""
    echo "    public_key: $key"
    echo "    straitd: true"
  done
}

if [ -z "$out" ]; then
  spec
else
  # Written beside and renamed into place: a watching agent never reads half a file.
  spec > "$out.tmp"
  mv -f "$out.tmp" "$out"
fi
