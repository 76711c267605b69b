//! Per-column normalisers fitted on the training rows only and stored with the model.
//!
//! * `minmax`: `y = (x − min) / (max − min)` (a constant column gets scale 1);
//! * `standard`: `y = (x − mean) / σ` (population σ; σ = 0 gets 1);
//! * `custom4`: the 4-momentum columns, recognised by name (case-insensitive, after stripping a
//!   prefix ending in `_` or `.`: `Jet_pt`, `AnalysisJetsAuxDyn.pt`; mass is `mass` or `m`), in GeV:
//!   pT → `(log10 pT − 1.3) / 1.2`, m → `log10(m + 1) / 1.8`, η → `η / 5`, φ → `φ / 3`; every
//!   other column min-max. `momentum_to_gev` is 1 for GeV data, 1e-3 for ATLAS MeV.
//!
//! * image normalisers (`--image-norm`, in [`crate::data::image_norm`]): `pixel` is `minmax` per
//!   pixel; `total` divides each image by its total intensity; `log` is `y = ln(1 + x/s)` with
//!   one scale s fitted on the training pixels; `sqrt` is `y = √x` (decoded as `y²`); `none` is
//!   the identity.
//!
//! The identity normaliser ([`Normalizer::identity`]) is kind `Minmax` with every transform
//! `Affine { shift: 0, scale: 1 }`; [`Normalizer::is_identity`] tells it apart.
//!
//! Statistics are accumulated in f64; the per-value transforms of the log columns are evaluated in
//! f64 and rounded once to f32.

use crate::data::npy::{Dataset, RELEASE_BLOCK_ROWS};
use crate::error::{Error, Location, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NormKind {
    Minmax,
    Standard,
    Custom4,
    /// Images: each row divided by its total (see [`RowScale::UnitSum`]).
    Total,
    /// Images: `ln(1 + x/s)` per value.
    Log,
    /// Images: `√x` per value (decoded back as `y²`).
    Sqrt,
    /// No transform.
    None,
}

impl FromStr for NormKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "minmax" => Ok(NormKind::Minmax),
            "standard" => Ok(NormKind::Standard),
            "custom4" => Ok(NormKind::Custom4),
            "pixel" => Ok(NormKind::Minmax),
            "total" => Ok(NormKind::Total),
            "log" => Ok(NormKind::Log),
            "sqrt" => Ok(NormKind::Sqrt),
            "none" => Ok(NormKind::None),
            _ => Err(Error::config(format!(
                "unknown normalisation '{s}'; choose one of: minmax, standard, custom4, or for images pixel, total, log, sqrt, none"
            ))),
        }
    }
}

impl std::fmt::Display for NormKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NormKind::Minmax => "minmax",
            NormKind::Standard => "standard",
            NormKind::Custom4 => "custom4",
            NormKind::Total => "total",
            NormKind::Log => "log",
            NormKind::Sqrt => "sqrt",
            NormKind::None => "none",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "transform", rename_all = "snake_case")]
pub enum ColumnTransform {
    /// `y = (x − shift) / scale`
    Affine { shift: f32, scale: f32 },
    /// `y = (log10(x·to_gev) − 1.3) / 1.2`; needs `x > 0`.
    Log10Pt { to_gev: f32 },
    /// `y = log10(x·to_gev + 1) / 1.8`; needs `x·to_gev > −1`.
    Log10Mass { to_gev: f32 },
    /// `y = ln(1 + x/scale)`; needs `x > −scale`.
    Log1p { scale: f32 },
    /// `y = √x`; needs `x ≥ 0`. The inverse is `y²` (a negative reconstruction comes back
    /// positive: `y²` is the inverse's smooth continuation, as training on √pixels implies).
    Sqrt,
}

impl ColumnTransform {
    #[inline]
    pub fn forward(&self, x: f32) -> f32 {
        match *self {
            ColumnTransform::Affine { shift, scale } => (x - shift) / scale,
            ColumnTransform::Log10Pt { to_gev } => (((x as f64 * to_gev as f64).log10() - 1.3) / 1.2) as f32,
            ColumnTransform::Log10Mass { to_gev } => ((x as f64 * to_gev as f64 + 1.0).log10() / 1.8) as f32,
            ColumnTransform::Log1p { scale } => (x as f64 / scale as f64).ln_1p() as f32,
            ColumnTransform::Sqrt => (x as f64).sqrt() as f32,
        }
    }

