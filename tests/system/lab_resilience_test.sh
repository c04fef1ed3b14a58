#!/usr/bin/env bash
# Resilience of strait-agent and straitd in the multi-cluster lab (deploy/lab/README.md), all
# on ONE bring-up of 2 clusters x 2 nodes with --cni openshift-sdn (the OVN lab's resilience
# checks are lab_ovn_test.sh's):
#
#   a1-p1,a1-p2 -- br0(a1) -- straitd a1 --+                 +-- straitd b1 -- br0(b1) -- b1-p*
#   a2-p1,a2-p2 -- br0(a2) -- straitd a2 --+-- internet ----+-- straitd b2 -- br0(b2) -- b2-p*
#                                           VIPs 203.0.113.11 .12 .21 .22 (DNAT to the nodes)
#
#   0. the lab itself (check.sh: pods through br0 and tun0, clusters isolated but for the
#      VIPs, VIP DNAT), the agents' flows, every p1 reaching the p1 of every node of the other
#      cluster (all 8 sessions up), then check.sh --cross (every pod to every pod of the other
#      cluster, both ways)
#   1. entry point: a1-p1 -> b2-p1 enters through b2's VIP and straitd, and none of it through
#      b1's (b1's `wg show transfer` for peer a1 and its VIP's packet counter stay flat); and
#      /metrics moved with it: straitd b2's wire port counted the pings, b2's agent shows peer
#      a1's bytes and a recent handshake time under the spec's names (peer_cluster, peer_node)
#   2. `ovs-ofctl del-flows br0` on a1, then the SDN's own flows again (sdn-flows.sh): a1's
#      agent re-adds exactly its flows, and a1's pods reach cluster b and back
#   3. straitd on b2 killed with SIGKILL and restarted by strait.sh (as kubelet would): b2's
#      agent re-adds peers a1 and a2, and traffic to and from b2's pods resumes unaided
#   4. strait-agent on b1 killed and started again: no flow re-added (same flows, durations and
#      packet counts never go back), no peer churn (same peers; handshake times and transfer
#      counters never go back; the new agent logs no peer or flow change)
#   5. mesh spec changes, written as a ConfigMap update is (new file renamed over the spec):
#      a. b2 left out: a1 and a2 drop peer b2 (a1-p1 no longer reaches b2-p1, still b1-p1);
#         b2's own agent refuses a spec without itself and keeps its peers and flows
#      b. b2 back: a1 and a2 have peer b2 again (endpoint, allowed IPs), traffic returns
#      c. b2's VIP moves to 203.0.113.23 (internet.sh add-vip, then the spec): a1's and a2's
#         endpoints for b2 follow; after the old VIP is retired, traffic flows through the new
#         one (its packet counter grows by the pings)
#      d. an invalid spec (b2's public key = b1's): every agent refuses it, names the field in
#         its log, counts it in strait_agent_spec_rejected_total; peers and flows stay as they
#         were after further resyncs, and traffic continues
#
# Every wait polls until the condition holds or a generous limit passes; nothing asserts on
# timing. The lab is torn down at the end, whatever happened (trap).
# Exit 77 (meson: skipped) without root, the lab's tools, or straitd and strait-agent built.
set -euo pipefail
export LC_ALL=C  # sort and join agree on the order
lab=$(cd "$(dirname "$0")/../../deploy/lab" && pwd)
. "$lab/topology.sh"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in ovs-vswitchd ovsdb-server nft wg iperf3 ethtool curl python3; do
  command -v "$t" > /dev/null || { echo "SKIP: $t is not installed"; exit 77; }
done
if [ -z "$(lab_straitd)" ] || [ -z "$(lab_agent)" ]; then
  echo "SKIP: straitd and strait-agent are not built"
  exit 77
fi

lab_lock  # one lab session at a time on this machine
trap '"$lab/lab.sh" down' EXIT
"$lab/lab.sh" down > /dev/null 2>&1 || true
unset LAB_CLUSTERS LAB_NODES LAB_CNI
"$lab/lab.sh" up --clusters 2 --nodes 2 --cni openshift-sdn
"$lab/check.sh"
lab_load_topology
spec=$LAB_RUN/spec.yaml
cookie=0x57a1700000000000/0xffffffff00000000

