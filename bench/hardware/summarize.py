"""Markdown table of the latency-predictor results written by bench/hardware/run.sh fit (stdlib only)."""
import glob, json, os, sys

out = sys.argv[1]
rows = []
for p in sorted(glob.glob(os.path.join(out, "fit-*.json"))):
    with open(p) as f:
        r = json.load(f)
    rows.append(r)
order = {"fbnet": 0, "nb201": 1}
rows.sort(key=lambda r: (order.get(r["encoding"], 2), r["column"], r["model"]))
print("| table | device column | model | train | test | MAPE | RMSE (ms) | Kendall tau-b | within +-10% | fit s |")
print("|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    table = "HW-NAS-Bench FBNet" if r["encoding"] == "fbnet" else "NAS-Bench-201"
    print(f"| {table} | {r['column'].replace('latency_ms_', '')} | {r['model']} | {r['train']} | {r['test']} | "
          f"{100 * r['mape']:.2f}% | {r['rmse']:.4g} | {r['kendall_tau']:.3f} | {100 * r['within10']:.1f}% | {r['seconds']:.1f} |")
