#!/usr/bin/env bash
# Plots reactor_echo's table (throughput against connection count) into docs/reactor_throughput.png.
# Usage: bash bench/plot_reactor.sh RESULTS.txt [OUT.png]
#   RESULTS.txt: the output of build/bin/reactor_echo (rows "conns size | rt/s MB/s | rt/s MB/s | ratio").
# Needs gnuplot (scripts/install-deps.sh --bench-tools installs gnuplot-nox).
set -euo pipefail
cd "$(dirname "$0")/.."
in=$1
out=${2:-docs/reactor_throughput.png}
data=$(mktemp)
trap 'rm -f "$data"' EXIT
# One gnuplot data block per message size: conns asyncore_rt bare_rt asyncore_MBs bare_MBs.
for size in $(awk '$1 ~ /^[0-9]+$/ {print $2}' "$in" | sort -n -u); do
  echo "# size $size" >>"$data"
  awk -v s="$size" '$1 ~ /^[0-9]+$/ && $2 == s {print $1, $4, $7, $5, $8}' "$in" >>"$data"
  printf '\n\n' >>"$data"
done
sizes=($(awk '$1 ~ /^[0-9]+$/ {print $2}' "$in" | sort -n -u))
plot=""
for i in "${!sizes[@]}"; do
  s=${sizes[$i]}
  label=$([ "$s" -ge 1024 ] && echo "$((s / 1024)) KiB" || echo "$s B")
  plot+="'$data' index $i using 1:2 with linespoints lw 2 lc $((i + 1)) pt 7 title 'asyncore, $label', "
  plot+="'$data' index $i using 1:3 with linespoints lw 2 lc $((i + 1)) dt 2 pt 6 title 'bare libevent, $label', "
done
gnuplot <<GP
set terminal pngcairo size 900,560 noenhanced font 'DejaVu Sans,10'
set output '$out'
set title 'Echo ping-pong: round trips/s against connections (client and server processes, loopback)'
set logscale x
set logscale y
set xlabel 'connections'
set ylabel 'round trips per second'
set key outside right
set grid
set xtics (1, 10, 100, 1000, 10000)
plot ${plot%, }
GP
echo "wrote $out"
