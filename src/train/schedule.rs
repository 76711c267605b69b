//! The training schedule: batch size, epoch budget, learning rate per optimiser step and early
//! stopping, resolved once from a [`TrainConfig`] and the number of training rows.
//!
//! A fixed epoch count trains a 1 600-jet sample for a handful of optimiser steps and a
//! 700 000-jet sample for tens of thousands, so the automatic schedule (no `--epochs`) sizes the
//! run by the work instead:
//! - **batch** = n/16 rounded down to a power of two, in [32, 512] (512 is the reference net's
//!   batch, kept on large samples so that a step costs what it always did);
//! - **epochs** (a maximum) = the reference [`REFERENCE_EPOCHS`], raised on small samples until
//!   the run has [`MIN_STEPS`] optimiser steps (at most [`MAX_AUTO_EPOCHS`]), lowered on large
//!   ones to at most [`MAX_STEPS`] steps (at least one epoch). From 102 k training rows on, the
//!   batch is the reference 512 and the epochs at most 50: never more work than the old default
//!   (716 k jets: 25 epochs);
//! - **learning rate**: cosine decay per step from `lr` to `lr`·[`COSINE_FLOOR`] over the whole
//!   budget;
//! - **early stopping** on the validation loss, patience max(10, epochs/10), the best epoch's
//!   parameters kept.
//!
//! An explicit `epochs` means exactly that many epochs at a constant learning rate with no early
//! stopping (today's schedule, bit for bit), unless `lr_schedule` or `patience` ask otherwise. An
//! explicit `batch` or `lr` is used as given.

use crate::error::{Error, Result};
use crate::train::TrainConfig;
use serde::{Deserialize, Serialize};

/// Optimiser steps an automatic schedule gives any sample, however small (before early stopping).
pub const MIN_STEPS: usize = 10_000;
/// Optimiser steps beyond which an automatic schedule takes fewer epochs than the reference 50
/// (a cosine decay over 30 000 steps beats 60 000 at a constant rate on 716 k jets).
pub const MAX_STEPS: usize = 30_000;
/// Epochs of the reference schedule (the seed study's 50 at batch 512): the automatic budget on
/// large samples.
pub const REFERENCE_EPOCHS: usize = 50;
/// The reference batch: the largest automatic batch.
pub const MAX_AUTO_BATCH: usize = 512;
/// The smallest automatic batch.
pub const MIN_AUTO_BATCH: usize = 32;
/// Automatic batch ≈ training rows / this (rounded down to a power of two).
pub const ROWS_PER_BATCH_DIVISOR: usize = 16;
/// The most epochs an automatic schedule takes (reached only below ~300 training rows).
pub const MAX_AUTO_EPOCHS: usize = 1000;
/// The cosine schedule ends at `lr` times this.
pub const COSINE_FLOOR: f64 = 0.01;
/// Relative improvement of the validation loss that resets the early-stopping patience.
pub const MIN_REL_DELTA: f64 = 1e-4;

/// How the learning rate moves over the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    /// `lr` at every step.
    Constant,
    /// ½(1 + cos(π·step/total)) from `lr` down to `lr`·[`COSINE_FLOOR`].
    Cosine,
}

impl LrSchedule {
    pub fn name(self) -> &'static str {
        match self {
            LrSchedule::Constant => "constant",
            LrSchedule::Cosine => "cosine",
        }
    }
}

impl std::str::FromStr for LrSchedule {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "constant" => Ok(LrSchedule::Constant),
            "cosine" => Ok(LrSchedule::Cosine),
            _ => Err(Error::config(format!("--lr-schedule '{s}' is not constant or cosine"))),
        }
    }
}

impl std::fmt::Display for LrSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Early stopping: stop after `patience` epochs whose validation loss did not improve on the
/// reference by more than `min_rel_delta` (relative).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyStop {
    pub patience: usize,
    pub min_rel_delta: f64,
}

/// The schedule a run follows, every choice made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResolvedSchedule {
    /// Rows per optimiser step.
    pub batch: usize,
    /// Epochs to run (early stopping may end sooner).
    pub max_epochs: usize,
    /// Optimiser steps per epoch: ⌈training rows / batch⌉.
    pub steps_per_epoch: usize,
    /// Peak (initial) learning rate.
    pub lr: f32,
    pub lr_schedule: LrSchedule,
    /// None: all `max_epochs` run and the last epoch's parameters are kept.
    pub early_stop: Option<EarlyStop>,
    /// Why these values: which were chosen automatically and by what rule.
    pub why: String,
}

