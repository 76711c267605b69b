#!/usr/bin/env bash
# hepae against PyTorch on the CPU, same machine, same run, alternating:
# hepae, torch, hepae, torch, ... (--reps each, default 3) at 1 and 2 threads. Same
# architecture (D-200-100-50-15-50-100-200-D, LeakyReLU 0.01, linear output, PyTorch nn.Linear
# init), MSE, Adam 1e-3, batch 512, same data (synthetic jets resampled from the embedded real
# sample, min-max scaled). Prints ratios hepae/PyTorch with min/median/max over the pairs for
# training samples/s, encode µs/jet at batch 1, encode jets/s at batch 4096, and peak RSS.
#
# Usage: benches/compare/run.sh [--quick] [--reps N] [--rows N] [--threads "1 2"]
# Installs numpy and torch with pip when missing. Writes benches/compare/out/*.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
reps=3; rows=200000; threads="1 2"; quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; reps=1; rows=50000 ;;
    --reps) reps="$2"; shift ;;
    --rows) rows="$2"; shift ;;
    --threads) threads="$2"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
python3 -c "import torch, numpy" 2>/dev/null || python3 -m pip install --quiet numpy torch
cargo build --release --quiet
bin=target/release/hepae
out=benches/compare/out
mkdir -p "$out"
# Data: the embedded real jets (24 variables), resampled with jitter to $rows rows.
$bin import datasets/ttbar_nano_v15.csv -o "$out/real24.npy" --first-columns 24 >/dev/null
$bin synth --like "$out/real24.npy" --rows "$rows" -o "$out/jets.npy" >/dev/null
# A reference model for hepae bench (architecture matters, weights do not).
$bin train "$out/real24.npy" -o "$out/ref.safetensors" --epochs 1 --quiet
rm -f "$out"/pairs.jsonl
for t in $threads; do
  for r in $(seq 1 "$reps"); do
    /usr/bin/time -f '%M' -o "$out/rss_h" $bin bench "$out/ref.safetensors" --threads "$t" --batch 1,4096 --rows "$rows" --reps 3 --json "$out/h.json" >/dev/null
    python3 benches/compare/torch_side.py "$out/jets.npy" --threads "$t" > "$out/t.json"
    python3 - "$out" "$t" >> "$out/pairs.jsonl" <<'PY'
import json, sys
out, t = sys.argv[1], int(sys.argv[2])
h = json.load(open(f"{out}/h.json")); p = json.load(open(f"{out}/t.json"))
def get(what, batch):
    return next(r for r in h["rows"] if r["what"] == what and r["batch"] == batch)
rec = {"threads": t,
       "hepae": {"train_samples_per_s": get("train", 512)["jets_per_s"], "encode_b1_us": get("encode", 1)["us_per_jet"] * t,
                 "encode_b4096_jets_per_s": get("encode", 4096)["jets_per_s"],
                 "peak_rss_mb": int(open(f"{out}/rss_h").read().split()[-1]) / 1024.0},
       "pytorch": p, "cpu": h["cpu"], "isa": h["isa"], "gemm": h["gemm"]}
print(json.dumps(rec))
PY
  done
done
python3 - "$out/pairs.jsonl" <<'PY'
import json, statistics, sys
pairs = [json.loads(l) for l in open(sys.argv[1])]
print(f"CPU: {pairs[0]['cpu']}   hepae kernels: {pairs[0]['isa']}, GEMM: {pairs[0]['gemm']}   torch {pairs[0]['pytorch']['torch']}")
keys = [("train_samples_per_s", "train samples/s (batch 512)", True),
        ("encode_b1_us", "encode µs/jet, batch 1 (per thread)", False),
        ("encode_b4096_jets_per_s", "encode jets/s, batch 4096", True),
        ("peak_rss_mb", "peak RSS MB (whole process)", False)]
for t in sorted({p["threads"] for p in pairs}):
    ps = [p for p in pairs if p["threads"] == t]
    print(f"\n{t} thread(s), {len(ps)} alternating pair(s)")
    print(f"  {'metric':<38}{'hepae':>14}{'pytorch':>14}   ratio hepae/pytorch min/median/max")
    for k, name, higher in keys:
        h = [p["hepae"][k] for p in ps]; q = [p["pytorch"][k] for p in ps]
        r = sorted(a / b for a, b in zip(h, q))
        print(f"  {name:<38}{statistics.median(h):>14,.2f}{statistics.median(q):>14,.2f}   "
              f"{r[0]:.2f} / {statistics.median(r):.2f} / {r[-1]:.2f}  ({'higher' if higher else 'lower'} is better)")
PY
