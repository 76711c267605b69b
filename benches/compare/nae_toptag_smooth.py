#!/usr/bin/env python3
"""Gaussian-smoothed copies of the top/QCD jet images for the NAE runs (issue 16; particle level,
generated): every image filtered along both image axes with a Gaussian of σ = 2 pixels, as the
reference's `GaussianFilter` (configs/jet_nae: scipy.ndimage.gaussian_filter1d, σ 2, truncate 4
⇒ radius 8, mode 'reflect' = numpy's 'symmetric' padding). Written with numpy only (no scipy
here); the images keep their unit intensity up to the filter's border reflection.
Usage: nae_toptag_smooth.py DATA_DIR OUT_DIR [NAME ...]  (default names: the train/test files)
Writes OUT/NAME.npy (N×1×40×40) and OUT/NAME_flat.npy (N×1600), each through a .tmp file.
"""
import os
import sys

import numpy as np


def kernel(sigma=2.0, truncate=4.0):
    r = int(truncate * sigma + 0.5)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    return k / k.sum(), r


def smooth(x, sigma=2.0):
    """x: (N, H, W) float → the same shape, filtered along H then W (float64 inside)."""
    k, r = kernel(sigma)
    out = x.astype(np.float64)
    for axis in (1, 2):
        pad = [(0, 0)] * 3
        pad[axis] = (r, r)
        p = np.pad(out, pad, mode="symmetric")
        n = out.shape[axis]
        acc = np.zeros_like(out)
        for j, w in enumerate(k):
            sl = [slice(None)] * 3
            sl[axis] = slice(j, j + n)
            acc += w * p[tuple(sl)]
        out = acc
    return out.astype(np.float32)


def save(path, a):
    with open(path + ".tmp", "wb") as f:
        np.save(f, a)
    os.replace(path + ".tmp", path)


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    names = sys.argv[3:] or ["qcd_train", "top_train", "qcd_test", "top_test", "qcd_test_plus_extra"]
    os.makedirs(dst, exist_ok=True)
    for n in names:
        x = np.load(f"{src}/{n}.npy", mmap_mode="r")
        s = np.concatenate([smooth(np.asarray(x[i:i + 2000, 0])) for i in range(0, len(x), 2000)])
        s = s[:, None]
        save(f"{dst}/{n}.npy", s)
        save(f"{dst}/{n}_flat.npy", np.ascontiguousarray(s.reshape(len(s), -1)))
        print(f"{n}: {s.shape}, mean sum {s.reshape(len(s), -1).sum(1).mean():.4f}, max {s.max():.4f}")


if __name__ == "__main__":
    main()
