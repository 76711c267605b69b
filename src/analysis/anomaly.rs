//! Anomaly scores and their figures of merit. A model trained on ordinary jets scores each
//! jet by how badly it rebuilds it (larger = more anomalous); ROC curves, AUC and the signal
//! efficiency at a fixed background rate tell how well a score separates a signal sample.

use crate::analysis::metrics::NonFinite;
/// The one AUC, from `analysis::stats`.
pub use crate::analysis::stats::auc;
use crate::data::npy::Dataset;
use crate::error::{Error, Result};
use crate::formats::model_file::SavedModel;
use crate::models::ae::AeBuffers;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// How a jet is scored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ScoreKind {
    /// Mean squared reconstruction error over the variables (normalised space).
    #[default]
    #[serde(rename = "mse")]
    Mse,
    /// Mean absolute reconstruction error.
    #[serde(rename = "mae")]
    Mae,
    /// MSE divided by the input's Σ x² (normalised space): a score less biased towards
    /// complex (bright, many-pixel) images.
    #[serde(rename = "mse-norm")]
    MseNorm,
    /// MSE on log-pixels: mean over values of (ln(1 + x⁺/m) − ln(1 + y⁺/m))², x⁺ = max(x, 0),
    /// m = the input row's mean |x| (normalised space; scale-free).
    #[serde(rename = "mse-log")]
    MseLog,
    /// Squared error of every variable separately (one column each).
    #[serde(rename = "per-variable")]
    PerVariable,
    /// −log of the VAE reconstruction probability (An & Cho 2015): the Gaussian decoder's
    /// likelihood of x averaged over L draws z ~ q(z|x).
    #[serde(rename = "vae-recon-prob")]
    VaeReconProb,
    /// −ELBO: reconstruction NLL (Gaussian decoder) or squared error, plus KL(q(z|x) ‖ N(0, I)).
    #[serde(rename = "vae-elbo")]
    VaeElbo,
    /// ‖z‖ of the latent code (μ for a VAE).
    #[serde(rename = "latent-norm")]
    LatentNorm,
    /// The NAE's energy over its temperature, E(x)/T with E the mean squared reconstruction
    /// error (normalised space): −log p(x) up to the normalising constant. T = 1 for other
    /// families (then it equals `mse`).
    #[serde(rename = "energy")]
    Energy,
}

impl ScoreKind {
    pub const ALL: [ScoreKind; 9] = [
        ScoreKind::Mse,
        ScoreKind::Mae,
        ScoreKind::MseNorm,
        ScoreKind::MseLog,
        ScoreKind::PerVariable,
        ScoreKind::VaeReconProb,
        ScoreKind::VaeElbo,
        ScoreKind::LatentNorm,
        ScoreKind::Energy,
    ];
    pub fn name(self) -> &'static str {
        match self {
            ScoreKind::Mse => "mse",
            ScoreKind::Mae => "mae",
            ScoreKind::MseNorm => "mse-norm",
            ScoreKind::MseLog => "mse-log",
            ScoreKind::PerVariable => "per-variable",
            ScoreKind::VaeReconProb => "vae-recon-prob",
            ScoreKind::VaeElbo => "vae-elbo",
            ScoreKind::LatentNorm => "latent-norm",
            ScoreKind::Energy => "energy",
        }
    }
}

impl std::str::FromStr for ScoreKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ScoreKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            Error::config(format!("unknown score '{s}' (choose {})", ScoreKind::ALL.map(|k| k.name()).join(", ")))
        })
    }
}