    /// `Affine { shift: 0, scale: 1 }`: y = x, bit for bit (−0 included).
    pub fn is_identity(&self) -> bool {
        matches!(*self, ColumnTransform::Affine { shift, scale } if shift.to_bits() == 0 && scale == 1.0)
    }

    #[inline]
    pub fn inverse(&self, y: f32) -> f32 {
        match *self {
            ColumnTransform::Affine { shift, scale } => y * scale + shift,
            ColumnTransform::Log10Pt { to_gev } => (10f64.powf(y as f64 * 1.2 + 1.3) / to_gev as f64) as f32,
            ColumnTransform::Log10Mass { to_gev } => ((10f64.powf(y as f64 * 1.8) - 1.0) / to_gev as f64) as f32,
            ColumnTransform::Log1p { scale } => ((y as f64).exp_m1() * scale as f64) as f32,
            ColumnTransform::Sqrt => y * y,
        }
    }

    /// Why `x` cannot be transformed, if it cannot.
    fn reject(&self, x: f32) -> Option<String> {
        if !x.is_finite() {
            return Some(format!("value {x} is not finite"));
        }
        match *self {
            ColumnTransform::Log10Pt { .. } if x <= 0.0 => {
                Some(format!("value {x} is not > 0, required by the log10 pT transform"))
            }
            ColumnTransform::Log10Mass { to_gev } if x as f64 * to_gev as f64 <= -1.0 => Some(format!(
                "value {x} is not > {} (−1 GeV), required by the log10 mass transform",
                -1.0 / to_gev as f64
            )),
            ColumnTransform::Log1p { scale } if x <= -scale => {
                Some(format!("value {x} is not > {}, required by the log image transform", -scale))
            }
            ColumnTransform::Sqrt if x < 0.0 => {
                Some(format!("value {x} is not ≥ 0, required by the √ image transform"))
            }
            _ => None,
        }
    }
}

/// How [`Normalizer::fit_with`] merges one pass's partial statistics across processes:
/// `(this pass's outcome, sum, min, max)` → the merged outcome.
pub type FitCombine<'a> = &'a mut dyn FnMut(Result<()>, &mut [f64], &mut [f64], &mut [f64]) -> Result<()>;

/// The first value [`Normalizer::normalize_rows`] could not normalise (indices within its slice).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadValue {
    pub row: usize,
    pub col: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalizer {
    pub kind: NormKind,
    pub columns: Vec<String>,
    pub transforms: Vec<ColumnTransform>,
    /// A transform of whole rows applied before the per-column ones (image `total`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<RowScale>,
}

/// A per-row transform of an image normaliser.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "row_scale", rename_all = "snake_case")]
pub enum RowScale {
    /// Each row is divided by its sum (a row whose sum is not > 0 is left as it is). The
    /// inverse multiplies by `mean_total`, the training rows' mean sum: the model does not
    /// keep each image's own intensity, so a reconstruction comes back at the training mean
    /// (exact for unit-intensity images, where it is 1).
    UnitSum { mean_total: f32 },
}

impl RowScale {
    fn forward(&self, row: &mut [f32]) {
        match *self {
            RowScale::UnitSum { .. } => {
                let s: f64 = row.iter().map(|&v| v as f64).sum();
                if s > 0.0 && s.is_finite() {
                    row.iter_mut().for_each(|v| *v = (*v as f64 / s) as f32);
                }
            }
        }
    }
    fn inverse(&self, row: &mut [f32]) {
        match *self {
            RowScale::UnitSum { mean_total } => row.iter_mut().for_each(|v| *v *= mean_total),
        }
    }
}

/// What a column is to `custom4`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Momentum {
    Pt,
    Eta,
    Phi,
    Mass,
}

/// Recognises a 4-momentum column by name: lower-cased, after stripping a prefix that ends in
/// `_` or `.` (`Jet_pt`, `AnalysisJetsAuxDyn.pt`, `JetConstitScaleMomentum_m`).
pub fn momentum_component(name: &str) -> Option<Momentum> {
    let base = name.rsplit(['_', '.']).next().unwrap_or(name).to_ascii_lowercase();
    match base.as_str() {
        "pt" => Some(Momentum::Pt),
        "eta" => Some(Momentum::Eta),
        "phi" => Some(Momentum::Phi),
        "mass" | "m" => Some(Momentum::Mass),
        _ => None,
    }
}

