#!/usr/bin/env bash
# DONNA at small scale (issue 6): the whole pipeline on the real CIFAR-10 subset, a second search with a
# latency limit on the same experiment, finetuning from BKD weights vs training from scratch (item 6),
# and width-scaled mobilenet_v2 baselines (item 8). Results (JSON, PNG, tables) go to bench/donna/results/;
# the experiment itself (features, weights) to $EXP (not committed).
# Usage: bench/donna/run.sh   (env: EXP=runs/donna-bench THREADS=2 EPOCHS=3 SEEDS=0,1,2)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
exp="${EXP:-runs/donna-bench}"; threads="${THREADS:-2}"; epochs="${EPOCHS:-3}"; seeds="${SEEDS:-0,1,2}"
data="cifar10:../shared/data/cifar-10-subset"
res="$here/results"; mkdir -p "$res"
echo "# $(date -Is) cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), cores: $(nproc), load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$res/machine.txt"
t0=$(date +%s)
# 1. the pipeline with its defaults (no latency limit: the whole front)
/usr/bin/time -f "%e s wall, %U s user, %S s sys" -o "$res/pipeline-time.txt" \
  ./tailor search donna --data "$data" --target ort-cpu --threads "$threads" --out "$exp" --json > "$res/summary.json"
cat "$res/pipeline-time.txt"
# 2. another hardware scenario on the same experiment: a limit at 40% of the reachable range (only the search and its finetunes run)
limit=$(python3 -c "import json;s=json.load(open('$res/summary.json'));lo,hi=s['search']['reachable_ms'];print(round(lo+0.4*(hi-lo),3))")
/usr/bin/time -f "%e s wall, %U s user, %S s sys" -o "$res/limit-time.txt" \
  ./tailor search donna --data "$data" --target ort-cpu --threads "$threads" --out "$exp" --latency-ms "$limit" --json > "$res/summary-limit.json"
cp "$exp/predictor.json" "$res/"
folder=$(python3 -c "import json;print(json.load(open('$res/summary.json'))['search']['folder'])")
cp "$folder/pareto.json" "$res/pareto.json"; cp "$folder/pareto.png" "$res/pareto.png"
folder2=$(python3 -c "import json;print(json.load(open('$res/summary-limit.json'))['search']['folder'])")
cp "$folder2/pareto.json" "$res/pareto-limit.json"; cp "$folder2/pareto.png" "$res/pareto-limit.png"
# 3. item 6: the chosen Pareto architectures from BKD weights with distillation for a third of the epochs, vs from scratch with all of them
ft=$(( epochs / 3 > 0 ? epochs / 3 : 1 ))
./tailor donna finetune --experiment "$exp" --search "$(basename "$folder")" --count 2 --epochs "$ft" --seeds "$seeds" --target ort-cpu --threads "$threads" --json > "$res/finetune-bkd.json"
./tailor donna finetune --experiment "$exp" --search "$(basename "$folder")" --count 2 --epochs "$epochs" --seeds "$seeds" --scratch --target ort-cpu --threads "$threads" --json > "$res/finetune-scratch.json"
# 4. item 8: width-scaled mobilenet_v2 (the teacher's family) from scratch with the recipe of the DONNA from-scratch runs (batch 64, lr 0.05)
for w in ${WIDTHS:-0.35 0.5 0.75 1.0}; do
  if [ ! -f "$exp/baselines/w$w/weights.bin" ]; then rm -rf "$exp/baselines/w$w"; fi
  [ -f "$res/baseline-w$w.json" ] && [ -f "$exp/baselines/w$w/weights.bin" ] || \
    ./tailor train --arch zoo:mobilenet_v2 --width "$w" --data "$data" --subset 4000 --val-split 0.1 --epochs "$epochs" --batch 64 --lr 0.05 --seed 0 --threads "$threads" --out "$exp/baselines/w$w" --json > "$res/baseline-w$w.json"
  ./tailor latency measure --arch "$exp/baselines/w$w/arch.json" --target ort-cpu --max-error 0.03 --json > "$res/baseline-w$w-latency.json"
done
./tailor donna status --experiment "$exp" --json > "$res/status.json"
echo "total $(( $(date +%s) - t0 )) s" | tee "$res/total-time.txt"
dotnet build "$here/Compare.csproj" -c Release -nologo -v q >/dev/null
dotnet "$here/bin/Release/net10.0/DonnaCompare.dll" "$res"
