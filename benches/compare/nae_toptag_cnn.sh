#!/usr/bin/env bash
# The CNN-AE beside the NAE on the same smoothed images (issue 16; particle level, generated):
# hepae's conv-ae (the issue-15 reference CNN AE, LeakyReLU 0.01, latent 32) at the issue-15 recipe
# (10 epochs, batch 128, Adam lr 1e-3 constant, --norm none, seed 1, 1 thread, no validation split)
# on the σ = 2 smoothed images of nae_toptag_smooth.py, both directions, `hepae roc --score mse`
# (500 bootstrap replicas; top-trained: 4 000 + 4 000 test jets; QCD-trained: 11 000 QCD, 4 000 top).
# Usage: benches/compare/nae_toptag_cnn.sh [SMOOTH] [OUT]
set -euo pipefail
S=${1:-/work/wt/toptag_data/smooth2}
OUT=${2:-/work/wt/toptag_data/nae}
HEPAE=${HEPAE:-target/release/hepae}
mkdir -p "$OUT"
for a in top qcd; do
    if [ "$a" = top ]; then b=qcd; bkg=$S/top_test.npy; else b=top; bkg=$S/qcd_test_plus_extra.npy; fi
    if [ ! -f "$OUT/cnn_$a.safetensors" ]; then
        /usr/bin/time -f "%e s wall, %U s user" -o "$OUT/cnn_$a.time" "$HEPAE" train "$S/${a}_train.npy" \
            --model conv-ae --image-shape 1x40x40 --norm none --batch 128 --lr 1e-3 --lr-schedule constant \
            --val-fraction 0 --threads 1 --seed 1 -q --epochs 10 -o "$OUT/cnn_$a.safetensors"
        echo "cnn_$a: $(cat "$OUT/cnn_$a.time") (conv-ae, 10 epochs)" | tee -a "$OUT/train_times.txt"
    fi
    "$HEPAE" roc "$OUT/cnn_$a.safetensors" --background "$bkg" --signal "$S/${b}_test.npy" --score mse --bootstrap 500 \
        --threads 1 --json "$OUT/roc_cnn_$a.json" | tee "$OUT/roc_cnn_$a.txt"
done
