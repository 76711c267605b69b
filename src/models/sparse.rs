//! Sparse autoencoders: the reconstruction loss plus a sparsity penalty on the code z.
//! - [`SparseL1`]: λ·(1/N)·Σ|z| (mean over jets of the code's L1 norm).
//! - [`SparseKl`]: λ·Σ_j KL(ρ‖ρ̂_j), ρ̂_j = (1/N)·Σ_n z_nj the batch mean of latent unit j;
//!   the latent layer is a sigmoid, so each activation is a firing probability in (0, 1).
//!   ρ̂ needs the whole batch: the shards meet between forward and backward ([`Family::combine`]).
//!
//! Both are expressed in units of the reconstruction's squared-error sum (× N·D).

use super::ae::code_grad_to_encoder;
use super::autoencoder::{AeBuffers, Autoencoder, EncoderInput};
use super::family::{Family, Pass, Phase, Step};
use super::shape::{AeShape, LatentActivation, ModelKind};
use crate::nn::latent::{kl_sparsity, l1_penalty, mean_backward};

/// Sparse-L1 and its weight λ.
#[derive(Clone, Copy, Debug)]
pub struct SparseL1 {
    pub lambda: f32,
}

impl Family for SparseL1 {
    fn kind(&self) -> ModelKind {
        ModelKind::SparseL1
    }
    fn backward(&self, _phase: usize, s: &mut Pass<'_>, grads: &mut [f32]) -> f64 {
        let nl = s.n * s.model.shape.latent;
        s.model.backward_to_code(grads, s.buf, s.n);
        let w = &mut s.buf.work;
        let (rows, elems) = (s.step.batch_rows, s.step.batch_elems);
        let l1 = l1_penalty(&mut w.dz[..nl], &w.z[..nl], self.lambda / rows as f32);
        code_grad_to_encoder(s);
        s.model.backward_encoder(grads, s.x, s.buf, s.n, EncoderInput::Clean);
        self.lambda as f64 * l1 * (elems as f64 / rows as f64)
    }
}

/// Sparse-KL: weight λ, target mean activation ρ, and the step's batch-wide ρ̂ and dL/dρ̂.
#[derive(Clone, Debug)]
pub struct SparseKl {
    pub lambda: f32,
    pub rho: f32,
    rho_hat: Vec<f32>,
    drho: Vec<f32>,
}

impl SparseKl {
    pub fn new(lambda: f32, rho: f32, latent: usize) -> Self {
        SparseKl { lambda, rho, rho_hat: vec![0.0; latent], drho: vec![0.0; latent] }
    }
}

impl Family for SparseKl {
    fn kind(&self) -> ModelKind {
        ModelKind::SparseKl
    }
    fn shape(&self, base: AeShape) -> AeShape {
        AeShape { latent_activation: LatentActivation::Sigmoid, ..base }
    }
    fn phases(&self, model: &Autoencoder) -> Vec<Phase> {
        vec![Phase { batch_stats: true, ..Phase::reconstruction(model) }]
    }
    fn forward(&self, _phase: usize, s: &mut Pass<'_>, _rng: &mut rand::rngs::StdRng) -> f64 {
        let nl = s.n * s.model.shape.latent;
        s.model.encode_train(s.x, s.buf, s.n, EncoderInput::Clean);
        let w = &mut s.buf.work;
        w.col_sums.fill(0.0);
        (hepae_kernels::kernels().col_sums_add)(&mut w.col_sums, &w.z[..nl]);
        s.model.decode_loss(s.x, s.buf, s.n, s.step.batch_elems)
    }
    /// ρ̂_j = (Σ over shards of Σ_rows z_nj) / N, clamped to [1e-6, 1 − 1e-6]; dL/dρ̂ for the
    /// backward; returns λ·Σ_j KL(ρ‖ρ̂_j)·N·D.
    fn combine(&mut self, _phase: usize, shards: &mut dyn Iterator<Item = &AeBuffers>, step: &Step) -> f64 {
        self.rho_hat.fill(0.0);
        for s in shards {
            for (a, c) in self.rho_hat.iter_mut().zip(&s.work.col_sums) {
                *a += c;
            }
        }
        for a in self.rho_hat.iter_mut() {
            *a = (*a / step.batch_rows as f32).clamp(1e-6, 1.0 - 1e-6);
        }
        let kl = kl_sparsity(&mut self.drho, &self.rho_hat, self.rho, self.lambda);
        self.lambda as f64 * kl * step.batch_elems as f64
    }
    fn backward(&self, _phase: usize, s: &mut Pass<'_>, grads: &mut [f32]) -> f64 {
        let nl = s.n * s.model.shape.latent;
        s.model.backward_to_code(grads, s.buf, s.n);
        mean_backward(&mut s.buf.work.dz[..nl], &self.drho, s.step.batch_rows);
        code_grad_to_encoder(s);
        s.model.backward_encoder(grads, s.x, s.buf, s.n, EncoderInput::Clean);
        0.0
    }
}
