//! The denoising autoencoder: the encoder sees a corrupted copy of the normalised input
//! (Gaussian noise of σ `noise`, and masking: each value zeroed with probability `mask`) and
//! the loss compares the reconstruction with the clean input.

use super::ae::{reconstruction_backward, reconstruction_forward};
use super::autoencoder::EncoderInput;
use super::family::{Family, Pass};
use super::shape::ModelKind;
use rand::Rng;
use rand_distr::StandardNormal;

/// The family and its noise.
#[derive(Clone, Copy, Debug)]
pub struct Denoising {
    pub noise: f32,
    pub mask: f32,
}

impl Denoising {
    fn input(&self) -> EncoderInput {
        if self.noise > 0.0 || self.mask > 0.0 {
            EncoderInput::Corrupted
        } else {
            EncoderInput::Clean
        }
    }
}

/// x̃ = x + σ·ε (ε ~ N(0, 1)) and, with probability `mask`, x̃ = 0 (masking noise). Both act in
/// normalised space, so σ is a fraction of each variable's normalised range.
pub fn corrupt<R: Rng>(out: &mut [f32], x: &[f32], noise: f32, mask: f32, rng: &mut R) {
    for (o, &v) in out.iter_mut().zip(x) {
        let mut y = v;
        if noise > 0.0 {
            let e: f32 = rng.sample(StandardNormal);
            y += noise * e;
        }
        if mask > 0.0 && rng.random::<f32>() < mask {
            y = 0.0;
        }
        *o = y;
    }
}

impl Family for Denoising {
    fn kind(&self) -> ModelKind {
        ModelKind::Denoising
    }
    fn forward(&self, _phase: usize, s: &mut Pass<'_>, rng: &mut rand::rngs::StdRng) -> f64 {
        let nd = s.n * s.model.shape.input;
        let input = self.input();
        if input == EncoderInput::Corrupted {
            corrupt(&mut s.buf.xin[..nd], &s.x[..nd], self.noise, self.mask, rng);
        }
        reconstruction_forward(s, input)
    }
    fn backward(&self, _phase: usize, s: &mut Pass<'_>, grads: &mut [f32]) -> f64 {
        reconstruction_backward(s, grads, self.input());
        0.0
    }
}
