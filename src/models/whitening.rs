//! AE+PCA: a standard autoencoder on PCA-whitened inputs. Frozen whitening
//! y = Λ^(−½)·Vᵀ·(x − m) before the encoder and un-whitening x = V·Λ^(½)·y + m after the
//! decoder, fitted on the normalised training rows ([`super::pca::set_whitening`]); the loss
//! is still measured in the normaliser's space. The stages run inside
//! [`super::autoencoder::Autoencoder`]'s encode and decode; gradients pass through the
//! un-whitening stage without touching its weights.

use super::autoencoder::Autoencoder;
use super::family::{Family, Fit};
use super::pca::set_whitening;
use super::shape::{AeShape, ModelKind, OutputActivation};
use crate::error::Result;

/// The family: the standard reconstruction step (the trait's default) on whitened inputs.
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
}
