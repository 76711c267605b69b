//! [`Session`]: one training run's state and its step. The step gathers a batch, runs every
//! phase the model's family gives on every shard, reduces the gradients and steps Adam.

use super::config::{Parallel, TrainConfig};
use super::ranks::{rank_range, World};
use super::reduce::{GradReduce, LocalShards};
use super::schedule::ResolvedSchedule;
use super::shard::{for_each_shard, gather_normalised, shard_range, step_rng, take_bad, validation_loss, Shard};
use super::split::{epoch_order, split_rows, Split, WindowSpan};
use crate::data::normalize::Normalizer;
use crate::data::npy::Dataset;
use crate::engine::gemm::Gemm;
use crate::error::{Error, Location, Result};
use crate::models::family::{Family, Fit, Pass, Phase, Step};
use crate::models::shape::{AeShape, ModelKind};
use crate::models::{family_for, Autoencoder};
use crate::nn::adam::Adam;
use std::sync::Arc;

/// One training run's state, built once: the split, the normaliser, the model and its
/// family's phases, an Adam state per phase, every shard's workspace and gradient slice, the
/// thread pool and the gradient reducer. [`Session::step`] is the training step
/// `train_autoencoder` runs for each batch (and what the no-allocation test drives).
pub struct Session<'d> {
    data: &'d Dataset,
    pub split: Split,
    pub normalizer: Normalizer,
    pub model: Autoencoder,
    /// PCA: the explained-variance fraction of a closed-form model (no steps to run).
    pub explained_variance: Option<f64>,
    /// The resolved schedule (batch, epochs, learning rate per step, early stopping).
    pub schedule: ResolvedSchedule,
    family: Box<dyn Family>,
    phases: Vec<Phase>,
    adams: Vec<Adam>,
    shards: Vec<Shard>,
    /// Every shard's gradient, one after another (`shard_len` values each).
    grads: Vec<f32>,
    shard_len: usize,
    pool: Option<Arc<rayon::ThreadPool>>,
    reducer: Box<dyn GradReduce>,
    /// The ranks of a data-parallel run (one process alone by default): each takes its rows of
    /// every batch, and their gradients are summed in rank order after the threads'.
    world: World,
    batch: usize,
    /// [`TrainConfig::micro_batch`].
    micro_batch: Option<usize>,
    seed: u64,
    steps: u64,
    epoch: usize,
}

impl<'d> Session<'d> {
    /// Validates `cfg` and `data`, splits and fits the normaliser, builds the family's model
    /// (initialised, with its fitted parts; or fitted in closed form) and plans every buffer.
    pub fn new(data: &'d Dataset, cfg: &TrainConfig) -> Result<Self> {
        Session::new_in(data, cfg, World::single())
    }

