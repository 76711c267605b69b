//! The accuracy price of a quantised encoder against the f32 model it was made from, on the
//! same rows: latent differences (max and RMS of z_q − z_f32 over every latent value), the
//! reconstruction MSE (normalised space) of each, and each variable's relative-residual width
//! (half the central 68 %, physical units; Δ for η/φ as `evaluate` gives it).

use crate::analysis::metrics::evaluate;
use crate::data::npy::Dataset;
use crate::encoder::Encoder;
use crate::error::{Error, Location, Result};
use crate::formats::model_file::SavedModel;
use serde::Serialize;

/// One variable's residual width under both models.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WidthChange {
    pub name: String,
    /// "relative" or "absolute" (η, φ and near-zero columns).
    pub kind: &'static str,
    pub f32_width: f64,
    pub quant_width: f64,
}

/// The price table of one quantised model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Price {
    pub precision: String,
    pub rows: usize,
    pub latent_max_abs_diff: f64,
    pub latent_rms_diff: f64,
    /// RMS of the f32 latents (the scale the differences compare with).
    pub latent_rms: f64,
    pub mse_f32: f64,
    pub mse_quant: f64,
    pub widths: Vec<WidthChange>,
}

impl Price {
    /// Relative change of the reconstruction MSE.
    pub fn mse_change(&self) -> f64 {
        self.mse_quant / self.mse_f32 - 1.0
    }
    /// The largest relative change of a variable's residual width (by magnitude).
    pub fn max_width_change(&self) -> f64 {
        self.widths
            .iter()
            .filter(|w| w.f32_width > 0.0)
            .map(|w| w.quant_width / w.f32_width - 1.0)
            .fold(0.0, |a: f64, c| if c.abs() > a.abs() { c } else { a })
    }
    /// A short text table.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{} vs f32 on {} jets: latent |Δz| max {:.3e}, RMS {:.3e} (latent RMS {:.3e}); MSE {:.4e} → {:.4e} ({:+.2} %)\n",
            self.precision,
            self.rows,
            self.latent_max_abs_diff,
            self.latent_rms_diff,
            self.latent_rms,
            self.mse_f32,
            self.mse_quant,
            100.0 * self.mse_change()
        );
        s.push_str(&format!(
            "{:<24} {:>9} {:>12} {:>12} {:>9}\n",
            "variable", "residual", "68% f32", "68% quant", "change"
        ));
        for w in &self.widths {
            let ch = if w.f32_width > 0.0 { 100.0 * (w.quant_width / w.f32_width - 1.0) } else { 0.0 };
            s.push_str(&format!(
                "{:<24} {:>9} {:>12.4e} {:>12.4e} {:>+8.2}%\n",
                w.name, w.kind, w.f32_width, w.quant_width, ch
            ));
        }
        s
    }
}

/// The price of `quant` against `f32` on `rows` of `data` (all if None).
pub fn price(f32m: &SavedModel, quant: &SavedModel, data: &Dataset, rows: Option<&[u32]>) -> Result<Price> {
    let d = data.cols();
    let l = f32m.ae.shape.latent;
    let all: Vec<u32>;
    let idx: &[u32] = match rows {
        Some(r) => r,
        None => {
            all = (0..data.rows() as u32).collect();
            &all
        }
    };
    let batch = 1024;
    let (mut ea, mut eb) = (Encoder::new(f32m, batch), Encoder::new(quant, batch));
    let (mut x, mut za, mut zb) = (vec![0.0f32; batch * d], vec![0.0f32; batch * l], vec![0.0f32; batch * l]);
    let (mut max, mut sq, mut sq0, mut count) = (0.0f64, 0.0f64, 0.0f64, 0usize);
    for chunk in idx.chunks(batch) {
        let n = chunk.len();
        data.gather(chunk, &mut x[..n * d]);
        let xs = &x[..n * d];
        let enc = |e: &mut Encoder, z: &mut [f32]| {
            e.encode(xs, n, z).map_err(|b| {
                Error::data(
                    Location::file(data.path()).row(chunk[b.row] as u64 + 1).column(data.columns()[b.col].clone()),
                    "value cannot be encoded (not finite after normalisation)",
                )
            })
        };
        enc(&mut ea, &mut za[..n * l])?;
        enc(&mut eb, &mut zb[..n * l])?;
        for (a, b) in za[..n * l].iter().zip(&zb[..n * l]) {
            let diff = (*b as f64 - *a as f64).abs();
            max = max.max(diff);
            sq += diff * diff;
            sq0 += (*a as f64) * (*a as f64);
        }
        count += n * l;
    }
    let ev_a = evaluate(f32m, data, Some(idx), "price")?;
    let ev_b = evaluate(quant, data, Some(idx), "price")?;
    let widths = ev_a
        .variables
        .iter()
        .zip(&ev_b.variables)
        .filter_map(|(a, b)| {
            let (kind, sa, sb) = match (&a.relative, &b.relative, &a.absolute, &b.absolute) {
                (Some(x), Some(y), _, _) => ("relative", x, y),
                (_, _, Some(x), Some(y)) => ("absolute", x, y),
                _ => return None,
            };
            Some(WidthChange { name: a.name.clone(), kind, f32_width: sa.half_width_68, quant_width: sb.half_width_68 })
        })
        .collect();
    let c = count.max(1) as f64;
    Ok(Price {
        precision: quant.ae.quant.as_ref().map_or("f32".into(), |q| q.describe()),
        rows: idx.len(),
        latent_max_abs_diff: max,
        latent_rms_diff: (sq / c).sqrt(),
        latent_rms: (sq0 / c).sqrt(),
        mse_f32: ev_a.mse,
        mse_quant: ev_b.mse,
        widths,
    })
}
