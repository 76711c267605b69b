//! Langevin Monte Carlo on an energy over rows, with optional Metropolis–Hastings correction
//! (MALA), per-row gradient clipping, noise annealing, a box bound and a projection onto the
//! unit sphere. Shapes: N rows of `d` values, row-major; energies N.
//!
//! One step from x with energy E(x) and gradient g = ∇E(x) (clipped to norm ≤ c per row):
//!   y = x − λ·g/T + σ_k·ε,  ε ~ N(0, I),
//! then y is clamped to the bound and projected onto the sphere if asked. With σ² = 2λ this is
//! the discretised Langevin dynamics of p(x) ∝ exp(−E(x)/T) (biased by the step size without
//! MH); with MH on the chain samples p exactly: for σ² = 2λ and T = 1 with either rule, for any
//! σ > 0 and T with [`MhRule::Exact`].
//! Noise annealing (the reference's `noise_anneal`): σ_k = σ/max(k, 1) at step k = 0, 1, ….
//!
//! Metropolis–Hastings: y is accepted with probability min(1, α),
//! - [`MhRule::Exact`]: log α = −(E(y) − E(x))/T + log q(x|y) − log q(y|x), q the Gaussian
//!   proposal actually used: log q(b|a) = −‖b − a + λ·g(a)/T‖²/(2σ_k²);
//! - [`MhRule::Langevin`] (the reference's `sample_langevin_v2`): the same with the proposal
//!   taken to have variance 2λ and the gradient not divided by T,
//!   log α = [−(‖λ(g(x) + g(y)) − σ_kε‖² − ‖σ_kε‖²)/(4λ) − (E(y) − E(x))]/T.
//!   The two agree when σ² = 2λ and T = 1; with the reference's small noise (σ² ≪ 2λ) the
//!   exact rule rejects nearly every move, while this one accepts most downhill moves.
//!
//! After a bound or the sphere projection the proposal is no longer Gaussian, so MH is then an
//! approximation (as in the reference).

use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// An energy over rows of `dim()` values: E per row and ∂E/∂x.
pub trait Energy {
    fn dim(&self) -> usize;
    /// Energies of the first `n` rows of `x` into `e[..n]` and their gradients into `g[..n·d]`.
    fn energy_grad(&mut self, x: &[f32], n: usize, e: &mut [f32], g: &mut [f32]);
}

/// Which acceptance rule Metropolis–Hastings uses (see the module doc).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MhRule {
    /// The reference's rule (proposal variance taken as 2λ).
    #[default]
    Langevin,
    /// Exact for the proposal actually used (needs σ > 0).
    Exact,
}

impl std::str::FromStr for MhRule {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "langevin" => Ok(MhRule::Langevin),
            "exact" => Ok(MhRule::Exact),
            _ => Err(crate::Error::config(format!("--nae-mh-rule '{s}' is not langevin or exact"))),
        }
    }
}

/// One chain's settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chain {
    /// Langevin steps.
    pub steps: usize,
    /// λ, the step size of the drift −λ·∇E/T.
    pub step_size: f32,
    /// σ, the standard deviation of the noise per step.
    pub noise: f32,
    /// Per-row clip of ‖∇E‖ (None: no clipping).
    pub clip_grad: Option<f32>,
    /// Metropolis–Hastings correction.
    pub mh: bool,
    #[serde(default)]
    pub mh_rule: MhRule,
    /// σ_k = σ/max(k, 1).
    pub noise_anneal: bool,
    /// Clamp every value to [lo, hi] after each step.
    pub bound: Option<[f32; 2]>,
    /// Project every row onto the unit sphere after each step.
    pub spherical: bool,
}

impl Chain {
    /// σ_k at step k.
    pub fn noise_at(&self, k: usize) -> f32 {
        if self.noise_anneal {
            self.noise / k.max(1) as f32
        } else {
            self.noise
        }
    }
    /// Checks the settings (`what` names the chain in the message: "--nae-x").
    pub fn validate(&self, what: &str) -> crate::Result<()> {
        let bad = |m: String| Err(crate::Error::config(m));
        if !(self.step_size.is_finite() && self.step_size >= 0.0) {
            return bad(format!("{what}-step-size {} must be ≥ 0", self.step_size));
        }
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return bad(format!("{what}-noise {} must be ≥ 0", self.noise));
        }
        if self.clip_grad.is_some_and(|c| !(c.is_finite() && c > 0.0)) {
            return bad(format!("{what}-clip-grad must be > 0"));
        }
        if self.mh && self.mh_rule == MhRule::Exact && self.noise == 0.0 {
            return bad(format!("{what}: the exact Metropolis–Hastings rule needs noise > 0"));
        }
        if self.mh && self.mh_rule == MhRule::Langevin && self.step_size == 0.0 {
            return bad(format!("{what}: the Langevin Metropolis–Hastings rule needs a step size > 0"));
        }
        if let Some([lo, hi]) = self.bound {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return bad(format!("{what}-bound {lo},{hi} must be two finite numbers, low < high"));
            }
        }
        Ok(())
    }
}

