//! Figures of merit for a reconstruction, per variable and overall: MSE, RMSE and mean
//! absolute residual in normalised space; in physical units the relative residual
//! (out − in)/in (mean, σ, central-68 % half-width, histogram) and the absolute residual
//! out − in (Δφ wrapped into (−π, π]), which is the meaningful one for η and φ that cross zero.

use crate::data::npy::Dataset;
use crate::error::{Error, Location, Result};
use crate::model_io::SavedModel;
use serde::{Deserialize, Serialize};

/// Values kept per variable for quantiles; larger inputs are sampled with a fixed stride.
const QUANTILE_SAMPLE: usize = 200_000;

/// A fixed-range histogram with under- and overflow counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub lo: f64,
    pub hi: f64,
    pub counts: Vec<u64>,
    pub underflow: u64,
    pub overflow: u64,
}

impl Histogram {
    pub fn new(lo: f64, hi: f64, bins: usize) -> Self {
        Histogram { lo, hi, counts: vec![0; bins], underflow: 0, overflow: 0 }
    }
    pub fn fill(&mut self, v: f64) {
        if v < self.lo {
            self.underflow += 1;
        } else if v >= self.hi {
            self.overflow += 1;
        } else {
            let bins = self.counts.len();
            let i = ((v - self.lo) / (self.hi - self.lo) * bins as f64) as usize;
            self.counts[i.min(bins - 1)] += 1;
        }
    }
}

/// Summary of one residual distribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResidualStats {
    /// Values that entered (for the relative residual, rows with input ≠ 0).
    pub n: u64,
    pub mean: f64,
    pub std: f64,
    /// (q84 − q16)/2: robust width, equal to σ for a Gaussian.
    pub half_width_68: f64,
    pub hist: Histogram,
}

/// Streaming accumulator behind [`ResidualStats`] (Welford mean/variance, strided sample).
#[derive(Clone, Debug)]
struct ResidualAcc {
    n: u64,
    mean: f64,
    m2: f64,
    sample: Vec<f64>,
    hist: Histogram,
}

impl ResidualAcc {
    fn new(lo: f64, hi: f64) -> Self {
        ResidualAcc { n: 0, mean: 0.0, m2: 0.0, sample: Vec::new(), hist: Histogram::new(lo, hi, 200) }
    }
    fn push(&mut self, v: f64, keep: bool) {
        self.n += 1;
        let d = v - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (v - self.mean);
        self.hist.fill(v);
        if keep {
            self.sample.push(v);
        }
    }
    fn finish(mut self) -> Option<ResidualStats> {
        if self.n == 0 {
            return None;
        }
        self.sample.sort_by(f64::total_cmp);
        let q = |p: f64| quantile_sorted(&self.sample, p);
        Some(ResidualStats {
            n: self.n,
            mean: self.mean,
            std: if self.n > 1 { (self.m2 / (self.n - 1) as f64).sqrt() } else { 0.0 },
            half_width_68: (q(0.841_344_746) - q(0.158_655_254)) / 2.0,
            hist: self.hist,
        })
    }
}

/// Linear-interpolated quantile of sorted values (NaN for none).
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let x = p.clamp(0.0, 1.0) * (n - 1) as f64;
            let i = x.floor() as usize;
            let f = x - i as f64;
            if i + 1 < n {
                sorted[i] * (1.0 - f) + sorted[i + 1] * f
            } else {
                sorted[n - 1]
            }
        }
    }
}

/// Figures for one variable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariableMetrics {
    pub name: String,
    /// Mean squared residual, normalised space.
    pub mse: f64,
    pub rmse: f64,
    /// Mean |out − in|, normalised space.
    pub mean_abs_residual: f64,
    /// (out − in)/in in physical units, over rows with in ≠ 0.
    pub relative: Option<ResidualStats>,
    /// out − in in physical units (Δφ wrapped for φ columns).
    pub absolute: Option<ResidualStats>,
}

/// The whole evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub data: String,
    /// Which rows: "validation split" or "all rows".
    pub subset: String,
    pub rows: usize,
    pub mse: f64,
    pub rmse: f64,
    pub mean_abs_residual: f64,
    pub variables: Vec<VariableMetrics>,
}

/// Whether a column name is an azimuthal angle (its residual wraps at ±π).
pub fn is_phi(name: &str) -> bool {
    let base = name.rsplit(['_', '.']).next().unwrap_or(name);
    base.eq_ignore_ascii_case("phi")
}

/// Evaluates `model` on `rows` of `data` (all rows if `rows` is None).
pub fn evaluate(model: &SavedModel, data: &Dataset, rows: Option<&[u32]>, subset: &str) -> Result<Evaluation> {
    evaluate_with(model, data, rows, subset, &mut |_| {})
}

