#!/usr/bin/python3
"""PyTorch twin of Throughput --mode ops: forward and backward time of single layers (median ms)."""
import argparse, json, statistics, time
import torch, torch.nn as nn

OPS = [("stem conv3x3 s2 3->32 @32", 3, 32, "conv3", 32, 2), ("pw 1x1 16->96 @16", 16, 16, "pw", 96, 1),
       ("dw 3x3 s1 96 @16", 96, 16, "dw", 96, 1), ("dw 3x3 s2 96 @16", 96, 16, "dw", 96, 2),
       ("pwl 1x1 96->24 @8", 96, 8, "pw", 24, 1), ("dw 3x3 s1 144 @8", 144, 8, "dw", 144, 1),
       ("dw 3x3 s1 576 @2", 576, 2, "dw", 576, 1), ("pw 1x1 320->1280 @1", 320, 1, "pw", 1280, 1),
       ("bn train 96 @16", 96, 16, "bn", 96, 1), ("relu6 96 @16", 96, 16, "relu6", 96, 1)]

ap = argparse.ArgumentParser(); ap.add_argument("--threads", type=int, default=1); ap.add_argument("--reps", type=int, default=10)
a = ap.parse_args()
torch.set_num_threads(a.threads)
res = []
for name, c, h, kind, o, s in OPS:
    m = {"conv3": lambda: nn.Conv2d(c, o, 3, s, 1, bias=False), "pw": lambda: nn.Conv2d(c, o, 1, bias=False),
         "dw": lambda: nn.Conv2d(c, o, 3, s, 1, groups=c, bias=False), "bn": lambda: nn.BatchNorm2d(c), "relu6": lambda: nn.ReLU6()}[kind]()
    m.train()
    x = torch.randn(128, c, h, h, requires_grad=True)
    fw, bw = [], []
    for i in range(a.reps + 2):
        t0 = time.perf_counter(); y = m(x); t1 = time.perf_counter()
        y.backward(torch.ones_like(y)); t2 = time.perf_counter()
        if i >= 2: fw.append(t1 - t0); bw.append(t2 - t1)
        x.grad = None
    res.append({"op": name, "forward_ms": round(statistics.median(fw) * 1e3, 3), "backward_ms": round(statistics.median(bw) * 1e3, 3)})
print(json.dumps({"impl": "pytorch", "threads": torch.get_num_threads(), "ops": res}))
