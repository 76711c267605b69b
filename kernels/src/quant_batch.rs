//! A whole chain of int8 dense layers for many rows in one call: the quantised batch encode.
//! Each layer j is out = leaky(f32(Σ_q x_q·w_q)·scale + bias) with its input x quantised by
//! `quantize_i8` (scale 1/s_x) — exactly what [`crate::quant::QuantKernels::quantize_i8`]
//! then [`crate::quant::QuantKernels::dense_i8`] compute layer by layer, so every set gives the
//! bits of that per-layer path.
//!
//! Rows go through the *whole* chain in tiles of [`TILE_ROWS`] rows, so a tile's int8
//! activations (row-major, each row padded to a multiple of 16 bytes) stay in L1 between
//! layers; the epilogue of one layer (rescale, bias, LeakyReLU) quantises straight into the
//! next layer's input, and only the last layer writes f32. Inside a layer a register tile is
//! `R` rows × `NV` output vectors: each weight vector load (a [`PackedI8`] block of 4 inputs ×
//! 8 or 16 outputs) serves `R` rows and each broadcast 4-byte input group `NV` vectors.
//!
//! [`forward_scalar`] is the specification (the scalar per-layer functions composed, row by
//! row); the SIMD body (`quant_batch_simd.rs`) is written once over a small trait and
//! instantiated for AVX2, AVX-VNNI, AVX-512BW and AVX-512 VNNI (`quant_batch_x86.rs`).

use crate::check;
use crate::quant::PackedI8;

/// Rows per tile (a multiple of every set's register-tile height: 4 or 6): 48 rows of the
/// reference encoder's widest layer are 10 KB of int8 (32 and 64 measured the same on Zen 5).
pub const TILE_ROWS: usize = 48;

/// `n` rounded up to 16 (the row stride, in bytes, of a tile's int8 activations).
pub(crate) const fn stride(n: usize) -> usize {
    n.div_ceil(16) * 16
}

/// One int8 layer of a chain, as [`QuantBatchPack::new`] takes it.
#[derive(Clone, Copy, Debug)]
pub struct I8LayerSpec<'a> {
    pub w: &'a PackedI8,
    /// s_x·s_w,j per output (n values).
    pub scale: &'a [f32],
    /// One per output (n values).
    pub bias: &'a [f32],
    /// 1/s_x: the layer's input is quantised as round(clamp(x·inv_in, −127, 127)).
    pub inv_in: f32,
    /// LeakyReLU slope (1: linear).
    pub slope: f32,
}

/// A packed layer: its weights, and its scales, biases and VNNI column sums padded with zeros
/// to the weight's 16-output blocks (so a SIMD epilogue reads whole vectors).
#[derive(Clone, Debug, PartialEq)]
pub struct I8BatchLayer {
    pub w: PackedI8,
    pub scale: Vec<f32>,
    pub bias: Vec<f32>,
    pub inv_in: f32,
    pub slope: f32,
    /// −128·Σ_q w[j, q] per output, padded (the VNNI sets' accumulator start).
    pub neg_colsum128: Vec<i32>,
}

/// A chain of int8 layers for [`crate::quant::QuantKernels::batch_i8`] (see the module doc).
#[derive(Clone, Debug, PartialEq)]
pub struct QuantBatchPack {
    layers: Vec<I8BatchLayer>,
}

/// The work buffers of a [`QuantBatchPack`]'s batch forward (built once, reused by every call).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct QuantBatchScratch {
    /// A tile's quantised input, then two activation buffers: TILE_ROWS rows each.
    i8: Vec<i8>,
    /// One row's f32 layer output (the scalar reference).
    f32: Vec<f32>,
}

