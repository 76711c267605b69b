//! The variational autoencoder: the encoder's last layer emits [μ | log σ²] (linear), the
//! code is z = μ + e^(½ log σ²)·ε with a seeded ε ~ N(0, I), and the loss is
//! (Σ squared error + β·Σ KL(N(μ, σ²) ‖ N(0, I)))/(N·D), with β rising linearly over
//! `kl_warmup` epochs. With a Gaussian decoder, the decoder emits [x̂ | log σ²ₓ] and the
//! squared error becomes the Gaussian NLL. Compression and evaluation use μ.

use super::autoencoder::EncoderInput;
use super::family::{Family, Pass};
use super::shape::{AeShape, LatentActivation, ModelKind};
use crate::nn::latent::{join_heads, kl_normal, reparam_backward, reparam_forward, sample_normal};

/// The family and its options.
#[derive(Clone, Copy, Debug)]
pub struct Vae {
    /// Weight β of the KL term after warm-up.
    pub beta: f32,
    /// Epochs over which β rises linearly from 0 (0 = none).
    pub kl_warmup: usize,
    pub gaussian_decoder: bool,
    /// This epoch's β.
    beta_now: f32,
}

impl Vae {
    pub fn new(beta: f32, kl_warmup: usize, gaussian_decoder: bool) -> Self {
        Vae { beta, kl_warmup, gaussian_decoder, beta_now: beta }
    }
}

impl Family for Vae {
    fn kind(&self) -> ModelKind {
        ModelKind::Vae
    }
    fn shape(&self, base: AeShape) -> AeShape {
        AeShape {
            variational: true,
            latent_activation: LatentActivation::Linear,
            gaussian_decoder: self.gaussian_decoder,
            ..base
        }
    }
    fn begin_epoch(&mut self, epoch: usize) {
        self.beta_now =
            if self.kl_warmup > 0 { self.beta * (epoch as f32 / self.kl_warmup as f32).min(1.0) } else { self.beta };
    }
    fn forward(&self, _phase: usize, s: &mut Pass<'_>, rng: &mut rand::rngs::StdRng) -> f64 {
        let nl = s.n * s.model.shape.latent;
        s.model.encode_train(s.x, s.buf, s.n, EncoderInput::Clean);
        let w = &mut s.buf.work;
        sample_normal(&mut w.eps[..nl], rng);
        reparam_forward(&mut w.z[..nl], &w.mu[..nl], &w.logvar[..nl], &w.eps[..nl]);
        s.model.decode_loss(s.x, s.buf, s.n, s.step.batch_elems)
    }
    fn backward(&self, _phase: usize, s: &mut Pass<'_>, grads: &mut [f32]) -> f64 {
        let (n, l) = (s.n, s.model.shape.latent);
        let nl = n * l;
        s.model.backward_to_code(grads, s.buf, n);
        // loss += β·Σ KL / (N·D): the ELBO per sample, scaled by 1/D like the MSE.
        let w = &mut s.buf.work;
        w.dmu[..nl].fill(0.0);
        w.dlogvar[..nl].fill(0.0);
        let scale = self.beta_now / s.step.batch_elems as f32;
        let kl = kl_normal(&mut w.dmu[..nl], &mut w.dlogvar[..nl], &w.mu[..nl], &w.logvar[..nl], scale);
        reparam_backward(&mut w.dmu[..nl], &mut w.dlogvar[..nl], &w.dz[..nl], &w.logvar[..nl], &w.eps[..nl]);
        join_heads(s.buf.enc.out_grad_mut(), &w.dmu, &w.dlogvar, n, l);
        s.model.backward_encoder(grads, s.x, s.buf, n, EncoderInput::Clean);
        self.beta_now as f64 * kl
    }
}
