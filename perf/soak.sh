#!/usr/bin/env bash
# Soak (perf/README.md, "Soak"; not in CI): a straitd pair on the namespace rig of
# tests/system/lib/rig.sh (as perf/e2e.sh builds it), with shortened rekey timers, carrying
# a steady iperf3 TCP stream and a ping every 200 ms for --minutes, while `wg set` adds and
# removes unrelated peers on A every few seconds. Samples, every --sample seconds:
#   - RSS of both straitd processes (/proc/PID/status VmRSS),
#   - mbufs in use in each straitd's pools (DPDK telemetry /strait/mempools; mbufs in the
#     lcores' caches count as free),
#   - drops by reason (UAPI get=1, device-wide strait_drop_<reason>),
#   - ping: sent, answered, lost so far;
# and, every second, both sides' last_handshake_time (every rekey). Writes soak.json (samples,
# rekeys, every lost ping and whether a rekey explains it, the verdict) and soak.png (gnuplot)
# to the results directory. The verdict fails (exit 1) when
#   - RSS or mbufs in use grow: the mean of the last third of the run (after a warm-up of the
#     first sixth) exceeds the mean of the first third by more than the tolerance (RSS: 4 MiB
#     and 5 %, mbufs: 128 and 10 %), or
#   - a ping is lost that no rekey explains (no handshake within 2 s of it on either side);
#     a rekey may not lose packets either (the old session stays usable), so those are counted
#     and reported as well, but only unexplained loss fails.
#
#   perf/soak.sh [--minutes 30] [--rekey-seconds 15] [--rate 20M] [--churn-seconds 3]
#                [--sample-seconds 10] [--out DIR]
#   (default DIR: perf/results/soak-<UTC date>/; perf/results/soak/ is the committed run)
#
# Names are unique per run (the namespaces, veths, taps, interfaces and EAL prefixes carry the
# script's PID), so it does not collide with the suites; it does take a CPU's worth of time.
# Needs root, ip, wg, iperf3, ping, taskset, python3, gnuplot.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

minutes=30
rekey=15
rate=20M
churn=3
sample=10
out=
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --rekey-seconds) rekey=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --churn-seconds) churn=$2; shift 2 ;;
    --sample-seconds) sample=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h | --help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "perf/soak.sh: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || out=perf/results/soak-$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$out"
out=$(cd "$out" && pwd)
seconds=$((minutes * 60))

[ "$(id -u)" = 0 ] || { echo "perf/soak.sh: needs root (network namespaces)" >&2; exit 2; }
for t in ip wg iperf3 ping taskset python3 gnuplot; do
  command -v "$t" >/dev/null || { echo "perf/soak.sh: $t is not installed" >&2; exit 2; }
done
build=${STRAIT_BUILD_DIR:-build}
if [ ! -x "$build/dataplane/straitd/straitd" ]; then
  [ -d "$build" ] || meson setup "$build"
  ninja -C "$build" -j 2 dataplane/straitd/straitd
fi
export STRAITD=$repo/$build/dataplane/straitd/straitd

RIG_WORK=$(mktemp -d /tmp/strait_soak.XXXXXX)
. tests/system/lib/rig.sh
trap rig_exit EXIT
for log in iperf_s iperf_c churn; do rig_log "$RIG_WORK/$log.log"; done

tag=s$$
NSA=${tag}a
NSB=${tag}b
IFA=${tag}sa
IFB=${tag}sb
DST=10.98.2.1

# The pair, as perf/e2e.sh's setup_straitd (AES-256-GCM), rekeying every $rekey seconds.
rig_netns_pair "$NSA" "$NSB" "${tag}va" "${tag}vb" 192.168.98.1/24 192.168.98.2/24
a_pub=$(rig_keypair a)
b_pub=$(rig_keypair b)
rig_start_straitd "$NSA" "$IFA" "${tag}va" "${tag}ta" 192.168.98.1 02:00:00:98:01:01 \
  "$RIG_WORK/a.key" 1 0 --test-rekey-after-seconds "$rekey"
