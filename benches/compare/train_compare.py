#!/usr/bin/env python3
"""Validation MSE of the reference autoencoder trained by hepae and by PyTorch on the same
rows, over several seeds (issue: hepae's mean must be within PyTorch's mean + 15 %).

For each case (24 variables of ttbar_nano_v15 -> latent 15; its 4-momentum pt,eta,phi,mass
-> latent 3) and each seed: `hepae split` writes the exact train/validation rows hepae uses,
`hepae train` trains (min-max, 200-100-50, LeakyReLU 0.01, linear output, Adam 1e-3, batch
512, 50 epochs), and PyTorch trains the same architecture, init scheme (nn.Linear default),
optimiser, batch, epochs, normaliser (min-max fitted on the train rows) and rows. Both
report min-max-space validation MSE after the last epoch.

Usage: python3 benches/compare/train_compare.py [--hepae target/release/hepae] [--seeds 5]
       [--epochs 50] [--json out.json]"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def torch_val_mse(train, val, hidden, latent, epochs, batch, lr, seed, slope=0.01):
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    lo, hi = train.min(0), train.max(0)
    scale = np.where(hi > lo, hi - lo, 1.0)
    tr = torch.from_numpy(((train - lo) / scale).astype(np.float32))
    va = torch.from_numpy(((val - lo) / scale).astype(np.float32))
    d = tr.shape[1]
    dims = [d, *hidden, latent, *reversed(hidden), d]
    mods = []
    for j in range(len(dims) - 1):
        mods.append(torch.nn.Linear(dims[j], dims[j + 1]))
        if j < len(dims) - 2:
            mods.append(torch.nn.LeakyReLU(slope))
    model = torch.nn.Sequential(*mods)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed + 1)
    for _ in range(epochs):
        perm = torch.randperm(tr.shape[0], generator=g)
        for i in range(0, tr.shape[0], batch):
            xb = tr[perm[i:i + batch]]
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(xb), xb).backward()
            opt.step()
    with torch.no_grad():
        return float(torch.nn.functional.mse_loss(model(va), va))


def hepae_val_mse(hepae, data, hidden, latent, epochs, batch, lr, seed, tmp):
    model = os.path.join(tmp, f"m{seed}.safetensors")
    hist = os.path.join(tmp, f"m{seed}.csv")
    subprocess.run([hepae, "train", data, "-o", model, "--hidden", ",".join(map(str, hidden)), "--latent", str(latent),
                    "--epochs", str(epochs), "--batch", str(batch), "--lr", str(lr), "--seed", str(seed),
                    "--threads", "1", "--history", hist, "--quiet"], check=True)
    with open(hist) as f:
        rows = list(csv.DictReader(f))
    return float(rows[-1]["val_loss"])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hepae", default=os.path.join(ROOT, "target", "release", "hepae"))
    p.add_argument("--csv", default=os.path.join(ROOT, "datasets", "ttbar_nano_v15.csv"))
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--case", choices=["all", "24", "4"], default="all", help="run one case only")
    p.add_argument("--json")
    a = p.parse_args()
    cases = [("24 variables -> 15", ["--first-columns", "24"], [200, 100, 50], 15),
             ("4-momentum -> 3", ["--columns", "pt,eta,phi,mass"], [200, 100, 50], 3)]
    if a.case != "all":
        cases = [c for c in cases if c[1][0] == ("--first-columns" if a.case == "24" else "--columns")]
    report = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, sel, hidden, latent in cases:
            data = os.path.join(tmp, f"d{latent}.npy")
            subprocess.run([a.hepae, "import", a.csv, "-o", data, *sel], check=True, capture_output=True)
            ours, theirs = [], []
            for seed in range(1, a.seeds + 1):
                sd = os.path.join(tmp, f"split{latent}_{seed}")
                subprocess.run([a.hepae, "split", data, "-o", sd, "--seed", str(seed)], check=True, capture_output=True)
                train, val = np.load(os.path.join(sd, "train.npy")), np.load(os.path.join(sd, "val.npy"))
                ours.append(hepae_val_mse(a.hepae, data, hidden, latent, a.epochs, a.batch, a.lr, seed, tmp))
                theirs.append(torch_val_mse(train.astype(np.float64), val.astype(np.float64), hidden, latent,
                                            a.epochs, a.batch, a.lr, seed))
                print(f"  {name}  seed {seed}: hepae {ours[-1]:.5f}  pytorch {theirs[-1]:.5f}", flush=True)
            mo, so, mt, st = np.mean(ours), np.std(ours, ddof=1), np.mean(theirs), np.std(theirs, ddof=1)
            ok = mo <= 1.15 * mt
            # Standard error of the difference of means: with few seeds and a large seed-to-seed
            # spread it can exceed the 15 % margin, and then one run's verdict is not informative.
            se = float(np.sqrt(so ** 2 / len(ours) + st ** 2 / len(theirs)))
            print(f"{name}: hepae {mo:.5f} ± {so:.5f}   pytorch {mt:.5f} ± {st:.5f}   ratio {mo / mt:.3f}  "
                  f"{'PASS' if ok else 'FAIL'} (hepae mean <= 1.15 x pytorch mean)")
            print(f"  difference {mo - mt:+.5f} ± {se:.5f} (standard error; 15 % of pytorch's mean is "
                  f"{0.15 * mt:.5f}); medians hepae {np.median(ours):.5f}, pytorch {np.median(theirs):.5f}")
            report.append({"case": name, "hepae": ours, "pytorch": theirs, "hepae_mean": mo, "hepae_std": so,
                           "pytorch_mean": mt, "pytorch_std": st, "ratio": mo / mt, "difference_se": se,
                           "pass": bool(ok)})
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"torch": torch.__version__, "epochs": a.epochs, "batch": a.batch, "cases": report}, f, indent=1)
    sys.exit(0 if all(r["pass"] for r in report) else 1)


if __name__ == "__main__":
    main()