/// Training rows after the validation split of `rows` (as [`crate::train::split_rows`]).
pub fn train_rows(rows: usize, val_fraction: f64) -> usize {
    rows - ((rows as f64 * val_fraction).round() as usize).min(rows)
}

/// The automatic batch for `n_train` rows: n/16 rounded down to a power of two, in [32, 512].
pub fn auto_batch(n_train: usize) -> usize {
    let target = (n_train / ROWS_PER_BATCH_DIVISOR).max(1);
    let pow2 = 1usize << (usize::BITS - 1 - target.leading_zeros());
    pow2.clamp(MIN_AUTO_BATCH, MAX_AUTO_BATCH)
}

/// The automatic epoch budget for `steps_per_epoch`: REFERENCE_EPOCHS, raised to
/// ⌈MIN_STEPS/steps⌉ (at most MAX_AUTO_EPOCHS) or lowered to ⌊MAX_STEPS/steps⌋ (at least 1).
pub fn auto_epochs(steps_per_epoch: usize) -> usize {
    let spe = steps_per_epoch.max(1);
    if REFERENCE_EPOCHS * spe < MIN_STEPS {
        MIN_STEPS.div_ceil(spe).min(MAX_AUTO_EPOCHS)
    } else if REFERENCE_EPOCHS * spe > MAX_STEPS {
        (MAX_STEPS / spe).max(1)
    } else {
        REFERENCE_EPOCHS
    }
}

impl ResolvedSchedule {
    /// The schedule of `cfg` for `n_train` training rows, validated on `n_val` rows (early
    /// stopping needs a validation split).
    pub fn resolve(cfg: &TrainConfig, n_train: usize, n_val: usize) -> Self {
        let mut why = Vec::new();
        let batch = match cfg.batch {
            Some(b) => b,
            None => {
                let b = auto_batch(n_train);
                why.push(format!("batch ≈ {n_train} rows/{ROWS_PER_BATCH_DIVISOR} as a power of two in [{MIN_AUTO_BATCH}, {MAX_AUTO_BATCH}]"));
                b
            }
        };
        let steps_per_epoch = n_train.div_ceil(batch.max(1)).max(1);
        let max_epochs = match cfg.epochs {
            Some(e) => e,
            None => {
                why.push(format!(
                    "epochs {REFERENCE_EPOCHS}, raised for ≥ {MIN_STEPS} steps (≤ {MAX_AUTO_EPOCHS} epochs) or lowered for ≤ {MAX_STEPS}"
                ));
                auto_epochs(steps_per_epoch)
            }
        };
        let lr_schedule = cfg.lr_schedule.unwrap_or(if cfg.epochs.is_none() {
            why.push("cosine lr with an automatic budget".into());
            LrSchedule::Cosine
        } else {
            LrSchedule::Constant
        });
        let patience = match cfg.patience {
            Some(p) => p,
            None if cfg.epochs.is_none() => {
                let p = (max_epochs / 10).max(10);
                why.push(format!("patience max(10, epochs/10) = {p}"));
                p
            }
            None => 0,
        };
        let early_stop = if patience == 0 {
            None
        } else if n_val == 0 {
            why.push("no early stopping without a validation split".into());
            None
        } else {
            Some(EarlyStop { patience, min_rel_delta: MIN_REL_DELTA })
        };
        if why.is_empty() {
            why.push("as given".into());
        }
        ResolvedSchedule {
            batch,
            max_epochs,
            steps_per_epoch,
            lr: cfg.lr,
            lr_schedule,
            early_stop,
            why: why.join("; "),
        }
    }

    /// Optimiser steps if every epoch runs.
    pub fn total_steps(&self) -> usize {
        self.max_epochs * self.steps_per_epoch
    }

