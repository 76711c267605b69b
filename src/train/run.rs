//! The training loop: the seeded split and shuffling ([`super::split`]), batches gathered from
//! the memory-mapped dataset and normalised on the fly, the phases the model's family gives
//! ([`crate::models::family::Family`]) run on every shard, the gradients reduced
//! ([`super::reduce::GradReduce`]) and one Adam step per phase; validation loss per epoch,
//! progress, and a NaN/Inf guard that keeps the last good model. The loop knows nothing of the
//! families beyond their phases.
//!
//! Parallelism splits each batch across threads: every thread owns a planned workspace and a
//! slice of one gradient buffer for its contiguous share of the batch's rows, and after the
//! parallel forward/backward the slices are summed in thread order (a fixed order, so a given
//! seed and thread count always give the same bits) before the Adam step. See
//! benches/README.md for why this beats splitting each GEMM across threads on this network.

use super::config::{Parallel, TrainConfig};
use super::reduce::{GradReduce, LocalShards};
use super::split::{auto_shuffle_window, epoch_order, split_rows, Split, WindowSpan};
use crate::data::normalize::Normalizer;
use crate::data::npy::Dataset;
use crate::engine::gemm::Gemm;
use crate::error::{Error, Location, Result};
use crate::models::family::{Family, Fit, Pass, Phase, Step};
use crate::models::shape::{AeShape, ModelKind};
use crate::models::{family_for, AeBuffers, Autoencoder};
use crate::nn::adam::Adam;
use crate::nn::loss::sum_squared_error;
use rand::SeedableRng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;

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
    Start { epochs: usize, batches_per_epoch: usize, train_rows: usize, val_rows: usize },
    Batch { epoch: usize, batch: usize },
    Epoch(&'a EpochRecord),
}

/// The trained model and how it got there.
#[derive(Clone, Debug)]
pub struct TrainOutcome {
    pub kind: ModelKind,
    /// PCA: fraction of the normalised variance the kept components explain.
    pub explained_variance: Option<f64>,
    pub model: Autoencoder,
    pub normalizer: Normalizer,
    pub history: Vec<EpochRecord>,
    /// Why training stopped early (a non-finite loss), if it did.
    pub stopped: Option<String>,
    pub train_rows: usize,
    pub val_rows: usize,
}

/// One thread's share of a batch: its input rows, workspace, loss terms and bad-value record.
struct Shard {
    x: Vec<f32>,
    buf: AeBuffers,
    loss: f64,
    extra: f64,
    bad: Option<(usize, usize)>,
}

/// Rows `[t·⌈n/T⌉, min((t+1)·⌈n/T⌉, n))` of an n-row batch belong to shard t.
fn shard_range(n: usize, shards: usize, t: usize) -> std::ops::Range<usize> {
    let per = n.div_ceil(shards);
    let start = (t * per).min(n);
    start..((t + 1) * per).min(n)
}

