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
use crate::models::ae::{
    AeBuffers, AeShape, Autoencoder, LatentActivation, ModelKind, OutputActivation, Prior, StepLoss, StepOptions,
};
use crate::models::pca::{fit_pca, set_whitening};
use crate::nn::adam::Adam;
use crate::nn::loss::sum_squared_error;
use crate::train_schedule::{Decision, EarlyStopTracker, LrSchedule, ResolvedSchedule};
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
    /// Epochs; `None`: automatic (a budget sized by the sample, early stopping, cosine lr;
    /// see [`crate::train_schedule`]). `Some(n)`: exactly n epochs.
    pub epochs: Option<usize>,
    /// Rows per optimiser step; `None`: automatic (grows with the sample, at most 512).
    pub batch: Option<usize>,
    /// Adam learning rate (the peak of a cosine schedule).
    pub lr: f32,
    /// `None`: cosine with automatic epochs, constant with explicit ones.
    #[serde(default)]
    pub lr_schedule: Option<LrSchedule>,
    /// Early-stopping patience in epochs (0: off); `None`: automatic with automatic epochs, off
    /// with explicit ones.
    #[serde(default)]
    pub patience: Option<usize>,
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
    /// Model family.
    #[serde(default)]
    pub model: ModelKind,
    /// VAE: weight β of the KL term.
    #[serde(default = "default_beta")]
    pub beta: f32,
    /// VAE: epochs over which β rises linearly from 0 (0 = no warm-up).
    #[serde(default)]
    pub kl_warmup: usize,
    /// VAE: Gaussian decoder that also predicts log σ²ₓ (per-variable NLL loss).
    #[serde(default)]
    pub gaussian_decoder: bool,
    /// Sparse AEs: penalty weight λ.
    #[serde(default = "default_lambda")]
    pub lambda: f32,
    /// Sparse-KL: target mean activation ρ.
    #[serde(default = "default_rho")]
    pub rho: f32,
    /// Denoising: σ of the Gaussian noise on the normalised input.
    #[serde(default = "default_noise")]
    pub noise: f32,
    /// Denoising: masking probability.
    #[serde(default)]
    pub mask: f32,
    /// AAE: the prior the latent is matched to.
    #[serde(default)]
    pub prior: Prior,
    /// AAE: discriminator hidden widths.
    #[serde(default = "default_disc")]
    pub disc_hidden: Vec<usize>,
    /// How threads share a step: split the batch (default), or split each GEMM's rows
    /// (kept to measure the difference; see benches/README.md).
    #[serde(default)]
    pub parallel: Parallel,
}

/// How a training step uses several threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Parallel {
    /// Each thread runs forward/backward on its share of the batch with its own buffers; one
    /// gradient reduction per step.
    #[default]
    Batch,
    /// One shard; every large GEMM splits its rows across the threads.
    Gemm,
}

impl std::str::FromStr for Parallel {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "batch" => Ok(Parallel::Batch),
            "gemm" => Ok(Parallel::Gemm),
            _ => Err(Error::config(format!("--parallel '{s}' is not batch or gemm"))),
        }
    }
}

fn default_beta() -> f32 {
    1.0
}
fn default_lambda() -> f32 {
    1e-3
}
fn default_rho() -> f32 {
    0.05
}
fn default_noise() -> f32 {
    0.05
}
fn default_disc() -> Vec<usize> {
    vec![64, 64]
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            hidden: vec![200, 100, 50],
            latent: 15,
            epochs: None,
            batch: None,
            lr: 1e-3,
            lr_schedule: None,
            patience: None,
            norm: NormKind::Minmax,
            seed: 1,
            threads: 1,
            val_fraction: 0.15,
            output_activation: OutputActivation::Linear,
            slope: crate::nn::activation::LEAKY_SLOPE,
            momentum_to_gev: 1.0,
            shuffle_window: None,
            model: ModelKind::Ae,
            beta: default_beta(),
            kl_warmup: 0,
            gaussian_decoder: false,
            lambda: default_lambda(),
            rho: default_rho(),
            noise: default_noise(),
            mask: 0.0,
            prior: Prior::Normal,
            disc_hidden: default_disc(),
            parallel: Parallel::Batch,
        }
    }
}

