//! hepae: hand-written deep autoencoders that compress particle-physics jet data and score
//! anomalous jets. No deep-learning framework: dense layers, activations, losses, Adam and
//! backprop are written here over memory-mapped f32 arrays; SIMD kernels live in `hepae-kernels`.
//!
//! The modules, from the bottom up:
//! - [`engine`]: tensor views with a shape, the GEMM (parallelism passed in), the plan (one
//!   arena per net and batch size).
//! - [`nn`]: one op per file, forward and backward side by side (dense, activations, losses,
//!   latent ops, Adam, init); [`net`]: a sequence of ops with a serialisable spec.
//! - [`models`]: one family per file, each an objective over encoder and decoder nets.
//! - [`train`]: config, split, schedule, the loop and gradient reduction; [`trainer`] wraps it.
//! - [`infer`]: `Encoder`/`Decoder` (normaliser + net) and the C ABI.
//! - [`data`]: NPY datasets, normalisers, filters, synthetic jets, and `import/` (one file per
//!   input format behind one trait).
//! - [`formats`]: the model file and the archive; [`io`]: atomic output and output-path checks.
//! - [`analysis`]: reconstruction metrics, anomaly scores, the shared statistics (one AUC).
//! - `plot` (feature `plot`): one file per figure kind and the HTML report; `cli` (feature
//!   `cli`): one file per subcommand.

// Layer functions follow llm.c's signature convention (outputs, then what the forward cached,
// then inputs and weights, then sizes), which makes long argument lists the norm here.
#![allow(clippy::too_many_arguments)]

pub mod analysis;
/// The archive lives in `formats::archive`; `hepae::archive` keeps naming it.
#[cfg(feature = "archive")]
pub use formats::archive;
pub mod data;
pub mod engine;
pub mod error;
pub mod formats;
pub mod infer;
pub mod io;
pub mod manifold;
pub mod models;
pub mod net;
pub mod nn;
#[cfg(feature = "plot")]
pub mod plot;
pub mod train;
pub mod trainer;

// The modules' paths before the engine/, infer/, formats/, analysis/, io/ and plot/ directories.
pub use analysis::{anomaly, metrics};
pub use engine::{gemm, plan, tensor};
pub use formats::model_file as model_io;
pub use infer::{encoder, ffi};
pub use io::{atomic, outputs};
#[cfg(feature = "plot")]
pub use plot::report;

#[cfg(feature = "cli")]
pub mod cli;

pub use data::npy::Dataset;
pub use encoder::{Decoder, Encoder};
pub use error::{Error, Location, Result};
pub use model_io::SavedModel;
/// A trained model (weights, normaliser, column names): [`SavedModel`] by its short name.
pub use model_io::SavedModel as Model;
pub use train::TrainConfig;
pub use trainer::Trainer;
