#!/usr/bin/env bash
# Renders the plots of one perf/run.sh results directory with gnuplot (perf/README.md):
#   decap.png, encap.png  Gbit/s of inner bytes by inner packet size, per cipher, with the
#                         crypto ceiling (AeadEngine alone) dashed
#   scale_peers.png       cycles per packet against the number of peers (decap and encap)
#   scale_routes.png      cycles per packet against the number of allowed-IP routes
#
#   perf/plot.sh perf/results/<date>
set -euo pipefail
dir=${1:?usage: perf/plot.sh RESULTS_DIR}
here=$(cd "$(dirname "$0")" && pwd)
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT

python3 - "$dir/results.json" "$data" <<'EOF'
import json, os, sys
res = json.load(open(sys.argv[1]))
data = sys.argv[2]
p = res["pipeline"]
for cipher in ("aes256_gcm", "chacha20_poly1305"):
    with open(os.path.join(data, cipher + ".dat"), "w") as f:
        f.write("# size decap encap open_ceiling seal_ceiling (Gbit/s)\n")
        for r in p["sizes"]:
            if r["cipher"] != cipher or r["size"] == "imix":
                continue
            f.write("%s %.3f %.3f %.3f %.3f\n" % (r["size"], r["decap"]["gbps"], r["encap"]["gbps"],
                                                  r["open_ceiling"]["gbps"], r["seal_ceiling"]["gbps"]))
for key, name in (("scale_peers", "peers"), ("scale_peers_zipf", "peers"),
                  ("scale_routes", "routes"), ("scale_routes_v6", "routes")):
    with open(os.path.join(data, key + ".dat"), "w") as f:
        f.write("# n decap encap (cycles/packet)\n")
        for r in p.get(key, []):
            f.write("%d %.1f %.1f\n" % (r[name], r["decap"]["cycles_per_packet"],
                                        r["encap"]["cycles_per_packet"]))
m = res.get("machine") or {}
with open(os.path.join(data, "title.txt"), "w") as f:
    f.write("%s, %s cores, ipsec-mb %s" % (m.get("cpu_model", "?"), m.get("cores", "?"),
                                           m.get("ipsec_mb_arch", "?")))
EOF

gnuplot -e "data='$data'; out='$dir'; machine='$(cat "$data/title.txt")'" "$here/plots.gp"
echo "perf/plot.sh: $(ls "$dir"/*.png | tr '\n' ' ')"
