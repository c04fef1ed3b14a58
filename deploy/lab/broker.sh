#!/usr/bin/env bash
# The lab's broker (DESIGN.md section 5a): a 3-member etcd cluster with TLS and per-cluster
# roles, one strait-mesh controller per cluster, and each cluster's node inventory, all in the
# namespace `broker` (its own loopback: the ports never meet another etcd on this machine).
#
#   namespace broker (lo 127.0.0.1)
#     etcd m1 :23791 (peer :23801)  m2 :23792 (:23802)  m3 :23793 (:23803)   TLS, client certs,
#       auth on: user root (CN root) administers; user+role strait-<c> (CN strait-<c>) may
#       write /strait/v1/clusters/<c>/ and read /strait/v1/
#     strait-mesh controller --cluster a   reads inventory/a/{nodes,services}.json
#       --> broker --> writes $LAB_RUN/spec-a.yaml (what cluster a's agents watch, as a
#       ConfigMap's file); /metrics on 127.0.0.1:9480 (b: 9481, ...)
#
# The inventory is what the Kubernetes API would say about the cluster, in `kubectl get -o
# json` shape: a Node per registered node (spec.podCIDR, InternalIP, and the annotation
# strait.io/public-key taken from the public-key file its straitd wrote: the key is made on
# the node, only the public half leaves it) and its per-node Service (status.loadBalancer
# ingress = the node's current VIP). `register` is a node joining the cluster (kubelet), and
# `unregister` it being deleted.
#
# usage: broker.sh up                 pki, members, auth, joins, inventory of every node,
#                                     controllers; waits until every cluster's spec lists
#                                     every node
#        broker.sh register|unregister NODE
#        broker.sh member-stop|member-start N     (1..3)
#        broker.sh stop|start                      every member
#        broker.sh controller-stop|controller-start CLUSTER
#        broker.sh leave CLUSTER                   stop its controller, strait-mesh leave
#        broker.sh etcdctl AS ARGS...              etcdctl in the broker namespace as user AS
#                                                  (root, strait-a, ...)
# Private keys of the PKI live only in $LAB_RUN/broker/pki (tmpfs, removed by lab.sh down).
set -euo pipefail
. "$(dirname "$0")/topology.sh"
. "$(dirname "$0")/process.sh"
lab_load_topology

NS=broker
DIR=$LAB_RUN/broker
PKI=$DIR/pki
MEMBERS=3
PY=${LAB_PYTHON:-/usr/bin/python3}   # Debian's python3: python3-etcd3, python3-kubernetes
MESH=$LAB_REPO/deploy/mesh/strait_mesh.py

client_port() { echo $((23790 + $1)); }
peer_port() { echo $((23800 + $1)); }
endpoints() {
  local i out=""
  for ((i = 1; i <= MEMBERS; i++)); do out+="${out:+,}127.0.0.1:$(client_port "$i")"; done
  echo "$out"
}
metrics_port() { echo $((9480 + $(lab_cluster_index "$1"))); }

certs() {
  local name
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  [ -f "$PKI/ca.crt" ] && return 0
  (
    cd "$PKI"
    umask 077
    openssl ecparam -genkey -name prime256v1 -out ca.key 2> /dev/null
    openssl req -x509 -new -key ca.key -subj /CN=strait-lab-broker-ca -days 2 -out ca.crt
    sign() {  # NAME EXTENDED_KEY_USAGE [SAN]
      openssl ecparam -genkey -name prime256v1 -out "$1.key" 2> /dev/null
      openssl req -new -key "$1.key" -subj "/CN=$1" -out "$1.csr"
      printf 'extendedKeyUsage=%s\n%s' "$2" "${3:+subjectAltName=$3}" > "$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
        -extfile "$1.ext" -out "$1.crt" 2> /dev/null
      rm -f "$1.csr" "$1.ext"
    }
    for ((i = 1; i <= MEMBERS; i++)); do sign "m$i" serverAuth,clientAuth IP:127.0.0.1; done
    sign root clientAuth
    for c in $(lab_clusters); do sign "strait-$c" clientAuth; done
  )
}