    /// [`Session::new`] as one rank of `world`: every rank checks its block of the dataset's
    /// rows, all ranks confirm they run the same options on the same data, the normaliser is
    /// fitted over all ranks' training rows, and the split and shuffles are the global ones.
    pub fn new_in(data: &'d Dataset, cfg: &TrainConfig, mut world: World) -> Result<Self> {
        let (size, rank) = (world.size(), world.rank());
        let start = (|| {
            cfg.validate()?;
            if size > 1 && matches!(cfg.model, ModelKind::Pca | ModelKind::AePca | ModelKind::SparseKl) {
                return Err(Error::config(format!(
                    "--model {} is not supported across several ranks yet (it needs statistics of the whole batch or sample in one process); run it on one rank",
                    cfg.model
                )));
            }
            if data.rows() == 0 || data.cols() == 0 {
                return Err(Error::data(Location::file(data.path()), "the dataset is empty"));
            }
            super::ranks::check_finite_rows(data, rank_range(data.rows(), size, rank))
        })();
        let hash = if size > 1 { super::ranks::run_hash(data, cfg) } else { 0 };
        world.check_same(start, hash)?;
        let d = data.cols();
        let split = split_rows(data.rows(), cfg.val_fraction, cfg.seed);
        if split.train.is_empty() {
            return Err(Error::data(
                Location::file(data.path()),
                "no rows left for training after the validation split",
            ));
        }
        // Each rank fits on its block of the training rows; the statistics are merged.
        let mine = &split.train[rank_range(split.train.len(), size, rank)];
        let normalizer = Normalizer::fit_with(cfg.norm, data, mine, cfg.momentum_to_gev, &mut |l, s, lo, hi| {
            world.combine_stats(l, s, lo, hi)
        })?;
        let mut family = family_for(cfg);
        // Batch, epochs, learning rate and early stopping, resolved once for this sample (and
        // adjusted by a family with its own epoch structure).
        let mut schedule = ResolvedSchedule::resolve(cfg, split.train.len(), split.val.len());
        family.schedule(&mut schedule);
        let batch = schedule.batch;
        // This rank's share of a full batch.
        let rank_batch = batch.div_ceil(size);

        // One shard per thread, each for its share of a full batch (or one shard whose GEMMs
        // split their rows, for the comparison).
        let (n_shards, gemm) = match cfg.parallel {
            Parallel::Gemm => (1, Gemm::detect().with_row_split(cfg.threads)),
            Parallel::Batch => (cfg.threads.min(rank_batch).max(1), Gemm::detect()),
        };
        let per = rank_batch.div_ceil(n_shards);
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
                let mut base = AeShape::standard(d, cfg.hidden.clone(), cfg.latent, cfg.slope, cfg.output_activation);
                base.activation = cfg.activation;
                if cfg.is_conv() {
                    // The conv backbone: the image shape from the data (or --image-shape).
                    let shape = crate::models::conv_ae::input_shape(data, &cfg.conv)?;
                    base.conv = Some(cfg.conv.resolve(shape)?);
                    base.hidden.clear();
                }
                let mut model = Autoencoder::new(family.shape(base));
                model.init(cfg.seed);
                family.prepare(&mut model, &fit)?;
                (model, None)
            }
        };
        let phases = if explained_variance.is_some() { Vec::new() } else { family.phases(&model) };
        family.plan(&model, per, n_shards);
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
        world.plan(shard_len);
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
            world,
            pool,
            model,
            explained_variance,
            batch,
            schedule,
            seed: cfg.seed,
            micro_batch: cfg.micro_batch,
            steps: 0,
            epoch: 1,
        })
    }

    /// Sets the learning rate of every phase's Adam from the next step on (a schedule's hook).
    pub fn set_lr(&mut self, lr: f64) {
        for (k, adam) in self.adams.iter_mut().enumerate() {
            adam.lr = lr * self.family.lr_scale(k);
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
        let n_shards = self.shards.len();
        // The loss terms are normalised by the whole batch; this rank runs its rows, and its
        // shards are numbered after the lower ranks' (their generators are the global shard's).
        let step = Step { epoch: self.epoch, batch_rows: batch.len(), batch_elems: batch.len() * self.data.cols() };
        let (size, rank) = (self.world.size(), self.world.rank());
        let batch = &batch[rank_range(batch.len(), size, rank)];
        let first_shard = rank * n_shards;
        let n = batch.len();
        let (data, norm, seed, steps) = (self.data, &self.normalizer, self.seed, self.steps);
        let (cols, micro_batch) = (data.cols(), self.micro_batch);
        let pool = self.pool.as_deref();
        let mut loss = 0.0;
        // The batch is gathered by the first phase that runs this epoch.
        let mut gathered = false;
        for k in 0..self.phases.len() {
            if !self.family.active(k, self.epoch) {
                continue;
            }
            let gather = !gathered;
            gathered = true;
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
                let (first, these) = (r.start, &batch[r]);
                if gather {
                    gather_normalised(data, norm, these, &mut s.x, &mut s.bad);
                    if s.bad.is_some() {
                        return;
                    }
                }
                let mut rng = step_rng(seed, k as u64, steps, first_shard + t);
                // A phase of per-row terms runs in passes of at most `micro` rows, its
                // gradients added up: each pass's activations stay in the caches.
                let micro =
                    if split { rows } else { micro_batch.or(family.micro_batch(k)).unwrap_or(rows).clamp(1, rows) };
                for p0 in (0..rows).step_by(micro) {
                    let p = p0..(p0 + micro).min(rows);
                    let x = &s.x[p.start * cols..p.end * cols];
                    let (n, rows, first) = (p.len(), &these[p.clone()], first + p.start);
                    let mut pass = Pass { model, buf: &mut s.buf, x, n, rows, step, shard: t, first };
                    s.loss += family.forward(k, &mut pass, &mut rng);
                    if !split {
                        s.extra += family.backward(k, &mut pass, g);
                    }
                }
            });
            if gather {
                let read = take_bad(&mut self.shards, data, batch).map(|()| 0.0);
                self.world.agree(read, "reading its rows of a batch", |_| {})?;
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
                        let (n, first) = (r.len(), r.start);
                        let mut pass =
                            Pass { model, buf: &mut s.buf, x: &s.x, n, rows: &batch[r], step, shard: t, first };
                        s.extra = family.backward(k, &mut pass, g);
                    }
                });
            }
            let phase = &self.phases[k];
            if phase.is_loss {
                let l = self.shards.iter().map(|s| s.loss + s.extra).sum::<f64>() + penalty;
                let l = self.world.agree_sum(Ok(l), "training")?;
                if !l.is_finite() {
                    return Ok(l);
                }
                loss += l;
            }
            let range = phase.params.clone();
            self.reducer.reduce(&mut self.grads, self.shard_len, range.clone());
            self.world.sum_gradients(&mut self.grads[range.clone()])?;
            self.adams[k].step_parallel(pool, &mut self.model.params.data[range.clone()], &self.grads[range]);
        }
        Ok(loss)
    }

    /// Ends the epoch for the family: the NAE's energies of the epoch, if it ran NAE steps.
    pub fn end_epoch(&mut self) -> Option<crate::models::nae::EpochEnergies> {
        self.family.end_epoch()
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
            &mut self.world,
        )
    }

    /// Writes this epoch's visiting order of the training rows into `order` (windows into
    /// `spans`).
    pub(super) fn epoch_order(
        &self,
        order: &mut Vec<u32>,
        spans: &mut Vec<WindowSpan>,
        window: Option<usize>,
        rng: &mut rand::rngs::StdRng,
    ) {
        epoch_order(&self.split.train, order, spans, window, rng);
    }
}
