#!/usr/bin/env bash
# The whole benchmark rig on this machine, one command (perf/README.md):
#   builds the benchmarks if needed, runs pipeline_bench (full), aead_api_bench and
#   xdp_drop_bench, records the machine, writes perf/results/<date>/results.json with the raw
#   outputs beside it, renders the plots (perf/plot.sh), and copies results.json and the plots
#   to perf/results/latest/ (the run the README's table comes from). About 5 minutes.
#
#   STRAIT_BUILD_DIR   build directory (default: build; configured here if missing)
#   STRAIT_PERF_OUT    results directory (default: perf/results/<UTC date and time>)
#   STRAIT_PERF_QUICK  1: pipeline_bench --quick and short AEAD runs (checks the rig, ~30 s)
#   STRAIT_PERF_LATEST 0: do not update perf/results/latest/
#
# xdp_drop_bench needs root (BPF test runs); without root it is skipped and recorded as such.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${STRAIT_BUILD_DIR:-build}
stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
out=${STRAIT_PERF_OUT:-perf/results/$stamp}
quick=${STRAIT_PERF_QUICK:-0}
latest=${STRAIT_PERF_LATEST:-1}
mkdir -p "$out"
echo "perf/run.sh: results in $out"

# ---- build (only the benchmark targets; the project's default buildtype is debugoptimized) ----
if [ ! -d "$build" ]; then
  meson setup "$build"
fi
targets=(perf/pipeline_bench perf/aead_api_bench)
all_targets=$(ninja -C "$build" -t targets all 2>/dev/null)
have_target() { grep -q "^$1:" <<<"$all_targets"; }
if have_target perf/xdp_drop_bench; then
  targets+=(perf/xdp_drop_bench ebpf/strait_xdp.bpf.o)
fi
for t in "${targets[@]}"; do
  have_target "$t" || { echo "perf/run.sh: $build has no target $t (DPDK or google-benchmark missing?)" >&2; exit 1; }
done
ninja -C "$build" -j 2 "${targets[@]}"

# ---- the machine --------------------------------------------------------------------------------
python3 - "$out/machine.json" <<'EOF'
import json, os, platform, subprocess, sys
def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return ""
lscpu = {}
for line in sh("LC_ALL=C lscpu").splitlines():
    k, _, v = line.partition(":")
    lscpu[k.strip()] = v.strip()
meminfo = {}
for line in open("/proc/meminfo"):
    k, _, v = line.partition(":")
    meminfo[k] = v.strip()
json.dump({
    "cpu_model": lscpu.get("Model name", platform.processor()),
    "cores": os.cpu_count(),
    "threads_per_core": lscpu.get("Thread(s) per core"),
    "hypervisor": lscpu.get("Hypervisor vendor", "none"),
    "l2": lscpu.get("L2 cache"), "l3": lscpu.get("L3 cache"),
    "kernel": platform.release(),
    "memory": meminfo.get("MemTotal"),
    "hugepages_free": meminfo.get("HugePages_Free"),
    "load_average_at_start": os.getloadavg(),
    "git_commit": sh("git rev-parse --short HEAD"),
    "git_dirty": sh("git status --porcelain --untracked-files=no") != "",
    "compiler": sh("c++ --version | head -1"),
}, open(sys.argv[1], "w"), indent=2)
EOF

# ---- 1. the pipeline stages per core against the crypto ceiling -----------------------------------
pb_args=(--json "$out/pipeline.json")
[ "$quick" = 1 ] && pb_args+=(--quick)
"$build/perf/pipeline_bench" "${pb_args[@]}" 2>&1 | tee "$out/pipeline.txt"

# ---- 2. the AEAD APIs (perf/AEAD_ENGINE.md) ---------------------------------------------------------
if [ "$quick" = 1 ]; then
  ab_args=(--benchmark_min_time=0.02 --benchmark_filter='engine/')
else
  ab_args=(--benchmark_repetitions=3 --benchmark_enable_random_interleaving=true
           --benchmark_min_time=0.2 --benchmark_report_aggregates_only=true)
fi
"$build/perf/aead_api_bench" "${ab_args[@]}" --benchmark_out="$out/aead_api.json" \
  --benchmark_out_format=json 2>&1 | tee "$out/aead_api.txt"

# ---- 3. the XDP program's flood cost (ebpf/README.md) ---------------------------------------------
if [ -x "$build/perf/xdp_drop_bench" ] && [ "$(id -u)" = 0 ]; then
  "$build/perf/xdp_drop_bench" 2>&1 | tee "$out/xdp_drop.txt"
else
  echo "skipped: needs root and the BPF build" > "$out/xdp_drop.txt"
fi

# ---- 4. end to end: veth, wireguard-go, straitd (perf/e2e.sh, perf/README.md "End to end") -------
# Writes "$out/e2e.json" (under "e2e" in results.json) and e2e.png; says why when skipped.
if [ -x perf/e2e.sh ]; then
  STRAIT_BUILD_DIR=$build perf/e2e.sh "$out"
fi

# ---- results.json ---------------------------------------------------------------------------------
python3 - "$out" <<'EOF'
import json, os, re, sys
out = sys.argv[1]
def load(name):
    p = os.path.join(out, name)
    return json.load(open(p)) if os.path.exists(p) else None
res = {"machine": load("machine.json"), "pipeline": load("pipeline.json")}
if res["machine"] and res["pipeline"]:
    res["machine"]["ipsec_mb_arch"] = res["pipeline"]["ipsec_mb_arch"]
    res["machine"]["ipsec_mb_version"] = res["pipeline"]["ipsec_mb_version"]
aead = load("aead_api.json")
if aead:
    rows = {}
    for b in aead["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b.get("run_name", b["name"])
        rows[name] = {"gbytes_per_second": round(b.get("bytes_per_second", 0) / 1e9, 3),
                      "mpps": round(b.get("items_per_second", 0) / 1e6, 3)}
    res["aead_api"] = {"note": "median of repetitions; bursts of 32 sealed/opened in place",
                       "benchmarks": rows}
xdp = []
for line in open(os.path.join(out, "xdp_drop.txt")):
    m = re.match(r"^(.+?)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+(\w+)$", line.rstrip())
    if m:
        xdp.append({"flood": m.group(1), "ns_per_packet": int(m.group(2)),
                    "mpps": float(m.group(3)), "x_floor": float(m.group(4)),
                    "verdict": m.group(5)})
floor = re.search(r"floor \(1-insn XDP_DROP\): (\d+) ns", open(os.path.join(out, "xdp_drop.txt")).read())
res["xdp_drop"] = {"floor_ns": int(floor.group(1)) if floor else None, "cases": xdp}
res["e2e"] = load("e2e.json")
json.dump(res, open(os.path.join(out, "results.json"), "w"), indent=1)
print("wrote", os.path.join(out, "results.json"))
EOF

# ---- plots ----------------------------------------------------------------------------------------
perf/plot.sh "$out"

if [ "$latest" = 1 ] && [ "$quick" != 1 ]; then
  mkdir -p perf/results/latest
  cp "$out/results.json" "$out"/*.png perf/results/latest/
  cp "$out/pipeline.txt" perf/results/latest/pipeline.txt
  # The end-to-end table too (e2e.sh copies it itself only when run alone).
  for f in e2e.txt e2e.json; do [ -f "$out/$f" ] && cp "$out/$f" perf/results/latest/; done
  echo "perf/run.sh: perf/results/latest/ updated"
fi
echo "perf/run.sh: done ($out)"
