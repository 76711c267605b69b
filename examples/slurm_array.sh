#!/bin/bash
# Slurm job array: score one large dataset in 32 shards, then a dependent job merges them.
#
#   jid=$(sbatch --parsable examples/slurm_array.sh)
#   sbatch --dependency=afterok:$jid --wrap "hepae merge $(printf 'out/scores.%d.npy ' $(seq 0 31)) -o out/scores.npy"
#
# Each task reads only its rows of the memory-mapped file (--shard i/n, i = SLURM_ARRAY_TASK_ID
# from 0) and writes its own output atomically: a failed task leaves no file and can be
# resubmitted alone (sbatch --array=7 examples/slurm_array.sh). `compress` (archives, merged
# into an archive set) and `reconstruct` work the same way.
#
# Data-parallel *training* is one MPI job instead (the `mpi` feature):
#   srun --ntasks=16 --cpus-per-task=1 hepae train jets.npy -o model.safetensors --threads 1
#   (or mpirun -np 16 …): every rank trains its rows of each batch; rank 0 writes the model.
#SBATCH --job-name=hepae-score
#SBATCH --array=0-31
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --mem=1G
#SBATCH --time=00:30:00
#SBATCH --output=log/score.%a.out
set -euo pipefail
mkdir -p out
hepae score model.safetensors jets.npy -o "out/scores.${SLURM_ARRAY_TASK_ID}.npy" \
  --shard "${SLURM_ARRAY_TASK_ID}/32" --quiet
