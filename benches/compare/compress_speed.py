#!/usr/bin/env python3
"""Compress and decompress throughput of `hepae compress` beside its peers, on one core, on the
same file and bound rule (compress_peers.py's), alternating method by method, repeated.

MB/s = float32 bytes of the table / wall seconds, on one core: this process and every child
are pinned to one CPU (sched_setaffinity), hepae runs with RAYON_NUM_THREADS=1. hepae's times
are whole CLI runs (process start, reading the NPY, writing the archive / the decompressed NPY
to disk; `hepae --version` alone is timed as "start"), the peers' are in memory (numpy arrays
in, bytes out and back). Every method's output is verified against the bound on the first
repetition (a miss is reported, its speed still printed). Peers:
  * per-column log-quantiser + shuffle + zstd-19, decoder included;
  * SZ3 (pysz) and ZFP (zfpy) on log2|x| per column (signs/zeros beside it), as in
    compress_peers.py;
  * lossless shuffle + zstd-19.

Usage (venv of compress_peers.py):
  python compress_speed.py DATA.npy --hepae target/release/hepae [--model M] [--bound 1e-3]
      [--reps 3] [--cpu 0] [--markdown]
Without --model a small model is trained first (`hepae train`, 1 epoch); the default archive is
coded plainly whatever the model, so the model only matters for --learned archives.
A loaded machine gives lower and noisier numbers: read min (best case) and the spread.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compress_peers as cp  # noqa: E402


def quant_encode(x, kinds, eps):
    """The per-column log-quantiser's bytes: (parts, per-column metadata)."""
    parts, meta = [], []
    n = x.shape[0]
    for i, k in enumerate(kinds):
        col = x[:, i].astype(np.float64)
        masks = None
        if k == "int":
            q = col.astype(np.int64)
        elif k == "abs":
            q = np.round(col / (2 * eps * (1 - 1e-6))).astype(np.int64)
        else:
            d = 2 * np.log1p(eps) * (1 - 1e-6)
            nz = col != 0
            q = np.zeros(n, np.int64)
            q[nz] = np.round(np.log(np.abs(col[nz])) / d)
            masks = cp.signs_zeros(col)
        lo = int(q.min())
        parts.append((cp.zstd(cp.shuffle((q - lo).astype(np.int32))), masks))
        meta.append(lo)
    return parts, meta


def quant_decode(parts, meta, kinds, eps, n):
    y = np.empty((n, len(kinds)), np.float32)
    nb = (n + 7) // 8
    for i, (k, (z, masks), lo) in enumerate(zip(kinds, parts, meta)):
        q = cp.unshuffle(cp.unzstd(z), np.int32, n).astype(np.int64) + lo
        if k == "int":
            y[:, i] = q
        elif k == "abs":
            y[:, i] = q * (2 * eps * (1 - 1e-6))
        else:
            bits = np.unpackbits(np.frombuffer(cp.unzstd(masks), np.uint8))
            neg, zero = bits[:n].astype(bool), bits[8 * nb: 8 * nb + n].astype(bool)
            v = np.exp(q * (2 * np.log1p(eps) * (1 - 1e-6)))
            v[zero] = 0.0
            v[neg] *= -1
            y[:, i] = v
    return y


def log_encode(x, kinds, eps, comp):
    out = []
    for i, k in enumerate(kinds):
        col = x[:, i].astype(np.float32)
        if k == "int":
            out.append(("int", cp.zstd(cp.shuffle(col))))
        elif k == "abs":
            out.append(("abs", comp(col.astype(np.float64), eps)))
        else:
            nz = col != 0
            lg = np.log2(np.abs(col[nz]).astype(np.float64)) if nz.any() else np.zeros(1)
            out.append(("rel", comp(lg, np.log2(1 + eps) * 0.999), cp.signs_zeros(col)))
    return out


def log_decode(enc, n, decomp):
    y = np.empty((n, len(enc)), np.float32)
    nb = (n + 7) // 8
    for i, e in enumerate(enc):
        if e[0] == "int":
            y[:, i] = cp.unshuffle(cp.unzstd(e[1]), np.float32, n)
        elif e[0] == "abs":
            y[:, i] = decomp(e[1], n)
        else:
            bits = np.unpackbits(np.frombuffer(cp.unzstd(e[2]), np.uint8))
            neg, zero = bits[:n].astype(bool), bits[8 * nb: 8 * nb + n].astype(bool)
            m = int((~zero).sum())
            rec = decomp(e[1], max(m, 1))[:m]
            v = np.zeros(n)
            v[~zero] = np.exp2(rec)
            v[neg] *= -1
            y[:, i] = v
    return y


def sz3_c(v, bound):
    conf = cp.pysz.szConfig()
    conf.errorBoundMode = cp.pysz.szErrorBoundMode.ABS
    conf.absErrorBound = float(bound)
    comp, _ = cp.pysz.sz.compress(np.ascontiguousarray(v), conf)
    return comp


def sz3_d(comp, n):
    rec, _ = cp.pysz.sz.decompress(comp, np.float64, (n,))
    return rec


def zfp_c(v, tol):
    return cp.zfpy.compress_numpy(np.ascontiguousarray(v), tolerance=float(tol))


def zfp_d(comp, n):
    return cp.zfpy.decompress_numpy(comp)