# --- reporting --------------------------------------------------------------------------

. "$(dirname "$0")/lab_report.sh"
diagnose() {
  local node
  for node in $(lab_nodes); do
    echo "--- $node: wg show strait-$node"
    wg show "strait-$node" 2>&1 || true
    echo "--- $node: strait flows"
    strait_flows "$node" 2>&1 || true
    echo "--- $node: end of strait-agent.log"
    tail -n 15 "$(lab_node_dir "$node")/strait-agent.log" 2>&1 || true
  done
  echo "--- internet: vip_packets"
  ip netns exec internet nft list chain ip lab_internet vip_packets 2>&1 || true
}

# --- observing the lab ------------------------------------------------------------------

ofctl() { local node=$1; shift; lab_ovs "$node" ovs-ofctl -O OpenFlow13 "$@"; }
strait_flows() { ofctl "$1" dump-flows --no-stats br0 "cookie=$cookie" | sort; }
# (with statistics, OpenFlow 1.3's dump starts with an "OFPST_FLOW reply" line: not a flow)
strait_flow_count() { ofctl "$1" dump-flows br0 "cookie=$cookie" | grep -c 'cookie='; }
sdn_flows() { ofctl "$1" dump-flows --no-stats br0 "cookie=$LAB_SDN_COOKIE/-1" | sort; }
# "match duration n_packets" per strait flow (statistics pulled out of the dump)
flow_stats() {
  ofctl "$1" dump-flows br0 "cookie=$cookie" | awk '/cookie=/ {
    d = ""; p = ""; m = ""
    for (i = 1; i <= NF; i++) {
      if ($i ~ /^duration=/) { d = $i; sub(/^duration=/, "", d); sub(/s,$/, "", d); continue }
      if ($i ~ /^n_packets=/) { p = $i; sub(/^n_packets=/, "", p); sub(/,$/, "", p); continue }
      if ($i ~ /^(n_bytes|idle_age|hard_age)=/) continue
      m = m " " $i
    }
    print m "|" d "|" p }' | sort
}
# peer_value NODE PEER_NODE endpoints|allowed-ips|latest-handshakes: the value for that peer
peer_value() {
  wg show "strait-$1" "$3" | awk -v k="$(key "$2")" '$1 == k {$1 = ""; print substr($0, 2)}'
}
# Peer configuration without the moving parts (handshakes, counters): key endpoint allowed keepalive
peer_config() { wg show "strait-$1" dump | awk 'NR > 1 {print $1, $3, $4, $8}' | sort; }
metric() {  # NODE NAME: the agent's value (its metrics listen in the node's namespace)
  ip netns exec "$1" curl -s --max-time 5 http://127.0.0.1:9477/metrics |
    awk -v m="$2" '$1 == m {print $2}'
}
straitd_metric() {  # NODE NAME: the same from the node's straitd (--metrics-listen :9478)
  ip netns exec "$1" curl -s --max-time 5 http://127.0.0.1:9478/metrics |
    awk -v m="$2" '$1 == m {print $2}'
}
agent_log() { echo "$(lab_node_dir "$1")/strait-agent.log"; }
log_lines() { wc -l < "$(agent_log "$1")"; }
log_since() { tail -n "+$(($2 + 1))" "$(agent_log "$1")"; }  # NODE LINES_BEFORE
vip_packets() {  # ADDR: tunnel packets sent to this VIP so far
  ip netns exec internet nft list chain ip lab_internet vip_packets |
    awk -v c="\"to $1\"" 'index($0, c) { for (i = 1; i <= NF; i++) if ($i == "packets") print $(i + 1) }'
}
write_spec() {  # FILE: renamed over the spec, as a ConfigMap update (never half a file)
  cp "$1" "$spec.new"
  mv -f "$spec.new" "$spec"
}

endpoint_is() { [ "$(peer_value "$1" "$2" endpoints)" = "$3" ]; }
peers_are() {  # NODE PEER_NODE...
  local node=$1 k want=""
  shift
  for k in "$@"; do want+="$(key "$k")"$'\n'; done
  [ "$(peers "$node")" = "$(printf '%s' "$want" | sort)" ]
}

