//! TEMPORARY stub (replaced by the data branch).
use super::npy::Dataset;
use crate::error::Result;
use serde::{Deserialize, Serialize};
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NormKind {
    Minmax,
    Standard,
    Custom4,
}
impl std::str::FromStr for NormKind {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "minmax" => Ok(Self::Minmax),
            "standard" => Ok(Self::Standard),
            "custom4" => Ok(Self::Custom4),
            _ => Err(crate::Error::config("bad norm")),
        }
    }
}
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "transform", rename_all = "snake_case")]
pub enum ColumnTransform {
    Affine { shift: f32, scale: f32 },
    Log10Pt { to_gev: f32 },
    Log10Mass { to_gev: f32 },
}
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalizer {
    pub kind: NormKind,
    pub columns: Vec<String>,
    pub transforms: Vec<ColumnTransform>,
}
pub struct BadValue {
    pub row: usize,
    pub col: usize,
}
impl Normalizer {
    pub fn fit(kind: NormKind, data: &Dataset, rows: &[u32], _m: f32) -> Result<Normalizer> {
        let c = data.cols();
        let mut lo = vec![f64::INFINITY; c];
        let mut hi = vec![f64::NEG_INFINITY; c];
        for &r in rows {
            for (j, &v) in data.row(r as usize).iter().enumerate() {
                lo[j] = lo[j].min(v as f64);
                hi[j] = hi[j].max(v as f64);
            }
        }
        let transforms = (0..c)
            .map(|j| ColumnTransform::Affine {
                shift: lo[j] as f32,
                scale: if hi[j] > lo[j] {
                    (hi[j] - lo[j]) as f32
                } else {
                    1.0
                },
            })
            .collect();
        Ok(Normalizer {
            kind,
            columns: data.columns().to_vec(),
            transforms,
        })
    }
    pub fn normalize_rows(&self, x: &mut [f32]) -> std::result::Result<(), BadValue> {
        let c = self.transforms.len();
        for (i, v) in x.iter_mut().enumerate() {
            if let ColumnTransform::Affine { shift, scale } = self.transforms[i % c] {
                *v = (*v - shift) / scale;
            }
        }
        Ok(())
    }
    pub fn denormalize_rows(&self, x: &mut [f32]) {
        let c = self.transforms.len();
        for (i, v) in x.iter_mut().enumerate() {
            if let ColumnTransform::Affine { shift, scale } = self.transforms[i % c] {
                *v = *v * scale + shift;
            }
        }
    }
}
