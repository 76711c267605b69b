//! hepae: hand-written deep autoencoders that compress particle-physics jet data and score
//! anomalous jets. No deep-learning framework: dense layers, activations, losses, Adam and
//! backprop are written here over memory-mapped f32 arrays; SIMD kernels live in `hepae-kernels`.

pub mod atomic;
pub mod data;
pub mod encoder;
pub mod error;
pub mod gemm;
pub mod metrics;
pub mod model_io;
pub mod models;
pub mod nn;
pub mod plan;
pub mod plot;
pub mod report;
pub mod tensor;
pub mod train;

#[cfg(feature = "cli")]
pub mod cli;

pub use error::{Error, Location, Result};
