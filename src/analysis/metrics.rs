//! Figures of merit for a reconstruction, per variable and overall: MSE, RMSE and mean
//! absolute residual in normalised space; in physical units the relative residual
//! (out − in)/in (mean, σ, central-68 % half-width, histogram) and the absolute residual
//! out − in (Δφ wrapped into (−π, π]).
//!
//! η and φ cross zero: they get ONLY the absolute residual. Any other column's relative
//! residual is taken over the rows with |in| above a floor, [`RELATIVE_FLOOR`] × the column's
//! mean |in| over its non-zero rows (from a strided sample of at most 20 000 rows), so that masses of ~0 or a mostly-zero factor
//! (muonSubtrFactor) do not divide by almost nothing and print σ = 3·10⁴; the floor and the
//! share of rows above it are reported with the figure.

use crate::data::npy::Dataset;
use crate::error::{Error, Location, Result};
use crate::formats::model_file::SavedModel;
// The statistics' paths before `analysis::stats`.
use crate::analysis::stats::half_width_68;
pub use crate::analysis::stats::{quantile_sorted, Histogram};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Values kept per variable for quantiles; larger inputs are sampled with a fixed stride.
const QUANTILE_SAMPLE: usize = 200_000;

/// The relative residual's floor as a fraction of the column's typical scale (its mean |x|
/// over rows with x ≠ 0): rows with |x| at or below it enter only the absolute residual.
pub const RELATIVE_FLOOR: f64 = 0.05;

/// Whether a column name is a pseudorapidity (η crosses zero: absolute residual only).
pub fn is_eta(name: &str) -> bool {
    let base = name.rsplit(['_', '.']).next().unwrap_or(name);
    base.eq_ignore_ascii_case("eta")
}

/// Whether a column gets only the absolute residual: η, φ and their differences (Δη, Δφ, which
/// sit around zero).
pub fn absolute_only(name: &str) -> bool {
    let base = name.rsplit(['_', '.']).next().unwrap_or(name).to_ascii_lowercase();
    is_eta(name) || is_phi(name) || ["deltaeta", "deltaphi", "deta", "dphi"].iter().any(|d| base.ends_with(d))
}

/// The relative-residual floor of a column from its typical scale `mean_abs_nonzero` (the
/// mean |x| over rows with x ≠ 0); 0 when the column is all zero.
pub fn relative_floor(mean_abs_nonzero: f64) -> f64 {
    if mean_abs_nonzero.is_finite() && mean_abs_nonzero > 0.0 {
        RELATIVE_FLOOR * mean_abs_nonzero
    } else {
        0.0
    }
}

/// The mean |x| over the non-zero finite values (NaN if there are none).
pub fn mean_abs_nonzero(values: impl IntoIterator<Item = f64>) -> f64 {
    let (mut s, mut n) = (0.0, 0u64);
    for v in values {
        if v != 0.0 && v.is_finite() {
            s += v.abs();
            n += 1;
        }
    }
    if n > 0 {
        s / n as f64
    } else {
        f64::NAN
    }
}

/// The relative residuals (out − in)/in of one column over the rows with |in| above its
/// floor, and how they were taken: the same rule as [`evaluate`], for slices in memory (the
/// figures). `input` and `output` are in physical units.
pub fn relative_residuals(input: &[f64], output: &[f64]) -> (Vec<f64>, RelativeMethod) {
    let floor = relative_floor(mean_abs_nonzero(input.iter().copied()));
    let rel: Vec<f64> = input.iter().zip(output).filter(|(i, _)| i.abs() > floor).map(|(&i, &o)| (o - i) / i).collect();
    let fraction = if input.is_empty() { 0.0 } else { rel.len() as f64 / input.len() as f64 };
    (rel, RelativeMethod { floor, fraction })
}

/// How a column's relative residual was taken.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RelativeMethod {
    /// Rows with |in| above this (physical units) enter the relative residual.
    pub floor: f64,
    /// Share of the evaluated rows above the floor, in [0, 1].
    pub fraction: f64,
}

