#!/usr/bin/env bash
# strait on OVN-Kubernetes, in the lab (deploy/lab/README.md) with --cni ovn-kubernetes: per
# cluster real ovn-northd and NB/SB databases, per node ovn-controller on its own OVS
# (br-int, userspace datapath), the logical topology of OVN-Kubernetes (ovn-topology.sh),
# and strait-agent's ovn-kubernetes profile. ONE bring-up for every check:
#
#   a1-p1,a1-p2 -- switch a1 --+                                  +-- switch b1 -- b1-p*
#   a2-p1,a2-p2 -- switch a2 --+- ovn_cluster_router (a)  (b) ... +-- switch b2 -- b2-p*
#       strait-a1 / strait-a2: straitd's br-int port as a logical switch port, reroute
#       policies from the node's subnet to cluster b's CIDR; straitd --- VIPs --- straitd
#
#   1. every pod reaches every pod of the other cluster, both ways (check.sh --cross)
#   2. a1-p1 -> b2-p1 enters through b2's VIP and straitd (not b1's)
#   3. the agents' NB rows carry strait.io/owner=<node>, and nothing else in the NB changed
#      (snapshot taken before the agents started: every other row equal, the node switches'
#      ports and ovn_cluster_router's policies grown by exactly the agents' rows)
#   4. repair: a1's port and policies deleted by hand come back within one resync, traffic
#      resumes; ovn-northd of cluster a restarted: traffic resumes; straitd on b2 killed with
#      SIGKILL and restarted (as kubelet would): its port is bound again, traffic resumes
#   5. strait-agent on b1 restarted on a steady mesh: no NB transaction (the NB database
#      file, which ovsdb-server appends every committed transaction to, does not grow), no
#      rule added in its log
#
# Every wait polls with a generous limit; nothing asserts on timing. Torn down at the end.
# Exit 77 (meson: skipped) without root, OVN/OVS tools, or straitd and strait-agent built.
set -euo pipefail
export LC_ALL=C
lab=$(cd "$(dirname "$0")/../../deploy/lab" && pwd)
. "$lab/topology.sh"
. "$lab/process.sh"  # lab_stop_pidfile (the northd restart)

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in ovs-vswitchd ovsdb-server ovsdb-client ovn-northd ovn-controller ovn-nbctl nft wg python3; do
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
"$lab/lab.sh" up --clusters 2 --nodes 2 --cni ovn-kubernetes --no-strait
lab_load_topology

. "$(dirname "$0")/lab_report.sh"
nb() { echo "$(lab_ovn_nb "$1")"; }  # CLUSTER
nbctl() { local c=$1; shift; ovn-nbctl --db="$(nb "$c")" "$@"; }
owned_policies() {  # NODE: "priority match nexthop" of its reroute policies
  nbctl "$(lab_cluster_of "$1")" --format=csv --data=bare --no-headings \
    --columns=priority,match,nexthops find Logical_Router_Policy \
    "external_ids:\"strait.io/owner\"=\"$1\"" | sort
}
diagnose() {
  local c n
  for c in a b; do
    echo "--- cluster $c: NB"; nbctl "$c" show 2>&1 | head -40 || true
    nbctl "$c" lr-policy-list ovn_cluster_router 2>&1 || true
  done
  for n in $(lab_nodes); do
    echo "--- $n: wg show"; wg show "strait-$n" 2>&1 | head -20 || true
    echo "--- $n: end of strait-agent.log"; tail -n 10 "$(lab_node_dir "$n")/strait-agent.log" 2>&1 || true
  done
}
# The NB of a cluster as JSON rows, without the agents' rows and the two columns that point
# at them (a switch's ports, the router's policies), and without NB_Global (northd's and
# ovn-controller's acknowledgements).
nb_snapshot() {
  ovsdb-client -f json dump "$(nb "$1")" OVN_Northbound | python3 -c '
import json, sys
out = {}
for t in json.loads("[" + sys.stdin.read().replace("}\n{", "},\n{") + "]"):
    name = t.get("caption", "").split()[0]
    if name in ("NB_Global", "Connection", "SSL"):
        continue
    head = t["headings"]
    rows = []
    for r in t["data"]:
        row = dict(zip(head, r))
        ext = row.get("external_ids", ["map", []])
        if any(k == "strait.io/owner" for k, _ in ext[1]):
            continue
        if name == "Logical_Switch": row.pop("ports", None)
        if name == "Logical_Router": row.pop("policies", None)
        rows.append(json.dumps(row, sort_keys=True))
    out[name] = sorted(rows)
print(json.dumps(out, sort_keys=True, indent=0))'
}

