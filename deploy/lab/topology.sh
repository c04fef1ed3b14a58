# shellcheck shell=bash disable=SC2034  # constants for the scripts that source this
# The lab's addressing plan, run-time paths and log helpers. Sourced by every lab script;
# defines functions only, runs nothing.
#
#   cluster c (0-based, letter a, b, ...)     node j (1-based) of cluster c, e.g. a1, b2
#   pod CIDR       10.(128+4c).0.0/14          node subnet  10.(128+4c).(2(j-1)).0/23
#   node network   172.(16+c).0.0/24           tun0         <node subnet>.1/23
#     gateway      172.(16+c).0.1 (internet)   pod k        <node subnet>.(1+k), MAC 0a:58:<IPv4>
#                                              (ovn-kubernetes: .2 is the management port
#                                              k8s-<node>, pod k is .(2+k), as OVN-Kubernetes
#                                              numbers them)
#   node uplink    172.(16+c).0.(10+j)         VIP          203.0.113.(10(c+1)+j), UDP 51820
#
# So a1 = 10.128.0.0/23, a2 = 10.128.2.0/23, b1 = 10.132.0.0/23, b2 = 10.132.2.0/23 (DESIGN.md
# section 1), VIPs a1 = 203.0.113.11, b2 = 203.0.113.22.
#
# Topology size comes from LAB_CLUSTERS / LAB_NODES / LAB_PODS, the pod network from LAB_CNI
# (ovn-kubernetes, openshift-sdn or route); lab.sh up writes them to $LAB_RUN/topology.env so
# that later commands find the same lab.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_REPO=$(cd "$LAB_DIR/../.." && pwd)
LAB_RUN=${LAB_RUN:-/run/strait-lab}
LAB_PORT=51820           # the tunnel port behind every VIP
LAB_POD_MTU=${LAB_POD_MTU:-1420}  # = straitd's --tunnel-mtu: no fragmentation, no PMTU hunt
LAB_OFPORT_TUN0=2        # OpenShift SDN: 1 = vxlan0, 2 = tun0, pods from 3
LAB_OFPORT_STRAIT=9      # straitd's tap; pods take 3 .. 8
LAB_SDN_COOKIE=0x5d0     # the lab's own br0 flows (strait-agent uses 0x57a17...)

lab_log() { printf '[lab] %s\n' "$*" >&2; }
lab_die() { printf '[lab] error: %s\n' "$*" >&2; exit 1; }

# Loads the topology of a running lab, or takes it from the environment (defaults 2 x 2 x 2).
lab_load_topology() {
  if [ -z "${LAB_CLUSTERS:-}" ] && [ -f "$LAB_RUN/topology.env" ]; then
    # shellcheck disable=SC1091
    . "$LAB_RUN/topology.env"
  fi
  LAB_CLUSTERS=${LAB_CLUSTERS:-2}
  LAB_NODES=${LAB_NODES:-2}
  LAB_PODS=${LAB_PODS:-2}
  LAB_CNI=${LAB_CNI:-ovn-kubernetes}
  case "$LAB_CNI" in
    ovn-kubernetes | openshift-sdn | route) ;;
    *) lab_die "--cni must be ovn-kubernetes, openshift-sdn or route (got $LAB_CNI)" ;;
  esac
  [[ $LAB_CLUSTERS =~ ^[1-8]$ ]] || lab_die "--clusters must be 1..8 (got $LAB_CLUSTERS)"
  [[ $LAB_NODES =~ ^[1-9]$ ]] || lab_die "--nodes must be 1..9 (got $LAB_NODES)"
  [[ $LAB_PODS =~ ^[1-6]$ ]] || lab_die "LAB_PODS must be 1..6 (got $LAB_PODS)"
}

lab_save_topology() {
  mkdir -p "$LAB_RUN"
  printf 'LAB_CLUSTERS=%s\nLAB_NODES=%s\nLAB_PODS=%s\nLAB_CNI=%s\n' "$LAB_CLUSTERS" "$LAB_NODES" \
    "$LAB_PODS" "$LAB_CNI" > "$LAB_RUN/topology.env"
}

# lab_lock: for a whole session on the lab (a test: up, checks, down). The lab is one per
# machine (/run/strait-lab, fixed namespace names), so a second session waits here rather
# than tearing the first one down. The lock is an flock on a file beside $LAB_RUN; the
# daemons the session starts inherit it and release it when `lab.sh down` stops them.
lab_lock() {
  local wait=${LAB_LOCK_WAIT:-1200}
  exec {LAB_LOCK_FD}> "$LAB_RUN.lock"
  if ! flock -n "$LAB_LOCK_FD"; then
    lab_log "another lab session holds $LAB_RUN.lock: waiting up to ${wait}s"
    flock -w "$wait" "$LAB_LOCK_FD" || lab_die "the lab stayed busy for ${wait}s ($LAB_RUN.lock)"
  fi
}

lab_cluster_letter() { local letters=abcdefgh; printf '%s' "${letters:$1:1}"; }

lab_clusters() {
  local c
  for ((c = 0; c < LAB_CLUSTERS; c++)); do lab_cluster_letter "$c"; echo; done
}

lab_nodes() {  # every node name, cluster by cluster
  local c j
  for ((c = 0; c < LAB_CLUSTERS; c++)); do
    for ((j = 1; j <= LAB_NODES; j++)); do echo "$(lab_cluster_letter "$c")$j"; done
  done
}

lab_pods() {  # pod namespaces of one node: a1-p1 a1-p2
  local k
  for ((k = 1; k <= LAB_PODS; k++)); do echo "$1-p$k"; done
}

