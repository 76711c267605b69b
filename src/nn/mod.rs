//! The ops a network is built from, each with its forward and backward side by side in one
//! file ([`op::Op`] says what an op provides; [`op::OpSpec`] lists them).
//!
//! Dimension letters, used in every doc comment below:
//! - `N` rows in the batch (jets),
//! - `I` features into a layer, `O` features out of it,
//! - `D` variables per jet (the autoencoder's input and output width),
//! - `L` latent width; `C, H, W` channels, height and width of an image row.
//!
//! All matrices are row-major f32. Conventions (llm.c style): outputs first, then what the
//! forward cached, then inputs and weights, then sizes; gradients carry a `d` prefix.
//! Parameter gradients are *added* into (the training step zeroes them once per step);
//! gradients with respect to a layer's input are overwritten.

pub mod act;
pub mod activation;
pub mod adam;
pub mod conv2d;
pub mod conv_transpose2d;
mod conv_transpose_phases;
pub mod dense;
pub mod im2col;
pub mod im2col_planes;
pub mod init;
pub mod latent;
pub mod loss;
pub mod op;
mod plane_products;
pub mod pool;
pub mod prelu;
pub mod reshape;
pub mod sphere;
pub mod upsample;

// The registry: every op a net spec can name (adding an op: its file, its `mod` line above,
// its line here).
crate::ops! {
    Dense(dense::Dense),
    Conv2d(conv2d::Conv2d),
    ConvTranspose2d(conv_transpose2d::ConvTranspose2d),
    Pool2d(pool::Pool2d),
    Upsample(upsample::Upsample),
    Reshape(reshape::Reshape),
    Act(act::Act),
    Prelu(prelu::Prelu),
    Sphere(sphere::Sphere),
}