/// Options of the sampled VAE scores.
#[derive(Clone, Copy, Debug)]
pub struct ScoreOptions {
    /// Draws of z per jet for `vae-recon-prob`.
    pub samples: usize,
    pub seed: u64,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        ScoreOptions { samples: 16, seed: 1 }
    }
}

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// Checks that `model` can give `kind`, naming the model file otherwise.
pub fn check_score(model: &SavedModel, kind: ScoreKind, model_path: &std::path::Path) -> Result<()> {
    let s = &model.ae.shape;
    match kind {
        ScoreKind::VaeReconProb if !(s.variational && s.gaussian_decoder) => Err(Error::model(
            model_path,
            format!(
                "score vae-recon-prob needs a VAE trained with --gaussian-decoder (this model is {}{})",
                model.meta.kind,
                if s.variational { " without a Gaussian decoder" } else { "" }
            ),
        )),
        ScoreKind::VaeElbo if !s.variational => {
            Err(Error::model(model_path, format!("score vae-elbo needs a VAE (this model is {})", model.meta.kind)))
        }
        _ => Ok(()),
    }
}

/// The temperature of an NAE's energy (from its training record; 1 otherwise).
fn temperature(model: &SavedModel) -> f64 {
    match (&model.meta.training, model.meta.kind) {
        (Some(t), crate::models::ModelKind::Nae) => t.config.nae.temperature as f64,
        _ => 1.0,
    }
}

/// Values per row a score kind produces for `d` variables.
pub fn score_width(kind: ScoreKind, d: usize) -> usize {
    if kind == ScoreKind::PerVariable {
        d
    } else {
        1
    }
}

/// Scores `rows` of `data` (all if None); returns rows × width values, larger = more anomalous.
/// A score that is not finite (an overflowing model) is an error naming the first row, the
/// column (`score_KIND`, or the variable for per-variable) and the count.
pub fn score_dataset(
    model: &SavedModel,
    data: &Dataset,
    rows: Option<&[u32]>,
    kind: ScoreKind,
    opt: &ScoreOptions,
) -> Result<Vec<f32>> {
    score_dataset_with(model, data, rows, kind, opt, &mut |_| {})
}

/// [`score_dataset`], calling `on_rows` with the rows scored so far after each batch.
pub fn score_dataset_with(
    model: &SavedModel,
    data: &Dataset,
    rows: Option<&[u32]>,
    kind: ScoreKind,
    opt: &ScoreOptions,
    on_rows: &mut dyn FnMut(u64),
) -> Result<Vec<f32>> {
    let d = data.cols();
    let n_rows = rows.map_or(data.rows(), <[u32]>::len);
    let width = score_width(kind, d);
    let mut out = vec![0.0f32; n_rows * width];
    let batch = 1024usize;
    let mut buf = model.ae.plan(batch, false);
    let mut x = vec![0.0f32; batch * d];
    let mut idx: Vec<u32> = Vec::with_capacity(batch);
    let mut rng = rand::rngs::StdRng::seed_from_u64(opt.seed);
    let mut bad = NonFinite::default();
    let mut done = 0;
    while done < n_rows {
        let n = batch.min(n_rows - done);
        crate::data::selected_rows(rows, done, n, &mut idx);
        model.meta.normalizer.gather_normalized(data, &idx, &mut x[..n * d])?;
        let scores = &mut out[done * width..(done + n) * width];
        score_batch(model, &x[..n * d], &mut buf, n, kind, opt, &mut rng, scores);
        bad.scan(scores, scores, width, |r| idx[r] as usize);
        done += n;
        on_rows(done as u64);
    }
    bad.check(data.path(), &format!("{} score", kind.name()), |c| {
        if width == 1 {
            format!("score_{}", kind.name().replace('-', "_"))
        } else {
            data.columns()[c].clone()
        }
    })?;
    Ok(out)
}

