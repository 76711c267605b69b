//! Reduced-precision encoders: a trained f32 encoder's dense layers with weights in bf16, f16,
//! int8 or fixed point, made post-training by [`quantize`] (calibrated on data) and run by
//! [`QuantEncoder::forward`] wherever the model encodes ([`crate::models::Autoencoder`]'s
//! encode path: `Encoder`, the C ABI, `compress`, evaluate, score). The decoder stays f32.
//!
//! Per layer, one [`Precision`]:
//! - `bf16` / `f16`: weights rounded to nearest (ties to even); activations and sums f32.
//! - `bf16-act`: bf16 weights and each layer's input rounded to bf16, products exact, sums f32
//!   (AVX-512 BF16 `vdpbf16ps`; the scalar reference elsewhere).
//! - `int8`: weights symmetric in [−127, 127] with a scale per output channel (or one per
//!   layer), s_w = max|W_j|/127; the layer's input quantised with one scale s_x = max|input|/127
//!   over the calibration rows (clamped to ±127, so larger values saturate); y =
//!   act(s_x·s_w,j·Σ x_q·w_q + b), the sum exact in i32, bias f32.
//! - `fixed<W,I>`: hls4ml's `ap_fixed<W,I>` with its default modes AP_TRN (round toward −∞)
//!   and AP_WRAP (two's-complement wrap-around on overflow): W bits, I of them integer (sign
//!   included), so values are multiples of 2^−(W−I) in [−2^(I−1), 2^(I−1)). Weights, biases,
//!   the layer's input (when the previous layer is not in the same format) and its output
//!   after the activation are on that grid; the accumulator is wide (f32 sums of exactly
//!   represented products, W ≤ 24), as hls4ml's `accum_t` usually is. Other modes are
//!   written as hls4ml spells them: `fixed<16,6,RND_CONV,SAT>` (AP_TRN, AP_RND, AP_RND_CONV;
//!   AP_WRAP, AP_SAT).
//! - `f32`: the layer unchanged (for a per-layer choice).
//!
//! The loaded model's f32 encoder parameters hold the dequantised weights (what the
//! quantised layers compute with), so the f32 view of the model is the weight-quantised one.

use crate::data::npy::Dataset;
use crate::engine::plan::Plan;
use crate::error::{Error, Location, Result};
use crate::formats::model_file::SavedModel;
use crate::nn::activation::{sigmoid_inplace, Activation};
use hepae_kernels::quant::{quant_kernels, HalfKind, PackedBf16Pairs, PackedHalf, PackedI8};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One layer's number format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    F32,
    Bf16,
    /// bf16 weights and activations (each layer's input rounded to bf16), f32 sums: AVX-512
    /// BF16's `vdpbf16ps` where the CPU has it.
    Bf16Act,
    F16,
    Int8,
    /// `ap_fixed<width, int, mode>`: `width` bits, `int` of them integer (sign included).
    Fixed {
        width: u32,
        int: u32,
        mode: FixedMode,
    },
}

/// How an `ap_fixed` value is made from a wider one: the quantisation mode (what happens to
/// the dropped fraction bits) and the overflow mode. hls4ml's default is AP_TRN, AP_WRAP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FixedMode {
    pub round: Rounding,
    /// AP_SAT (clamp to the range) instead of AP_WRAP (two's-complement wrap-around).
    pub saturate: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Rounding {
    /// AP_TRN: toward −∞ (the default).
    #[default]
    Trn,
    /// AP_RND: to nearest, ties toward +∞.
    Rnd,
    /// AP_RND_CONV: to nearest, ties to even.
    RndConv,
}

impl FixedMode {
    fn parse(parts: &[&str], s: &str) -> std::result::Result<FixedMode, String> {
        let mut m = FixedMode::default();
        for p in parts {
            match p.trim_start_matches("ap_") {
                "trn" => m.round = Rounding::Trn,
                "rnd" => m.round = Rounding::Rnd,
                "rnd_conv" => m.round = Rounding::RndConv,
                "wrap" => m.saturate = false,
                "sat" => m.saturate = true,
                _ => return Err(format!("'{s}': fixed-point mode '{p}' is not TRN, RND, RND_CONV, WRAP or SAT")),
            }
        }
        Ok(m)
    }
    /// The non-default modes as `,RND_CONV,SAT` (empty for AP_TRN, AP_WRAP).
    fn suffix(&self) -> String {
        let r = match self.round {
            Rounding::Trn => "",
            Rounding::Rnd => ",RND",
            Rounding::RndConv => ",RND_CONV",
        };
        format!("{r}{}", if self.saturate { ",SAT" } else { "" })
    }
}