# --- 0. warm-up ----------------------------------------------------------------------------

section "0. the agents' flows, then every cross-cluster node pair"
for node in $(lab_nodes); do
  wait_for 60 "$node: strait-agent's 2 flows on br0" test "$(strait_flow_count "$node")" -eq 2
done
for src in $(lab_nodes); do
  for dst in $(lab_nodes); do
    [ "$(lab_cluster_of "$src")" != "$(lab_cluster_of "$dst")" ] || continue
    wait_for 60 "$src-p1 reaches $dst-p1" pings "$src-p1" "$dst-p1"
  done
done
"$lab/check.sh" --cross || fail "check.sh --cross: not every pod reaches every pod of the other cluster"
pass "check.sh --cross: every pod reaches every pod of the other cluster, both ways"

# --- 1. entry point -----------------------------------------------------------------------

section "1. a1-p1 -> b2-p1 enters through b2's VIP, never through b1"
count=100
peer_a1='{peer_cluster="a",peer_node="a1"}'
agent_rx0=$(metric b2 "strait_peer_rx_bytes_total$peer_a1")
wire_rx0=$(straitd_metric b2 'strait_port_rx_packets_total{port="wire"}')
read -r b2_rx0 b2_tx0 <<< "$(transfer b2 a1)"
read -r b1_rx0 b1_tx0 <<< "$(transfer b1 a1)"
vip_b1_0=$(vip_packets "$(lab_vip b1)")
vip_b2_0=$(vip_packets "$(lab_vip b2)")
out=$(ip netns exec a1-p1 ping -n -q -c "$count" -i 0.01 -w 30 "$(lab_pod_ip b2-p1)" || true)
got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<< "$out")
read -r b2_rx1 b2_tx1 <<< "$(transfer b2 a1)"
read -r b1_rx1 b1_tx1 <<< "$(transfer b1 a1)"
vip_b1_1=$(vip_packets "$(lab_vip b1)")
vip_b2_1=$(vip_packets "$(lab_vip b2)")
echo "ping: ${got:-0}/$count answered; strait-b2 peer a1 rx +$((b2_rx1 - b2_rx0)) tx +$((b2_tx1 - b2_tx0));" \
  "strait-b1 peer a1 rx +$((b1_rx1 - b1_rx0)) tx +$((b1_tx1 - b1_tx0));" \
  "packets to VIP b2 +$((vip_b2_1 - vip_b2_0)), to VIP b1 +$((vip_b1_1 - vip_b1_0))"
[ "${got:-0}" -ge $((count / 2)) ] || fail "a1-p1 -> b2-p1: only ${got:-0} of $count pings answered"
# b2 saw at least the answered echoes (84 IP bytes each) both ways, and as many packets at its VIP.
check "b2's straitd carried the pings (rx and tx from peer a1 >= ${got} x 84 bytes)" \
  test $((b2_rx1 - b2_rx0)) -ge $((got * 84)) -a $((b2_tx1 - b2_tx0)) -ge $((got * 84))
check "the pings entered through b2's VIP $(lab_vip b2) (>= $got packets)" \
  test $((vip_b2_1 - vip_b2_0)) -ge "$got"
# b1 may see a keepalive or a handshake with a1 in the meantime (a few hundred bytes), never
# the probe: less than 10 pings' worth of bytes, fewer than 10 packets at its VIP.
check "b1's straitd did not carry them (peer a1 rx and tx grew < 840 bytes)" \
  test $((b1_rx1 - b1_rx0)) -lt 840 -a $((b1_tx1 - b1_tx0)) -lt 840
check "nothing of it entered through b1's VIP $(lab_vip b1) (< 10 packets)" \
  test $((vip_b1_1 - vip_b1_0)) -lt 10
wire_rx1=$(straitd_metric b2 'strait_port_rx_packets_total{port="wire"}')
check "straitd b2's /metrics: wire rx packets grew by the answered pings ($wire_rx0 -> $wire_rx1)" \
  awk -v a="${wire_rx0:-x}" -v b="${wire_rx1:-x}" -v n="$got" 'BEGIN { exit !(a != "x" && b != "x" && b >= a + n) }'