impl RelativeMethod {
    /// "rel. over 83 % of rows with |x| > 0.1", or "rel. over all rows with x ≠ 0".
    pub fn describe(&self) -> String {
        if self.fraction >= 1.0 {
            "rel. over all rows".to_string()
        } else {
            format!(
                "rel. over {} of rows with |x| > {}",
                percent(self.fraction),
                crate::analysis::stats::fmt_num(self.floor)
            )
        }
    }
}

fn percent(f: f64) -> String {
    let p = 100.0 * f;
    if p > 0.0 && p < 1.0 {
        format!("{p:.2} %")
    } else {
        format!("{p:.0} %")
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
        Some(ResidualStats {
            n: self.n,
            mean: self.mean,
            std: if self.n > 1 { (self.m2 / (self.n - 1) as f64).sqrt() } else { 0.0 },
            half_width_68: half_width_68(&self.sample),
            hist: self.hist,
        })
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
    /// (out − in)/in in physical units, over rows with |in| above the floor in
    /// `relative_method`; None for η and φ (absolute residual only) or when no row is above it.
    pub relative: Option<ResidualStats>,
    /// Which rows the relative residual is over; None for η and φ.
    #[serde(default)]
    pub relative_method: Option<RelativeMethod>,
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
    /// Image datasets: the figures over whole images (the table shows these instead of one
    /// line per pixel; the per-pixel figures stay in `variables`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageMetrics>,
}

/// Whole-image figures of an evaluation on an image dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageMetrics {
    /// "1×40×40 images".
    pub shape: String,
    /// (Σ out − Σ in)/Σ in per image, physical units (images with Σ in > 0).
    pub total_intensity: Option<ResidualStats>,
    /// The pixels with the largest MSE (normalised space), largest first: (name, MSE).
    pub worst_pixels: Vec<(String, f64)>,
}

/// Non-finite values met in a model's outputs (reconstructions or scores): how many, and where
/// the first one is, so that nothing is written and the error names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NonFinite {
    pub count: u64,
    /// (0-based data row, column index) of the first in data order.
    pub first: Option<(usize, usize)>,
}

impl NonFinite {
    /// Counts value i (of rows × `width`) when `norm[i]` or `phys[i]` is not finite (a value
    /// can overflow on the way back to physical units, or turn finite there: 10^−∞ = 0);
    /// `row_of(r)` is output row r's 0-based row in the data. Pass one slice twice for scores.
    pub fn scan(&mut self, norm: &[f32], phys: &[f32], width: usize, row_of: impl Fn(usize) -> usize) {
        for (i, (a, b)) in norm.iter().zip(phys).enumerate() {
            if !(a.is_finite() && b.is_finite()) {
                self.count += 1;
                if self.first.is_none() {
                    self.first = Some((row_of(i / width), i % width));
                }
            }
        }
    }

    /// Ok when there were none; else one line naming `data`, the first row (1-based) and column
    /// (`column(c)` names column c) and the count.
    pub fn check(&self, data: &Path, what: &str, column: impl Fn(usize) -> String) -> Result<()> {
        match self.first {
            None => Ok(()),
            Some((r, c)) => Err(Error::Numeric(format!(
                "{}: the model's {what} is not finite ({} non-finite value{} in all: the model overflows on \
                 this data); nothing was written",
                Location::file(data).row(r as u64 + 1).column(column(c)),
                self.count,
                if self.count == 1 { "" } else { "s" }
            ))),
        }
    }
}

/// Whether a column name is an azimuthal angle (its residual wraps at ±π).
pub fn is_phi(name: &str) -> bool {
    let base = name.rsplit(['_', '.']).next().unwrap_or(name);
    base.eq_ignore_ascii_case("phi")
}

