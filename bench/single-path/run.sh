#!/usr/bin/env bash
# Single-Path NAS efficiency claim (issue 4, item 7): per-step time (interleaved in one process) and
# peak memory (one process per variant) of the single-path supernet, the largest child alone and a
# multi-path supernet over the same 10-layer spnas-fmnist space, batch 128, real Fashion-MNIST.
# Usage: bench/single-path/run.sh   (env: THREADS=2 STEPS=5 ROUNDS=3)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_TOP_PAD_=268435456
threads="${THREADS:-2}"; steps="${STEPS:-5}"; rounds="${ROUNDS:-3}"
dotnet build Efficiency.csproj -c Release -nologo -v q >/dev/null
dll="$here/bin/Release/net10.0/Efficiency.dll"
mkdir -p results
out="results/$(date +%Y%m%d-%H%M%S).jsonl"
echo "# $(date -Is) cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), cores: $(nproc), load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out"
dotnet "$dll" --threads "$threads" --steps "$steps" --rounds "$rounds" | tee -a "$out"
for v in single-path single-path-faithful child multi-path; do
  dotnet "$dll" --threads "$threads" --steps 3 --memory "$v" | tee -a "$out"
done
