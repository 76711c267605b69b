#!/usr/bin/env python3
"""hepae's top-vs-QCD table (issue 15; particle level, generated) computed with the PyTorch peer's
own metric code, so the two tables differ only in the trained nets.

Scores every test jet with `hepae score` (mse, mse-norm, mse-log) for the models
toptag_hepae.sh trained, then AUC, TPR at FPR 1e-1/1e-2/1e-3 and their bootstrap errors with
toptag_torch.metrics (500 resamples, seed 1, a TPR needs >= 10 background jets above its cut).

Usage: benches/compare/toptag_table.py [--data DIR] [--models DIR] [--nets conv-ae,mlp] [--json OUT] [--md OUT]
"""
import argparse
import importlib.util
import json
import os
import subprocess
import tempfile

import numpy as np

FPRS = (1e-1, 1e-2, 1e-3)


def peer(path):
    spec = importlib.util.spec_from_file_location("toptag_torch", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def score(hepae, model, data, kind, tmp):
    out = os.path.join(tmp, "s.npy")
    subprocess.run([hepae, "score", model, data, "-o", out, "--score", kind, "-q"], check=True)
    return np.load(out).astype(np.float64).ravel()


def fmt(m, k):
    v = m.get(k)
    return "not resolved" if v is None else f"{v:.3f} ± {m[k + '_err']:.3f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/work/wt/toptag_data")
    ap.add_argument("--models", help="default DATA/hepae")
    ap.add_argument("--hepae", default="target/release/hepae")
    ap.add_argument("--torch-py", default="benches/compare/toptag_torch.py")
    ap.add_argument("--cnn-epochs", type=int, default=10)
    ap.add_argument("--mlp-epochs", type=int, default=30)
    ap.add_argument("--nets", default="conv-ae,mlp", help="which nets' rows to compute")
    ap.add_argument("--json")
    ap.add_argument("--md")
    a = ap.parse_args()
    for p in (a.json, a.md):  # fail before the work when an output cannot be written
        if p and not os.access(os.path.dirname(os.path.abspath(p)), os.W_OK):
            raise SystemExit(f"{p}: directory not writable")
    t = peer(a.torch_py)
    models = a.models or os.path.join(a.data, "hepae")
    d = a.data
    # (net, epochs, trained on, anomaly, model, background file, anomaly file, test set)
    cases = []
    for net, ep, suf in (("conv-ae", a.cnn_epochs, ""), ("mlp", a.mlp_epochs, "_flat")):
        if net not in a.nets.split(","):
            continue
        tag = "conv" if net == "conv-ae" else "mlp"
        cases += [
            (net, ep, "qcd", "top", f"{models}/{tag}_qcd.safetensors", f"{d}/qcd_test{suf}.npy", f"{d}/top_test{suf}.npy", "standard"),
            (net, ep, "top", "qcd", f"{models}/{tag}_top.safetensors", f"{d}/top_test{suf}.npy", f"{d}/qcd_test{suf}.npy", "standard"),
            (net, ep, "qcd", "top", f"{models}/{tag}_qcd.safetensors", f"{d}/qcd_test_plus_extra{suf}.npy", f"{d}/top_test{suf}.npy", "extra"),
        ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for net, ep, on, anom, model, bkg_f, sig_f, test in cases:
            for kind in ("mse", "mse-norm", "mse-log"):
                bkg, sig = score(a.hepae, model, bkg_f, kind, tmp), score(a.hepae, model, sig_f, kind, tmp)
                m = t.metrics(sig, bkg, 500, 10, 1)
                rows.append({"net": net, "epochs": ep, "trained_on": on, "anomaly": anom, "score": kind, "test": test, **m})
    head = ("| net | epochs | trained on | anomaly | score | AUC | TPR@1e-1 | TPR@1e-2 | TPR@1e-3 | N anom / N bkg |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n")
    text = ""
    for test, title in (("standard", "Standard test set (4 000 + 4 000)"), ("extra", "Background extended with the extra generated QCD jets")):
        text += f"\n**{title}** (hepae; particle level, generated)\n\n" + head
        for r in rows:
            if r["test"] == test:
                text += (f"| {r['net']} | {r['epochs']} | {r['trained_on']} | {r['anomaly']} | {r['score']} | {fmt(r, 'auc')} | "
                         + " | ".join(fmt(r, f"tpr@{f:g}") for f in FPRS) + f" | {r['n_anomaly']} / {r['n_background']} |\n")
    print(text)
    if a.md:
        open(a.md + ".tmp", "w").write(text)
        os.replace(a.md + ".tmp", a.md)
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            json.dump(rows, f, indent=1)
        os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()
