"""PyTorch side of `npm run bench:attacks` (dev-only, not a dependency of the toolkit).

Rebuilds the model whose weights and images bench/attacks.ts wrote to --data (meta.json says
which: the small CNN, or the full model T(clip01(P(x))) of the JATP purifier and the narrow
ResNet-18 or the registry small-cnn; networks in reference_models.py) and runs one attack with the reference AutoAttack code
(its directory on sys.path: AUTOATTACK_DIR), printing one JSON line {"seconds": ...,
"robustAccuracy": ...}. Attacks: pgd40 (plain PGD written here: random start, sign steps of
eps/4, projection, as the toolkit's Pgd), apgd_ce (autoattack's APGDAttack, CE, 100 iterations,
1 restart), autoattack_standard (AutoAttack(version='standard')). Only the attack itself is timed,
not the imports or the loading.

--attack probe needs no AUTOATTACK_DIR: it prints the model's logits on the images (and, for the
full model, P(x) before the clamp), which the bench compares with its own to prove the port.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

# No __pycache__ beside the sources (it would show up in git status).
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_models import FullModel, JatpPurifier, RegistrySmallCnn, ResNet18, SmallCnn, load_strict, read_safetensors  # noqa: E402

# The PyTorch twin of each target architecture the full model may have (meta.json's targetArch).
TARGET_TWINS = {"resnet18": ResNet18, "small-cnn": RegistrySmallCnn}


def load(data_dir):
    """The model meta.json names (small CNN or full model), the images (NCHW) and labels, and meta."""
    meta = json.load(open(os.path.join(data_dir, "meta.json")))
    inputs = read_safetensors(os.path.join(data_dir, "inputs.safetensors"))
    x = inputs["x"].permute(0, 3, 1, 2).contiguous()  # the toolkit's NHWC -> NCHW
    y = inputs["y"].long()
    if meta["model"] == "cnn":
        model = SmallCnn(read_safetensors(os.path.join(data_dir, "cnn.safetensors")))
    elif meta["model"] == "full":
        t, p = meta["target"], meta["purifier"]
        arch = meta.get("targetArch", "resnet18")
        if arch not in TARGET_TWINS:
            raise ValueError(f"meta.json: no PyTorch twin for target {arch!r} (expected one of {sorted(TARGET_TWINS)})")
        target = load_strict(TARGET_TWINS[arch](t["width"], t["inChannels"], t["numClasses"]), os.path.join(data_dir, "target.safetensors"))
        purifier = load_strict(JatpPurifier(p["inChannels"], p["nf"], p["gc"], p["nb"]), os.path.join(data_dir, "purifier.safetensors"))
        model = FullModel(purifier, target)
    else:
        raise ValueError(f"meta.json: unknown model {meta['model']!r} (expected cnn or full)")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, x, y, meta


def probe(model, x):
    """Logits for the port check; for the full model also P(x) before the clamp (NHWC, as the toolkit
    lays it out) and T(x) alone, so that each network is checked on real images by itself."""
    with torch.no_grad():
        out = {"logits": model(x).flatten().tolist()}
        if isinstance(model, FullModel):
            out["purified"] = model.purifier(x).permute(0, 2, 3, 1).flatten().tolist()
            out["target_logits"] = model.target(x).flatten().tolist()
    return out


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
    ap.add_argument("--attack", required=True, choices=["probe", "warmup", "pgd40", "apgd_ce", "autoattack_standard"])
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=500)
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    model, x, y, meta = load(args.data)
    if args.attack == "probe":
        print(json.dumps(probe(model, x)))
        return
    sys.path.insert(0, os.environ["AUTOATTACK_DIR"])
    from autoattack import AutoAttack
    from autoattack.autopgd_base import APGDAttack

    eps = meta["eps"]
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    if args.attack in ("pgd40", "warmup"):
        adv = pgd(model, x, y, eps, 40 if args.attack == "pgd40" else 2, eps / 4, 0)
    elif args.attack == "apgd_ce":
        apgd = APGDAttack(model, n_iter=100, norm="Linf", n_restarts=1, eps=eps, seed=0, loss="ce", rho=0.75, device="cpu")
        adv = apgd.perturb(x, y)
    else:
        aa = AutoAttack(model, norm="Linf", eps=eps, version="standard", device="cpu", verbose=False, seed=0)
        # Each stage's time: the reference calls one attack object's perturb per stage and batch.
        stages = {}
        stages_cpu = {}

        def timed(fn, name):
            def run(*a, **k):
                start = time.perf_counter()
                cpu = time.process_time()
                try:
                    return fn(*a, **k)
                finally:
                    stages[name] = stages.get(name, 0.0) + time.perf_counter() - start
                    stages_cpu[name] = stages_cpu.get(name, 0.0) + time.process_time() - cpu
            return run

        stage_of = {"apgd-ce": aa.apgd, "apgd-t": aa.apgd_targeted, "square": aa.square}
        for name, obj in stage_of.items():
            obj.perturb = timed(obj.perturb, name)
        aa.fab.perturb = timed(aa.fab.perturb, "fab-t")
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        adv = aa.run_standard_evaluation(x, y, bs=args.batch_size)
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - cpu0
    with torch.no_grad():
        acc = (model(adv).argmax(1) == y).float().mean().item()
    out = {"seconds": seconds, "cpuSeconds": cpu_seconds, "robustAccuracy": acc}
    if args.attack == "autoattack_standard":
        out["stages"] = stages
        out["stagesCpu"] = stages_cpu
    print(json.dumps(out))


if __name__ == "__main__":
    main()
