#!/usr/bin/env bash
# The logical network OVN-Kubernetes builds for a cluster (its "OVN logical topology" in the
# docs, default network, one NB database for the cluster), written into the cluster's NB:
#
#                         ovn_cluster_router
#          rtos-a1 10.128.0.1/23  |  rtos-a2 10.128.2.1/23     rtoj-ovn_cluster_router 100.64.0.1/16
#              |                  |       |                           |
#   switch a1 (subnet 10.128.0.0/23)   switch a2 ...            switch join
#     stor-a1 (router port)                                     jtor-ovn_cluster_router
#     k8s-a1  10.128.0.2 (management port ovn-k8s-mp0 on the node)   jtor-GR_a1  jtor-GR_a2
#     default_a1-p1 10.128.0.3, default_a1-p2 10.128.0.4 (pods)           |          |
#                                                               GR_a1 rtoj-GR_a1 100.64.0.2/16
#                                                               (gateway router, bound to
#                                                               chassis a1) GR_a2 ... .3/16
#
# Pods leave their node's switch through ovn_cluster_router, whose source routes send each
# node's subnet to that node's gateway router (OVN-Kubernetes' "src-ip" routes, which its
# shared gateway then SNATs to the node IP; the lab has no external switch, so traffic for
# anything outside the cluster stops at GR_<node>: exactly what strait's reroute policies
# have to take over for remote clusters). Ports are bound to the nodes by ovn-controller
# through external_ids:iface-id on br-int (pods.sh, node.sh).
#
# usage: ovn-topology.sh CLUSTER      (idempotent: --may-exist everywhere)
set -euo pipefail
. "$(dirname "$0")/topology.sh"
lab_load_topology

cluster=${1:?usage: ovn-topology.sh CLUSTER}
nbctl() { ovn-nbctl --db="$(lab_ovn_nb "$cluster")" --timeout=10 "$@"; }
join_ip() { echo "100.64.0.$1"; }  # .1 the cluster router, .(1+j) GR of node j
join_mac() { lab_mac_of_ip "$(join_ip "$1")"; }

# The cluster router and the join switch that links it to every gateway router.
nbctl --may-exist lr-add ovn_cluster_router
nbctl --may-exist ls-add join
nbctl --may-exist lrp-add ovn_cluster_router rtoj-ovn_cluster_router "$(join_mac 1)" "$(join_ip 1)/16"
nbctl --may-exist lsp-add join jtor-ovn_cluster_router \
  -- lsp-set-type jtor-ovn_cluster_router router \
  -- lsp-set-addresses jtor-ovn_cluster_router router \
  -- lsp-set-options jtor-ovn_cluster_router router-port=rtoj-ovn_cluster_router

for node in $(lab_nodes); do
  [ "$(lab_cluster_of "$node")" = "$cluster" ] || continue
  j=$(lab_node_index "$node")
  gw=$(lab_tun0_ip "$node")

  # The node's switch, holding its subnet, joined to the cluster router.
  nbctl --may-exist ls-add "$node" -- set logical_switch "$node" \
    other_config:subnet="$(lab_node_subnet "$node")"
  nbctl --may-exist lrp-add ovn_cluster_router "rtos-$node" "$(lab_mac_of_ip "$gw")" "$gw/23"
  nbctl --may-exist lsp-add "$node" "stor-$node" \
    -- lsp-set-type "stor-$node" router \
    -- lsp-set-addresses "stor-$node" router \
    -- lsp-set-options "stor-$node" router-port="rtos-$node"

  # The management port: the node's own address in its pod subnet.
  nbctl --may-exist lsp-add "$node" "k8s-$node" \
    -- lsp-set-addresses "k8s-$node" "$(lab_mac_of_ip "$(lab_mgmt_ip "$node")") $(lab_mgmt_ip "$node")"

  # The pods: "<namespace>_<pod>", port security on their MAC and IP.
  for pod in $(lab_pods "$node"); do
    addr="$(lab_pod_mac "$pod") $(lab_pod_ip "$pod")"
    nbctl --may-exist lsp-add "$node" "default_$pod" \
      -- lsp-set-addresses "default_$pod" "$addr" \
      -- lsp-set-port-security "default_$pod" "$addr"
  done

  # The node's gateway router, on the join switch, bound to the node's chassis.
  nbctl --may-exist lr-add "GR_$node" -- set logical_router "GR_$node" options:chassis="$node"
  nbctl --may-exist lrp-add "GR_$node" "rtoj-GR_$node" "$(join_mac $((1 + j)))" "$(join_ip $((1 + j)))/16"
  nbctl --may-exist lsp-add join "jtor-GR_$node" \
    -- lsp-set-type "jtor-GR_$node" router \
    -- lsp-set-addresses "jtor-GR_$node" router \
    -- lsp-set-options "jtor-GR_$node" router-port="rtoj-GR_$node"
  nbctl --may-exist --policy=src-ip lr-route-add ovn_cluster_router "$(lab_node_subnet "$node")" \
    "$(join_ip $((1 + j)))"
  nbctl --may-exist lr-route-add "GR_$node" "$(lab_cluster_cidr "$(lab_cluster_index "$node")")" \
    "$(join_ip 1)"
done
lab_log "ovn topology of cluster $cluster: ovn_cluster_router, join, $(for n in $(lab_nodes); do [ "$(lab_cluster_of "$n")" = "$cluster" ] && printf 'switch %s + GR_%s, ' "$n" "$n"; done)pods"
