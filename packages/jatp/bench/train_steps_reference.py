"""PyTorch side of `npm run bench:train-steps` (dev-only, not a dependency of the toolkit).

Rebuilds the JATP training step that bench/train-steps.ts runs, from the files it wrote to --data:
meta.json (architectures, the preset's attack and loss settings, SGD settings), purifier.safetensors
and target.safetensors (the toolkit's PyTorch exporter: PyTorch names and layouts, loaded strictly)
and inputs.safetensors (x, y, a common attack start, and the toolkit's x~ for the loss check; NHWC).

  --mode probe   one JSON line: the loss terms at (x, x~), the gradient of the loss for every purifier
                 parameter (PyTorch name, PyTorch layout, flattened), and x~ crafted by the feature
                 attack from the common start (NHWC, flattened), for the bench's port check.
With "method": "apeg" in meta.json it runs APE-G's step instead (apeg_main), with "method": "nrp"
NRP's step and its SSP examples (nrp_main).

  --mode serve   reads one workload per line on stdin ("jatp" / "apeg" / "nrp" / "nrp-ssp") and runs one whole training step (random
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
from reference_models import (ApegDiscriminator, ApegGenerator, JatpPurifier, NrpDiscriminator, RegistrySmallCnn,  # noqa: E402
                              apeg_discriminator_loss, apeg_generator_loss, apeg_step, feature_attack, jatp_loss, jatp_step,
                              load_strict, nrp_discriminator_loss, nrp_generator_loss, nrp_step, read_safetensors, ssp)


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
    serve({"apeg": lambda: apeg_step(gen, disc, opt_g, opt_d, natural, adversarial, meta["generatorSteps"])})


def nrp_main(args, data_dir):
    """NRP: meta.json, purifier.safetensors and target.safetensors (exporter), discriminator.safetensors
    (toolkit layout), inputs.safetensors (natural, adversarial = the toolkit's SSP examples, ssp_start).
    Probe: the loss terms and both networks' gradients at the given weights (float32 and float64; the
    discriminator's on P(x') of the same weights), and SSP from the common start; serve: whole steps
    ("nrp") and the SSP crafting of the batch from a random start ("nrp-ssp")."""
    meta = json.load(open(os.path.join(data_dir, "meta.json")))
    t, p, d = meta["target"], meta["purifier"], meta["discriminator"]
    if meta["targetArch"] != "small-cnn":
        raise ValueError(f"meta.json: this reference has a small-cnn target, not {meta['targetArch']}")
    target = load_strict(RegistrySmallCnn(t["width"], t["inChannels"], t["numClasses"]), os.path.join(data_dir, "target.safetensors"))
    purifier = load_strict(JatpPurifier(p["inChannels"], p["nf"], p["gc"], p["nb"]), os.path.join(data_dir, "purifier.safetensors"))
    disc = NrpDiscriminator(d["inChannels"], d["numFeat"], d["inputSize"]).load_toolkit_layout(read_safetensors(os.path.join(data_dir, "discriminator.safetensors")))
    # The recipe keeps T frozen in eval mode (Φ); P (no batch norm) and D are trained in train mode.
    target.eval()
    for q in target.parameters():
        q.requires_grad_(False)
    purifier.train()
    disc.train()
    inputs = read_safetensors(os.path.join(data_dir, "inputs.safetensors"))
    natural, adversarial = nchw(inputs["natural"]), nchw(inputs["adversarial"])
    feature, w, o = meta["featureLayer"], meta["weights"], meta["ssp"]
    if not args.serve and args.mode == "probe":
        out = {}
        for suffix, dtype in (("", torch.float32), ("64", torch.float64)):
            pur_t, disc_t, tgt_t = copy.deepcopy(purifier).to(dtype), copy.deepcopy(disc).to(dtype), copy.deepcopy(target).to(dtype)
            nat_t, adv_t = natural.to(dtype), adversarial.to(dtype)
            with torch.no_grad():
                phi_natural = tgt_t.features(nat_t)[1][feature]
            for q in disc_t.parameters():
                q.requires_grad_(False)
            total, adv, pixel, feat = nrp_generator_loss(pur_t, disc_t, tgt_t, feature, nat_t, adv_t, phi_natural, w)
            total.backward()
            out["gradsG" + suffix] = {n: q.grad.flatten().tolist() for n, q in pur_t.named_parameters()}
            for q in disc_t.parameters():
                q.requires_grad_(True)
            with torch.no_grad():
                purified = pur_t(adv_t)
            loss_d = nrp_discriminator_loss(disc_t(nat_t), disc_t(purified))
            loss_d.backward()
            out["gradsD" + suffix] = {n: q.grad.flatten().tolist() for n, q in disc_t.named_parameters()}
            out["loss" + suffix] = {"lossG": total.item(), "lossGAdv": adv.item(), "pixel": pixel.item(), "feature": feat.item(), "lossD": loss_d.item()}
        out["crafted"] = nhwc_list(ssp(target, feature, natural, o["eps"], o["steps"], o["stepSize"], start=nchw(inputs["ssp_start"])))
        print(json.dumps(out))
        return

    def adam(params, a):
        return torch.optim.Adam(params, lr=a["lr"], betas=(a["beta1"], a["beta2"]), eps=a["epsilon"], weight_decay=a["weightDecay"])

    opt_g, opt_d = adam(purifier.parameters(), meta["adam"]["generator"]), adam(disc.parameters(), meta["adam"]["discriminator"])
    g = torch.Generator().manual_seed(0)
    serve({
        "nrp": lambda: nrp_step(purifier, disc, target, feature, opt_g, opt_d, natural, adversarial, w),
        "nrp-ssp": lambda: ssp(target, feature, natural, o["eps"], o["steps"], o["stepSize"], generator=g),
    })


def serve(steps):
    """One timed step per stdin line naming a workload of `steps`."""
    for line in sys.stdin:
        workload = line.strip()
        if not workload:
            continue
        if workload not in steps:
            print(json.dumps({"error": f"unknown workload {workload!r} (expected one of {sorted(steps)})"}), flush=True)
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        steps[workload]()
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
    method = json.load(open(os.path.join(args.data, "meta.json"))).get("method")
    if method in ("apeg", "nrp"):
        (apeg_main if method == "apeg" else nrp_main)(args, args.data)
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
    serve({"jatp": lambda: jatp_step(purifier, target, feature, opt, x, y, cfg, generator=g)})


if __name__ == "__main__":
    main()
