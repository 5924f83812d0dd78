# bench/chart.gp: ringbank benchmark chart (gnuplot, pngcairo or png).
# Called by bench/report.mjs, which writes the data files:
#   gnuplot -e "dir='bench/results/tmp'; out='x.png'; ncont=6; head='...'" bench/chart.gp
#   dir/thr.dat  workload label, then one column per contender: median files/s (warm)
#   dir/cpu.dat  same layout: median server CPU ms per 1k files (warm)
#   dir/lat.dat  "scenario contender" label, p50 p95 p99 in ms (pooled over reps)
# Missing values ("n/a", failed) are written as '?'.

if (!exists("dir")) dir = 'bench/results/tmp'
if (!exists("out")) out = 'bench/results/chart.png'
if (!exists("ncont")) ncont = 6
if (!exists("head")) head = 'ringbank benchmark'

if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
  set terminal pngcairo size 1500,1700 font 'DejaVu Sans,11' noenhanced
} else {
  set terminal png size 1500,1700 noenhanced
}
set output out
set datafile missing '?'
set datafile separator '\t'

set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border rgb '#333333'
set boxwidth 0.9
set grid ytics mytics lc rgb '#dddddd'
set key top right horizontal font ',10' samplen 1.5
set xtics nomirror font ',10'
set ytics nomirror
set logscale y
set format y '%.0s%c'

# fixed colours per contender column (same order as the header line)
array C[8] = ['#1f5fa8', '#e08a1e', '#b85d0b', '#555555', '#3a9a3a', '#9b3fb0', '#888888', '#aaaaaa']

set multiplot layout 3,1 title head font ',14'

set title 'Throughput by workload (warm cache, median of the reps; log scale; higher is better)' font ',12'
set ylabel 'files/s (calls/s, writes/s)'
set yrange [*:*]
plot for [i=2:ncont+1] dir.'/thr.dat' using i:xtic(1) title columnheader(i) lc rgb C[i-1]

set title 'Server CPU (user+sys, all threads incl. io-wq workers) per 1,000 files (warm; log scale; lower is better)' font ',12'
set ylabel 'CPU ms per 1k files'
set format y '%g'
plot for [i=2:ncont+1] dir.'/cpu.dat' using i:xtic(1) title columnheader(i) lc rgb C[i-1]

set title 'Latency of small read_text_file calls on the same stdio session: idle, during validate, during bulk reads (log scale)' font ',12'
set ylabel 'ms'
set format y '%g'
set xtics font ',9' rotate by -30 offset -1,0
set bmargin 7
set key top left
set xrange [-0.6:*]
plot dir.'/lat.dat' using 2:xtic(1) title 'p50' lc rgb '#4c8ed9', \
     ''            using 3 title 'p95' lc rgb '#f0a33a', \
     ''            using 4 title 'p99' lc rgb '#c23b22'

unset multiplot
