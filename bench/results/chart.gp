# Written by scripts/bench_report.py; run by scripts/bench.sh.
set terminal pngcairo size 1100,850 font "sans,10" noenhanced
set output "bench/results/chart.png"
set multiplot layout 2,1 title "sockit compare: TCP echo on 127.0.0.1, geometric mean over the matrix"
set style fill solid 0.85 border -1
set boxwidth 0.7
set grid ytics
set xtics rotate by -35 nomirror
set key tmargin right horizontal
set xrange [-0.6:17-0.4]
set ylabel "messages/s"
set format y "%.0s%c"
plot "bench/results/chart.dat" using 0:3:2:xtic(1) with boxes lc variable notitle, \
     NaN with boxes lc 1 title "sockit model", NaN with boxes lc 2 title "peer"
set ylabel "p99 latency (us)"
set logscale y
set format y "%g"
plot "bench/results/chart.dat" using 0:4:2:xtic(1) with boxes lc variable notitle, \
     NaN with boxes lc 1 title "sockit model", NaN with boxes lc 2 title "peer"
unset multiplot
