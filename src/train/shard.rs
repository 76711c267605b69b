//! The shards of a step: one per thread, each with its share of the batch's rows, its
//! workspace and its slice of the gradient buffer; how a batch is cut into them, how they run,
//! their per-step generators, the gathering of their rows, and the sharded validation loss.

use super::ranks::{rank_range, World};
use crate::data::normalize::Normalizer;
use crate::data::npy::Dataset;
use crate::error::{Error, Location, Result};
use crate::models::{AeBuffers, Autoencoder};
use crate::nn::loss::sum_squared_error;
use rand::SeedableRng;
use rayon::prelude::*;

/// One thread's share of a batch: its input rows, workspace, loss terms and bad-value record.
pub(super) struct Shard {
    pub x: Vec<f32>,
    pub buf: AeBuffers,
    pub loss: f64,
    pub extra: f64,
    pub bad: Option<(usize, usize)>,
}

/// Rows `[t·⌈n/T⌉, min((t+1)·⌈n/T⌉, n))` of an n-row batch belong to shard t.
pub(super) fn shard_range(n: usize, shards: usize, t: usize) -> std::ops::Range<usize> {
    let per = n.div_ceil(shards);
    let start = (t * per).min(n);
    start..((t + 1) * per).min(n)
}

/// Runs `f` on every shard with its slice of the gradient buffer, in parallel when there
/// are several.
pub(super) fn for_each_shard(
    pool: Option<&rayon::ThreadPool>,
    shards: &mut [Shard],
    grads: &mut [f32],
    f: impl Fn(usize, &mut Shard, &mut [f32]) + Sync,
) {
    let per = grads.len() / shards.len();
    match pool {
        Some(pool) => pool.install(|| {
            shards.par_iter_mut().zip(grads.par_chunks_mut(per)).enumerate().for_each(|(t, (s, g))| f(t, s, g))
        }),
        None => shards.iter_mut().zip(grads.chunks_mut(per)).enumerate().for_each(|(t, (s, g))| f(t, s, g)),
    }
}

/// The generator for one shard of one step: depends only on (seed, phase, step, shard).
pub(super) fn step_rng(seed: u64, phase: u64, step: u64, shard: usize) -> rand::rngs::StdRng {
    let mut h = seed ^ 0x9e37_79b9_7f4a_7c15;
    for v in [phase, step, shard as u64] {
        h = (h ^ v).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 31;
    }
    rand::rngs::StdRng::seed_from_u64(h)
}

/// Gathers `rows` of `data` into `x` and normalises them; on a non-finite result records the
/// (batch row, column) in `bad`.
pub(super) fn gather_normalised(
    data: &Dataset,
    norm: &Normalizer,
    rows: &[u32],
    x: &mut [f32],
    bad: &mut Option<(usize, usize)>,
) {
    let d = data.cols();
    let x = &mut x[..rows.len() * d];
    data.gather(rows, x);
    if let Err(b) = norm.normalize_rows(x) {
        *bad = Some((b.row, b.col));
    }
}

fn bad_value_error(data: &Dataset, row: u32, col: usize) -> Error {
    Error::data(
        Location::file(data.path()).row(row as u64 + 1).column(data.columns()[col].clone()),
        "value is outside the domain of the model's normaliser (the normalised value is not finite)",
    )
}

/// Returns the first recorded bad value of any shard as an error.
pub(super) fn take_bad(shards: &mut [Shard], data: &Dataset, batch: &[u32]) -> Result<()> {
    let n_shards = shards.len();
    for (t, s) in shards.iter_mut().enumerate() {
        if let Some((r, c)) = s.bad.take() {
            return Err(bad_value_error(data, batch[shard_range(batch.len(), n_shards, t)][r], c));
        }
    }
    Ok(())
}

/// Mean squared error (normalised space) of `model`'s deterministic reconstruction over
/// `rows`, in batches, sharded (each batch split by rank first, the ranks' sums added in rank
/// order).
#[allow(clippy::too_many_arguments)]
pub(super) fn validation_loss(
    model: &Autoencoder,
    data: &Dataset,
    norm: &Normalizer,
    rows: &[u32],
    batch: usize,
    shards: &mut [Shard],
    pool: Option<&rayon::ThreadPool>,
    world: &mut World,
) -> Result<Option<f64>> {
    if rows.is_empty() {
        return Ok(None);
    }
    let d = data.cols();
    let mut sse = 0.0;
    let n_shards = shards.len();
    let mut no_grads = vec![0.0f32; n_shards];
    for chunk in rows.chunks(batch) {
        if chunk.len() == batch {
            // Rows are ascending: hand back the pages of the previous chunks.
            data.release_rows(0, chunk[0] as usize);
        }
        let chunk = &chunk[rank_range(chunk.len(), world.size(), world.rank())];
        for_each_shard(pool, shards, &mut no_grads, |t, s, _| {
            let r = shard_range(chunk.len(), n_shards, t);
            let n = r.len();
            s.extra = 0.0;
            if n == 0 {
                return;
            }
            gather_normalised(data, norm, &chunk[r], &mut s.x, &mut s.bad);
            let out = model.forward(&s.x, &mut s.buf, n);
            s.extra = sum_squared_error(out, &s.x[..n * d]);
        });
        let local = take_bad(shards, data, chunk).map(|()| shards.iter().map(|s| s.extra).sum::<f64>());
        sse += world.agree_sum(local, "validating")?;
    }
    Ok(Some(sse / (rows.len() * d) as f64))
}
