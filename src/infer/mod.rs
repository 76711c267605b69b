//! Inference outside training: [`encoder`] (normaliser + the model's nets, physical units in
//! and out) and [`ffi`] (the C ABI over it; header in `include/hepae.h`).

pub mod encoder;
pub mod ffi;
