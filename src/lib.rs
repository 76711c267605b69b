//! hepae: hand-written deep autoencoders that compress particle-physics jet data and score
//! anomalous jets. No deep-learning framework: dense layers, activations, losses, Adam and
//! backprop are written here over memory-mapped f32 arrays; SIMD kernels live in `hepae-kernels`.

// Layer functions follow llm.c's signature convention (outputs, then what the forward cached,
// then inputs and weights, then sizes), which makes long argument lists the norm here.
#![allow(clippy::too_many_arguments)]

pub mod anomaly;
/// The archive lives in `formats::archive`; `hepae::archive` keeps naming it.
#[cfg(feature = "archive")]
pub use formats::archive;
pub mod atomic;
pub mod data;
pub mod engine;
pub mod error;
pub mod formats;
pub mod infer;
pub mod metrics;
pub mod model_io;
pub mod models;
pub mod net;
pub mod nn;
pub mod outputs;
#[cfg(feature = "plot")]
pub mod plot;
#[cfg(feature = "plot")]
pub mod report;
pub mod train;
pub mod trainer;

// The modules' paths before the engine/ and infer/ directories.
pub use engine::{gemm, plan, tensor};
pub use infer::{encoder, ffi};

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
