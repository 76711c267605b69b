//! Post-training quantisation ([`quantize`]): calibration rows (NaN/Inf refused, naming
//! file, row and column), the int8 input ranges, and the refusal of a quantised model where f32
//! weights are needed.

use super::quantized::{CalibrationRecord, QuantEncoder, QuantLayer, QuantMeta, Stored};
use super::quantized_precision::{fixed_int_mode, Granularity, Precision};
use crate::data::npy::Dataset;
use crate::error::{Error, Location, Result};
use crate::formats::model_file::SavedModel;
use hepae_kernels::quant::HalfKind;
use std::path::Path;

/// What `hepae quantize` is asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantOptions {
    /// One precision for every encoder layer, or one per layer.
    pub layers: Vec<Precision>,
    pub granularity: Granularity,
    /// Calibration rows at most (evenly spaced over the file).
    pub calib_rows: usize,
}

/// Why a quantised model cannot serve `what`.
fn quantised_refusal(q: &QuantMeta, what: &str) -> String {
    let formats: Vec<&str> = q.layers.iter().map(|l| l.precision.as_str()).collect();
    format!(
        "its encoder is quantised ({}); {what} needs f32 weights: use the f32 model it was made from",
        formats.join(",")
    )
}

impl SavedModel {
    /// Refuses a quantised model where f32 weights are needed (`what` names the use).
    pub fn require_f32(&self, path: &Path, what: &str) -> Result<()> {
        match &self.meta.quant {
            Some(q) => Err(Error::model(path, quantised_refusal(q, what))),
            None => Ok(()),
        }
    }
}

/// Why `path`, given where a dataset was expected for training, is refused when it is a
/// model file (a quantised one above all: its weights are not f32), or None when it is not
/// a model file (the caller's own error stands).
pub fn model_given_as_training_data(path: &Path) -> Option<Error> {
    let m = SavedModel::load(path).ok()?;
    Some(match &m.meta.quant {
        Some(q) => Error::model(
            path,
            format!("{}; and train reads an f32 NPY dataset, not a model", quantised_refusal(q, "training")),
        ),
        None => Error::model(path, "is a model file, not a dataset: train reads an f32 NPY dataset"),
    })
}

/// The normalised calibration rows: up to `max_rows` evenly spaced rows of `calib`, each
/// value finite (else an error naming the file, the 1-based row and the column) and inside
/// the normaliser's domain.
fn calibration_rows(model: &SavedModel, calib: &Dataset, max_rows: usize) -> Result<(Vec<f32>, usize)> {
    let d = calib.cols();
    let n = calib.rows().min(max_rows.max(1));
    if n == 0 {
        return Err(Error::data(Location::file(calib.path()), "the calibration set has no rows"));
    }
    let mut x = vec![0.0f32; n * d];
    for i in 0..n {
        let r = (i as u128 * calib.rows() as u128 / n as u128) as usize;
        let row = calib.row(r);
        if let Some(c) = row.iter().position(|v| !v.is_finite()) {
            return Err(Error::data(
                Location::file(calib.path()).row(r as u64 + 1).column(calib.columns()[c].clone()),
                format!("calibration value {} is not finite", row[c]),
            ));
        }
        let dst = &mut x[i * d..(i + 1) * d];
        dst.copy_from_slice(row);
        model
            .meta
            .normalizer
            .normalize_rows(dst)
            .map_err(|b| model.meta.normalizer.bad_value_error(calib.path(), r, b, row[b.col]))?;
    }
    Ok((x, n))
}

/// max |value| of each encoder layer's input over the calibration rows (f32 forward; after
/// the whitening stage of an AE+PCA).
fn input_ranges(model: &SavedModel, x: &[f32], rows: usize) -> Vec<f32> {
    let ae = &model.ae;
    let (d, nl) = (ae.shape.input, ae.encoder.layers.len());
    let batch = 256;
    let mut buf = ae.plan(batch, false);
    let mut max = vec![0.0f32; nl];
    let amax = |m: &mut f32, v: &[f32]| *m = v.iter().fold(*m, |a, &b| a.max(b.abs()));
    for start in (0..rows).step_by(batch) {
        let n = batch.min(rows - start);
        ae.run_encoder(&x[start * d..(start + n) * d], &mut buf, n);
        match &buf.whiten {
            Some(w) => amax(&mut max[0], w.output(n)),
            None => amax(&mut max[0], &x[start * d..(start + n) * d]),
        }
        for (j, l) in ae.encoder.layers.iter().enumerate().skip(1) {
            amax(&mut max[j], &buf.enc.act(j - 1)[..n * l.inp]);
        }
    }
    max
}

