"""PyTorch twins of the networks bench/attacks.ts attacks (dev-only; the toolkit never imports this).

Written from the toolkit's layer definitions (models/resnet18.ts, models/nrp.ts, the bench's small
CNN), in PyTorch's own conventions: NCHW tensors, OIHW kernels, [out, in] linear weights. The
toolkit exports its networks as PyTorch-named, PyTorch-layout safetensors (models/pytorch.ts), so
the ResNet-18 and the purifier load with a strict `load_state_dict`: a missing, extra or wrongly
shaped tensor is an error, not a silent default.

Safetensors files are read with struct + json + torch.frombuffer, so the `safetensors` package is
not needed (Debian ships python3-torch without it).
"""
import json
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

_DTYPES = {"F32": torch.float32, "I32": torch.int32, "I64": torch.int64}


def read_safetensors(path):
    """Tensors of a safetensors file by name (F32, I32 and I64 only, little-endian, as the toolkit writes)."""
    with open(path, "rb") as f:
        raw = f.read()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    base = 8 + header_len
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: tensor {name} has dtype {entry['dtype']}; this reader knows {sorted(_DTYPES)}")
        begin, end = entry["data_offsets"]
        dtype = _DTYPES[entry["dtype"]]
        if begin == end:  # torch.frombuffer refuses empty buffers
            out[name] = torch.zeros(entry["shape"], dtype=dtype)
            continue
        out[name] = torch.frombuffer(bytearray(raw[base + begin : base + end]), dtype=dtype).reshape(entry["shape"])
    return out


class SmallCnn(nn.Module):
    """conv 1->16 k4 s2 p1, conv 16->32 k4 s2 p1, dense 1568->100->10, ReLUs (the speed issue's CNN).

    Its weights come in the bench's own layout (tfjs: HWIO kernels, [in, out] dense), not as a
    PyTorch state dict, because that CNN is plain tf ops in the bench rather than a registry network.
    """

    def __init__(self, w):
        super().__init__()
        # tfjs filters are HWIO, dense kernels [in, out]; PyTorch wants OIHW and [out, in].
        self.w1, self.b1 = w["w1"].permute(3, 2, 0, 1).contiguous(), w["b1"]
        self.w2, self.b2 = w["w2"].permute(3, 2, 0, 1).contiguous(), w["b2"]
        self.w3, self.b3 = w["w3"].t().contiguous(), w["b3"]
        self.w4, self.b4 = w["w4"].t().contiguous(), w["b4"]

    def forward(self, x):
        h = F.relu(F.conv2d(x, self.w1, self.b1, stride=2, padding=1))
        h = F.relu(F.conv2d(h, self.w2, self.b2, stride=2, padding=1))
        # tfjs flattens NHWC (h, w, c order): do the same so the dense weights line up.
        h = F.relu(F.linear(h.permute(0, 2, 3, 1).reshape(h.shape[0], -1), self.w3, self.b3))
        return F.linear(h, self.w4, self.b4)


