#!/usr/bin/env bash
# hepae's conv-ae beside the PyTorch peer (toptag_torch.py --speed, net cnn-leaky = the same
# reference CNN AE, LeakyReLU 0.01) on the same 8 192 jet images (particle level, generated),
# in the same run, alternating hepae / PyTorch PAIRS times (default 3). Prints per quantity
# hepae, PyTorch and the ratio min/median/max over the pairs:
#   training images/s at 1 and 2 threads (batch 128, Adam, MSE; epoch 2 of 2 timed, epoch 1 warms up),
#   encode µs per image at batch 1, encode images/s at batch 1024 (1 thread),
#   achieved GFLOP/s (5.99 MFLOP per forward; a training image counts 3× that; encode 2.28 MFLOP).
# Usage: benches/compare/conv_speed.sh [DATA_DIR] [PAIRS]
#   DATA_DIR: toptag_images.py's output (default /work/wt/toptag_data); the 8 192-image slice
#   and the scratch models go to a temporary directory, removed at the end.
# Environment: ACT (leaky, the default: LeakyReLU 0.01 in both, PyTorch cnn-leaky; prelu: hepae
# --activation prelu beside cnn-prelu, nn.PReLU() after every hidden layer: the issue's net), N (images,
# default 8192), HEPAE (default target/release/hepae), PYTHON (python3), TORCH_PY
# (benches/compare/toptag_torch.py). Run it on a quiet machine: every figure is wall-clock.
set -euo pipefail
DATA=${1:-/work/wt/toptag_data}
PAIRS=${2:-3}
HEPAE=${HEPAE:-target/release/hepae}
PYTHON=${PYTHON:-python3}
TORCH_PY=${TORCH_PY:-benches/compare/toptag_torch.py}
N=${N:-8192}
ACT=${ACT:-leaky}
case "$ACT" in leaky | prelu) ;; *) echo "ACT=$ACT: not leaky or prelu" >&2; exit 1 ;; esac
FWD_MFLOP=5.99
[ -x "$HEPAE" ] || { echo "$HEPAE: not built (cargo build --release --bin hepae)" >&2; exit 1; }
[ -f "$TORCH_PY" ] || { echo "$TORCH_PY: missing (the PyTorch peer)" >&2; exit 1; }
[ -f "$DATA/qcd_train.npy" ] || { echo "$DATA/qcd_train.npy: missing (run toptag_images.py)" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$PYTHON" - "$DATA/qcd_train.npy" "$TMP/speed.npy" "$N" <<'EOF'
import sys, numpy as np
x = np.load(sys.argv[1], mmap_mode="r")[: int(sys.argv[3])]
np.save(sys.argv[2], np.ascontiguousarray(x, dtype=np.float32))
EOF
echo "net: hepae --activation $ACT beside PyTorch cnn-$ACT; load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
: >"$TMP/rows.tsv"
for pair in $(seq 1 "$PAIRS"); do
    # hepae: training (history CSV: epoch,train_loss,val_loss,seconds; epoch 2 is timed)
    for t in 1 2; do
        "$HEPAE" train "$TMP/speed.npy" --model conv-ae --activation "$ACT" --image-shape 1x40x40 --norm none --epochs 2 --batch 128 --val-fraction 0 \
            --threads "$t" --seed 1 -o "$TMP/m$t.safetensors" -q
        s=$(awk -F, 'NR==3 {print $4}' "$TMP/m$t.history.csv")
        echo -e "$pair\thepae\ttrain_images_per_s_${t}t\t$(echo "$N / $s" | bc -l)" >>"$TMP/rows.tsv"
    done
    "$HEPAE" bench "$TMP/m1.safetensors" --no-train --threads 1 --batch 1,1024 --rows "$N" --reps 3 \
        --json "$TMP/bench.json" >/dev/null
    "$PYTHON" - "$TMP/bench.json" "$pair" >>"$TMP/rows.tsv" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["rows"]
enc = {x["batch"]: x for x in r if x["what"].startswith("encode") and x["threads"] == 1}
print(f"{sys.argv[2]}\thepae\tencode_b1_us\t{enc[1]['us_per_jet']}")
print(f"{sys.argv[2]}\thepae\tencode_b1024_images_per_s\t{enc[1024]['jets_per_s']}")
EOF
    # PyTorch: the same net, the same images, 1 and 2 threads (one child process each)
    "$PYTHON" "$TORCH_PY" --speed --archs "cnn-$ACT" --data "$DATA" --speed-images "$N" --batch 128 \
        --json "$TMP/torch.json" >/dev/null
    "$PYTHON" - "$TMP/torch.json" "$pair" "cnn-$ACT" >>"$TMP/rows.tsv" <<'EOF'
import json, sys
for run in json.load(open(sys.argv[1]))["runs"]:
    t, r = run["threads"], run[sys.argv[3]]
    print(f"{sys.argv[2]}\tpytorch\ttrain_images_per_s_{t}t\t{r['train_images_per_s']}")
    if t == 1:
        print(f"{sys.argv[2]}\tpytorch\tencode_b1_us\t{r['encode_b1_us']}")
        print(f"{sys.argv[2]}\tpytorch\tencode_b1024_images_per_s\t{r['encode_b1024_images_per_s']}")
EOF
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PYTHON" - "$TMP/rows.tsv" "$FWD_MFLOP" <<'EOF'
import sys, statistics as st
from collections import defaultdict
v = defaultdict(dict)
for line in open(sys.argv[1]):
    pair, tool, what, x = line.split("\t")
    v[(what, tool)][int(pair)] = float(x)
fwd = float(sys.argv[2]) * 1e6
enc = 2.2784e6  # the encoder's FLOP per image: convs 0.2304 + 0.9216 + 0.9216 M, dense 0.2048 M
print(f"{'quantity':30} {'hepae (median)':>15} {'PyTorch (median)':>17} {'ratio min/median/max (hepae/PyTorch; µs: PyTorch/hepae)':>20}")
for what in ["train_images_per_s_1t", "train_images_per_s_2t", "encode_b1_us", "encode_b1024_images_per_s"]:
    h, p = v[(what, "hepae")], v[(what, "pytorch")]
    pairs = sorted(set(h) & set(p))
    ratios = [(p[k] / h[k]) if what.endswith("_us") else (h[k] / p[k]) for k in pairs]
    hm, pm = st.median(h[k] for k in pairs), st.median(p[k] for k in pairs)
    line = f"{what:30} {hm:15.1f} {pm:17.1f}   {min(ratios):.2f} / {st.median(ratios):.2f} / {max(ratios):.2f}"
    if what.startswith("train"):
        line += f"   GFLOP/s hepae {hm * 3 * fwd / 1e9:.1f}, PyTorch {pm * 3 * fwd / 1e9:.1f}"
    if what == "encode_b1024_images_per_s":
        line += f"   GFLOP/s (encoder, 2.28 MFLOP) hepae {hm * enc / 1e9:.1f}, PyTorch {pm * enc / 1e9:.1f}"
    print(line)
for what in ["train_images_per_s_1t", "train_images_per_s_2t"]:
    h, p = v[(what, "hepae")], v[(what, "pytorch")]
    print(f"  {what} per pair (hepae / PyTorch = ratio):",
          ", ".join(f"{h[k]:.0f} / {p[k]:.0f} = {h[k] / p[k]:.2f}" for k in sorted(set(h) & set(p))))
EOF
