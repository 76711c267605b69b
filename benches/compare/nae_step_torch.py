#!/usr/bin/env python3
"""One normalized-autoencoder (NAE) training step in PyTorch on the CPU, timed, for issue 16's cost
comparison with hepae's `--model nae` (same run, same machine). Prints one JSON object.

The recipe is the reference's (heidelberg-hepml/normalized-autoencoders, configs/jet_nae; every knob
and its source file is in benches/compare/nae_reference.md), written here from that description on
the issue's CNN autoencoder (toptag_torch.py's `cnn-prelu` or `cnn-leaky`; no spectral norm, linear
output: the reference's own net differs, see nae_reference.md) or its MLP (`mlp`, 1600-200-100-50-
--latent, the dense backbone hepae's top-vs-QCD NAE runs use). One step is:
  1. z₀: with probability replay_ratio from the replay buffer of latent points (uniform, with
     replacement), else N(0, 1); projected to the unit sphere (spherical latent).
  2. latent Langevin chain, z_step steps, on H(z) = E(D(z)):
       z ← z − z_stepsize·clip(∇H)/T + z_noise·ε, then z ← z/‖z‖; end points pushed to the buffer.
  3. x₀ = D(z) (clamped to x_bound when given).
  4. data-space Langevin chain, x_step steps: x ← x − x_stepsize·clip(∇ₓE)/T + σᵢ·ε with
     σᵢ = x_noise/max(1, i), i = 0, 1, … (the reference's x_noise_anneal: σ, σ, σ/2, σ/3, …), clamped to x_bound when given.
  5. loss = mean E(x₊) − mean E(x₋) + γ·mean E(x₋)² + l2·‖θ‖² (the reference NAE class: no 1/T,
     γ on the negative energies only; --gamma-both squares both, as the issue's text writes it),
     one Adam step (lr nae_lr).
E(x) = per-pixel MSE of the reconstruction through the spherical latent, per image. ∇ clipping as
the reference's clip_vector_norm: norm over the last axis (per 40-pixel row for images; --clip-image
clips per whole image instead). Metropolis–Hastings off by default (as the reference runs, see
nae_reference.md); --mh / --mh-z switch it on with the reference's acceptance rule.

Timing: --warmup steps (they also fill the replay buffer), then --steps timed steps, per thread
count in a child process; the parts (latent chain, data chain, loss + backward + Adam) are timed
separately, and one plain AE step at the same batch for scale.
Usage: nae_step_torch.py [--arch cnn-prelu] [--batch 128] [--threads 1,2] [--data /work/wt/toptag_data]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from toptag_torch import build, load  # noqa: E402  (same directory)


class NaeStep:
    def __init__(self, enc, dec, a, gen):
        self.enc, self.dec, self.a, self.g = enc, dec, a, gen
        self.params = list(enc.parameters()) + list(dec.parameters())
        self.opt = torch.optim.Adam(self.params, lr=a.nae_lr)
        self.buffer = None  # latent points, newest last, at most buffer_size
        self.times = {"z_chain": 0.0, "x_chain": 0.0, "update": 0.0}

    def encode(self, x):
        z = self.enc(x)
        return z / z.norm(dim=1, keepdim=True)  # spherical latent

    def energy(self, x):
        return ((x - self.dec(self.encode(x))) ** 2).flatten(1).mean(1)

    def clip(self, g, max_norm):
        if self.a.clip_image and g.dim() > 2:
            n = g.flatten(1).norm(dim=1).view(-1, *([1] * (g.dim() - 1)))
        else:
            n = g.norm(dim=-1, keepdim=True)  # the reference: last axis only
        return g * torch.where(n > max_norm, max_norm / n, torch.ones_like(n))

    def langevin(self, x, energy, steps, stepsize, noise, anneal, clip, bound, spherical, mh):
        a, T = self.a, self.a.temperature
        x = x.detach().requires_grad_(True)
        e = energy(x)
        g = self.clip(torch.autograd.grad(e.sum(), x)[0], clip)
        e = e.detach()
        acc = []
        for i in range(steps):
            sigma = noise / max(1, i) if anneal else noise  # the reference: σ, σ, σ/2, σ/3, …
            eps = torch.randn(x.shape, generator=self.g) * sigma
            y = x.detach() - stepsize * g / T + eps
            if bound is not None:
                y = y.clamp(bound[0], bound[1])
            if spherical:
                y = y / y.norm(dim=1, keepdim=True)
            y.requires_grad_(True)
            ey = energy(y)
            gy = self.clip(torch.autograd.grad(ey.sum(), y)[0], clip)
            if mh:
                y2x = ((g + gy) * stepsize - eps).flatten(1).pow(2).sum(1)
                x2y = eps.flatten(1).pow(2).sum(1)
                p = torch.exp((-(y2x - x2y) / (4 * stepsize) - ey + e) / T)
                rej = torch.rand(p.shape, generator=self.g) > p
                acc.append(float((~rej).float().mean()))
                keep = rej.view(-1, *([1] * (y.dim() - 1)))
                y = torch.where(keep, x, y).detach().requires_grad_(True)
                ey, gy = torch.where(rej, e, ey), torch.where(keep, g, gy)
            x, e, g = y, ey.detach(), gy
        return x.detach(), acc

    def initial_z(self, n, zdim):
        a = self.a
        n_rep = 0
        if self.buffer is not None and len(self.buffer):
            n_rep = int((torch.rand(n, generator=self.g) < a.replay_ratio).sum())
        parts = []
        if n_rep:
            parts.append(self.buffer[torch.randint(len(self.buffer), (n_rep,), generator=self.g)])
        parts.append(torch.randn(n - n_rep, zdim, generator=self.g))
        z = torch.cat(parts)
        return z / z.norm(dim=1, keepdim=True)

    def step(self, xpos):
        a = self.a
        t0 = time.perf_counter()
        with torch.no_grad():
            zdim = self.encode(xpos[:1]).shape[1]
        z0 = self.initial_z(len(xpos), zdim)
        z, acc_z = self.langevin(z0, lambda z: self.energy(self.dec(z)), a.z_step, a.z_stepsize, a.z_noise, False,
                                 a.z_clip, None, True, a.mh_z)
        self.buffer = z if self.buffer is None else torch.cat([self.buffer, z])[-a.buffer_size:]
        t1 = time.perf_counter()
        with torch.no_grad():
            x0 = self.dec(z)
            if a.x_bound is not None:
                x0 = x0.clamp(a.x_bound[0], a.x_bound[1])
        xneg, acc_x = self.langevin(x0, self.energy, a.x_step, a.x_stepsize, a.x_noise, True, a.x_clip, a.x_bound,
                                    False, a.mh)
        t2 = time.perf_counter()
        self.opt.zero_grad(set_to_none=True)
        neg, pos = self.energy(xneg), self.energy(xpos)
        loss = pos.mean() - neg.mean() + a.gamma * ((neg ** 2).mean() + ((pos ** 2).mean() if a.gamma_both else 0.0))
        loss = loss + a.l2 * sum((p ** 2).sum() for p in self.params)
        loss.backward()
        self.opt.step()
        t3 = time.perf_counter()
        for k, dt in (("z_chain", t1 - t0), ("x_chain", t2 - t1), ("update", t3 - t2)):
            self.times[k] += dt
        return {"pos_e": float(pos.mean()), "neg_e": float(neg.mean()), "loss": float(loss.detach()),
                "mh_accept_z": float(np.mean(acc_z)) if acc_z else None, "mh_accept_x": float(np.mean(acc_x)) if acc_x else None}


def child(a, threads):
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed + 1)
    enc, dec = build(a.arch, a.latent)
    x = torch.from_numpy(np.array(load(a.data, "qcd_train.npy")[:a.batch * (a.warmup + a.steps)], dtype=np.float32))
    nae = NaeStep(enc, dec, a, gen)
    batches = [x[i * a.batch:(i + 1) * a.batch] for i in range(a.warmup + a.steps)]
    for b in batches[:a.warmup]:
        nae.step(b)
    nae.times = {k: 0.0 for k in nae.times}
    walls, last = [], None
    for b in batches[a.warmup:]:
        t0 = time.perf_counter()
        last = nae.step(b)
        walls.append(time.perf_counter() - t0)
    # one plain AE step at the same batch, for scale
    model, opt = nn.Sequential(enc, dec), torch.optim.Adam(nae.params, lr=1e-3)

    def ae_step():
        opt.zero_grad(set_to_none=True)
        ((model(batches[0]) - batches[0]) ** 2).mean().backward()
        opt.step()

    for _ in range(3):
        ae_step()
    t_ae = min(timeit(ae_step) for _ in range(5))
    n = len(walls)
    return {"threads": threads, "nae_step_s_median": float(np.median(walls)), "nae_step_s_all": walls,
            "parts_s_mean": {k: v / n for k, v in nae.times.items()}, "ae_step_s": t_ae,
            "nae_over_ae": float(np.median(walls)) / t_ae, "last_step": last, "buffer_size_now": len(nae.buffer)}


def timeit(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/work/wt/toptag_data")
    ap.add_argument("--arch", default="cnn-prelu", choices=["cnn-prelu", "cnn-leaky", "mlp"])
    ap.add_argument("--latent", type=int, default=None, help="latent width (default: the arch's, 32 cnn / 15 mlp)")
    ap.add_argument("--batch", type=int, default=128, help="reference: 2048")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    # the reference's knobs (configs/jet_nae/jet_test.yml; see nae_reference.md)
    ap.add_argument("--z-step", type=int, default=30)
    ap.add_argument("--z-stepsize", type=float, default=100.0)
    ap.add_argument("--z-noise", type=float, default=0.01)
    ap.add_argument("--z-clip", type=float, default=0.01)
    ap.add_argument("--x-step", type=int, default=30)
    ap.add_argument("--x-stepsize", type=float, default=50.0)
    ap.add_argument("--x-noise", type=float, default=1e-4)
    ap.add_argument("--x-clip", type=float, default=0.01)
    ap.add_argument("--x-bound", type=float, nargs=2, default=None, help="e.g. 0 1 (pretrained configs); default none")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--gamma", type=float, default=1.0)
    ap.add_argument("--gamma-both", action="store_true", help="γ·(E₊² + E₋²) instead of the reference's γ·E₋²")
    ap.add_argument("--l2", type=float, default=1e-8)
    ap.add_argument("--buffer-size", type=int, default=10000)
    ap.add_argument("--replay-ratio", type=float, default=0.95)
    ap.add_argument("--nae-lr", type=float, default=1e-5)
    ap.add_argument("--mh", action="store_true")
    ap.add_argument("--mh-z", action="store_true")
    ap.add_argument("--clip-image", action="store_true", help="clip ∇ₓE per image, not per 40-pixel row")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--json")
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a, a.child)))
        return
    if a.json and not os.access(os.path.dirname(os.path.abspath(a.json)), os.W_OK):
        raise SystemExit(f"--json {a.json}: directory not writable")
    runs = []
    argv = [s for s in sys.argv[1:]]
    for t in [int(s) for s in a.threads.split(",")]:
        p = subprocess.run([sys.executable, os.path.abspath(__file__), *argv, "--child", str(t)], capture_output=True, text=True)
        if p.returncode != 0:
            sys.stderr.write(p.stderr)
            raise SystemExit(f"child at {t} thread(s) failed")
        runs.append(json.loads(p.stdout))
    knobs = {k: v for k, v in vars(a).items() if k not in ("child", "json", "threads", "data")}
    out = {"tool": "pytorch", "torch": torch.__version__, "what": "one NAE step (latent + data Langevin chains, loss, Adam)",
           "knobs": knobs, "runs": runs}
    print(json.dumps(out, indent=1))
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            json.dump(out, f, indent=1)
        os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()
