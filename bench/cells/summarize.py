#!/usr/bin/env python3
"""NAS-Bench-201 results table over seeds from runs/cells/<method>-s<seed>/summary.json or bench/cells/results/<name>-s<seed>.summary.json (bench/README.md)."""
import glob, json, os, statistics, sys

root = sys.argv[1] if len(sys.argv) > 1 else "runs/cells"
rows = {}
# run folders (runs/cells/<method>-s<seed>/summary.json) or the copies kept in bench/cells/results (<name>-s<seed>.summary.json)
files = [(f, os.path.basename(os.path.dirname(f))) for f in glob.glob(os.path.join(root, "*-s*", "summary.json"))]
files += [(f, os.path.basename(f)[:-len(".summary.json")]) for f in glob.glob(os.path.join(root, "*-s*.summary.json"))]
for f, run in sorted(files, key=lambda x: x[1]):
    name = run.rsplit("-s", 1)[0]
    d = json.load(open(f))
    rows.setdefault(name, []).append(d)

def ms(v):
    v = [x for x in v if x is not None]
    if not v: return "-"
    return f"{statistics.mean(v):.2f} ± {statistics.stdev(v):.2f}" if len(v) > 1 else f"{v[0]:.2f}"

print("| method | seeds | table test (mean ± std) | table valid | per seed test | magnitude-cell test | latency ms (pixel3) | search s | skip weight at end |")
print("|---|---|---|---|---|---|---|---|---|")
for name, ds in rows.items():
    seeds = ",".join(str(d["seed"]) for d in ds)
    mag = [d["magnitude"]["table_test"] if isinstance(d.get("magnitude"), dict) and d["magnitude"].get("table_test") is not None else None for d in ds]
    per = " / ".join("%.2f" % d["table_test"] for d in ds)
    print(f"| {name} | {seeds} | {ms([d['table_test'] for d in ds])} | {ms([d['table_valid'] for d in ds])} | "
          f"{per} | {ms(mag)} | {ms([d['table_latency_ms'] for d in ds])} | "
          f"{ms([d['search_seconds'] for d in ds])} | {ms([d.get('final_skip_weight') for d in ds])} |")
r = next(iter(rows.values()))[0]
print(f"\nTable reference: random cell mean {r['random_test_mean']:.2f}, median {r['random_test_median']:.2f}.")
for name, ds in rows.items():
    for d in ds:
        print(f"- {name} seed {d['seed']}: `{d['genotype']}`")
