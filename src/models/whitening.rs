//! AE+PCA: a standard autoencoder on PCA-whitened inputs. Frozen whitening
//! y = Λ^(−½)·Vᵀ·(x − m) before the encoder and un-whitening x = V·Λ^(½)·y + m after the
//! decoder, fitted on the normalised training rows ([`super::pca::set_whitening`]); the loss
//! is still measured in the normaliser's space. The stages run inside
//! [`super::autoencoder::Autoencoder`]'s encode and decode; gradients pass through the
//! un-whitening stage without touching its weights.

use super::ae::{reconstruction_backward, reconstruction_forward};
use super::autoencoder::{AeBuffers, Autoencoder, EncoderInput};
use super::family::{Family, Fit, Step};
use super::pca::set_whitening;
use super::shape::{AeShape, ModelKind, OutputActivation};
use crate::error::Result;

/// The family.
#[derive(Clone, Copy, Debug, Default)]
pub struct Whitening;

impl Family for Whitening {
    fn kind(&self) -> ModelKind {
        ModelKind::AePca
    }
    fn shape(&self, base: AeShape) -> AeShape {
        AeShape { whitening: true, output_activation: OutputActivation::Linear, ..base }
    }
    fn prepare(&self, model: &mut Autoencoder, fit: &Fit<'_>) -> Result<()> {
        set_whitening(model, fit.data, fit.normalizer, fit.rows)
    }
    fn forward(
        &self,
        _phase: usize,
        model: &Autoencoder,
        buf: &mut AeBuffers,
        x: &[f32],
        n: usize,
        step: &Step,
        _rng: &mut rand::rngs::StdRng,
    ) -> f64 {
        reconstruction_forward(model, buf, x, n, step, EncoderInput::Clean)
    }
    fn backward(
        &self,
        _phase: usize,
        model: &Autoencoder,
        buf: &mut AeBuffers,
        grads: &mut [f32],
        x: &[f32],
        n: usize,
        _step: &Step,
    ) -> f64 {
        reconstruction_backward(model, buf, grads, x, n, EncoderInput::Clean);
        0.0
    }
}