impl Precision {
    /// Parses `f32`, `bf16`, `f16`, `int8` or `fixed<W,I>` (2 ≤ W ≤ 24, 0 ≤ I ≤ W).
    pub fn parse(s: &str) -> std::result::Result<Precision, String> {
        let t = s.trim().to_ascii_lowercase().replace(' ', "");
        match t.as_str() {
            "f32" => return Ok(Precision::F32),
            "bf16" => return Ok(Precision::Bf16),
            "bf16-act" => return Ok(Precision::Bf16Act),
            "f16" => return Ok(Precision::F16),
            "int8" => return Ok(Precision::Int8),
            _ => {}
        }
        let inner = t
            .strip_prefix("fixed<")
            .or_else(|| t.strip_prefix("ap_fixed<"))
            .and_then(|r| r.strip_suffix('>'))
            .ok_or_else(|| format!("'{s}' is not a precision (f32, bf16, bf16-act, f16, int8 or fixed<W,I>)"))?;
        let parts: Vec<&str> = inner.split(',').collect();
        if parts.len() < 2 {
            return Err(format!("'{s}': fixed point is written fixed<W,I> (or fixed<W,I,RND_CONV,SAT>)"));
        }
        let (w, i) = (parts[0], parts[1]);
        let mode = FixedMode::parse(&parts[2..], s)?;
        let (width, int) = match (w.parse::<u32>(), i.parse::<u32>()) {
            (Ok(w), Ok(i)) => (w, i),
            _ => return Err(format!("'{s}': W and I of fixed<W,I> must be whole numbers")),
        };
        if !(2..=24).contains(&width) || int > width {
            return Err(format!("'{s}': fixed<W,I> needs 2 ≤ W ≤ 24 and 0 ≤ I ≤ W"));
        }
        Ok(Precision::Fixed { width, int, mode })
    }

    pub fn name(&self) -> String {
        match self {
            Precision::F32 => "f32".into(),
            Precision::Bf16 => "bf16".into(),
            Precision::Bf16Act => "bf16-act".into(),
            Precision::F16 => "f16".into(),
            Precision::Int8 => "int8".into(),
            Precision::Fixed { width, int, mode } => format!("fixed<{width},{int}{}>", mode.suffix()),
        }
    }

    fn half(&self) -> Option<HalfKind> {
        match self {
            Precision::Bf16 | Precision::Bf16Act => Some(HalfKind::Bf16),
            Precision::F16 => Some(HalfKind::F16),
            _ => None,
        }
    }
}

/// Parses `--precision`: one precision, or a comma-separated list with one per layer
/// ("int8,fixed<16,6>": the comma inside <…> belongs to fixed<W,I>).
pub fn parse_precisions(s: &str) -> Result<Vec<Precision>> {
    let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0i32);
    for c in s.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            _ => {}
        }
        if c == ',' && depth == 0 {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    let v = out
        .iter()
        .filter(|t| !t.trim().is_empty())
        .map(|t| Precision::parse(t).map_err(|e| Error::config(format!("--precision: {e}"))))
        .collect::<Result<Vec<_>>>()?;
    if v.is_empty() {
        return Err(Error::config("--precision: no precision given"));
    }
    Ok(v)
}

/// How many int8 weight scales a layer has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Granularity {
    /// One per output channel (row of the weight).
    #[default]
    PerChannel,
    /// One for the whole layer.
    PerLayer,
}

impl std::str::FromStr for Granularity {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "per-channel" | "channel" => Ok(Granularity::PerChannel),
            "per-layer" | "layer" => Ok(Granularity::PerLayer),
            _ => Err(format!("'{s}' is not a scale granularity (per-channel or per-layer)")),
        }
    }
}

