//! The training loop: a seeded train/validation split, seeded shuffling each epoch, batches
//! gathered from the memory-mapped dataset and normalised on the fly, forward → MSE →
//! backward → Adam, validation loss per epoch, and a NaN/Inf guard that keeps the last good
//! model.
//!
//! Parallelism splits each batch across threads: every thread owns a planned workspace and a
//! gradient buffer for its contiguous share of the batch's rows, and after the parallel
//! forward/backward the gradients are summed in thread order (a fixed order, so a given seed
//! and thread count always give the same bits) before one Adam step. See benches/README.md for
//! why this beats splitting each GEMM across threads on this network.

use crate::data::normalize::{NormKind, Normalizer};
use crate::data::npy::Dataset;
use crate::error::{Error, Location, Result};
use crate::models::ae::{AeBuffers, AeShape, Autoencoder, OutputActivation};
use crate::nn::adam::Adam;
use crate::nn::loss::sum_squared_error;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Everything that decides a training run. The defaults are the seed study's reference net.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub hidden: Vec<usize>,
    pub latent: usize,
    pub epochs: usize,
    pub batch: usize,
    pub lr: f32,
    pub norm: NormKind,
    pub seed: u64,
    pub threads: usize,
    pub val_fraction: f64,
    pub output_activation: OutputActivation,
    pub slope: f32,
    /// Multiplies pT and mass before the custom4 log transforms: 1 for GeV data, 1e-3 for MeV.
    pub momentum_to_gev: f32,
    /// Rows per shuffling window; `None` shuffles the whole training split each epoch.
    /// Large datasets use windows so that only a window's pages of the memory map are
    /// resident at a time (see [`auto_shuffle_window`]).
    pub shuffle_window: Option<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            hidden: vec![200, 100, 50],
            latent: 15,
            epochs: 50,
            batch: 512,
            lr: 1e-3,
            norm: NormKind::Minmax,
            seed: 1,
            threads: 1,
            val_fraction: 0.15,
            output_activation: OutputActivation::Linear,
            slope: crate::nn::activation::LEAKY_SLOPE,
            momentum_to_gev: 1.0,
            shuffle_window: None,
        }
    }
}

impl TrainConfig {
    /// Checks the options a user can get wrong.
    pub fn validate(&self) -> Result<()> {
        if self.batch == 0 {
            return Err(Error::config("--batch must be at least 1"));
        }
        if self.latent == 0 || self.hidden.contains(&0) {
            return Err(Error::config("layer widths must be at least 1"));
        }
        if !(0.0..1.0).contains(&self.val_fraction) {
            return Err(Error::config(format!(
                "--val-fraction {} must be in [0, 1)",
                self.val_fraction
            )));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::config(format!(
                "--lr {} must be a positive number",
                self.lr
            )));
        }
        if self.threads == 0 {
            return Err(Error::config("--threads must be at least 1"));
        }
        if !(self.slope.is_finite() && self.slope > 0.0) {
            return Err(Error::config("the LeakyReLU slope must be positive"));
        }
        Ok(())
    }
}

/// Datasets above this many values are shuffled in windows of this many values (16 MiB of
/// f32): the window is what stays resident while it is visited.
const FULL_SHUFFLE_MAX_VALUES: usize = 4 << 20;

/// The shuffling window for a dataset: `None` (full shuffle) when it is small, else about
/// 4 Mi values' worth of rows (about 174 000 rows of 24 variables).
pub fn auto_shuffle_window(rows: usize, cols: usize) -> Option<usize> {
    if rows.saturating_mul(cols) <= FULL_SHUFFLE_MAX_VALUES {
        None
    } else {
        Some((FULL_SHUFFLE_MAX_VALUES / cols.max(1)).max(1))
    }
}

/// Row indices of the training and validation splits, each sorted ascending.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    pub train: Vec<u32>,
    pub val: Vec<u32>,
}

