#!/usr/bin/env bash
# The pods of one node: a namespace each, on a veth into br0, addressed as OpenShift SDN does.
#
#   namespace a1-p1                      namespace a1
#   eth0 10.128.0.2/23 ==veth== veth-p1 -- br0 (ofport 3)      default via 10.128.0.1 (tun0)
#   MAC 0a:58:0a:80:00:02                 table 20 checks source 10.128.0.2 / that MAC,
#                                         tables 40/70 deliver ARP/IP for 10.128.0.2 to port 3
#
# The MAC is 0a:58 followed by the IPv4 address: straitd's `--bridge-mac-mode pod` writes it
# as the destination of decrypted packets, with no neighbour lookup. MTU = straitd's tunnel MTU.
#
# With --cni ovn-kubernetes the veths go into br-int instead, each bound to its logical port
# default_<pod> (ovn-topology.sh) through external_ids:iface-id; the gateway .1 is the
# cluster router's port rtos-<node>, and pods start at .3.
#
# With --cni route the pods are Calico-like: eth0 <pod IP>/32, default via 169.254.1.1 (onlink),
# which the node answers by proxy ARP on the pod's veth; the node routes <pod IP>/32 to the
# veth. No bridge at all.
#
# usage: pods.sh up|down NODE
set -euo pipefail
. "$(dirname "$0")/topology.sh"
. "$(dirname "$0")/process.sh"
lab_load_topology

up() {
  local node=$1 pod k port
  for pod in $(lab_pods "$node"); do
    k=${pod##*-p}
    port=veth-p$k
    lab_add_netns "$pod"
    if ! ip -n "$node" link show "$port" > /dev/null 2>&1; then
      ip -n "$node" link add name "$port" mtu "$LAB_POD_MTU" type veth peer name eth0 netns "$pod" \
        mtu "$LAB_POD_MTU" address "$(lab_pod_mac "$pod")"
      ip -n "$node" link set "$port" up
      if [ "$LAB_CNI" = route ]; then
        ip -n "$pod" addr add "$(lab_pod_ip "$pod")/32" dev eth0
        ip -n "$pod" link set eth0 up
        ip -n "$pod" route add default via "$lab_route_gateway" dev eth0 onlink
        ip netns exec "$node" sysctl -qw "net.ipv4.conf.$port.proxy_arp=1"
        ip -n "$node" route replace "$(lab_pod_ip "$pod")/32" dev "$port"
      else
        ip -n "$pod" addr add "$(lab_pod_ip "$pod")/23" dev eth0
        ip -n "$pod" link set eth0 up
        ip -n "$pod" route add default via "$(lab_tun0_ip "$node")"
      fi
      # See node.sh: the userspace datapath needs whole, checksummed frames.
      ip netns exec "$pod" ethtool -K eth0 tx off tso off gso off gro off > /dev/null 2>&1 || true
      ip netns exec "$node" ethtool -K "$port" tx off tso off gso off gro off > /dev/null 2>&1 || true
    fi
    if [ "$LAB_CNI" = route ]; then
      :
    elif [ "$LAB_CNI" = ovn-kubernetes ]; then
      lab_ovs "$node" ovs-vsctl --timeout=10 --may-exist add-port br-int "$port" \
        -- set interface "$port" external_ids:iface-id="default_$pod" external_ids:pod="$pod"
    else
      lab_ovs "$node" ovs-vsctl --timeout=10 --may-exist add-port br0 "$port" \
        -- set interface "$port" ofport_request="$(lab_pod_ofport "$pod")" \
        external_ids:pod="$pod"
    fi
  done
  lab_log "pods of $node: $(for p in $(lab_pods "$node"); do printf '%s=%s ' "$p" "$(lab_pod_ip "$p")"; done)"
}

down() {
  local pod
  for pod in $(lab_pods "$1"); do lab_del_netns "$pod"; done
}

case "${1:-}" in
  up) up "${2:?usage: pods.sh up NODE}" ;;
  down) down "${2:?usage: pods.sh down NODE}" ;;
  *) echo "usage: $0 up|down NODE" >&2; exit 2 ;;
esac
