#!/usr/bin/python3
"""Summarises a run.sh results file (JSON lines) as a Markdown table: per configuration the median
over rounds of images/s (batch / median step time) for Tailor and PyTorch, their ratio, the median of
the per-round ratios, and the ratio of CPU time per step (less sensitive to other load)."""
import json, statistics, sys
from collections import defaultdict

rows = defaultdict(lambda: defaultdict(list))
header = []
for line in open(sys.argv[1]):
    if line.startswith("#"):
        header.append(line.strip("# \n")); continue
    rec = json.loads(line); res = rec["result"]
    rows[(res["threads"], res["width"])][res["impl"]].append((rec["round"], res))
for h in header:
    print(f"<!-- {h} -->")
print("| threads | width | params | Tailor img/s | PyTorch img/s | ratio (medians) | median per-round ratio | CPU-time ratio | rounds |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for (t, w) in sorted(rows, key=lambda k: (-k[0], k[1])):
    d = rows[(t, w)]
    ta = {r: x for r, x in d["tailor"]}; py = {r: x for r, x in d["pytorch"]}
    both = sorted(set(ta) & set(py))
    ti = statistics.median(ta[r]["images_per_s"] for r in both)
    pi = statistics.median(py[r]["images_per_s"] for r in both)
    per = statistics.median(ta[r]["images_per_s"] / py[r]["images_per_s"] for r in both)
    cpu = statistics.median(py[r]["median_cpu_s"] for r in both) / statistics.median(ta[r]["median_cpu_s"] for r in both)
    assert all(ta[r]["params"] == py[r]["params"] for r in both), "parameter counts differ"
    print(f"| {t} | {w} | {ta[both[0]]['params']:,} | {ti:.1f} | {pi:.1f} | {ti / pi:.2f} | {per:.2f} | {cpu:.2f} | {len(both)} |")
