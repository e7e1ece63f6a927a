#!/usr/bin/env bash
# Training throughput, Tailor vs PyTorch eager, MobileNetV2 (width 0.5 and 1.0) on 32x32x3, batch 128.
# Both run in this one script, interleaved (the order alternates every round), with the same thread
# count (OMP_NUM_THREADS and set_num_threads), the same malloc settings and the same network (the
# PyTorch net is built from the layer list Tailor trains). Warm-up steps are excluded on both sides.
# Usage: bench/throughput/run.sh [rounds]   (env: STEPS, WARMUP, THREADS="2 1", WIDTHS="0.5 1.0";
# OMP_WAIT_POLICY and other OpenMP settings pass through to both sides alike)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
rounds="${1:-5}"; steps="${STEPS:-8}"; warmup="${WARMUP:-3}"; threads="${THREADS:-2 1}"; widths="${WIDTHS:-0.5 1.0}"
python=/usr/bin/python3
export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_TOP_PAD_=268435456
dotnet build Throughput.csproj -c Release -nologo -v q >/dev/null
dll="$here/bin/Release/net10.0/Throughput.dll"
mkdir -p results
stamp="$(date +%Y%m%d-%H%M%S)"
out="results/$stamp.jsonl"
for w in $widths; do dotnet "$dll" --width "$w" --arch-out "results/mobilenet_v2_w$w.json" --arch-only 1; done
{
  echo "# $(date -Is) rounds=$rounds steps=$steps warmup=$warmup threads='$threads' OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset} GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-unset}"
  echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), cores: $(nproc), load: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out" >&2
run_tailor() { OMP_NUM_THREADS="$1" dotnet "$dll" --width "$2" --threads "$1" --warmup "$warmup" --steps "$steps"; }
run_torch() { OMP_NUM_THREADS="$1" "$python" mobilenet_torch.py --arch "results/mobilenet_v2_w$2.json" --width "$2" --threads "$1" --warmup "$warmup" --steps "$steps"; }
for r in $(seq "$rounds"); do
  for t in $threads; do
    for w in $widths; do
      if (( r % 2 )); then a=run_tailor; b=run_torch; else a=run_torch; b=run_tailor; fi
      for f in $a $b; do
        line="$($f "$t" "$w")"
        echo "{\"round\": $r, \"load\": \"$(cut -d' ' -f1 /proc/loadavg)\", \"result\": $line}" | tee -a "$out" | cut -c1-150 >&2
      done
    done
  done
done
"$python" summarize.py "$out" | tee "results/$stamp.md"
