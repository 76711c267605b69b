#!/usr/bin/env python3
"""Markdown table of the NAE top-vs-QCD runs (issue 16; particle level, generated) from the
`hepae roc --json` files nae_toptag.sh and nae_toptag_cnn.sh wrote: AUC and TPR at FPR 1e-2 and
1e-3 with their bootstrap errors; a TPR is "not resolved" when fewer than 10 background jets lie
above its cut (FPR·N_bkg < 10). Usage: nae_toptag_table.py [OUT_DIR] [NAME ...]
"""
import json
import os
import sys

LABEL = {
    "cnn": "CNN-AE (conv-ae, latent 32, 10 epochs)",
    "ae": "MLP AE (1600-200-100-50-15, 30 epochs)",
    "pre": "NAE pre-training only (spherical latent 3, 30 epochs)",
}


def label(out, name):
    """The row's model; for an NAE, its NAE epochs and steps are read from MODEL.history.csv."""
    m = name.split("_")[0]
    if not m.startswith("nae"):
        return LABEL[m]
    rows = [r.split(",") for r in open(os.path.join(out, f"{name}.history.csv")).read().splitlines()[1:]]
    nae = [r for r in rows if len(r) > 4 and r[4]]
    return f"NAE (pre-training + {len(nae)} NAE epochs)"


def cell(wp, n_bkg):
    if wp["fpr"] * n_bkg < 10 or wp["tpr"] is None:
        return "not resolved"
    return f"{wp['tpr']:.3f} ± {wp['tpr_err']:.3f}"


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/work/wt/toptag_data/nae"
    names = sys.argv[2:] or [f"{m}_{a}" for a in ("top", "qcd") for m in ("cnn", "ae", "pre", "nae", "nae12")]
    print("| model | trained on | anomaly | AUC | TPR@1e-2 | TPR@1e-3 | N anom / N bkg |")
    print("|---|---|---|---|---|---|---|")
    for n in names:
        path = os.path.join(out, f"roc_{n}.json")
        if not os.path.exists(path):
            continue
        s = json.load(open(path))[0]["summary"]
        a = n.split("_")[1]
        wps = {w["fpr"]: w for w in s["working_points"]}
        nb = s["background_jets"]
        print(f"| {label(out, n)} | {a} | {'qcd' if a == 'top' else 'top'} | {s['auc']:.3f} ± {s['auc_err']:.3f} | "
              f"{cell(wps[0.01], nb)} | {cell(wps[0.001], nb)} | {s['signal_jets']} / {nb} |")


if __name__ == "__main__":
    main()