agent_moved() {  # the agent publishes after each resync (5 s)
  local rx hs
  rx=$(metric b2 "strait_peer_rx_bytes_total$peer_a1")
  hs=$(metric b2 "strait_peer_last_handshake_timestamp_seconds$peer_a1")
  awk -v a="${agent_rx0:-0}" -v b="${rx:-0}" -v n="$got" -v hs="${hs:-0}" -v now="$(date +%s)" \
    'BEGIN { exit !(b >= a + n * 84 && hs > now - 180 && hs <= now + 1) }'
}
wait_for 30 "b2's agent /metrics: peer a1's rx bytes grew, its handshake time is recent" agent_moved

# --- 2. del-flows -------------------------------------------------------------------------

section "2. ovs-ofctl del-flows br0 on a1 (an SDN resync), then the SDN's own flows again"
flows_a1=$(strait_flows a1)
sdn_a1=$(sdn_flows a1)
lines=$(log_lines a1)
ofctl a1 del-flows br0
"$lab/sdn-flows.sh" a1
check "a1: the SDN's own flows are back ($(wc -l <<< "$sdn_a1") flows)" test "$(sdn_flows a1)" = "$sdn_a1"
added_again() { log_since a1 "$lines" | grep -q "rule(s) added" && [ "$(strait_flows a1)" = "$flows_a1" ]; }
wait_for 60 "a1's agent re-added exactly its flows (and logged it)" added_again
wait_for 90 "a1-p1 reaches b1-p1 again" pings a1-p1 b1-p1
wait_for 90 "b2-p2 reaches a1-p2 again" pings b2-p2 a1-p2

# --- 3. straitd kill -9 -----------------------------------------------------------------

section "3. straitd on b2: kill -9, restarted by strait.sh (a restarted container)"
pid=$(cat "$(lab_node_dir b2)/straitd.pid")
lines=$(log_lines b2)
kill -9 "$pid"
dead() { ! kill -0 "$pid"; }
wait_for 10 "straitd on b2 (pid $pid) is gone" dead
no_device() { ! wg show strait-b2 peers; }
check "b2: wg show finds no device while straitd is down" no_device
"$lab/strait.sh" start-straitd b2
pid=$(cat "$(lab_node_dir b2)/straitd.pid")
readded() { peers_are b2 a1 a2 && log_since b2 "$lines" | grep -q "peers: 2 added"; }
wait_for 90 "b2's agent re-added peers a1 and a2 to the new straitd (pid $pid)" readded
check "b2: peer a1 has allowed IPs $(lab_node_subnet a1)" test "$(peer_value b2 a1 allowed-ips)" = "$(lab_node_subnet a1)"
check "b2: peer a2 has endpoint $(lab_vip a2):$LAB_PORT" endpoint_is b2 a2 "$(lab_vip a2):$LAB_PORT"
wait_for 120 "b2-p1 reaches a1-p1 again" pings b2-p1 a1-p1
wait_for 120 "a2-p2 reaches b2-p2 again" pings a2-p2 b2-p2

# --- 4. agent restart ---------------------------------------------------------------------

section "4. strait-agent on b1: killed and started again, changes nothing"
flows_b1=$(strait_flows b1)
count_b1=$(strait_flow_count b1)
stats_b1=$(flow_stats b1)
peers_b1=$(peers b1)
hs_b1=$(wg show strait-b1 latest-handshakes | sort)
tr_b1=$(wg show strait-b1 transfer | sort)
pid=$(cat "$(lab_node_dir b1)/strait-agent.pid")
kill -9 "$pid"
wait_for 10 "strait-agent on b1 (pid $pid) is gone" dead
lines=$(log_lines b1)
"$lab/strait.sh" start-agent b1
reconciled_twice() { [ "$(metric b1 strait_agent_reconcile_total)" -ge 2 ]; }
wait_for 60 "b1's new agent ran two reconcile passes" reconciled_twice
check "b1: the same $count_b1 strait flows (dump-flows cookie=$cookie)" \
  test "$(strait_flow_count b1)" -eq "$count_b1" -a "$(strait_flows b1)" = "$flows_b1"
