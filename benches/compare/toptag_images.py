#!/usr/bin/env python3
"""Jet images for the top-vs-QCD benchmark (particle level, generated), made once so that hepae and
the PyTorch peer train on exactly the same pixels.

Images come from the constituents (`*_constituents.npy`, `*_jets.npy`, `*_ncon.npy` in
../shared/data/toptag/) through the generator's own image function, `gen_jets.make_image`
(imported, not copied): centre on the pT-weighted centroid, principal axis vertical, hardest quadrant
upper right, 40×40 pixels over ±0.8, unit total intensity. The first 1 000 jets of each class are
checked against the shipped `*_images_ref.npy` and the agreement is written down.

Split, per class (rows of the 20 000-jet files, contiguous; the jets are independent events):
train rows [0, 15000), held out and unused [15000, 16000), test rows [16000, 20000).
Extra generated jets (`toptag_gen_background.sh` chunks, `qcd_s*.npz`, `top_s*.npz`) are test
background only; their images are the generator's (made by the same function).

Writes to OUT (default /work/wt/toptag_data, never inside the repository), each as N×1×40×40 float32:
  top_train.npy qcd_train.npy (15 000 each), top_test.npy qcd_test.npy (4 000 each),
  qcd_extra.npy top_extra.npy (all finished chunks, in seed order; 0 rows when none),
  split.json (sources, row ranges, chunk list, reference-image agreement).
Every file is written to NAME.tmp.npy and renamed when complete.
Usage: toptag_images.py [--data DIR] [--gen DIR] [--out DIR] [--gen-jets PATH] [--extra-only]
"""
import argparse
import glob
import hashlib
import importlib.util
import json
import os
import re
import sys
import types

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN, HELD, TEST = (0, 15000), (15000, 16000), (16000, 20000)


def find_shared():
    for cand in (os.path.join(ROOT, "..", "shared"), os.path.join(ROOT, "..", "..", "shared")):
        if os.path.isdir(os.path.join(cand, "data", "toptag")):
            return os.path.normpath(cand)
    return "/work/shared"


