#!/usr/bin/env python3
"""hepae's top-vs-QCD AUCs (toptag_table.py --json) beside the PyTorch peer's (toptag_torch.py
--json) on the same images, split and metric code (particle level, generated): per net, direction
and score, both AUCs ± bootstrap error and their difference in units of the combined error
sqrt(err_hepae² + err_torch²). conv-ae is set beside the peer's cnn-leaky (the same net and
activation) and, for reference, cnn-prelu (the issue's PReLU net); mlp beside mlp.

Usage: benches/compare/toptag_side_by_side.py HEPAE_JSON[,HEPAE_JSON...] TORCH_JSON [--md OUT]
"""
import argparse
import json
import math
import os

PEERS = {"conv-ae": ["cnn-leaky", "cnn-prelu"], "mlp": ["mlp"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("hepae")
    ap.add_argument("torch")
    ap.add_argument("--md")
    a = ap.parse_args()
    rows = [r for p in a.hepae.split(",") for r in json.load(open(p))]
    peer = {}
    for r in json.load(open(a.torch))["runs"]:
        if r["transform"] == "raw":
            peer[(r["arch"], r["train_on"], r["score"].replace("_", "-"))] = r
    text = ("| net | trained on | anomaly | score | hepae AUC | PyTorch net | PyTorch AUC | Δ / σ |\n"
            "|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        if r["test"] != "standard":
            continue
        for arch in PEERS[r["net"]]:
            p = peer.get((arch, r["trained_on"], r["score"]))
            if p is None:
                continue
            s = p["standard"]
            z = (r["auc"] - s["auc"]) / math.hypot(r["auc_err"], s["auc_err"])
            text += (f"| {r['net']} | {r['trained_on']} | {r['anomaly']} | {r['score']} | {r['auc']:.3f} ± {r['auc_err']:.3f} | "
                     f"{arch} | {s['auc']:.3f} ± {s['auc_err']:.3f} | {z:+.1f} |\n")
    print(text)
    if a.md:
        open(a.md + ".tmp", "w").write(text)
        os.replace(a.md + ".tmp", a.md)


if __name__ == "__main__":
    main()
