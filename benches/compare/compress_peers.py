#!/usr/bin/env python3
"""The peers of `hepae compress`, on the same file and under the same bound rule, every value
verified, in one table with hepae's own rows.

Bound rule (hepae's default for --max-rel-error ε): integer-valued columns exact; η and φ
(names ending in eta / phi) |Δ| ≤ ε; every other column |Δ| ≤ ε·|x| (so zeros stay exact).
Ratio = float32 bytes / compressed bytes.

Peers:
  * SZ3 (pysz) on log2|x| per column, relative columns: an absolute bound of log2(1+ε) on the
    logarithm is a point-wise relative bound; signs and zeros are stored beside it (bit-packed,
    zstd); η/φ with SZ3's absolute mode; integer columns lossless (shuffle + zstd);
  * ZFP (zfpy) the same way, fixed-accuracy mode on log2|x| (tolerance log2(1+ε)·0.999);
  * per-column quantiser + zstd: relative columns q = round(ln|x| / 2ln(1+ε)), absolute ones
    q = round(x / 2ε), integer ones as they are; int32 per column, byte-shuffled, zstd-19;
  * lossless: the float32 rows byte-shuffled, zstd-19.
Every peer's output is decoded and checked value by value; a peer that misses the bound on any
value is reported as a miss, with the count.

Usage (venv: pip install --only-binary=:all: pysz==1.1.0 zfpy==1.0.1 zstandard==0.25.0 numpy):
  python compress_peers.py DATA.npy [--bounds 1e-2,1e-3,1e-4] [--hepae target/release/hepae
      --model MODEL] [--markdown]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import zstandard

try:
    import pysz
except ImportError:  # reported as a missing row
    pysz = None
try:
    import zfpy
except ImportError:
    zfpy = None


def columns_of(path):
    cpath = path[:-4] + ".columns"
    if os.path.exists(cpath):
        return open(cpath).read().split()
    return [f"c{i}" for i in range(np.load(path, mmap_mode="r").shape[1])]


def classify(x, names):
    """Per column: 'int', 'abs' or 'rel' (hepae's default_bounds)."""
    kinds = []
    for i, n in enumerate(names):
        col = x[:, i]
        base = n.replace(".", "_").split("_")[-1].lower()
        if np.all(np.mod(col, 1) == 0) and np.all(np.abs(col) < 2**24):
            kinds.append("int")
        elif base in ("eta", "phi"):
            kinds.append("abs")
        else:
            kinds.append("rel")
    return kinds


def misses(x, y, kinds, eps):
    bad = 0
    for i, k in enumerate(kinds):
        a, b = x[:, i].astype(np.float64), y[:, i].astype(np.float64)
        if k == "int":
            bad += int(np.sum(a != b))
        elif k == "abs":
            bad += int(np.sum(np.abs(a - b) > eps))
        else:
            bad += int(np.sum(np.abs(a - b) > eps * np.abs(a)))
    return bad


def zstd(b, level=19):
    return zstandard.ZstdCompressor(level=level).compress(b)


def unzstd(b):
    return zstandard.ZstdDecompressor().decompress(b)


def shuffle(a):
    """Byte-shuffle of a C-contiguous numeric array."""
    u = np.ascontiguousarray(a).view(np.uint8).reshape(-1, a.dtype.itemsize)
    return np.ascontiguousarray(u.T).tobytes()


def unshuffle(b, dtype, n):
    size = np.dtype(dtype).itemsize
    return np.frombuffer(b, np.uint8).reshape(size, n).T.copy().view(dtype).reshape(-1)


def lossless(x):
    z = zstd(shuffle(x.astype(np.float32)))
    y = unshuffle(unzstd(z), np.float32, x.size).reshape(x.shape)
    return len(z), y


def signs_zeros(col):
    """Bit-packed sign and zero masks, zstd: (bytes, decoder)."""
    z = zstd(np.packbits(col < 0).tobytes() + np.packbits(col == 0).tobytes())
    return z


def quantiser(x, kinds, eps):
    parts, y = [], np.empty_like(x)
    n = x.shape[0]
    for i, k in enumerate(kinds):
        col = x[:, i].astype(np.float64)
        if k == "int":
            q = col.astype(np.int64)
            y[:, i] = q
        elif k == "abs":
            step = 2 * eps * (1 - 1e-6)
            q = np.round(col / step).astype(np.int64)
            y[:, i] = (q * step).astype(np.float32)
        else:
            d = 2 * np.log1p(eps) * (1 - 1e-6)
            nz = col != 0
            q = np.zeros(n, np.int64)
            q[nz] = np.round(np.log(np.abs(col[nz])) / d)
            v = np.where(nz, np.exp(q * d), 0.0) * np.sign(col)
            y[:, i] = v.astype(np.float32)
            parts.append(signs_zeros(col))
        q = q - q.min()
        parts.append(zstd(shuffle(q.astype(np.int32))))
    return sum(len(p) for p in parts), y


def log_peer(x, kinds, eps, compress_1d):
    """SZ3 / ZFP on log2|x| (relative), on x (absolute), lossless on integers."""
    total, y = 0, np.empty_like(x)
    for i, k in enumerate(kinds):
        col = x[:, i].astype(np.float32)
        if k == "int":
            z = zstd(shuffle(col))
            total += len(z)
            y[:, i] = col
            continue
        if k == "abs":
            nb, rec = compress_1d(col.astype(np.float64), eps)
            total += nb
            y[:, i] = rec
            continue
        nz = col != 0
        lg = np.log2(np.abs(col[nz]).astype(np.float64)) if nz.any() else np.zeros(1)
        nb, rec = compress_1d(lg, np.log2(1 + eps) * 0.999)
        out = np.zeros(len(col), np.float64)
        out[nz] = np.exp2(rec[: nz.sum()]) * np.sign(col[nz])
        total += nb + len(signs_zeros(col))
        y[:, i] = out.astype(np.float32)
    return total, y


def sz3_1d(v, abs_bound):
    conf = pysz.szConfig()
    conf.errorBoundMode = pysz.szErrorBoundMode.ABS
    conf.absErrorBound = float(abs_bound)
    comp, _ = pysz.sz.compress(np.ascontiguousarray(v), conf)
    rec, _ = pysz.sz.decompress(comp, np.float64, v.shape)
    return comp.nbytes, rec


def zfp_1d(v, tol):
    comp = zfpy.compress_numpy(np.ascontiguousarray(v), tolerance=float(tol))
    return len(comp), zfpy.decompress_numpy(comp)


def hepae_rows(args, data, eps, tmp):
    """hepae compress / decompress through the CLI: (label, ratio, decoder-counted ratio, misses)."""
    rows = []
    arch, out = os.path.join(tmp, "a.hepz"), os.path.join(tmp, "out.npy")
    for label, extra in (("hepae (default)", []), ("hepae --plain (no model)", ["--plain"])):
        t0 = time.time()
        r = subprocess.run([args.hepae, "compress", args.model, args.data, "-o", arch, "--max-rel-error", str(eps), "-q"]
                           + extra, capture_output=True, text=True)
        tc = time.time() - t0
        if r.returncode != 0:
            rows.append((label, None, None, r.stderr.strip()))
            continue
        t0 = time.time()
        d = subprocess.run([args.hepae, "decompress", arch, "--model", args.model, "-o", out, "-q"],
                           capture_output=True, text=True)
        td = time.time() - t0
        if d.returncode != 0:
            rows.append((label, None, None, d.stderr.strip()))
            continue
        size = os.path.getsize(arch)
        line = [l for l in r.stderr.splitlines() if "with the decoder" in l]
        ratio_dec = float(line[0].split("with the decoder's bytes")[1].split(")")[1].split()[0]) if line else None
        y = np.load(out)
        rows.append((label, data.nbytes / size, ratio_dec, misses(data, y, args.kinds, eps), tc, td))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--bounds", default="1e-2,1e-3,1e-4")
    ap.add_argument("--hepae", default=None, help="hepae binary (adds hepae's rows)")
    ap.add_argument("--model", default=None, help="model for hepae compress")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    x = np.load(args.data).astype(np.float32)
    names = columns_of(args.data)
    args.kinds = classify(x, names)
    orig = x.nbytes
    print(f"{args.data}: {x.shape[0]} rows x {x.shape[1]} columns, {orig / 1e6:.3f} MB as float32; "
          f"columns int/abs/rel = {args.kinds.count('int')}/{args.kinds.count('abs')}/{args.kinds.count('rel')}")
    results = []
    nb, y = lossless(x)
    results.append(("lossless shuffle+zstd-19", "-", orig / nb, misses(x, y, ["int"] * x.shape[1], 0)))
    with tempfile.TemporaryDirectory() as tmp:
        for eps in [float(b) for b in args.bounds.split(",")]:
            nb, y = quantiser(x, args.kinds, eps)
            results.append(("per-column log-quantiser + shuffle + zstd-19", eps, orig / nb, misses(x, y, args.kinds, eps)))
            for name, fn, mod in (("SZ3 on log2|x|", sz3_1d, pysz), ("ZFP on log2|x|", zfp_1d, zfpy)):
                if mod is None:
                    results.append((name, eps, None, "not installed"))
                    continue
                nb, y = log_peer(x, args.kinds, eps, fn)
                results.append((name, eps, orig / nb, misses(x, y, args.kinds, eps)))
            if args.hepae and args.model:
                for row in hepae_rows(args, x, eps, tmp):
                    label, ratio, ratio_dec, miss = row[:4]
                    extra = f" (decoder counted: {ratio_dec:.2f}; {row[4]:.2f} s / {row[5]:.2f} s)" if ratio else ""
                    results.append((label + extra, eps, ratio, miss))
    if args.markdown:
        print("| method | bound | ratio | values outside the bound |")
        print("|---|---|---|---|")
    for name, eps, ratio, miss in results:
        r = f"{ratio:.2f}" if ratio else "-"
        if args.markdown:
            print(f"| {name} | {eps} | {r} | {miss} |")
        else:
            print(f"{name:<75} {str(eps):>7} {r:>7}  misses {miss}")


if __name__ == "__main__":
    sys.exit(main())
