//! Training: [`config`] (what decides a run), [`split`] (seeded split and shuffling),
//! [`run`] (the loop: epochs, batches, the model's phases, validation, progress, NaN guard)
//! and [`reduce`] (gradient reduction across shards, before Adam).

pub mod config;
pub mod reduce;
pub mod run;
pub mod split;

pub use config::{Parallel, TrainConfig};
pub use run::{train_autoencoder, EpochRecord, Progress, Session, TrainOutcome};
pub use split::{auto_shuffle_window, split_rows, Split};
