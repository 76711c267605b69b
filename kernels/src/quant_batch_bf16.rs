//! A whole chain of bf16 × bf16 dense layers (`bf16-act`: each layer's input rounded to bf16,
//! products exact, sums f32) for many rows in one call, in row tiles as [`crate::quant_batch`]
//! does for int8: a tile's activations stay bf16 in L1 (row-major, [`super::quant_batch`]'s
//! 16-value row padding, the padding zero), the epilogue (LeakyReLU) rounds straight into the
//! next layer's input, only the last layer writes f32.
//!
//! Numerics: every output is what [`crate::quant::QuantKernels::dense_bf16_dot`] of the same
//! set gives layer by layer (bias first, then one `vdpbf16ps` per input pair in order, the
//! activations rounded by [`crate::quant::f32_to_bf16`]), so the AVX-512 BF16 body is
//! bit-identical to its own per-layer path, and within FMA rounding of the scalar reference;
//! the other sets run [`forward_scalar`] (the scalar per-layer function composed).

use crate::check;
use crate::quant::PackedBf16Pairs;
use crate::quant_batch::{stride, TILE_ROWS};

/// One bf16 layer of a chain, as [`Bf16BatchPack::new`] takes it.
#[derive(Clone, Copy, Debug)]
pub struct Bf16LayerSpec<'a> {
    pub w: &'a PackedBf16Pairs,
    /// One per output (n values).
    pub bias: &'a [f32],
    /// LeakyReLU slope (1: linear).
    pub slope: f32,
}

/// A packed layer: its weight pairs and its bias padded with zeros to the weight's 16-output
/// blocks.
#[derive(Clone, Debug, PartialEq)]
pub struct Bf16BatchLayer {
    pub w: PackedBf16Pairs,
    pub bias: Vec<f32>,
    pub slope: f32,
}

/// A chain of bf16 layers for [`crate::quant::QuantKernels::batch_bf16_dot`].
#[derive(Clone, Debug, PartialEq)]
pub struct Bf16BatchPack {
    layers: Vec<Bf16BatchLayer>,
}

/// The work buffers of a [`Bf16BatchPack`]'s batch forward (built once; the padding of every
/// tile row stays zero, as the kernels never write past a layer's width).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Bf16BatchScratch {
    /// A tile's bf16 input, then two activation buffers: TILE_ROWS rows each.
    h: Vec<u16>,
    /// One row's f32 layer output (the scalar reference).
    f32: Vec<f32>,
}

impl Bf16BatchPack {
    /// Packs `layers` (each one's k equal to the previous one's n). Panics on an empty or
    /// broken chain or a bias of the wrong length.
    pub fn new(layers: &[Bf16LayerSpec<'_>]) -> Bf16BatchPack {
        assert!(!layers.is_empty(), "hepae-kernels::quant_batch_bf16: no layers to pack");
        let mut out = Vec::with_capacity(layers.len());
        for (j, l) in layers.iter().enumerate() {
            let (k, n) = (l.w.k(), l.w.n());
            assert!(k > 0 && n > 0, "hepae-kernels::quant_batch_bf16: layer {j} is {k}→{n}");
            if j > 0 {
                let prev = layers[j - 1].w.n();
                assert_eq!(
                    k,
                    prev,
                    "hepae-kernels::quant_batch_bf16: layer {j}'s input is not layer {}'s output",
                    j - 1
                );
            }
            check::product("quant_batch_bf16 pack", "bias", l.bias.len(), ("1", 1), ("n", n));
            let mut bias = l.bias.to_vec();
            bias.resize(l.w.npad(), 0.0);
            out.push(Bf16BatchLayer { w: l.w.clone(), bias, slope: l.slope });
        }
        Bf16BatchPack { layers: out }
    }
    pub fn layers(&self) -> &[Bf16BatchLayer] {
        &self.layers
    }
    pub fn in_dim(&self) -> usize {
        self.layers[0].w.k()
    }
    pub fn out_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].w.n()
    }
    /// Row stride (values) of the two activation buffers.
    pub(crate) fn hidden_stride(&self) -> usize {
        let hidden = &self.layers[..self.layers.len() - 1];
        hidden.iter().map(|l| stride(l.w.n())).max().unwrap_or(0)
    }
    fn scratch_h(&self) -> usize {
        TILE_ROWS * (stride(self.in_dim()) + 2 * self.hidden_stride())
    }
    /// Two rows of the widest layer (the scalar reference's input and output).
    fn scratch_f32(&self) -> usize {
        2 * self.layers.iter().map(|l| l.w.n()).max().unwrap_or(0)
    }
    /// Work buffers for `batch_bf16_dot` on this pack (any set).
    pub fn scratch(&self) -> Bf16BatchScratch {
        Bf16BatchScratch { h: vec![0; self.scratch_h()], f32: vec![0.0; self.scratch_f32()] }
    }
}

/// out [rows×out_dim] ← the packed bf16 chain applied to each row of x [rows×in_dim], using
/// `scratch` (from [`Bf16BatchPack::scratch`] of this pack or one of the same shapes).
/// Panics on other lengths.
pub type Bf16BatchFn =
    fn(out: &mut [f32], x: &[f32], rows: usize, pack: &Bf16BatchPack, scratch: &mut Bf16BatchScratch);

fn check_call(out: usize, x: usize, rows: usize, pack: &Bf16BatchPack, s: &Bf16BatchScratch) {
    check::product("batch_bf16_dot", "out", out, ("rows", rows), ("out_dim", pack.out_dim()));
    check::product("batch_bf16_dot", "x", x, ("rows", rows), ("in_dim", pack.in_dim()));
    if s.h.len() < pack.scratch_h() || s.f32.len() < pack.scratch_f32() {
        panic!(
            "hepae-kernels::batch_bf16_dot: scratch has {} bf16 and {} f32 values, the pack needs {} and {}",
            s.h.len(),
            s.f32.len(),
            pack.scratch_h(),
            pack.scratch_f32()
        );
    }
}

/// The reference: per row, per layer, [`crate::quant_scalar::dense_bf16_dot`] (one row).
pub fn forward_scalar(out: &mut [f32], x: &[f32], rows: usize, pack: &Bf16BatchPack, scratch: &mut Bf16BatchScratch) {
    check_call(out.len(), x.len(), rows, pack, scratch);
    let (din, dout, w) = (pack.in_dim(), pack.out_dim(), pack.scratch_f32() / 2);
    let last = pack.layers.len() - 1;
    let (ya, yb) = scratch.f32.split_at_mut(w);
    for r in 0..rows {
        let orow = &mut out[r * dout..(r + 1) * dout];
        for (j, l) in pack.layers.iter().enumerate() {
            let (k, n) = (l.w.k(), l.w.n());
            // Layer j reads the half layer j − 1 wrote and writes the other one.
            let (src, dst): (&[f32], &mut [f32]) = match j {
                0 => (&x[r * din..(r + 1) * din], &mut ya[..n]),
                _ if j % 2 == 1 => (&ya[..k], &mut yb[..n]),
                _ => (&yb[..k], &mut ya[..n]),
            };
            let dst = if j == last { &mut orow[..] } else { dst };
            crate::quant_scalar::dense_bf16_dot(dst, src, &l.w, &l.bias[..n], 1, l.slope);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[path = "quant_batch_bf16_avx512.rs"]
pub(crate) mod avx512;
