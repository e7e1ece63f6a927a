#!/usr/bin/env bash
# What each of Tailor's CPU fixes contributes, at 1 thread (no OpenMP waits involved), interleaved:
#   base:      NCHW batches, plain nn.Conv2d everywhere (--cl 0 --fast-dw 0)
#   +fast-dw:  depthwise fast paths for maps <= 2x2 (--cl 0 --fast-dw 1)
#   +cl:       channels-last batches as well: Tailor's default (--cl 1 --fast-dw 1)
#   pipeline:  the default, fed by the DataLoader from the CIFAR-10 subset (shuffle, crop, flip, normalise)
# Usage: bench/throughput/ablation.sh [rounds]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
rounds="${1:-3}"; steps="${STEPS:-8}"; warmup="${WARMUP:-3}"
export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_TOP_PAD_=268435456 OMP_NUM_THREADS=1
dotnet build Throughput.csproj -c Release -nologo -v q >/dev/null
dll="$here/bin/Release/net10.0/Throughput.dll"
mkdir -p results
out="results/ablation-$(date +%Y%m%d-%H%M%S).jsonl"
echo "# $(date -Is) rounds=$rounds steps=$steps warmup=$warmup threads=1 load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out" >&2
for r in $(seq "$rounds"); do
  for w in 0.5 1.0; do
    for v in "base:--cl 0 --fast-dw 0" "+fast-dw:--cl 0 --fast-dw 1" "+cl:--cl 1 --fast-dw 1" "pipeline:--mode pipeline"; do
      name="${v%%:*}"; flags="${v#*:}"
      # shellcheck disable=SC2086
      line="$(dotnet "$dll" --width "$w" --threads 1 --warmup "$warmup" --steps "$steps" $flags)"
      echo "{\"round\": $r, \"variant\": \"$name\", \"result\": $line}" | tee -a "$out" | cut -c1-140 >&2
    done
  done
done
/usr/bin/python3 - "$out" <<'PY' | tee "${out%.jsonl}.md"
import json, statistics, sys
from collections import defaultdict
d = defaultdict(list)
for line in open(sys.argv[1]):
    if line.startswith("#"): print(f"<!-- {line.strip('# ').strip()} -->"); continue
    rec = json.loads(line); res = rec["result"]
    d[(res["width"], rec["variant"])].append(res)
print("| width | variant | img/s (median) | step s | CPU s per step | forward s | loss+backward s | optimizer s |")
print("|---:|---|---:|---:|---:|---:|---:|---:|")
for (w, v), rs in sorted(d.items(), key=lambda kv: (kv[0][0], ["base", "+fast-dw", "+cl", "pipeline"].index(kv[0][1]))):
    m = lambda f: statistics.median(f(r) for r in rs)
    print(f"| {w} | {v} | {m(lambda r: r['images_per_s']):.1f} | {m(lambda r: r['median_step_s']):.3f} | {m(lambda r: r['median_cpu_s']):.3f} | "
          f"{m(lambda r: r['phases_s']['forward']):.3f} | {m(lambda r: r['phases_s']['loss_backward']):.3f} | {m(lambda r: r['phases_s']['optimizer']):.3f} |")
PY