PID_A=$RIG_PID
rig_start_straitd "$NSB" "$IFB" "${tag}vb" "${tag}tb" 192.168.98.2 02:00:00:98:02:01 \
  "$RIG_WORK/b.key" 0 1 --test-rekey-after-seconds "$rekey"
PID_B=$RIG_PID
rig_inner_up "$NSA" "${tag}ta" 02:00:00:98:01:01 10.98.1.1/24 10.98.2.0/24 1420
rig_inner_up "$NSB" "${tag}tb" 02:00:00:98:02:01 10.98.2.1/24 10.98.1.0/24 1420
rig_straitd_peer "$IFA" "$b_pub" 192.168.98.2:51820 10.98.2.0/24 aes256-gcm
rig_straitd_peer "$IFB" "$a_pub" 192.168.98.1:51820 10.98.1.0/24 aes256-gcm

ip netns exec "$NSB" taskset -c 1 iperf3 -s -B "$DST" >"$RIG_WORK/iperf_s.log" 2>&1 &
RIG_PIDS+=("$!")
rig_wait_for "iperf3 server" ip netns exec "$NSB" sh -c "ss -ltn | grep -q $DST:5201"
rig_wait_for "a session to $DST" ip netns exec "$NSA" ping -c 1 -W 1 "$DST"

echo "perf/soak.sh: ${minutes} min, rekey every ${rekey} s, iperf3 TCP at $rate, churn every" \
  "${churn} s; results in $out"
start_wall=$(date +%s.%N)
ip netns exec "$NSA" taskset -c 0 iperf3 -c "$DST" -t "$seconds" -b "$rate" -i 10 -J \
  >"$out/iperf3.json" 2>"$RIG_WORK/iperf_c.log" &
RIG_PIDS+=("$!")
ip netns exec "$NSA" ping -D -O -n -i 0.2 -W 1 -w "$seconds" "$DST" >"$RIG_WORK/ping.txt" 2>&1 &
PING_PID=$!
RIG_PIDS+=("$PING_PID")

# Churn: unrelated peers (no endpoint traffic, their own 10.99.N.0/24) come and go on A.
for i in $(seq 0 31); do wg genkey | wg pubkey >"$RIG_WORK/churn_$i.pub"; done
(
  set +e
  n=0
  while :; do
    i=$((n % 32))
    key=$(cat "$RIG_WORK/churn_$i.pub")
    if [ $((n / 32 % 2)) = 0 ]; then
      wg set "$IFA" peer "$key" allowed-ips "10.99.$i.0/24" endpoint "192.0.2.$((i + 1)):51820" \
        persistent-keepalive 25
    else
      wg set "$IFA" peer "$key" remove
    fi
    echo "$(date +%s) $? $n" >>"$RIG_WORK/churn.log"
    n=$((n + 1))
    sleep "$churn"
  done
) &
RIG_PIDS+=("$!")

# Sampling until ping ends (it stops itself after $seconds).
python3 - "$RIG_WORK" "$out" "$IFA" "$IFB" "$PID_A" "$PID_B" "$PING_PID" "$sample" \
  "$start_wall" <<'EOF'
import json, os, socket, sys, time
work, out, ifa, ifb, pid_a, pid_b, ping_pid, every, start = sys.argv[1:]
every, start = float(every), float(start)
sys.path.insert(0, "tests/system/lib")
from uapi import get_pairs as uapi_get
sides = {"a": (ifa, int(pid_a)), "b": (ifb, int(pid_b))}

