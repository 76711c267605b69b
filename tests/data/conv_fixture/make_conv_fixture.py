#!/usr/bin/env python3
"""Writes tests/data/conv_fixture/conv_fixture.safetensors: PyTorch's image ops and its
convolutional autoencoder on fixed inputs, for tests/conv_fixture.rs.

1. Ops, each at a ragged shape: nn.Conv2d, nn.ConvTranspose2d (with and without output padding),
   nn.MaxPool2d, nn.AvgPool2d, nn.Upsample (nearest; bilinear, align_corners=False). Per case
   `NAME.x` (input), `NAME.weight`/`NAME.bias` (PyTorch init, seeded), `NAME.y` (output),
   `NAME.dy` (a random cotangent), and the gradients of sum(dy * y): `NAME.dx`, `NAME.dweight`,
   `NAME.dbias`. The metadata entry "cases" (JSON) gives each case's module and options.
2. The reference CNN autoencoder of issue 15 (conv 3x3 1->8, conv 3x3 s2 8->16, conv 3x3 s2
   16->32, dense 3200->32, dense 32->3200, two 4x4 s2 transposed convs, a 3x3 conv; LeakyReLU
   0.01 after every layer but the output) on 3 random sparse 40x40 images. Its 224 k weights are
   not stored: both sides compute them from a formula (`weight_value` below; exact in f64, then
   rounded once to f32), so the file stays small. Stored: `ae.x`, `ae.z` (latent), `ae.y`
   (reconstruction), `ae.loss` (MSE), and every 61st element of each parameter's gradient of the
   MSE, `ae.grad.NAME` (NAME as hepae names its tensors).
3. nn.PReLU() (one slope) and nn.PReLU(17) (one per channel) as op cases `prelu_a`, `prelu_b`
   (slopes set to differ by channel), and the same autoencoder with nn.PReLU() after every
   layer but the output (toptag_torch.py's cnn-prelu): `prelu_ae.*` as `ae.*`, plus its slopes
   `prelu_ae.slope.NAME`; metadata "prelu_ae".

Run: python3 tests/data/conv_fixture/make_conv_fixture.py  (needs torch, safetensors)."""
import json
import math
import os

import torch
from safetensors.torch import save_file

torch.manual_seed(20261202)
torch.set_default_dtype(torch.float32)
out = {}
cases = {}


def put(name, t):
    out[name] = t.detach().contiguous().clone().to(torch.float32)


def op_case(name, module, in_shape, meta):
    x = torch.rand(*in_shape) * 2 - 1
    x.requires_grad_(True)
    y = module(x)
    dy = torch.rand(*y.shape) * 2 - 1
    (y * dy).sum().backward()
    put(f"{name}.x", x)
    put(f"{name}.y", y)
    put(f"{name}.dy", dy)
    put(f"{name}.dx", x.grad)
    for pname, p in module.named_parameters():
        put(f"{name}.{pname}", p)
        put(f"{name}.d{pname}", p.grad)
    cases[name] = dict(meta, input=list(in_shape))


