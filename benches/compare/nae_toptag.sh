#!/usr/bin/env bash
# The NAE on top vs QCD jet images, both directions (issue 16; particle level, generated).
# Inputs: the images of toptag_images.py (DATA/{qcd,top}_{train,test}.npy, qcd_test_plus_extra.npy),
# smoothed with a Gaussian σ = 2 pixels as the reference (nae_toptag_smooth.py → SMOOTH/, also
# N×1600 *_flat.npy copies), then multiplied by SCALE (default 100: each image sums to 100, pixels
# ≤ 4; at the raw unit-intensity scale, pixels ≤ 0.04, the dense AEs here learn little beyond the
# mean image) into SMOOTH/xSCALE/. Nets: the dense backbone (1600-200-100-50-3, spherical latent,
# LeakyReLU 0.01, linear output), --norm none, data-space samples clamped to [0, SCALE] (the
# reference's x_bound [0, 1] on its raw pixels: non-negative). Per direction (trained on A = qcd or
# top, B anomalous):
#   ae_A     plain MLP AE 1600-200-100-50-15 (the issue-15 recipe) on the smoothed images
#   pre_A    the NAE's pre-training alone (spherical latent 3, --nae-epochs 0)
#   nae_A    pre-training + NAE_EPOCHS NAE epochs (reference chains: 30 + 30 steps), NAE_ARGS
#            (default γ 100 ≈ 1/(2·E₊), nae_lr 1e-4, x noise 1e-2 = the reference's 1e-4 × SCALE)
# then `hepae roc --score energy` with 500 bootstrap replicas: top-trained against the 4 000 + 4 000
# test jets, QCD-trained against 11 000 QCD (test + extra) and 4 000 top test jets.
# Recipe: batch 128, AE pre-training PRE_EPOCHS epochs at lr 1e-3 constant, seed 1, 1 thread, no
# validation split. Usage: benches/compare/nae_toptag.sh [DATA] [SMOOTH] [OUT]
# (env: DIRS="top qcd"; run one direction per process to use two cores: DIRS=top …& DIRS=qcd …)
set -euo pipefail
DATA=${1:-/work/wt/toptag_data}
S=${2:-$DATA/smooth2}
SCALE=${SCALE:-100}
OUT=${3:-$DATA/nae_x$SCALE}
HEPAE=${HEPAE:-target/release/hepae}
PYTHON=${PYTHON:-python3}
PRE_EPOCHS=${PRE_EPOCHS:-30}
NAE_EPOCHS=${NAE_EPOCHS:-6}
NAE_ARGS=${NAE_ARGS:---nae-gamma 100 --nae-lr 1e-4 --nae-x-noise 1e-2}
DIRS=${DIRS:-top qcd}
mkdir -p "$OUT"
[ -f "$S/qcd_test_plus_extra_flat.npy" ] || "$PYTHON" benches/compare/nae_toptag_smooth.py "$DATA" "$S"
if [ "$SCALE" != 1 ]; then
    for n in qcd_train top_train qcd_test top_test qcd_test_plus_extra; do
        for f in "$n" "${n}_flat"; do
            [ -f "$S/x$SCALE/$f.npy" ] && continue
            mkdir -p "$S/x$SCALE"
            "$PYTHON" -c "import numpy as np, os; x = np.load('$S/$f.npy') * $SCALE; np.save('$S/x$SCALE/$f.tmp.npy', x.astype(np.float32)); os.replace('$S/x$SCALE/$f.tmp.npy', '$S/x$SCALE/$f.npy')"
        done
    done
    S=$S/x$SCALE
fi
common=(--norm none --batch 128 --lr 1e-3 --lr-schedule constant --val-fraction 0 --threads 1 --seed 1 -q
    --epochs "$PRE_EPOCHS")
nae=(--model nae --hidden 200,100,50 --latent 3 --nae-x-bound "0,$SCALE")
train() { # NAME FILE ARGS...
    local name=$1 file=$2
    shift 2
    [ -f "$OUT/$name.safetensors" ] && return
    /usr/bin/time -f "%e s wall, %U s user" -o "$OUT/$name.time" "$HEPAE" train "$file" "${common[@]}" -o "$OUT/$name.safetensors" "$@"
    echo "$name: $(cat "$OUT/$name.time") ($*)" | tee -a "$OUT/train_times.txt"
}
roc() { # NAME BKG SIG
    "$HEPAE" roc "$OUT/$1.safetensors" --background "$2" --signal "$3" --score mse --bootstrap 500 --threads 1 \
        --json "$OUT/roc_$1.json" | tee "$OUT/roc_$1.txt"
}
for a in $DIRS; do
    if [ "$a" = top ]; then b=qcd; bkg=$S/top_test_flat.npy; else b=top; bkg=$S/qcd_test_plus_extra_flat.npy; fi
    train "ae_$a" "$S/${a}_train_flat.npy" --model ae --hidden 200,100,50 --latent 15
    train "pre_$a" "$S/${a}_train_flat.npy" "${nae[@]}" --nae-epochs 0
    # shellcheck disable=SC2086
    train "nae_$a" "$S/${a}_train_flat.npy" "${nae[@]}" --nae-epochs "$NAE_EPOCHS" $NAE_ARGS
    for m in ae pre nae; do roc "${m}_$a" "$bkg" "$S/${b}_test_flat.npy"; done
done
