#!/usr/bin/env python3
"""Estimate, before building, what archive format 4's models can save (numpy only).

On one block of a jet table (NanoAOD-like columns, e.g. the particle level, generated
sample of gen_nano_jets.py) at one relative bound, prints the empirical entropy in bits per
jet of each column's grid integers (log grid of step 2*ln(1+eps); eta and phi on a linear
grid of step 2*eps; integer columns as they are) marginally and under the candidates format
4 codes:

* the last energy fraction against 1 - (the others as decoded);
* the kind (zero / not) of each fraction given its multiplicity's zero;
* ln|x| against a least-squares fit on features of the columns coded before it
  (ln(1+n) for integers, |x| for eta/phi, ln(|x| + 1e-3) otherwise);
* event numbers as differences from the previous row.

Empirical entropies ignore table costs, so they are lower bounds; `hepae compress
--explain` prints what a block really costs.

    python3 benches/compare/format4_entropy.py DATA.npy [--columns DATA.columns] [--eps 1e-3] [--rows 65536]
"""
import argparse

import numpy as np


def entropy(v):
    _, c = np.unique(v, return_counts=True)
    p = c / c.sum()
    return float(-(p * np.log2(p)).sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data")
    ap.add_argument("--columns", help="names, one a line (default: DATA with .columns)")
    ap.add_argument("--eps", type=float, default=1e-3)
    ap.add_argument("--rows", type=int, default=65536)
    a = ap.parse_args()
    x = np.load(a.data)[: a.rows].astype(np.float64)
    names = open(a.columns or a.data[: -len(".npy")] + ".columns").read().split()
    col = {c: i for i, c in enumerate(names)}
    delta = 2 * np.log1p(a.eps)
    integer = [c for c in names if np.all(x[:, col[c]] == np.round(x[:, col[c]]))]

    def grid(c):
        v = x[:, col[c]]
        if c in integer:
            return v.astype(np.int64), np.ones(len(v), bool)
        if c in ("eta", "phi"):
            return np.round(v / (2 * a.eps)).astype(np.int64), np.ones(len(v), bool)
        nz = v != 0
        q = np.zeros(len(v), np.int64)
        q[nz] = np.round(np.log(np.abs(v[nz])) / delta)
        return q, nz

    def feature(c):
        v = np.abs(x[:, col[c]])
        if c in integer:
            return np.log1p(v)
        return v if c in ("eta", "phi") else np.log(v + 1e-3)

    print(f"{a.data}: {len(x)} rows, eps {a.eps}; bits per jet (values only, tables not counted)")
    total = 0.0
    for c in names:
        q, nz = grid(c)
        print(f"  {c:<16} marginal {entropy(q[nz]) * nz.mean():6.2f}")
        total += entropy(q[nz]) * nz.mean()
    print(f"  {'total':<16} marginal {total:6.2f}")

    fr = [c for c in ("chHEF", "neHEF", "chEmEF", "neEmEF", "muEF") if c in col]
    if len(fr) >= 2:
        rebuilt = {}
        for f in fr:
            q, nz = grid(f)
            rebuilt[f] = np.where(nz, np.exp(q * delta), 0.0)
        print("complement (1 - the other fractions as decoded):")
        for t in fr:
            q, nz = grid(t)
            rest = 1 - sum(rebuilt[f] for f in fr if f != t)
            ok = nz & (rest > 0)
            at = np.round(np.log(np.where(rest > 0, rest, 1.0)) / delta).astype(np.int64)
            print(f"  {t:<16} {entropy(q[nz]) * nz.mean():6.2f} -> {entropy((q - at)[ok]) * nz.mean():6.2f}")
    pairs = [("neHEF", "nNh"), ("chEmEF", "nElectrons"), ("muEF", "nMuons"), ("chHEF", "nCh"), ("neEmEF", "nPhotons")]
    print("kind (zero or not) given the multiplicity's zero:")
    for f, m in pairs:
        if f in col and m in col:
            z, mz = x[:, col[f]] == 0, x[:, col[m]] == 0
            print(f"  {f:<16} {entropy(z):6.2f} -> {entropy(z * 2 + mz) - entropy(mz):6.2f}")
    print("linear fit of ln|x| on the columns before it (integers, fractions, then the rest):")
    order = [c for c in names if c in integer] + fr + [c for c in names if c not in integer and c not in fr]
    for k, t in enumerate(order):
        if t in integer or t in ("eta", "phi") or k == 0:
            continue
        q, nz = grid(t)
        feats = np.column_stack([feature(c) for c in order[:k]] + [np.ones(len(x))])[nz]
        y = np.log(np.abs(x[nz, col[t]]))
        coef, *_ = np.linalg.lstsq(feats, y, rcond=None)
        r = q[nz] - np.round(feats @ coef / delta)
        print(f"  {t:<16} {entropy(q[nz]) * nz.mean():6.2f} -> {entropy(r) * nz.mean():6.2f}")
    if "event_idx" in col:
        ev = x[:, col["event_idx"]]
        print(f"event_idx as differences: {entropy(ev):6.2f} -> {entropy(np.diff(ev)):6.2f}")


if __name__ == "__main__":
    main()