nn = torch.nn
op_case("conv_a", nn.Conv2d(3, 5, 3, stride=2, padding=1), (2, 3, 7, 5), {"op": "conv2d", "out": 5, "kernel": 3, "stride": 2, "pad": 1})
op_case("conv_b", nn.Conv2d(2, 17, 4, stride=1, padding=0), (2, 2, 9, 6), {"op": "conv2d", "out": 17, "kernel": 4, "stride": 1, "pad": 0})
op_case("convt_a", nn.ConvTranspose2d(3, 5, 4, stride=2, padding=1), (2, 3, 5, 4), {"op": "conv_transpose2d", "out": 5, "kernel": 4, "stride": 2, "pad": 1, "out_pad": 0})
op_case("convt_b", nn.ConvTranspose2d(9, 2, 3, stride=2, padding=1, output_padding=1), (2, 9, 3, 6), {"op": "conv_transpose2d", "out": 2, "kernel": 3, "stride": 2, "pad": 1, "out_pad": 1})
op_case("maxpool_a", nn.MaxPool2d(2), (2, 3, 7, 9), {"op": "pool2d", "mode": "max", "kernel": 2, "stride": 2})
op_case("maxpool_b", nn.MaxPool2d(3, stride=2), (1, 17, 9, 7), {"op": "pool2d", "mode": "max", "kernel": 3, "stride": 2})
op_case("avgpool_a", nn.AvgPool2d(2), (2, 3, 7, 9), {"op": "pool2d", "mode": "avg", "kernel": 2, "stride": 2})
op_case("avgpool_b", nn.AvgPool2d(3, stride=2), (1, 5, 9, 8), {"op": "pool2d", "mode": "avg", "kernel": 3, "stride": 2})
op_case("nearest_a", nn.Upsample(scale_factor=2, mode="nearest"), (2, 3, 5, 3), {"op": "upsample", "mode": "nearest", "scale": 2})
op_case("bilinear_a", nn.Upsample(scale_factor=2, mode="bilinear"), (2, 3, 5, 3), {"op": "upsample", "mode": "bilinear", "scale": 2})
op_case("bilinear_b", nn.Upsample(scale_factor=3, mode="bilinear"), (1, 2, 4, 7), {"op": "upsample", "mode": "bilinear", "scale": 3})


# ---- the reference CNN autoencoder ---------------------------------------------------------
def weight_value(tensor_index, i, fan_in):
    """Element i of the tensor_index-th parameter tensor: a hashed integer in [0, 2000] mapped to
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) in f64 (the same operations in Rust give the same f64)."""
    q = ((i + 1) * 2654435761 + tensor_index * 40503) % 2001
    return (q / 1000.0 - 1.0) / math.sqrt(fan_in)


lr = lambda: nn.LeakyReLU(0.01)
enc = nn.Sequential(
    nn.Conv2d(1, 8, 3, 1, 1), lr(), nn.Conv2d(8, 16, 3, 2, 1), lr(), nn.Conv2d(16, 32, 3, 2, 1), lr(),
    nn.Flatten(), nn.Linear(3200, 32), lr())
dec = nn.Sequential(
    nn.Linear(32, 3200), lr(), nn.Unflatten(1, (32, 10, 10)),
    nn.ConvTranspose2d(32, 16, 4, 2, 1), lr(), nn.ConvTranspose2d(16, 8, 4, 2, 1), lr(), nn.Conv2d(8, 1, 3, 1, 1))
# hepae's names: op j of a net is `{net}.{2j}` (the encoder reads the image as features in its
# dense op, so it has no flatten; the decoder's reshape is op 1).
names = [("encoder.0", enc[0]), ("encoder.2", enc[2]), ("encoder.4", enc[4]), ("encoder.6", enc[7]),
         ("decoder.0", dec[0]), ("decoder.4", dec[3]), ("decoder.6", dec[5]), ("decoder.8", dec[7])]
params = []
for name, m in names:
    w = m.weight
    fan_in = w.shape[1] * (w[0, 0].numel() if w.dim() == 4 else 1)
    params += [(f"{name}.weight", w, fan_in), (f"{name}.bias", m.bias, fan_in)]
with torch.no_grad():
    for t, (name, p, fan_in) in enumerate(params):
        vals = [weight_value(t, i, fan_in) for i in range(p.numel())]
        p.copy_(torch.tensor(vals, dtype=torch.float64).to(torch.float32).reshape(p.shape))

N = 3
x = torch.rand(N, 1, 40, 40)
x = torch.where(torch.rand(N, 1, 40, 40) < 0.1, x, torch.zeros_like(x))  # sparse, like jet images
z = enc(x)
y = dec(z)
loss = nn.functional.mse_loss(y, x)
loss.backward()
put("ae.x", x)
put("ae.z", z)
put("ae.y", y)
put("ae.loss", loss.reshape(1))
for name, p, _ in params:
    put(f"ae.grad.{name}", p.grad.reshape(-1)[::61])
ae_meta = {"image": [1, 40, 40], "channels": [8, 16, 32], "kernel": 3, "latent": 32, "slope": 0.01,
           "rows": N, "grad_every": 61, "tensors": [n for n, _, _ in params]}


