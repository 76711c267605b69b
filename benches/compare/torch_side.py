#!/usr/bin/env python3
"""The PyTorch side of benches/compare/run.sh, in one child process per call (so peak RSS is
per run): the reference autoencoder D-200-100-50-15-50-100-200-D (LeakyReLU 0.01, linear output,
nn.Linear default init), MSE, Adam(1e-3), batch 512, on the same NPY that hepae trains on.

Measures, at --threads T: training samples/s over one shuffled epoch (after warm-up steps; the
epoch includes randperm and the row gather, as hepae's does), encode µs/jet at batch 1 and
jets/s at batch 4096 (encoder = first 4 Linear+LeakyReLU, inference_mode), peak RSS.
Prints one JSON object. Usage: torch_side.py DATA.npy --threads T [--b1-events N]"""
import argparse
import json
import resource
import time

import numpy as np
import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--warmup-steps", type=int, default=200)
    p.add_argument("--b1-events", type=int, default=20000)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    x = np.load(a.data).astype(np.float32)
    lo, hi = x.min(0), x.max(0)
    x = (x - lo) / np.where(hi > lo, hi - lo, 1.0)
    x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    n, d = x.shape
    torch.manual_seed(a.seed)
    dims = [d, 200, 100, 50, 15, 50, 100, 200, d]
    layers = []
    for j in range(8):
        layers.append(torch.nn.Linear(dims[j], dims[j + 1]))
        if j < 7:
            layers.append(torch.nn.LeakyReLU(0.01))
    model = torch.nn.Sequential(*layers)
    enc = model[:8]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = torch.nn.MSELoss()

    def step(xb):
        opt.zero_grad(set_to_none=True)
        loss = lossf(model(xb), xb)
        loss.backward()
        opt.step()

    g = torch.Generator().manual_seed(a.seed + 1)
    perm = torch.randperm(n, generator=g)
    for i in range(min(a.warmup_steps, n // a.batch)):
        step(x[perm[i * a.batch:(i + 1) * a.batch]])
    t0 = time.perf_counter()
    perm = torch.randperm(n, generator=g)
    for i in range(0, n, a.batch):
        step(x[perm[i:i + a.batch]])
    train = n / (time.perf_counter() - t0)
    with torch.inference_mode():
        for i in range(0, n, 4096):
            enc(x[i:i + 4096])
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for i in range(0, n, 4096):
                enc(x[i:i + 4096])
            best = min(best, time.perf_counter() - t0)
        enc4096 = n / best
        m1 = min(a.b1_events, n)
        rows = [x[i:i + 1] for i in range(m1)]
        for r in rows[:500]:
            enc(r)
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for r in rows:
                enc(r)
            best = min(best, time.perf_counter() - t0)
        b1_us = best / m1 * 1e6
    print(json.dumps({"tool": "pytorch", "torch": torch.__version__, "threads": a.threads, "train_samples_per_s": train,
                      "encode_b4096_jets_per_s": enc4096, "encode_b1_us": b1_us,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


if __name__ == "__main__":
    main()