member_start() {
  local i=$1 j cluster=""
  for ((j = 1; j <= MEMBERS; j++)); do cluster+="${cluster:+,}m$j=https://127.0.0.1:$(peer_port "$j")"; done
  mkdir -p "$DIR/m$i"
  chmod 700 "$DIR/m$i"
  lab_spawn "$NS" "$DIR/m$i.pid" "$DIR/m$i.log" etcd --name "m$i" --data-dir "$DIR/m$i/data" \
    --listen-client-urls "https://127.0.0.1:$(client_port "$i")" \
    --advertise-client-urls "https://127.0.0.1:$(client_port "$i")" \
    --listen-peer-urls "https://127.0.0.1:$(peer_port "$i")" \
    --initial-advertise-peer-urls "https://127.0.0.1:$(peer_port "$i")" \
    --initial-cluster "$cluster" --initial-cluster-token strait-lab \
    --initial-cluster-state "$( [ -d "$DIR/m$i/data/member" ] && echo existing || echo new)" \
    --cert-file "$PKI/m$i.crt" --key-file "$PKI/m$i.key" --trusted-ca-file "$PKI/ca.crt" \
    --client-cert-auth \
    --peer-cert-file "$PKI/m$i.crt" --peer-key-file "$PKI/m$i.key" \
    --peer-trusted-ca-file "$PKI/ca.crt" --peer-client-cert-auth \
    --logger zap --log-level warn --quota-backend-bytes $((64 * 1024 * 1024))
}
member_stop() { lab_stop_pidfile "$DIR/m$1.pid" etcd; }

etcdctl_as() {  # USER ARGS...
  local user=$1
  shift
  ip netns exec "$NS" env ETCDCTL_API=3 etcdctl --endpoints "$(endpoints | sed 's|^|https://|; s|,|,https://|g')" \
    --cacert "$PKI/ca.crt" --cert "$PKI/$user.crt" --key "$PKI/$user.key" \
    --dial-timeout 3s --command-timeout 5s "$@"
}

wait_healthy() {
  lab_wait_for 60 "the broker's members to answer" etcdctl_as root endpoint health
}

setup_auth() {
  # Before `auth enable` every client is root-equivalent; after it, only CN root is.
  [ -f "$DIR/auth-enabled" ] && return 0
  etcdctl_as root user add root --no-password > /dev/null
  etcdctl_as root user grant-role root root > /dev/null
  etcdctl_as root auth enable > /dev/null
  touch "$DIR/auth-enabled"
}

join() {  # CLUSTER: strait-mesh join, broker half (user + role), as an operator would
  local c=$1
  ip netns exec "$NS" "$PY" "$MESH" join --cluster "$c" --broker "$(endpoints)" \
    --broker-ca "$PKI/ca.crt" --broker-cert "$PKI/strait-$c.crt" --broker-key "$PKI/strait-$c.key" \
    --admin-cert "$PKI/root.crt" --admin-key "$PKI/root.key" \
    --pod-cidrs "$(lab_cluster_cidr "$(lab_cluster_index "$c")")" \
    --out "$DIR/join-$c.yaml"
}

