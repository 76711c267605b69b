#!/usr/bin/env python3
"""Peak resident memory of `hepae compress` and `hepae decompress` on a large table: the sample
tiled to --rows rows (default 10 M) in a scratch directory outside the repository, each step
under `/usr/bin/time -v`, the round trip verified value by value under compress_peers.py's
bound rule, and every scratch file deleted afterwards (also on failure).

Disk: the tiled NPY and the decompressed one, rows × columns × 4 B each (10 M × 21 ≈ 0.84 GB
twice); the archive is small. Tiling repeats the rows, so the ratio says nothing; RSS and
wall time are what this measures. The input is memory-mapped and released block by block, so
its pages count toward RSS only while a block is in use.

Usage:
  python compress_rss.py SAMPLE.npy --hepae target/release/hepae [--rows 10000000]
      [--bound 1e-3] [--scratch /tmp] [--model M]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compress_peers as cp  # noqa: E402


def timed_run(cmd):
    """Runs cmd under /usr/bin/time -v: (peak RSS in MB, wall s)."""
    t0 = time.time()
    r = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    wall = time.time() - t0
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    return kb / 1024, wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sample")
    ap.add_argument("--hepae", required=True)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--bound", type=float, default=1e-3)
    ap.add_argument("--scratch", default=tempfile.gettempdir())
    ap.add_argument("--model", default=None)
    ap.add_argument("--chunk", type=int, default=1_000_000, help="rows per verification chunk")
    args = ap.parse_args()
    sample = np.load(args.sample, mmap_mode="r")
    names = cp.columns_of(args.sample)
    kinds = cp.classify(np.asarray(sample), names)
    d = sample.shape[1]
    tmp = tempfile.mkdtemp(prefix="hepae-rss-", dir=args.scratch)
    try:
        big = os.path.join(tmp, "big.npy")
        out = os.path.join(tmp, "back.npy")
        arch = os.path.join(tmp, "big.hepz")
        m = np.lib.format.open_memmap(big, mode="w+", dtype="<f4", shape=(args.rows, d))
        for start in range(0, args.rows, len(sample)):
            k = min(len(sample), args.rows - start)
            m[start:start + k] = sample[:k]
        m.flush()
        del m
        shutil.copy(args.sample[:-4] + ".columns", big[:-4] + ".columns")
        model = args.model
        if model is None:
            model = os.path.join(tmp, "m.safetensors")
            subprocess.run([args.hepae, "train", args.sample, "-o", model, "--epochs", "1", "--threads", "1",
                            "--quiet"], check=True, capture_output=True)
        env_note = "RAYON_NUM_THREADS=" + os.environ.get("RAYON_NUM_THREADS", "(all cores)")
        rss_c, wall_c = timed_run([args.hepae, "compress", model, big, "-o", arch, "--max-rel-error",
                                   str(args.bound), "-q"])
        rss_d, wall_d = timed_run([args.hepae, "decompress", arch, "--model", model, "-o", out, "-q"])
        x = np.load(big, mmap_mode="r")
        y = np.load(out, mmap_mode="r")
        assert x.shape == y.shape, (x.shape, y.shape)
        bad = 0
        for s in range(0, args.rows, args.chunk):
            bad += cp.misses(np.asarray(x[s:s + args.chunk]), np.asarray(y[s:s + args.chunk]), kinds, args.bound)
        gb = args.rows * d * 4 / 1e9
        print(f"{args.rows} rows x {d} columns ({gb:.2f} GB as float32) tiled from {args.sample}; bound "
              f"{args.bound}; {env_note}")
        print(f"compress:   peak RSS {rss_c:8.1f} MB  wall {wall_c:6.1f} s  archive {os.path.getsize(arch) / 1e6:.2f} MB")
        print(f"decompress: peak RSS {rss_d:8.1f} MB  wall {wall_d:6.1f} s")
        print(f"round trip: {bad} values outside the bound of {args.rows * d}")
        return 1 if bad else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