/// A chain's preallocated buffers for up to `rows` rows of `d` values.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainWork {
    pub d: usize,
    /// E and ∇E at the current state (after a run: at the returned samples).
    pub ex: Vec<f32>,
    pub gx: Vec<f32>,
    y: Vec<f32>,
    ey: Vec<f32>,
    gy: Vec<f32>,
    /// σ_k·ε of the current step.
    noise: Vec<f32>,
}

impl ChainWork {
    pub fn new(rows: usize, d: usize) -> Self {
        let v = |k: usize| vec![0.0f32; k];
        ChainWork { d, ex: v(rows), gx: v(rows * d), y: v(rows * d), ey: v(rows), gy: v(rows * d), noise: v(rows * d) }
    }
}

/// What a run did: proposals made and accepted (every proposal is accepted without MH).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ChainStats {
    pub proposals: u64,
    pub accepted: u64,
}

impl ChainStats {
    pub fn add(&mut self, o: ChainStats) {
        self.proposals += o.proposals;
        self.accepted += o.accepted;
    }
    /// Accepted fraction (NaN without proposals).
    pub fn acceptance(&self) -> f64 {
        self.accepted as f64 / self.proposals as f64
    }
}

/// Scales each row of `g` to norm ≤ `c`.
pub fn clip_rows(g: &mut [f32], d: usize, c: f32) {
    for row in g.chunks_exact_mut(d) {
        let norm = row.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt();
        if norm > c as f64 {
            let s = (c as f64 / norm) as f32;
            row.iter_mut().for_each(|v| *v *= s);
        }
    }
}

/// Projects each row onto the unit sphere (rows of zeros stay zero).
pub fn project_rows(x: &mut [f32], d: usize) {
    for row in x.chunks_exact_mut(d) {
        let norm =
            (row.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt() as f32).max(crate::nn::sphere::MIN_NORM);
        row.iter_mut().for_each(|v| *v /= norm);
    }
}

fn sq(v: f32) -> f64 {
    v as f64 * v as f64
}

/// Runs `chain` from the first `n` rows of `x` (N×d, overwritten with the samples) at
/// temperature `t`. On return `work.ex` holds the samples' energies. Allocates nothing.
pub fn run_chain<R: Rng>(
    chain: &Chain,
    energy: &mut dyn Energy,
    x: &mut [f32],
    n: usize,
    t: f32,
    work: &mut ChainWork,
    rng: &mut R,
) -> ChainStats {
    let d = work.d;
    debug_assert_eq!(energy.dim(), d);
    let nd = n * d;
    let mut stats = ChainStats::default();
    energy.energy_grad(&x[..nd], n, &mut work.ex, &mut work.gx);
    if let Some(c) = chain.clip_grad {
        clip_rows(&mut work.gx[..nd], d, c);
    }
    let lam = chain.step_size;
    for k in 0..chain.steps {
        let sigma = chain.noise_at(k);
        for (i, &xi) in x[..nd].iter().enumerate() {
            let e: f32 = rng.sample(StandardNormal);
            work.noise[i] = sigma * e;
            work.y[i] = xi - lam * work.gx[i] / t + work.noise[i];
        }
        if let Some([lo, hi]) = chain.bound {
            work.y[..nd].iter_mut().for_each(|v| *v = v.clamp(lo, hi));
        }
        if chain.spherical {
            project_rows(&mut work.y[..nd], d);
        }
        energy.energy_grad(&work.y[..nd], n, &mut work.ey, &mut work.gy);
        if let Some(c) = chain.clip_grad {
            clip_rows(&mut work.gy[..nd], d, c);
        }
        stats.proposals += n as u64;
        for r in 0..n {
            let row = r * d..(r + 1) * d;
            let accept = if chain.mh {
                let de = (work.ey[r] - work.ex[r]) as f64;
                let log_alpha = match chain.mh_rule {
                    MhRule::Exact => {
                        let (mut rev, mut fwd) = (0.0, 0.0);
                        for i in row.clone() {
                            rev += sq(x[i] - work.y[i] + lam * work.gy[i] / t);
                            fwd += sq(work.y[i] - x[i] + lam * work.gx[i] / t);
                        }
                        -de / t as f64 - (rev - fwd) / (2.0 * sq(sigma))
                    }
                    MhRule::Langevin => {
                        let (mut rev, mut fwd) = (0.0, 0.0);
                        for i in row.clone() {
                            rev += sq(lam * (work.gx[i] + work.gy[i]) - work.noise[i]);
                            fwd += sq(work.noise[i]);
                        }
                        (-(rev - fwd) / (4.0 * lam as f64) - de) / t as f64
                    }
                };
                let u: f64 = rng.random();
                u < log_alpha.exp()
            } else {
                true
            };
            if accept {
                stats.accepted += 1;
                x[row.clone()].copy_from_slice(&work.y[row.clone()]);
                work.gx[row.clone()].copy_from_slice(&work.gy[row]);
                work.ex[r] = work.ey[r];
            }
        }
    }
    stats
}
