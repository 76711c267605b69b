//! Training: [`config`] (what decides a run), [`split`] (seeded split and shuffling),
//! [`run`] (the loop: epochs, shuffling, validation, progress, NaN guard), [`session`] (the
//! run's state and its step: the model's phases on every shard), [`reduce`] (gradient
//! reduction across shards, before Adam), [`schedule`] (batch, epochs, learning rate and early
//! stopping sized by the work), the shards themselves (`shard.rs`), and [`ranks`] (data-parallel
//! training across processes; over MPI in `mpi` with the `mpi` feature).

pub mod config;
#[cfg(feature = "mpi")]
pub mod mpi;
pub mod ranks;
pub mod reduce;
pub mod run;
pub mod schedule;
pub mod session;
mod shard;
pub mod split;

pub use config::{Backbone, Parallel, TrainConfig};
pub use ranks::World;
pub use run::{train_autoencoder, train_autoencoder_in, EpochRecord, Progress, TrainOutcome};
pub use session::Session;
pub use split::{auto_shuffle_window, split_rows, Split};