/// Seeded split: a Fisher–Yates permutation of all rows; the first ⌊rows·val_fraction⌉ are
/// validation. Depends only on (rows, val_fraction, seed).
pub fn split_rows(rows: usize, val_fraction: f64, seed: u64) -> Split {
    let mut perm: Vec<u32> = (0..rows as u32).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed_0005_9117_u64);
    perm.shuffle(&mut rng);
    let n_val = (rows as f64 * val_fraction).round() as usize;
    let mut val = perm[..n_val].to_vec();
    perm.drain(..n_val);
    let mut train = perm;
    train.shrink_to_fit();
    val.sort_unstable();
    train.sort_unstable();
    Split { train, val }
}

/// A shuffling window as visited: it ends at position `end` of the epoch's order and covers
/// dataset rows `lo..=hi`.
#[derive(Clone, Copy, Debug)]
struct WindowSpan {
    end: usize,
    lo: u32,
    hi: u32,
}

/// Writes this epoch's visiting order of `train` into `order`: a full shuffle, or with a
/// window, the windows in shuffled order, each shuffled within (their spans go to `spans`).
fn epoch_order(
    train: &[u32],
    order: &mut Vec<u32>,
    spans: &mut Vec<WindowSpan>,
    window: Option<usize>,
    rng: &mut rand::rngs::StdRng,
) {
    order.clear();
    spans.clear();
    match window {
        Some(w) if w < train.len() => {
            let mut windows: Vec<&[u32]> = train.chunks(w).collect();
            windows.shuffle(rng);
            for win in windows {
                let start = order.len();
                order.extend_from_slice(win);
                order[start..].shuffle(rng);
                spans.push(WindowSpan {
                    end: order.len(),
                    lo: win[0],
                    hi: win[win.len() - 1],
                });
            }
        }
        _ => {
            order.extend_from_slice(train);
            order.shuffle(rng);
        }
    }
}

/// One epoch's figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    /// Mean MSE over the epoch's training batches (normalised space).
    pub train_loss: f64,
    /// MSE over the validation split after the epoch (normalised space); None without one.
    pub val_loss: Option<f64>,
    pub seconds: f64,
}

/// What the loop reports as it goes (the CLI draws a progress bar from it).
#[derive(Debug)]
pub enum Progress<'a> {
    Start {
        epochs: usize,
        batches_per_epoch: usize,
        train_rows: usize,
        val_rows: usize,
    },
    Batch {
        epoch: usize,
        batch: usize,
    },
    Epoch(&'a EpochRecord),
}

/// The trained model and how it got there.
#[derive(Clone, Debug)]
pub struct TrainOutcome {
    pub model: Autoencoder,
    pub normalizer: Normalizer,
    pub history: Vec<EpochRecord>,
    /// Why training stopped early (a non-finite loss), if it did.
    pub stopped: Option<String>,
    pub train_rows: usize,
    pub val_rows: usize,
}

/// One thread's share of a batch: its input rows, workspace and gradient buffer.
struct Shard {
    x: Vec<f32>,
    buf: AeBuffers,
    grads: Vec<f32>,
    sse: f64,
    bad: Option<(usize, usize)>,
}

/// Rows `[t·⌈n/T⌉, min((t+1)·⌈n/T⌉, n))` of an n-row batch belong to shard t.
fn shard_range(n: usize, shards: usize, t: usize) -> std::ops::Range<usize> {
    let per = n.div_ceil(shards);
    let start = (t * per).min(n);
    start..((t + 1) * per).min(n)
}

/// Runs `f` on every shard, in parallel when there are several.
fn for_each_shard(
    pool: Option<&rayon::ThreadPool>,
    shards: &mut [Shard],
    f: impl Fn(usize, &mut Shard) + Sync,
) {
    match pool {
        Some(pool) => pool.install(|| shards.par_iter_mut().enumerate().for_each(|(t, s)| f(t, s))),
        None => shards.iter_mut().enumerate().for_each(|(t, s)| f(t, s)),
    }
}

