"""PyTorch side of `npm run bench:train-steps` (dev-only, not a dependency of the toolkit).

Rebuilds the JATP training step that bench/train-steps.ts runs, from the files it wrote to --data:
meta.json (architectures, the preset's attack and loss settings, SGD settings), purifier.safetensors
and target.safetensors (the toolkit's PyTorch exporter: PyTorch names and layouts, loaded strictly)
and inputs.safetensors (x, y, a common attack start, and the toolkit's x~ for the loss check; NHWC).

  --mode probe   one JSON line: the loss terms at (x, x~), the gradient of the loss for every purifier
                 parameter (PyTorch name, PyTorch layout, flattened), and x~ crafted by the feature
                 attack from the common start (NHWC, flattened), for the bench's port check.
With "method": "apeg" in meta.json it runs APE-G's step instead (apeg_main).

  --mode serve   reads one workload per line on stdin ("jatp" / "apeg") and runs one whole training step (random
                 start, K attack steps, loss, backward, SGD update) on the batch, answering
                 {"seconds": wall, "cpuSeconds": process CPU time} per line.
"""
import argparse
import copy
import json
import os
import sys
import time

import torch

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_models import (ApegDiscriminator, ApegGenerator, JatpPurifier, RegistrySmallCnn, apeg_discriminator_loss,  # noqa: E402
                              apeg_generator_loss, apeg_step, feature_attack, jatp_loss, jatp_step, load_strict, read_safetensors)


def nchw(t):
    return t.permute(0, 3, 1, 2).contiguous()


def nhwc_list(t):
    return t.permute(0, 2, 3, 1).flatten().tolist()


def load(data_dir):
    meta = json.load(open(os.path.join(data_dir, "meta.json")))
    t, p = meta["target"], meta["purifier"]
    if meta["targetArch"] != "small-cnn" or meta["purifierArch"] != "jatp-purifier":
        raise ValueError(f"meta.json: this reference has small-cnn + jatp-purifier, not {meta['targetArch']} + {meta['purifierArch']}")
    target = load_strict(RegistrySmallCnn(t["width"], t["inChannels"], t["numClasses"]), os.path.join(data_dir, "target.safetensors"))
    purifier = load_strict(JatpPurifier(p["inChannels"], p["nf"], p["gc"], p["nb"]), os.path.join(data_dir, "purifier.safetensors"))
    # The recipe keeps T frozen in eval mode; P (no batch norm) is differentiated in train mode.
    target.eval()
    for q in target.parameters():
        q.requires_grad_(False)
    purifier.train()
    inputs = {k: v for k, v in read_safetensors(os.path.join(data_dir, "inputs.safetensors")).items()}
    return meta, purifier, target, inputs


def apeg_main(args, data_dir):
    """APE-G: meta.json, generator.safetensors (exporter), discriminator.safetensors (toolkit layout),
    inputs.safetensors (natural, adversarial). Probe: both losses and gradients at the given weights
    (the generator's with the discriminator unchanged); serve: whole steps (D, then G twice, Adam)."""
    meta = json.load(open(os.path.join(data_dir, "meta.json")))
    g, d = meta["generator"], meta["discriminator"]
    gen = load_strict(ApegGenerator(g["inChannels"]), os.path.join(data_dir, "generator.safetensors"))
    disc = ApegDiscriminator(d["inChannels"], d["inputSize"]).load_toolkit_layout(read_safetensors(os.path.join(data_dir, "discriminator.safetensors")))
    gen.train()
    disc.train()
    inputs = read_safetensors(os.path.join(data_dir, "inputs.safetensors"))
    natural, adversarial = nchw(inputs["natural"]), nchw(inputs["adversarial"])
    if not args.serve and args.mode == "probe":
        # float32 (what the bench compares) and float64 (the yardstick for both float32 sides: the
        # GAN's gradients are ill-conditioned enough that two float32 evaluations differ visibly).
        out = {}
        for suffix, dtype in (("", torch.float32), ("64", torch.float64)):
            gen_t, disc_t = copy.deepcopy(gen).to(dtype), copy.deepcopy(disc).to(dtype)
            nat_t, adv_t = natural.to(dtype), adversarial.to(dtype)
            with torch.no_grad():
                fake = gen_t(adv_t)
            loss_d = apeg_discriminator_loss(disc_t(nat_t), disc_t(fake))
            loss_d.backward()
            out["gradsD" + suffix] = {n: q.grad.flatten().tolist() for n, q in disc_t.named_parameters()}
            for q in disc_t.parameters():
                q.requires_grad_(False)
            generated = gen_t(adv_t)
            loss_g, mse, adv = apeg_generator_loss(generated, nat_t, disc_t(generated))
            loss_g.backward()
            out["gradsG" + suffix] = {n: q.grad.flatten().tolist() for n, q in gen_t.named_parameters()}
            out["loss" + suffix] = {"lossD": loss_d.item(), "lossG": loss_g.item(), "mse": mse.item(), "adversarial": adv.item()}
        print(json.dumps(out))
        return
    a = meta["adam"]
    opt_g = torch.optim.Adam(gen.parameters(), lr=a["lr"], betas=(a["beta1"], a["beta2"]))
    opt_d = torch.optim.Adam(disc.parameters(), lr=a["lr"], betas=(a["beta1"], a["beta2"]))
    serve(lambda: apeg_step(gen, disc, opt_g, opt_d, natural, adversarial, meta["generatorSteps"]), "apeg")


def serve(step, name):
    for line in sys.stdin:
        workload = line.strip()
        if not workload:
            continue
        if workload != name:
            print(json.dumps({"error": f"unknown workload {workload!r} (expected {name})"}), flush=True)
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        print(json.dumps({"seconds": time.perf_counter() - t0, "cpuSeconds": time.process_time() - c0}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--mode", choices=["probe", "serve"], default="probe")
    ap.add_argument("--serve", action="store_true", help="same as --mode serve")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if json.load(open(os.path.join(args.data, "meta.json"))).get("method") == "apeg":
        apeg_main(args, args.data)
        return
    meta, purifier, target, inputs = load(args.data)
    cfg = meta["jatp"]
    feature = cfg["featureLayer"]
    x, y = nchw(inputs["x"]), inputs["y"].long()
    if args.mode == "probe" and not args.serve:
        total, bce, fsm, pixel = jatp_loss(purifier, target, feature, x, nchw(inputs["x_adv"]), y, cfg["alpha"], cfg["beta"])
        purifier.zero_grad(set_to_none=True)
        total.backward()
        grads = {name: q.grad.flatten().tolist() for name, q in purifier.named_parameters()}
        crafted = feature_attack(purifier, target, feature, x, cfg["eps"], cfg["attackSteps"], cfg["attackStepSize"], start=nchw(inputs["start"]))
        print(json.dumps({"loss": {"total": total.item(), "bce": bce.item(), "fsm": fsm.item(), "pixel": pixel.item()},
                          "grads": grads, "crafted": nhwc_list(crafted)}))
        return
    opt = torch.optim.SGD(purifier.parameters(), lr=meta["sgd"]["lr"], momentum=meta["sgd"]["momentum"], weight_decay=meta["sgd"]["weightDecay"])
    g = torch.Generator().manual_seed(0)
    serve(lambda: jatp_step(purifier, target, feature, opt, x, y, cfg, generator=g), "jatp")


if __name__ == "__main__":
    main()
