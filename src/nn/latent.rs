//! Latent-space ops: the VAE's reparameterisation and KL term, and the sparse AEs' L1 and KL
//! sparsity penalties, forward and backward side by side (SIMD bodies in `hepae-kernels`).
//! Shapes: μ, log σ², ε, z are N×L; ρ̂ is L.

use rand::Rng;
use rand_distr::StandardNormal;

/// z = μ + e^(½·log σ²)·ε (the reparameterisation trick), with ε given.
pub fn reparam_forward(z: &mut [f32], mu: &[f32], logvar: &[f32], eps: &[f32]) {
    (hepae_kernels::kernels().reparam_forward)(z, mu, logvar, eps);
}

/// Backward of [`reparam_forward`] from `z = μ + e^(½ lv)·ε`:
/// dμ += dz;  d(log σ²) += dz·½·e^(½ lv)·ε.
pub fn reparam_backward(dmu: &mut [f32], dlogvar: &mut [f32], dz: &[f32], logvar: &[f32], eps: &[f32]) {
    (hepae_kernels::kernels().reparam_backward)(dmu, dlogvar, dz, logvar, eps);
}

/// Fills `eps` with independent N(0, 1) draws (the reparameterisation's noise).
pub fn sample_normal<R: Rng>(eps: &mut [f32], rng: &mut R) {
    for e in eps.iter_mut() {
        *e = rng.sample(StandardNormal);
    }
}

/// KL(N(μ, σ²) ‖ N(0, 1)) = ½·Σ(μ² + σ² − 1 − log σ²), returned (f64); its gradient times
/// `scale` is added: dμ += scale·μ, d(log σ²) += scale·½(σ² − 1).
pub fn kl_normal(dmu: &mut [f32], dlogvar: &mut [f32], mu: &[f32], logvar: &[f32], scale: f32) -> f64 {
    (hepae_kernels::kernels().kl_normal)(dmu, dlogvar, mu, logvar, scale)
}

/// KL per row: out\[r] = ½·Σ_j(μ² + σ² − 1 − log σ²) over row r's L values (f64), for scores.
pub fn kl_normal_rows(out: &mut [f64], mu: &[f32], logvar: &[f32], l: usize) {
    for (r, o) in out.iter_mut().enumerate() {
        *o = (r * l..(r + 1) * l)
            .map(|i| 0.5 * ((mu[i] as f64).powi(2) + (logvar[i] as f64).exp() - 1.0 - logvar[i] as f64))
            .sum();
    }
}

/// L1 penalty Σ|a| (returned, f64); da += scale·sign(a).
pub fn l1_penalty(da: &mut [f32], a: &[f32], scale: f32) -> f64 {
    (hepae_kernels::kernels().l1_penalty)(da, a, scale)
}

/// Sparsity KL Σ_j KL(ρ‖ρ̂_j) = Σ_j ρ·ln(ρ/ρ̂_j) + (1−ρ)·ln((1−ρ)/(1−ρ̂_j)) (returned, f64);
/// writes dρ̂_j = scale·(−ρ/ρ̂_j + (1−ρ)/(1−ρ̂_j)). ρ̂_j is the batch mean of latent unit j.
pub fn kl_sparsity(drho: &mut [f32], rho_hat: &[f32], rho: f32, scale: f32) -> f64 {
    (hepae_kernels::kernels().kl_sparsity)(drho, rho_hat, rho, scale)
}

/// Batch-mean backward of ρ̂_j = (1/N)·Σ_n z_nj: dz_nj += dρ̂_j / N (`batch_rows` = N of the
/// whole batch, all shards).
pub fn mean_backward(dz: &mut [f32], drho: &[f32], batch_rows: usize) {
    let l = drho.len();
    let inv_n = 1.0 / batch_rows as f32;
    for row in dz.chunks_exact_mut(l) {
        for (g, &dr) in row.iter_mut().zip(drho) {
            *g += dr * inv_n;
        }
    }
}

/// Splits rows of [a | b] (N × 2L) into a and b (N × L each): the VAE encoder's [μ | log σ²].
pub fn split_heads(a: &mut [f32], b: &mut [f32], ab: &[f32], n: usize, l: usize) {
    for r in 0..n {
        a[r * l..(r + 1) * l].copy_from_slice(&ab[r * 2 * l..r * 2 * l + l]);
        b[r * l..(r + 1) * l].copy_from_slice(&ab[r * 2 * l + l..(r + 1) * 2 * l]);
    }
}

/// Backward of [`split_heads`]: rows of [da | db] into dab.
pub fn join_heads(dab: &mut [f32], da: &[f32], db: &[f32], n: usize, l: usize) {
    for r in 0..n {
        dab[r * 2 * l..r * 2 * l + l].copy_from_slice(&da[r * l..(r + 1) * l]);
        dab[r * 2 * l + l..(r + 1) * 2 * l].copy_from_slice(&db[r * l..(r + 1) * l]);
    }
}
