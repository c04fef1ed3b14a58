#!/usr/bin/env python3
"""Summarises the raw outputs of perf/e2e.sh into e2e.json, e2e.txt (the README table) and
e2e.dat (gnuplot's input for e2e.png).

usage: e2e_report.py RAW_DIR OUT_DIR SECONDS FIXED_MBPS SYSCALL_WINDOW SKIPPED_JSON CONFIG...

SKIPPED_JSON: {config: why} of the configurations perf/e2e.sh left out (carried into e2e.json).

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
    "aesxdp": "straitd AES-256-GCM, net_af_xdp wire and bridge",
}
# Configurations whose workers poll without sleeping: their CPU time is their wall time, by
# design, whatever the load; their CPU per packet is reported but is not a cost.
BUSY = {"aesbusy"}
# Short labels for the plot's x axis.
LABELS = {"plain": "veth", "wggo": "wireguard-go", "chacha": "straitd ChaCha",
          "aes": "straitd AES-GCM", "aesbusy": "straitd AES busy-poll",
          "aesxdp": "straitd AES AF_XDP"}


def nominal_mhz():
    """The mean "cpu MHz" of /proc/cpuinfo: the clock the CPU-time-to-cycles conversion uses
    (this VM has no hardware cycle counter to measure cycles with)."""
    try:
        mhz = [float(m) for m in re.findall(r"^cpu MHz\s*:\s*([\d.]+)", open("/proc/cpuinfo").read(), re.M)]
    except OSError:
        mhz = []
    return statistics.mean(mhz) if mhz else None


def fewer(r):
    """A ratio of CPU per packet to wireguard-go's, as the goal reads it."""
    if not r:
        return "-"
    return "%.1fx fewer" % (1 / r) if r <= 1 else "%.1fx more" % r


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


def read_cpu_sample(path):
    """perf/e2e.sh's cpu_sample: wall nanoseconds and {tid: (on-CPU ns, thread name)}."""
    wall, threads = None, {}
    for line in open(path):
        f = line.split()
        if f[0] == "wall_ns":
            wall = int(f[1])
        elif len(f) >= 4:
            threads[f[1]] = (int(f[2]), f[3])
    return wall, threads


def is_worker(name):
    # DPDK 22.11 names its worker lcore threads lcore-worker-N; straitd may rename them rte-worker-N.
    return name.startswith("lcore-worker") or name.startswith("rte-worker")


def tunnel_cpu(base, packets, before, after):
    """The tunnel processes' CPU time between two samples (the fixed-rate test: cpu0, cpu1;
    the unlimited one: cpu2, cpu3), in all and per packet carried; a thread started in
    between counts from zero."""
    if not os.path.exists(base + before):
        return None
    w0, t0 = read_cpu_sample(base + before)
    w1, t1 = read_cpu_sample(base + after)
    if not t1:
        return None  # no tunnel process (plain)
    total = workers = 0
    for tid, (ns, name) in t1.items():
        d = ns - t0.get(tid, (0, name))[0]
        total += d
        if is_worker(name):
            workers += d
    wall = w1 - w0
    res = {"wall_s": wall / 1e9, "cpu_s": total / 1e9, "cpus_busy": total / wall,
           "worker_cpu_s": workers / 1e9, "threads": len(t1),
           "threads_gone": len(set(t0) - set(t1))}
    if packets > 0:
        res["ns_per_packet"] = total / packets
        res["worker_ns_per_packet"] = workers / packets
    return res


def syscalls_per_packet(base, window_s):
    """System calls of the tunnel's threads (perf stat --per-thread over window_s seconds of
    the second fixed-rate pass) per packet carried at that pass's received rate: in all, and
    of the worker threads."""
    if not (os.path.exists(base + ".syscalls.txt") and os.path.exists(base + ".udpfix2.json")):
        return None
    fix = json.load(open(base + ".udpfix2.json"))["end"]["sum_received"]
    packets = (fix["packets"] - fix["lost_packets"]) / fix["seconds"] * window_s
    total = workers = 0
    for line in open(base + ".syscalls.txt"):
        f = line.strip().split(",")
        if len(f) < 4 or f[3] != "raw_syscalls:sys_enter" or not f[1].isdigit():
            continue  # a comment, or "<not counted>": a thread that made none
        total += int(f[1])
        if is_worker(f[0].rsplit("-", 1)[0]):
            workers += int(f[1])
    if packets <= 0:
        return None
    return {"per_packet": total / packets, "workers_per_packet": workers / packets,
            "window_s": window_s}


