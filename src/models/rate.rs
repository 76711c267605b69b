//! A dense autoencoder trained for compression (`hepae train --for-compression`): a
//! rate-aware loss in place of the squared error.
//!
//! Under a Laplace of scale b, a residual r on a grid of step Δ codes in ≈ log2(2b/Δ) +
//! |r|/(b·ln 2) bits, so the rate falls with Σ|r|/Δ: the reconstruction loss is the L1 of the
//! residual in grid units of the archive's bound ε (`w` = 1/the grid step in normalised units
//! at the target: 2ε·|x| for a relative-bound column, 2ε for η and φ, 1 for an integer column;
//! 0 on an exact zero, which the archive codes as a symbol), and the latents add their own
//! rate under a Laplace prior, an L1 penalty of weight `rate_weight`:
//!
//! L = (1/(N·D))·Σ w·|x̂ − x| + `rate_weight`·(1/N)·Σ|z|.

use super::ae::code_grad_to_encoder;
use super::autoencoder::{Autoencoder, EncoderInput};
use super::family::{Family, Fit, Pass};
use super::shape::ModelKind;
use crate::data::normalize::{momentum_component, ColumnTransform, Momentum};
use crate::error::Result;
use crate::nn::latent::l1_penalty;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// What `--for-compression` trains for: the bound ε the grid units are of, and the latents'
/// rate weight. Recorded in the model file's training config.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateLoss {
    pub bound: f64,
    pub rate_weight: f32,
}

/// Largest weight of one value (a relative-bound value very close to zero has a tiny grid step).
const MAX_WEIGHT: f32 = 1e5;

/// A column's grid under the bound: relative, absolute or exact (integers).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Grid {
    Rel,
    Abs,
    Exact,
}

/// One column: its normalisation and its grid.
#[derive(Clone, Debug)]
pub struct GridColumn {
    pub transform: ColumnTransform,
    pub grid: Grid,
}

impl GridColumn {
    /// 1 / the grid step, in normalised units, at the normalised target `y`; 0 on a zero of a
    /// relative-bound column (coded exactly) and where the step is not finite and positive.
    pub fn weight(&self, y: f32, bound: f64) -> f32 {
        let x = self.transform.inverse(y) as f64;
        let step = match self.grid {
            Grid::Rel => 2.0 * bound * x.abs(),
            Grid::Abs => 2.0 * bound,
            Grid::Exact => 1.0,
        };
        let lo = self.transform.forward((x - step / 2.0) as f32) as f64;
        let hi = self.transform.forward((x + step / 2.0) as f32) as f64;
        let dy = (hi - lo).abs();
        if step > 0.0 && dy.is_finite() && dy > 0.0 {
            ((1.0 / dy) as f32).min(MAX_WEIGHT)
        } else {
            0.0
        }
    }
}

/// The grids of the columns as the archive's default bound policy assigns them: integer-valued
/// columns (on the fitted rows) exact, η and φ absolute, the rest relative.
pub fn grid_columns(fit: &Fit<'_>) -> Vec<GridColumn> {
    let d = fit.data.cols();
    let mut integer = vec![true; d];
    for &r in fit.rows.iter().take(50_000) {
        for (c, &v) in fit.data.row(r as usize).iter().enumerate() {
            integer[c] &= v.fract() == 0.0 && v.abs() < 16_777_216.0;
        }
    }
    (0..d)
        .map(|c| GridColumn {
            transform: fit.normalizer.transforms[c].clone(),
            grid: if integer[c] {
                Grid::Exact
            } else {
                match momentum_component(&fit.data.columns()[c]) {
                    Some(Momentum::Eta | Momentum::Phi) => Grid::Abs,
                    _ => Grid::Rel,
                }
            },
        })
        .collect()
}

/// The family: the rate-aware loss, and the columns' grids once the normaliser is fitted.
#[derive(Debug)]
pub struct RateAware {
    pub rate: RateLoss,
    columns: OnceLock<Vec<GridColumn>>,
}

impl RateAware {
    pub fn new(rate: RateLoss) -> Self {
        RateAware { rate, columns: OnceLock::new() }
    }
}

impl Family for RateAware {
    fn kind(&self) -> ModelKind {
        ModelKind::Ae
    }
    fn prepare(&self, _model: &mut Autoencoder, fit: &Fit<'_>) -> Result<()> {
        let _ = self.columns.set(grid_columns(fit));
        Ok(())
    }
    fn forward(&self, _phase: usize, s: &mut Pass<'_>, _rng: &mut rand::rngs::StdRng) -> f64 {
        let cols = self.columns.get().expect("prepare runs before the first step");
        let bound = self.rate.bound;
        s.model.encode_train(s.x, s.buf, s.n, EncoderInput::Clean);
        s.model.decode_l1(s.x, s.buf, s.n, s.step.batch_elems, &|c, y| cols[c].weight(y, bound))
    }
    fn backward(&self, _phase: usize, s: &mut Pass<'_>, grads: &mut [f32]) -> f64 {
        let nl = s.n * s.model.shape.latent;
        s.model.backward_to_code(grads, s.buf, s.n);
        let w = &mut s.buf.work;
        let (rows, elems) = (s.step.batch_rows, s.step.batch_elems);
        let l1 = l1_penalty(&mut w.dz[..nl], &w.z[..nl], self.rate.rate_weight / rows as f32);
        code_grad_to_encoder(s);
        s.model.backward_encoder(grads, s.x, s.buf, s.n, EncoderInput::Clean);
        self.rate.rate_weight as f64 * l1 * (elems as f64 / rows as f64)
    }
}