# ---- 3. PReLU (appended after everything above, so the earlier tensors are unchanged) ---------
def prelu(n, slopes):
    m = nn.PReLU(n)
    with torch.no_grad():
        m.weight.copy_(torch.tensor(slopes))
    return m


# Slopes that differ by channel (a negative one too), so a slope read from the wrong channel shows.
op_case("prelu_a", prelu(1, [0.3]), (2, 3, 5, 7), {"op": "prelu", "per_channel": False})
op_case("prelu_b", prelu(17, [-0.3 + 0.05 * c for c in range(17)]), (2, 17, 3, 5), {"op": "prelu", "per_channel": True})
# The same CNN autoencoder with nn.PReLU() after every layer but the output (toptag_torch.py's
# cnn-prelu, the reference): weights from the formula, in hepae's tensor order (a PReLU
# is op j of its net, `{net}.{2j}.weight`, after the op it follows); slopes 0.25 + 0.01·k for
# the k-th PReLU (stored: `prelu_ae.slope.NAME`), so a misplaced slope shows.
pr = nn.PReLU
enc = nn.Sequential(
    nn.Conv2d(1, 8, 3, 1, 1), pr(), nn.Conv2d(8, 16, 3, 2, 1), pr(), nn.Conv2d(16, 32, 3, 2, 1), pr(),
    nn.Flatten(), nn.Linear(3200, 32), pr())
dec = nn.Sequential(
    nn.Linear(32, 3200), pr(), nn.Unflatten(1, (32, 10, 10)),
    nn.ConvTranspose2d(32, 16, 4, 2, 1), pr(), nn.ConvTranspose2d(16, 8, 4, 2, 1), pr(), nn.Conv2d(8, 1, 3, 1, 1))
names = [("encoder.0", enc[0]), ("encoder.2", enc[1]), ("encoder.4", enc[2]), ("encoder.6", enc[3]),
         ("encoder.8", enc[4]), ("encoder.10", enc[5]), ("encoder.12", enc[7]), ("encoder.14", enc[8]),
         ("decoder.0", dec[0]), ("decoder.2", dec[1]), ("decoder.6", dec[3]), ("decoder.8", dec[4]),
         ("decoder.10", dec[5]), ("decoder.12", dec[6]), ("decoder.14", dec[7])]
params = []
for name, m in names:
    if isinstance(m, nn.PReLU):
        params.append((f"{name}.weight", m.weight, None))
        continue
    w = m.weight
    fan_in = w.shape[1] * (w[0, 0].numel() if w.dim() == 4 else 1)
    params += [(f"{name}.weight", w, fan_in), (f"{name}.bias", m.bias, fan_in)]
with torch.no_grad():
    k = 0
    for t, (name, p, fan_in) in enumerate(params):
        if fan_in is None:
            p.fill_(0.25 + 0.01 * k)
            put(f"prelu_ae.slope.{name}", p)
            k += 1
            continue
        vals = [weight_value(t, i, fan_in) for i in range(p.numel())]
        p.copy_(torch.tensor(vals, dtype=torch.float64).to(torch.float32).reshape(p.shape))
x = torch.rand(N, 1, 40, 40)
x = torch.where(torch.rand(N, 1, 40, 40) < 0.1, x, torch.zeros_like(x))
z = enc(x)
y = dec(z)
loss = nn.functional.mse_loss(y, x)
loss.backward()
put("prelu_ae.x", x)
put("prelu_ae.z", z)
put("prelu_ae.y", y)
put("prelu_ae.loss", loss.reshape(1))
for name, p, _ in params:
    put(f"prelu_ae.grad.{name}", p.grad.reshape(-1)[::61])
prelu_meta = dict(ae_meta, activation="prelu", tensors=[n for n, _, _ in params])

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conv_fixture.safetensors")
save_file(out, path, metadata={"cases": json.dumps(cases), "ae": json.dumps(ae_meta), "prelu_ae": json.dumps(prelu_meta)})
print(f"wrote {path}: {os.path.getsize(path)} bytes, {len(out)} tensors")