/// The quantised encoder as the model file's metadata records it (`meta.quant`); the
/// weights are the encoder's tensors, in the formats named here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantMeta {
    /// One per encoder op, in order.
    pub layers: Vec<QuantLayerMeta>,
    /// The rows the int8 activation scales were calibrated on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<CalibrationRecord>,
    /// [`SavedModel::identity_sha256`] of the f32 model this one was made from.
    pub source_model_sha256: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantLayerMeta {
    /// `f32`, `bf16`, `f16`, `int8` or `fixed<W,I>`.
    pub precision: String,
    /// int8: the weight scales' granularity (tensor `….weight_scale`, [O] or [1]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<Granularity>,
    /// int8: the scale of the layer's input (s_x).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_scale: Option<f32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibrationRecord {
    /// The calibration file's name.
    pub file: String,
    pub rows: usize,
}

/// A layer's weights as stored (PyTorch layout [O×I]).
#[derive(Clone, Debug, PartialEq)]
pub enum Stored {
    /// Kept in the model's f32 parameters.
    F32,
    /// bf16 or f16 bits.
    Half(Vec<u16>),
    /// int8 values and their scales ([O] or [1]).
    Int8 { w: Vec<i8>, scale: Vec<f32> },
    /// ap_fixed integers (value = integer·2^−(W−I)) of the weight and the bias.
    Fixed { w: Vec<i32>, b: Vec<i32> },
}

/// What a layer computes with: its packed weights.
#[derive(Clone, Debug, PartialEq)]
enum Packed {
    /// Transposed f32 weight [I×O] (f32 and fixed-point layers).
    F32T(Vec<f32>),
    Half(PackedHalf),
    /// bf16 weight in input pairs (bf16 activations).
    Bf16Pairs(PackedBf16Pairs),
    /// int8 weight, s_x·s_w,j per output, 1/s_x.
    Int8 {
        w: PackedI8,
        scale: Vec<f32>,
        inv_in: f32,
    },
}

/// One dense layer of a quantised encoder.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantLayer {
    pub precision: Precision,
    pub act: Activation,
    /// Inputs and outputs.
    pub k: usize,
    pub n: usize,
    pub stored: Stored,
    /// int8: s_x.
    pub input_scale: Option<f32>,
    /// The bias in f32 (on the fixed-point grid for a fixed-point layer).
    pub bias: Vec<f32>,
    packed: Packed,
}

/// The work buffers of [`QuantEncoder::forward`] at a batch size (in the model's planned
/// buffers, so a step allocates nothing).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct QuantScratch {
    i8: Vec<i8>,
    f32: Vec<f32>,
}

/// A quantised encoder: its dense layers in order.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantEncoder {
    pub layers: Vec<QuantLayer>,
}

/// `ap_fixed<width, int>` with AP_TRN and AP_WRAP: ⌊v·2^F⌋ wrapped to `width` bits, F = W − I.
pub fn fixed_int(v: f32, width: u32, int: u32) -> i32 {
    fixed_int_mode(v, width, int, FixedMode::default())
}

/// `ap_fixed<width, int, mode>`: v·2^F rounded as `mode.round` says, then wrapped to (or,
/// with AP_SAT, clamped into) the `width`-bit two's-complement range.
pub fn fixed_int_mode(v: f32, width: u32, int: u32, mode: FixedMode) -> i32 {
    let x = v as f64 * 2f64.powi((width - int) as i32);
    let m = match mode.round {
        Rounding::Trn => x.floor(),
        Rounding::Rnd => (x + 0.5).floor(),
        Rounding::RndConv => x.round_ties_even(),
    };
    let span = 2f64.powi(width as i32);
    if mode.saturate {
        m.clamp(-span / 2.0, span / 2.0 - 1.0) as i32
    } else {
        ((m + span / 2.0).rem_euclid(span) - span / 2.0) as i32
    }
}

/// The value of an `ap_fixed<width, int>` integer.
pub fn fixed_value(m: i32, width: u32, int: u32) -> f32 {
    (m as f64 * 2f64.powi(-((width - int) as i32))) as f32
}

fn fixed_round(v: &mut [f32], width: u32, int: u32, mode: FixedMode) {
    for x in v {
        *x = fixed_value(fixed_int_mode(*x, width, int, mode), width, int);
    }
}