section "OVN lab up (no strait yet); the NB as OVN-Kubernetes left it"
for n in $(lab_nodes); do
  for p in $(lab_pods "$n"); do
    wait_for 60 "default_$p is up (bound by ovn-controller on $n)" \
      bash -c "[ \"\$(ovn-nbctl --db=$(nb "$(lab_cluster_of "$n")") get Logical_Switch_Port default_$p up)\" = true ]"
  done
done
for c in a b; do nb_snapshot "$c" > "$LAB_RUN/nb-before-$c.json"; done

section "straitd and strait-agent on every node"
for n in $(lab_nodes); do "$lab/strait.sh" start "$n"; done
echo 4 > "$LAB_RUN/strait-nodes"
for n in $(lab_nodes); do
  wait_for 60 "$n's agent wrote its port and policy" \
    bash -c "[ -n \"\$(ovn-nbctl --db=$(nb "$(lab_cluster_of "$n")") --bare --columns=_uuid find Logical_Router_Policy 'external_ids:\"strait.io/owner\"=\"$n\"')\" ]"
done

section "1. every pod reaches every pod of the other cluster, both ways"
for n in $(lab_nodes); do
  for m in $(lab_nodes); do
    [ "$(lab_cluster_of "$n")" != "$(lab_cluster_of "$m")" ] || continue
    wait_for 60 "tunnel $n -> $m (first ping)" pings "$n-p1" "$m-p1"
  done
done
"$lab/check.sh" --cross || fail "check.sh --cross"

section "2. a1-p1 -> b2-p1 enters through b2's VIP"
read -r rx0 tx0 <<< "$(transfer b2 a1)"
read -r brx0 _ <<< "$(transfer b1 a1)"
ip netns exec a1-p1 ping -n -q -c 20 -i 0.05 -w 10 "$(lab_pod_ip b2-p1)" > /dev/null || fail "ping a1-p1 -> b2-p1"
read -r rx1 tx1 <<< "$(transfer b2 a1)"
read -r brx1 _ <<< "$(transfer b1 a1)"
echo "strait-b2 peer a1: rx +$((rx1 - rx0)) tx +$((tx1 - tx0)); strait-b1 peer a1: rx +$((brx1 - brx0))"
[ $((rx1 - rx0)) -ge $((20 * 84)) ] && [ $((tx1 - tx0)) -ge $((20 * 84)) ] ||
  fail "a1-p1 -> b2-p1 did not go through b2's straitd"
[ $((brx1 - brx0)) -lt $((20 * 84)) ] || fail "a1-p1 -> b2-p1 went through b1's straitd"
pass "a1-p1 -> b2-p1 went through b2's straitd, not b1's"

