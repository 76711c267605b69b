#!/usr/bin/env python3
"""PyTorch's encoder throughput at one batch size, the peer of `hepae bench --batch 4096` in
benches/compare/precision_batch.sh: the reference encoder D-200-100-50-15 (Linear + LeakyReLU 0.01,
nn.Linear default init) on the same NPY, min-max scaled as torch_side.py does, in f32 and as
PyTorch's own int8 (torch.ao.quantization.quantize_dynamic: int8 weights, activations quantised
per batch, the x86/fbgemm engine), `inference_mode`, best of --passes passes over the rows.
The ISA PyTorch uses is set by the caller's environment (ONEDNN_MAX_CPU_ISA, ATEN_CPU_CAPABILITY).
Prints one JSON object. Usage: torch_encode.py DATA.npy [--threads T] [--batch B] [--passes P]"""
import argparse
import json
import time

import numpy as np
import torch


def best_rate(enc, x, batch, passes):
    """Rows per second of `enc` over x in batches, best of `passes` passes (one warm-up first)."""
    n = x.shape[0]
    with torch.inference_mode():
        for i in range(0, n, batch):
            enc(x[i:i + batch])
        best = float("inf")
        for _ in range(passes):
            t0 = time.perf_counter()
            for i in range(0, n, batch):
                enc(x[i:i + batch])
            best = min(best, time.perf_counter() - t0)
    return n / best


def main():
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--passes", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    x = np.load(a.data).astype(np.float32)
    lo, hi = x.min(0), x.max(0)
    x = torch.from_numpy(np.ascontiguousarray((x - lo) / np.where(hi > lo, hi - lo, 1.0), dtype=np.float32))
    torch.manual_seed(a.seed)
    dims = [x.shape[1], 200, 100, 50, 15]
    layers = []
    for j in range(4):
        layers += [torch.nn.Linear(dims[j], dims[j + 1]), torch.nn.LeakyReLU(0.01)]
    enc = torch.nn.Sequential(*layers).eval()
    out = {"tool": "pytorch", "torch": torch.__version__, "threads": a.threads, "batch": a.batch,
           "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    out["f32_jets_per_s"] = best_rate(enc, x, a.batch, a.passes)
    torch.backends.quantized.engine = "x86"
    q = torch.ao.quantization.quantize_dynamic(enc, {torch.nn.Linear}, dtype=torch.qint8)
    out["int8_dynamic_jets_per_s"] = best_rate(q, x, a.batch, a.passes)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