/// The `mse-norm` and `mse-log` scores of one row `x` and its reconstruction `y`, in f64. An
/// input with Σ x² = 0 (or mean |x| = 0) gives a non-finite score, which the caller refuses.
pub fn recon_score(kind: ScoreKind, x: &[f32], y: &[f32]) -> f32 {
    let d = x.len() as f64;
    let mse = x.iter().zip(y).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>() / d;
    match kind {
        ScoreKind::MseNorm => (mse / x.iter().map(|&a| (a as f64).powi(2)).sum::<f64>()) as f32,
        ScoreKind::MseLog => {
            let m = x.iter().map(|&a| (a as f64).abs()).sum::<f64>() / d;
            let l = |v: f32| (v.max(0.0) as f64 / m).ln_1p();
            (x.iter().zip(y).map(|(&a, &b)| (l(a) - l(b)).powi(2)).sum::<f64>() / d) as f32
        }
        _ => mse as f32,
    }
}

/// Scores `n` normalised rows `x` into `out` (n × width).
#[allow(clippy::too_many_arguments)]
pub fn score_batch<R: Rng>(
    model: &SavedModel,
    x: &[f32],
    buf: &mut AeBuffers,
    n: usize,
    kind: ScoreKind,
    opt: &ScoreOptions,
    rng: &mut R,
    out: &mut [f32],
) {
    let ae = &model.ae;
    let (d, l) = (ae.shape.input, ae.shape.latent);
    match kind {
        ScoreKind::Mse
        | ScoreKind::Mae
        | ScoreKind::MseNorm
        | ScoreKind::MseLog
        | ScoreKind::PerVariable
        | ScoreKind::Energy => {
            let y = ae.forward(x, buf, n);
            let t = if kind == ScoreKind::Energy { temperature(model) } else { 1.0 };
            for r in 0..n {
                let (xr, yr) = (&x[r * d..(r + 1) * d], &y[r * d..(r + 1) * d]);
                match kind {
                    ScoreKind::MseNorm | ScoreKind::MseLog => out[r] = recon_score(kind, xr, yr),
                    ScoreKind::Mse | ScoreKind::Energy => {
                        out[r] = (xr.iter().zip(yr).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>() / d as f64 / t)
                            as f32
                    }
                    ScoreKind::Mae => {
                        out[r] = (xr.iter().zip(yr).map(|(a, b)| ((a - b) as f64).abs()).sum::<f64>() / d as f64) as f32
                    }
                    _ => {
                        for c in 0..d {
                            out[r * d + c] = (xr[c] - yr[c]) * (xr[c] - yr[c]);
                        }
                    }
                }
            }
        }
        ScoreKind::LatentNorm => {
            let z = ae.encode(x, buf, n);
            for r in 0..n {
                out[r] = z[r * l..(r + 1) * l].iter().map(|v| (v * v) as f64).sum::<f64>().sqrt() as f32;
            }
        }
        ScoreKind::VaeElbo => {
            // −ELBO with the mean code (the KL term is exact; the expectation of the
            // reconstruction term is taken at z = μ).
            ae.encode(x, buf, n);
            let (mu, lv) = (buf.work.mu[..n * l].to_vec(), buf.work.logvar[..n * l].to_vec());
            let y = ae.decode(&mu, buf, n).to_vec();
            let mut lvx = vec![0.0f32; n * d];
            if ae.shape.gaussian_decoder {
                ae.decoder_logvar(buf, n, &mut lvx);
            }
            for r in 0..n {
                let kl: f64 = (0..l)
                    .map(|j| {
                        0.5 * ((mu[r * l + j] as f64).powi(2) + (lv[r * l + j] as f64).exp()
                            - 1.0
                            - lv[r * l + j] as f64)
                    })
                    .sum();
                let rec: f64 = (0..d)
                    .map(|c| {
                        let e = (x[r * d + c] - y[r * d + c]) as f64;
                        if ae.shape.gaussian_decoder {
                            let v = lvx[r * d + c] as f64;
                            0.5 * (v + e * e * (-v).exp() + LN_2PI)
                        } else {
                            e * e
                        }
                    })
                    .sum();
                out[r] = (rec + kl) as f32;
            }
        }
        ScoreKind::VaeReconProb => {
            // log p(x) ≈ log (1/L) Σ_l N(x; μ_x(z_l), σ²_x(z_l)), z_l ~ q(z|x); score = −that.
            ae.encode(x, buf, n);
            let (mu, lv) = (buf.work.mu[..n * l].to_vec(), buf.work.logvar[..n * l].to_vec());
            let samples = opt.samples.max(1);
            let mut logp = vec![vec![0.0f64; samples]; n];
            let mut z = vec![0.0f32; n * l];
            let mut lvx = vec![0.0f32; n * d];
            for s in 0..samples {
                for i in 0..n * l {
                    let e: f32 = rng.sample(StandardNormal);
                    z[i] = mu[i] + (0.5 * lv[i]).exp() * e;
                }
                let y = ae.decode(&z, buf, n).to_vec();
                ae.decoder_logvar(buf, n, &mut lvx);
                for (r, lp) in logp.iter_mut().enumerate() {
                    lp[s] = -(0..d)
                        .map(|c| {
                            let (e, v) = ((x[r * d + c] - y[r * d + c]) as f64, lvx[r * d + c] as f64);
                            0.5 * (v + e * e * (-v).exp() + LN_2PI)
                        })
                        .sum::<f64>();
                }
            }
            for (r, lp) in logp.iter().enumerate() {
                let m = lp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let lme = m + (lp.iter().map(|v| (v - m).exp()).sum::<f64>() / samples as f64).ln();
                out[r] = (-lme) as f32;
            }
        }
    }
}

