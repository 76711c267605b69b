//! The data path: NPY datasets (memory-mapped, zero copy), CSV and ROOT import, row filters,
//! normalisers, and the synthetic-jet generator for scale tests.

pub mod csv;
pub mod filter;
pub mod normalize;
pub mod npy;
#[cfg(feature = "root")]
pub mod root;
pub mod sink;
pub mod synth;
