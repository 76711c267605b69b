#!/usr/bin/env python3
"""Estimate (no archive written): the learned residuals of archive format 3 coded under a
discretised Laplace or logistic against the fitted two-level table hepae codes them with.

Per column the grid of compress's bound rule (log for relative, linear for η/φ, the integers
for integer columns), q the grid integer of each non-zero value, μ the grid position of the
model's prediction (`hepae reconstruct`, f32 latents). Ideal code lengths of the value part
only (the kind symbols, escapes and zeros are the same under every model), per value:
  * table: hepae's Hist::fit replicated (zigzag(q − round μ), best shift, fixed-point counts
    summing to 2^24, the table's bytes counted), fitted to the file being coded;
  * plain table: the same over q itself (what the default, model-free archive codes);
  * Laplace / logistic, model scale: P(q) = F(q + ½ − μ) − F(q − ½ − μ), floored at 2^-24,
    with the scale of each column fitted once on the model's *training* file (--train) and
    stored with the model (4 bytes a column, not counted) — a scale that comes from the
    model, not from the data being coded;
  * Laplace, fitted scale: the scale fitted on the coded file itself (4 bytes counted);
  * Laplace, scale by prediction: a per-row scale, b(μ) constant over each decile of the
    training file's μ, fitted there (a scale the model's prediction selects, row by row).

Usage: python residual_models.py DATA.npy PRED.npy --train TRAIN.npy --train-pred TRAIN_PRED.npy
           [--bound 1e-3]
"""
import argparse
import math
import sys
import os

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compress_peers as cp  # noqa: E402

PRECISION = 24
MAX_ALPHABET = 4096


def varint_len(v):
    n = 1
    while v >= 0x80:
        v >>= 7
        n += 1
    return n


def zigzag(q):
    return np.where(q >= 0, 2 * q, -2 * q - 1)


def table_bits(values):
    """hepae's Hist::fit: the cheapest shift's bits, table included."""
    values = np.asarray(values, np.int64)
    if values.size == 0:
        return 16.0
    lo, hi = int(values.min()), int(values.max())
    s0 = 0
    while ((hi - lo + 1) >> s0) >= MAX_ALPHABET:
        s0 += 1
    best = None
    total = 1 << PRECISION
    for shift in range(s0, s0 + 12):
        counts = np.bincount((values - lo) >> shift).astype(np.int64)
        a = len(counts)
        p = 1 + counts * (total - a) // values.size
        p[np.argmax(counts)] += total - p.sum()
        nz = counts > 0
        bits = float(np.sum(counts[nz] * (PRECISION - np.log2(p[nz]))))
        lo_z = 2 * lo if lo >= 0 else -2 * lo - 1
        table = varint_len(lo_z) + 1 + varint_len(a) + sum(varint_len(int(c)) for c in counts)
        bits += values.size * shift + 8 * table
        if best is None or bits < best:
            best = bits
        if a == 1:
            break
    return best


def laplace_cdf(t, b):
    return np.where(t < 0, 0.5 * np.exp(np.minimum(t, 0) / b), 1 - 0.5 * np.exp(-np.maximum(t, 0) / b))


def logistic_cdf(t, s):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-t / s))


def model_bits(q, mu, cdf, scale):
    p = cdf(q + 0.5 - mu, scale) - cdf(q - 0.5 - mu, scale)
    return float(np.sum(-np.log2(np.maximum(p, 2.0 ** -PRECISION))))


def fit_scale(q, mu, cdf, start):
    """Scale minimising the code length, on a log grid around `start`."""
    grid = start * np.exp(np.linspace(-2, 2, 41))
    return min(grid, key=lambda s: model_bits(q, mu, cdf, s))


def binned_bits(q, mu, qt, mut, b0, bins=10):
    """Laplace bits with a scale per decile of the training file's μ, fitted there."""
    edges = np.quantile(mut, np.linspace(0, 1, bins + 1)[1:-1])
    it, ih = np.searchsorted(edges, mut), np.searchsorted(edges, mu)
    bits = 0.0
    for j in range(bins):
        tr, ho = it == j, ih == j
        if not ho.any():
            continue
        b = fit_scale(qt[tr], mut[tr], laplace_cdf, b0) if tr.sum() > 20 else b0
        bits += model_bits(q[ho], mu[ho], laplace_cdf, b)
    return bits


def grid_ints(x, p, kind, eps):
    """(q, μ) of the non-zero values of one column on its grid."""
    nz = x != 0
    x, p = x[nz].astype(np.float64), p[nz].astype(np.float64)
    if kind == "int":
        return np.round(x).astype(np.int64), p
    if kind == "abs":
        step = 2 * eps * (1 - 1e-6)
        return np.round(x / step).astype(np.int64), p / step
    d = 2 * np.log1p(eps) * (1 - 1e-6)
    with np.errstate(divide="ignore"):
        mu = np.log(np.abs(p)) / d
    mu[~np.isfinite(mu)] = 0.0
    return np.round(np.log(np.abs(x)) / d).astype(np.int64), mu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("pred")
    ap.add_argument("--train", required=True)
    ap.add_argument("--train-pred", required=True)
    ap.add_argument("--bound", type=float, default=1e-3)
    args = ap.parse_args()
    x, p = np.load(args.data), np.load(args.pred)
    xt, pt = np.load(args.train), np.load(args.train_pred)
    names = cp.columns_of(args.data)
    kinds = cp.classify(x, names)
    eps = args.bound
    tot = dict(plain=0.0, table=0.0, lap_model=0.0, logi_model=0.0, lap_fit=0.0, lap_by_pred=0.0)
    print(f"{args.data}: {x.shape[0]} rows, bound {eps}; bits per non-zero value (value part only)")
    print(f"{'column':<16} {'kind':>4} {'plain':>7} {'table':>7} {'Lap(model)':>10} {'logi(model)':>11} "
          f"{'Lap(fit)':>9} {'Lap(by μ)':>9}")
    for i, (n, k) in enumerate(zip(names, kinds)):
        q, mu = grid_ints(x[:, i], p[:, i], k, eps)
        if q.size == 0:
            continue
        qt, mut = grid_ints(xt[:, i], pt[:, i], k, eps)
        b0 = max(float(np.mean(np.abs(qt - mut))), 0.05)
        b_lap = fit_scale(qt, mut, laplace_cdf, b0)
        s_logi = fit_scale(qt, mut, logistic_cdf, b0 * 0.6)
        row = dict(
            plain=table_bits(q),
            table=table_bits(zigzag(q - np.round(mu).astype(np.int64))),
            lap_model=model_bits(q, mu, laplace_cdf, b_lap),
            logi_model=model_bits(q, mu, logistic_cdf, s_logi),
            lap_fit=model_bits(q, mu, laplace_cdf, fit_scale(q, mu, laplace_cdf, b0)) + 32,
            lap_by_pred=binned_bits(q, mu, qt, mut, b0),
        )
        for key in tot:
            tot[key] += row[key]
        print(f"{n:<16} {k:>4} " + " ".join(f"{row[c] / q.size:>{w}.2f}" for c, w in
                                            zip(tot, (7, 7, 10, 11, 9, 9))))
    kb = {c: v / 8e3 for c, v in tot.items()}
    print("total kB: " + ", ".join(f"{c} {v:.1f}" for c, v in kb.items()))


if __name__ == "__main__":
    sys.exit(main())
