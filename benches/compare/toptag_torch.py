#!/usr/bin/env python3
"""The PyTorch peer of hepae's top-vs-QCD benchmark (issue 15): jet images, particle level, generated.

Nets (PyTorch defaults for initialisation; activation after every layer but the output, the latent
included, as hepae's autoencoders do; output linear):
  cnn  conv 3×3 1→8 pad 1, conv 3×3 s2 8→16 pad 1, conv 3×3 s2 16→32 pad 1, flatten, dense 3200→32,
       dense 32→3200, reshape 32×10×10, ConvTranspose 4×4 s2 pad 1 32→16, ConvTranspose 4×4 s2 pad 1
       16→8, conv 3×3 8→1 pad 1 (6.0 MFLOP forward). Activation `prelu` (nn.PReLU(): one learned
       slope per layer, initially 0.25; the issue's reference) or `leaky` (LeakyReLU 0.01, hepae's
       default slope, src/cli/train.rs): arch names cnn-prelu and cnn-leaky.
  mlp  1600-200-100-50-15-50-100-200-1600 on the flattened pixels, LeakyReLU 0.01 (hepae's reference
       widths and latent).
Training: the train images of one class (toptag_images.py: 15 000 per class), MSE, Adam, fixed
epochs, constant lr, seeded shuffling and initialisation, --threads torch threads. Two input
transforms: raw pixels, and √pixels (the net sees √x and is scored in that space).
--scale S multiplies what the net sees (x or √x) by S: at unit total intensity the pixels are ~1e-3 and
a CNN trained on top jets at scale 1 stalls at the mean image's loss; the scores scale by S², so AUC and
TPR are unchanged by S itself. Scores per test image: mse (per-pixel MSE), mse_norm (mse / Σx² of the input), mse_log (MSE of
log(x + ε) against log(max(x̂, 0) + ε), ε = --log-eps; on the raw-trained net), mse_sqrt (mse of the
√-trained net). Both directions: trained on QCD, top is the anomaly; trained on top, QCD is.
Test: 4 000 jets per class ("standard"); the background class can be extended with the extra
generated jets (`*_extra.npy`; "extended"). AUC = P(score_anomaly > score_background) (ties ½),
TPR at FPR 1e-1, 1e-2, 1e-3 with bootstrap errors (--bootstrap resamples of both classes); a TPR is
"not resolved" when fewer than --min-bkg-above background jets lie above its threshold.

Modes:  (default) train every --runs item (ARCH:raw|sqrt) in both directions, score, write
        --json and --md, and the trained weights under OUT/torch_models/;
        --rescore  score the saved weights again (e.g. after more background was generated);
        --merge    join result JSONs of several runs into one --json/--md;
        --probe-every N  also print the test AUCs every N epochs (AUC against training length);
        --speed    training images/s, encode µs at batch 1 and images/s at batch 1024, per thread
                   count (one child process each), printed as JSON (also --json).
Usage: toptag_torch.py [--data /work/wt/toptag_data] [--threads 1] [--epochs 10] [--runs ARCH:TRANSFORM[:EPOCHS],...] [--json F --md F]
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np
import torch
from torch import nn

FPRS = (1e-1, 1e-2, 1e-3)
ARCHS = ("cnn-prelu", "cnn-leaky", "mlp")


# ---------------------------------------------------------------- nets
def activation(kind):
    return nn.PReLU() if kind == "prelu" else nn.LeakyReLU(0.01)


def build(arch, latent=None):
    """(encoder, decoder) for an arch name; images are N×1×40×40 in and out."""
    if arch.startswith("cnn-"):
        a = arch[4:]
        z = latent or 32
        enc = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), activation(a),
                            nn.Conv2d(8, 16, 3, stride=2, padding=1), activation(a),
                            nn.Conv2d(16, 32, 3, stride=2, padding=1), activation(a),
                            nn.Flatten(), nn.Linear(3200, z), activation(a))
        dec = nn.Sequential(nn.Linear(z, 3200), activation(a), nn.Unflatten(1, (32, 10, 10)),
                            nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), activation(a),
                            nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), activation(a),
                            nn.Conv2d(8, 1, 3, padding=1))
        return enc, dec
    if arch == "mlp":
        dims = [1600, 200, 100, 50, latent or 15]
        enc = [nn.Flatten()]
        for i in range(4):
            enc += [nn.Linear(dims[i], dims[i + 1]), nn.LeakyReLU(0.01)]
        r = dims[::-1]
        dec = []
        for i in range(4):
            dec.append(nn.Linear(r[i], r[i + 1]))
            if i < 3:
                dec.append(nn.LeakyReLU(0.01))
        dec.append(nn.Unflatten(1, (1, 40, 40)))
        return nn.Sequential(*enc), nn.Sequential(*dec)
    raise SystemExit(f"--archs: unknown arch '{arch}' (choose from {', '.join(ARCHS)})")


def forward_macs(model):
    """Multiply-accumulates of one image's forward pass, from the layers' output shapes."""
    macs = []

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            macs.append(out[0].numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1])
        elif isinstance(m, nn.ConvTranspose2d):
            macs.append(inp[0][0].numel() * m.out_channels * m.kernel_size[0] * m.kernel_size[1])
        elif isinstance(m, nn.Linear):
            macs.append(m.in_features * m.out_features)

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    with torch.no_grad():
        model(torch.zeros(1, 1, 40, 40))
    for h in hs:
        h.remove()
    return macs


def flops(arch):
    enc, dec = build(arch)
    m_enc, m_all = forward_macs(enc), forward_macs(nn.Sequential(enc, dec))
    fwd = 2 * sum(m_all)
    # training: forward + weight gradients (= forward) + input gradients of all but the first layer
    return {"forward": fwd, "encode": 2 * sum(m_enc), "train": 2 * fwd + 2 * sum(m_all[1:])}


# ---------------------------------------------------------------- data and scores
def load(data, name):
    path = os.path.join(data, name)
    if not os.path.exists(path):
        raise SystemExit(f"{path}: missing (run benches/compare/toptag_images.py first)")
    x = np.load(path, mmap_mode="r")
    if x.ndim != 4 or x.shape[1:] != (1, 40, 40) or x.dtype != np.float32:
        raise SystemExit(f"{path}: expected N×1×40×40 float32, got {x.shape} {x.dtype}")
    return x


def prepare(x, transform, scale):
    """What the net sees: the pixels (or their square roots) times a constant scale."""
    if not isinstance(x, torch.Tensor):
        x = torch.from_numpy(np.array(x, dtype=np.float32))
    return (torch.sqrt(x) if transform == "sqrt" else x) * scale


def scores(enc, dec, x, transform, log_eps, scale, batch=2048):
    """Per-image anomaly scores of raw images x (numpy N×1×40×40) → {score name: array}."""
    out = {k: [] for k in (("mse_sqrt",) if transform == "sqrt" else ("mse", "mse_norm", "mse_log"))}
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            raw = torch.from_numpy(np.array(x[i:i + batch], dtype=np.float32))
            inp = prepare(raw, transform, scale)
            rec = dec(enc(inp))  # mse below is scale² × the unscaled one: the same AUC
            mse = ((rec - inp) ** 2).flatten(1).mean(1)
            if transform == "sqrt":
                out["mse_sqrt"].append(mse)
                continue
            out["mse"].append(mse)
            out["mse_norm"].append(mse / (raw ** 2).flatten(1).sum(1))
            lg = (torch.log(raw + log_eps) - torch.log(rec.clamp(min=0) / scale + log_eps)) ** 2
            out["mse_log"].append(lg.flatten(1).mean(1))
    return {k: torch.cat(v).double().numpy() for k, v in out.items()}


def auc(sig, bkg):
    """P(s > b) + ½ P(s = b), by average ranks (Mann–Whitney)."""
    v = np.concatenate([bkg, sig])
    _, inv, cnt = np.unique(v, return_inverse=True, return_counts=True)
    rank = (np.cumsum(cnt) - (cnt - 1) / 2.0)[inv]
    ns, nb = len(sig), len(bkg)
    return float((rank[nb:].sum() - ns * (ns + 1) / 2.0) / (ns * nb))


def tpr_at(sig, bkg, fpr, min_above):
    """TPR at the threshold that leaves floor(fpr·Nb) background jets above it; None if fewer than
    min_above background jets would lie above (FPR not resolved by this background count)."""
    k = int(np.floor(fpr * len(bkg)))
    if k < min_above:
        return None
    thr = np.sort(bkg)[::-1][k]  # the (k+1)-th highest background score
    return float(np.mean(sig > thr))


def metrics(sig, bkg, n_boot, min_above, seed):
    r = {"n_anomaly": len(sig), "n_background": len(bkg), "auc": auc(sig, bkg)}
    for f in FPRS:
        r[f"tpr@{f:g}"] = tpr_at(sig, bkg, f, min_above)
    rng = np.random.default_rng(seed)
    boots = {k: [] for k in r if k == "auc" or (k.startswith("tpr") and r[k] is not None)}
    for _ in range(n_boot):
        s, b = sig[rng.integers(0, len(sig), len(sig))], bkg[rng.integers(0, len(bkg), len(bkg))]
        for k in boots:
            boots[k].append(auc(s, b) if k == "auc" else tpr_at(s, b, float(k[4:]), min_above))
    for k, v in boots.items():
        r[f"{k}_err"] = float(np.std(v, ddof=1))
        r[f"{k}_p16_p84"] = [float(np.percentile(v, 16)), float(np.percentile(v, 84))]
    return r


# ---------------------------------------------------------------- training
def parse_runs(spec):
    """'cnn-prelu:raw,mlp:sqrt:30' → [(arch, transform, epochs or None)]."""
    out = []
    for item in spec.split(","):
        f = item.split(":")
        ok = len(f) in (2, 3) and f[0] in ARCHS and f[1] in ("raw", "sqrt") and (len(f) == 2 or f[2].isdigit() and int(f[2]) > 0)
        if not ok:
            raise SystemExit(f"--runs: bad item '{item}' (ARCH:raw|sqrt[:EPOCHS], ARCH one of {', '.join(ARCHS)})")
        out.append((f[0], f[1], int(f[2]) if len(f) == 3 else None))
    return out


def train(arch, x, a, seed, epochs, probe=None):
    """Train one net; probe(enc, dec) → dict is called every --probe-every epochs (AUC against epochs)."""
    torch.manual_seed(seed)
    enc, dec = build(arch)
    model = nn.Sequential(enc, dec)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    gen = torch.Generator().manual_seed(seed + 1)
    n, hist, probes = len(x), [], []
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        tot = 0.0
        for i in range(0, n, a.batch):
            xb = x[perm[i:i + a.batch]]
            opt.zero_grad(set_to_none=True)
            loss = ((model(xb) - xb) ** 2).mean()
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * len(xb)
        hist.append(tot / n)
        if probe and a.probe_every and len(hist) % a.probe_every == 0:
            t1 = time.perf_counter()
            enc.eval(), dec.eval()
            probes.append({"epoch": len(hist), **probe(enc, dec)})
            enc.train(), dec.train()
            print(f"  {arch} epoch {len(hist)}: loss {hist[-1]:.3e} {probes[-1]}", flush=True)
            t0 += time.perf_counter() - t1  # probing is not training time
    info = {"train_loss_per_epoch": hist, "train_wall_s": time.perf_counter() - t0}
    if probes:
        info["probes"] = probes
    return enc.eval(), dec.eval(), info


def run_all(a):
    torch.set_num_threads(a.threads)
    models_dir = a.models_dir or os.path.join(a.data, "torch_models")
    os.makedirs(models_dir, exist_ok=True)
    test = {c: load(a.data, f"{c}_test.npy") for c in ("top", "qcd")}
    extra = {c: load(a.data, f"{c}_extra.npy")[:a.extra_max] for c in ("top", "qcd")}
    res = {"what": "top vs QCD, particle level, generated (toptag_images.py)", "torch": torch.__version__,
           "threads": a.threads, "cpu": platform.processor() or platform.machine(),
           "config": {k: getattr(a, k) for k in ("epochs", "batch", "lr", "seed", "log_eps", "bootstrap", "min_bkg_above", "extra_max", "rescore")},
           "optimiser": "Adam (default betas, eps), constant lr, MSE mean over pixels", "runs": []}
    t_all = time.perf_counter()
    for arch, transform, run_epochs in parse_runs(a.runs):
        for tr in a.train_on.split(","):
            if tr not in ("qcd", "top"):
                raise SystemExit(f"--train-on: '{tr}' is not qcd or top")
            an = "top" if tr == "qcd" else "qcd"
            if True:
                name = f"{arch}_{tr}_{transform}"
                path = os.path.join(models_dir, name + ".pt")
                seed = a.seed
                if a.rescore:
                    if not os.path.exists(path):
                        raise SystemExit(f"--rescore: {path} missing (train {arch}:{transform} first)")
                    ck = torch.load(path)
                    enc, dec = build(arch)
                    nn.Sequential(enc, dec).load_state_dict(ck["state"])
                    enc.eval(), dec.eval()
                    info = ck["info"]
                else:
                    xtr = prepare(load(a.data, f"{tr}_train.npy"), transform, a.scale)
                    epochs = run_epochs or a.epochs
                    def probe(e, d, tr=tr, an=an, transform=transform):
                        sa, sb = (scores(e, d, test[c], transform, a.log_eps, a.scale) for c in (an, tr))
                        return {f"auc_{k}": round(auc(sa[k], sb[k]), 4) for k in sa}
                    enc, dec, info = train(arch, xtr, a, seed, epochs, probe)
                    info.update({"n_train": len(xtr), "seed": seed, "epochs": epochs, "batch": a.batch, "lr": a.lr,
                                 "scale": a.scale})
                    tmp = path + ".tmp"
                    torch.save({"state": nn.Sequential(enc, dec).state_dict(), "info": info}, tmp)
                    os.replace(tmp, path)
                t0 = time.perf_counter()
                sc_ = info.get("scale", 1.0)
                s_an = scores(enc, dec, test[an], transform, a.log_eps, sc_)
                s_bk = scores(enc, dec, test[tr], transform, a.log_eps, sc_)
                s_ex = scores(enc, dec, extra[tr], transform, a.log_eps, sc_) if len(extra[tr]) else None
                for sc in s_an:
                    run = {"arch": arch, "train_on": tr, "anomaly": an, "transform": transform, "score": sc,
                           "model": path, "training": info,
                           "standard": metrics(s_an[sc], s_bk[sc], a.bootstrap, a.min_bkg_above, a.seed)}
                    if s_ex is not None:
                        run["extended"] = metrics(s_an[sc], np.concatenate([s_bk[sc], s_ex[sc]]),
                                                  a.bootstrap, a.min_bkg_above, a.seed)
                    res["runs"].append(run)
                    st = run["standard"]
                    print(f"{arch:<10} train {tr:<3} transform {transform:<4} {sc:<9} AUC {st['auc']:.3f} ± "
                          f"{st['auc_err']:.3f}  (train {info['train_wall_s']:.0f} s, final loss "
                          f"{info['train_loss_per_epoch'][-1]:.3e}, score {time.perf_counter() - t0:.0f} s)", flush=True)
    res["wall_s"] = time.perf_counter() - t_all
    return res


# ---------------------------------------------------------------- markdown
def fmt_tpr(m, f):
    v = m.get(f"tpr@{f:g}")
    return "not resolved" if v is None else f"{v:.3f} ± {m[f'tpr@{f:g}_err']:.3f}"


def markdown(res):
    c = res["config"]
    lines = [f"PyTorch {res['torch']}, {res['threads']} thread(s), batch {c['batch']}, "
             f"Adam lr {c['lr']}, seed {c['seed']}; {c['bootstrap']} bootstrap resamples; a TPR needs ≥ "
             f"{c['min_bkg_above']} background jets above its threshold. Particle level, generated.", ""]
    for key, title in (("standard", "Standard test set (4 000 + 4 000)"), ("extended", "Background extended with the extra generated jets")):
        rows = [r for r in res["runs"] if key in r]
        if not rows:
            continue
        lines += [f"**{title}**", "", "| net | scale | epochs | trained on | anomaly | score | AUC | TPR@1e-1 | TPR@1e-2 | TPR@1e-3 | N anom / N bkg |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            m = r[key]
            lines.append(f"| {r['arch']} | {r['training'].get('scale', 1.0):g} | {r['training']['epochs']} | {r['train_on']} | {r['anomaly']} | {r['score']} | {m['auc']:.3f} ± {m['auc_err']:.3f} | "
                         + " | ".join(fmt_tpr(m, f) for f in FPRS) + f" | {m['n_anomaly']} / {m['n_background']} |")
        lines.append("")
    walls = [(r["arch"], r["training"].get("scale", 1.0), r["train_on"], r["transform"], r["training"]["train_wall_s"])
             for r in res["runs"] if r["score"] in ("mse", "mse_sqrt")]
    lines.append("Training wall time (s; loaded machine): " + ", ".join(f"{a} ×{s:g} {t} {x}: {w:.0f}" for a, s, t, x, w in walls))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- speed
def best(fn, reps=3):
    t = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


def speed_child(a, threads):
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    x = torch.from_numpy(np.array(load(a.data, "qcd_train.npy")[:a.speed_images], dtype=np.float32))
    out = {"threads": threads}
    for arch in a.archs.split(","):
        torch.manual_seed(a.seed)
        enc, dec = build(arch)
        model = nn.Sequential(enc, dec)
        opt = torch.optim.Adam(model.parameters(), lr=a.lr)

        def epoch():
            for i in range(0, len(x), a.batch):
                xb = x[i:i + a.batch]
                opt.zero_grad(set_to_none=True)
                ((model(xb) - xb) ** 2).mean().backward()
                opt.step()

        for i in range(0, 20 * a.batch, a.batch):  # warm-up
            xb = x[i % len(x):i % len(x) + a.batch]
            opt.zero_grad(set_to_none=True)
            ((model(xb) - xb) ** 2).mean().backward()
            opt.step()
        t_train = best(epoch, 2)
        f = flops(arch)
        r = {"train_images_per_s": len(x) / t_train, "train_gflops": f["train"] * len(x) / t_train / 1e9,
             "train_batch": a.batch}
        model.eval()
        with torch.inference_mode():
            rows = [x[i:i + 1] for i in range(min(2000, len(x)))]
            for xr in rows[:200]:
                enc(xr)
            t1 = best(lambda: [enc(xr) for xr in rows])
            tb = best(lambda: [enc(x[i:i + 1024]) for i in range(0, len(x), 1024)])
            tr = best(lambda: [model(x[i:i + 1024]) for i in range(0, len(x), 1024)])
        r.update({"encode_b1_us": t1 / len(rows) * 1e6, "encode_b1024_images_per_s": len(x) / tb,
                  "encode_b1024_gflops": f["encode"] * len(x) / tb / 1e9,
                  "reconstruct_b1024_images_per_s": len(x) / tr, "flops_per_image": f})
        out[arch] = r
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return out


def speed(a):
    runs = []
    for t in [int(s) for s in a.speed_threads.split(",")]:
        cmd = [sys.executable, os.path.abspath(__file__), "--speed-child", str(t), "--data", a.data, "--archs", a.archs,
               "--batch", str(a.batch), "--lr", str(a.lr), "--seed", str(a.seed), "--speed-images", str(a.speed_images)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            sys.stderr.write(p.stderr)
            raise SystemExit(f"speed child at {t} thread(s) failed")
        runs.append(json.loads(p.stdout))
    return {"tool": "pytorch", "torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
            "images": a.speed_images, "runs": runs}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/work/wt/toptag_data", help="toptag_images.py's output directory")
    ap.add_argument("--runs", default="cnn-prelu:raw,cnn-prelu:sqrt,cnn-leaky:raw,cnn-leaky:sqrt,mlp:raw,mlp:sqrt",
                    help="ARCH:TRANSFORM items to train (each in both directions)")
    ap.add_argument("--archs", default=",".join(ARCHS), help="--speed: the nets to time")
    ap.add_argument("--extra-max", type=int, default=30000, help="extra background jets used per class")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=10, help="epochs of a --runs item without its own")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--log-eps", type=float, default=1e-3)
    ap.add_argument("--scale", type=float, default=40.0,
                    help="multiply what the net sees by this constant (1: unit intensity, where the top-trained CNN collapses)")
    ap.add_argument("--bootstrap", type=int, default=500)
    ap.add_argument("--min-bkg-above", type=int, default=10)
    ap.add_argument("--train-on", default="qcd,top", help="directions: the class(es) to train on")
    ap.add_argument("--models-dir", help="where the trained weights go (default DATA/torch_models)")
    ap.add_argument("--probe-every", type=int, default=0, help="print the test AUCs every N epochs (0: off)")
    ap.add_argument("--rescore", action="store_true", help="score the saved weights again, no training")
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--speed-threads", default="1,2")
    ap.add_argument("--speed-images", type=int, default=8192)
    ap.add_argument("--speed-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--merge", nargs="+", metavar="JSON", help="join result files of this script into one --json/--md")
    ap.add_argument("--json")
    ap.add_argument("--md")
    a = ap.parse_args()
    if a.bootstrap < 200:
        raise SystemExit(f"--bootstrap {a.bootstrap}: use at least 200 resamples")
    for p in (a.json, a.md):  # fail before the work when an output cannot be written
        if p and not os.access(os.path.dirname(os.path.abspath(p)), os.W_OK):
            raise SystemExit(f"{p}: directory not writable")
    if a.speed_child:
        print(json.dumps(speed_child(a, a.speed_child)))
        return
    if a.merge:
        parts = [json.load(open(f)) for f in a.merge]
        res = parts[0]
        for q in parts[1:]:
            res["runs"] += q["runs"]
            res["wall_s"] += q["wall_s"]
        res["merged_from"] = a.merge
    else:
        res = speed(a) if a.speed else run_all(a)
    if not a.speed:
        text = markdown(res)
        print(text)
        if a.md:
            open(a.md + ".tmp", "w").write(text)
            os.replace(a.md + ".tmp", a.md)
    else:
        print(json.dumps(res, indent=1))
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            json.dump(res, f, indent=1)
        os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()