# Node "b2" -> cluster index 1, node index 2.
lab_cluster_index() { echo $(($(printf '%d' "'${1:0:1}") - 97)); }
lab_node_index() { echo "${1:1}"; }
lab_cluster_of() { echo "${1:0:1}"; }

lab_cluster_cidr() { echo "10.$((128 + 4 * $1)).0.0/14"; }  # by cluster index
lab_node_subnet_base() {  # "10.128.2" for a2
  echo "10.$((128 + 4 * $(lab_cluster_index "$1"))).$((2 * ($(lab_node_index "$1") - 1)))"
}
lab_node_subnet() { echo "$(lab_node_subnet_base "$1").0/23"; }
lab_tun0_ip() { echo "$(lab_node_subnet_base "$1").1"; }
lab_uplink_ip() { echo "172.$((16 + $(lab_cluster_index "$1"))).0.$((10 + $(lab_node_index "$1")))"; }
lab_gateway_ip() { echo "172.$((16 + $1)).0.1"; }  # by cluster index
lab_gateway_mac() { printf '02:1a:b0:00:%02x:01\n' "$1"; }  # by cluster index
lab_vip() {  # the address plan's VIP of a node
  echo "203.0.113.$((10 * ($(lab_cluster_index "$1") + 1) + $(lab_node_index "$1")))"
}
# A node's VIPs now, oldest first: the plan's, unless `internet.sh add-vip/del-vip` changed
# them ($LAB_RUN/vips: "NODE VIP..." lines). The newest is the node's public face: its SNAT
# address and the endpoint gen-spec.sh writes.
lab_vips() {
  local line
  line=$(awk -v n="$1" '$1 == n {$1 = ""; print substr($0, 2)}' "$LAB_RUN/vips" 2>/dev/null || true)
  if [ -n "$line" ]; then tr ' ' '\n' <<< "$line"; else lab_vip "$1"; fi
}
lab_public_vip() { lab_vips "$1" | tail -n 1; }

# Pod "a1-p2" -> 10.128.0.3 and 0a:58:0a:80:00:03 (OpenShift SDN's and OVN-Kubernetes'
# MAC-from-IP rule); on ovn-kubernetes one higher (10.128.0.4), .2 being k8s-<node>.
lab_pod_ip() {
  local first=1
  [ "${LAB_CNI:-}" != ovn-kubernetes ] || first=2
  echo "$(lab_node_subnet_base "${1%-p*}").$((first + ${1##*-p}))"
}
lab_mgmt_ip() { echo "$(lab_node_subnet_base "$1").2"; }  # ovn-kubernetes: k8s-<node>
lab_mac_of_ip() {  # 10.128.0.3 -> 0a:58:0a:80:00:03
  local a b c d
  IFS=. read -r a b c d <<< "$1"
  printf '0a:58:%02x:%02x:%02x:%02x\n' "$a" "$b" "$c" "$d"
}
lab_pod_mac() { lab_mac_of_ip "$(lab_pod_ip "$1")"; }
lab_pod_ofport() { echo $((2 + ${1##*-p})); }

lab_ifname() { echo "strait-$1"; }  # straitd's UAPI name: /var/run/wireguard/strait-a1.sock

lab_node_dir() { echo "$LAB_RUN/$1"; }
lab_ovs_dir() { echo "$LAB_RUN/$1/ovs"; }
# ovn-kubernetes: a cluster's northd and NB/SB databases (by cluster letter), and its NB.
lab_ovn_dir() { echo "$LAB_RUN/ovn-$1"; }
lab_ovn_nb() { echo "unix:$(lab_ovn_dir "$1")/nb.sock"; }
lab_ovn_sb() { echo "unix:$(lab_ovn_dir "$1")/sb.sock"; }
# The bridge the pods and straitd are on: br-int (OVN), br0 (OpenShift SDN); route has none.
lab_route_gateway=169.254.1.1   # route: every pod's default gateway (answered by proxy ARP)
lab_strait_tap_mac=02:57:a1:00:00:01  # route: straitd's tap in the node's kernel
lab_bridge() { if [ "$LAB_CNI" = ovn-kubernetes ]; then echo br-int; else echo br0; fi; }

# Runs a command with the node's own Open vSwitch (its db.sock, br0.mgmt, pidfiles).
lab_ovs() {
  local node=$1
  shift
  OVS_RUNDIR=$(lab_ovs_dir "$node") OVS_DBDIR=$(lab_ovs_dir "$node") \
    OVS_LOGDIR=$(lab_node_dir "$node") "$@"
}

# The straitd and strait-agent binaries: $STRAITD / $STRAIT_AGENT, else $LAB_BUILD_DIR
# (default build/), else the newest build*/ that has them. Prints nothing if absent.
lab_find_binary() {
  local rel=$1 env_value=$2 dir f best=""
  if [ -n "$env_value" ]; then
    [ -x "$env_value" ] && echo "$env_value"
    return 0
  fi
  dir=${LAB_BUILD_DIR:-$LAB_REPO/build}
  if [ -x "$dir/$rel" ]; then echo "$dir/$rel"; return 0; fi
  for f in "$LAB_REPO"/build*/"$rel"; do
    [ -x "$f" ] || continue
    if [ -z "$best" ] || [ "$f" -nt "$best" ]; then best=$f; fi
  done
  [ -n "$best" ] && echo "$best"
  return 0
}
lab_straitd() { lab_find_binary dataplane/straitd/straitd "${STRAITD:-}"; }
lab_agent() { lab_find_binary control/strait-agent "${STRAIT_AGENT:-}"; }
