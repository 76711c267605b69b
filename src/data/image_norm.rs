//! Image normalisers (`--image-norm`), fitted on the training rows and stored in the model like
//! the per-column ones of [`crate::data::normalize`]:
//!
//! * `pixel`: min-max per pixel, the per-column path ([`NormKind::Minmax`]);
//! * `total`: each image divided by its total intensity ([`RowScale::UnitSum`]; the inverse
//!   multiplies by the training images' mean total);
//! * `log`: `y = ln(1 + x/s)` on every pixel, with one scale s = the mean of the training
//!   pixels that are > 0 (so a typical lit pixel maps to ln 2; empty pixels stay 0);
//! * `sqrt`: `y = √x` on every pixel (the "training on √pixels": it lifts the soft,
//!   faint pixels against the hard core); decoded back as `y²`; every pixel must be ≥ 0;
//! * `none`: the identity.
//!
//! Statistics in f64. Any dataset can use them; they are meant for images (N, C, H, W).

use crate::data::normalize::{ColumnTransform, NormKind, Normalizer, RowScale};
use crate::data::npy::{Dataset, RELEASE_BLOCK_ROWS};
use crate::error::{Error, Location, Result};

/// Fits `kind` (Total, Log, Sqrt or None) on `rows` of `data`. A non-finite value is refused
/// naming the file, the 1-based row and the column; `log` needs every value > −s, `sqrt` every
/// value ≥ 0.
pub fn fit(kind: NormKind, data: &Dataset, rows: &[u32]) -> Result<Normalizer> {
    let columns = data.columns().to_vec();
    if rows.is_empty() {
        return Err(Error::data(Location::file(data.path()), "cannot fit a normaliser on zero rows"));
    }
    let unit = ColumnTransform::Affine { shift: 0.0, scale: 1.0 };
    let (mut total, mut pos_sum, mut pos_n) = (0f64, 0f64, 0u64);
    let mut released = 0usize;
    for &r in rows {
        let r = r as usize;
        if r >= released + RELEASE_BLOCK_ROWS {
            data.release_rows(released, r);
            released = r;
        }
        let row = data.row(r);
        if let Some(c) = row.iter().position(|v| !v.is_finite()) {
            return Err(Error::data(
                Location::file(data.path()).row(r as u64 + 1).column(columns[c].clone()),
                format!("value {} is not finite", row[c]),
            ));
        }
        if let Some(c) = row.iter().position(|&v| v < 0.0).filter(|_| kind == NormKind::Sqrt) {
            return Err(Error::data(
                Location::file(data.path()).row(r as u64 + 1).column(columns[c].clone()),
                format!("value {} is not ≥ 0, required by --image-norm sqrt", row[c]),
            ));
        }
        let s: f64 = row.iter().map(|&v| v as f64).sum();
        if s > 0.0 {
            total += s;
        }
        for &v in row.iter().filter(|v| **v > 0.0) {
            pos_sum += v as f64;
            pos_n += 1;
        }
    }
    data.release_rows(0, data.rows());
    let n = columns.len();
    let (transforms, row_scale) = match kind {
        NormKind::Total => {
            let mean = (total / rows.len() as f64) as f32;
            if !(mean > 0.0 && mean.is_finite()) {
                return Err(Error::data(
                    Location::file(data.path()),
                    "--image-norm total: no training image has a total intensity above 0",
                ));
            }
            (vec![unit; n], Some(RowScale::UnitSum { mean_total: mean }))
        }
        NormKind::Log => {
            let s = if pos_n > 0 { (pos_sum / pos_n as f64) as f32 } else { 1.0 };
            let s = if s > 0.0 && s.is_finite() { s } else { 1.0 };
            for &r in rows {
                if let Some(c) = data.row(r as usize).iter().position(|&v| v <= -s) {
                    return Err(Error::data(
                        Location::file(data.path()).row(r as u64 + 1).column(columns[c].clone()),
                        format!("value {} is not > {}, required by --image-norm log", data.row(r as usize)[c], -s),
                    ));
                }
            }
            (vec![ColumnTransform::Log1p { scale: s }; n], None)
        }
        NormKind::Sqrt => (vec![ColumnTransform::Sqrt; n], None),
        _ => (vec![unit; n], None),
    };
    Ok(Normalizer { kind, columns, transforms, rows: row_scale })
}
