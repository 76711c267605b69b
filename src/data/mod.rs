//! The data path: NPY datasets (memory-mapped, zero copy), CSV import, row filters,
//! normalisers, and the synthetic-jet generator for scale tests.

pub mod csv;
pub mod filter;
pub mod normalize;
pub mod npy;
pub mod synth;
