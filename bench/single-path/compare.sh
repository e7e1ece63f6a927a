#!/usr/bin/env bash
# Issue 4, item 8: does Single-Path NAS find good networks? For Fashion-MNIST and the CIFAR-10 subset, at two
# latency targets (fractions of each space's latency-table range) and seeds 0, 1, 2:
#   spnas   tailor search single-path (search, then the decoded network trained from scratch)
#   random  tailor search random-train: networks sampled within +-5% of the same target (table latency), each
#           trained briefly, the best by validation accuracy trained like the others; its search compute is
#           capped at the Single-Path search's compute of the same dataset, target and seed
#   mbv2    mobilenet_v2_cifar scaled by width to the same target by *measured* latency (tailor latency fit-width)
#   donna   (issue 6, item 8) tailor search donna around mobilenet_v2_cifar (width DONNA_TEACHER_WIDTH, default 0.5) with the
#           target as its latency limit; the front point of highest predicted accuracy within the target, trained like the others
#           (DONNA_ARGS: more options of tailor search donna, e.g. "--teacher-epochs 10 --library-epochs 2 --library-images 2000")
# All three finish with the same recipe (sgd lr 0.05 cosine, batch 128, label smoothing 0.1, TRAIN_EPOCHS
# epochs, 10% validation split, same subset). One latency table per space is shared by every run. Then
# bench/single-path/Compare re-measures every final network interleaved in one process and writes
# compare.md and compare.png into the results folder.
# Usage: bench/single-path/compare.sh   (env: EXP=runs/spnas-compare ARMS="mbv2 spnas random donna" DATASETS="fmnist cifar"
#        FRACTIONS="0.3 0.6" SEEDS="0 1 2" SEARCH_EPOCHS=4 TRAIN_EPOCHS=3 FMNIST_SUBSET=6000 THREADS=2)
# Reruns skip every run whose result file exists.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
exp="${EXP:-runs/spnas-compare}"; res="$here/compare"
arms="${ARMS:-mbv2 spnas random}"; datasets="${DATASETS:-fmnist cifar}"; fractions="${FRACTIONS:-0.3 0.6}"; seeds="${SEEDS:-0 1 2}"
se="${SEARCH_EPOCHS:-4}"; te="${TRAIN_EPOCHS:-3}"; threads="${THREADS:-2}"; fsub="${FMNIST_SUBSET:-6000}"
mkdir -p "$exp" "$res"
echo "# $(date -Is) cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), cores: $(nproc), load: $(cut -d' ' -f1-3 /proc/loadavg); search epochs $se, train epochs $te, fmnist subset $fsub" >> "$res/machine.txt"
./tailor --help >/dev/null
for d in $datasets; do
  case $d in
    fmnist) space=spnas-fmnist; data=fashion-mnist; shape=1x28x28; sub=(--subset "$fsub") ;;
    cifar)  space=spnas-cifar;  data=cifar10:../shared/data/cifar-10-subset; shape=3x32x32; sub=() ;;
    *) echo "unknown dataset $d"; exit 2 ;;
  esac
  lut="$res/lut-$d${LUT_TAG:-}.json"   # LUT_TAG: a table of this machine beside an earlier machine's (e.g. LUT_TAG=-stop11)
  [ -f "$lut" ] || ./tailor lut build --space "$space" --target ort-cpu --out "$lut" --quiet
  for f in $fractions; do
    t=$(python3 - "$lut" "$f" <<'PY'
import json, sys
l = json.load(open(sys.argv[1])); f = float(sys.argv[2]); c = l["calibration"]
a, b = c.get("a_ms", 0.0), c.get("b", 1.0)
lo = a + b * (l["raw_fixed_ms"] + sum(min(x["ms"].values()) for x in l["layers"]))
hi = a + b * (l["raw_fixed_ms"] + sum(max(x["ms"].values()) for x in l["layers"]))
print(f"{lo + f * (hi - lo):.4f}")
PY
)
    echo "== $d: target $t ms (fraction $f)"
    for s in $seeds; do
      for arm in $arms; do
        key="$arm-$d-$f-s$s"; out="$exp/$key"; json="$res/$key.json"
        [ -f "$json" ] && continue
        echo "-- $key  $(date +%T)"
        case $arm in
          spnas)
            rm -rf "$out"
            ./tailor search single-path --space "$space" --data "$data" --target ort-cpu --lut "$lut" --latency-ms "$t" \
              --epochs "$se" --train-epochs "$te" "${sub[@]}" --seed "$s" --threads "$threads" --out "$out" --json > "$json.tmp" ;;
          random)
            sp="$res/spnas-$d-$f-s$s.json"
            [ -f "$sp" ] || { echo "   (no $sp yet: skipped)"; continue; }
            budget=$(python3 -c "import json;s=json.load(open('$sp'));print(round((s.get('search_cpu_seconds') or s['search_seconds']*$threads)/$threads,1))")
            rm -rf "$out"
            ./tailor search random-train --space "$space" --data "$data" --target ort-cpu --lut "$lut" --latency-ms "$t" \
              --budget 200 --budget-seconds "$budget" --eval-epochs 1 --train-epochs "$te" "${sub[@]}" --seed "$s" --threads "$threads" --out "$out" --json > "$json.tmp" ;;
          donna)
            # one DONNA experiment per dataset (teacher, BKD, library: seed 0), one search per target; the front point of
            # highest predicted accuracy within the target is trained like the other arms' networks
            dexp="$exp/donna-$d"; dsearch="$res/donna-$d-$f-search.json"; arch="$res/donna-$d-$f-arch.json"
            if [ ! -f "$dsearch" ]; then
              ./tailor search donna --data "$data" "${sub[@]}" --teacher zoo:mobilenet_v2_cifar --teacher-width "${DONNA_TEACHER_WIDTH:-0.5}" \
                --target ort-cpu --latency-ms "$t" --final-count 0 --threads "$threads" --out "$dexp" ${DONNA_ARGS:-} --json > "$dsearch.tmp"
              mv "$dsearch.tmp" "$dsearch"
            fi
            folder=$(python3 -c "import json,os;print(os.path.basename(json.load(open('$dsearch'))['search']['folder']))")
            [ -f "$arch" ] || ./tailor donna export --experiment "$dexp" --search "$folder" --latency-ms "$t" --out "$arch" --json > "$res/donna-$d-$f-export.json"
            rm -rf "$out"
            ./tailor train --arch "$arch" --data "$data" "${sub[@]}" --val-split 0.1 --epochs "$te" --batch 128 --lr 0.05 --seed "$s" --threads "$threads" --out "$out" --json > "$json.tmp"
            # search cost: every job of the experiment (teacher, features, BKD, library) plus this search
            python3 - "$json.tmp" "$dsearch" "$res/donna-$d-$f-export.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); s = json.load(open(sys.argv[2])); x = json.load(open(sys.argv[3]))
r["search_compute_seconds"] = s["seconds_total_jobs"]; r["donna_key"] = x["key"]; r["predicted_acc"] = x["predicted_acc"]; r["front_latency_ms"] = x["latency_ms"]
json.dump(r, open(sys.argv[1], "w"), indent=2)
PY
            ;;
          mbv2)
            arch="$res/mbv2-$d-$f-arch.json"
            [ -f "$arch" ] || ./tailor latency fit-width --arch zoo:mobilenet_v2_cifar --input "$shape" --classes 10 --latency-ms "$t" --out "$arch" --json > "$res/mbv2-$d-$f-fit.json"
            rm -rf "$out"
            ./tailor train --arch "$arch" --data "$data" "${sub[@]}" --val-split 0.1 --epochs "$te" --batch 128 --lr 0.05 --seed "$s" --threads "$threads" --out "$out" --json > "$json.tmp" ;;
        esac
        mv "$json.tmp" "$json"
      done
    done
  done
done
echo "done $(date -Is)" >> "$res/machine.txt"
dotnet build "$here/Compare/Compare.csproj" -c Release -nologo -v q >/dev/null
dotnet "$here/Compare/bin/Release/net10.0/SpnasCompare.dll" "$res" "$exp"
