#!/usr/bin/env bash
# Two hepae binaries and PyTorch in the same run, alternating: BEFORE, AFTER, torch at 1 and 2
# threads, REPS times (e.g. the last release against a change to the engine). Prints each
# binary's ratios to PyTorch and AFTER/BEFORE, min/median/max over the triples.
# Usage: benches/compare/before_after.sh BEFORE_BIN AFTER_BIN [REPS]  (run from the repo root)
set -euo pipefail
before=$(realpath "$1"); after=$(realpath "$2"); reps=${3:-3}
cd "$(dirname "$0")/../.."
python3 -c "import torch, numpy" 2>/dev/null || python3 -m pip install --quiet numpy torch
out=benches/compare/out/before_after; mkdir -p $out; rm -f $out/pairs.jsonl
$before import datasets/ttbar_nano_v15.csv -o $out/real24.npy --first-columns 24 >/dev/null
$before synth --like $out/real24.npy --rows 200000 -o $out/jets.npy >/dev/null
$before train $out/real24.npy -o $out/ref.safetensors --epochs 1 --quiet
for r in $(seq 1 $reps); do for t in 1 2; do
  for which in before after; do
    bin=$before; [ $which = after ] && bin=$after
    $bin bench $out/ref.safetensors --threads $t --batch 1,4096 --rows 200000 --reps 3 --json $out/$which.json >/dev/null
  done
  python3 benches/compare/torch_side.py $out/jets.npy --threads $t > $out/t.json
  python3 - $out $t >> $out/pairs.jsonl <<'PY'
import json, sys
out, t = sys.argv[1], int(sys.argv[2])
def h(which):
    j = json.load(open(f"{out}/{which}.json"))
    g = lambda what, b: next(r for r in j["rows"] if r["what"] == what and r["batch"] == b)
    return {"train": g("train", 512)["jets_per_s"], "b1_us": g("encode", 1)["us_per_jet"] * t, "b4096": g("encode", 4096)["jets_per_s"]}
p = json.load(open(f"{out}/t.json"))
print(json.dumps({"t": t, "before": h("before"), "after": h("after"),
  "torch": {"train": p["train_samples_per_s"], "b1_us": p["encode_b1_us"], "b4096": p["encode_b4096_jets_per_s"]}}))
PY
done; done
python3 - $out/pairs.jsonl <<'PY'
import json, statistics, sys
P = [json.loads(l) for l in open(sys.argv[1])]
for t in (1, 2):
    ps = [p for p in P if p["t"] == t]
    print(f"\n{t} thread(s), {len(ps)} alternating triples")
    for k, name, hi in [("train", "train samples/s (batch 512)", True), ("b1_us", "encode µs/jet batch 1", False), ("b4096", "encode jets/s batch 4096", True)]:
        for w in ("before", "after"):
            r = sorted(p[w][k] / p["torch"][k] for p in ps)
            print(f"  {name:<30} {w:<6} median {statistics.median([p[w][k] for p in ps]):>12,.2f}  vs torch {statistics.median([p['torch'][k] for p in ps]):>12,.2f}  ratio min/med/max {r[0]:.2f}/{statistics.median(r):.2f}/{r[-1]:.2f} ({'higher' if hi else 'lower'} better)")
        r = sorted(p["after"][k] / p["before"][k] for p in ps)
        print(f"  {'':<30} after/before min/med/max {r[0]:.3f}/{statistics.median(r):.3f}/{r[-1]:.3f}")
PY