impl Normalizer {
    /// Fits on `rows` of `data` (the training split). See the module docs for the kinds.
    pub fn fit(kind: NormKind, data: &Dataset, rows: &[u32], momentum_to_gev: f32) -> Result<Normalizer> {
        Normalizer::fit_with(kind, data, rows, momentum_to_gev, &mut |local, _, _, _| local)
    }

    /// [`Normalizer::fit`] where `rows` are this process's share of the training rows: after
    /// each pass over them, `combine(local, sum, min, max)` merges the partial statistics with
    /// the other processes' (elementwise: `sum` summed, `min` min, `max` max; `local` is this
    /// pass's outcome, which every process must learn of) and returns the merged outcome.
    /// Pass 1: `sum` = per-column Σx then the row count, `min`/`max` per column; pass 2
    /// (standard only): `sum` = per-column Σ(x − mean)², `min`/`max` empty.
    pub fn fit_with(
        kind: NormKind,
        data: &Dataset,
        rows: &[u32],
        momentum_to_gev: f32,
        combine: FitCombine<'_>,
    ) -> Result<Normalizer> {
        // Image normalisers (total intensity, log, none) are fitted on this process's rows.
        if matches!(kind, NormKind::Total | NormKind::Log | NormKind::Sqrt | NormKind::None) {
            return crate::data::image_norm::fit(kind, data, rows);
        }
        let cols = data.cols();
        let columns = data.columns().to_vec();
        if !(momentum_to_gev.is_finite() && momentum_to_gev > 0.0) {
            return Err(Error::config(format!("momentum unit factor {momentum_to_gev} must be a positive number")));
        }
        // Fixed transforms first (custom4), so the pass below can validate against them.
        let fixed: Vec<Option<ColumnTransform>> = columns
            .iter()
            .map(|name| match (kind, momentum_component(name)) {
                (NormKind::Custom4, Some(Momentum::Pt)) => Some(ColumnTransform::Log10Pt { to_gev: momentum_to_gev }),
                (NormKind::Custom4, Some(Momentum::Mass)) => {
                    Some(ColumnTransform::Log10Mass { to_gev: momentum_to_gev })
                }
                (NormKind::Custom4, Some(Momentum::Eta)) => Some(ColumnTransform::Affine { shift: 0.0, scale: 5.0 }),
                (NormKind::Custom4, Some(Momentum::Phi)) => Some(ColumnTransform::Affine { shift: 0.0, scale: 3.0 }),
                _ => None,
            })
            .collect();

        let mut min = vec![f64::INFINITY; cols];
        let mut max = vec![f64::NEG_INFINITY; cols];
        let mut sum = vec![0f64; cols + 1];
        sum[cols] = rows.len() as f64;
        let mut pass = || -> Result<()> {
            let mut released = 0usize;
            for &r in rows {
                let r = r as usize;
                if r >= released + RELEASE_BLOCK_ROWS {
                    data.release_rows(released, r);
                    released = r;
                }
                if r >= data.rows() {
                    return Err(Error::config(format!(
                        "{}: row index {r} out of range ({} rows)",
                        data.path().display(),
                        data.rows()
                    )));
                }
                for (c, &x) in data.row(r).iter().enumerate() {
                    let probe = fixed[c].clone().unwrap_or(ColumnTransform::Affine { shift: 0.0, scale: 1.0 });
                    if let Some(why) = probe.reject(x) {
                        return Err(bad_value(data.path(), r, &columns[c], why));
                    }
                    let v = x as f64;
                    min[c] = min[c].min(v);
                    max[c] = max[c].max(v);
                    sum[c] += v;
                }
            }
            data.release_rows(0, data.rows());
            Ok(())
        };
        let local = pass();
        combine(local, &mut sum, &mut min, &mut max)?;
        let n = sum[cols];
        if n == 0.0 {
            return Err(Error::data(Location::file(data.path()), "cannot fit a normaliser on zero rows"));
        }
        let mean: Vec<f64> = sum[..cols].iter().map(|s| s / n).collect();
        let mut sd = vec![0f64; cols];
        if kind == NormKind::Standard {
            let mut ss = vec![0f64; cols];
            let mut released = 0;
            for &r in rows {
                if r as usize >= released + RELEASE_BLOCK_ROWS {
                    data.release_rows(released, r as usize);
                    released = r as usize;
                }
                for (c, &x) in data.row(r as usize).iter().enumerate() {
                    let d = x as f64 - mean[c];
                    ss[c] += d * d;
                }
            }
            combine(Ok(()), &mut ss, &mut [], &mut [])?;
            sd = ss.iter().map(|s| (s / n).sqrt()).collect();
        }
        let transforms = (0..cols)
            .map(|c| {
                if let Some(t) = fixed[c].clone() {
                    return t;
                }
                match kind {
                    NormKind::Standard => {
                        let s = sd[c] as f32;
                        ColumnTransform::Affine {
                            shift: mean[c] as f32,
                            scale: if s > 0.0 && s.is_finite() { s } else { 1.0 },
                        }
                    }
                    NormKind::Minmax
                    | NormKind::Custom4
                    | NormKind::Total
                    | NormKind::Log
                    | NormKind::Sqrt
                    | NormKind::None => {
                        let range = (max[c] - min[c]) as f32;
                        ColumnTransform::Affine {
                            shift: min[c] as f32,
                            scale: if range > 0.0 && range.is_finite() { range } else { 1.0 },
                        }
                    }
                }
            })
            .collect();
        Ok(Normalizer { kind, columns, transforms, rows: None })
    }

