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

use crate::engine::plan::Plan;
use crate::nn::activation::{sigmoid_inplace, Activation};
use hepae_kernels::mlp::MlpLayerSpec;
use hepae_kernels::mlp_batch::MlpBatchPack;
use hepae_kernels::quant::{quant_kernels, HalfKind, PackedBf16Pairs, PackedHalf, PackedI8};
use hepae_kernels::quant_batch::{I8LayerSpec, QuantBatchPack, QuantBatchScratch};
use hepae_kernels::quant_batch_bf16::{Bf16BatchPack, Bf16BatchScratch, Bf16LayerSpec};
use serde::{Deserialize, Serialize};

pub use super::quantized_calibrate::{model_given_as_training_data, quantize, quantize_normalized, QuantOptions};
pub use super::quantized_precision::{
    fixed_int, fixed_int_mode, fixed_value, parse_precisions, FixedMode, Granularity, Precision, Rounding,
};

/// The quantised encoder as the model file's metadata records it (`meta.quant`); the
/// weights are the encoder's tensors, in the formats named here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantMeta {
    /// One per encoder op, in order.
    pub layers: Vec<QuantLayerMeta>,
    /// The rows the int8 activation scales were calibrated on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<CalibrationRecord>,
    /// `SavedModel::identity_sha256` of the f32 model this one was made from.
    pub source_model_sha256: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantLayerMeta {
    /// `f32`, `bf16`, `f16`, `int8` or `fixed<W,I>`.
    pub precision: String,
    /// int8: the weight scales' granularity (tensor `….weight_scale`, \[O] or \[1]).
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
    /// int8 values and their scales (\[O] or \[1]).
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
    /// The kernel sets to run on (None: the process's), see [`QuantScratch::on_isa`].
    on: Option<OnIsa>,
    /// An all-int8 encoder's chain packed for the row-tiled batch kernel, with its buffers
    /// (built once, for scratches of at least [`BATCH_MIN_ROWS`] rows).
    batch: Option<Box<(QuantBatchPack, QuantBatchScratch)>>,
    /// An encoder of bf16, f16 and f32 layers as the f32 row-tiled chain of its (exactly
    /// widened) weights, with its scratch (also from [`BATCH_MIN_ROWS`] rows).
    half_batch: Option<Box<HalfBatch>>,
    /// An all-`bf16-act` encoder's chain for the row-tiled bf16 × bf16 kernel, with its buffers.
    bf16_batch: Option<Box<(Bf16BatchPack, Bf16BatchScratch)>>,
}

/// The f32 batch chain ([`hepae_kernels::Kernels::mlp_batch`]) of a 16-bit-weight encoder.
#[derive(Clone, Debug)]
struct HalfBatch {
    pack: MlpBatchPack,
    scratch: Vec<f32>,
}

impl PartialEq for HalfBatch {
    fn eq(&self, o: &Self) -> bool {
        self.pack.layers() == o.pack.layers() && self.pack.values() == o.pack.values()
    }
}

/// Calls of at least this many rows run an all-int8 encoder through the row-tiled chain
/// ([`hepae_kernels::quant::QuantKernels::batch_i8`], the same bits); fewer rows go layer by
/// layer (the batch-1 latency path).
pub const BATCH_MIN_ROWS: usize = 16;

/// The quantised and f32 kernel sets of one instruction set.
#[derive(Clone, Copy)]
struct OnIsa(&'static hepae_kernels::quant::QuantKernels, &'static hepae_kernels::Kernels);

impl PartialEq for OnIsa {
    fn eq(&self, o: &Self) -> bool {
        self.0.isa == o.0.isa && self.1.isa == o.1.isa
    }
}

impl std::fmt::Debug for OnIsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OnIsa({}, {})", self.0.isa.name(), self.1.isa.name())
    }
}

impl QuantScratch {
    /// These buffers' forward on `isa`'s kernels (the best quantised set of that width this
    /// CPU runs); false, and unchanged, if the CPU lacks them. `hepae bench` measures every
    /// ISA × precision in one process this way.
    pub fn on_isa(&mut self, isa: hepae_kernels::Isa) -> bool {
        match (hepae_kernels::quant::quant_kernels_for(isa), hepae_kernels::kernels_for(isa)) {
            (Some(q), Some(k)) => {
                self.on = Some(OnIsa(q, k));
                true
            }
            _ => false,
        }
    }
}

