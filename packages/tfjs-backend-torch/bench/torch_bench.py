"""PyTorch reference for bench/engine.ts: the same workloads on the same machine.

Prints one JSON object on stdout: median seconds per workload. Usage:
  python3 torch_bench.py --threads N --repeats R --batches 32,128
  python3 torch_bench.py --threads N --serve   (interleaved mode, used by bench/engine.ts)
In --serve mode it reads one workload name per line on stdin (train_step_b<B>, pgd_step_b128,
forward_b128), runs it once and answers {"seconds": s} on one line; the caller decides warm-up
and repeats, so the two sides can alternate measurement by measurement.
Dev-only comparison (Debian python3-torch); the engine does not depend on Python.
"""
import argparse
import os
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.short(x) if self.short is not None else x))


class ResNet18(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers, cin = [], 64
        for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            for b in range(2):
                layers.append(BasicBlock(cin, cout, stride if b == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        h = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(h.mean((2, 3)))


DEVICE = torch.device("cpu")


def sync():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def median_time(fn, repeats):
    fn()  # warm-up
    sync()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batches", default="32,128")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--serve", action="store_true", help="answer single measurements on stdin/stdout")
    args = ap.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    if DEVICE.type == "cuda":
        # Same arithmetic as the tfjs side: strict fp32 unless TFJS_TORCH_TF32=1 allows TF32 there too.
        tf32 = os.environ.get("TFJS_TORCH_TF32") == "1"
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cuda.matmul.allow_tf32 = tf32
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    net = ResNet18().to(DEVICE, memory_format=fmt)
    out = {"torch_version": torch.__version__, "device": str(DEVICE), "threads": torch.get_num_threads(),
           "params": sum(p.numel() for p in net.parameters()), "seconds": {}}
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    if args.serve:
        serve(net, opt, fmt)
        return
    for b in [int(s) for s in args.batches.split(",")]:
        x = torch.rand(b, 3, 32, 32, device=DEVICE).to(memory_format=fmt)
        y = torch.randint(0, 10, (b,), device=DEVICE)

        def train_step():
            net.train()
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            return loss.item()

        out["seconds"][f"train_step_b{b}"] = median_time(train_step, args.repeats)
    b = 128
    x = torch.rand(b, 3, 32, 32, device=DEVICE).to(memory_format=fmt)
    y = torch.randint(0, 10, (b,), device=DEVICE)

    def pgd_step():
        net.eval()
        adv = x.clone().requires_grad_(True)
        loss = F.cross_entropy(net(adv), y)
        (g,) = torch.autograd.grad(loss, adv)
        return (adv.detach() + (8 / 255 / 4) * g.sign()).clamp(0, 1)

    def forward():
        net.eval()
        with torch.no_grad():
            return net(x)

    out["seconds"]["pgd_step_b128"] = median_time(pgd_step, args.repeats)
    out["seconds"]["forward_b128"] = median_time(forward, args.repeats)
    # conv micro-benchmarks at ResNet-18's CIFAR shapes (batch 32), forward / dX / dW.
    convs = {}
    for name, (cin, cout, hw, stride) in CONV_SHAPES.items():
        xx = torch.rand(32, cin, hw, hw, device=DEVICE).to(memory_format=fmt)
        w = torch.rand(cout, cin, 3, 3, device=DEVICE)
        yy = F.conv2d(xx, w, stride=stride, padding=1)
        dy = torch.rand_like(yy)
        convs[name] = {
            "forward": median_time(lambda: F.conv2d(xx, w, stride=stride, padding=1), args.repeats),
            "dX": median_time(lambda: torch.nn.grad.conv2d_input(xx.shape, w, dy, stride=stride, padding=1), args.repeats),
            "dW": median_time(lambda: torch.nn.grad.conv2d_weight(xx, w.shape, dy, stride=stride, padding=1), args.repeats),
        }
    out["conv_seconds"] = convs
    print(json.dumps(out))


def serve(net, opt, fmt):
    """One timed run per request line; inputs are made once per workload and kept."""
    import sys

    inputs = {}

    def batch(b):
        if b not in inputs:
            inputs[b] = (torch.rand(b, 3, 32, 32, device=DEVICE).to(memory_format=fmt),
                         torch.randint(0, 10, (b,), device=DEVICE))
        return inputs[b]

    def train_step(b):
        x, y = batch(b)
        net.train()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    def pgd_step(b):
        x, y = batch(b)
        net.eval()
        adv = x.clone().requires_grad_(True)
        loss = F.cross_entropy(net(adv), y)
        (g,) = torch.autograd.grad(loss, adv)
        return (adv.detach() + (8 / 255 / 4) * g.sign()).clamp(0, 1)

    def forward(b):
        x, _ = batch(b)
        net.eval()
        with torch.no_grad():
            return net(x)

    kinds = {"train_step": train_step, "pgd_step": pgd_step, "forward": forward}
    for line in sys.stdin:
        name = line.strip()
        if not name:
            continue
        kind, _, b = name.rpartition("_b")
        if kind not in kinds or not b.isdigit():
            print(json.dumps({"error": f"unknown workload {name!r}"}), flush=True)
            continue
        t0 = time.perf_counter()
        kinds[kind](int(b))
        sync()
        print(json.dumps({"seconds": time.perf_counter() - t0}), flush=True)


# name -> (in channels, out channels, input size, stride): the distinct 3x3 convs of ResNet-18 (CIFAR).
CONV_SHAPES = {
    "stem_3x64_32": (3, 64, 32, 1),
    "l1_64x64_32": (64, 64, 32, 1),
    "l2_64x128_32_s2": (64, 128, 32, 2),
    "l2_128x128_16": (128, 128, 16, 1),
    "l3_128x256_16_s2": (128, 256, 16, 2),
    "l3_256x256_8": (256, 256, 8, 1),
    "l4_256x512_8_s2": (256, 512, 8, 2),
    "l4_512x512_4": (512, 512, 4, 1),
}

if __name__ == "__main__":
    main()