def one_round(raw, config, r, syscall_window):
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
    if os.path.exists(base + ".udpfix.json"):
        fix = json.load(open(base + ".udpfix.json"))["end"]["sum_received"]
        carried = fix["packets"] - fix["lost_packets"]
        res.update({"fixed_received_kpps": carried / fix["seconds"] / 1e3,
                    "fixed_loss_percent": fix["lost_percent"], "fixed_packets": carried})
        cpu = tunnel_cpu(base, carried, ".cpu0.txt", ".cpu1.txt")
        if cpu:
            res["fixed_tunnel_cpu"] = cpu
            if "ns_per_packet" in cpu:
                res["tunnel_ns_per_packet"] = cpu["ns_per_packet"]
        sc = syscalls_per_packet(base, syscall_window)
        if sc:
            res["fixed_syscalls"] = sc
            res["tunnel_syscalls_per_packet"] = sc["per_packet"]
    cpu = tunnel_cpu(base, udp["sum_received"]["packets"] - udp["sum_received"]["lost_packets"],
                     ".cpu2.txt", ".cpu3.txt")
    if cpu:
        res["unlimited_tunnel_cpu"] = cpu
        if "ns_per_packet" in cpu:
            res["unlimited_tunnel_ns_per_packet"] = cpu["ns_per_packet"]
    ping = ping_stats(base + ".ping.txt")
    if ping:
        res.update({"ping_" + k: v for k, v in ping.items()})
    if os.path.exists(base + ".tel_a0.json"):
        res["tcp_worker_a"] = worker_share(base + ".tel_a0.json", base + ".tel_a1.json")
        res["tcp_worker_b"] = worker_share(base + ".tel_b0.json", base + ".tel_b1.json")
    return res


