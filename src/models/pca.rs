//! Principal component analysis, the linear baseline, and the PCA whitening used by AE+PCA.
//!
//! The covariance of the normalised training rows is accumulated in f64 and diagonalised by
//! the cyclic Jacobi method (written here; robust and exact enough for D ≤ a few hundred).
//! A PCA model is stored as a linear autoencoder, so everything that takes a model
//! (evaluate, compress, score, the C ABI) takes it unchanged:
//! encoder z = W·(x − m) (weight W = top-k eigenvectors as rows, bias −W·m),
//! decoder x̂ = Wᵀ·z + m.

use super::autoencoder::Autoencoder;
use super::family::{Family, Fit};
use super::shape::{AeShape, LatentActivation, ModelKind, OutputActivation};
use crate::data::normalize::Normalizer;
use crate::data::npy::Dataset;
use crate::error::{Error, Location, Result};

/// Eigen-decomposition of a symmetric D×D matrix (row-major, f64) by cyclic Jacobi rotations.
/// Returns (eigenvalues, eigenvectors as the *rows* of a D×D matrix), sorted by eigenvalue,
/// largest first.
pub fn symmetric_eigen(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut m = a.to_vec();
    let mut v = vec![0.0; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    let scale: f64 = m.iter().map(|x| x * x).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i * d + j] * m[i * d + j])
            .sum();
        if off.sqrt() <= 1e-15 * scale {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = m[p * d + q];
                if apq.abs() <= 1e-300 {
                    continue;
                }
                // Rotation angle that zeroes m[p][q] (Golub & Van Loan, Alg. 8.4.1).
                let theta = (m[q * d + q] - m[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let (mkp, mkq) = (m[k * d + p], m[k * d + q]);
                    m[k * d + p] = c * mkp - s * mkq;
                    m[k * d + q] = s * mkp + c * mkq;
                }
                for k in 0..d {
                    let (mpk, mqk) = (m[p * d + k], m[q * d + k]);
                    m[p * d + k] = c * mpk - s * mqk;
                    m[q * d + k] = s * mpk + c * mqk;
                }
                for k in 0..d {
                    let (vkp, vkq) = (v[k * d + p], v[k * d + q]);
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&i, &j| m[j * d + j].total_cmp(&m[i * d + i]));
    let values = order.iter().map(|&i| m[i * d + i]).collect();
    let mut vectors = vec![0.0; d * d];
    for (r, &i) in order.iter().enumerate() {
        for k in 0..d {
            vectors[r * d + k] = v[k * d + i]; // column i of V is eigenvector i
        }
    }
    (values, vectors)
}

/// Mean and covariance (f64) of the normalised `rows` of `data`.
pub fn normalised_moments(data: &Dataset, norm: &Normalizer, rows: &[u32]) -> Result<(Vec<f64>, Vec<f64>)> {
    let d = data.cols();
    let mut mean = vec![0.0f64; d];
    let mut cov = vec![0.0f64; d * d];
    let mut x = vec![0.0f32; d];
    let n = rows.len() as f64;
    if rows.is_empty() {
        return Err(Error::data(Location::file(data.path()), "no rows to fit PCA on"));
    }
    for pass in 0..2 {
        for r in rows {
            norm.gather_normalized(data, std::slice::from_ref(r), &mut x)?;
            if pass == 0 {
                for (m, &v) in mean.iter_mut().zip(&x) {
                    *m += v as f64 / n;
                }
            } else {
                for i in 0..d {
                    let di = x[i] as f64 - mean[i];
                    for j in i..d {
                        cov[i * d + j] += di * (x[j] as f64 - mean[j]);
                    }
                }
            }
        }
    }
    let denom = (n - 1.0).max(1.0);
    for i in 0..d {
        for j in i..d {
            cov[i * d + j] /= denom;
            cov[j * d + i] = cov[i * d + j];
        }
    }
    Ok((mean, cov))
}

/// Fits PCA with `k` components on the normalised training rows; returns it as a linear
/// autoencoder and the explained-variance fraction of the k components.
pub fn fit_pca(data: &Dataset, norm: &Normalizer, rows: &[u32], k: usize) -> Result<(Autoencoder, f64)> {
    let d = data.cols();
    if k == 0 || k > d {
        return Err(Error::config(format!("PCA needs 1 ≤ latent ≤ {d} (the number of variables), not {k}")));
    }
    let (mean, cov) = normalised_moments(data, norm, rows)?;
    let (values, vectors) = symmetric_eigen(&cov, d);
    let shape = AeShape {
        latent_activation: LatentActivation::Linear,
        ..AeShape::standard(d, Vec::new(), k, 0.01, OutputActivation::Linear)
    };
    let mut ae = Autoencoder::new(shape);
    let (enc, dec) = (&ae.encoder.layers[0], &ae.decoder.layers[0]);
    let (enc_w, enc_b, dec_w, dec_b) = (enc.w(), enc.b(), dec.w(), dec.b());
    let p = &mut ae.params.data;
    for c in 0..k {
        let w = &vectors[c * d..(c + 1) * d];
        let mut b = 0.0;
        for i in 0..d {
            p[enc_w + c * d + i] = w[i] as f32;
            p[dec_w + i * k + c] = w[i] as f32;
            b -= w[i] * mean[i];
        }
        p[enc_b + c] = b as f32;
    }
    for i in 0..d {
        p[dec_b + i] = mean[i] as f32;
    }
    let total: f64 = values.iter().map(|v| v.max(0.0)).sum();
    let kept: f64 = values[..k].iter().map(|v| v.max(0.0)).sum();
    Ok((ae, if total > 0.0 { kept / total } else { 1.0 }))
}

/// The PCA family: fitted in closed form, no training steps.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pca;

impl Family for Pca {
    fn kind(&self) -> ModelKind {
        ModelKind::Pca
    }
    fn shape(&self, base: AeShape) -> AeShape {
        AeShape {
            hidden: Vec::new(),
            latent_activation: LatentActivation::Linear,
            output_activation: OutputActivation::Linear,
            ..base
        }
    }
    fn closed_form(&self, fit: &Fit<'_>, latent: usize) -> Option<Result<(Autoencoder, f64)>> {
        Some(fit_pca(fit.data, fit.normalizer, fit.rows, latent))
    }
    fn phases(&self, _model: &Autoencoder) -> Vec<super::family::Phase> {
        Vec::new()
    }
}

/// Writes PCA-whitening into `ae`'s frozen `whiten`/`unwhiten` layers:
/// whiten y = Λ^(−½)·Vᵀ·(x − m), unwhiten x = V·Λ^(½)·y + m, with Λ regularised by
/// 1e-6·(trace/D) so that constant columns do not blow up.
pub fn set_whitening(ae: &mut Autoencoder, data: &Dataset, norm: &Normalizer, rows: &[u32]) -> Result<()> {
    let d = data.cols();
    let (mean, cov) = normalised_moments(data, norm, rows)?;
    let (values, vectors) = symmetric_eigen(&cov, d);
    let floor = 1e-6 * values.iter().map(|v| v.max(0.0)).sum::<f64>() / d as f64 + 1e-12;
    let (ww, wb, uw, ub) = match (&ae.whiten, &ae.unwhiten) {
        (Some(w), Some(u)) => (w.layers[0].w(), w.layers[0].b(), u.layers[0].w(), u.layers[0].b()),
        _ => return Err(Error::config("model has no whitening layers")),
    };
    let p = &mut ae.params.data;
    for c in 0..d {
        let s = (values[c].max(0.0) + floor).sqrt();
        let vc = &vectors[c * d..(c + 1) * d];
        let mut b = 0.0;
        for i in 0..d {
            p[ww + c * d + i] = (vc[i] / s) as f32;
            p[uw + i * d + c] = (vc[i] * s) as f32;
            b -= vc[i] / s * mean[i];
        }
        p[wb + c] = b as f32;
    }
    for i in 0..d {
        p[ub + i] = mean[i] as f32;
    }
    Ok(())
}
