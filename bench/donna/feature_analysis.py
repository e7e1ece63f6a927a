#!/usr/bin/python3
"""Offline look at a DONNA experiment's accuracy predictor: how well other features of the same block NSRs
rank the architecture library (leave-one-out ridge, Kendall tau), and how consistent each block's NSRs are.
Usage: /usr/bin/python3 bench/donna/feature_analysis.py runs/tau/v30b   (needs Debian's python3-numpy, python3-scipy)"""
import json, os, re, sqlite3, sys
import numpy as np
from scipy.stats import kendalltau, rankdata

exp = sys.argv[1]
db = sqlite3.connect(os.path.join(exp, "experiment.db"))
nsr, train_nsr, names = {}, {}, {}
for (r,) in db.execute("select result from jobs where kind='bkd' and status='done'"):
    d = json.loads(r)
    k = (d["block"], d["candidate"])
    nsr[k], train_nsr[k], names[k] = d["nsr"], d["train_nsr"], d["name"]
blocks = 1 + max(b for b, _ in nsr)
cands = 1 + max(m for _, m in nsr)
loo_rows = json.load(open(os.path.join(exp, "predictor.json")))["loo"]
keys = np.array([[int(x) for x in p["key"].split("-")] for p in loo_rows])
acc = np.array([p["actual"] for p in loo_rows])
X = np.array([[nsr[(b, k[b])] for b in range(blocks)] for k in keys])


def tau(a, b):
    return round(kendalltau(a, b)[0], 3)


def loo(F, lam=0.1):
    """Leave-one-out ridge on standardised features, as the predictor does; Kendall tau of the predictions."""
    n = len(acc)
    pred = np.zeros(n)
    for i in range(n):
        m = np.arange(n) != i
        mu, sd = F[m].mean(0), F[m].std(0) + 1e-12
        Z = (F[m] - mu) / sd
        y = acc[m]
        w = np.linalg.solve(Z.T @ Z + lam * np.eye(Z.shape[1]), Z.T @ (y - y.mean()))
        pred[i] = ((F[i] - mu) / sd) @ w + y.mean()
    return tau(pred, acc)


for b in range(blocks):
    v = [nsr[(b, m)] for m in range(cands)]
    t = [train_nsr[(b, m)] for m in range(cands)]
    print(f"block {b}: NSR {min(v):.4f}-{max(v):.4f}, held-out vs training order tau {tau(v, t)}, "
          f"ranks the library with tau {tau(-X[:, b], acc)}")
last = blocks - 1
rest = X[:, :last]
onehot = np.array([[1.0 if k[last] == m else 0.0 for m in range(cands)] for k in keys])
print("ridge on the NSRs (the predictor)", loo(X))
print("ridge on log NSRs", loo(np.log(X)))
print("-(sum of NSRs), unfitted", tau(-X.sum(1), acc))
print(f"without block {last}'s NSR", loo(rest))
print(f"block {last} as a free per-candidate term (one-hot, lambda 1 / 5)", loo(np.hstack([rest, onehot]), 1), loo(np.hstack([rest, onehot]), 5))
quad = np.hstack([rest] + [(rest[:, i] * rest[:, j])[:, None] for i in range(last) for j in range(i, last)])
print(f"quadratic in blocks 0-{last - 1}", loo(quad))
print(f"ranks of blocks 0-{last - 1}", loo(np.column_stack([rankdata(rest[:, i]) for i in range(last)])))


def attr(name, key):
    m = re.search(key + r"([0-9.]+)", name)
    return float(m.group(1)) if m else (1.0 if key == "w" else 0.0)  # width 1 is not written in the name


for key, what in (("k", "kernel"), ("e", "expansion"), ("d", "depth"), ("w", "width")):
    print(f"block {last}'s {what} ranks the library with tau", tau([attr(names[(last, k[last])], key) for k in keys], acc))
