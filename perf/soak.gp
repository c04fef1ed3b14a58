# gnuplot script of perf/soak.sh: `data` (soak.dat, written and removed by the script) and
# `out` (the PNG) are set on the command line. Top left: RSS of both straitd; top right: mbufs
# in use in each straitd's pools; bottom left: drops (all reasons, cumulative); bottom right:
# pings lost (cumulative) and the largest round trip per sample. x: minutes since the start
# of the traffic. Same terminal as perf/e2e.gp.
set terminal pngcairo size 960,640 font "sans,9"
set output out
set multiplot layout 2,2 title "soak: straitd pair, rekeys, iperf3 + ping, wg set churn (perf/soak.sh)"
set grid
set key bottom right
set xlabel "minutes"

set title "resident memory"
set ylabel "MiB"
plot data u 1:2 w l lw 2 t "straitd A", data u 1:3 w l lw 2 t "straitd B"

set title "mbufs in use (lcore caches count as free)"
set ylabel "mbufs"
set yrange [0:*]
plot data u 1:4 w l lw 2 t "straitd A", data u 1:5 w l lw 2 t "straitd B"

set title "drops, all reasons (cumulative; soak.json has them by reason)"
set ylabel "packets"
plot data u 1:6 w l lw 2 t "straitd A", data u 1:7 w l lw 2 t "straitd B"

set title "ping A -> B: lost (cumulative) and slowest answer per sample"
set ylabel "pings lost"
set y2label "largest round trip, ms (log)"
set y2tics
set logscale y2 10
set yrange [0:*]
plot data u 1:8 w steps lw 2 t "lost" axes x1y1, \
     data u 1:($9 > 0 ? $9 : 1/0) w l lw 1 t "largest RTT" axes x1y2
unset multiplot