/// The quantised model: `model`'s encoder in `opts`' precisions, int8 input scales
/// calibrated on `calib` (checked against the model's columns; NaN/Inf refused). The decoder
/// and everything else stay as they are.
pub fn quantize(model: &SavedModel, model_path: &Path, opts: &QuantOptions, calib: &Dataset) -> Result<SavedModel> {
    model.require_f32(model_path, "quantize")?;
    check_layer_count(model, opts)?;
    model.check_data(calib, model_path)?;
    let (x, rows) = calibration_rows(model, calib, opts.calib_rows)?;
    let file = calib.path().file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    quantize_normalized(model, model_path, opts, &x, CalibrationRecord { file, rows })
}

fn check_layer_count(model: &SavedModel, opts: &QuantOptions) -> Result<()> {
    let nl = model.ae.encoder.layers.len();
    if opts.layers.len() != 1 && opts.layers.len() != nl {
        return Err(Error::config(format!(
            "--precision lists {} precisions but the encoder has {nl} layers (give one, or one per layer)",
            opts.layers.len()
        )));
    }
    Ok(())
}

/// [`quantize`] calibrated on rows already normalised by the model's normaliser (`x`,
/// `calibration.rows` × input width, finite), e.g. a benchmark's synthetic jets;
/// `calibration` is what the model file records about them.
pub fn quantize_normalized(
    model: &SavedModel,
    model_path: &Path,
    opts: &QuantOptions,
    x: &[f32],
    calibration: CalibrationRecord,
) -> Result<SavedModel> {
    model.require_f32(model_path, "quantize")?;
    check_layer_count(model, opts)?;
    let rows = calibration.rows;
    let d = model.ae.shape.input;
    if rows == 0 || x.len() != rows * d || x.iter().any(|v| !v.is_finite()) {
        return Err(Error::config(format!(
            "calibration rows must be {rows} × {d} finite normalised values (got {} values)",
            x.len()
        )));
    }
    let layers = &model.ae.encoder.layers;
    let nl = layers.len();
    let ranges = input_ranges(model, x, rows);
    let p = &model.ae.params.data;
    let mut out = model.clone();
    let mut q = Vec::with_capacity(nl);
    for (j, l) in layers.iter().enumerate() {
        let Some(dense) = l.dense() else {
            return Err(Error::model(
                model_path,
                format!("encoder op {j} is not a dense layer; only dense layers quantise"),
            ));
        };
        let prec = opts.layers[if opts.layers.len() == 1 { 0 } else { j }];
        let (k, n) = (l.inp, l.out);
        let w = &p[l.w()..l.w() + k * n];
        let b = &p[l.b()..l.b() + n];
        let (stored, input_scale) = match prec {
            Precision::F32 => (Stored::F32, None),
            Precision::Bf16 | Precision::Bf16Act | Precision::F16 => {
                let kind = prec.half().unwrap_or(HalfKind::Bf16);
                (Stored::Half(w.iter().map(|&v| kind.from_f32(v)).collect()), None)
            }
            Precision::Int8 => {
                let amax = |r: &[f32]| r.iter().fold(0.0f32, |a, &v| a.max(v.abs()));
                let scale: Vec<f32> = match opts.granularity {
                    Granularity::PerChannel => w.chunks(k.max(1)).take(n).map(amax).collect(),
                    Granularity::PerLayer => vec![amax(w)],
                }
                .into_iter()
                .map(|m| if m > 0.0 { m / 127.0 } else { 1.0 })
                .collect();
                let wq = w
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| {
                        let s = scale[if scale.len() == 1 { 0 } else { i / k }];
                        (v / s).round_ties_even().clamp(-127.0, 127.0) as i8
                    })
                    .collect();
                let sx = if ranges[j] > 0.0 { ranges[j] / 127.0 } else { 1.0 };
                (Stored::Int8 { w: wq, scale }, Some(sx))
            }
            Precision::Fixed { width, int, mode } => {
                let f = |v: &[f32]| v.iter().map(|&x| fixed_int_mode(x, width, int, mode)).collect();
                (Stored::Fixed { w: f(w), b: f(b) }, None)
            }
        };
        let layer = QuantLayer::new(prec, dense.act, k, n, stored, input_scale, b, w)
            .map_err(|e| Error::model(model_path, e))?;
        if let Some(wd) = layer.dequantised() {
            out.ae.params.data[l.w()..l.w() + k * n].copy_from_slice(&wd);
        }
        out.ae.params.data[l.b()..l.b() + n].copy_from_slice(&layer.bias);
        q.push(layer);
    }
    let enc = QuantEncoder { layers: q };
    out.meta.quant = Some(QuantMeta {
        layers: enc.layer_meta(),
        calibration: Some(calibration),
        source_model_sha256: model.identity_sha256(),
    });
    out.ae.quant = Some(enc);
    Ok(out)
}
