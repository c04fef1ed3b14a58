# gnuplot script of perf/plot.sh; `data` (the .dat files), `out` (where the PNGs go) and
# `machine` (a subtitle) are set on the command line.
set terminal pngcairo size 720,440 font "sans,9"
set grid
set key top left
set logscale x 2
set xtics ("64" 64, "128" 128, "256" 256, "512" 512, "1024" 1024, "1420" 1420)
set xlabel "inner packet size (bytes)"
set ylabel "Gbit/s of inner packets, one core"

aes = data."/aes256_gcm.dat"
cha = data."/chacha20_poly1305.dat"

set output out."/decap.png"
set title "decap per core vs the crypto ceiling (AeadEngine open alone)\n".machine
plot aes u 1:2 w lp lw 2 pt 7 lc rgb "#1f77b4" t "decap, AES-256-GCM", \
     aes u 1:4 w l lw 1 dt 2 lc rgb "#1f77b4" t "ceiling, AES-256-GCM", \
     cha u 1:2 w lp lw 2 pt 5 lc rgb "#d62728" t "decap, ChaCha20-Poly1305", \
     cha u 1:4 w l lw 1 dt 2 lc rgb "#d62728" t "ceiling, ChaCha20-Poly1305"

set output out."/encap.png"
set title "encap per core vs the crypto ceiling (AeadEngine seal alone)\n".machine
plot aes u 1:3 w lp lw 2 pt 7 lc rgb "#1f77b4" t "encap, AES-256-GCM", \
     aes u 1:5 w l lw 1 dt 2 lc rgb "#1f77b4" t "ceiling, AES-256-GCM", \
     cha u 1:3 w lp lw 2 pt 5 lc rgb "#d62728" t "encap, ChaCha20-Poly1305", \
     cha u 1:5 w l lw 1 dt 2 lc rgb "#d62728" t "ceiling, ChaCha20-Poly1305"

set logscale x 10
set logscale y 10
set xtics auto
set format x "10^{%L}"
set ylabel "TSC cycles per packet (log)"
set key top left

set output out."/scale_peers.png"
set title "cost per packet vs peers (AES-256-GCM, 64 B, packets spread over the peers)\n".machine
set xlabel "peers (keypairs, sessions, endpoints)"
plot data."/scale_peers.dat" u 1:2 w lp lw 2 pt 7 t "decap, every burst 32 peers", \
     data."/scale_peers.dat" u 1:3 w lp lw 2 pt 5 t "encap, every burst 32 peers", \
     data."/scale_peers_zipf.dat" u 1:2 w lp lw 2 pt 6 dt 2 t "decap, Zipf mix", \
     data."/scale_peers_zipf.dat" u 1:3 w lp lw 2 pt 4 dt 2 t "encap, Zipf mix"

set output out."/scale_routes.png"
set title "cost per packet vs allowed-IP routes (AES-256-GCM, 64 B, one peer, random prefixes)\n".machine
set xlabel "allowed-IP routes (random prefixes)"
plot data."/scale_routes.dat" u 1:2 w lp lw 2 pt 7 t "decap (source check), IPv4", \
     data."/scale_routes.dat" u 1:3 w lp lw 2 pt 5 t "encap (destination lookup), IPv4", \
     data."/scale_routes_v6.dat" u 1:2 w lp lw 2 pt 6 dt 2 t "decap, IPv6 (fd00::/8)", \
     data."/scale_routes_v6.dat" u 1:3 w lp lw 2 pt 4 dt 2 t "encap, IPv6 (fd00::/8)"
