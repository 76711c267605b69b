#!/usr/bin/env bash
# Cost of one NAE step (issue 16): hepae's `--model nae` beside benches/compare/nae_step_torch.py on
# the same net, batch and chains, in the SAME run, alternating hepae / PyTorch PAIRS times, 1 thread
# each. Nets: the dense backbone of the top-vs-QCD runs (1600-200-100-50-3, spherical; torch `mlp`)
# and the conv backbone (hepae's default conv net, latent 32 = torch `cnn-leaky`). Chains: the
# reference's 30 latent + 30 data-space steps, x bound [0, 1], gradient clip per image (hepae's
# rule; torch --clip-image), MH off. Data: the smoothed images (nae_toptag_smooth.py).
# hepae's step time: `MODEL.history.csv`'s seconds of the second NAE epoch (replay buffer warm)
# over its STEPS steps; PyTorch's: the median of STEPS timed steps after one warm-up step.
# Usage: benches/compare/nae_cost.sh [SMOOTH_DIR] [OUT_DIR]   (env: PAIRS=3 STEPS=4 BATCH=128 NETS="dense conv")
# Run here: the default for dense; NETS=conv STEPS=2 for conv (docs/nae.md, cost section).
set -euo pipefail
S=${1:-/work/wt/toptag_data/smooth2}
OUT=${2:-/work/wt/toptag_data/nae/cost}
HEPAE=${HEPAE:-target/release/hepae}
PYTHON=${PYTHON:-python3}
PAIRS=${PAIRS:-3}
STEPS=${STEPS:-4}
BATCH=${BATCH:-128}
NETS=${NETS:-dense conv}
mkdir -p "$OUT"
rows=$((BATCH * STEPS))
"$PYTHON" -c "import numpy as np,sys; x=np.load('$S/qcd_train.npy',mmap_mode='r')[:$rows]; np.save('$OUT/rows.npy',np.ascontiguousarray(x)); np.save('$OUT/rows_flat.npy',np.ascontiguousarray(x.reshape($rows,-1)))"
common=(--model nae --norm none --batch "$BATCH" --lr 1e-3 --lr-schedule constant --val-fraction 0 --threads 1 --seed 1 -q
    --epochs 1 --nae-epochs 2 --nae-x-bound 0,1)
echo "net pair tool step_s" > "$OUT/steps.txt"
for net in $NETS; do
    if [ "$net" = dense ]; then
        hargs=("$OUT/rows_flat.npy" --hidden 200,100,50 --latent 3)
        targs=(--arch mlp --latent 3)
    else
        hargs=("$OUT/rows.npy" --backbone conv --image-shape 1x40x40 --latent 32)
        targs=(--arch cnn-leaky --latent 32)
    fi
    for p in $(seq 1 "$PAIRS"); do
        rm -f "$OUT/m_$net.safetensors" "$OUT/m_$net.history.csv"
        "$HEPAE" train "${hargs[@]}" "${common[@]}" -o "$OUT/m_$net.safetensors"
        h=$(tail -1 "$OUT/m_$net.history.csv" | cut -d, -f4)
        echo "$net $p hepae $("$PYTHON" -c "print($h / $STEPS)")" | tee -a "$OUT/steps.txt"
        "$PYTHON" benches/compare/nae_step_torch.py --data "$S" "${targs[@]}" --batch "$BATCH" --threads 1 \
            --warmup 1 --steps "$STEPS" --x-bound 0 1 --clip-image --json "$OUT/torch_${net}_$p.json" > /dev/null
        t=$("$PYTHON" -c "import json; print(json.load(open('$OUT/torch_${net}_$p.json'))['runs'][0]['nae_step_s_median'])")
        echo "$net $p pytorch $t" | tee -a "$OUT/steps.txt"
    done
done
"$PYTHON" - "$OUT/steps.txt" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
for net in dict.fromkeys(r[0] for r in rows):
    h = {r[1]: float(r[3]) for r in rows if r[0] == net and r[2] == "hepae"}
    t = {r[1]: float(r[3]) for r in rows if r[0] == net and r[2] == "pytorch"}
    ratio = sorted(t[p] / h[p] for p in h)
    print(f"{net}: hepae step s {sorted(h.values())}, pytorch step s {sorted(t.values())}; "
          f"pytorch/hepae min {ratio[0]:.2f} median {st.median(ratio):.2f} max {ratio[-1]:.2f}")
PY
