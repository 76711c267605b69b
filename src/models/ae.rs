//! The standard autoencoder: x → encoder → z → decoder → x̂, loss Σ(x̂ − x)²/(N·D) (MSE, as
//! PyTorch's `nn.MSELoss()`), one phase over every parameter. Its forward and backward are
//! the reconstruction step the other families build on.

use super::autoencoder::EncoderInput;
use super::family::{Family, Pass};
// The paths these had before the families got their own files.
pub use super::autoencoder::{AeBuffers, Autoencoder, LatentWork};
pub use super::shape::{AeShape, LatentActivation, ModelKind, OutputActivation, Prior};

/// The family.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ae;

/// Encode (from `input`), decode, MSE (or Gaussian NLL): returns the loss sum.
pub(crate) fn reconstruction_forward(s: &mut Pass<'_>, input: EncoderInput) -> f64 {
    s.model.encode_train(s.x, s.buf, s.n, input);
    s.model.decode_loss(s.x, s.buf, s.n, s.step.batch_elems)
}

/// Decoder backward, dL/dz straight into the encoder, encoder backward.
pub(crate) fn reconstruction_backward(s: &mut Pass<'_>, grads: &mut [f32], input: EncoderInput) {
    s.model.backward_to_code(grads, s.buf, s.n);
    code_grad_to_encoder(s);
    s.model.backward_encoder(grads, s.x, s.buf, s.n, input);
}

/// Copies dL/dz (`work.dz`) into the encoder's output gradient.
pub(crate) fn code_grad_to_encoder(s: &mut Pass<'_>) {
    let nl = s.n * s.model.shape.latent;
    s.buf.enc.out_grad_mut()[..nl].copy_from_slice(&s.buf.work.dz[..nl]);
}

/// Everything is the trait's default: the reconstruction step above.
impl Family for Ae {
    fn kind(&self) -> ModelKind {
        ModelKind::Ae
    }
}
