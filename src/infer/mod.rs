//! Inference outside training: [`encoder`] (normaliser + the model's nets, physical units in
//! and out), [`ffi`] (the C ABI over it; header in `include/hepae.h`) and [`quantized`]
//! (reduced-precision encoders, which both run when the model has one).

pub mod encoder;
pub mod ffi;
pub mod quantized;
pub mod quantized_calibrate;
pub mod quantized_precision;
pub mod quantized_price;
