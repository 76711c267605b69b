//! A whole chain of dense layers (an encoder) for a few rows in one call: the trigger's
//! batch 1 without per-layer glue. Each layer is out = leaky(inp · Wᵀ + bias) (slope 1: linear).
//!
//! The weights are packed once ([`MlpPack::new`]) into one 64-byte-aligned buffer, in the order
//! the kernel reads them: per layer, per block of up to [`block_cols`] output columns, the
//! block's biases and then, for each input q, the block's weights of input q. One call
//! streams the buffer start to end (122 KB for the reference encoder, read from L2 per jet),
//! so the hardware prefetcher sees one sequential stream. Every layer's outputs are padded to
//! a multiple of 16 with zero weights and biases, so the vector kernels load and store whole
//! vectors only (no masks); the padded outputs are leaky(0) = 0 and never read.
//!
//! Numerics: each output starts at its bias and adds the inputs' products in input order: the
//! SIMD sets with one rounding per multiply-add (bit-identical to a chain of their
//! `dense_small` calls), the scalar reference with a multiply then an add (bit-identical to a
//! chain of `scalar::dense_small`).

use crate::check;
use crate::Isa;

/// Output columns per block for `isa`: as many as its registers hold as accumulators while
/// inputs are broadcast (8 vectors: 128 on AVX-512F, 64 on AVX2 and the scalar set).
pub fn block_cols(isa: Isa) -> usize {
    match isa {
        Isa::Avx512 => 128,
        Isa::Avx2 | Isa::Scalar => 64,
    }
}

/// Floats per vector-padding unit (and alignment unit: 64 bytes).
const PAD: usize = 16;

/// One dense layer to pack: `weight` [out×inp] row-major (PyTorch `nn.Linear` layout),
/// `bias` \[out], then LeakyReLU with `slope` (1 = linear).
#[derive(Clone, Copy, Debug)]
pub struct MlpLayerSpec<'a> {
    pub inp: usize,
    pub out: usize,
    pub weight: &'a [f32],
    pub bias: &'a [f32],
    pub slope: f32,
}

/// A packed layer: sizes, padded outputs, where its blocks start in the pack, its slope.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MlpLayer {
    pub inp: usize,
    pub out: usize,
    /// `out` rounded up to a multiple of 16.
    pub out_pad: usize,
    /// Offset of the layer's first block from the pack's aligned start.
    pub at: usize,
    pub slope: f32,
}

/// A chain of dense layers packed for [`crate::Kernels::mlp_forward`] (see the module doc).
#[derive(Debug)]
pub struct MlpPack {
    block: usize,
    layers: Vec<MlpLayer>,
    /// The packed values start at `data[base]`, a 64-byte boundary.
    data: Vec<f32>,
    base: usize,
    len: usize,
    /// Widest padded layer output or input row (each half of the scratch).
    width: usize,
}

/// The first index of `v` on a 64-byte boundary (`v` holds at least [`PAD`] spare values).
fn aligned_base(v: &[f32]) -> usize {
    let misalign = (v.as_ptr() as usize / 4) % PAD;
    (PAD - misalign) % PAD
}

impl Clone for MlpPack {
    /// A copy whose values are aligned again in their new allocation.
    fn clone(&self) -> Self {
        let mut data = vec![0.0f32; self.len + PAD];
        let base = aligned_base(&data);
        data[base..base + self.len].copy_from_slice(self.values());
        MlpPack { block: self.block, layers: self.layers.clone(), data, base, len: self.len, width: self.width }
    }
}

