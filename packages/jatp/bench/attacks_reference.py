"""PyTorch side of `npm run bench:attacks` (dev-only, not a dependency of the toolkit).

Runs one attack with the reference AutoAttack code (its directory on sys.path: AUTOATTACK_DIR) on
the small CNN whose weights and images bench/attacks.ts wrote to --data, and prints one JSON line
{"seconds": ..., "robustAccuracy": ...}. Attacks: pgd40 (plain PGD written here: random start,
sign steps of eps/4, projection, as the toolkit's Pgd), apgd_ce (autoattack's APGDAttack, CE,
100 iterations, 1 restart), autoattack_standard (AutoAttack(version='standard')).
Only the attack itself is timed, not the imports or the loading.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class SmallCnn(nn.Module):
    """conv 1->16 k4 s2 p1, conv 16->32 k4 s2 p1, dense 1568->100->10, ReLUs (the speed issue's CNN)."""

    def __init__(self, w):
        super().__init__()
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
        # tfjs filters are HWIO, dense kernels [in, out]; PyTorch wants OIHW and [out, in].
        self.w1, self.b1 = t(w["w1"].transpose(3, 2, 0, 1)), t(w["b1"])
        self.w2, self.b2 = t(w["w2"].transpose(3, 2, 0, 1)), t(w["b2"])
        self.w3, self.b3 = t(w["w3"].T), t(w["b3"])
        self.w4, self.b4 = t(w["w4"].T), t(w["b4"])

    def forward(self, x):
        h = F.relu(F.conv2d(x, self.w1, self.b1, stride=2, padding=1))
        h = F.relu(F.conv2d(h, self.w2, self.b2, stride=2, padding=1))
        # tfjs flattens NHWC (h, w, c order): do the same so the dense weights line up.
        h = F.relu(F.linear(h.permute(0, 2, 3, 1).reshape(h.shape[0], -1), self.w3, self.b3))
        return F.linear(h, self.w4, self.b4)


def load(data_dir):
    meta = json.load(open(os.path.join(data_dir, "meta.json")))
    arrays = {}
    for name, shape in meta["arrays"].items():
        arrays[name] = np.fromfile(os.path.join(data_dir, name + ".bin"), dtype=np.float32).reshape(shape)
    x = torch.from_numpy(arrays.pop("x").transpose(0, 3, 1, 2).copy())  # NHWC -> NCHW
    y = torch.from_numpy(arrays.pop("y").astype(np.int64))
    return SmallCnn(arrays).eval(), x, y, meta


def pgd(model, x, y, eps, steps, step_size, seed):
    g = torch.Generator().manual_seed(seed)
    adv = (x + (torch.rand(x.shape, generator=g) * 2 - 1) * eps).clamp(0, 1)
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = F.cross_entropy(model(adv), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, adv)
        adv = torch.min(torch.max(adv.detach() + step_size * grad.sign(), x - eps), x + eps).clamp(0, 1)
    return adv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--attack", required=True, choices=["pgd40", "apgd_ce", "autoattack_standard", "warmup"])
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=500)
    args = ap.parse_args()
    sys.path.insert(0, os.environ["AUTOATTACK_DIR"])
    from autoattack import AutoAttack
    from autoattack.autopgd_base import APGDAttack

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    model, x, y, meta = load(args.data)
    eps = meta["eps"]
    for p in model.parameters():
        p.requires_grad_(False)
    t0 = time.perf_counter()
    if args.attack in ("pgd40", "warmup"):
        adv = pgd(model, x, y, eps, 40 if args.attack == "pgd40" else 2, eps / 4, 0)
    elif args.attack == "apgd_ce":
        apgd = APGDAttack(model, n_iter=100, norm="Linf", n_restarts=1, eps=eps, seed=0, loss="ce", rho=0.75, device="cpu")
        adv = apgd.perturb(x, y)
    else:
        aa = AutoAttack(model, norm="Linf", eps=eps, version="standard", device="cpu", verbose=False, seed=0)
        adv = aa.run_standard_evaluation(x, y, bs=args.batch_size)
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        acc = (model(adv).argmax(1) == y).float().mean().item()
    print(json.dumps({"seconds": seconds, "robustAccuracy": acc}))


if __name__ == "__main__":
    main()
