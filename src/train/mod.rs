//! Training: [`config`] (what decides a run), [`split`] (seeded split and shuffling),
//! [`run`] (the loop: epochs, shuffling, validation, progress, NaN guard), [`session`] (the
//! run's state and its step: the model's phases on every shard), [`reduce`] (gradient
//! reduction across shards, before Adam), [`schedule`] (batch, epochs, learning rate and early
//! stopping sized by the work) and the shards themselves (`shard.rs`).

pub mod config;
pub mod reduce;
pub mod run;
pub mod schedule;
pub mod session;
mod shard;
pub mod split;

pub use config::{Backbone, Parallel, TrainConfig};
pub use run::{train_autoencoder, EpochRecord, Progress, TrainOutcome};
pub use session::Session;
pub use split::{auto_shuffle_window, split_rows, Split};