impl TrainConfig {
    /// Checks the options a user can get wrong.
    pub fn validate(&self) -> Result<()> {
        if self.batch == Some(0) {
            return Err(Error::config("--batch must be at least 1"));
        }
        if self.latent == 0 || self.hidden.contains(&0) {
            return Err(Error::config("layer widths must be at least 1"));
        }
        if !(0.0..1.0).contains(&self.val_fraction) {
            return Err(Error::config(format!("--val-fraction {} must be in [0, 1)", self.val_fraction)));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::config(format!("--lr {} must be a positive number", self.lr)));
        }
        if self.threads == 0 {
            return Err(Error::config("--threads must be at least 1"));
        }
        if !(self.slope.is_finite() && self.slope > 0.0) {
            return Err(Error::config("the LeakyReLU slope must be positive"));
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return Err(Error::config(format!("--beta {} must be ≥ 0", self.beta)));
        }
        if !(self.lambda.is_finite() && self.lambda >= 0.0) {
            return Err(Error::config(format!("--lambda {} must be ≥ 0", self.lambda)));
        }
        if !(self.rho > 0.0 && self.rho < 1.0) {
            return Err(Error::config(format!("--rho {} must be in (0, 1)", self.rho)));
        }
        if !(self.noise.is_finite() && self.noise >= 0.0 && (0.0..1.0).contains(&self.mask)) {
            return Err(Error::config("--noise must be ≥ 0 and --mask in [0, 1)"));
        }
        if self.model == ModelKind::Aae && (self.disc_hidden.is_empty() || self.disc_hidden.contains(&0)) {
            return Err(Error::config("--disc-hidden needs at least one non-zero width"));
        }
        if self.gaussian_decoder && self.model != ModelKind::Vae {
            return Err(Error::config("--gaussian-decoder applies to --model vae only"));
        }
        Ok(())
    }
}

/// Datasets above this many values are shuffled in windows of this many values (8 MiB of
/// f32): the window is what stays resident while it is visited.
const FULL_SHUFFLE_MAX_VALUES: usize = 2 << 20;

/// The shuffling window for a dataset: `None` (full shuffle) when it is small, else about
/// 2 Mi values' worth of rows (about 87 000 rows of 24 variables).
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
                spans.push(WindowSpan { end: order.len(), lo: win[0], hi: win[win.len() - 1] });
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
    /// The schedule the run followed.
    pub schedule: ResolvedSchedule,
    /// With early stopping: the epoch whose parameters `model` holds (lowest validation loss).
    pub best_epoch: Option<usize>,
    /// The epoch after which early stopping ended the run, if it did.
    pub early_stopped: Option<usize>,
}

impl TrainOutcome {
    /// The record of the epoch whose parameters the model holds: the best epoch with early
    /// stopping, else the last.
    pub fn kept_record(&self) -> Option<&EpochRecord> {
        match self.best_epoch {
            Some(e) => self.history.iter().find(|h| h.epoch == e),
            None => self.history.last(),
        }
    }
}

/// One thread's share of a batch: its input rows, workspace, gradient buffer and generator.
struct Shard {
    x: Vec<f32>,
    buf: AeBuffers,
    grads: Vec<f32>,
    loss: StepLoss,
    extra: f64,
    bad: Option<(usize, usize)>,
}

/// Rows `[t·⌈n/T⌉, min((t+1)·⌈n/T⌉, n))` of an n-row batch belong to shard t.
fn shard_range(n: usize, shards: usize, t: usize) -> std::ops::Range<usize> {
    let per = n.div_ceil(shards);
    let start = (t * per).min(n);
    start..((t + 1) * per).min(n)
}

