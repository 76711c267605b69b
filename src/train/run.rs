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

use super::config::TrainConfig;
use super::ranks::World;
use super::schedule::{Decision, EarlyStopTracker, ResolvedSchedule};
pub use super::session::Session;
use super::split::{auto_shuffle_window, WindowSpan};
use crate::data::normalize::Normalizer;
use crate::data::npy::Dataset;
use crate::error::Result;
use crate::models::shape::ModelKind;
use crate::models::Autoencoder;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
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
    /// NAE epochs: positive and negative energies, chain acceptance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energies: Option<crate::models::nae::EpochEnergies>,
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

/// Trains a model of the family `cfg.model` on `data`. `on` hears about progress.
pub fn train_autoencoder(data: &Dataset, cfg: &TrainConfig, on: &mut dyn FnMut(Progress<'_>)) -> Result<TrainOutcome> {
    train_autoencoder_in(data, cfg, World::single(), on)
}

/// [`train_autoencoder`] as one rank of `world` (see [`super::ranks`]): every rank returns the
/// same outcome (the same parameter bits); the caller of rank 0 writes it.
pub fn train_autoencoder_in(
    data: &Dataset,
    cfg: &TrainConfig,
    world: World,
    on: &mut dyn FnMut(Progress<'_>),
) -> Result<TrainOutcome> {
    let t0 = Instant::now();
    let mut s = Session::new_in(data, cfg, world)?;
    let d = data.cols();
    let (train_rows, val_rows) = (s.split.train.len(), s.split.val.len());
    if let Some(explained) = s.explained_variance {
        on(Progress::Start { epochs: 1, batches_per_epoch: 0, train_rows, val_rows });
        let train_loss = s.validation_loss(false)?.unwrap_or(f64::NAN);
        let val_loss = s.validation_loss(true)?;
        let rec = EpochRecord { epoch: 1, train_loss, val_loss, seconds: t0.elapsed().as_secs_f64(), energies: None };
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
            schedule: s.schedule,
            best_epoch: None,
            early_stopped: None,
        });
    }

    let mut last_good = s.model.params.data.clone();
    let mut order: Vec<u32> = Vec::with_capacity(train_rows);
    let mut spans: Vec<WindowSpan> = Vec::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed.wrapping_add(1));
    let window = cfg.shuffle_window.or_else(|| auto_shuffle_window(train_rows, d));
    let sched = s.schedule.clone();
    let batch_size = sched.batch;
    let batches_per_epoch = train_rows.div_ceil(batch_size);
    on(Progress::Start { epochs: sched.max_epochs, batches_per_epoch, train_rows, val_rows });

    let mut history = Vec::with_capacity(sched.max_epochs);
    let mut stopped = None;
    // schedule: the early-stopping tracker and the best epoch's parameters (allocated once).
    let mut tracker = sched.early_stop.map(EarlyStopTracker::new);
    let mut best = if tracker.is_some() { s.model.params.data.clone() } else { Vec::new() };
    let mut early_stopped = None;
    let mut steps_done: u64 = 0;
    'epochs: for epoch in 1..=sched.max_epochs {
        let t0 = Instant::now();
        s.epoch_order(&mut order, &mut spans, window, &mut rng);
        s.begin_epoch(epoch);
        let mut epoch_loss = 0.0;
        let mut next_span = 0;
        for (b, batch) in order.chunks(batch_size).enumerate() {
            // Windowed shuffle: a window whose rows are all visited gives its pages back.
            while next_span < spans.len() && spans[next_span].end <= b * batch_size {
                data.release_rows(spans[next_span].lo as usize, spans[next_span].hi as usize + 1);
                next_span += 1;
            }
            // schedule: this step's learning rate (exactly --lr when constant).
            s.set_lr(sched.lr_at(steps_done));
            steps_done += 1;
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
            energies: s.end_epoch(),
        };
        on(Progress::Epoch(&rec));
        history.push(rec);
        // schedule: keep the best epoch's parameters; stop when the patience is spent.
        if let (Some(t), Some(v)) = (tracker.as_mut(), val_loss) {
            match t.observe(epoch, v) {
                Decision::NewBest => best.copy_from_slice(&s.model.params.data),
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
        s.model.params.data.copy_from_slice(&best);
        if let Some(why) = stopped.as_mut() {
            why.push_str(&format!(" (early stopping keeps the best epoch, {e})"));
        }
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
        schedule: sched,
        best_epoch,
        early_stopped,
    })
}