/// Runs `f` on every shard with its slice of the gradient buffer, in parallel when there
/// are several.
fn for_each_shard(
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
fn step_rng(seed: u64, phase: u64, step: u64, shard: usize) -> rand::rngs::StdRng {
    let mut h = seed ^ 0x9e37_79b9_7f4a_7c15;
    for v in [phase, step, shard as u64] {
        h = (h ^ v).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 31;
    }
    rand::rngs::StdRng::seed_from_u64(h)
}

/// Gathers `rows` of `data` into `x` and normalises them; on a non-finite result records the
/// (batch row, column) in `bad`.
fn gather_normalised(data: &Dataset, norm: &Normalizer, rows: &[u32], x: &mut [f32], bad: &mut Option<(usize, usize)>) {
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
fn take_bad(shards: &mut [Shard], data: &Dataset, batch: &[u32]) -> Result<()> {
    let n_shards = shards.len();
    for (t, s) in shards.iter_mut().enumerate() {
        if let Some((r, c)) = s.bad.take() {
            return Err(bad_value_error(data, batch[shard_range(batch.len(), n_shards, t)][r], c));
        }
    }
    Ok(())
}

/// Mean squared error (normalised space) of `model`'s deterministic reconstruction over
/// `rows`, in batches, sharded.
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
    let mut no_grads = vec![0.0f32; n_shards];
    for chunk in rows.chunks(batch) {
        if chunk.len() == batch {
            // Rows are ascending: hand back the pages of the previous chunks.
            data.release_rows(0, chunk[0] as usize);
        }
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
        take_bad(shards, data, chunk)?;
        sse += shards.iter().map(|s| s.extra).sum::<f64>();
    }
    Ok(Some(sse / (rows.len() * d) as f64))
}

/// One training run's state, built once: the split, the normaliser, the model and its
/// family's phases, an Adam state per phase, every shard's workspace and gradient slice, the
/// thread pool and the gradient reducer. [`Session::step`] is the training step
/// [`train_autoencoder`] runs for each batch (and what the no-allocation test drives).
pub struct Session<'d> {
    data: &'d Dataset,
    pub split: Split,
    pub normalizer: Normalizer,
    pub model: Autoencoder,
    /// PCA: the explained-variance fraction of a closed-form model (no steps to run).
    pub explained_variance: Option<f64>,
    family: Box<dyn Family>,
    phases: Vec<Phase>,
    adams: Vec<Adam>,
    shards: Vec<Shard>,
    /// Every shard's gradient, one after another (`shard_len` values each).
    grads: Vec<f32>,
    shard_len: usize,
    pool: Option<Arc<rayon::ThreadPool>>,
    reducer: Box<dyn GradReduce>,
    batch: usize,
    seed: u64,
    steps: u64,
    epoch: usize,
}

impl<'d> Session<'d> {
    /// Validates `cfg` and `data`, splits and fits the normaliser, builds the family's model
    /// (initialised, with its fitted parts; or fitted in closed form) and plans every buffer.
    pub fn new(data: &'d Dataset, cfg: &TrainConfig) -> Result<Self> {
        cfg.validate()?;
        let d = data.cols();
        if data.rows() == 0 || d == 0 {
            return Err(Error::data(Location::file(data.path()), "the dataset is empty"));
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
        let family = family_for(cfg);

        // One shard per thread, each for its share of a full batch (or one shard whose GEMMs
        // split their rows, for the comparison).
        let (n_shards, gemm) = match cfg.parallel {
            Parallel::Gemm => (1, Gemm::detect().with_row_split(cfg.threads)),
            Parallel::Batch => (cfg.threads.min(cfg.batch).max(1), Gemm::detect()),
        };
        let per = cfg.batch.div_ceil(n_shards);
        let pool = if n_shards > 1 {
            Some(Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n_shards)
                    .build()
                    .map_err(|e| Error::config(format!("cannot start {n_shards} threads: {e}")))?,
            ))
        } else {
            None
        };