def main():
    raw, out, secs, fixed_mbps = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    syscall_window = float(sys.argv[5])
    skipped = json.loads(sys.argv[6])
    configs = sys.argv[7:]
    mhz = nominal_mhz()
    metrics = ["tcp_gbps", "udp_received_gbps", "udp_received_kpps", "udp_offered_gbps",
               "udp_loss_percent", "ping_avg_ms", "ping_p50_ms", "ping_p99_ms",
               "fixed_received_kpps", "fixed_loss_percent", "tunnel_ns_per_packet",
               "unlimited_tunnel_ns_per_packet", "tunnel_syscalls_per_packet"]
    summary = {}
    for c in configs:
        rounds = sorted(int(m.group(1)) for f in glob.glob(os.path.join(raw, c + "_*.tcp.json"))
                        for m in [re.search(r"_(\d+)\.tcp\.json$", f)])
        per_round = [one_round(raw, c, r, syscall_window) for r in rounds]
        s = {"name": NAMES.get(c, c), "rounds": per_round}
        for m in metrics:
            vals = [x[m] for x in per_round if m in x]
            if vals:
                s[m] = statistics.median(vals)
        cpus = [x["fixed_tunnel_cpu"]["cpus_busy"] for x in per_round if "fixed_tunnel_cpu" in x]
        if cpus:
            s["fixed_tunnel_cpus_busy"] = statistics.median(cpus)
        if "tunnel_ns_per_packet" in s and mhz:
            s["tunnel_cycles_per_packet"] = s["tunnel_ns_per_packet"] * mhz / 1e3
        cpus = [x["unlimited_tunnel_cpu"]["cpus_busy"] for x in per_round
                if "unlimited_tunnel_cpu" in x]
        if cpus:
            s["unlimited_tunnel_cpus_busy"] = statistics.median(cpus)
        if "unlimited_tunnel_ns_per_packet" in s and mhz:
            s["unlimited_tunnel_cycles_per_packet"] = s["unlimited_tunnel_ns_per_packet"] * mhz / 1e3
        if c in BUSY:
            s["busy_poll"] = True
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
                for m in ("tcp_gbps", "udp_received_gbps", "ping_p50_ms", "ping_p99_ms",
                          "tunnel_ns_per_packet", "unlimited_tunnel_ns_per_packet")
                if m in summary[c] and summary[ref].get(m)}

    result = {
        "note": "iperf3 A -> B and ping A -> B between two network namespaces, median of the "
                "rounds; side A pinned to CPU 0, side B to CPU 1 (perf/e2e.sh, perf/README.md)",
        "seconds": secs,
        "tunnel_cpu_note": "fixed_*: UDP A -> B offered at fixed_rate_mbps for every "
                           "configuration; tunnel_ns_per_packet: on-CPU time of all threads of "
                           "the tunnel processes of both ends (/proc/PID/task/TID/schedstat, "
                           "user and kernel, incl. softirq work run in their context) over that "
                           "test, divided by the datagrams B received; tunnel_cycles_per_packet: "
                           "the same times cpu_mhz_nominal (no hardware cycle counter in this "
                           "VM). busy_poll rows spin at 100 % by design: not a cost per packet. "
                           "unlimited_*: the same around the unlimited UDP test (-b 0), each "
                           "configuration at the rate it carries: the cost when saturated. "
                           "tunnel_syscalls_per_packet: system calls of the same threads "
                           "(perf stat raw_syscalls:sys_enter, a second fixed-rate pass) per "
                           "packet carried.",
        "fixed_rate_mbps": fixed_mbps,
        "cpu_mhz_nominal": mhz,
        "configs_skipped": skipped,
        "udp_payload_bytes": 1392,
        "inner_mtu": 1420,
        "configs": summary,
        "ratios": ratios,
    }
    # The goal of issue 13: straitd's tunnel at least 5x fewer cycles per packet than
    # wireguard-go's at the same offered load, judged on the rows that do not busy-poll.
    goal = {c: 1 / ratios[c]["vs_wggo"]["tunnel_ns_per_packet"] for c in configs
            if c not in ("plain", "wggo") and c not in BUSY
            and ratios[c].get("vs_wggo", {}).get("tunnel_ns_per_packet")}
    if goal:
        result["cycles_goal"] = {"fewer_than_wggo": goal, "target": 5.0,
                                 "met": max(goal.values()) >= 5.0}
    json.dump(result, open(os.path.join(out, "e2e.json"), "w"), indent=1)

    def cycles(c):
        """The cycles-per-packet cell: cycles, and how many times fewer than wireguard-go's."""
        s = summary[c]
        if "tunnel_cycles_per_packet" not in s:
            return "-"
        cell = "%.0f" % s["tunnel_cycles_per_packet"]
        r = ratios[c].get("vs_wggo", {}).get("tunnel_ns_per_packet")
        if r and c != "wggo":
            cell += " (%s)" % fewer(r)
        return cell + (" busy-poll *" if s.get("busy_poll") else "")

    lines = ["| path | TCP Gbit/s | UDP received Gbit/s (kpps) | UDP offered Gbit/s | UDP loss | "
             "ping avg / p50 / p99 ms | TCP vs veth | TCP vs wireguard-go | UDP vs wireguard-go | "
             "tunnel cycles / packet at %g Mbit/s |" % fixed_mbps,
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c in configs:
        s = summary[c]
        rp = ratios[c].get("vs_plain", {})
        rw = ratios[c].get("vs_wggo", {})
        f = lambda d, k: "%.2f" % d[k] if k in d else "-"
        lines.append("| %s | %.2f | %.2f (%.0f) | %.2f | %.1f %% | %.3f / %.3f / %.3f | %s | %s | %s | %s |" % (
            s["name"], s["tcp_gbps"], s["udp_received_gbps"], s["udp_received_kpps"],
            s["udp_offered_gbps"], s["udp_loss_percent"], s.get("ping_avg_ms", 0),
            s.get("ping_p50_ms", 0), s.get("ping_p99_ms", 0), f(rp, "tcp_gbps"),
            f(rw, "tcp_gbps"), f(rw, "udp_received_gbps"), cycles(c)))
    fixed = [c for c in configs if "fixed_received_kpps" in summary[c]]
    if fixed:
        lines.append("")
        lines.append("Tunnel CPU at the same offered load: UDP A -> B at %g Mbit/s (1392-byte "
                     "datagrams); the on-CPU time of every thread of both ends' tunnel processes "
                     "(straitd: workers, slow path, EAL threads; wireguard-go: all), user and "
                     "kernel, per datagram B received; cycles = CPU time x %s MHz (the nominal "
                     "\"cpu MHz\" of /proc/cpuinfo: no hardware cycle counter in this VM)."
                     % (fixed_mbps, "%.0f" % mhz if mhz else "?"))
        lines.append("")
        lines.append("| path | received kpps | loss | tunnel CPUs busy | of it workers | "
                     "CPU ns / packet | cycles / packet | vs wireguard-go | system calls / packet "
                     "| saturated (-b 0): kpps, tunnel CPUs, cycles / packet, vs wireguard-go |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c in fixed:
            s = summary[c]
            rounds = [x["fixed_tunnel_cpu"] for x in s["rounds"] if "fixed_tunnel_cpu" in x]
            wshare = (statistics.median(x["worker_cpu_s"] / x["cpu_s"] for x in rounds)
                      if rounds and all(x["cpu_s"] > 0 and x["worker_cpu_s"] > 0 for x in rounds)
                      else None)
            r = ratios[c].get("vs_wggo", {}).get("tunnel_ns_per_packet")
            ru = ratios[c].get("vs_wggo", {}).get("unlimited_tunnel_ns_per_packet")
            sat = "-"
            if "unlimited_tunnel_cycles_per_packet" in s:
                sat = "%.0f, %.2f, %.0f, %s" % (
                    s["udp_received_kpps"], s["unlimited_tunnel_cpus_busy"],
                    s["unlimited_tunnel_cycles_per_packet"], "reference" if c == "wggo" else fewer(ru))
            lines.append("| %s | %.1f | %.2f %% | %s | %s | %s | %s | %s | %s | %s |" % (
                s["name"] + (" *" if s.get("busy_poll") else ""), s["fixed_received_kpps"],
                s["fixed_loss_percent"],
                "%.2f" % s["fixed_tunnel_cpus_busy"] if "fixed_tunnel_cpus_busy" in s else "-",
                "%.0f %%" % (100 * wshare) if wshare is not None else "-",
                "%.0f" % s["tunnel_ns_per_packet"] if "tunnel_ns_per_packet" in s else "-",
                "%.0f" % s["tunnel_cycles_per_packet"] if "tunnel_cycles_per_packet" in s else "-",
                "reference" if c == "wggo" else fewer(r),
                "%.1f" % s["tunnel_syscalls_per_packet"] if "tunnel_syscalls_per_packet" in s else "-",
                sat))
        if goal:
            best = max(goal, key=goal.get)
            lines.append("")
            lines.append("Goal, at least 5x fewer tunnel cycles per packet than wireguard-go at "
                         "the same offered load (straitd rows that do not busy-poll): %s; best "
                         "%s, %s." % ("met" if goal[best] >= 5.0 else "not met", summary[best]["name"],
                                      fewer(1 / goal[best])))
        if any(summary[c].get("busy_poll") for c in fixed):
            lines.append("")
            lines.append("\\* busy-polls: its workers run 100 % by design whatever the load, so "
                         "its CPU per packet is its wall time shared out, not a cost; the goal "
                         "(at least 5x fewer than wireguard-go) is judged on the other straitd rows.")
    workers = [(c, summary[c]) for c in configs if "tcp_worker_a_awake_fraction" in summary[c]]
    if workers:
        lines.append("")
        lines.append("straitd workers awake during the TCP test (1 - idle sleep time / wall "
                     "time): " + "; ".join("%s A %.0f %%, B %.0f %%" % (
                         c, 100 * s["tcp_worker_a_awake_fraction"],
                         100 * s["tcp_worker_b_awake_fraction"]) for c, s in workers))
    open(os.path.join(out, "e2e.txt"), "w").write("\n".join(lines) + "\n")

    with open(os.path.join(out, "e2e.dat"), "w") as f:
        # "-": no value (gnuplot's `set datafile missing`): plain has no tunnel process.
        f.write("# config tcp_gbps udp_received_gbps ping_p50_ms ping_p99_ms "
                "tunnel_cycles_per_packet busy_poll\n")
        for c in configs:
            s = summary[c]
            cyc = s.get("tunnel_cycles_per_packet")
            f.write('"%s" %.3f %.3f %.3f %.3f %s %d\n' % (
                LABELS.get(c, c), s["tcp_gbps"], s["udp_received_gbps"], s.get("ping_p50_ms", 0),
                s.get("ping_p99_ms", 0), "%.0f" % cyc if cyc else "-", 1 if c in BUSY else 0))


if __name__ == "__main__":
    main()
