#!/usr/bin/env bash
# Batch-4096 encode throughput per precision and ISA, hepae against PyTorch on the CPU, same
# machine, same run, alternating pairs (default 3): `hepae bench --batch 4096 --isa avx2,avx512
# --precision f32,bf16,int8 --no-train --threads 1`, then benches/compare/torch_encode.py (f32
# and PyTorch's own dynamic int8) under AVX-512 and under AVX2 (ONEDNN_MAX_CPU_ISA=AVX2
# ATEN_CPU_CAPABILITY=avx2). The reference encoder D-200-100-50-15; hepae measures on its own
# synthetic jets, PyTorch on synthetic jets resampled from the embedded real sample (values do
# not change the cost of a dense chain). Prints, per (isa, precision), hepae's jets/s, PyTorch
# f32 and int8 on the same ISA, and the ratios hepae/PyTorch-f32 and hepae/PyTorch-int8 as
# min/median/max over the pairs.
#
# Usage: benches/compare/precision_batch.sh [--pairs N] [--rows N] [--precisions LIST]
# Writes benches/compare/out/precision_pairs.jsonl.
set -euo pipefail
cd "$(dirname "$0")/../.."
pairs=3; rows=102400; precisions="f32,bf16,int8"
while [ $# -gt 0 ]; do
  case "$1" in
    --pairs) pairs="$2"; shift ;;
    --rows) rows="$2"; shift ;;
    --precisions) precisions="$2"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
export PYTHONWARNINGS=ignore  # torch.ao deprecation notes, once per run
python3 -c "import torch, numpy" 2>/dev/null || { echo "precision_batch.sh: needs python3 with torch and numpy" >&2; exit 1; }
cargo build --release --quiet
bin=target/release/hepae
out=benches/compare/out
mkdir -p "$out"
if [ ! -f "$out/jets.npy" ] || [ ! -f "$out/ref.safetensors" ]; then
  $bin import datasets/ttbar_nano_v15.csv -o "$out/real24.npy" --first-columns 24 >/dev/null
  $bin synth --like "$out/real24.npy" --rows "$rows" -o "$out/jets.npy" >/dev/null
  # Architecture matters, weights do not (int8 scales are calibrated by hepae bench itself).
  $bin train "$out/real24.npy" -o "$out/ref.safetensors" --epochs 1 --quiet
fi
log="$out/precision_pairs.jsonl"
rm -f "$log"
for p in $(seq 1 "$pairs"); do
  $bin bench "$out/ref.safetensors" --threads 1 --batch 4096 --isa avx2,avx512 --precision "$precisions" \
    --no-train --rows "$rows" --reps 3 --json "$out/pb_h.json" >/dev/null
  python3 benches/compare/torch_encode.py "$out/jets.npy" --threads 1 --batch 4096 > "$out/pb_t512.json"
  ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 \
    python3 benches/compare/torch_encode.py "$out/jets.npy" --threads 1 --batch 4096 > "$out/pb_t2.json"
  python3 - "$out" "$p" >> "$log" <<'PY'
import json, sys
out, pair = sys.argv[1], int(sys.argv[2])
h = json.load(open(f"{out}/pb_h.json"))
torch = {"avx512": json.load(open(f"{out}/pb_t512.json")), "avx2": json.load(open(f"{out}/pb_t2.json"))}
for r in h["rows"]:
    if r["what"] != "encode" or r["batch"] != 4096 or r["isa"] not in torch:
        continue
    t = torch[r["isa"]]
    print(json.dumps({"pair": pair, "isa": r["isa"], "precision": r["precision"], "hepae": r["jets_per_s"],
                      "torch_f32": t["f32_jets_per_s"], "torch_int8": t["int8_dynamic_jets_per_s"],
                      "torch_capability": t["cpu_capability"], "torch": t["torch"], "cpu": h["cpu"]}))
PY
done
python3 - "$log" <<'PY'
import json, statistics, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
if not recs:
    sys.exit("precision_batch.sh: no encode rows measured")
print(f"CPU: {recs[0]['cpu']}   torch {recs[0]['torch']}   batch 4096, 1 thread, "
      f"{len({r['pair'] for r in recs})} alternating pair(s); jets/s medians, ratios min/median/max")
print(f"{'isa':<8}{'precision':<11}{'hepae':>12}{'torch f32':>12}{'torch int8':>12}"
      f"   {'hepae / torch f32':<22}{'hepae / torch int8':<22}")
for isa in ["avx2", "avx512"]:
    precs = list(dict.fromkeys(r["precision"] for r in recs if r["isa"] == isa))
    for prec in precs:
        rs = [r for r in recs if r["isa"] == isa and r["precision"] == prec]
        def rat(key):
            v = sorted(r["hepae"] / r[key] for r in rs)
            return f"{v[0]:.2f} / {statistics.median(v):.2f} / {v[-1]:.2f}"
        med = lambda key: statistics.median(r[key] for r in rs) / 1e6
        print(f"{isa:<8}{prec:<11}{med('hepae'):>10.2f} M{med('torch_f32'):>10.2f} M{med('torch_int8'):>10.2f} M"
              f"   {rat('torch_f32'):<22}{rat('torch_int8'):<22}")
PY