section "3. the agents' rows are marked, nothing else changed"
for n in $(lab_nodes); do
  c=$(lab_cluster_of "$n")
  [ "$(nbctl "$c" get Logical_Switch_Port "strait-$n" external_ids:\"strait.io/owner\" | tr -d '"')" = "$n" ] ||
    fail "strait-$n has no strait.io/owner=$n"
  [ "$(nbctl "$c" lsp-get-ls "strait-$n" | awk '{print $2}')" = "($n)" ] || fail "strait-$n is not on switch $n"
  [ "$(owned_policies "$n" | wc -l)" = 1 ] || fail "$n owns $(owned_policies "$n" | wc -l) policies, want 1"
done
pass "every node owns one port on its switch and one reroute policy, all marked"
for c in a b; do
  nb_snapshot "$c" > "$LAB_RUN/nb-after-$c.json"
  diff -u "$LAB_RUN/nb-before-$c.json" "$LAB_RUN/nb-after-$c.json" || fail "cluster $c: rows not the agents' changed"
  want=$(( $(nbctl "$c" --bare --columns=_uuid find Logical_Router_Policy | grep -c .) ))
  mine=$(nbctl "$c" --bare --columns=_uuid find Logical_Router_Policy external_ids:\"strait.io/owner\"!=\"\" 2>/dev/null | grep -c . || true)
  [ "$(nbctl "$c" --bare get Logical_Router ovn_cluster_router policies | wc -w)" = "$want" ] ||
    fail "cluster $c: ovn_cluster_router has policies that are not rows"
  pass "cluster $c: every row but the agents' is as OVN-Kubernetes left it ($want policies, $mine strait's)"
done

section "4a. repair: a1's rows deleted by hand"
before=$(owned_policies a1)
nbctl a --if-exists lsp-del strait-a1
for u in $(nbctl a --bare --columns=_uuid find Logical_Router_Policy 'external_ids:"strait.io/owner"="a1"'); do
  nbctl a remove Logical_Router ovn_cluster_router policies "$u"
done
[ -z "$(owned_policies a1)" ] || fail "a1's policies still there after deleting them"
wait_for 30 "a1's port and policy are back (resync 5 s)" \
  bash -c "[ \"\$(ovn-nbctl --db=$(nb a) --format=csv --data=bare --no-headings --columns=priority,match,nexthops find Logical_Router_Policy 'external_ids:\"strait.io/owner\"=\"a1\"' | sort)\" = '$before' ] && ovn-nbctl --db=$(nb a) lsp-get-addresses strait-a1 | grep -q ."
wait_for 60 "a1-p1 reaches b1-p1 again" pings a1-p1 b1-p1
wait_for 60 "b2-p2 reaches a1-p2 again" pings b2-p2 a1-p2

section "4b. ovn-northd of cluster a restarted"
lab_stop_pidfile "$(lab_ovn_dir a)/northd.pid" ovn-northd
"$lab/ovn.sh" central-up a
wait_for 60 "a2-p1 reaches b2-p1 after the northd restart" pings a2-p1 b2-p1
wait_for 60 "a1-p1 reaches b1-p2 after the northd restart" pings a1-p1 b1-p2

section "4c. straitd on b2 killed with SIGKILL, restarted"
kill -KILL "$(cat "$(lab_node_dir b2)/straitd.pid")"
"$lab/strait.sh" start-straitd b2
wait_for 60 "strait0 on b2 is bound to strait-b2 again" \
  bash -c "OVS_RUNDIR=$(lab_ovs_dir b2) ovs-vsctl get Interface strait0 external_ids:iface-id | grep -q strait-b2"
wait_for 90 "a1-p1 reaches b2-p1 after the straitd restart" pings a1-p1 b2-p1
wait_for 60 "b2-p2 reaches a2-p2 after the straitd restart" pings b2-p2 a2-p2

section "5. strait-agent on b1 restarted on a steady mesh: no NB transaction"
nbdb=$(lab_ovn_dir b)/nb.db
log=$(lab_node_dir b1)/strait-agent.log
sleep 6  # one resync after the repairs above settles everything
size0=$(stat -c %s "$nbdb")
lines0=$(wc -l < "$log")
"$lab/strait.sh" start-agent b1
sleep 12  # two resyncs of the new agent and of every other agent
size1=$(stat -c %s "$nbdb")
echo "cluster b NB file: $size0 -> $size1 bytes"
[ "$size0" = "$size1" ] || fail "the NB of cluster b grew by $((size1 - size0)) bytes on a steady mesh"
if tail -n "+$((lines0 + 1))" "$log" | grep -E "rule\(s\) added|peers: " ; then
  fail "the restarted agent changed something"
fi
pass "steady mesh: the NB of cluster b did not grow, the new agent changed nothing"
wait_for 30 "b1-p1 reaches a1-p1" pings b1-p1 a1-p1
echo "lab_ovn: all passed"