/// A quantised encoder: its dense layers in order.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantEncoder {
    pub layers: Vec<QuantLayer>,
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
        let big = batch >= BATCH_MIN_ROWS;
        let int8 = big.then(|| self.batch_pack()).flatten().map(|p| {
            let s = p.scratch();
            Box::new((p, s))
        });
        let half_batch = big.then(|| self.half_batch_pack()).flatten().map(|pack| {
            let scratch = vec![0.0; pack.scratch_len()];
            Box::new(HalfBatch { pack, scratch })
        });
        let bf16_batch = big.then(|| self.bf16_batch_pack()).flatten().map(|p| {
            let s = p.scratch();
            Box::new((p, s))
        });
        QuantScratch { i8: vec![0; widest], f32: vec![0.0; widest], on: None, batch: int8, half_batch, bf16_batch }
    }

    /// The chain packed for the row-tiled bf16 × bf16 kernel, if every layer is `bf16-act`
    /// with a LeakyReLU or linear output (a sigmoid only last).
    fn bf16_batch_pack(&self) -> Option<Bf16BatchPack> {
        let last = self.layers.len().checked_sub(1)?;
        let mut specs = Vec::with_capacity(self.layers.len());
        for (j, l) in self.layers.iter().enumerate() {
            let Packed::Bf16Pairs(w) = &l.packed else { return None };
            if (l.act == Activation::Sigmoid && j != last) || l.k == 0 || l.n == 0 {
                return None;
            }
            specs.push(Bf16LayerSpec { w, bias: &l.bias, slope: l.act.fused_slope() });
        }
        Some(Bf16BatchPack::new(&specs))
    }

    /// The chain as f32 layers for the f32 batch kernel, if every layer is bf16, f16 or f32
    /// (weights widened exactly) with a LeakyReLU or linear output (a sigmoid only last) and
    /// at least one is 16-bit (an all-f32 "quantised" chain is left to the per-layer path).
    fn half_batch_pack(&self) -> Option<MlpBatchPack> {
        let last = self.layers.len().checked_sub(1)?;
        let mut weights = Vec::with_capacity(self.layers.len());
        let mut any_half = false;
        for (j, l) in self.layers.iter().enumerate() {
            let w = match (&l.packed, l.precision) {
                (Packed::Half(_), _) => {
                    any_half = true;
                    l.dequantised()?
                }
                (Packed::F32T(wt), Precision::F32) => {
                    let mut w = vec![0.0f32; l.k * l.n];
                    for q in 0..l.k {
                        for jj in 0..l.n {
                            w[jj * l.k + q] = wt[q * l.n + jj];
                        }
                    }
                    w
                }
                _ => return None,
            };
            if (l.act == Activation::Sigmoid && j != last) || l.k == 0 || l.n == 0 {
                return None;
            }
            weights.push(w);
        }
        if !any_half {
            return None;
        }
        let specs: Vec<MlpLayerSpec<'_>> = self
            .layers
            .iter()
            .zip(&weights)
            .map(|(l, w)| MlpLayerSpec { inp: l.k, out: l.n, weight: w, bias: &l.bias, slope: l.act.fused_slope() })
            .collect();
        // Any pack runs on any set; this layout is the process's (the widest) set's.
        Some(MlpBatchPack::new(hepae_kernels::kernels().isa, &specs, self.layers[last].n))
    }

    /// The chain packed for the row-tiled kernel, if every layer is int8 with a LeakyReLU or
    /// linear output (a sigmoid only on the last layer, applied after the chain).
    fn batch_pack(&self) -> Option<QuantBatchPack> {
        let last = self.layers.len().checked_sub(1)?;
        let mut specs = Vec::with_capacity(self.layers.len());
        for (j, l) in self.layers.iter().enumerate() {
            let Packed::Int8 { w, scale, inv_in } = &l.packed else { return None };
            if l.act == Activation::Sigmoid && j != last {
                return None;
            }
            if l.k == 0 || l.n == 0 {
                return None;
            }
            specs.push(I8LayerSpec { w, scale, bias: &l.bias, inv_in: *inv_in, slope: l.act.fused_slope() });
        }
        Some(QuantBatchPack::new(&specs))
    }

    /// Forward over the first `n` rows of `x` (N × in), layer j's output into `plan.act(j)`
    /// (the encoder's f32 plan), as [`crate::net::Net::forward`] does. Allocates nothing.
    /// Given [`BATCH_MIN_ROWS`] rows or more (and a scratch built for them), an all-int8
    /// encoder runs the row-tiled int8 chain instead (the same bits), and an encoder of bf16,
    /// f16 and f32 layers the f32 row-tiled chain of its exactly widened weights (within FMA
    /// rounding of the per-layer path: the sums are grouped as the packed GEMM groups them),
    /// and an all-`bf16-act` encoder the row-tiled bf16 × bf16 chain (the same bits):
    /// the last layer's output in [`Plan::output`], the hidden layers' outputs not written.
    pub fn forward(&self, x: &[f32], plan: &mut Plan, s: &mut QuantScratch, n: usize) {
        let (qk, fk) = s.on.map_or_else(|| (quant_kernels(), hepae_kernels::kernels()), |o| (o.0, o.1));
        if let (Some(b), true) = (s.batch.as_deref_mut(), n >= BATCH_MIN_ROWS) {
            let last = self.layers.len() - 1;
            let (k, l) = (self.layers[0].k, &self.layers[last]);
            let out = &mut plan.forward_bufs(last).1[..n * l.n];
            (qk.batch_i8)(out, &x[..n * k], n, &b.0, &mut b.1);
            if l.act == Activation::Sigmoid {
                sigmoid_inplace(out);
            }
            return;
        }
        if let (Some(b), true) = (s.bf16_batch.as_deref_mut(), n >= BATCH_MIN_ROWS) {
            let last = self.layers.len() - 1;
            let (k, l) = (self.layers[0].k, &self.layers[last]);
            let out = &mut plan.forward_bufs(last).1[..n * l.n];
            (qk.batch_bf16_dot)(out, &x[..n * k], n, &b.0, &mut b.1);
            if l.act == Activation::Sigmoid {
                sigmoid_inplace(out);
            }
            return;
        }
        if let (Some(h), true) = (s.half_batch.as_deref_mut(), n >= BATCH_MIN_ROWS) {
            let last = self.layers.len() - 1;
            let (k, l) = (self.layers[0].k, &self.layers[last]);
            let out = &mut plan.forward_bufs(last).1[..n * l.n];
            // False only for a non-finite input: the per-layer path below then runs as before.
            if (fk.mlp_batch)(out, &x[..n * k], n, &h.pack, None, &mut h.scratch) {
                if l.act == Activation::Sigmoid {
                    sigmoid_inplace(out);
                }
                return;
            }
        }
        let mut prev: Option<Precision> = None;
        for (j, l) in self.layers.iter().enumerate() {
            let (inp, out, _, _) = plan.forward_bufs(j);
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