class BasicBlock(nn.Module):
    """Two 3x3 convs with BN and a projection shortcut when the shape changes (stride 2 or wider)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class ResNet18(nn.Module):
    """CIFAR ResNet-18 (TRADES/MART layout): 3x3 stem, stages w, 2w, 4w, 8w, global average, linear.

    PyTorch's padding=1 is symmetric also at stride 2; the toolkit pads explicitly there (tfjs
    'same' would pad only bottom/right), so both sides compute the same convolution.
    BatchNorm2d's defaults (eps 1e-5) match the toolkit's BN layers; in eval mode only the running
    statistics matter, so momentum conventions (keras 0.9 = PyTorch 0.1) play no role here.
    """

    def __init__(self, width=64, in_channels=3, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        cin = width
        for i, (planes, stride) in enumerate([(width, 1), (2 * width, 2), (4 * width, 2), (8 * width, 2)]):
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(cin, planes, stride), BasicBlock(planes, planes, 1)))
            cin = planes
        self.linear = nn.Linear(8 * width, num_classes)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.layer4(self.layer3(self.layer2(self.layer1(h))))
        return self.linear(h.mean(dim=(2, 3)))


class ResidualDenseBlock(nn.Module):
    """Five 3x3 convs, each seeing the block input and all earlier outputs; x + 0.2 * conv5(...)."""

    def __init__(self, nf, gc):
        super().__init__()
        for k in range(1, 5):
            setattr(self, f"conv{k}", nn.Conv2d(nf + (k - 1) * gc, gc, 3, 1, 1, bias=True))
        self.conv5 = nn.Conv2d(nf + 4 * gc, nf, 3, 1, 1, bias=True)

    def forward(self, x):
        parts = [x]
        for k in range(1, 5):
            # The toolkit concatenates along channels in the same order (input first), so the
            # input-channel axis of each kernel lines up without reordering.
            parts.append(F.leaky_relu(getattr(self, f"conv{k}")(torch.cat(parts, 1)), 0.2))
        return x + 0.2 * self.conv5(torch.cat(parts, 1))


class RRDB(nn.Module):
    def __init__(self, nf, gc):
        super().__init__()
        self.RDB1 = ResidualDenseBlock(nf, gc)
        self.RDB2 = ResidualDenseBlock(nf, gc)
        self.RDB3 = ResidualDenseBlock(nf, gc)

    def forward(self, x):
        return x + 0.2 * self.RDB3(self.RDB2(self.RDB1(x)))


class JatpPurifier(nn.Module):
    """NRP backbone as JATP uses it: conv_first, nb RRDBs, trunk_conv; no global skip, no upsampling,
    no activation on the output (the full model clamps to [0, 1] afterwards)."""

    def __init__(self, in_channels=3, nf=64, gc=32, nb=3):
        super().__init__()
        self.conv_first = nn.Conv2d(in_channels, nf, 3, 1, 1, bias=True)
        self.RRDB_trunk = nn.Sequential(*[RRDB(nf, gc) for _ in range(nb)])
        self.trunk_conv = nn.Conv2d(nf, in_channels, 3, 1, 1, bias=True)

    def forward(self, x):
        return self.trunk_conv(self.RRDB_trunk(self.conv_first(x)))


class FullModel(nn.Module):
    """F(x) = T(clip01(P(x))), the paper's full model (spec §2.8)."""

    def __init__(self, purifier, target):
        super().__init__()
        self.purifier = purifier
        self.target = target

    def forward(self, x):
        return self.target(self.purifier(x).clamp(0, 1))


def load_strict(module, path):
    """Loads a toolkit-exported state dict; strict, so a naming or shape mismatch fails loudly."""
    module.load_state_dict(read_safetensors(path), strict=True)
    return module


# ---------------------------------------------------------------------------------------------------
# Training steps (bench/train-steps.ts): the registry small CNN as the frozen JATP target, the JATP
# loss and the feature-space attack, written from models/small-cnn.ts, defenses/purifier-losses.ts,
# classifier-losses.ts and attacks/feature-attack.ts.


class RegistrySmallCnn(nn.Module):
    """The registry's small-cnn (models/small-cnn.ts): conv3x3 BN ReLU (w), conv3x3 s2 (2w),
    conv3x3 (2w), conv3x3 s2 (4w), each without bias and followed by BN and ReLU, global average,
    linear. Not the bench CNN above. `features` returns the logits and the named stage outputs."""

    def __init__(self, width=16, in_channels=3, num_classes=10):
        super().__init__()

        def cbr(cin, cout, stride):
            return nn.ModuleDict({"conv": nn.Conv2d(cin, cout, 3, stride, 1, bias=False), "bn": nn.BatchNorm2d(cout)})

        self.block1 = nn.ModuleList([cbr(in_channels, width, 1)])
        self.block2 = nn.ModuleList([cbr(width, 2 * width, 2), cbr(2 * width, 2 * width, 1)])
        self.block3 = nn.ModuleList([cbr(2 * width, 4 * width, 2)])
        self.linear = nn.Linear(4 * width, num_classes)

    @staticmethod
    def _run(blocks, h):
        for b in blocks:
            h = F.relu(b["bn"](b["conv"](h)))
        return h

    def features(self, x):
        b1 = self._run(self.block1, x)
        b2 = self._run(self.block2, b1)
        b3 = self._run(self.block3, b2)
        pool = b3.mean(dim=(2, 3))
        return self.linear(pool), {"block1": b1, "block2": b2, "block3": b3, "pool": pool}

    def forward(self, x):
        return self.features(x)[0]


BOOSTED_CE_OFFSET = 1.0001
BOOSTED_CE_TINY = 1e-12


def boosted_cross_entropy(logits, y):
    """MART's boosted CE, mean over the batch: CE - log(1.0001 - p[k*] + 1e-12), k* the strongest
    wrong class chosen without gradient (ties to the lowest index)."""
    probs = F.softmax(logits, dim=1)
    with torch.no_grad():
        masked = probs.clone()
        masked[torch.arange(len(y)), y] = -1.0
        k_star = masked.argmax(1)
    p_wrong = probs.gather(1, k_star[:, None]).squeeze(1)
    return (F.cross_entropy(logits, y, reduction="none") - torch.log(BOOSTED_CE_OFFSET - p_wrong + BOOSTED_CE_TINY)).mean()