def cpu_now():
    """CPU seconds of this process and its finished children."""
    import resource
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + c.ru_utime + c.ru_stime


def timed(fn):
    """(wall s, CPU s, result)."""
    t0, c0 = time.perf_counter(), cpu_now()
    r = fn()
    return time.perf_counter() - t0, cpu_now() - c0, r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--hepae", required=True)
    ap.add_argument("--model", default=None)
    ap.add_argument("--bound", type=float, default=1e-3)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: the first allowed)")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    cpu = args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})  # inherited by every child process
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    x = np.load(args.data).astype(np.float32)
    n = x.shape[0]
    kinds = cp.classify(x, cp.columns_of(args.data))
    mb = x.nbytes / 1e6
    eps = args.bound
    print(f"{args.data}: {n} rows x {x.shape[1]} columns, {mb:.3f} MB as float32; bound {eps}; "
          f"{args.reps} repetitions on CPU {cpu}, one thread")
    tmp = tempfile.mkdtemp(prefix="hepae-speed-")
    arch, out = os.path.join(tmp, "a.hepz"), os.path.join(tmp, "out.npy")
    model = args.model
    if model is None:
        model = os.path.join(tmp, "m.safetensors")
        subprocess.run([args.hepae, "train", args.data, "-o", model, "--epochs", "1", "--threads", "1", "--quiet"],
                       check=True, env=env, capture_output=True)

    def hepae_c():
        subprocess.run([args.hepae, "compress", model, args.data, "-o", arch, "--max-rel-error", str(eps), "-q"],
                       check=True, env=env, capture_output=True)
        return os.path.getsize(arch)

    def hepae_d():
        subprocess.run([args.hepae, "decompress", arch, "--model", model, "-o", out, "-q"],
                       check=True, env=env, capture_output=True)
        return np.load(out)

    methods = [("hepae compress / decompress", hepae_c, hepae_d)]
    state = {}

    def q_c():
        state["q"] = quant_encode(x, kinds, eps)
        return sum(len(z) + (len(m) if m else 0) for z, m in state["q"][0])

    methods.append(("log-quantiser + shuffle + zstd-19", q_c, lambda: quant_decode(*state["q"], kinds, eps, n)))
    for name, mod, c, d in (("SZ3 on log2|x|", cp.pysz, sz3_c, sz3_d), ("ZFP on log2|x|", cp.zfpy, zfp_c, zfp_d)):
        if mod is None:
            print(f"{name}: not installed")
            continue

        def lc(c=c, key=name):
            state[key] = log_encode(x, kinds, eps, c)
            return sum(sum(len(p) if isinstance(p, bytes) else p.nbytes for p in e[1:]) for e in state[key])

        methods.append((name, lc, lambda d=d, key=name: log_decode(state[key], n, d)))

    def ll_c():
        state["ll"] = cp.zstd(cp.shuffle(x))
        return len(state["ll"])

    methods.append(("lossless shuffle + zstd-19", ll_c,
                    lambda: cp.unshuffle(cp.unzstd(state["ll"]), np.float32, x.size).reshape(x.shape)))
    times = {m[0]: ([], [], [], []) for m in methods}
    sizes, miss = {}, {}
    start = [timed(lambda: subprocess.run([args.hepae, "--version"], env=env, capture_output=True))[0]
             for _ in range(3)]
    for rep in range(args.reps):
        for name, c, d in methods:
            tc, cc, size = timed(c)
            td, cd, y = timed(d)
            for i, t in enumerate((tc, td, cc, cd)):
                times[name][i].append(t)
            if rep == 0:
                sizes[name] = size
                all_kinds = kinds if name != "lossless shuffle + zstd-19" else ["int"] * x.shape[1]
                miss[name] = cp.misses(x, np.asarray(y, np.float32).reshape(x.shape), all_kinds, eps)
    for f in os.listdir(tmp):
        os.remove(os.path.join(tmp, f))
    os.rmdir(tmp)

    def mbs(ts):
        r = sorted(mb / t for t in ts)
        return f"{r[0]:.1f} / {statistics.median(r):.1f} / {r[-1]:.1f}"

    print(f"hepae start (`hepae --version`): {1e3 * min(start):.1f} ms")
    def cpu(ts):
        return f"{mb / statistics.median(ts):.1f}"

    print("MB/s by wall time (min / median / max over the repetitions); by CPU time (median): less "
          "sensitive to a loaded machine")
    if args.markdown:
        print("| method | ratio | compress MB/s wall | decompress MB/s wall | compress / decompress MB/s CPU "
              "| values outside the bound |")
        print("|---|---|---|---|---|---|")
    for name, _, _ in methods:
        c, d, cc, cd = times[name]
        ratio = x.nbytes / sizes[name]
        if args.markdown:
            print(f"| {name} | {ratio:.2f} | {mbs(c)} | {mbs(d)} | {cpu(cc)} / {cpu(cd)} | {miss[name]} |")
        else:
            print(f"{name:<36} ratio {ratio:6.2f}  compress {mbs(c):>22} MB/s  decompress {mbs(d):>22} MB/s"
                  f"  CPU {cpu(cc)} / {cpu(cd)} MB/s  misses {miss[name]}")


if __name__ == "__main__":
    sys.exit(main())
