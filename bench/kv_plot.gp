# kv_plot.gp -- grouped bars of ops/s per workload, one bar per engine, from
# kvbench's data file (first line: "workload" and the engine names; a log
# scale, since fillsync and readseq are five orders of magnitude apart).
# run_kv.sh sets datafile and outfile with -e.
if (!exists("datafile")) datafile = 'build/bench/kv.dat'
if (!exists("outfile")) outfile = 'build/bench/kv.png'

set terminal pngcairo size 1500,650 font ",10" noenhanced
set output outfile
set title system("head -1 '" . datafile . "' | sed 's/^# //'")
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [100:*]
set ylabel "ops/s (log scale)"
set grid ytics
set xtics rotate by -30 scale 0
set key top right
ncol = system("awk '!/^#/ { print NF; exit }' '" . datafile . "'") + 0
plot for [i=2:ncol] datafile using i:xtic(1) title columnhead(i)