/// Runs `f` on every shard, in parallel when there are several.
fn for_each_shard(pool: Option<&rayon::ThreadPool>, shards: &mut [Shard], f: impl Fn(usize, &mut Shard) + Sync) {
    match pool {
        Some(pool) => pool.install(|| shards.par_iter_mut().enumerate().for_each(|(t, s)| f(t, s))),
        None => shards.iter_mut().enumerate().for_each(|(t, s)| f(t, s)),
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

/// Sums the shards' gradients over `range` into shard 0's buffer, in shard order.
fn reduce_grads(shards: &mut [Shard], range: std::ops::Range<usize>) {
    let (first, rest) = shards.split_first_mut().expect("at least one shard");
    for s in rest.iter() {
        for (g, h) in first.grads[range.clone()].iter_mut().zip(&s.grads[range.clone()]) {
            *g += h;
        }
    }
}

/// Sums the shards' gradients over `range` into shard 0's buffer (shard order, per element)
/// and applies Adam to the same range, both split across the threads by parameter slice: one
/// pass over the parameters, in parallel, with the same bits as the serial sum and update.
fn reduce_and_adam(
    pool: Option<&rayon::ThreadPool>,
    shards: &mut [Shard],
    params: &mut [f32],
    adam: &mut Adam,
    range: std::ops::Range<usize>,
) {
    let hp = adam.next_step();
    let (m, v) = adam.moments_mut();
    let (first, rest) = shards.split_first_mut().expect("at least one shard");
    let g0 = &mut first.grads[range.clone()];
    let p = &mut params[range.clone()];
    let rest: &[Shard] = rest;
    let start = range.start;
    let work = |(i, (((pc, gc), mc), vc)): (usize, AdamChunk<'_>)| {
        let off = start + i * ADAM_CHUNK;
        for s in rest {
            for (g, h) in gc.iter_mut().zip(&s.grads[off..off + pc.len()]) {
                *g += h;
            }
        }
        Adam::update_slice(pc, gc, mc, vc, &hp);
    };
    match pool {
        Some(pool) => pool.install(|| {
            p.par_chunks_mut(ADAM_CHUNK)
                .zip(g0.par_chunks_mut(ADAM_CHUNK))
                .zip(m.par_chunks_mut(ADAM_CHUNK))
                .zip(v.par_chunks_mut(ADAM_CHUNK))
                .enumerate()
                .for_each(work)
        }),
        None => p
            .chunks_mut(ADAM_CHUNK)
            .zip(g0.chunks_mut(ADAM_CHUNK))
            .zip(m.chunks_mut(ADAM_CHUNK))
            .zip(v.chunks_mut(ADAM_CHUNK))
            .enumerate()
            .for_each(work),
    }
}

/// One task's slices: parameters, summed gradient, first and second moments.
type AdamChunk<'a> = (((&'a mut [f32], &'a mut [f32]), &'a mut [f32]), &'a mut [f32]);

/// Parameters per task of the parallel gradient sum and Adam update.
const ADAM_CHUNK: usize = 8192;

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
    for chunk in rows.chunks(batch) {
        if chunk.len() == batch {
            // Rows are ascending: hand back the pages of the previous chunks.
            data.release_rows(0, chunk[0] as usize);
        }
        for_each_shard(pool, shards, |t, s| {
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

/// The network shape a configuration asks for.
fn shape_for(cfg: &TrainConfig, d: usize) -> AeShape {
    let mut shape = AeShape::standard(d, cfg.hidden.clone(), cfg.latent, cfg.slope, cfg.output_activation);
    match cfg.model {
        ModelKind::Vae => {
            shape.variational = true;
            shape.latent_activation = LatentActivation::Linear;
            shape.gaussian_decoder = cfg.gaussian_decoder;
        }
        ModelKind::SparseKl => shape.latent_activation = LatentActivation::Sigmoid,
        ModelKind::Aae => {
            shape.latent_activation = LatentActivation::Linear;
            shape.discriminator = cfg.disc_hidden.clone();
        }
        ModelKind::AePca => {
            shape.whitening = true;
            shape.output_activation = OutputActivation::Linear;
        }
        ModelKind::Pca => {
            shape.hidden.clear();
            shape.latent_activation = LatentActivation::Linear;
            shape.output_activation = OutputActivation::Linear;
        }
        ModelKind::Ae | ModelKind::SparseL1 | ModelKind::Denoising => {}
    }
    shape
}

/// Trains a model of the family `cfg.model` on `data`. `on` hears about progress.
pub fn train_autoencoder(data: &Dataset, cfg: &TrainConfig, on: &mut dyn FnMut(Progress<'_>)) -> Result<TrainOutcome> {
    cfg.validate()?;
    let d = data.cols();
    if data.rows() == 0 || d == 0 {
        return Err(Error::data(Location::file(data.path()), "the dataset is empty"));
    }
    data.check_finite()?;
    let split = split_rows(data.rows(), cfg.val_fraction, cfg.seed);
    if split.train.is_empty() {
        return Err(Error::data(Location::file(data.path()), "no rows left for training after the validation split"));
    }
    let normalizer = Normalizer::fit(cfg.norm, data, &split.train, cfg.momentum_to_gev)?;
    let shape = shape_for(cfg, d);
    // schedule: batch, epochs, lr per step and early stopping, resolved once (train_schedule.rs).
    let sched = ResolvedSchedule::resolve(cfg, split.train.len(), split.val.len());
    let batch_size = sched.batch;

    // Plan every buffer once: one shard per thread, each for its share of a full batch (or
    // one shard whose GEMMs split their rows, for the comparison).
    let n_shards = if cfg.parallel == Parallel::Gemm { 1 } else { cfg.threads.min(batch_size).max(1) };
    crate::gemm::set_row_split(if cfg.parallel == Parallel::Gemm { cfg.threads } else { 0 });
    let per = batch_size.div_ceil(n_shards);
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

    if cfg.model == ModelKind::Pca {
        let t0 = Instant::now();
        let (model, explained) = fit_pca(data, &normalizer, &split.train, cfg.latent)?;
        on(Progress::Start {
            epochs: 1,
            batches_per_epoch: 0,
            train_rows: split.train.len(),
            val_rows: split.val.len(),
        });
        let mut shards: Vec<Shard> = (0..n_shards).map(|_| new_shard(&model, per, d)).collect();
        let train_loss =
            validation_loss(&model, data, &normalizer, &split.train, batch_size, &mut shards, pool.as_ref())?
                .unwrap_or(f64::NAN);
        let val_loss = validation_loss(&model, data, &normalizer, &split.val, batch_size, &mut shards, pool.as_ref())?;
        let rec = EpochRecord { epoch: 1, train_loss, val_loss, seconds: t0.elapsed().as_secs_f64() };
        on(Progress::Epoch(&rec));
        return Ok(TrainOutcome {
            kind: cfg.model,
            explained_variance: Some(explained),
            model,
            normalizer,
            history: vec![rec],
            stopped: None,
            schedule: sched,
            best_epoch: None,
            early_stopped: None,
            train_rows: split.train.len(),
            val_rows: split.val.len(),
        });
    }

    let mut model = Autoencoder::new(shape);
    model.init(cfg.seed);
    if cfg.model == ModelKind::AePca {
        set_whitening(&mut model, data, &normalizer, &split.train)?;
    }
    let aae = cfg.model == ModelKind::Aae;
    // Adam states: reconstruction (encoder+decoder, or everything trained), discriminator,
    // generator (encoder only).
    let main_end = if aae { model.decoder_end } else { model.trainable };
    let mut adam = Adam::new(main_end, cfg.lr);
    let mut adam_disc = Adam::new(model.trainable - model.decoder_end, cfg.lr);
    let mut adam_gen = Adam::new(model.encoder_end, cfg.lr);
    let mut shards: Vec<Shard> = (0..n_shards).map(|_| new_shard(&model, per, d)).collect();
    let mut drho = vec![0.0f32; cfg.latent];
    let mut rho_hat = vec![0.0f32; cfg.latent];

    let mut last_good = model.params.data.clone();
    let mut order: Vec<u32> = Vec::with_capacity(split.train.len());
    let mut spans: Vec<WindowSpan> = Vec::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed.wrapping_add(1));
    let window = cfg.shuffle_window.or_else(|| auto_shuffle_window(split.train.len(), d));
    let batches_per_epoch = split.train.len().div_ceil(batch_size);
    on(Progress::Start {
        epochs: sched.max_epochs,
        batches_per_epoch,
        train_rows: split.train.len(),
        val_rows: split.val.len(),
    });

    let mut history = Vec::with_capacity(sched.max_epochs);
    let mut stopped = None;
    // schedule: the early-stopping tracker and the best epoch's parameters (allocated once).
    let mut tracker = sched.early_stop.map(EarlyStopTracker::new);
    let mut best = if tracker.is_some() { model.params.data.clone() } else { Vec::new() };
    let mut early_stopped = None;
    let mut step: u64 = 0;
    'epochs: for epoch in 1..=sched.max_epochs {
        let t0 = Instant::now();
        epoch_order(&split.train, &mut order, &mut spans, window, &mut rng);
        let beta = if cfg.kl_warmup > 0 { cfg.beta * (epoch as f32 / cfg.kl_warmup as f32).min(1.0) } else { cfg.beta };
        let opt = StepOptions { kind: cfg.model, beta, lambda: cfg.lambda, noise: cfg.noise, mask: cfg.mask };
        let mut epoch_loss = 0.0;
        let mut next_span = 0;
        for (b, batch) in order.chunks(batch_size).enumerate() {
            // Windowed shuffle: a window whose rows are all visited gives its pages back.
            while next_span < spans.len() && spans[next_span].end <= b * batch_size {
                data.release_rows(spans[next_span].lo as usize, spans[next_span].hi as usize + 1);
                next_span += 1;
            }
            step += 1;
            let n = batch.len();
            let batch_elems = n * d;
            let two_phase = cfg.model == ModelKind::SparseKl;
            {
                let model = &model;
                let normalizer = &normalizer;
                for_each_shard(pool.as_ref(), &mut shards, |t, s| {
                    s.grads.fill(0.0);
                    s.loss = StepLoss::default();
                    s.buf.work.col_sums.fill(0.0);
                    let r = shard_range(n, n_shards, t);
                    if r.is_empty() {
                        return;
                    }
                    let rows = r.len();
                    gather_normalised(data, normalizer, &batch[r], &mut s.x, &mut s.bad);
                    if s.bad.is_some() {
                        return;
                    }
                    let mut g = step_rng(cfg.seed, 0, step, t);
                    if two_phase {
                        s.loss.recon = model.forward_train(&s.x, &mut s.buf, rows, batch_elems, &opt, &mut g);
                    } else {
                        s.loss = model.train_shard(&mut s.grads, &s.x, &mut s.buf, rows, batch_elems, n, &opt, &mut g);
                    }
                });
            }
            take_bad(&mut shards, data, batch)?;
            let mut penalty = 0.0;
            if two_phase {
                // ρ̂_j over the whole batch (all shards), then each shard's backward.
                rho_hat.fill(0.0);
                for s in &shards {
                    for (a, c) in rho_hat.iter_mut().zip(&s.buf.work.col_sums) {
                        *a += c;
                    }
                }
                for a in rho_hat.iter_mut() {
                    *a = (*a / n as f32).clamp(1e-6, 1.0 - 1e-6);
                }
                let kl = (hepae_kernels::kernels().kl_sparsity)(&mut drho, &rho_hat, cfg.rho, cfg.lambda);
                penalty = cfg.lambda as f64 * kl * batch_elems as f64;
                let model = &model;
                let drho = &drho;
                for_each_shard(pool.as_ref(), &mut shards, |t, s| {
                    let r = shard_range(n, n_shards, t);
                    if !r.is_empty() {
                        model.backward_train(&mut s.grads, &s.x, &mut s.buf, r.len(), batch_elems, n, &opt, Some(drho));
                    }
                });
            }
            let loss = shards.iter().map(|s| s.loss.recon + s.loss.penalty).sum::<f64>() + penalty;
            if !loss.is_finite() {
                model.params.data.copy_from_slice(&last_good);
                stopped = Some(format!(
                    "training loss became {} at epoch {epoch}, batch {}; kept the model from the end of epoch {}",
                    loss,
                    b + 1,
                    epoch - 1
                ));
                break 'epochs;
            }
            // schedule: this step's learning rate (exactly cfg.lr when constant).
            let lr = sched.lr_at(step - 1);
            (adam.lr, adam_disc.lr, adam_gen.lr) = (lr, lr, lr);
            reduce_and_adam(pool.as_ref(), &mut shards, &mut model.params.data, &mut adam, 0..main_end);
            if aae {
                let (enc_end, dec_end, tr_end) = (model.encoder_end, model.decoder_end, model.trainable);
                // Phase 2: the discriminator, prior samples against encoded jets.
                let m = &model;
                for_each_shard(pool.as_ref(), &mut shards, |t, s| {
                    s.grads.fill(0.0);
                    s.extra = 0.0;
                    let r = shard_range(n, n_shards, t);
                    if !r.is_empty() {
                        let mut g = step_rng(cfg.seed, 1, step, t);
                        s.extra = m.discriminator_shard(&mut s.grads, &s.x, &mut s.buf, r.len(), n, cfg.prior, &mut g);
                    }
                });
                reduce_grads(&mut shards, dec_end..tr_end);
                adam_disc.step(&mut model.params.data[dec_end..tr_end], &shards[0].grads[dec_end..tr_end]);
                // Phase 3: the encoder as generator.
                let m = &model;
                for_each_shard(pool.as_ref(), &mut shards, |t, s| {
                    s.grads.fill(0.0);
                    let r = shard_range(n, n_shards, t);
                    if !r.is_empty() {
                        s.extra = m.generator_shard(&mut s.grads, &s.x, &mut s.buf, r.len(), n);
                    }
                });
                reduce_grads(&mut shards, 0..enc_end);
                adam_gen.step(&mut model.params.data[..enc_end], &shards[0].grads[..enc_end]);
            }
            epoch_loss += loss;
            on(Progress::Batch { epoch, batch: b + 1 });
        }
        let val_loss = validation_loss(&model, data, &normalizer, &split.val, batch_size, &mut shards, pool.as_ref())?;
        if val_loss.is_some_and(|v| !v.is_finite()) || model.params.data.iter().any(|p| !p.is_finite()) {
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
            train_loss: epoch_loss / (split.train.len() * d) as f64,
            val_loss,
            seconds: t0.elapsed().as_secs_f64(),
        };
        on(Progress::Epoch(&rec));
        history.push(rec);
        // schedule: keep the best epoch's parameters; stop when the patience is spent.
        if let (Some(t), Some(v)) = (tracker.as_mut(), val_loss) {
            match t.observe(epoch, v) {
                Decision::NewBest => best.copy_from_slice(&model.params.data),
                Decision::Continue => {}
                Decision::Stop => {
                    early_stopped = Some(epoch);
                    break;
                }
            }
        }
    }
    // schedule: the model returned is the best epoch's.
    let best_epoch = tracker.as_ref().and_then(EarlyStopTracker::best_epoch);
    if let Some(e) = best_epoch {
        model.params.data.copy_from_slice(&best);
        if let Some(why) = stopped.as_mut() {
            why.push_str(&format!(" (early stopping keeps the best epoch, {e})"));
        }
    }
    Ok(TrainOutcome {
        kind: cfg.model,
        explained_variance: None,
        model,
        normalizer,
        history,
        stopped,
        schedule: sched,
        best_epoch,
        early_stopped,
        train_rows: split.train.len(),
        val_rows: split.val.len(),
    })
}

fn new_shard(model: &Autoencoder, per: usize, d: usize) -> Shard {
    Shard {
        x: vec![0.0; per * d],
        buf: model.plan(per, true),
        grads: vec![0.0; model.params.len()],
        loss: StepLoss::default(),
        extra: 0.0,
        bad: None,
    }
}