        let fit = Fit { data, normalizer: &normalizer, rows: &split.train };
        let (model, explained_variance) = match family.closed_form(&fit, cfg.latent) {
            Some(fitted) => {
                let (model, explained) = fitted?;
                (model, Some(explained))
            }
            None => {
                let base = AeShape::standard(d, cfg.hidden.clone(), cfg.latent, cfg.slope, cfg.output_activation);
                let mut model = Autoencoder::new(family.shape(base));
                model.init(cfg.seed);
                family.prepare(&mut model, &fit)?;
                (model, None)
            }
        };
        let phases = if explained_variance.is_some() { Vec::new() } else { family.phases(&model) };
        let adams = phases.iter().map(|p| Adam::new(p.params.len(), cfg.lr)).collect();
        let shards = (0..n_shards)
            .map(|_| Shard {
                x: vec![0.0; per * d],
                buf: model.plan_with(per, true, gemm),
                loss: 0.0,
                extra: 0.0,
                bad: None,
            })
            .collect();
        let shard_len = model.params.len().max(1);
        Ok(Session {
            data,
            split,
            normalizer,
            family,
            phases,
            adams,
            shards,
            grads: vec![0.0; n_shards * shard_len],
            shard_len,
            reducer: Box::new(LocalShards { pool: pool.clone() }),
            pool,
            model,
            explained_variance,
            batch: cfg.batch,
            seed: cfg.seed,
            steps: 0,
            epoch: 1,
        })
    }

    /// Sets the learning rate of every phase's Adam from the next step on (a schedule's hook).
    pub fn set_lr(&mut self, lr: f64) {
        for adam in &mut self.adams {
            adam.lr = lr;
        }
    }

    /// Starts epoch `epoch` (1-based): the family hears of it (a VAE's KL warm-up).
    pub fn begin_epoch(&mut self, epoch: usize) {
        self.epoch = epoch;
        self.family.begin_epoch(epoch);
    }

    /// One training step on the dataset rows `batch` (at most the configured batch size):
    /// gather and normalise, then every phase of the family (forward and backward on each
    /// shard, reduction, Adam). Returns the training loss sum (Σ squared error units); when
    /// it is not finite, no parameter has been updated. Allocates nothing.
    pub fn step(&mut self, batch: &[u32]) -> Result<f64> {
        self.steps += 1;
        let n = batch.len();
        let n_shards = self.shards.len();
        let step = Step { epoch: self.epoch, batch_rows: n, batch_elems: n * self.data.cols() };
        let (data, norm, seed, steps) = (self.data, &self.normalizer, self.seed, self.steps);
        let pool = self.pool.as_deref();
        let mut loss = 0.0;
        for k in 0..self.phases.len() {
            let phase = &self.phases[k];
            let (family, model) = (&*self.family, &self.model);
            let split = phase.batch_stats;
            for_each_shard(pool, &mut self.shards, &mut self.grads, |t, s, g| {
                g.fill(0.0);
                s.loss = 0.0;
                s.extra = 0.0;
                let r = shard_range(n, n_shards, t);
                if r.is_empty() {
                    return;
                }
                let rows = r.len();
                if k == 0 {
                    gather_normalised(data, norm, &batch[r], &mut s.x, &mut s.bad);
                    if s.bad.is_some() {
                        return;
                    }
                }
                let mut rng = step_rng(seed, k as u64, steps, t);
                let mut pass = Pass { model, buf: &mut s.buf, x: &s.x, n: rows, step };
                s.loss = family.forward(k, &mut pass, &mut rng);
                if !split {
                    s.extra = family.backward(k, &mut pass, g);
                }
            });
            if k == 0 {
                take_bad(&mut self.shards, data, batch)?;
            }
            let mut penalty = 0.0;
            if split {
                let mut ran = self
                    .shards
                    .iter()
                    .enumerate()
                    .filter(|(t, _)| !shard_range(n, n_shards, *t).is_empty())
                    .map(|(_, s)| &s.buf);
                penalty = self.family.combine(k, &mut ran, &step);
                let (family, model) = (&*self.family, &self.model);
                for_each_shard(pool, &mut self.shards, &mut self.grads, |t, s, g| {
                    let r = shard_range(n, n_shards, t);
                    if !r.is_empty() {
                        let mut pass = Pass { model, buf: &mut s.buf, x: &s.x, n: r.len(), step };
                        s.extra = family.backward(k, &mut pass, g);
                    }
                });
            }
            let phase = &self.phases[k];
            if phase.is_loss {
                let l = self.shards.iter().map(|s| s.loss + s.extra).sum::<f64>() + penalty;
                if !l.is_finite() {
                    return Ok(l);
                }
                loss += l;
            }
            let range = phase.params.clone();
            self.reducer.reduce(&mut self.grads, self.shard_len, range.clone());
            self.adams[k].step_parallel(pool, &mut self.model.params.data[range.clone()], &self.grads[range]);
        }
        Ok(loss)
    }

    /// Mean squared error (normalised space) of the model's deterministic reconstruction on
    /// the validation split (`validation`) or the training split; None for an empty split.
    pub fn validation_loss(&mut self, validation: bool) -> Result<Option<f64>> {
        let rows = if validation { &self.split.val } else { &self.split.train };
        validation_loss(
            &self.model,
            self.data,
            &self.normalizer,
            rows,
            self.batch,
            &mut self.shards,
            self.pool.as_deref(),
        )
    }

    /// Writes this epoch's visiting order of the training rows into `order` (windows into
    /// `spans`).
    fn epoch_order(
        &self,
        order: &mut Vec<u32>,
        spans: &mut Vec<WindowSpan>,
        window: Option<usize>,
        rng: &mut rand::rngs::StdRng,
    ) {
        epoch_order(&self.split.train, order, spans, window, rng);
    }
}