def telemetry(ifn, cmd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect("/var/run/dpdk/%s/dpdk_telemetry.v2" % ifn)
    s.recv(4096)
    s.send(cmd.encode())
    r = json.loads(s.recv(1 << 16).decode())
    s.close()
    return r

def mbufs_in_use(ifn):
    pools = telemetry(ifn, "/strait/mempools")["/strait/mempools"]
    return sum(v for k, v in pools.items() if k.endswith("_in_use"))

def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None

def ping_counts():
    sent = answered = 0
    seqs = set()
    for line in open(os.path.join(work, "ping.txt")):
        if "icmp_seq=" not in line:
            continue
        seq = int(line.split("icmp_seq=")[1].split()[0])
        sent = max(sent, seq)
        if "bytes from" in line:
            seqs.add(seq)
    return sent, len(seqs)

samples, handshakes = [], {"a": set(), "b": set()}
next_sample = time.time()
def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False

while alive(int(ping_pid)):
    now = time.time()
    drops_now = {}
    for side, (ifn, pid) in sides.items():
        kv = uapi_get(ifn)
        in_peer = False
        drops = {}
        for k, v in kv:
            if k == "public_key":
                in_peer = True
            elif k == "last_handshake_time_sec" and v != "0":
                handshakes[side].add(int(v))
            elif k.startswith("strait_drop_") and not in_peer:
                drops[k[len("strait_drop_"):]] = int(v)
        drops_now[side] = drops
    if now >= next_sample:
        s = {"t": round(now - start, 1)}
        for side, (ifn, pid) in sides.items():
            s["rss_kib_" + side] = rss_kib(pid)
            s["mbufs_in_use_" + side] = mbufs_in_use(ifn)
            s["drops_" + side] = {k: v for k, v in drops_now[side].items() if v}
        s["ping_sent"], s["ping_answered"] = ping_counts()
        samples.append(s)
        print("t=%6.0fs rss a/b %d/%d KiB mbufs a/b %d/%d ping %d/%d" % (
            s["t"], s["rss_kib_a"], s["rss_kib_b"], s["mbufs_in_use_a"], s["mbufs_in_use_b"],
            s["ping_answered"], s["ping_sent"]), flush=True)
        next_sample += every
    time.sleep(1)

json.dump({"samples": samples, "handshakes": {k: sorted(v) for k, v in handshakes.items()}},
          open(os.path.join(work, "samples.json"), "w"))
EOF

cp "$RIG_WORK/ping.txt" "$out/ping.txt"
cp "$RIG_WORK/churn.log" "$out/churn.log" 2>/dev/null || true

# Analysis and verdict.
verdict=0
python3 - "$RIG_WORK/samples.json" "$out" "$start_wall" "$minutes" "$rekey" "$rate" "$churn" \
  <<'EOF' || verdict=1
import json, os, statistics, sys
samples_file, out, start, minutes, rekey, rate, churn = sys.argv[1:]
start = float(start)
d = json.load(open(samples_file))
samples = d["samples"]
handshakes = sorted(set(d["handshakes"]["a"]) | set(d["handshakes"]["b"]))

# Ping: every sequence number sent, when (the reply's or, for a lost one, the "no answer yet"
# line's time stamp), answered or not.
sent_at, answered = {}, set()
for line in open(os.path.join(out, "ping.txt")):
    if "icmp_seq=" not in line or not line.startswith("["):
        continue
    ts = float(line[1:line.index("]")])
    seq = int(line.split("icmp_seq=")[1].split()[0])
    sent_at.setdefault(seq, ts)
    if "bytes from" in line:
        answered.add(seq)
last = max(sent_at) if sent_at else 0
lost = []
for seq in range(1, last + 1):
    if seq in answered:
        continue
    t = sent_at.get(seq)
    near = [h for h in handshakes if t is not None and abs(h - t) <= 2.0]
    lost.append({"seq": seq, "t": None if t is None else round(t - start, 1),
                 "explained_by_rekey": bool(near)})
unexplained = [l for l in lost if not l["explained_by_rekey"]]

def growth(key, abs_tol, rel_tol):
    vals = [s[key] for s in samples if s.get(key) is not None]
    warm = len(vals) // 6
    body = vals[warm:]
    if len(body) < 6:
        return {"ok": True, "note": "too few samples to judge"}
    third = len(body) // 3
    first, final = statistics.mean(body[:third]), statistics.mean(body[-third:])
    limit = first + max(abs_tol, first * rel_tol)
    return {"first_third_mean": round(first, 1), "last_third_mean": round(final, 1),
            "min": min(vals), "max": max(vals), "limit": round(limit, 1), "ok": final <= limit}

checks = {
    "rss_kib_a": growth("rss_kib_a", 4096, 0.05),
    "rss_kib_b": growth("rss_kib_b", 4096, 0.05),
    "mbufs_in_use_a": growth("mbufs_in_use_a", 128, 0.10),
    "mbufs_in_use_b": growth("mbufs_in_use_b", 128, 0.10),
}
final_drops = {side: samples[-1]["drops_" + side] if samples else {} for side in ("a", "b")}
iperf = {}
try:
    j = json.load(open(os.path.join(out, "iperf3.json")))
    e = j["end"]
    iperf = {"received_mbit_s": round(e["sum_received"]["bits_per_second"] / 1e6, 1),
             "retransmits": e["sum_sent"].get("retransmits"),
             "seconds": round(e["sum_received"]["seconds"], 1)}
except Exception as ex:  # noqa: BLE001 - reported, not fatal to the report
    iperf = {"error": str(ex)}
churn_ops = churn_failed = 0
try:
    for line in open(os.path.join(out, "churn.log")):
        churn_ops += 1
        churn_failed += line.split()[1] != "0"
except OSError:
    pass
ok = all(c["ok"] for c in checks.values()) and not unexplained and churn_failed == 0
report = {
    "config": {"minutes": int(minutes), "rekey_seconds": int(rekey), "iperf3_rate": rate,
               "churn_seconds": int(churn), "cipher": "aes256-gcm"},
    "verdict": "pass" if ok else "fail",
    "growth": checks,
    "rekeys": {"handshake_times_a": len(d["handshakes"]["a"]),
               "handshake_times_b": len(d["handshakes"]["b"])},
    "ping": {"sent": last, "answered": len(answered), "lost": len(lost),
             "lost_explained_by_rekey": len(lost) - len(unexplained),
             "lost_unexplained": len(unexplained), "lost_detail": lost[:200]},
    "drops_at_end": final_drops,
    "iperf3": iperf,
    "churn": {"operations": churn_ops, "failed": churn_failed},
    "samples": samples,
}
json.dump(report, open(os.path.join(out, "soak.json"), "w"), indent=1)
# Per sample: pings lost so far (by the final count: a late answer is not a loss) and the
# largest round trip of the pings answered since the sample before.
rtts = []
for line in open(os.path.join(out, "ping.txt")):
    if line.startswith("[") and "time=" in line:
        rtts.append((float(line[1:line.index("]")]) - start,
                     float(line.split("time=")[1].split()[0])))
with open(os.path.join(out, "soak.dat"), "w") as f:
    f.write("# t_min rss_a_mib rss_b_mib mbufs_a mbufs_b drops_a drops_b ping_lost max_rtt_ms\n")
    prev = float("-inf")
    for s in samples:
        lost_so_far = sum(1 for l in lost if l["t"] is not None and l["t"] <= s["t"])
        window = [r for t, r in rtts if prev < t <= s["t"]]
        prev = s["t"]
        f.write("%.2f %.2f %.2f %d %d %d %d %d %.2f\n" % (
            s["t"] / 60, s["rss_kib_a"] / 1024, s["rss_kib_b"] / 1024, s["mbufs_in_use_a"],
            s["mbufs_in_use_b"], sum(s["drops_a"].values()), sum(s["drops_b"].values()),
            lost_so_far, max(window) if window else 0))
print(json.dumps({k: report[k] for k in ("verdict", "growth", "rekeys", "iperf3", "churn")},
                 indent=1))
print("ping: %d sent, %d lost (%d explained by a rekey, %d unexplained)" % (
    last, len(lost), len(lost) - len(unexplained), len(unexplained)))
print("drops at end:", json.dumps(final_drops))
sys.exit(0 if ok else 1)
EOF
gnuplot -e "data='$out/soak.dat'; out='$out/soak.png'" perf/soak.gp
rm -f "$out/soak.dat"
echo "perf/soak.sh: verdict $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["verdict"])' "$out/soak.json")"
exit "$verdict"
