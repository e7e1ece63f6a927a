#!/usr/bin/env bash
# NAS-Bench-201 results over seeds (bench/README.md, "Cell-based differentiable search").
# Usage: bench/cells/run_nb201.sh [SEEDS...]   (default seeds 0 1 2); outputs in runs/cells/<method>-s<seed>/
# Every run: the demo defaults (CIFAR-10 subset split 2,000 / 2,000, C = 8, N = 1, batch 64), 1 libtorch thread.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
seeds=("$@"); [ ${#seeds[@]} -eq 0 ] && seeds=(0 1 2)
methods=${METHODS:-"gdas darts darts-pt darts-pt-fix msg-das"}
for s in "${seeds[@]}"; do
  for m in $methods; do
    out="runs/cells/$m-s$s"
    [ -f "$out/summary.json" ] && continue
    case $m in
      darts-pt-fix) args=(darts-pt --fix-alpha) ;;
      *) args=("$m") ;;
    esac
    echo "=== $m seed $s ($(date +%T))"
    ./tailor search "${args[@]}" --space nb201 --data cifar10 --seed "$s" --threads 1 --out "$out" --resume
  done
done
