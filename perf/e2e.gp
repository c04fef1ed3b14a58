# gnuplot script of perf/e2e.sh: `data` (e2e.dat from perf/e2e_report.py) and `out` (where
# e2e.png goes) are set on the command line. Left: received Gbit/s, TCP and UDP; right: ping
# round-trip p50 and p99. Same terminal and colours as perf/plots.gp.
set terminal pngcairo size 960,440 font "sans,9"
set output out."/e2e.png"
set multiplot layout 1,2 title "end to end between two namespaces, 2 vCPUs shared (perf/e2e.sh)"
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
unset multiplot
