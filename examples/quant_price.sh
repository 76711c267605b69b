#!/bin/sh
# The accuracy price of each reduced precision (README, "Reduced-precision encoders"), on the
# real CMS tt̄ NanoAOD v15 jets: the reference net 24-200-100-50-15 trained on light jets
# (hadronFlavour 0) with the default schedule; every precision made by `hepae quantize`,
# calibrated on the training file and priced on its validation split (latent Δ, MSE, residual
# widths); the anomaly AUC (b-jets against the light validation jets, score mse) by `hepae roc`.
#   sh examples/quant_price.sh [HEPAE_BINARY] [WORK_DIR]       (about a minute on 2 cores)
set -eu
H=${1:-target/release/hepae}
W=${2:-/tmp/hepae-quant-price}
CSV=${CSV:-datasets/ttbar_nano_v15.csv}
mkdir -p "$W"
"$H" import "$CSV" -o "$W/light.npy" --where 'hadronFlavour==0' --first-columns 24 >/dev/null
"$H" import "$CSV" -o "$W/bjets.npy" --where 'hadronFlavour==5' --first-columns 24 >/dev/null
"$H" train "$W/light.npy" -o "$W/f32.safetensors" --threads 1 --quiet
auc() {
    "$H" roc "$1" --background "$W/light.npy" --signal "$W/bjets.npy" --json "$W/roc.json" >/dev/null
    python3 -c "import json; s=json.load(open('$W/roc.json'))[0]['summary']; print('%.4f ± %.4f' % (s['auc'], s['auc_err']))"
}
echo "f32: AUC $(auc "$W/f32.safetensors")"
i=0
for p in bf16 bf16-act f16 int8 int8/per-layer 'bf16,int8,int8,int8' 'fixed<16,6>' 'fixed<16,6,RND_CONV>' 'fixed<20,8>' 'fixed<24,10>'; do
    i=$((i + 1))
    prec=${p%/per-layer}
    gran=per-channel
    [ "$prec" != "$p" ] && gran=per-layer
    q="$W/q$i.safetensors"
    "$H" quantize "$W/f32.safetensors" --precision "$prec" --granularity "$gran" --calib "$W/light.npy" \
        -o "$q" --json "$W/price$i.json" --quiet >/dev/null
    python3 - "$W/price$i.json" "$p" "$(auc "$q")" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
ch = [w["quant_width"] / w["f32_width"] - 1 for w in p["widths"] if w["f32_width"] > 0]
big = max(ch, key=abs)
name = [w["name"] for w in p["widths"] if w["f32_width"] > 0][ch.index(big)]
mean = sum(abs(c) for c in ch) / len(ch)
print(f"| {sys.argv[2]} | {p['latent_max_abs_diff']:.2e} | {p['latent_rms_diff']:.2e} | "
      f"{100 * (p['mse_quant'] / p['mse_f32'] - 1):+.2f} % | {100 * mean:.1f} % | {100 * big:+.1f} % ({name}) | {sys.argv[3]} |")
PY
done