impl QuantBatchPack {
    /// Packs `layers` (each one's k equal to the previous one's n). Panics on an empty or
    /// broken chain or a scale/bias of the wrong length (the caller builds the specs from a
    /// quantised encoder, so each is a programming error).
    pub fn new(layers: &[I8LayerSpec<'_>]) -> QuantBatchPack {
        assert!(!layers.is_empty(), "hepae-kernels::quant_batch: no layers to pack");
        let mut out = Vec::with_capacity(layers.len());
        for (j, l) in layers.iter().enumerate() {
            let (k, n) = (l.w.k(), l.w.n());
            assert!(k > 0 && n > 0, "hepae-kernels::quant_batch: layer {j} is {k}→{n}");
            if j > 0 {
                let prev = layers[j - 1].w.n();
                assert_eq!(k, prev, "hepae-kernels::quant_batch: layer {j}'s input is not layer {}'s output", j - 1);
            }
            check::product("quant_batch pack", "scale", l.scale.len(), ("1", 1), ("n", n));
            check::product("quant_batch pack", "bias", l.bias.len(), ("1", 1), ("n", n));
            let pad = |v: &[f32]| {
                let mut p = v.to_vec();
                p.resize(l.w.blocks() * 16, 0.0);
                p
            };
            out.push(I8BatchLayer {
                w: l.w.clone(),
                scale: pad(l.scale),
                bias: pad(l.bias),
                inv_in: l.inv_in,
                slope: l.slope,
                neg_colsum128: l.w.colsum128().iter().map(|&c| -c).collect(),
            });
        }
        QuantBatchPack { layers: out }
    }
    pub fn layers(&self) -> &[I8BatchLayer] {
        &self.layers
    }
    pub fn in_dim(&self) -> usize {
        self.layers[0].w.k()
    }
    pub fn out_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].w.n()
    }
    /// Row stride of the two activation buffers (the widest hidden layer, padded to 16).
    pub(crate) fn hidden_stride(&self) -> usize {
        let hidden = &self.layers[..self.layers.len() - 1];
        hidden.iter().map(|l| stride(l.w.n())).max().unwrap_or(0)
    }
    /// int8 scratch values a batch forward needs on any set.
    pub(crate) fn scratch_i8(&self) -> usize {
        TILE_ROWS * (stride(self.in_dim()) + 2 * self.hidden_stride())
    }
    /// f32 scratch values (one row of the widest layer).
    pub(crate) fn scratch_f32(&self) -> usize {
        self.layers.iter().map(|l| l.w.n()).max().unwrap_or(0)
    }
    /// Work buffers for [`crate::quant::QuantKernels::batch_i8`] on this pack (any set).
    pub fn scratch(&self) -> QuantBatchScratch {
        QuantBatchScratch { i8: vec![0; self.scratch_i8()], f32: vec![0.0; self.scratch_f32()] }
    }
}

impl QuantBatchScratch {
    /// The int8 tile buffers (the SIMD bodies').
    pub(crate) fn i8_mut(&mut self) -> &mut [i8] {
        &mut self.i8
    }
}

/// out [rows×out_dim] ← the packed int8 chain applied to each row of x [rows×in_dim], using
/// `scratch` (from [`QuantBatchPack::scratch`] of this pack or one of the same shapes).
/// Panics on other lengths.
pub type QuantBatchFn =
    fn(out: &mut [f32], x: &[f32], rows: usize, pack: &QuantBatchPack, scratch: &mut QuantBatchScratch);

/// The shapes of a [`QuantBatchFn`] call.
pub(crate) fn check_call(out: usize, x: usize, rows: usize, pack: &QuantBatchPack, scratch: &QuantBatchScratch) {
    check::product("batch_i8", "out", out, ("rows", rows), ("out_dim", pack.out_dim()));
    check::product("batch_i8", "x", x, ("rows", rows), ("in_dim", pack.in_dim()));
    if scratch.i8.len() < pack.scratch_i8() || scratch.f32.len() < pack.scratch_f32() {
        panic!(
            "hepae-kernels::batch_i8: scratch has {} int8 and {} f32 values, the pack needs {} and {}",
            scratch.i8.len(),
            scratch.f32.len(),
            pack.scratch_i8(),
            pack.scratch_f32()
        );
    }
}

/// The reference: per row, per layer, [`crate::quant_scalar::quantize_i8`] of its input then
/// [`crate::quant_scalar::dense_i8`] (one row), the last layer into `out`.
pub fn forward_scalar(out: &mut [f32], x: &[f32], rows: usize, pack: &QuantBatchPack, scratch: &mut QuantBatchScratch) {
    use crate::quant_scalar::{dense_i8, quantize_i8};
    check_call(out.len(), x.len(), rows, pack, scratch);
    let (din, dout) = (pack.in_dim(), pack.out_dim());
    let QuantBatchScratch { i8: xq, f32: y } = scratch;
    let last = pack.layers.len() - 1;
    for r in 0..rows {
        let orow = &mut out[r * dout..(r + 1) * dout];
        for (j, l) in pack.layers.iter().enumerate() {
            let (k, n) = (l.w.k(), l.w.n());
            if j == 0 {
                quantize_i8(&mut xq[..k], &x[r * din..(r + 1) * din], l.inv_in);
            } else {
                quantize_i8(&mut xq[..k], &y[..k], l.inv_in);
            }
            let dst = if j == last { &mut orow[..] } else { &mut y[..n] };
            dense_i8(dst, &xq[..k], &l.w, &l.scale[..n], &l.bias[..n], 1, l.slope);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[path = "quant_batch_simd.rs"]
mod simd_body;

#[cfg(target_arch = "x86_64")]
#[path = "quant_batch_x86.rs"]
pub(crate) mod x86;