    /// The identity: kind `Minmax`, every column `Affine { shift: 0, scale: 1 }`.
    pub fn identity(columns: &[String]) -> Normalizer {
        Normalizer {
            kind: NormKind::Minmax,
            columns: columns.to_vec(),
            transforms: vec![ColumnTransform::Affine { shift: 0.0, scale: 1.0 }; columns.len()],
            rows: None,
        }
    }

    /// Whether every transform is `Affine { shift: 0, scale: 1 }`.
    pub fn is_identity(&self) -> bool {
        self.rows.is_none() && self.transforms.iter().all(|t| *t == ColumnTransform::Affine { shift: 0.0, scale: 1.0 })
    }

    pub fn cols(&self) -> usize {
        self.transforms.len()
    }

    /// Checks a deserialised normaliser: one transform per column, finite non-zero parameters.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.columns.len() != self.transforms.len() {
            return Err(format!("{} columns but {} transforms", self.columns.len(), self.transforms.len()));
        }
        for (name, t) in self.columns.iter().zip(&self.transforms) {
            let ok = match *t {
                ColumnTransform::Affine { shift, scale } => shift.is_finite() && scale.is_finite() && scale != 0.0,
                ColumnTransform::Log10Pt { to_gev } | ColumnTransform::Log10Mass { to_gev } => {
                    to_gev.is_finite() && to_gev > 0.0
                }
                ColumnTransform::Log1p { scale } => scale.is_finite() && scale > 0.0,
                ColumnTransform::Sqrt => true,
            };
            if !ok {
                return Err(format!("column {name}: invalid transform parameters {t:?}"));
            }
        }
        match self.rows {
            Some(RowScale::UnitSum { mean_total }) if !(mean_total.is_finite() && mean_total > 0.0) => {
                Err(format!("row scale: invalid mean total {mean_total}"))
            }
            _ => Ok(()),
        }
    }

    /// Normalises `x` (rows × cols, row-major) in place. On the first value whose result is not
    /// finite (or which breaks a transform's domain), stops and returns its (row, col) within `x`;
    /// that value is left as it was (earlier values are normalised, later ones untouched).
    pub fn normalize_rows(&self, x: &mut [f32]) -> std::result::Result<(), BadValue> {
        let c = self.transforms.len();
        if c == 0 {
            return Ok(());
        }
        if self.rows.is_none() && self.transforms.iter().all(ColumnTransform::is_identity) {
            // (x − 0)/1 is x, bit for bit: only the finiteness check is left, in one
            // vectorisable pass per row.
            for (r, row) in x.chunks_exact(c).enumerate() {
                if !row.iter().fold(true, |ok, v| ok & v.is_finite()) {
                    let j = row.iter().position(|v| !v.is_finite()).unwrap_or(0);
                    return Err(BadValue { row: r, col: j });
                }
            }
            return Ok(());
        }
        for (r, row) in x.chunks_exact_mut(c).enumerate() {
            if let Some(rs) = &self.rows {
                if let Some(j) = row.iter().position(|v| !v.is_finite()) {
                    return Err(BadValue { row: r, col: j });
                }
                rs.forward(row);
            }
            for (j, (v, t)) in row.iter_mut().zip(&self.transforms).enumerate() {
                let y = t.forward(*v);
                let domain_ok = match *t {
                    ColumnTransform::Log10Pt { .. } => *v > 0.0,
                    _ => true,
                };
                if !y.is_finite() || !domain_ok {
                    return Err(BadValue { row: r, col: j });
                }
                *v = y;
            }
        }
        Ok(())
    }

    /// The inverse of [`Normalizer::normalize_rows`], in place.
    /// Gathers dataset rows `rows` into `x` (rows × cols) and normalises them. A value
    /// outside the normaliser's domain is an error naming the file, the 1-based dataset row
    /// and the column. The one place the batch loops of evaluate, score and PCA share.
    pub fn gather_normalized(&self, data: &Dataset, rows: &[u32], x: &mut [f32]) -> Result<()> {
        data.gather(rows, x);
        self.normalize_rows(x).map_err(|b| {
            Error::data(
                Location::file(data.path())
                    .row((data.first_row() + rows[b.row] as usize) as u64 + 1)
                    .column(data.columns()[b.col].clone()),
                "value is outside the domain of the model's normaliser",
            )
        })
    }

    pub fn denormalize_rows(&self, x: &mut [f32]) {
        let c = self.transforms.len();
        if c == 0 {
            return;
        }
        for row in x.chunks_exact_mut(c) {
            for (v, t) in row.iter_mut().zip(&self.transforms) {
                *v = t.inverse(*v);
            }
            if let Some(rs) = &self.rows {
                rs.inverse(row);
            }
        }
    }

    /// An error for a [`BadValue`]: `first_row` is the 0-based dataset row of `x`'s first row;
    /// `value` is the offending original value (still in `x` after `normalize_rows`).
    pub fn bad_value_error(&self, path: &Path, first_row: usize, bad: BadValue, value: f32) -> Error {
        let name = self.columns.get(bad.col).cloned().unwrap_or_else(|| format!("#{}", bad.col + 1));
        let why = self
            .transforms
            .get(bad.col)
            .and_then(|t| t.reject(value))
            .unwrap_or_else(|| format!("value {value} gives a non-finite normalised value"));
        bad_value(path, first_row + bad.row, &name, why)
    }
}

