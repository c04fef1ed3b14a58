# shellcheck shell=bash
# PASS/FAIL reporting, polling and the common questions about the lab (a node's key and peers,
# pod-to-pod pings) for the lab's system tests (lab_resilience_test.sh, lab_ovn_test.sh,
# lab_broker_test.sh). Sourced after deploy/lab/topology.sh; the sourcing script defines
# diagnose() (what to print on a failure: its lab's state).

section() { printf '\n=== %s\n' "$*"; }
pass() { printf 'PASS  %s\n' "$*"; }
fail() {
  printf 'FAIL  %s\n' "$*"
  diagnose
  exit 1
}
# wait_for SECONDS WHAT CMD...: polls CMD until it succeeds; FAIL (and exit) after SECONDS.
wait_for() {
  local limit=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + limit))
  until "$@" > /dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$what (not within $limit s)"
    sleep 0.5
  done
  pass "$what"
}
check() {  # WHAT CMD...: CMD must succeed now
  local what=$1
  shift
  if "$@" > /dev/null 2>&1; then pass "$what"; else fail "$what"; fi
}

# --- the lab, as every test asks about it (NODE and POD names as topology.sh gives them)
key() { cat "$(lab_node_dir "$1")/public.key"; }  # NODE: its public key
peers() { wg show "strait-$1" peers | sort; }     # NODE: its peers' public keys
# (outputs are read whole before grep: with pipefail, `cmd | grep -q` fails when grep's early
# exit makes cmd's next write fail)
has_peer() { grep -qx -- "$(key "$2")" <<< "$(peers "$1")"; }  # NODE PEER_NODE
lacks_peer() { ! has_peer "$1" "$2"; }
pings() {  # SRC_POD DST_POD: three answers within 10 s
  ip netns exec "$1" ping -n -q -c 3 -i 0.2 -w 10 "$(lab_pod_ip "$2")"
}
no_ping() { ! ip netns exec "$1" ping -n -q -c 2 -i 0.5 -w 3 "$(lab_pod_ip "$2")"; }
transfer() {  # NODE PEER_NODE: "rx tx" bytes
  wg show "strait-$1" transfer | awk -v k="$(key "$2")" '$1 == k {print $2, $3}'
}