# The inventory of NODE's cluster with NODE added (register) or removed (unregister),
# renamed into place (the controller never reads half a file).
inventory() {
  local op=$1 node=$2 c key=""
  c=$(lab_cluster_of "$node")
  mkdir -p "$LAB_RUN/inventory/$c"
  if [ "$op" = register ]; then
    key=$(cat "$(lab_node_dir "$node")/public.key" 2> /dev/null) ||
      lab_die "register $node: no $(lab_node_dir "$node")/public.key (straitd writes it at start)"
  fi
  (
    flock 9
    "$PY" - "$op" "$LAB_RUN/inventory/$c" "$node" "$key" "$(lab_node_subnet "$node")" \
      "$(lab_uplink_ip "$node")" "$(lab_public_vip "$node")" "$LAB_PORT" <<'EOF'
import json, os, sys
op, d, node, key, subnet, ip, vip, port = sys.argv[1:]
def load(name, kind):
    try:
        with open(os.path.join(d, name)) as f:
            return json.load(f)
    except OSError:
        return {"apiVersion": "v1", "kind": kind, "items": []}
def save(name, doc):
    tmp = os.path.join(d, name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, os.path.join(d, name))
nodes, svcs = load("nodes.json", "NodeList"), load("services.json", "ServiceList")
nodes["items"] = [n for n in nodes["items"] if n["metadata"]["name"] != node]
svcs["items"] = [s for s in svcs["items"] if s["metadata"]["name"] != "strait-" + node]
if op == "register":
    nodes["items"].append({"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": node, "labels": {"kubernetes.io/os": "linux"},
        "annotations": {"strait.io/public-key": key}},
        "spec": {"podCIDR": subnet},
        "status": {"addresses": [{"type": "InternalIP", "address": ip}]}})
    svcs["items"].append({"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": "strait-" + node, "namespace": "strait-system",
        "annotations": {"strait.io/node": node}},
        "spec": {"type": "LoadBalancer", "ports": [{"port": int(port), "protocol": "UDP"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": vip}]}}})
nodes["items"].sort(key=lambda n: n["metadata"]["name"])
svcs["items"].sort(key=lambda s: s["metadata"]["name"])
save("nodes.json", nodes)
save("services.json", svcs)
EOF
  ) 9> "$LAB_RUN/inventory/$c.lock"
}

# Runs "$@" again whenever it exits, as a Deployment restarts its pod, saying so in the log
# (a controller that dies is a defect to see, not to hide: deploy/mesh/broker.py says which).
# SIGTERM stops both.
SUPERVISE='trap "kill \$child 2>/dev/null; wait \$child; exit 0" TERM INT
while :; do
  "$@" & child=$!
  wait $child
  echo "[lab] supervisor: the controller exited with status $?; started again in 1 s"
  sleep 1
done'

controller_start() {
  local c=$1
  lab_stop_pidfile "$DIR/controller-$c.pid" "strait_mesh.py"
  lab_spawn "$NS" "$DIR/controller-$c.pid" "$DIR/controller-$c.log" \
    bash -c "$SUPERVISE" supervise "$PY" "$MESH" controller \
    --cluster "$c" --cluster-id "lab-$c" --broker "$(endpoints)" \
    --broker-ca "$PKI/ca.crt" --broker-cert "$PKI/strait-$c.crt" --broker-key "$PKI/strait-$c.key" \
    --inventory "$LAB_RUN/inventory/$c" --pod-cidrs "$(lab_cluster_cidr "$(lab_cluster_index "$c")")" \
    --spec-file "$LAB_RUN/spec-$c.yaml" --status-file "$DIR/controller-$c.status" \
    --metrics-listen "127.0.0.1:$(metrics_port "$c")" \
    --interval "${LAB_CONTROLLER_INTERVAL:-1}" --heartbeat 10 --ttl "${LAB_BROKER_TTL:-600}" \
    --max-backoff 4 --broker-timeout 1
}
controller_stop() { lab_stop_pidfile "$DIR/controller-$1.pid" "strait_mesh.py"; }

spec_has_all() {  # CLUSTER: its spec lists every registered node
  local c=$1 node
  for node in $(registered); do
    grep -q "^  - name: $node\$" "$LAB_RUN/spec-$c.yaml" 2> /dev/null || return 1
  done
}
registered() {
  cat "$LAB_RUN"/inventory/*/nodes.json 2> /dev/null |
    "$PY" -c 'import json,sys
dec = json.JSONDecoder(); s = sys.stdin.read(); i = 0
while i < len(s):
    while i < len(s) and s[i].isspace(): i += 1
    if i >= len(s): break
    doc, i = dec.raw_decode(s, i)
    for n in doc["items"]: print(n["metadata"]["name"])'
}

up() {
  local i c node
  command -v etcd > /dev/null || lab_die "etcd is not installed (deploy/install-deps.sh: etcd-server)"
  "$PY" -c 'import etcd3' 2> /dev/null || lab_die "$PY has no etcd3 (deploy/install-deps.sh: python3-etcd3)"
  lab_add_netns "$NS"
  certs
  for ((i = 1; i <= MEMBERS; i++)); do member_start "$i"; done
  wait_healthy
  setup_auth
  for c in $(lab_clusters); do join "$c" > /dev/null; done
  for node in $(lab_nodes); do inventory register "$node"; done
  for c in $(lab_clusters); do controller_start "$c"; done
  for c in $(lab_clusters); do
    lab_wait_for 60 "controller $c's spec to list every node" spec_has_all "$c" ||
      { tail -n 20 "$DIR/controller-$c.log" >&2; return 1; }
  done
  lab_log "broker: $MEMBERS etcd members ($(endpoints)), controllers for $(lab_clusters | tr '\n' ' ')"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  up) up ;;
  register|unregister) inventory "$cmd" "${1:?usage: broker.sh $cmd NODE}" ;;
  member-stop) member_stop "${1:?}" ;;
  member-start) member_start "${1:?}" ;;
  stop) for ((i = 1; i <= MEMBERS; i++)); do member_stop "$i"; done ;;
  start) for ((i = 1; i <= MEMBERS; i++)); do member_start "$i"; done; wait_healthy ;;
  controller-stop) controller_stop "${1:?}" ;;
  controller-start) controller_start "${1:?}" ;;
  leave)
    controller_stop "${1:?}"
    ip netns exec "$NS" "$PY" "$MESH" leave --cluster "$1" --broker "$(endpoints)" \
      --broker-ca "$PKI/ca.crt" --broker-cert "$PKI/strait-$1.crt" --broker-key "$PKI/strait-$1.key" ;;
  etcdctl) etcdctl_as "$@" ;;
  *) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