fn bad_value(path: &Path, row0: usize, column: &str, why: String) -> Error {
    Error::data(Location::file(path).row(row0 as u64 + 1).column(column.to_string()), why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn affine(shift: f32, scale: f32, cols: usize) -> Normalizer {
        Normalizer {
            kind: NormKind::None,
            columns: (0..cols).map(|c| format!("c{c}")).collect(),
            transforms: vec![ColumnTransform::Affine { shift, scale }; cols],
            rows: None,
        }
    }

    /// The identity's short path leaves every bit (−0 and subnormals included) and names the
    /// first non-finite value as the per-column path does.
    #[test]
    fn the_identity_keeps_the_bits_and_finds_the_first_bad_value() {
        let id = affine(0.0, 1.0, 37);
        assert!(id.transforms.iter().all(ColumnTransform::is_identity));
        assert!(!ColumnTransform::Affine { shift: -0.0, scale: 1.0 }.is_identity(), "x − (−0) turns −0 into +0");
        let x: Vec<f32> = (0..3 * 37).map(|i| [(i as f32).sin(), -0.0, f32::from_bits(1), -3.0e38][i % 4]).collect();
        let mut y = x.clone();
        assert!(id.normalize_rows(&mut y).is_ok());
        assert!(x.iter().zip(&y).all(|(a, b)| a.to_bits() == b.to_bits()));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut z = x.clone();
            z[2 * 37 + 5] = bad;
            z[2 * 37 + 30] = f32::NAN;
            let e = id.normalize_rows(&mut z).unwrap_err();
            assert_eq!((e.row, e.col), (2, 5), "{bad}");
            // The general path (a shift of −0 is not the identity) names the same value.
            let e = affine(-0.0, 1.0, 37).normalize_rows(&mut z).unwrap_err();
            assert_eq!((e.row, e.col), (2, 5), "{bad}");
        }
    }
}