impl QuantLayer {
    /// A layer from its stored form. `bias` is the f32 bias (ignored for fixed point, whose
    /// bias is stored with the weight); `f32_weight` [O×I] is used by f32 layers.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        precision: Precision,
        act: Activation,
        k: usize,
        n: usize,
        stored: Stored,
        input_scale: Option<f32>,
        bias: &[f32],
        f32_weight: &[f32],
    ) -> std::result::Result<QuantLayer, String> {
        let transpose = |w: &[f32]| {
            let mut t = vec![0.0f32; k * n];
            for j in 0..n {
                for q in 0..k {
                    t[q * n + j] = w[j * k + q];
                }
            }
            t
        };
        let mut bias = bias.to_vec();
        let packed = match (&precision, &stored) {
            (Precision::F32, Stored::F32) => Packed::F32T(transpose(f32_weight)),
            (Precision::Bf16Act, Stored::Half(h)) => Packed::Bf16Pairs(PackedBf16Pairs::new(h, n, k)),
            (p, Stored::Half(h)) if p.half().is_some() => {
                Packed::Half(PackedHalf::new(p.half().unwrap_or(HalfKind::Bf16), h, n, k))
            }
            (Precision::Int8, Stored::Int8 { w, scale }) => {
                if let Some(i) = w.iter().position(|&v| v == i8::MIN) {
                    return Err(format!("int8 weight {i} is −128 (weights are in [−127, 127])"));
                }
                if scale.len() != n && scale.len() != 1 {
                    return Err(format!("{} weight scales for {n} outputs (needs {n} or 1)", scale.len()));
                }
                let sx = input_scale.ok_or("an int8 layer needs its input scale")?;
                if !(sx.is_finite() && sx > 0.0) || scale.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
                    return Err("int8 scales must be finite and positive".into());
                }
                let per_out: Vec<f32> = (0..n).map(|j| sx * scale[if scale.len() == 1 { 0 } else { j }]).collect();
                Packed::Int8 { w: PackedI8::new(w, n, k), scale: per_out, inv_in: 1.0 / sx }
            }
            (&Precision::Fixed { width, int, .. }, Stored::Fixed { w, b }) => {
                let (lo, hi) = (-(1i64 << (width - 1)), (1i64 << (width - 1)) - 1);
                if let Some(v) = w.iter().chain(b).find(|&&v| (v as i64) < lo || v as i64 > hi) {
                    return Err(format!("fixed-point value {v} does not fit {width} bits"));
                }
                bias = b.iter().map(|&m| fixed_value(m, width, int)).collect();
                let wf: Vec<f32> = w.iter().map(|&m| fixed_value(m, width, int)).collect();
                Packed::F32T(transpose(&wf))
            }
            _ => return Err(format!("stored weights do not match precision {}", precision.name())),
        };
        Ok(QuantLayer { precision, act, k, n, stored, input_scale, bias, packed })
    }

    /// The weight [O×I] this layer computes with, in f32 (None for an f32 layer: unchanged).
    pub fn dequantised(&self) -> Option<Vec<f32>> {
        match &self.stored {
            Stored::F32 => None,
            Stored::Half(h) => {
                let kind = self.precision.half().unwrap_or(HalfKind::Bf16);
                Some(h.iter().map(|&v| kind.to_f32(v)).collect())
            }
            Stored::Int8 { w, scale } => {
                let s = |j: usize| scale[if scale.len() == 1 { 0 } else { j }];
                Some(w.iter().enumerate().map(|(i, &v)| v as f32 * s(i / self.k.max(1))).collect())
            }
            Stored::Fixed { w, .. } => match self.precision {
                Precision::Fixed { width, int, .. } => Some(w.iter().map(|&m| fixed_value(m, width, int)).collect()),
                _ => None,
            },
        }
    }

    /// The metadata entry of this layer.
    pub fn meta(&self) -> QuantLayerMeta {
        let granularity = match &self.stored {
            Stored::Int8 { scale, .. } => {
                Some(if scale.len() == 1 && self.n != 1 { Granularity::PerLayer } else { Granularity::PerChannel })
            }
            _ => None,
        };
        QuantLayerMeta { precision: self.precision.name(), granularity, input_scale: self.input_scale }
    }

    /// Weight bytes as stored.
    pub fn weight_bytes(&self) -> usize {
        let e = self.k * self.n;
        match &self.stored {
            Stored::F32 => 4 * e,
            Stored::Half(_) => 2 * e,
            Stored::Int8 { scale, .. } => e + 4 * scale.len(),
            Stored::Fixed { .. } => {
                let w = match self.precision {
                    Precision::Fixed { width, .. } => width.div_ceil(8).next_power_of_two() as usize,
                    _ => 4,
                };
                w * (e + self.n)
            }
        }
    }
}