never_back() {  # OLD NEW: "key a b..." lines, same keys, no number smaller than before
  join <(echo "$1") <(echo "$2") | awk -v n="$(wc -l <<< "$1")" '
    { half = (NF - 1) / 2; for (i = 2; i <= 1 + half; i++) if ($(i + half) + 0 < $i + 0) bad = 1 }
    END { exit (bad || NR != n) }'
}
stats_of() { awk -F'|' '{gsub(/ /, "_", $1); print $1, $2, $3}' <<< "$1" | sort; }
check "b1: no flow was re-added (durations and packet counts never went back)" \
  never_back "$(stats_of "$stats_b1")" "$(stats_of "$(flow_stats b1)")"
check "b1: the same peers" test "$(peers b1)" = "$peers_b1"
hs_ok() { never_back "$hs_b1" "$(wg show strait-b1 latest-handshakes | sort)" &&
  wg show strait-b1 latest-handshakes | awk '$2 == 0 {zero = 1} END {exit zero}'; }
check "b1: no handshake was lost (latest-handshakes never went back, none 0)" hs_ok
check "b1: no peer counter was reset (transfer never went back)" \
  never_back "$tr_b1" "$(wg show strait-b1 transfer | sort)"
quiet_restart() { ! log_since b1 "$lines" | grep -E 'peers: |rule\(s\) (added|removed)|[1-9][0-9]* removed'; }
check "b1's new agent logged no peer or flow change" quiet_restart

# --- 5. spec changes ------------------------------------------------------------------------

section "5a. b2 left out of the spec"
flows_b2=$(strait_flows b2)
flows_a1=$(strait_flows a1)
rejected_b2=$(metric b2 strait_agent_spec_rejected_total)
lines=$(log_lines b2)
"$lab/gen-spec.sh" --omit b2 > "$LAB_RUN/spec-without-b2.yaml"
write_spec "$LAB_RUN/spec-without-b2.yaml"
wait_for 30 "a1 dropped peer b2" lacks_peer a1 b2
wait_for 30 "a2 dropped peer b2" lacks_peer a2 b2
check "a1 still has peer b1" has_peer a1 b1
check "a1's flows are unchanged (cluster b's CIDR is still remote)" test "$(strait_flows a1)" = "$flows_a1"
b2_refused() {
  [ "$(metric b2 strait_agent_spec_rejected_total)" -gt "$rejected_b2" ] &&
    log_since b2 "$lines" | grep -q 'this node "b2" .* is not in nodes'
}
wait_for 30 "b2's agent refused a spec without itself (logged, strait_agent_spec_rejected_total)" b2_refused
check "b2 keeps its peers a1, a2 (a refused spec changes nothing)" peers_are b2 a1 a2
check "b2's flows are unchanged" test "$(strait_flows b2)" = "$flows_b2"
check "a1-p1 no longer reaches b2-p1" no_ping a1-p1 b2-p1
wait_for 60 "a1-p1 still reaches b1-p1" pings a1-p1 b1-p1

section "5b. b2 back in the spec"
"$lab/gen-spec.sh" --out "$spec"
for node in a1 a2; do
  wait_for 30 "$node has peer b2 again" has_peer "$node" b2
  check "$node: peer b2 at $(lab_vip b2):$LAB_PORT" endpoint_is "$node" b2 "$(lab_vip b2):$LAB_PORT"
  check "$node: peer b2 has allowed IPs $(lab_node_subnet b2)" \
    test "$(peer_value "$node" b2 allowed-ips)" = "$(lab_node_subnet b2)"
done
wait_for 120 "a1-p1 reaches b2-p1 again" pings a1-p1 b2-p1
wait_for 120 "b2-p2 reaches a2-p1 again" pings b2-p2 a2-p1

