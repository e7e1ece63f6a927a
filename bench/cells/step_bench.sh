#!/usr/bin/env bash
# Single-path vs multi-path cost of the cell searches (issue 7, item 6): time per search step
# (weight + alpha step) interleaved in one process, then peak memory with one process per method,
# on the same NAS-Bench-201 supernet (C = 16, N = 5 unless overridden), real CIFAR-10 batches.
# Usage: bench/cells/step_bench.sh   (env: C=16 N=5 BATCH=64 THREADS=2)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
c="${C:-16}"; n="${N:-5}"; batch="${BATCH:-64}"; threads="${THREADS:-2}"
mkdir -p bench/cells/results
out="bench/cells/results/step-bench-$(date +%Y%m%d-%H%M%S).txt"
echo "# $(date -Is) cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), cores: $(nproc), load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out"
./tailor search step-bench --channels "$c" --cells "$n" --batch "$batch" --threads "$threads" --json | tee -a "$out"
for m in darts gdas msg2 msg3; do
  ./tailor search step-bench --methods "$m" --memory --steps 3 --rounds 1 --channels "$c" --cells "$n" --batch "$batch" --threads "$threads" --json | tee -a "$out"
done
