//! The standard autoencoder: x → encoder → z → decoder → x̂, loss Σ(x̂ − x)²/(N·D) (MSE, as
//! PyTorch's `nn.MSELoss()`), one phase over every parameter. Its forward and backward are
//! the reconstruction step the other families build on.

use super::autoencoder::EncoderInput;
use super::family::{Family, Step};
// The paths these had before the families got their own files.
pub use super::autoencoder::{AeBuffers, Autoencoder, LatentWork};
pub use super::shape::{AeShape, LatentActivation, ModelKind, OutputActivation, Prior};

/// The family.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ae;

/// Encode (from `input`), decode, MSE (or Gaussian NLL): returns the loss sum.
pub(crate) fn reconstruction_forward(
    model: &Autoencoder,
    buf: &mut AeBuffers,
    x: &[f32],
    n: usize,
    step: &Step,
    input: EncoderInput,
) -> f64 {
    model.encode_train(x, buf, n, input);
    model.decode_loss(x, buf, n, step.batch_elems)
}

/// Decoder backward, dL/dz straight into the encoder, encoder backward.
pub(crate) fn reconstruction_backward(
    model: &Autoencoder,
    buf: &mut AeBuffers,
    grads: &mut [f32],
    x: &[f32],
    n: usize,
    input: EncoderInput,
) {
    model.backward_to_code(grads, buf, n);
    code_grad_to_encoder(model, buf, n);
    model.backward_encoder(grads, x, buf, n, input);
}

/// Copies dL/dz (`work.dz`) into the encoder's output gradient.
pub(crate) fn code_grad_to_encoder(model: &Autoencoder, buf: &mut AeBuffers, n: usize) {
    let l = model.shape.latent;
    buf.enc.out_grad_mut()[..n * l].copy_from_slice(&buf.work.dz[..n * l]);
}

/// Everything is the trait's default: the reconstruction step above.
impl Family for Ae {
    fn kind(&self) -> ModelKind {
        ModelKind::Ae
    }
}
