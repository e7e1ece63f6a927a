#!/usr/bin/env bash
# Multi-trial search bench (issue 5): the protocol on NAS-Bench-201 CIFAR-10 and the speed measurements.
# Writes everything under bench/multitrial/out/ (ignored) and copies the small results
# (compare.json, anytime.png, nsga2 summary + plots, speed.json) into bench/multitrial/results/.
# Usage: bench/multitrial/run.sh [seeds=20]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
seeds="${1:-20}"
out=bench/multitrial/out
res=bench/multitrial/results
mkdir -p "$out" "$res"
t="./tailor"

echo "== NB201 CIFAR-10, 150 queries, $seeds seeds: random, REA, local search, WeakNAS (one plot) =="
$t search compare --bench nb201 --strategies random,rea,local,weaknas --budget 150 --seeds "$seeds" --parallel 2 --out "$out/nb201-150"

echo "== NB201 NSGA-II on (validation accuracy, Pixel 3 latency), 500 queries, $seeds seeds =="
$t search nsga2 --bench nb201 --budget 500 --seeds "$seeds" --out "$out/nb201-nsga2-500"
echo "-- the same with a strict hypervolume reference point (85 % validation accuracy, 25 ms) --"
$t search nsga2 --bench nb201 --budget 500 --seeds "$seeds" --hv-ref 85,25 --out "$out/nb201-nsga2-500-strict"

echo "== NB201 REA under a latency constraint (Pixel 3 <= 10 ms), 150 queries =="
$t search rea --bench nb201 --budget 150 --seeds "$seeds" --latency-max-ms 10 --out "$out/nb201-rea-lat10"

echo "== FBNet (latencies only): NSGA-II on (Pixel 3, Eyeriss) latency, 500 queries =="
$t search nsga2 --bench fbnet --budget 500 --seeds "$seeds" --out "$out/fbnet-nsga2-500"

echo "== speed =="
$t search speed --bench nb201
$t search speed --bench nb201 --json > "$res/speed.json"

cp "$out/nb201-150/compare.json" "$res/nb201-150-compare.json"
cp "$out/nb201-150/anytime.png" "$res/nb201-150-anytime.png"
cp "$out/nb201-nsga2-500/front.png" "$res/nb201-nsga2-500-front.png"
cp "$out/nb201-nsga2-500/hypervolume.png" "$res/nb201-nsga2-500-hypervolume.png"
for d in nb201-nsga2-500 nb201-nsga2-500-strict nb201-rea-lat10 fbnet-nsga2-500; do
  cp "$out/$d/summary.json" "$res/$d-summary.json"
done
echo "results in $res"