/// One point of a ROC curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RocPoint {
    pub fpr: f64,
    pub tpr: f64,
    /// Jets with score ≥ threshold are flagged.
    pub threshold: f64,
}

/// ROC curve over all distinct thresholds (descending), from (0, 0) to (1, 1); tied scores
/// move together, so a tie block is one diagonal step.
pub fn roc_curve(background: &[f32], signal: &[f32]) -> Vec<RocPoint> {
    let mut all: Vec<(f32, bool)> =
        background.iter().map(|&s| (s, false)).chain(signal.iter().map(|&s| (s, true))).collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (nb, ns) = (background.len().max(1) as f64, signal.len().max(1) as f64);
    let mut pts = vec![RocPoint { fpr: 0.0, tpr: 0.0, threshold: f64::INFINITY }];
    let (mut fp, mut tp) = (0usize, 0usize);
    let mut i = 0;
    while i < all.len() {
        let t = all[i].0;
        while i < all.len() && all[i].0 == t {
            if all[i].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        pts.push(RocPoint { fpr: fp as f64 / nb, tpr: tp as f64 / ns, threshold: t as f64 });
    }
    pts
}

/// The signal efficiency at background rate ≤ `fpr`: the smallest threshold t such that
/// the fraction of background with score ≥ t does not exceed `fpr` (a tie block that would
/// cross the target is excluded whole), and the TPR at that t. None if the background sample
/// is too small to resolve that rate (fewer than ⌈1/fpr⌉ jets).
pub fn tpr_at_fpr(background: &[f32], signal: &[f32], fpr: f64) -> Option<(f64, f64)> {
    if background.is_empty() || (background.len() as f64) < (1.0 / fpr).ceil() {
        return None;
    }
    let mut b = background.to_vec();
    b.sort_by(|x, y| y.total_cmp(x)); // descending
    let allowed = (fpr * b.len() as f64).floor() as usize;
    // Threshold just above the (allowed+1)-th largest background score; if that score ties
    // with earlier ones, the whole tie block is excluded.
    let threshold = if allowed >= b.len() {
        f64::NEG_INFINITY
    } else {
        let t = b[allowed];
        next_up(t) as f64
    };
    let tp = signal.iter().filter(|&&s| (s as f64) >= threshold).count();
    Some((threshold, tp as f64 / signal.len().max(1) as f64))
}

/// The smallest f32 above `x`.
fn next_up(x: f32) -> f32 {
    if x.is_nan() || x == f32::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f32::from_bits(1);
    }
    let bits = x.to_bits();
    f32::from_bits(if x > 0.0 { bits + 1 } else { bits - 1 })
}