/// Evaluates `model` on `rows` of `data` (all rows if `rows` is None). A reconstruction that is
/// not finite (an overflowing model) is an error naming the first row and column.
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
    let mut bad = NonFinite::default();
    let abs_only: Vec<bool> = data.columns().iter().map(|c| absolute_only(c)).collect();
    let floor = column_floors(data, rows, n_rows);
    let mut above = vec![0u64; d];
    let mut total = ResidualAcc::new(-1.0, 1.0);
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
        bad.scan(&out[..n * d], &out_phys[..n * d], d, |r| idx[r] as usize);
        if data.is_image() {
            for r in 0..n {
                let tin: f64 = phys[r * d..(r + 1) * d].iter().map(|&v| v as f64).sum();
                let tout: f64 = out_phys[r * d..(r + 1) * d].iter().map(|&v| v as f64).sum();
                if tin > 0.0 {
                    total.push((tout - tin) / tin, (done + r).is_multiple_of(stride));
                }
            }
        }
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
                if !abs_only[c] && i.abs() > floor[c] {
                    above[c] += 1;
                    rel[c].push(delta / i, keep);
                }
            }
        }
        done += n;
        on_rows(done as u64);
    }
    bad.check(data.path(), "reconstruction", |c| data.columns()[c].clone())?;
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
            relative: if abs_only[c] { None } else { r.finish() },
            relative_method: (!abs_only[c]).then(|| RelativeMethod { floor: floor[c], fraction: above[c] as f64 / nf }),
            absolute: a.finish(),
        })
        .collect();
    let mse = sq.iter().sum::<f64>() / (nf * d as f64);
    let image = data.is_image().then(|| {
        let mut worst: Vec<(String, f64)> = variables.iter().map(|v| (v.name.clone(), v.mse)).collect();
        worst.sort_by(|a, b| b.1.total_cmp(&a.1));
        worst.truncate(5);
        ImageMetrics {
            shape: crate::data::npy::describe_shape(data.shape()),
            total_intensity: total.finish(),
            worst_pixels: worst,
        }
    });
    Ok(Evaluation {
        image,
        data: data.path().display().to_string(),
        subset: subset.to_string(),
        rows: n_rows,
        mse,
        rmse: mse.sqrt(),
        mean_abs_residual: ab.iter().sum::<f64>() / (nf * d as f64),
        variables,
    })
}

/// Rows sampled (evenly strided) for a column's typical scale: enough for a mean to a few
/// per cent, and few enough that the extra pass touches a small share of a large file's pages.
const SCALE_SAMPLE: usize = 20_000;

/// Each column's relative-residual floor from a first pass over a strided sample of at most
/// [`SCALE_SAMPLE`] of the evaluated rows (physical units).
fn column_floors(data: &Dataset, rows: Option<&[u32]>, n_rows: usize) -> Vec<f64> {
    let d = data.cols();
    let stride = n_rows.div_ceil(SCALE_SAMPLE).max(1);
    let (mut sum, mut n) = (vec![0.0f64; d], vec![0u64; d]);
    let mut row = vec![0.0f32; d];
    for k in (0..n_rows).step_by(stride) {
        let r = rows.map_or(k as u32, |rs| rs[k]);
        data.gather(&[r], &mut row);
        for c in 0..d {
            let v = row[c] as f64;
            if v != 0.0 && v.is_finite() {
                sum[c] += v.abs();
                n[c] += 1;
            }
        }
    }
    (0..d).map(|c| relative_floor(if n[c] > 0 { sum[c] / n[c] as f64 } else { f64::NAN })).collect()
}

