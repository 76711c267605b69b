#!/usr/bin/env bash
# hepae's side of the top-vs-QCD jet-image benchmark (issue 15; particle level, generated), on
# the images and split toptag_images.py wrote (the same files the PyTorch peer toptag_torch.py
# trains on): conv-ae (the reference CNN AE, LeakyReLU 0.01) and the MLP AE (1600-200-100-50-15)
# trained on 15 000 QCD and on 15 000 top images (raw unit-intensity pixels: --norm none; batch
# 128, Adam lr 1e-3 constant, seed 1, no validation split, 1 thread; CNN_EPOCHS / MLP_EPOCHS as
# the peer: 10 / 30), then `hepae roc` per direction for the conv-ae on the 4 000 + 4 000 test
# jets (scores mse, mse-norm, mse-log, 500 bootstrap replicas; its ROC figures), and the figures
# of the QCD-trained conv-ae into FIG. The full table (both nets, both directions, the extended
# background, TPR at 1e-1) is toptag_table.py's, run after this on the models in OUT.
# Usage: benches/compare/toptag_hepae.sh [DATA_DIR] [OUT_DIR] [FIG_DIR]
# The MLP reads flattened copies DATA/*_flat.npy (the same pixels as N×1600 tables).
set -euo pipefail
DATA=${1:-/work/wt/toptag_data}
OUT=${2:-$DATA/hepae}
FIG=${3:-benches/figures/toptag}
HEPAE=${HEPAE:-target/release/hepae}
CNN_EPOCHS=${CNN_EPOCHS:-10}
MLP_EPOCHS=${MLP_EPOCHS:-30}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT" "$FIG"
for n in qcd_train top_train qcd_test top_test qcd_test_plus_extra; do
    [ -f "$DATA/${n}_flat.npy" ] && [ -f "$DATA/$n.npy" ] && continue
    "$PYTHON" - "$DATA" "$n" <<'EOF'
import sys, os, numpy as np
d, n = sys.argv[1], sys.argv[2]
if n == "qcd_test_plus_extra" and not os.path.exists(f"{d}/{n}.npy"):
    np.save(f"{d}/{n}.npy", np.concatenate([np.load(f"{d}/qcd_test.npy"), np.load(f"{d}/qcd_extra.npy")]))
x = np.load(f"{d}/{n}.npy", mmap_mode="r")
np.save(f"{d}/{n}_flat.npy", np.ascontiguousarray(x.reshape(len(x), -1)))
EOF
done
common=(--norm none --batch 128 --lr 1e-3 --lr-schedule constant --val-fraction 0 --threads 1 --seed 1 -q)
train() { # NAME FILE EPOCHS ARGS...
    local name=$1 file=$2 ep=$3
    shift 3
    [ -f "$OUT/$name.safetensors" ] && return
    local t0=$SECONDS
    nice -n 10 "$HEPAE" train "$file" "${common[@]}" --epochs "$ep" -o "$OUT/$name.safetensors" "$@"
    echo "$name: trained in $((SECONDS - t0)) s" | tee -a "$OUT/train_times.txt"
}
train conv_qcd "$DATA/qcd_train.npy" "$CNN_EPOCHS" --model conv-ae --image-shape 1x40x40 &
train conv_top "$DATA/top_train.npy" "$CNN_EPOCHS" --model conv-ae --image-shape 1x40x40 &
wait
train mlp_qcd "$DATA/qcd_train_flat.npy" "$MLP_EPOCHS" --model ae --hidden 200,100,50 --latent 15 &
train mlp_top "$DATA/top_train_flat.npy" "$MLP_EPOCHS" --model ae --hidden 200,100,50 --latent 15 &
wait
roc() { # MODEL BKG SIG TAG
    nice -n 10 "$HEPAE" roc "$OUT/$1.safetensors" --background "$2" --signal "$3" --score mse,mse-norm,mse-log \
        --bootstrap 500 --json "$OUT/roc_$4.json" ${5:+--plot "$5"} | tee "$OUT/roc_$4.txt"
}
roc conv_qcd "$DATA/qcd_test.npy" "$DATA/top_test.npy" conv_qcd "$OUT/roc_conv_qcd"
roc conv_top "$DATA/top_test.npy" "$DATA/qcd_test.npy" conv_top "$OUT/roc_conv_top"

# Figures: all drawn into OUT, the small ones (< 2 MB together) copied into FIG.
for on in qcd top; do
    nice -n 10 "$HEPAE" plot "$OUT/conv_qcd.safetensors" "$DATA/${on}_test.npy" -o "$OUT/fig_conv_qcd_on_$on" -q
    for f in image_mean.png image_examples.png pixel_spectrum.png; do
        cp "$OUT/fig_conv_qcd_on_$on/$f" "$FIG/conv_qcd_on_${on}_$f"
    done
done
cp "$OUT/fig_conv_qcd_on_qcd/loss.svg" "$FIG/conv_qcd_loss.svg"
cp "$OUT/roc_conv_qcd/roc.png" "$FIG/conv_qcd_roc.png"
cp "$OUT/roc_conv_top/roc.png" "$FIG/conv_top_roc.png"
du -ch "$FIG"/* | tail -1