def jatp_loss(purifier, target, feature, x, x_adv, y, alpha=5.0, beta=3.0):
    """L_JATP = mean_i[BCE_i + alpha FSM_i (1 - p_y(T(P(x_i))))] + beta MSE(P(x~), x); P's output goes to
    T unclamped; the natural branch is not detached. Returns (total, bce, weighted fsm, pixel)."""
    purified_adv = purifier(x_adv)
    purified_nat = purifier(x)
    logits_adv, feats_adv = target.features(purified_adv)
    logits_nat, feats_nat = target.features(purified_nat)
    bce = boosted_cross_entropy(logits_adv, y)
    fa, fn = feats_adv[feature], feats_nat[feature]
    fsm = (fa - fn).pow(2).reshape(len(y), -1).mean(1)
    p_true = F.softmax(logits_nat, dim=1).gather(1, y[:, None]).squeeze(1)
    weighted_fsm = (fsm * (1 - p_true)).mean()
    pixel = (purified_adv - x).pow(2).mean()
    return bce + alpha * weighted_fsm + beta * pixel, bce, weighted_fsm, pixel


def feature_attack(purifier, target, feature, x, eps, steps, step_size, start=None, generator=None):
    """Eq. 5: K sign-gradient steps maximising sum_i MSE_i(feat(T, P(x~)), feat(T, P(x))) in the L-inf
    ball (and [0, 1]); from `start` (projected) or a uniform random start. P and T are as the caller
    set them (the recipe has both in eval mode; P has no batch norm)."""
    with torch.no_grad():
        natural = target.features(purifier(x))[1][feature]
        if start is None:
            start = x + (torch.rand(x.shape, generator=generator) * 2 - 1) * eps
        xa = torch.min(torch.max(start, x - eps), x + eps).clamp(0, 1)
    for _ in range(steps):
        xa.requires_grad_(True)
        f = target.features(purifier(xa))[1][feature]
        loss = (f - natural).pow(2).reshape(len(x), -1).mean(1).sum()
        (grad,) = torch.autograd.grad(loss, xa)
        with torch.no_grad():
            xa = torch.min(torch.max(xa + step_size * grad.sign(), x - eps), x + eps).clamp(0, 1)
    return xa.detach()


def jatp_step(purifier, target, feature, optimizer, x, y, cfg, generator=None, start=None):
    """One JATP step (Algorithm 1): craft x~ against the current P, then minimise the loss on P only."""
    x_adv = feature_attack(purifier, target, feature, x, cfg["eps"], cfg["attackSteps"], cfg["attackStepSize"], start, generator)
    optimizer.zero_grad(set_to_none=True)
    total, bce, fsm, pixel = jatp_loss(purifier, target, feature, x, x_adv, y, cfg["alpha"], cfg["beta"])
    total.backward()
    optimizer.step()
    return total.item()


# APE-G (models/apeg.ts, defenses/apeg.ts, purifier-losses.ts): generator and discriminator, their
# losses and one training step (a discriminator update, then `generator_steps` generator updates).
APEG_SLOPE = 0.01


class ApegGenerator(nn.Module):
    """conv4x4 s2 p1 (inC->64) BN LReLU, conv4x4 s2 p1 (64->128) BN LReLU, convT4x4 s2 p1 (128->64) BN
    LReLU, convT4x4 s2 p1 (64->inC) tanh; names as the toolkit's exporter writes them."""

    def __init__(self, in_channels=3):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.LeakyReLU(APEG_SLOPE))
        self.conv2 = nn.Sequential(nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.LeakyReLU(APEG_SLOPE))
        self.deconv1 = nn.Sequential(nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.LeakyReLU(APEG_SLOPE))
        self.deconv2 = nn.Sequential(nn.ConvTranspose2d(64, in_channels, 4, 2, 1), nn.Tanh())

    def forward(self, x):
        return self.deconv2(self.deconv1(self.conv2(self.conv1(x))))


