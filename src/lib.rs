//! hepae: hand-written deep autoencoders that compress particle-physics jet data and score
//! anomalous jets. No deep-learning framework: dense layers, activations, losses, Adam and
//! backprop are written here over memory-mapped f32 arrays; SIMD kernels live in `hepae-kernels`.

// Layer functions follow llm.c's signature convention (outputs, then what the forward cached,
// then inputs and weights, then sizes), which makes long argument lists the norm here.
#![allow(clippy::too_many_arguments)]

pub mod anomaly;
#[cfg(feature = "archive")]
pub mod archive;
pub mod atomic;
pub mod data;
pub mod encoder;
pub mod error;
pub mod ffi;
pub mod gemm;
pub mod metrics;
pub mod model_io;
pub mod models;
pub mod nn;
pub mod outputs;
pub mod plan;
#[cfg(feature = "plot")]
pub mod plot;
#[cfg(feature = "plot")]
pub mod report;
pub mod tensor;
pub mod train;
pub mod trainer;

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