/// Mean and standard deviation of `stat` over `n` bootstrap resamples of both samples,
/// from a seeded generator.
pub fn bootstrap(
    background: &[f32],
    signal: &[f32],
    n: usize,
    seed: u64,
    stat: impl Fn(&[f32], &[f32]) -> f64,
) -> (f64, f64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut bb, mut ss) = (vec![0.0f32; background.len()], vec![0.0f32; signal.len()]);
    let mut vals = Vec::with_capacity(n);
    for _ in 0..n {
        for v in bb.iter_mut() {
            *v = background[rng.random_range(0..background.len())];
        }
        for v in ss.iter_mut() {
            *v = signal[rng.random_range(0..signal.len())];
        }
        let x = stat(&bb, &ss);
        if x.is_finite() {
            vals.push(x);
        }
    }
    if vals.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = vals.iter().sum::<f64>() / vals.len() as f64;
    let sd = (vals.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (vals.len().max(2) - 1) as f64).sqrt();
    (m, sd)
}

/// The figures a physicist reads off a ROC.
#[derive(Clone, Debug, Serialize)]
pub struct RocSummary {
    pub score: String,
    pub background_jets: usize,
    pub signal_jets: usize,
    pub auc: f64,
    pub auc_err: f64,
    /// (FPR, TPR, bootstrap σ, threshold), or a note when the background is too small.
    pub working_points: Vec<WorkingPoint>,
    pub curve: Vec<RocPoint>,
}

/// TPR at one target background rate.
#[derive(Clone, Debug, Serialize)]
pub struct WorkingPoint {
    pub fpr: f64,
    pub tpr: Option<f64>,
    pub tpr_err: Option<f64>,
    pub threshold: Option<f64>,
    pub note: Option<String>,
}

/// AUC and TPR at FPR 1e-2 … 1e-5 with bootstrap errors; the curve is thinned to ≤ 2000
/// points (log-spaced in FPR) for plotting.
pub fn summarize(background: &[f32], signal: &[f32], score: &str, boot: usize, seed: u64) -> RocSummary {
    let a = auc(background, signal);
    let (_, aerr) = bootstrap(background, signal, boot, seed, auc);
    let working_points = [1e-2, 1e-3, 1e-4, 1e-5]
        .iter()
        .map(|&f| match tpr_at_fpr(background, signal, f) {
            Some((thr, tpr)) => {
                let (_, err) = bootstrap(background, signal, boot, seed ^ 0x5eed, |b, s| {
                    tpr_at_fpr(b, s, f).map_or(f64::NAN, |x| x.1)
                });
                WorkingPoint { fpr: f, tpr: Some(tpr), tpr_err: Some(err), threshold: Some(thr), note: None }
            }
            None => WorkingPoint {
                fpr: f,
                tpr: None,
                tpr_err: None,
                threshold: None,
                note: Some(format!(
                    "unreachable: {} background jets cannot resolve a rate of {f:e} (needs ≥ {})",
                    background.len(),
                    (1.0 / f).ceil() as u64
                )),
            },
        })
        .collect();
    let curve = roc_curve(background, signal);
    let curve = if curve.len() <= 2000 { curve } else { thin(&curve, 2000) };
    RocSummary {
        score: score.into(),
        background_jets: background.len(),
        signal_jets: signal.len(),
        auc: a,
        auc_err: aerr,
        working_points,
        curve,
    }
}

fn thin(curve: &[RocPoint], n: usize) -> Vec<RocPoint> {
    let step = curve.len().div_ceil(n);
    let mut out: Vec<RocPoint> = curve.iter().step_by(step).copied().collect();
    if out.last() != curve.last() {
        out.push(*curve.last().expect("non-empty"));
    }
    out
}