class ApegDiscriminator(nn.Module):
    """conv3x3 s2 p0 (inC->64) LReLU, conv3x3 s2 (64->128) BN LReLU, conv3x3 s2 (128->256) BN LReLU,
    flatten, linear(->1), sigmoid. The toolkit flattens NHWC: `load_toolkit_layout` reorders the
    linear weight from (h, w, c) to PyTorch's (c, h, w) order."""

    def __init__(self, in_channels=3, input_size=32):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, 64, 3, 2, 0), nn.LeakyReLU(APEG_SLOPE))
        self.conv2 = nn.Sequential(nn.Conv2d(64, 128, 3, 2, 0), nn.BatchNorm2d(128), nn.LeakyReLU(APEG_SLOPE))
        self.conv3 = nn.Sequential(nn.Conv2d(128, 256, 3, 2, 0), nn.BatchNorm2d(256), nn.LeakyReLU(APEG_SLOPE))
        s = input_size
        for _ in range(3):
            s = (s - 3) // 2 + 1
        self.side = s
        self.fc = nn.Sequential(nn.Linear(256 * s * s, 1), nn.Sigmoid())

    def forward(self, x):
        h = self.conv3(self.conv2(self.conv1(x)))
        return self.fc(h.flatten(1))

    def load_toolkit_layout(self, w):
        """Weights in the toolkit's own layout (HWIO kernels, [in, out] dense, NHWC flatten order)."""
        sd = {}
        for name, t in w.items():
            if t.dim() == 4:
                t = t.permute(3, 2, 0, 1)
            elif name == "fc.0.weight":
                s = self.side
                t = t.reshape(s, s, 256, 1).permute(3, 2, 0, 1).reshape(1, -1)
            sd[name] = t.contiguous()
        for layer in ("conv2.1", "conv3.1"):
            sd[f"{layer}.num_batches_tracked"] = torch.zeros((), dtype=torch.long)
        self.load_state_dict(sd, strict=True)
        return self


def apeg_discriminator_loss(d_real, d_fake):
    """BCE(D(x), 1) + BCE(D(G(x_adv)), 0) on probabilities (BCELoss clamps each log at -100)."""
    return F.binary_cross_entropy(d_real, torch.ones_like(d_real)) + F.binary_cross_entropy(d_fake, torch.zeros_like(d_fake))


def apeg_generator_loss(generated, natural, d_fake, w_mse=0.7, w_adv=0.3):
    mse = (generated - natural).pow(2).mean()
    adv = F.binary_cross_entropy(d_fake, torch.ones_like(d_fake))
    return w_mse * mse + w_adv * adv, mse, adv


def apeg_step(gen, disc, opt_g, opt_d, natural, adversarial, generator_steps=2):
    """One APE-G step as the toolkit's ApegRecipe: D on (x, G(x_adv) fixed), then G `generator_steps` times."""
    with torch.no_grad():
        fake = gen(adversarial)
    opt_d.zero_grad(set_to_none=True)
    apeg_discriminator_loss(disc(natural), disc(fake)).backward()
    opt_d.step()
    for _ in range(generator_steps):
        opt_g.zero_grad(set_to_none=True)
        generated = gen(adversarial)
        total, _, _ = apeg_generator_loss(generated, natural, disc(generated))
        total.backward()
        opt_g.step()
    return total.item()


# NRP (models/nrp.ts, defenses/nrp.ts, purifier-losses.ts): the purifier is JatpPurifier (the same
# RRDB network under the arch name 'nrp'); its relativistic discriminator, the losses, one training
# step (a purifier update, then a discriminator update on the detached purified batch) and SSP, the
# self-supervised perturbation (feature_attack with the identity as purifier: Φ = the target's features).
NRP_SLOPE = 0.2


