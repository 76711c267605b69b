//! A whole chain of dense layers for many rows in one call: the batch encode of a farm that
//! scores billions of jets. Each layer is out = leaky(inp · Wᵀ + bias) (slope 1: linear),
//! optionally after an affine normaliser (x − shift) / scale of the chain's input.
//!
//! Rows go through the *whole* chain in tiles of [`tile_rows`] rows (32 on AVX-512, 16 on
//! AVX2), so a tile's activations never leave L1/L2 between layers. Inside a tile they are
//! stored transposed, value q of every row of the tile contiguous (`[q][rows]`), so the rows
//! lie in the vector lanes: a register tile is 2 row-vectors × up to [`tile_cols`] outputs
//! (12 on AVX-512: 24 accumulators; 6 on AVX2: 12), loading 2 activation vectors and
//! broadcasting one weight per output for each input q. Nothing is padded to the vector
//! width but the rows of the last tile (one row-vector high when it has at most one vector
//! of rows): a 50-wide layer costs 50 outputs, not 64.
//!
//! The weights are packed once ([`MlpBatchPack::new`]): per layer its biases, then per tile of
//! up to `tile_cols` outputs, for each input q, the tile's weights of input q (one sequential
//! stream per tile, read from L2 once per row tile).
//!
//! Numerics: each output is exactly what the packed GEMM with its fused epilogue gives
//! (`crate::gemm`, the training and evaluation forward): the products of each K-block of
//! [`crate::gemm::KC`] inputs accumulated from zero in input order with one rounding per
//! multiply-add, the K-blocks' sums added in order, then the bias added, then LeakyReLU.
//! [`crate::scalar::mlp_batch_forward`] is the specification, in that order with
//! `f32::mul_add`, so every set gives the same bits.

use crate::check;
use crate::Isa;

/// Output columns per register tile for `isa` (and per packed weight tile).
pub const fn tile_cols(isa: Isa) -> usize {
    match isa {
        Isa::Avx512 | Isa::Scalar => 12,
        Isa::Avx2 => 6,
    }
}

/// Row vectors per register tile of `isa` (the scalar reference works row by row).
pub const fn row_vectors(isa: Isa) -> usize {
    match isa {
        Isa::Avx512 | Isa::Avx2 => 2,
        Isa::Scalar => 1,
    }
}

/// Rows per tile of `isa`'s kernel (the scalar reference works row by row).
pub const fn tile_rows(isa: Isa) -> usize {
    match isa {
        Isa::Avx512 => 16 * row_vectors(isa),
        Isa::Avx2 => 8 * row_vectors(isa),
        Isa::Scalar => 1,
    }
}

/// The most rows per tile any set uses (the scratch is sized for it).
pub const MAX_TILE_ROWS: usize = 32;

/// Floats per alignment unit (64 bytes).
const ALIGN: usize = 16;

/// An affine map of the chain's input, per input column: (x − shift) / scale.
#[derive(Clone, Copy, Debug)]
pub struct Affine<'a> {
    pub shift: &'a [f32],
    pub scale: &'a [f32],
}

/// A packed layer: sizes, where its biases and weight tiles start in the pack, its slope.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchLayer {
    pub inp: usize,
    /// Outputs computed (the last layer may keep fewer than it has: a VAE's μ of [μ | log σ²]).
    pub out: usize,
    /// Offset of the layer's `out` biases from the pack's aligned start.
    pub bias_at: usize,
    /// Offset of its first weight tile.
    pub w_at: usize,
    pub slope: f32,
}

/// A chain of dense layers packed for [`crate::Kernels::mlp_batch`] (see the module doc).
#[derive(Debug)]
pub struct MlpBatchPack {
    cols: usize,
    layers: Vec<BatchLayer>,
    /// The packed values start at `data[base]`, a 64-byte boundary.
    data: Vec<f32>,
    base: usize,
    len: usize,
    /// Widest layer output (each of the two activation halves of the scratch).
    width: usize,
}

/// The first index of `v` on a 64-byte boundary (`v` holds at least [`ALIGN`] spare values).
pub(crate) fn aligned_base(v: &[f32]) -> usize {
    let misalign = (v.as_ptr() as usize / 4) % ALIGN;
    (ALIGN - misalign) % ALIGN
}

impl Clone for MlpBatchPack {
    /// A copy whose values are aligned again in their new allocation.
    fn clone(&self) -> Self {
        let mut data = vec![0.0f32; self.len + ALIGN];
        let base = aligned_base(&data);
        data[base..base + self.len].copy_from_slice(self.values());
        MlpBatchPack { cols: self.cols, layers: self.layers.clone(), data, base, len: self.len, width: self.width }
    }
}