section "5c. b2's VIP moves from $(lab_vip b2) to 203.0.113.23"
old_vip=$(lab_vip b2)
new_vip=203.0.113.23
"$lab/internet.sh" add-vip b2 "$new_vip"
"$lab/gen-spec.sh" --out "$spec"
check "the spec has b2 at $new_vip" grep -q "endpoint: \"$new_vip:$LAB_PORT\"" "$spec"
for node in a1 a2; do
  wait_for 30 "$node: peer b2's endpoint is $new_vip:$LAB_PORT" endpoint_is "$node" b2 "$new_vip:$LAB_PORT"
done
wait_for 120 "a1-p1 reaches b2-p1 during the move (both VIPs up)" pings a1-p1 b2-p1
"$lab/internet.sh" del-vip b2 "$old_vip"
wait_for 120 "a2-p1 reaches b2-p2 with the old VIP retired" pings a2-p1 b2-p2
wait_for 120 "b2-p1 reaches a1-p2 with the old VIP retired" pings b2-p1 a1-p2
before=$(vip_packets "$new_vip")
out=$(ip netns exec a1-p1 ping -n -q -c 20 -i 0.05 -w 20 "$(lab_pod_ip b2-p1)" || true)
got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<< "$out")
after=$(vip_packets "$new_vip")
echo "ping: ${got:-0}/20 answered; packets to $new_vip +$((after - before))"
check "a1-p1 -> b2-p1 goes through $new_vip (answered, >= as many packets at the VIP)" \
  test "${got:-0}" -ge 10 -a $((after - before)) -ge "${got:-0}"
for node in a1 a2; do
  check "$node: peer b2 still at $new_vip:$LAB_PORT" endpoint_is "$node" b2 "$new_vip:$LAB_PORT"
done

section "5d. an invalid spec (b2's public key = b1's) is refused"
declare -A config flows rejected reconciled lines_at
for node in $(lab_nodes); do
  config[$node]=$(peer_config "$node")
  flows[$node]=$(strait_flows "$node")
  rejected[$node]=$(metric "$node" strait_agent_spec_rejected_total)
  lines_at[$node]=$(log_lines "$node")
done
good_spec=$(cat "$spec")
sed "s|public_key: $(key b2)|public_key: $(key b1)|" "$spec" > "$LAB_RUN/spec-invalid.yaml"
check "the invalid spec repeats b1's key" test "$(grep -c "public_key: $(key b1)" "$LAB_RUN/spec-invalid.yaml")" -eq 2
write_spec "$LAB_RUN/spec-invalid.yaml"
refused() {
  [ "$(metric "$1" strait_agent_spec_rejected_total)" -gt "${rejected[$1]}" ] &&
    log_since "$1" "${lines_at[$1]}" | grep -qE 'nodes\[3\] \(b2\)\.public_key \(line [0-9]+\): duplicate public key'
}
for node in $(lab_nodes); do
  wait_for 30 "$node refused it: 'nodes[3] (b2).public_key: duplicate public key' logged, rejected_total grew" \
    refused "$node"
  reconciled[$node]=$(metric "$node" strait_agent_reconcile_total)
done
resynced() { [ "$(metric "$1" strait_agent_reconcile_total)" -ge $((${reconciled[$1]} + 2)) ]; }
for node in $(lab_nodes); do
  wait_for 60 "$node ran two more resyncs with the invalid spec in place" resynced "$node"
done
for node in $(lab_nodes); do
  check "$node: peers unchanged (keys, endpoints, allowed IPs, keepalive)" test "$(peer_config "$node")" = "${config[$node]}"
  check "$node: flows unchanged" test "$(strait_flows "$node")" = "${flows[$node]}"
done
wait_for 60 "a1-p1 still reaches b2-p1" pings a1-p1 b2-p1
wait_for 60 "b1-p2 still reaches a2-p2" pings b1-p2 a2-p2
printf '%s\n' "$good_spec" > "$LAB_RUN/spec-good.yaml"
generation=$(metric a1 strait_agent_specs_applied_total)
write_spec "$LAB_RUN/spec-good.yaml"
next_generation() { [ "$(metric a1 strait_agent_specs_applied_total)" -gt "$generation" ]; }
wait_for 30 "a1 takes the valid spec again (generation $generation -> next)" next_generation

section "lab_resilience: all passed"