class NrpDiscriminator(nn.Module):
    """conv0_0 3x3 (bias) LReLU, then four stages [conv3x3 s1 + BN + LReLU, conv4x4 s2 p1 + BN + LReLU]
    (conv0_1 only in the first), widths nf, 2nf, 4nf, 4nf, flatten, linear1 (->100) LReLU, linear2 (->1):
    one raw logit per image. The toolkit flattens NHWC: `load_toolkit_layout` reorders linear1's inputs."""

    def __init__(self, in_channels=3, num_feat=32, input_size=32):
        super().__init__()
        nf = num_feat

        def conv(cin, cout, k, bias=False):
            return nn.Conv2d(cin, cout, k, 2 if k == 4 else 1, 1, bias=bias)

        self.conv0_0 = conv(in_channels, nf, 3, bias=True)
        self.conv0_1, self.bn0_1 = conv(nf, nf, 4), nn.BatchNorm2d(nf)
        for s, (cin, cout) in enumerate([(nf, 2 * nf), (2 * nf, 4 * nf), (4 * nf, 4 * nf)], start=1):
            setattr(self, f"conv{s}_0", conv(cin, cout, 3))
            setattr(self, f"bn{s}_0", nn.BatchNorm2d(cout))
            setattr(self, f"conv{s}_1", conv(cout, cout, 4))
            setattr(self, f"bn{s}_1", nn.BatchNorm2d(cout))
        side = input_size
        for _ in range(4):
            side = (side + 2 - 4) // 2 + 1
        self.side, self.channels = side, 4 * nf
        self.linear1 = nn.Linear(4 * nf * side * side, 100)
        self.linear2 = nn.Linear(100, 1)

    def forward(self, x):
        h = F.leaky_relu(self.conv0_0(x), NRP_SLOPE)
        h = F.leaky_relu(self.bn0_1(self.conv0_1(h)), NRP_SLOPE)
        for s in range(1, 4):
            for k in range(2):
                h = F.leaky_relu(getattr(self, f"bn{s}_{k}")(getattr(self, f"conv{s}_{k}")(h)), NRP_SLOPE)
        return self.linear2(F.leaky_relu(self.linear1(h.flatten(1)), NRP_SLOPE))

    def load_toolkit_layout(self, w):
        """Weights in the toolkit's own layout (HWIO kernels, [in, out] dense, NHWC flatten order)."""
        sd = {}
        for name, t in w.items():
            if t.dim() == 4:
                t = t.permute(3, 2, 0, 1)
            elif name == "linear1.weight":
                t = t.reshape(self.side, self.side, self.channels, -1).permute(3, 2, 0, 1).reshape(t.shape[1], -1)
            elif t.dim() == 2:
                t = t.t()
            sd[name] = t.contiguous()
        for name, m in self.named_modules():
            if isinstance(m, nn.BatchNorm2d):
                sd[f"{name}.num_batches_tracked"] = torch.zeros((), dtype=torch.long)
        self.load_state_dict(sd, strict=True)
        return self


def _bce_logits(z, label):
    return F.binary_cross_entropy_with_logits(z, torch.full_like(z, float(label)))


def nrp_discriminator_loss(d_real, d_fake):
    """Relativistic average loss on logits: [BCE(D(x) - mean D(x^), 1) + BCE(D(x^) - mean D(x), 0)] / 2."""
    return (_bce_logits(d_real - d_fake.mean(), 1) + _bce_logits(d_fake - d_real.mean(), 0)) / 2


def nrp_generator_loss(purifier, disc, target, feature, natural, adversarial, phi_natural, w):
    """w["adversarial"] L_RaGAN(G) + w["pixel"] MSE(P(x'), x) + w["feature"] MSE(Φ(P(x')), Φ(x)), D in the
    caller's mode. Returns (total, adversarial, pixel, feature)."""
    purified = purifier(adversarial)
    d_real, d_fake = disc(natural), disc(purified)
    adv = (_bce_logits(d_real - d_fake.mean(), 0) + _bce_logits(d_fake - d_real.mean(), 1)) / 2
    pixel = (purified - natural).pow(2).mean()
    feat = (target.features(purified)[1][feature] - phi_natural).pow(2).mean()
    return w["adversarial"] * adv + w["pixel"] * pixel + w["feature"] * feat, adv, pixel, feat


def ssp(target, feature, x, eps, steps, step_size, start=None, generator=None):
    """Self-supervised perturbation: K sign steps maximising MSE(Φ(x'), Φ(x)) in the L-inf ball, Φ = T's features."""
    return feature_attack(nn.Identity(), target, feature, x, eps, steps, step_size, start, generator)


def nrp_step(purifier, disc, target, feature, opt_g, opt_d, natural, adversarial, w):
    """One NRP step as the toolkit's NrpRecipe: P on its loss (D's parameters not differentiated), then D
    on the relativistic loss with P(x') of the updated P, detached."""
    with torch.no_grad():
        phi_natural = target.features(natural)[1][feature]
    for q in disc.parameters():
        q.requires_grad_(False)
    opt_g.zero_grad(set_to_none=True)
    total = nrp_generator_loss(purifier, disc, target, feature, natural, adversarial, phi_natural, w)[0]
    total.backward()
    opt_g.step()
    for q in disc.parameters():
        q.requires_grad_(True)
    with torch.no_grad():
        purified = purifier(adversarial)
    opt_d.zero_grad(set_to_none=True)
    nrp_discriminator_loss(disc(natural), disc(purified)).backward()
    opt_d.step()
    return total.item()
