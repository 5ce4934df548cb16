# fs_plot.gp -- grouped bars per fsbench step, one bar per target, each the
# target's rate divided by native's (native = 1), from fsbench's data file
# (first line a title, then "step" and the target names). A log scale: a
# directory rename on wombatfs is orders of magnitude from native's.
# run_fs.sh sets datafile and outfile with -e.
if (!exists("datafile")) datafile = 'build/bench/fs.dat'
if (!exists("outfile")) outfile = 'build/bench/fs.png'

set terminal pngcairo size 1400,650 font ",10" noenhanced
set output outfile
set title system("head -1 '" . datafile . "' | sed 's/^# //'")
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set ylabel "rate / native rate (log scale; higher is faster)"
set grid ytics
set xtics rotate by -30 scale 0
set key top right
set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2
ncol = system("awk '!/^#/ { print NF; exit }' '" . datafile . "'") + 0
plot for [i=2:ncol] datafile using i:xtic(1) title columnhead(i)