/// [`evaluate`], calling `on_rows` with the rows evaluated so far after each batch.
pub fn evaluate_with(
    model: &SavedModel,
    data: &Dataset,
    rows: Option<&[u32]>,
    subset: &str,
    on_rows: &mut dyn FnMut(u64),
) -> Result<Evaluation> {
    let d = data.cols();
    let n_rows = rows.map_or(data.rows(), <[u32]>::len);
    if n_rows == 0 {
        return Err(Error::data(Location::file(data.path()), "no rows to evaluate"));
    }
    let batch = 4096usize;
    let mut buf = model.ae.plan(batch, false);
    let mut x = vec![0.0f32; batch * d];
    let mut phys = vec![0.0f32; batch * d];
    let mut out_phys = vec![0.0f32; batch * d];
    let mut idx: Vec<u32> = Vec::with_capacity(batch);
    let stride = n_rows.div_ceil(QUANTILE_SAMPLE).max(1);
    let mut sq = vec![0.0f64; d];
    let mut ab = vec![0.0f64; d];
    let mut rel: Vec<ResidualAcc> = (0..d).map(|_| ResidualAcc::new(-1.0, 1.0)).collect();
    let mut abs: Vec<ResidualAcc> = (0..d).map(|_| ResidualAcc::new(-1.0, 1.0)).collect();
    let phi: Vec<bool> = data.columns().iter().map(|c| is_phi(c)).collect();
    let mut done = 0usize;
    while done < n_rows {
        let n = batch.min(n_rows - done);
        crate::data::selected_rows(rows, done, n, &mut idx);
        model.meta.normalizer.gather_normalized(data, &idx, &mut x[..n * d])?;
        data.gather(&idx, &mut phys[..n * d]);
        if idx[0] > 0 && idx.windows(2).all(|w| w[0] < w[1]) {
            data.release_rows(0, idx[0] as usize); // ascending rows: earlier pages are done
        }
        let out = model.ae.forward(&x, &mut buf, n);
        for r in 0..n {
            for c in 0..d {
                let e = (out[r * d + c] - x[r * d + c]) as f64;
                sq[c] += e * e;
                ab[c] += e.abs();
            }
        }
        out_phys[..n * d].copy_from_slice(out);
        model.meta.normalizer.denormalize_rows(&mut out_phys[..n * d]);
        for r in 0..n {
            let keep = (done + r).is_multiple_of(stride);
            for c in 0..d {
                let (i, o) = (phys[r * d + c] as f64, out_phys[r * d + c] as f64);
                let mut delta = o - i;
                if phi[c] {
                    delta =
                        (delta + std::f64::consts::PI).rem_euclid(2.0 * std::f64::consts::PI) - std::f64::consts::PI;
                }
                abs[c].push(delta, keep);
                if i != 0.0 {
                    rel[c].push(delta / i, keep);
                }
            }
        }
        done += n;
        on_rows(done as u64);
    }
    let nf = n_rows as f64;
    let variables: Vec<VariableMetrics> = data
        .columns()
        .iter()
        .enumerate()
        .zip(rel.into_iter().zip(abs))
        .map(|((c, name), (r, a))| VariableMetrics {
            name: name.clone(),
            mse: sq[c] / nf,
            rmse: (sq[c] / nf).sqrt(),
            mean_abs_residual: ab[c] / nf,
            relative: r.finish(),
            absolute: a.finish(),
        })
        .collect();
    let mse = sq.iter().sum::<f64>() / (nf * d as f64);
    Ok(Evaluation {
        data: data.path().display().to_string(),
        subset: subset.to_string(),
        rows: n_rows,
        mse,
        rmse: mse.sqrt(),
        mean_abs_residual: ab.iter().sum::<f64>() / (nf * d as f64),
        variables,
    })
}

impl Evaluation {
    /// A fixed-width table for the terminal.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "{} ({}, {} rows)", self.data, self.subset, self.rows);
        let _ = writeln!(
            s,
            "{:<22} {:>11} {:>11} {:>11} | {:>10} {:>10} {:>10} {:>9} | {:>11} {:>11}",
            "variable",
            "MSE(norm)",
            "RMSE(norm)",
            "mean|res|",
            "rel mean",
            "rel σ",
            "rel 68%",
            "rel n",
            "abs mean",
            "abs σ"
        );
        for v in &self.variables {
            let (rm, rs, rw, rn) = match &v.relative {
                Some(r) => (
                    format!("{:.3e}", r.mean),
                    format!("{:.3e}", r.std),
                    format!("{:.3e}", r.half_width_68),
                    r.n.to_string(),
                ),
                None => ("-".into(), "-".into(), "-".into(), "0".into()),
            };
            let (am, as_) = match &v.absolute {
                Some(a) => (format!("{:.3e}", a.mean), format!("{:.3e}", a.std)),
                None => ("-".into(), "-".into()),
            };
            let _ = writeln!(
                s,
                "{:<22} {:>11.4e} {:>11.4e} {:>11.4e} | {:>10} {:>10} {:>10} {:>9} | {:>11} {:>11}",
                truncate(&v.name, 22),
                v.mse,
                v.rmse,
                v.mean_abs_residual,
                rm,
                rs,
                rw,
                rn,
                am,
                as_
            );
        }
        let _ = writeln!(s, "{:<22} {:>11.4e} {:>11.4e} {:>11.4e}", "all", self.mse, self.rmse, self.mean_abs_residual);
        s
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).chain(std::iter::once('…')).collect()
    }
}