def import_gen_jets(path):
    """Import gen_jets.py for its image function. Its generator-only imports (pythia8mc, fastjet,
    awkward) are used in its main() alone; where they are not installed, empty placeholder modules
    stand in for them so that the module (and make_image, which needs only numpy) loads."""
    for name in ("awkward", "fastjet", "pythia8mc"):
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            sys.modules[name] = types.ModuleType(name)
    spec = importlib.util.spec_from_file_location("gen_jets", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def images_from_constituents(gj, const, jets, ncon, half_width=0.8):
    """N×200×4 (pT, η, φ, E) constituents and N×4 jets (pt, η, φ, m) → N×40×40, as gen_jets.main does."""
    out = np.zeros((len(const), gj.NPIX, gj.NPIX), np.float32)
    for i in range(len(const)):
        n = int(ncon[i])
        c = const[i, :n].astype(np.float64)
        eta, phi = float(jets[i, 1]), float(jets[i, 2])
        out[i] = gj.make_image(c[:, 0], c[:, 1] - eta, gj.dphi(c[:, 2], phi), half_width)
    return out


def save(out, name, arr):
    path = os.path.join(out, name)
    tmp = path[:-4] + ".tmp.npy"
    np.save(tmp, np.ascontiguousarray(arr, dtype=np.float32))
    os.replace(tmp, path)
    return path


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def extra_chunks(gen_dir, proc):
    """Finished chunks of one process, in seed order: [(path, seed, images N×40×40)]."""
    found = []
    for p in glob.glob(os.path.join(gen_dir, f"{proc}_s*.npz")):
        m = re.fullmatch(rf"{proc}_s(\d+)\.npz", os.path.basename(p))
        if m:
            found.append((int(m.group(1)), p))
    chunks = []
    for seed, p in sorted(found):
        with np.load(p) as z:
            img = z["images"].astype(np.float32)
            if img.ndim != 3 or img.shape[1:] != (40, 40) or not np.isfinite(img).all():
                sys.exit(f"{p}: images must be finite N×40×40, got {img.shape}")
            chunks.append((p, seed, img))
    return chunks


def main():
    shared = find_shared()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(shared, "data", "toptag"))
    ap.add_argument("--gen", default="/work/wt/toptag_data/gen", help="directory of extra generated chunks")
    ap.add_argument("--out", default="/work/wt/toptag_data")
    ap.add_argument("--gen-jets", default=os.path.join(shared, "tools", "gen_jets.py"))
    ap.add_argument("--extra-only", action="store_true",
                    help="refresh only *_extra.npy (and split.json) from the finished chunks")
    a = ap.parse_args()
    if os.path.realpath(a.out) == os.path.realpath(a.data):
        sys.exit(f"--out {a.out}: is the input directory; choose another")
    os.makedirs(a.out, exist_ok=True)
    if not os.access(a.out, os.W_OK):
        sys.exit(f"--out {a.out}: not writable")
    gj = import_gen_jets(a.gen_jets)

    old = os.path.join(a.out, "split.json")
    if a.extra_only and not os.path.exists(old):
        sys.exit(f"--extra-only: {old} missing (run once without it first)")
    prev = json.load(open(old)) if a.extra_only else None
    split = {"what": "top vs QCD jet images, particle level, generated; N×1×40×40 float32, unit intensity",
             "image_function": f"{os.path.abspath(a.gen_jets)}: make_image (half width 0.8, 40×40)",
             "rows": {"train": TRAIN, "held_out_unused": HELD, "test": TEST}, "classes": {}}
    for cls in ("top", "qcd"):
        if a.extra_only:
            entry = prev["classes"][cls]
            chunks = extra_chunks(a.gen, cls)
            extra = np.concatenate([c[2] for c in chunks])[:, None] if chunks else np.zeros((0, 1, 40, 40), np.float32)
            p = save(a.out, f"{cls}_extra.npy", extra)
            entry["files"]["extra"] = {"path": p, "rows": int(len(extra)), "sha256": sha256(p),
                                       "chunks": [{"file": c[0], "seed": c[1], "rows": int(len(c[2]))} for c in chunks]}
            print(f"{cls}: extra generated {len(extra)} jets from {len(chunks)} chunk(s)")
            split["classes"][cls] = entry
            continue
        src = {k: os.path.join(a.data, f"{cls}_{k}.npy") for k in ("constituents", "jets", "ncon", "images_ref")}
        const = np.load(src["constituents"], mmap_mode="r")
        jets, ncon, ref = np.load(src["jets"]), np.load(src["ncon"]), np.load(src["images_ref"])
        if const.ndim != 3 or const.shape[2] != 4 or len(const) < TEST[1]:
            sys.exit(f"{src['constituents']}: need ≥ {TEST[1]} rows of 200×4, got {const.shape}")
        img = images_from_constituents(gj, const, jets, ncon)
        diff = np.abs(img[:len(ref)] - ref)
        per_img = diff.reshape(len(ref), -1).max(1)
        agree = {"images_compared": int(len(ref)), "max_abs_pixel_diff": float(diff.max()),
                 "images_with_any_pixel_off_by_more_than_1e-6": int((per_img > 1e-6).sum()),
                 "mean_abs_pixel_diff": float(diff.mean())}
        print(f"{cls}: {len(img)} images from constituents; against {src['images_ref']}: {agree}")
        img = img[:, None]
        files = {}
        for part, (lo, hi) in (("train", TRAIN), ("test", TEST)):
            p = save(a.out, f"{cls}_{part}.npy", img[lo:hi])
            files[part] = {"path": p, "rows": hi - lo, "sha256": sha256(p)}
        chunks = extra_chunks(a.gen, cls)
        extra = np.concatenate([c[2] for c in chunks])[:, None] if chunks else np.zeros((0, 1, 40, 40), np.float32)
        p = save(a.out, f"{cls}_extra.npy", extra)
        files["extra"] = {"path": p, "rows": int(len(extra)), "sha256": sha256(p),
                          "chunks": [{"file": c[0], "seed": c[1], "rows": int(len(c[2]))} for c in chunks]}
        print(f"{cls}: extra generated {len(extra)} jets from {len(chunks)} chunk(s)")
        split["classes"][cls] = {"sources": src, "reference_image_agreement": agree, "files": files}
    tmp = os.path.join(a.out, "split.json.tmp")
    with open(tmp, "w") as f:
        json.dump(split, f, indent=1)
    os.replace(tmp, os.path.join(a.out, "split.json"))
    print(f"wrote {a.out}/split.json")


if __name__ == "__main__":
    main()