impl QuantEncoder {
    /// Work buffers for batches of up to `batch` rows.
    pub fn scratch(&self, batch: usize) -> QuantScratch {
        let widest = self.layers.iter().map(|l| l.k).max().unwrap_or(0) * batch;
        QuantScratch { i8: vec![0; widest], f32: vec![0.0; widest] }
    }

    /// Forward over the first `n` rows of `x` (N × in), layer j's output into `plan.act(j)`
    /// (the encoder's f32 plan), as [`crate::net::Net::forward`] does. Allocates nothing.
    pub fn forward(&self, x: &[f32], plan: &mut Plan, s: &mut QuantScratch, n: usize) {
        let (qk, fk) = (quant_kernels(), hepae_kernels::kernels());
        let mut prev: Option<Precision> = None;
        for (j, l) in self.layers.iter().enumerate() {
            let (inp, out, _) = plan.forward_bufs(j);
            let mut inp = &inp.unwrap_or(x)[..n * l.k];
            let out = &mut out[..n * l.n];
            let slope = l.act.fused_slope();
            match &l.packed {
                Packed::Half(p) => (qk.dense_half)(out, inp, p, &l.bias, n, slope),
                Packed::Bf16Pairs(p) => (qk.dense_bf16_dot)(out, inp, p, &l.bias, n, slope),
                Packed::Int8 { w, scale, inv_in } => {
                    let xq = &mut s.i8[..n * l.k];
                    (qk.quantize_i8)(xq, inp, *inv_in);
                    (qk.dense_i8)(out, xq, w, scale, &l.bias, n, slope);
                }
                Packed::F32T(wt) => {
                    if let Precision::Fixed { width, int, mode } = l.precision {
                        if prev != Some(l.precision) {
                            let f = &mut s.f32[..n * l.k];
                            f.copy_from_slice(inp);
                            fixed_round(f, width, int, mode);
                            inp = f;
                        }
                    }
                    (fk.dense_small)(out, inp, wt, &l.bias, n, l.k, l.n, slope);
                }
            }
            if l.act == Activation::Sigmoid {
                sigmoid_inplace(out);
            }
            if let Precision::Fixed { width, int, mode } = l.precision {
                fixed_round(out, width, int, mode);
            }
            prev = Some(l.precision);
        }
    }

    /// The metadata of every layer.
    pub fn layer_meta(&self) -> Vec<QuantLayerMeta> {
        self.layers.iter().map(QuantLayer::meta).collect()
    }

    /// A short description: the distinct precisions, e.g. `int8` or `fixed<16,6>+f32`.
    pub fn describe(&self) -> String {
        let mut names: Vec<String> = Vec::new();
        for l in &self.layers {
            let n = l.precision.name();
            if !names.contains(&n) {
                names.push(n);
            }
        }
        names.join("+")
    }
}

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
    let layers = &model.ae.encoder.layers;
    let nl = layers.len();
    if opts.layers.len() != 1 && opts.layers.len() != nl {
        return Err(Error::config(format!(
            "--precision lists {} precisions but the encoder has {nl} layers (give one, or one per layer)",
            opts.layers.len()
        )));
    }
    model.check_data(calib, model_path)?;
    let (x, rows) = calibration_rows(model, calib, opts.calib_rows)?;
    let ranges = input_ranges(model, &x, rows);
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
        calibration: Some(CalibrationRecord {
            file: calib.path().file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
            rows,
        }),
        source_model_sha256: model.identity_sha256(),
    });
    out.ae.quant = Some(enc);
    Ok(out)
}
