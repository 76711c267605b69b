//! Finite-difference helpers shared by the gradient tests.
#![allow(dead_code)] // each test file uses its own subset

use rand::SeedableRng;

/// Step of the central difference (f64 reference, so 1e-6 is far above rounding).
pub const H: f64 = 1e-6;

pub fn rng(seed: u64) -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(seed)
}

/// |got − want| ≤ atol + rtol·|want|, with the failing index in the message.
pub fn assert_close(got: &[f32], want: &[f64], atol: f64, rtol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g as f64 - w).abs();
        assert!(err <= atol + rtol * w.abs(), "{what}[{i}]: analytic {g} vs numeric {w} (|err| {err:e})");
    }
}

/// Central difference of f at x[k]: (f(x + H·e_k) − f(x − H·e_k)) / 2H.
pub fn numeric(x: &mut [f64], k: usize, f: &dyn Fn(&[f64]) -> f64) -> f64 {
    let orig = x[k];
    x[k] = orig + H;
    let up = f(x);
    x[k] = orig - H;
    let down = f(x);
    x[k] = orig;
    (up - down) / (2.0 * H)
}

/// The central-difference gradient of f at x, every coordinate.
pub fn grad_all(x: &[f64], f: &dyn Fn(&[f64]) -> f64) -> Vec<f64> {
    let mut v = x.to_vec();
    (0..v.len()).map(|k| numeric(&mut v, k, f)).collect()
}

/// One phase of a family's training step on a single shard that is the whole batch
/// (forward, the batch-wide term, backward), as the training loop runs it. Returns (the
/// forward's loss sum, the penalty terms' sum).
#[allow(clippy::too_many_arguments)] // the family trait's own arguments, plus the family and phase
pub fn run_phase(
    family: &mut dyn hepae::models::Family,
    phase: usize,
    model: &hepae::models::Autoencoder,
    buf: &mut hepae::models::AeBuffers,
    grads: &mut [f32],
    x: &[f32],
    n: usize,
    rng: &mut rand::rngs::StdRng,
) -> (f64, f64) {
    use hepae::models::family::{Pass, Step};
    let step = Step { epoch: 1, batch_rows: n, batch_elems: n * model.shape.input };
    family.begin_epoch(1);
    let rows: Vec<u32> = (0..n as u32).collect();
    let rows = &rows[..];
    let loss = family.forward(phase, &mut Pass { model, buf: &mut *buf, x, n, rows, step, shard: 0, first: 0 }, rng);
    let batch_term = family.combine(phase, &mut std::iter::once(&*buf), &step);
    let penalty = family.backward(phase, &mut Pass { model, buf, x, n, rows, step, shard: 0, first: 0 }, grads);
    (loss, batch_term + penalty)
}

/// The f64 reference of an activation at pre-activation `u`.
pub fn act64(a: hepae::nn::activation::Activation, u: f64) -> f64 {
    use hepae::nn::activation::Activation;
    match a {
        Activation::Linear => u,
        Activation::Leaky { slope } => {
            if u > 0.0 {
                u
            } else {
                slope as f64 * u
            }
        }
        Activation::Sigmoid => 1.0 / (1.0 + (-u).exp()),
    }
}
