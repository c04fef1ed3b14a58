#!/usr/bin/env bash
# strait-pktgen against a straitd in network namespaces (suite 'system'): two emulated peers
# handshake with straitd over an af_packet port, send encrypted ICMP echo probes to the
# DUT's host, and must get some of the replies back through straitd's encap path. Asserts
# that probes went through and came back, never how fast (perf/README.md, "strait-pktgen").
#
#   netns G (generator)                            netns D (device under test)
#   ┌───────────────────────────────────┐         ┌─────────────────────────────────────────┐
#   │ strait-pktgen, direction loop      │         │ tap "$TAP" 10.96.1.1/24 (the target,     │
#   │  peers 0, 1: UDP 52000, 52001      │         │   its kernel answers the echo requests)  │
#   │  inner 10.96.2.1, 10.96.2.2        │         │   route 10.96.2.0/24 dev $TAP            │
#   │  answers ARP for 192.168.96.1      │         │     ▲ net_tap                            │
#   │     ▼ net_af_packet                │         │ straitd (aes256-gcm to both peers)       │
#   │ veth "$VG" (no address)            ├─────────┤     ▼ net_af_packet                      │
#   └───────────────────────────────────┘         │ veth "$VD" 192.168.96.2/24               │
#                                                  └─────────────────────────────────────────┘
#
# usage: pktgen_smoke.sh /path/to/straitd /path/to/strait-pktgen
#   PKTGEN_ARGS  more strait-pktgen options, e.g. "--rate 100000 --duration 5" (by hand: the
#                test itself runs the defaults); PKTGEN_JSON copies the result there
set -euo pipefail
export STRAITD=${1:?usage: $0 /path/to/straitd /path/to/strait-pktgen}
PKTGEN=${2:?usage: $0 /path/to/straitd /path/to/strait-pktgen}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in ip wg python3; do
  command -v "$t" >/dev/null || { echo "SKIP: $t is not installed"; exit 77; }
done

. "$(dirname "$0")/../tests/system/lib/rig.sh"
trap rig_exit EXIT
rig_log "$RIG_WORK/pktgen.log"

tag=g$$
NSG=${tag}g
NSD=${tag}d
VG=${tag}vg
VD=${tag}vd
TAP=${tag}tap
IFN=${tag}sd
tap_mac=02:00:00:96:01:01

rig_netns_pair "$NSG" "$NSD" "$VG" "$VD" - 192.168.96.2/24
dut_pub=$(rig_keypair dut)
p0_pub=$(rig_keypair p0)
p1_pub=$(rig_keypair p1)
dut_mac=$(ip -n "$NSD" -o link show "$VD" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')

rig_start_straitd "$NSD" "$IFN" "$VD" "$TAP" 192.168.96.2 "$tap_mac" "$RIG_WORK/dut.key" 0 1
rig_inner_up "$NSD" "$TAP" "$tap_mac" 10.96.1.1/24 10.96.2.0/24 1420
# No endpoints: straitd learns them from the generator's handshakes.
rig_uapi_set "$IFN" <<EOF || rig_fail "configuring straitd's peers"
public_key=$(rig_hex_of "$p0_pub")
allowed_ip=10.96.2.1/32
strait_cipher=aes256-gcm
public_key=$(rig_hex_of "$p1_pub")
allowed_ip=10.96.2.2/32
strait_cipher=aes256-gcm
EOF

cat >"$RIG_WORK/bench.conf" <<EOF
wire = net_af_packet_$tag,iface=$VG,qpairs=1
direction = loop
local_ip = 192.168.96.1
dut_ip = 192.168.96.2
dut_mac = $dut_mac
dut_port = 51820
dut_public_key = $dut_pub
cipher = aes256-gcm
port_base = 52000
peer = p0.key 10.96.2.1
peer = p1.key 10.96.2.2
target = 10.96.1.1
rate_pps = 2000
sizes = 64:7,576:4,1420:1
duration = 3
EOF

# The generator's EAL: its own lcore list and file prefix, no hugepages, no PCI scan.
rc=0
ip netns exec "$NSG" "$PKTGEN" -l 0 --no-huge -m 256 --no-pci --file-prefix "$tag" \
  --log-level '*:warning' -- --config "$RIG_WORK/bench.conf" --json "$RIG_WORK/result.json" \
  ${PKTGEN_ARGS:-} >"$RIG_WORK/pktgen.log" 2>&1 || rc=$?
[ -n "${PKTGEN_JSON:-}" ] && cp "$RIG_WORK/result.json" "$PKTGEN_JSON"
cat "$RIG_WORK/pktgen.log"
[ "$rc" -eq 0 ] || rig_fail "strait-pktgen exited with $rc"

python3 - "$RIG_WORK/result.json" <<'EOF' || rig_fail "no probe went through straitd and back"
import json, sys
r = json.load(open(sys.argv[1]))
print("sent %d, received %d" % (r["sent"], r["received"]))
sys.exit(0 if r["sent"] > 0 and r["received"] > 0 else 1)
EOF
# Both peers' sessions carried data through straitd (wg show: transfer per peer).
for pub in "$p0_pub" "$p1_pub"; do
  ip netns exec "$NSD" wg show "$IFN" transfer |
    awk -v k="$pub" '$1 == k && $2 > 0 && $3 > 0 { ok = 1 } END { exit !ok }' ||
    rig_fail "straitd's transfer counters for peer $pub did not move"
done
echo "ok: strait-pktgen <-> straitd"
