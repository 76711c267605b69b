#!/usr/bin/env python3
"""Writes tests/data/torch_fixture.json: a small autoencoder in PyTorch (D=5, hidden 7, latent 3,
LeakyReLU 0.01 after every layer but the linear output), its weights, a batch, the output,
the MSE loss, every parameter's gradient, and the parameters after 3 Adam steps (lr 1e-2)
on the same batch. tests/torch_fixture.rs loads it and checks hepae against it.

Run: python3 tests/data/make_torch_fixture.py  (needs torch)."""
import json
import os

import torch

torch.manual_seed(20261123)
D, H, L, N = 5, 7, 3, 4
enc = torch.nn.Sequential(torch.nn.Linear(D, H), torch.nn.LeakyReLU(0.01), torch.nn.Linear(H, L), torch.nn.LeakyReLU(0.01))
dec = torch.nn.Sequential(torch.nn.Linear(L, H), torch.nn.LeakyReLU(0.01), torch.nn.Linear(H, D))
model = torch.nn.ModuleDict({"encoder": enc, "decoder": dec})
x = torch.rand(N, D)
state0 = {k: v.detach().clone() for k, v in model.state_dict().items()}


def fwd(x):
    return dec(enc(x))


out = fwd(x)
loss = torch.nn.functional.mse_loss(out, x)
loss.backward()
grads = {k: p.grad.detach().clone() for k, p in model.named_parameters()}
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
model.zero_grad()
for _ in range(3):
    opt.zero_grad()
    torch.nn.functional.mse_loss(fwd(x), x).backward()
    opt.step()


def flat(t):
    return [float(v) for v in t.reshape(-1)]


fixture = {
    "dims": {"input": D, "hidden": [H], "latent": L, "batch": N},
    "slope": 0.01,
    "lr": 1e-2,
    "x": flat(x),
    "params": {k: flat(v) for k, v in state0.items()},
    "output": flat(out.detach()),
    "loss": float(loss),
    "grads": {k: flat(v) for k, v in grads.items()},
    "params_after_3_adam_steps": {k: flat(v) for k, v in model.state_dict().items()},
    "torch_version": torch.__version__,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_fixture.json")
with open(path, "w") as f:
    json.dump(fixture, f, indent=1)
print("wrote", path)