impl MlpBatchPack {
    /// Packs `layers` (each one's `inp` equal to the previous one's `out`) in the tile layout
    /// of `isa`, keeping the last layer's first `keep` outputs (`keep` ≤ its `out`). Panics on
    /// a broken chain, a weight/bias of the wrong length or a bad `keep` (the caller builds
    /// the specs from a net, so each is a programming error).
    pub fn new(isa: Isa, layers: &[crate::mlp::MlpLayerSpec<'_>], keep: usize) -> MlpBatchPack {
        let cols = tile_cols(isa);
        assert!(!layers.is_empty(), "hepae-kernels::mlp_batch: no layers to pack");
        let last = layers.len() - 1;
        assert!(
            keep > 0 && keep <= layers[last].out,
            "hepae-kernels::mlp_batch: keeps {keep} of the last layer's {} outputs",
            layers[last].out
        );
        let mut packed = Vec::with_capacity(layers.len());
        let mut at = 0;
        for (j, l) in layers.iter().enumerate() {
            assert!(l.inp > 0 && l.out > 0, "hepae-kernels::mlp_batch: layer {j} is {}→{}", l.inp, l.out);
            if j > 0 {
                assert_eq!(
                    l.inp,
                    layers[j - 1].out,
                    "hepae-kernels::mlp_batch: layer {j}'s input is not layer {}'s output",
                    j - 1
                );
            }
            check::product("mlp_batch pack", "weight", l.weight.len(), ("out", l.out), ("inp", l.inp));
            check::product("mlp_batch pack", "bias", l.bias.len(), ("1", 1), ("out", l.out));
            let out = if j == last { keep } else { l.out };
            let bias_at = at;
            let w_at = (at + out).next_multiple_of(ALIGN);
            packed.push(BatchLayer { inp: l.inp, out, bias_at, w_at, slope: l.slope });
            at = (w_at + out * l.inp).next_multiple_of(ALIGN);
        }
        let width = packed.iter().map(|l| l.out).max().unwrap_or(0);
        let mut data = vec![0.0f32; at + ALIGN];
        let base = aligned_base(&data);
        let mut pack = MlpBatchPack { cols, layers: packed, data: Vec::new(), base, len: at, width };
        let vals = &mut data[base..base + at];
        for (l, spec) in pack.layers.iter().zip(layers) {
            for j in 0..l.out {
                vals[l.bias_at + j] = spec.bias[j];
                for q in 0..l.inp {
                    vals[pack.weight_index(l, q, j)] = spec.weight[j * l.inp + q];
                }
            }
        }
        pack.data = data;
        pack
    }

    /// The width of the weight tile holding output `j` of `l`, and where that tile starts.
    pub fn tile_of(&self, l: &BatchLayer, j: usize) -> (usize, usize) {
        let j0 = j / self.cols * self.cols;
        (self.cols.min(l.out - j0), l.w_at + j0 * l.inp)
    }
    /// Index of layer `l`'s weight from input `q` to output `j` in [`MlpBatchPack::values`].
    pub fn weight_index(&self, l: &BatchLayer, q: usize, j: usize) -> usize {
        let (tw, at) = self.tile_of(l, j);
        at + q * tw + j % self.cols
    }
    /// The packed values (starting on a 64-byte boundary).
    pub fn values(&self) -> &[f32] {
        &self.data[self.base..self.base + self.len]
    }
    pub fn layers(&self) -> &[BatchLayer] {
        &self.layers
    }
    /// Output columns per weight tile of this pack's layout.
    pub fn cols(&self) -> usize {
        self.cols
    }
    pub fn in_dim(&self) -> usize {
        self.layers[0].inp
    }
    /// Outputs per row (the last layer's kept outputs).
    pub fn out_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].out
    }
    /// Scratch values [`crate::Kernels::mlp_batch`] needs on any set: one tile's input and
    /// two activation buffers, transposed, and the slack to start them on a 64-byte boundary
    /// wherever the scratch lies (a vector load across two cache lines costs two).
    pub fn scratch_len(&self) -> usize {
        MAX_TILE_ROWS * (self.in_dim() + 2 * self.width) + ALIGN
    }
    /// Bytes of packed values.
    pub fn bytes(&self) -> usize {
        4 * self.len
    }
}

/// The shapes of an [`crate::Kernels::mlp_batch`] call: out [rows×out_dim], x [rows×in_dim],
/// the affine map's vectors [in_dim], scratch ≥ [`MlpBatchPack::scratch_len`].
pub(crate) fn check_call(
    out: usize,
    x: usize,
    rows: usize,
    pack: &MlpBatchPack,
    norm: Option<&Affine<'_>>,
    scratch: usize,
) {
    check::product("mlp_batch", "out", out, ("rows", rows), ("out_dim", pack.out_dim()));
    check::product("mlp_batch", "x", x, ("rows", rows), ("in_dim", pack.in_dim()));
    if let Some(a) = norm {
        check::product("mlp_batch", "shift", a.shift.len(), ("1", 1), ("in_dim", pack.in_dim()));
        check::product("mlp_batch", "scale", a.scale.len(), ("1", 1), ("in_dim", pack.in_dim()));
    }
    if scratch < pack.scratch_len() {
        panic!("hepae-kernels::mlp_batch: scratch has {scratch} values, the pack needs {}", pack.scratch_len());
    }
}

/// The table entry's type: out [rows×out_dim] ← the packed chain applied to each row of x
/// [rows×in_dim], each input value first mapped by `norm` if given, using `scratch`
/// (≥ [`MlpBatchPack::scratch_len`] values). Returns whether every (mapped) input value was
/// finite; where it returns false, `out` holds no defined values. Panics on other lengths.
pub type MlpBatchFn = fn(
    out: &mut [f32],
    x: &[f32],
    rows: usize,
    pack: &MlpBatchPack,
    norm: Option<Affine<'_>>,
    scratch: &mut [f32],
) -> bool;

#[cfg(target_arch = "x86_64")]
pub(crate) use simd_body::forward_simd;

#[cfg(target_arch = "x86_64")]
#[path = "mlp_batch_simd.rs"]
mod simd_body;
