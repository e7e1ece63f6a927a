#!/usr/bin/python3
"""PyTorch side of the training-throughput benchmark (issue 2, item 10).

Builds the network from the same layer list Tailor trains (the tailor-arch JSON that
Throughput --arch-out writes) and, independently, a torchvision-style MobileNetV2
(width multiplier, _make_divisible) to check that both have the same parameters.
Times the same training step as Tailor's Trainer.TrainStep: zero_grad, forward,
cross-entropy with label smoothing 0.1, backward, SGD (momentum 0.9, weight decay 4e-5),
loss.item() and the accuracy count. Prints one JSON line.

Run with Debian's /usr/bin/python3 (python3-torch 1.13); run.sh does.
"""
import argparse, json, os, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F

ACTS = {"relu": nn.ReLU, "relu6": nn.ReLU6, "swish": nn.SiLU, "hswish": nn.Hardswish,
        "sigmoid": nn.Sigmoid, "hsigmoid": nn.Hardsigmoid, "none": nn.Identity}


def conv_bn_act(cin, cout, k, s, groups=1, act="relu6", padding=None):
    p = k // 2 if padding is None else padding
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, p, groups=groups, bias=False), nn.BatchNorm2d(cout), ACTS[act]())


class MBConv(nn.Module):
    """1x1 expand (if e > 1) + BN + act, kxk depthwise + BN + act, 1x1 project + BN, residual if s == 1 and cin == cout."""
    def __init__(self, cin, b):
        super().__init__()
        cout, k, e, s, act = b["out"], b.get("kernel", 3), b.get("expansion", 1), b.get("stride", 1), b.get("act", "relu")
        assert "se" not in b and b.get("groups", 1) == 1, "only plain MBConv blocks are needed here"
        mid = cin * e
        layers = []
        if e != 1 or b.get("force_expand", False):
            layers += [nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), ACTS[act]()]
        layers += [nn.Conv2d(mid, mid, k, s, k // 2, groups=mid, bias=False), nn.BatchNorm2d(mid), ACTS[act](),
                   nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.body = nn.Sequential(*layers)
        self.residual = s == 1 and cin == cout

    def forward(self, x):
        h = self.body(x)
        return h + x if self.residual else h


class ArchNet(nn.Module):
    """The tailor-arch JSON as a PyTorch module, in Tailor's ConvNet order."""
    def __init__(self, a):
        super().__init__()
        c = a["input"]["channels"]
        mods = []
        for b in a["stem"] + a["blocks"] + a["head"]["convs"]:
            if b["kind"] == "conv_bn_act":
                mods.append(conv_bn_act(c, b["out"], b.get("kernel", 3), b.get("stride", 1), b.get("groups", 1), b.get("act", "relu"), b.get("padding")))
            elif b["kind"] == "mbconv":
                mods.append(MBConv(c, b))
            else:
                raise ValueError(b["kind"])
            c = b["out"]
        self.features = nn.Sequential(*mods)
        self.dropout = nn.Dropout(a["head"].get("dropout", 0.0))
        self.classifier = nn.Linear(c, a["classes"])

    def forward(self, x):
        return self.classifier(self.dropout(self.features(x).mean((2, 3))))


def _make_divisible(v, divisor=8, min_value=None):
    # torchvision.models._utils._make_divisible
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def torchvision_mobilenet_v2_params(width, classes):
    """Parameter count of torchvision's MobileNetV2(width_mult=width, num_classes=classes), computed layer by layer."""
    def cba(cin, cout, k, groups=1):
        return cout * (cin // groups) * k * k + 2 * cout
    setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]
    cin = _make_divisible(32 * width)
    last = _make_divisible(1280 * max(1.0, width))
    n_params = cba(3, cin, 3)
    for t, c, n, s in setting:
        cout = _make_divisible(c * width)
        for i in range(n):
            hidden = int(round(cin * t))
            if t != 1:
                n_params += cba(cin, hidden, 1)
            n_params += cba(hidden, hidden, 3, groups=hidden) + hidden * cout + 2 * cout
            cin = cout
    n_params += cba(cin, last, 1) + last * classes + classes
    return n_params


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", required=True)
    ap.add_argument("--width", type=float, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with open(args.arch) as f:
        a = json.load(f)
    net = ArchNet(a)
    n_params = sum(p.numel() for p in net.parameters())
    tv = torchvision_mobilenet_v2_params(args.width, a["classes"])
    assert n_params == tv, f"layer-list net has {n_params} params, torchvision layout {tv}"
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=4e-5)
    # the same real images as the Tailor side: the first batch of the CIFAR-10 subset, normalised per channel
    cifar = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../shared/data/cifar-10-subset/data_batch_1.bin")
    with open(cifar, "rb") as f:
        rec = f.read(args.batch * 3073)
    arr = torch.frombuffer(bytearray(rec), dtype=torch.uint8).view(args.batch, 3073)
    y = arr[:, 0].long()
    x = arr[:, 1:].float().view(args.batch, 3, 32, 32) / 255.0
    x = (x - x.mean(dim=(0, 2, 3), keepdim=True)) / x.std(dim=(0, 2, 3), keepdim=True)
    net.train()
    times, cpu, fwd, bwd, optim, rest = [], [], [], [], [], []
    for s in range(args.warmup + args.steps):
        c0 = time.process_time()
        t0 = time.perf_counter()
        net.zero_grad(set_to_none=True)
        logits = net(x)
        t1 = time.perf_counter()
        loss = F.cross_entropy(logits, y, label_smoothing=0.1)
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        loss.item()
        int((logits.argmax(1) == y).sum().item())
        t4 = time.perf_counter()
        if s >= args.warmup:
            times.append(t4 - t0); cpu.append(time.process_time() - c0)
            fwd.append(t1 - t0); bwd.append(t2 - t1); optim.append(t3 - t2); rest.append(t4 - t3)
    med = statistics.median(times)
    r = lambda v: round(statistics.median(v), 5)
    print(json.dumps({"impl": "pytorch", "mode": "step", "width": args.width, "threads": args.threads, "batch": args.batch,
                      "warmup": args.warmup, "steps": args.steps, "params": n_params,
                      "median_step_s": round(med, 5), "mean_step_s": round(sum(times) / len(times), 5),
                      "images_per_s": round(args.batch / med, 2), "median_cpu_s": r(cpu),
                      "phases_s": {"forward": r(fwd), "loss_backward": r(bwd), "optimizer": r(optim), "item": r(rest)},
                      "step_s": [round(t, 4) for t in times], "versions": f"PyTorch {torch.__version__}"}))


if __name__ == "__main__":
    main()