impl Evaluation {
    /// A fixed-width table for the terminal.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "{} ({}, {} rows)", self.data, self.subset, self.rows);
        if let Some(im) = &self.image {
            let _ = writeln!(s, "{}: per-pixel figures in --json", im.shape);
            let _ = writeln!(
                s,
                "all pixels: MSE(norm) {:.4e}  RMSE(norm) {:.4e}  mean|res| {:.4e}",
                self.mse, self.rmse, self.mean_abs_residual
            );
            if let Some(t) = &im.total_intensity {
                let _ = writeln!(
                    s,
                    "total intensity (Σ out − Σ in)/Σ in: mean {:.3e}  σ {:.3e}  68 % half-width {:.3e}  ({} images)",
                    t.mean, t.std, t.half_width_68, t.n
                );
            }
            let worst: Vec<String> = im.worst_pixels.iter().map(|(n, m)| format!("{n} {m:.3e}")).collect();
            let _ = writeln!(s, "largest per-pixel MSE(norm): {}", worst.join(", "));
            return s;
        }
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
            "rel rows",
            "abs mean",
            "abs σ"
        );
        for v in &self.variables {
            let (rm, rs, rw, rn) = match &v.relative {
                Some(r) => (
                    format!("{:.3e}", r.mean),
                    format!("{:.3e}", r.std),
                    format!("{:.3e}", r.half_width_68),
                    v.relative_method.as_ref().map_or(r.n.to_string(), |m| percent(m.fraction)),
                ),
                None if v.relative_method.is_none() => ("-".into(), "-".into(), "-".into(), "abs only".into()),
                None => ("-".into(), "-".into(), "-".into(), "0 %".into()),
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
        let abs: Vec<&str> =
            self.variables.iter().filter(|v| v.relative_method.is_none()).map(|v| v.name.as_str()).collect();
        if !abs.is_empty() {
            let _ = writeln!(s, "{}: absolute residual Δ = out − in only (they cross zero)", abs.join(", "));
        }
        let partial: Vec<String> = self
            .variables
            .iter()
            .filter_map(|v| v.relative_method.as_ref().filter(|m| m.fraction < 0.995).map(|m| (v, m)))
            .map(|(v, m)| format!("{} {}", v.name, percent(m.fraction)))
            .collect();
        if !partial.is_empty() {
            let _ = writeln!(
                s,
                "rel rows: share of rows with |x| above {} % of the column's mean |x| ≠ 0 (the others enter only the absolute residual; floors in --json); below 100 %: {}",
                RELATIVE_FLOOR * 100.0,
                partial.join(", ")
            );
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sigma(v: &[f64]) -> f64 {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
    }

    #[test]
    fn near_zero_column_keeps_a_sane_sigma_and_names_the_rows() {
        // A muonSubtrFactor-like column: 80 % exact zeros, 10 % at 1e-6, 10 % around 0.5;
        // the reconstruction is off by 0.01 everywhere.
        let input: Vec<f64> = (0..1000)
            .map(|r| match r % 10 {
                0 => 1e-6,
                1 => 0.4 + 0.2 * (r as f64 / 1000.0),
                _ => 0.0,
            })
            .collect();
        let output: Vec<f64> = input.iter().map(|x| x + 0.01).collect();
        // Dividing by every non-zero input is what printed σ = 3·10⁴.
        let naive: Vec<f64> = input.iter().zip(&output).filter(|(i, _)| **i != 0.0).map(|(i, o)| (o - i) / i).collect();
        assert!(sigma(&naive) > 1e3, "{}", sigma(&naive));
        let (rel, m) = relative_residuals(&input, &output);
        assert_eq!(rel.len(), 100, "only the rows around 0.5 are above the floor");
        assert!(sigma(&rel) < 0.01 && rel.iter().all(|r| (0.016..0.026).contains(r)), "σ = {}", sigma(&rel));
        // floor = 5 % of the mean |x| over non-zero rows ≈ 0.05 · 0.25.
        assert!((m.floor - 0.05 * (100.0 * 1e-6 + 100.0 * 0.5) / 200.0).abs() < 1e-3, "{}", m.floor);
        assert!((m.fraction - 0.1).abs() < 1e-12);
        assert_eq!(m.describe(), "rel. over 10 % of rows with |x| > 0.0125");
        // A column far from zero keeps every row.
        let pt: Vec<f64> = (0..100).map(|r| 30.0 + r as f64).collect();
        let (rel, m) = relative_residuals(&pt, &pt);
        assert_eq!((rel.len(), m.fraction), (100, 1.0));
        assert_eq!(m.describe(), "rel. over all rows");
    }

    #[test]
    fn eta_and_phi_are_absolute_only() {
        for name in ["eta", "Jet_eta", "phi", "FatJet.phi", "muonSubtrDeltaEta", "Jet_muonSubtrDeltaPhi", "dPhi"] {
            assert!(absolute_only(name), "{name}");
        }
        for name in ["pt", "mass", "beta", "theta", "muonSubtrFactor", "hfsigmaEtaEta"] {
            assert!(!absolute_only(name), "{name}");
        }
        assert_eq!(relative_floor(0.0), 0.0);
        assert!(mean_abs_nonzero([0.0, 0.0]).is_nan());
    }
}
