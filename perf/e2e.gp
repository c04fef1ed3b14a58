# gnuplot script of perf/e2e.sh: `data` (e2e.dat from perf/e2e_report.py) and `out` (where
# e2e.png goes) are set on the command line. Left: received Gbit/s, TCP and UDP; middle: ping
# round-trip p50 and p99; right: the tunnel processes' CPU per packet at the fixed rate, as
# cycles (busy-poll rows apart: they spin by design). Same terminal and colours as perf/plots.gp.
set terminal pngcairo size 1400,440 font "sans,9"
set output out."/e2e.png"
set datafile missing "-"
set multiplot layout 1,3 title "end to end between two namespaces, 2 vCPUs shared (perf/e2e.sh)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set key top left
set logscale y 10
set xtics noenhanced font "sans,8" rotate by -20

set title "throughput A -> B (inner MTU 1420)"
set ylabel "Gbit/s received (log)"
set yrange [0.1:*]
plot data u 2:xtic(1) t "TCP" lc rgb "#1f77b4", \
     data u 3 t "UDP, 1392 B datagrams" lc rgb "#ff7f0e"

set title "ping A -> B, 200 x 10 ms"
set ylabel "round trip, ms (log)"
set yrange [0.01:*]
plot data u 4:xtic(1) t "p50" lc rgb "#2ca02c", \
     data u 5 t "p99" lc rgb "#d62728"

set title "tunnel CPU per packet at the same offered load (both ends)"
set ylabel "cycles / packet (CPU time x nominal clock, log)"
set yrange [100:1e7]
set xrange [-0.6:*]
set boxwidth 0.6
# The first series only places every configuration's tic (veth has no tunnel: no bar).
plot data u 0:(1):xtic(1) w points pt -1 notitle, \
     data u 0:($7 == 0 ? $6 : NaN) w boxes t "tunnel processes" lc rgb "#9467bd", \
     data u 0:($7 == 1 ? $6 : NaN) w boxes t "busy-poll: 100 % by design, not a cost" lc rgb "#c5b0d5"
unset multiplot
