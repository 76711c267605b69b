#!/usr/bin/env bash
# More generated jets (particle level) for the top-vs-QCD benchmark's low false-positive rates:
# runs ../shared/tools/gen_jets.py in chunks, one process at a time, so that every finished chunk
# is usable while later ones are still running. Chunk k of process P uses seed BASE + 100·k
# (QCD: base 21, top: base 23; chunk 0 uses the base seed itself), so no two chunks share a seed
# and none collides with the seeds of the shipped files (11, 12, 13).
#
# A chunk is written as P_sSEED.tmp.npz and renamed to P_sSEED.npz only when the generator
# exited 0, so an interrupted chunk never looks finished (its .tmp file is removed).
# Every chunk runs under `timeout` so that nothing outlives the deadline.
#
# Usage: toptag_gen_background.sh OUTDIR PYTHON UNTIL_QCD UNTIL_TOP [NJETS]
#   PYTHON     the interpreter with the generator's pinned requirements (see gen_jets.py's header)
#   UNTIL_QCD  make QCD chunks until this time (date -d syntax, e.g. 02:55)
#   UNTIL_TOP  then make top chunks until this time (e.g. 03:40; equal to UNTIL_QCD: no top)
#   NJETS      jets per chunk (default 5000)
# Example: nice -n 15 benches/compare/toptag_gen_background.sh /work/wt/toptag_data/gen \
#            /work/wt/genvenv/bin/python 02:55 03:40
set -euo pipefail
out="$1"; py="$2"; until_qcd=$(date -d "$3" +%s); until_top=$(date -d "$4" +%s); njets="${5:-5000}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
gen="${GEN_JETS:-$root/../shared/tools/gen_jets.py}"   # the main checkout sits beside shared/
[ -f "$gen" ] || gen="$root/../../shared/tools/gen_jets.py"  # a worktree one level deeper
[ -f "$gen" ] || { echo "gen_jets.py not found (set GEN_JETS)" >&2; exit 1; }
mkdir -p "$out"
run_until() {  # process base_seed deadline
  local proc="$1" base="$2" deadline="$3" k=0
  while :; do
    local seed=$((base + 100 * k)); k=$((k + 1))
    [ -f "$out/${proc}_s${seed}.npz" ] && continue
    local left=$((deadline - $(date +%s)))
    [ "$left" -gt 60 ] || return 0
    echo "$(date -u +%H:%M:%S) start $proc seed $seed ($njets jets, ${left}s left)"
    if timeout "${left}s" "$py" "$gen" --process "$proc" --njets "$njets" --seed "$seed" \
        --out "$out/${proc}_s${seed}.tmp.npz" > "$out/${proc}_s${seed}.log" 2>&1; then
      mv "$out/${proc}_s${seed}.tmp.npz" "$out/${proc}_s${seed}.npz"
      echo "$(date -u +%H:%M:%S) done  $proc seed $seed: $(tail -1 "$out/${proc}_s${seed}.log")"
    else
      rm -f "$out/${proc}_s${seed}.tmp.npz"
      echo "$(date -u +%H:%M:%S) stopped $proc seed $seed (deadline or failure; chunk discarded)"
      return 0
    fi
  done
}
run_until qcd 21 "$until_qcd"
run_until top 23 "$until_top"
echo "$(date -u +%H:%M:%S) finished"