impl MlpPack {
    /// Packs `layers` (each one's `inp` equal to the previous one's `out`) in the block layout
    /// of `isa`. Panics on a broken chain or a weight/bias of the wrong length (the caller
    /// builds the specs from a net, so either is a programming error).
    pub fn new(isa: Isa, layers: &[MlpLayerSpec<'_>]) -> MlpPack {
        let block = block_cols(isa);
        assert!(!layers.is_empty(), "hepae-kernels::mlp: no layers to pack");
        let mut packed = Vec::with_capacity(layers.len());
        let mut at = 0;
        for (j, l) in layers.iter().enumerate() {
            assert!(l.inp > 0 && l.out > 0, "hepae-kernels::mlp: layer {j} is {}→{}", l.inp, l.out);
            if j > 0 {
                assert_eq!(
                    l.inp,
                    layers[j - 1].out,
                    "hepae-kernels::mlp: layer {j}'s input is not layer {}'s output",
                    j - 1
                );
            }
            check::product("mlp pack", "weight", l.weight.len(), ("out", l.out), ("inp", l.inp));
            check::product("mlp pack", "bias", l.bias.len(), ("1", 1), ("out", l.out));
            let out_pad = l.out.next_multiple_of(PAD);
            packed.push(MlpLayer { inp: l.inp, out: l.out, out_pad, at, slope: l.slope });
            at += out_pad * (l.inp + 1);
        }
        let width = packed.iter().map(|l| l.out_pad).max().unwrap_or(0).max(layers[0].inp);
        let mut data = vec![0.0f32; at + PAD];
        let base = aligned_base(&data);
        let mut pack = MlpPack { block, layers: packed, data: Vec::new(), base, len: at, width };
        let vals = &mut data[base..base + at];
        for (l, spec) in pack.layers.iter().zip(layers) {
            for j in 0..l.out {
                vals[pack.bias_index(l, j)] = spec.bias[j];
                for q in 0..l.inp {
                    vals[pack.weight_index(l, q, j)] = spec.weight[j * l.inp + q];
                }
            }
        }
        pack.data = data;
        pack
    }

    /// Where column `j`'s block starts (relative to the layer) and that block's width.
    fn block_of(&self, l: &MlpLayer, j: usize) -> (usize, usize, usize) {
        let b = j / self.block;
        let j0 = b * self.block;
        let bw = self.block.min(l.out_pad - j0);
        (j0 * (l.inp + 1), j0, bw)
    }
    /// Index of layer `l`'s bias `j` in [`MlpPack::values`].
    pub fn bias_index(&self, l: &MlpLayer, j: usize) -> usize {
        let (off, j0, _) = self.block_of(l, j);
        l.at + off + (j - j0)
    }
    /// Index of layer `l`'s weight from input `q` to output `j` in [`MlpPack::values`].
    pub fn weight_index(&self, l: &MlpLayer, q: usize, j: usize) -> usize {
        let (off, j0, bw) = self.block_of(l, j);
        l.at + off + (q + 1) * bw + (j - j0)
    }

    /// The packed values (starting on a 64-byte boundary).
    pub fn values(&self) -> &[f32] {
        &self.data[self.base..self.base + self.len]
    }
    pub fn layers(&self) -> &[MlpLayer] {
        &self.layers
    }
    /// Output columns per block of this pack's layout.
    pub fn block(&self) -> usize {
        self.block
    }
    pub fn in_dim(&self) -> usize {
        self.layers[0].inp
    }
    pub fn out_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].out
    }
    /// Scratch values [`crate::Kernels::mlp_forward`] needs: two activation rows.
    pub fn scratch_len(&self) -> usize {
        2 * self.width
    }
    /// Bytes of packed values.
    pub fn bytes(&self) -> usize {
        4 * self.len
    }
}

/// The shapes of an [`crate::Kernels::mlp_forward`] call: out [rows×out_dim], x [rows×in_dim],
/// scratch ≥ [`MlpPack::scratch_len`].
pub(crate) fn check_call(out: usize, x: usize, rows: usize, pack: &MlpPack, scratch: usize) {
    check::product("mlp_forward", "out", out, ("rows", rows), ("out_dim", pack.out_dim()));
    check::product("mlp_forward", "x", x, ("rows", rows), ("in_dim", pack.in_dim()));
    if scratch < pack.scratch_len() {
        panic!("hepae-kernels::mlp_forward: scratch has {scratch} values, the pack needs {}", pack.scratch_len());
    }
}

