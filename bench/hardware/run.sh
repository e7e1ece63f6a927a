#!/usr/bin/env bash
# Issue 3 benchmarks (see bench/README.md, "Hardware: LUTs and latency predictors").
#   bench/hardware/run.sh lut   : build the Single-Path NAS LUT (spnas-cifar, 32x32, ort-cpu), time it, check it on 100 random networks
#   bench/hardware/run.sh fit   : latency predictors (mlp, gbdt) on every device column of the shared HW-NAS-Bench FBNet and NB201 tables
#   bench/hardware/run.sh recheck : check the table built by `lut` again on 200 other random networks (seed 2), now
#   bench/hardware/run.sh seeds : the two noisy NB201 columns with split/model seeds 1 and 2 (stability)
#   bench/hardware/run.sh noise : measurement-noise ceiling of the NB201 latency columns (isomorphic cells)
# Results go to bench/hardware/results/. Latency is measured on this machine: run one measurement at a time
# (nothing else of ours running); the load average at start and end is recorded next to every result.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out=bench/hardware/results
mkdir -p "$out"
data="$root/../shared/data"
fbnet="$data/hw-nas-bench-fbnet/fbnet_cifar100_latency.csv"
nb201="$data/nas-bench-201/nb201_cifar10.csv"
what="${1:-all}"
./tailor zoo list --json >/dev/null   # build once, outside the timings

if [[ "$what" == lut || "$what" == all ]]; then
  lut="$out/lut-spnas-cifar.json"
  echo "load before build: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out/lut-load.txt"
  start=$(date +%s.%N)
  ./tailor lut build --space spnas-cifar --target ort-cpu --out "$lut" --quiet | tee "$out/lut-build.txt"
  end=$(date +%s.%N)
  echo "lut build wall time: $(echo "$end - $start" | bc) s" | tee -a "$out/lut-build.txt"
  echo "load after build: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/lut-load.txt"
  ./tailor lut check --lut "$lut" --samples 100 --seed 1 --recalibrate --json --out "$out/lut-check.png" --rows "$out/lut-check-rows.csv" --quiet > "$out/.lut-check.json.tmp" \
    || { rm -f "$out/.lut-check.json.tmp"; exit 1; }
  mv "$out/.lut-check.json.tmp" "$out/lut-check.json"
  echo "load after check: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/lut-load.txt"
  cat "$out/lut-check.json"
fi

if [[ "$what" == recheck ]]; then
  lut="$out/lut-spnas-cifar.json"
  [ -f "$lut" ] || { echo "run.sh recheck: $lut not found: run 'run.sh lut' first" >&2; exit 2; }
  echo "load before recheck: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out/lut-recheck-load.txt"
  # written only when the check completes (a spread that never settles under load leaves no result)
  ./tailor lut check --lut "$lut" --samples 200 --seed 2 --recalibrate --json --rows "$out/lut-recheck-rows.csv" --quiet > "$out/.lut-recheck.json.tmp" \
    || { rm -f "$out/.lut-recheck.json.tmp"; echo "load at failure: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/lut-recheck-load.txt"; exit 1; }
  mv "$out/.lut-recheck.json.tmp" "$out/lut-recheck.json"
  echo "load after recheck: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/lut-recheck-load.txt"
  cat "$out/lut-recheck.json"
fi

if [[ "$what" == fit || "$what" == all ]]; then
  for model in mlp gbdt; do
    for col in latency_ms_pixel3 latency_ms_eyeriss latency_ms_fpga latency_ms_gtx1080ti_b1 latency_ms_xeon_silver4114; do
      ./tailor latency fit --csv "$fbnet" --encoding fbnet --column "$col" --train 1000 --seed 0 --model "$model" --json > "$out/fit-fbnet-$col-$model.json"
      ./tailor latency fit --csv "$nb201" --encoding nb201 --column "$col" --train 1000 --seed 0 --model "$model" --json > "$out/fit-nb201-$col-$model.json"
      echo "fit $model $col done"
    done
  done
  /usr/bin/python3 bench/hardware/summarize.py "$out" | tee "$out/fit-table.md"
fi

if [[ "$what" == seeds ]]; then
  for s in 1 2; do for model in mlp gbdt; do for col in latency_ms_pixel3 latency_ms_xeon_silver4114; do
    ./tailor latency fit --csv "$nb201" --encoding nb201 --column "$col" --train 1000 --seed "$s" --model "$model" --json |
      /usr/bin/python3 -c "import json,sys; r=json.load(sys.stdin); print(r['seed'], r['model'], r['column'], '%.1f%%'%(100*r['within10']), '%.3f'%r['kendall_tau'])"
  done; done; done | tee "$out/nb201-seeds.txt"
fi

if [[ "$what" == noise || "$what" == all ]]; then
  dotnet build bench/hardware/HwBench/HwBench.csproj -c Release -nologo -v q >/dev/null
  dotnet bench/hardware/HwBench/bin/Release/net10.0/HwBench.dll noise-floor "$nb201" | tee "$out/nb201-noise-floor.md"
  # the noisy columns split into connected and disconnected cells; old defaults (mlp: relative loss, gbdt: log, 4 leaves) vs new;
  # mlp-log: the MLP on log latency (exp output, log-Huber loss); lin: the linear term alone (Huber fit, no MLP steps)
  for col in latency_ms_pixel3 latency_ms_xeon_silver4114; do
    dotnet bench/hardware/HwBench/bin/Release/net10.0/HwBench.dll exp nb201 "$nb201" "$col" default-mlp default-gbdt mlp gbdt mlp-log lin
  done | tee "$out/nb201-breakdown.txt"
fi