/// Trains a model of the family `cfg.model` on `data`. `on` hears about progress.
pub fn train_autoencoder(data: &Dataset, cfg: &TrainConfig, on: &mut dyn FnMut(Progress<'_>)) -> Result<TrainOutcome> {
    let t0 = Instant::now();
    let mut s = Session::new(data, cfg)?;
    let d = data.cols();
    let (train_rows, val_rows) = (s.split.train.len(), s.split.val.len());
    if let Some(explained) = s.explained_variance {
        on(Progress::Start { epochs: 1, batches_per_epoch: 0, train_rows, val_rows });
        let train_loss = s.validation_loss(false)?.unwrap_or(f64::NAN);
        let val_loss = s.validation_loss(true)?;
        let rec = EpochRecord { epoch: 1, train_loss, val_loss, seconds: t0.elapsed().as_secs_f64() };
        on(Progress::Epoch(&rec));
        return Ok(TrainOutcome {
            kind: cfg.model,
            explained_variance: Some(explained),
            model: s.model,
            normalizer: s.normalizer,
            history: vec![rec],
            stopped: None,
            train_rows,
            val_rows,
        });
    }

    let mut last_good = s.model.params.data.clone();
    let mut order: Vec<u32> = Vec::with_capacity(train_rows);
    let mut spans: Vec<WindowSpan> = Vec::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed.wrapping_add(1));
    let window = cfg.shuffle_window.or_else(|| auto_shuffle_window(train_rows, d));
    let batches_per_epoch = train_rows.div_ceil(cfg.batch);
    on(Progress::Start { epochs: cfg.epochs, batches_per_epoch, train_rows, val_rows });

    let mut history = Vec::with_capacity(cfg.epochs);
    let mut stopped = None;
    'epochs: for epoch in 1..=cfg.epochs {
        let t0 = Instant::now();
        s.epoch_order(&mut order, &mut spans, window, &mut rng);
        s.begin_epoch(epoch);
        let mut epoch_loss = 0.0;
        let mut next_span = 0;
        for (b, batch) in order.chunks(cfg.batch).enumerate() {
            // Windowed shuffle: a window whose rows are all visited gives its pages back.
            while next_span < spans.len() && spans[next_span].end <= b * cfg.batch {
                data.release_rows(spans[next_span].lo as usize, spans[next_span].hi as usize + 1);
                next_span += 1;
            }
            let loss = s.step(batch)?;
            if !loss.is_finite() {
                s.model.params.data.copy_from_slice(&last_good);
                stopped = Some(format!(
                    "training loss became {} at epoch {epoch}, batch {}; kept the model from the end of epoch {}",
                    loss,
                    b + 1,
                    epoch - 1
                ));
                break 'epochs;
            }
            epoch_loss += loss;
            on(Progress::Batch { epoch, batch: b + 1 });
        }
        let val_loss = s.validation_loss(true)?;
        if val_loss.is_some_and(|v| !v.is_finite()) || s.model.params.data.iter().any(|p| !p.is_finite()) {
            s.model.params.data.copy_from_slice(&last_good);
            stopped = Some(format!(
                "validation loss became non-finite after epoch {epoch}; kept the model from the end of epoch {}",
                epoch - 1
            ));
            break;
        }
        last_good.copy_from_slice(&s.model.params.data);
        let rec = EpochRecord {
            epoch,
            train_loss: epoch_loss / (train_rows * d) as f64,
            val_loss,
            seconds: t0.elapsed().as_secs_f64(),
        };
        on(Progress::Epoch(&rec));
        history.push(rec);
    }
    Ok(TrainOutcome {
        kind: cfg.model,
        explained_variance: None,
        model: s.model,
        normalizer: s.normalizer,
        history,
        stopped,
        train_rows,
        val_rows,
    })
}
