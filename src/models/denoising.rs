//! The denoising autoencoder's corruption: the encoder sees a noisy copy of the normalised
//! input and the loss compares the reconstruction with the clean input.

use rand::Rng;
use rand_distr::StandardNormal;

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