/// The SIMD body over [`crate::simd::Simd`] `S`, instantiated per ISA by
/// `crate::body::instantiate!` (its `#[target_feature]` wrapper). Any pack runs on any set:
/// a block wider than 8 vectors of `S` is done in 8-vector slices.
///
/// Safety: inlined into a function compiled for `S`'s instruction set.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn forward_simd<S: crate::simd::Simd>(
    out: &mut [f32],
    x: &[f32],
    rows: usize,
    pack: &MlpPack,
    scratch: &mut [f32],
) {
    check_call(out.len(), x.len(), rows, pack, scratch.len());
    let (din, dout, w) = (pack.in_dim(), pack.out_dim(), pack.width);
    let vals = pack.values().as_ptr();
    let (buf_a, buf_b) = scratch.split_at_mut(w);
    let bufs = [buf_a.as_mut_ptr(), buf_b.as_mut_ptr()];
    for r in 0..rows {
        let mut src = x[r * din..].as_ptr();
        for (li, l) in pack.layers.iter().enumerate() {
            let dst = bufs[li % 2];
            let mut j0 = 0;
            while j0 < l.out_pad {
                let bw = pack.block.min(l.out_pad - j0);
                let mut s0 = 0;
                while s0 < bw {
                    let nv = ((bw - s0) / S::W).min(8);
                    // SAFETY: the block [j0, j0 + bw) of this layer holds bw·(inp + 1) values
                    // from `at + j0·(inp + 1)` (layout of `MlpPack::new`), so vectors
                    // s0..s0 + nv·W of its bias row and of each of its `inp` weight rows
                    // exist; `dst` has `width` ≥ out_pad values; `src` holds `inp` values
                    // (x's row, checked above, or the previous layer's `out` outputs).
                    unsafe {
                        let wp = vals.add(l.at + j0 * (l.inp + 1) + s0);
                        let o = dst.add(j0 + s0);
                        match nv {
                            1 => slice::<S, 1>(o, src, wp, bw, l.inp, l.slope),
                            2 => slice::<S, 2>(o, src, wp, bw, l.inp, l.slope),
                            3 => slice::<S, 3>(o, src, wp, bw, l.inp, l.slope),
                            4 => slice::<S, 4>(o, src, wp, bw, l.inp, l.slope),
                            5 => slice::<S, 5>(o, src, wp, bw, l.inp, l.slope),
                            6 => slice::<S, 6>(o, src, wp, bw, l.inp, l.slope),
                            7 => slice::<S, 7>(o, src, wp, bw, l.inp, l.slope),
                            _ => slice::<S, 8>(o, src, wp, bw, l.inp, l.slope),
                        }
                    }
                    s0 += nv * S::W;
                }
                j0 += bw;
            }
            src = dst;
        }
        // SAFETY: `src` is the last layer's buffer, holding out_pad ≥ dout values.
        let last = unsafe { std::slice::from_raw_parts(src, dout) };
        out[r * dout..(r + 1) * dout].copy_from_slice(last);
    }
}

/// NV whole vectors of outputs: o[v] = leaky(bias[v] + Σ_q a[q]·w[q][v]) with the biases at
/// `w` and input q's weights at `w + (q + 1)·stride`, accumulated in registers.
///
/// Safety: NV·W values exist at `w` and at each of the k strides after it, and at `o`; `a`
/// holds k values; inlined into a function compiled for `S`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn slice<S: crate::simd::Simd, const NV: usize>(
    o: *mut f32,
    a: *const f32,
    w: *const f32,
    stride: usize,
    k: usize,
    slope: f32,
) {
    // SAFETY: the caller's contract above.
    unsafe {
        let mut acc = [S::zero(); NV];
        for (v, av) in acc.iter_mut().enumerate() {
            *av = S::load(w.add(v * S::W), S::W);
        }
        let mut row = w;
        for q in 0..k {
            row = row.add(stride);
            let xv = S::splat(*a.add(q));
            for (v, av) in acc.iter_mut().enumerate() {
                *av = S::fmadd(xv, S::load(row.add(v * S::W), S::W), *av);
            }
        }
        let s = S::splat(slope);
        for (v, av) in acc.iter().enumerate() {
            S::store(o.add(v * S::W), S::select_pos(*av, *av, S::mul(*av, s)), S::W);
        }
    }
}

/// The table entry's type: out [rows×out_dim] ← the packed chain applied to each row of x
/// [rows×in_dim], using `scratch` (≥ [`MlpPack::scratch_len`] values). Panics on other lengths.
pub type MlpFn = fn(out: &mut [f32], x: &[f32], rows: usize, pack: &MlpPack, scratch: &mut [f32]);