/// Gathers `rows` of `data` into `x` and normalises them; on a non-finite result records the
/// (batch row, column) in `bad`.
fn gather_normalised(
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

/// Mean squared error (normalised space) of `model` over `rows`, in batches, sharded.
fn validation_loss(
    model: &Autoencoder,
    data: &Dataset,
    norm: &Normalizer,
    rows: &[u32],
    batch: usize,
    shards: &mut [Shard],
    pool: Option<&rayon::ThreadPool>,
) -> Result<Option<f64>> {
    if rows.is_empty() {
        return Ok(None);
    }
    let d = data.cols();
    let mut sse = 0.0;
    let n_shards = shards.len();
    for chunk in rows.chunks(batch) {
        if chunk.len() == batch {
            // Rows are ascending: hand back the pages of the previous chunks.
            data.release_rows(0, chunk[0] as usize);
        }
        for_each_shard(pool, shards, |t, s| {
            let r = shard_range(chunk.len(), n_shards, t);
            let n = r.len();
            s.sse = 0.0;
            if n == 0 {
                return;
            }
            gather_normalised(data, norm, &chunk[r], &mut s.x, &mut s.bad);
            let out = model.forward(&s.x, &mut s.buf, n);
            s.sse = sum_squared_error(out, &s.x[..n * d]);
        });
        for (t, s) in shards.iter_mut().enumerate() {
            if let Some((r, c)) = s.bad.take() {
                return Err(bad_value_error(
                    data,
                    chunk[shard_range(chunk.len(), n_shards, t)][r],
                    c,
                ));
            }
            sse += s.sse;
        }
    }
    Ok(Some(sse / (rows.len() * d) as f64))
}

/// Trains a standard autoencoder on `data` with `cfg`. `on` hears about progress.
pub fn train_autoencoder(
    data: &Dataset,
    cfg: &TrainConfig,
    on: &mut dyn FnMut(Progress<'_>),
) -> Result<TrainOutcome> {
    cfg.validate()?;
    let d = data.cols();
    if data.rows() == 0 || d == 0 {
        return Err(Error::data(
            Location::file(data.path()),
            "the dataset is empty",
        ));
    }
    data.check_finite()?;
    let split = split_rows(data.rows(), cfg.val_fraction, cfg.seed);
    if split.train.is_empty() {
        return Err(Error::data(
            Location::file(data.path()),
            "no rows left for training after the validation split",
        ));
    }
    let normalizer = Normalizer::fit(cfg.norm, data, &split.train, cfg.momentum_to_gev)?;

    let shape = AeShape {
        input: d,
        hidden: cfg.hidden.clone(),
        latent: cfg.latent,
        slope: cfg.slope,
        output_activation: cfg.output_activation,
    };
    let mut model = Autoencoder::new(shape);
    model.init(cfg.seed);
    let n_params = model.params.len();
    let mut adam = Adam::new(n_params, cfg.lr);

    // Plan every buffer once: one shard per thread, each for its share of a full batch.
    let n_shards = cfg.threads.min(cfg.batch).max(1);
    let per = cfg.batch.div_ceil(n_shards);
    let mut shards: Vec<Shard> = (0..n_shards)
        .map(|_| Shard {
            x: vec![0.0; per * d],
            buf: model.plan(per, true),
            grads: vec![0.0; n_params],
            sse: 0.0,
            bad: None,
        })
        .collect();
    let pool = if n_shards > 1 {
        Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(n_shards)
                .build()
                .map_err(|e| Error::config(format!("cannot start {n_shards} threads: {e}")))?,
        )
    } else {
        None
    };
    let mut last_good = model.params.data.clone();
    let mut order: Vec<u32> = Vec::with_capacity(split.train.len());
    let mut spans: Vec<WindowSpan> = Vec::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed.wrapping_add(1));
    let window = cfg
        .shuffle_window
        .or_else(|| auto_shuffle_window(split.train.len(), d));
    let batches_per_epoch = split.train.len().div_ceil(cfg.batch);
    on(Progress::Start {
        epochs: cfg.epochs,
        batches_per_epoch,
        train_rows: split.train.len(),
        val_rows: split.val.len(),
    });

    let mut history = Vec::with_capacity(cfg.epochs);
    let mut stopped = None;
    'epochs: for epoch in 1..=cfg.epochs {
        let t0 = Instant::now();
        epoch_order(&split.train, &mut order, &mut spans, window, &mut rng);
        let mut epoch_sse = 0.0;
        let mut next_span = 0;
        for (b, batch) in order.chunks(cfg.batch).enumerate() {
            // Windowed shuffle: a window whose rows are all visited gives its pages back.
            while next_span < spans.len() && spans[next_span].end <= b * cfg.batch {
                data.release_rows(
                    spans[next_span].lo as usize,
                    spans[next_span].hi as usize + 1,
                );
                next_span += 1;
            }
            let n = batch.len();
            let batch_elems = n * d;
            {
                let model = &model;
                for_each_shard(pool.as_ref(), &mut shards, |t, s| {
                    s.grads.fill(0.0);
                    s.sse = 0.0;
                    let r = shard_range(n, n_shards, t);
                    if r.is_empty() {
                        return;
                    }
                    let rows = r.len();
                    gather_normalised(data, &normalizer, &batch[r], &mut s.x, &mut s.bad);
                    s.sse = model.train_shard(&mut s.grads, &s.x, &mut s.buf, rows, batch_elems);
                });
            }
            // Fixed-order reduction into shard 0's gradient buffer.
            let (first, rest) = shards.split_first_mut().expect("at least one shard");
            if let Some((r, c)) = first.bad.take() {
                return Err(bad_value_error(data, batch[r], c));
            }
            let mut sse = first.sse;
            for (t, s) in rest.iter_mut().enumerate() {
                if let Some((r, c)) = s.bad.take() {
                    return Err(bad_value_error(
                        data,
                        batch[shard_range(n, n_shards, t + 1)][r],
                        c,
                    ));
                }
                sse += s.sse;
                for (g, h) in first.grads.iter_mut().zip(&s.grads) {
                    *g += h;
                }
            }
            if !sse.is_finite() {
                model.params.data.copy_from_slice(&last_good);
                stopped = Some(format!(
                    "training loss became {} at epoch {epoch}, batch {}; kept the model from the end of epoch {}",
                    sse,
                    b + 1,
                    epoch - 1
                ));
                break 'epochs;
            }
            adam.step(&mut model.params.data, &first.grads);
            epoch_sse += sse;
            on(Progress::Batch {
                epoch,
                batch: b + 1,
            });
        }
        let val_loss = validation_loss(
            &model,
            data,
            &normalizer,
            &split.val,
            cfg.batch,
            &mut shards,
            pool.as_ref(),
        )?;
        if val_loss.is_some_and(|v| !v.is_finite())
            || model.params.data.iter().any(|p| !p.is_finite())
        {
            model.params.data.copy_from_slice(&last_good);
            stopped = Some(format!(
                "validation loss became non-finite after epoch {epoch}; kept the model from the end of epoch {}",
                epoch - 1
            ));
            break;
        }
        last_good.copy_from_slice(&model.params.data);
        let rec = EpochRecord {
            epoch,
            train_loss: epoch_sse / (split.train.len() * d) as f64,
            val_loss,
            seconds: t0.elapsed().as_secs_f64(),
        };
        on(Progress::Epoch(&rec));
        history.push(rec);
    }
    Ok(TrainOutcome {
        model,
        normalizer,
        history,
        stopped,
        train_rows: split.train.len(),
        val_rows: split.val.len(),
    })
}