    /// Learning rate of the optimiser step that follows `done` steps (0 for the first). Constant:
    /// exactly `lr` (as f64), so a constant schedule reproduces a plain Adam run bit for bit.
    pub fn lr_at(&self, done: u64) -> f64 {
        let lr = self.lr as f64;
        match self.lr_schedule {
            LrSchedule::Constant => lr,
            LrSchedule::Cosine => {
                let progress = (done as f64 / self.total_steps().max(1) as f64).min(1.0);
                let floor = lr * COSINE_FLOOR;
                floor + (lr - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }

    /// One line for the start of training: what was chosen and why.
    pub fn summary(&self) -> String {
        let lr = match self.lr_schedule {
            LrSchedule::Constant => format!("lr {:e} constant", self.lr),
            LrSchedule::Cosine => format!("lr {:e} cosine → {}", self.lr, short_e(self.lr as f64 * COSINE_FLOOR)),
        };
        let stop = match self.early_stop {
            Some(e) => format!("early stop after {} epochs without improvement (best model kept)", e.patience),
            None => "no early stop".into(),
        };
        format!(
            "schedule: batch {}, up to {} epochs × {} steps = {} steps, {lr}, {stop} ({})",
            self.batch,
            self.max_epochs,
            self.steps_per_epoch,
            self.total_steps(),
            self.why
        )
    }
}

/// `v` in exponent form with at most three significant digits: 1e-5, 1.5e-5.
fn short_e(v: f64) -> String {
    let s = format!("{v:.2e}");
    match s.split_once('e') {
        Some((m, e)) => format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.')),
        None => s,
    }
}

/// What the loop does after an epoch's validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The lowest validation loss so far: keep these parameters.
    NewBest,
    /// Go on.
    Continue,
    /// Patience exhausted: stop and restore the best parameters.
    Stop,
}

/// Follows the validation loss epoch by epoch for [`EarlyStop`].
#[derive(Clone, Debug)]
pub struct EarlyStopTracker {
    rule: EarlyStop,
    best: f64,
    best_epoch: Option<usize>,
    /// The loss a new epoch must beat by `min_rel_delta` to reset the patience.
    reference: f64,
    since: usize,
}

impl EarlyStopTracker {
    pub fn new(rule: EarlyStop) -> Self {
        EarlyStopTracker { rule, best: f64::INFINITY, best_epoch: None, reference: f64::INFINITY, since: 0 }
    }

    /// Records `val_loss` after `epoch`. Any strictly lower loss is a new best (so the kept
    /// model has the minimum validation loss); only a drop of more than `min_rel_delta` resets
    /// the patience. A non-finite loss never improves.
    pub fn observe(&mut self, epoch: usize, val_loss: f64) -> Decision {
        let finite = val_loss.is_finite();
        if finite && val_loss < self.reference * (1.0 - self.rule.min_rel_delta) {
            self.reference = val_loss;
            self.since = 0;
        } else {
            self.since += 1;
        }
        if finite && val_loss < self.best {
            self.best = val_loss;
            self.best_epoch = Some(epoch);
            return Decision::NewBest;
        }
        if self.since >= self.rule.patience {
            Decision::Stop
        } else {
            Decision::Continue
        }
    }

    /// The epoch with the lowest validation loss so far.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }

    /// The lowest validation loss so far (∞ before any).
    pub fn best_loss(&self) -> f64 {
        self.best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto() -> TrainConfig {
        TrainConfig::default()
    }

    #[test]
    fn small_sample_gets_a_small_batch_and_enough_epochs_for_the_minimum_steps() {
        // The shipped 1 636 jets: 1 391 training rows.
        let n = train_rows(1636, 0.15);
        let s = ResolvedSchedule::resolve(&auto(), n, 1636 - n);
        assert_eq!(s.batch, 64);
        assert_eq!(s.steps_per_epoch, n.div_ceil(64));
        assert!(s.total_steps() >= MIN_STEPS, "{} steps", s.total_steps());
        assert!(s.max_epochs > REFERENCE_EPOCHS);
        assert_eq!(s.lr_schedule, LrSchedule::Cosine);
        assert!(s.early_stop.is_some());
        // 600 and 3 000 rows: batch and epochs both adapt, steps ≥ MIN_STEPS.
        for (n, batch) in [(600, 32), (3000, 128)] {
            let s = ResolvedSchedule::resolve(&auto(), n, n / 5);
            assert_eq!(s.batch, batch, "{n} rows");
            assert!(s.total_steps() >= MIN_STEPS && s.max_epochs <= MAX_AUTO_EPOCHS, "{n} rows");
        }
        // 160 rows: the smallest batch, and the epoch cap.
        let s = ResolvedSchedule::resolve(&auto(), 160, 28);
        assert_eq!((s.batch, s.max_epochs), (MIN_AUTO_BATCH, MAX_AUTO_EPOCHS));
    }

    #[test]
    fn large_sample_never_does_more_work_than_the_fixed_50_epoch_schedule() {
        let reference = TrainConfig { epochs: Some(50), batch: Some(512), ..auto() };
        for n in [101_889, 200_000, 608_978, 10_000_000] {
            let s = ResolvedSchedule::resolve(&auto(), n, n / 5);
            let r = ResolvedSchedule::resolve(&reference, n, n / 5);
            assert!(s.batch >= r.batch, "{n}: batch {} < {}", s.batch, r.batch);
            assert!(s.max_epochs * n <= r.max_epochs * n, "{n}: {} epochs", s.max_epochs);
            assert!(s.total_steps() <= r.total_steps());
            assert!(s.total_steps() >= MIN_STEPS && s.total_steps() <= MAX_STEPS.max(s.steps_per_epoch));
        }
        // 716 k jets (608 600 training rows): batch 512, 25 epochs, half the old work.
        let s = ResolvedSchedule::resolve(&auto(), 608_600, 107_400);
        assert_eq!((s.batch, s.max_epochs, s.steps_per_epoch), (512, 25, 1189));
        // 10 M jets: one epoch is already past MAX_STEPS.
        assert_eq!(ResolvedSchedule::resolve(&auto(), 10_000_000, 0).max_epochs, 1);
        // In between, the work is at most that of MIN_STEPS steps plus one epoch.
        for n in [2_000, 5_000, 20_000, 101_888] {
            let s = ResolvedSchedule::resolve(&auto(), n, n / 5);
            let samples = s.max_epochs * n;
            assert!(samples <= (REFERENCE_EPOCHS * n).max((MIN_STEPS + s.steps_per_epoch) * s.batch), "{n}");
        }
    }

    #[test]
    fn batch_grows_with_the_sample_as_a_power_of_two() {
        let mut last = 0;
        for n in [1, 100, 600, 1_000, 1_391, 5_000, 9_000, 50_000, 1 << 30] {
            let b = auto_batch(n);
            assert!(b.is_power_of_two() && (MIN_AUTO_BATCH..=MAX_AUTO_BATCH).contains(&b), "{n}: {b}");
            assert!(b >= last, "{n}: batch must not shrink as the sample grows");
            last = b;
        }
        assert_eq!(auto_batch(8192), 512);
        assert_eq!(auto_batch(8191), 256);
    }

    #[test]
    fn explicit_epochs_batch_and_lr_are_exact_with_a_constant_lr_and_no_early_stop() {
        let cfg = TrainConfig { epochs: Some(7), batch: Some(100), lr: 3e-4, ..auto() };
        let s = ResolvedSchedule::resolve(&cfg, 1_000_000, 1000);
        assert_eq!((s.max_epochs, s.batch, s.steps_per_epoch), (7, 100, 10_000));
        assert_eq!(s.lr_schedule, LrSchedule::Constant);
        assert_eq!(s.early_stop, None);
        for step in [0, 1, 12_345, 70_000, 10_000_000] {
            assert_eq!(s.lr_at(step), 3e-4f32 as f64, "a constant schedule is exactly --lr");
        }
        // Early stopping only when asked; a cosine schedule likewise.
        let cfg = TrainConfig { patience: Some(3), lr_schedule: Some(LrSchedule::Cosine), ..cfg };
        let s = ResolvedSchedule::resolve(&cfg, 1000, 100);
        assert_eq!((s.max_epochs, s.lr_schedule), (7, LrSchedule::Cosine));
        assert_eq!(s.early_stop.map(|e| e.patience), Some(3));
        // --patience 0 turns early stopping off in an automatic schedule; no validation rows too.
        assert_eq!(ResolvedSchedule::resolve(&TrainConfig { patience: Some(0), ..auto() }, 1000, 100).early_stop, None);
        assert_eq!(ResolvedSchedule::resolve(&auto(), 1000, 0).early_stop, None);
    }

    #[test]
    fn cosine_lr_starts_at_lr_falls_monotonically_and_ends_at_the_floor() {
        let s = ResolvedSchedule::resolve(&TrainConfig { lr: 1e-3, ..auto() }, 1391, 245);
        let lr = 1e-3f32 as f64;
        let total = s.total_steps() as u64;
        assert!((s.lr_at(0) - lr).abs() <= 1e-15);
        assert!((s.lr_at(total / 2) - (lr + lr * COSINE_FLOOR) / 2.0).abs() <= lr * 1e-3);
        assert!((s.lr_at(total) - lr * COSINE_FLOOR).abs() <= 1e-15);
        assert!((s.lr_at(10 * total) - lr * COSINE_FLOOR).abs() <= 1e-15, "past the end: the floor");
        let mut last = f64::INFINITY;
        for step in (0..=total).step_by(97) {
            let v = s.lr_at(step);
            assert!(v <= last && v >= lr * COSINE_FLOOR, "step {step}: {v}");
            last = v;
        }
    }

    #[test]
    fn summary_says_every_choice() {
        let s = ResolvedSchedule::resolve(&auto(), 1391, 245).summary();
        assert!(s.starts_with("schedule: batch 64, up to 455 epochs × 22 steps = 10010 steps, lr 1e-3 cosine → 1e-5, early stop after 45 epochs"), "{s}");
        assert!(s.contains("1391 rows/16") && s.contains("≥ 10000 steps") && s.contains("≤ 30000"), "{s}");
        assert_eq!(short_e(1.5e-5), "1.5e-5");
        assert_eq!(short_e(1.2345e-3), "1.23e-3");
    }

    #[test]
    fn a_config_saved_before_the_schedule_existed_still_means_its_fixed_schedule() {
        // `training.config` of a model file written by the previous release.
        let old = r#"{"hidden": [200, 100, 50], "latent": 15, "epochs": 50, "batch": 512, "lr": 0.001, "norm": "minmax",
            "seed": 1, "threads": 2, "val_fraction": 0.15, "output_activation": "linear", "slope": 0.01,
            "momentum_to_gev": 1.0, "shuffle_window": null, "model": "ae", "beta": 1.0, "kl_warmup": 0,
            "gaussian_decoder": false, "lambda": 0.001, "rho": 0.05, "noise": 0.05, "mask": 0.0, "prior": "normal",
            "disc_hidden": [64, 64], "parallel": "batch"}"#;
        let cfg: TrainConfig = serde_json::from_str(old).unwrap();
        assert_eq!((cfg.epochs, cfg.batch, cfg.lr_schedule, cfg.patience), (Some(50), Some(512), None, None));
        let s = ResolvedSchedule::resolve(&cfg, 1391, 245);
        assert_eq!((s.batch, s.max_epochs, s.lr_schedule, s.early_stop), (512, 50, LrSchedule::Constant, None));
        // And the new fields round-trip.
        let cfg = TrainConfig { lr_schedule: Some(LrSchedule::Cosine), patience: Some(4), ..auto() };
        assert_eq!(serde_json::from_str::<TrainConfig>(&serde_json::to_string(&cfg).unwrap()).unwrap(), cfg);
    }

    #[test]
    fn train_rows_matches_the_split() {
        for (rows, f) in [(1636, 0.15), (188, 0.15), (10, 0.0), (7, 0.5), (716_445, 0.15)] {
            assert_eq!(train_rows(rows, f), crate::train::split_rows(rows, f, 3).train.len(), "{rows} {f}");
        }
    }

    #[test]
    fn early_stop_tracker_keeps_the_minimum_and_stops_after_patience() {
        let mut t = EarlyStopTracker::new(EarlyStop { patience: 3, min_rel_delta: 1e-2 });
        use Decision::*;
        let seq = [(1.0, NewBest), (0.5, NewBest), (0.6, Continue), (0.499, NewBest), (0.7, Stop)];
        for (e, (v, want)) in seq.iter().enumerate() {
            assert_eq!(t.observe(e + 1, *v), *want, "epoch {} loss {v}", e + 1);
        }
        // 0.499 is a new best (kept) but not 1 % better than 0.5, so the patience ran from epoch 2
        // and ended after epochs 3, 4 and 5.
        assert_eq!((t.best_epoch(), t.best_loss()), (Some(4), 0.499));
        let mut t = EarlyStopTracker::new(EarlyStop { patience: 2, min_rel_delta: 0.0 });
        assert_eq!(t.observe(1, f64::NAN), Continue, "NaN never improves");
        assert_eq!(t.observe(2, f64::INFINITY), Stop);
        assert_eq!(t.best_epoch(), None);
    }
}
