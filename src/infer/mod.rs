//! Inference outside training: [`encoder`] (normaliser + the model's nets, physical units in
//! and out; [`conv_fused`], its fused path for image encoders), [`ffi`] (the C ABI over it; header in `include/hepae.h`) and [`quantized`]
//! (reduced-precision encoders, which both run when the model has one).

pub mod conv_fused;
pub mod encoder;
pub mod ffi;
pub mod quantized;
pub mod quantized_calibrate;
pub mod quantized_precision;
pub mod quantized_price;
