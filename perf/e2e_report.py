#!/usr/bin/env python3
"""Summarises the raw outputs of perf/e2e.sh into e2e.json, e2e.txt (the README table) and
e2e.dat (gnuplot's input for e2e.png).

usage: e2e_report.py RAW_DIR OUT_DIR SECONDS CONFIG...

Each metric is the median over the rounds of one configuration (the rounds interleave the
configurations, so a slow minute of the shared machine hits them all alike); every round's value
is kept beside it. Ratios are medians over medians.
"""
import glob
import json
import os
import re
import statistics
import sys

NAMES = {
    "plain": "veth, no tunnel",
    "wggo": "wireguard-go (ChaCha20-Poly1305)",
    "chacha": "straitd ChaCha20-Poly1305",
    "aes": "straitd AES-256-GCM",
    "aesbusy": "straitd AES-256-GCM, --busy-poll",
}
# Short labels for the plot's x axis.
LABELS = {"plain": "veth", "wggo": "wireguard-go", "chacha": "straitd ChaCha",
          "aes": "straitd AES-GCM", "aesbusy": "straitd AES busy-poll"}


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def ping_stats(path):
    rtts = [float(m) for m in re.findall(r"time=([\d.]+) ms", open(path).read())]
    if not rtts:
        return None
    return {"avg_ms": statistics.mean(rtts), "p50_ms": percentile(rtts, 50),
            "p99_ms": percentile(rtts, 99), "max_ms": max(rtts), "replies": len(rtts)}


def worker_share(before, after):
    """Fraction of the wall time a straitd worker spent outside its idle sleeps, and the
    packets its ports moved, between two telemetry samples."""
    a = json.load(open(before))
    b = json.load(open(after))
    wall_us = (b["monotonic_s"] - a["monotonic_s"]) * 1e6
    slept = b["idle_sleep_us"] - a["idle_sleep_us"]
    d = {k: b[k] - a[k] for k in b if k.endswith("_packets")}
    return {"awake_fraction": max(0.0, 1.0 - slept / wall_us), "polls": b["polls"] - a["polls"],
            "idle_sleeps": b["idle_sleeps"] - a["idle_sleeps"], **d}


def one_round(raw, config, r):
    base = os.path.join(raw, "%s_%d" % (config, r))
    tcp = json.load(open(base + ".tcp.json"))["end"]
    udp = json.load(open(base + ".udp.json"))["end"]
    res = {
        "tcp_gbps": tcp["sum_received"]["bits_per_second"] / 1e9,
        "tcp_retransmits": tcp["sum_sent"].get("retransmits", 0),
        "udp_offered_gbps": udp["sum_sent"]["bits_per_second"] / 1e9,
        "udp_received_gbps": udp["sum_received"]["bits_per_second"] / 1e9,
        "udp_received_kpps": (udp["sum_received"]["packets"] - udp["sum_received"]["lost_packets"])
                             / udp["sum_received"]["seconds"] / 1e3,
        "udp_loss_percent": udp["sum_received"]["lost_percent"],
    }
    ping = ping_stats(base + ".ping.txt")
    if ping:
        res.update({"ping_" + k: v for k, v in ping.items()})
    if os.path.exists(base + ".tel_a0.json"):
        res["tcp_worker_a"] = worker_share(base + ".tel_a0.json", base + ".tel_a1.json")
        res["tcp_worker_b"] = worker_share(base + ".tel_b0.json", base + ".tel_b1.json")
    return res


def main():
    raw, out, secs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    configs = sys.argv[4:]
    metrics = ["tcp_gbps", "udp_received_gbps", "udp_received_kpps", "udp_offered_gbps",
               "udp_loss_percent", "ping_avg_ms", "ping_p50_ms", "ping_p99_ms"]
    summary = {}
    for c in configs:
        rounds = sorted(int(m.group(1)) for f in glob.glob(os.path.join(raw, c + "_*.tcp.json"))
                        for m in [re.search(r"_(\d+)\.tcp\.json$", f)])
        per_round = [one_round(raw, c, r) for r in rounds]
        s = {"name": NAMES.get(c, c), "rounds": per_round}
        for m in metrics:
            vals = [x[m] for x in per_round if m in x]
            if vals:
                s[m] = statistics.median(vals)
        for side in ("tcp_worker_a", "tcp_worker_b"):
            vals = [x[side]["awake_fraction"] for x in per_round if side in x]
            if vals:
                s[side + "_awake_fraction"] = statistics.median(vals)
        summary[c] = s

    ratios = {}
    for c in configs:
        ratios[c] = {}
        for ref in ("plain", "wggo"):
            if ref not in summary:
                continue
            ratios[c]["vs_" + ref] = {
                m: summary[c][m] / summary[ref][m]
                for m in ("tcp_gbps", "udp_received_gbps", "ping_p50_ms", "ping_p99_ms")
                if m in summary[c] and summary[ref].get(m)}

    result = {
        "note": "iperf3 A -> B and ping A -> B between two network namespaces, median of the "
                "rounds; side A pinned to CPU 0, side B to CPU 1 (perf/e2e.sh, perf/README.md)",
        "seconds": secs,
        "udp_payload_bytes": 1392,
        "inner_mtu": 1420,
        "configs": summary,
        "ratios": ratios,
    }
    json.dump(result, open(os.path.join(out, "e2e.json"), "w"), indent=1)

    lines = ["| path | TCP Gbit/s | UDP received Gbit/s (kpps) | UDP offered Gbit/s | UDP loss | "
             "ping avg / p50 / p99 ms | TCP vs veth | TCP vs wireguard-go | UDP vs wireguard-go |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c in configs:
        s = summary[c]
        rp = ratios[c].get("vs_plain", {})
        rw = ratios[c].get("vs_wggo", {})
        f = lambda d, k: "%.2f" % d[k] if k in d else "-"
        lines.append("| %s | %.2f | %.2f (%.0f) | %.2f | %.1f %% | %.3f / %.3f / %.3f | %s | %s | %s |" % (
            s["name"], s["tcp_gbps"], s["udp_received_gbps"], s["udp_received_kpps"],
            s["udp_offered_gbps"], s["udp_loss_percent"], s.get("ping_avg_ms", 0),
            s.get("ping_p50_ms", 0), s.get("ping_p99_ms", 0), f(rp, "tcp_gbps"),
            f(rw, "tcp_gbps"), f(rw, "udp_received_gbps")))
    workers = [(c, summary[c]) for c in configs if "tcp_worker_a_awake_fraction" in summary[c]]
    if workers:
        lines.append("")
        lines.append("straitd workers awake during the TCP test (1 - idle sleep time / wall "
                     "time): " + "; ".join("%s A %.0f %%, B %.0f %%" % (
                         c, 100 * s["tcp_worker_a_awake_fraction"],
                         100 * s["tcp_worker_b_awake_fraction"]) for c, s in workers))
    open(os.path.join(out, "e2e.txt"), "w").write("\n".join(lines) + "\n")

    with open(os.path.join(out, "e2e.dat"), "w") as f:
        f.write("# config tcp_gbps udp_received_gbps ping_p50_ms ping_p99_ms\n")
        for c in configs:
            s = summary[c]
            f.write('"%s" %.3f %.3f %.3f %.3f\n' % (LABELS.get(c, c),
                                                   s["tcp_gbps"], s["udp_received_gbps"],
                                                   s.get("ping_p50_ms", 0), s.get("ping_p99_ms", 0)))


if __name__ == "__main__":
    main()
