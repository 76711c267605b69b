#!/usr/bin/env python3
"""Parity of a hepae model with PyTorch: load MODEL.safetensors with safetensors.torch, build
the same nn.Sequential, run DATA through it, and compare with `hepae reconstruct` on the same
rows.

Usage: python3 benches/compare/torch_parity.py MODEL DATA.npy [--hepae target/release/hepae]

The check is hepae (float32) against PyTorch in float32, as a user would run it; both are
also compared with PyTorch in float64 (the exact reference) to show that hepae's float32
error is no larger than PyTorch's own. Reports the maximum relative difference over every value, where a value's difference is taken relative
to max(|PyTorch value|, sigma of its column): plain |a-b|/|b| is not meaningful for columns
that cross zero (eta, phi) or are exactly zero in most rows (many energy fractions), where a
reconstruction of 1e-7 against 0 is perfect physics but an "infinite" relative error. It
also reports the plain relative difference over values with |b| >= sigma, and the maximum
absolute difference in model (normalised) space. Exit code 1 if the relative figure
exceeds --tol (default 1e-5)."""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hepae_model  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("data")
    p.add_argument("--hepae", default="target/release/hepae")
    p.add_argument("--tol", type=float, default=1e-5)
    a = p.parse_args()

    meta, enc, dec = hepae_model.load(a.model)
    x = np.load(a.data).astype(np.float64)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "recon.npy")
        subprocess.run([a.hepae, "reconstruct", a.model, a.data, "-o", out], check=True, capture_output=True)
        ours = np.load(out).astype(np.float64)

    torch.set_num_threads(1)
    xn = hepae_model.normalize(meta, x)

    def run(dtype):
        e, d = enc.to(dtype), dec.to(dtype)
        with torch.inference_mode():
            return d(e(torch.from_numpy(xn.astype(np.float32)).to(dtype))).double().numpy()

    yn32, yn64 = run(torch.float32), run(torch.float64)
    ref32, ref64 = hepae_model.denormalize(meta, yn32), hepae_model.denormalize(meta, yn64)
    sigma = np.maximum(x.std(axis=0), 1e-30)

    def rel(a, b):
        r = np.abs(a - b) / np.maximum(np.abs(b), sigma)
        i, j = np.unravel_index(np.argmax(r), r.shape)
        return float(r.max()), i, j

    max_rel, i, j = rel(ours, ref32)
    print(f"model {a.model}: {meta['layer_dims']}  rows {x.shape[0]}  torch {torch.__version__}")
    print(f"hepae vs PyTorch float32: max relative difference {max_rel:.3e} (at row {i + 1}, column "
          f"{meta['columns'][j]}); max abs difference in normalised space "
          f"{float(np.abs(hepae_model.normalize(meta, ours) - yn32).max()):.3e}")
    print(f"against float64 PyTorch: hepae {rel(ours, ref64)[0]:.3e}, PyTorch float32 {rel(ref32, ref64)[0]:.3e}")
    ok = max_rel <= a.tol
    print("PASS" if ok else "FAIL", f"(tolerance {a.tol:g})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
