//! The row-tiled dense chain (`mlp_batch`) against its specification and against what it
//! replaces, on every kernel set this CPU has: bit for bit against the scalar reference
//! (`scalar::mlp_batch_forward`, which sums as the packed GEMM does, with `mul_add`), and bit
//! for bit against the same set's chain of packed GEMMs with fused bias and LeakyReLU (the
//! training forward); for the reference encoder's shapes and ragged ones (widths 1, 7, 13, 17,
//! 33, 129 that are no multiple of any vector or tile width; more than 256 inputs, which the
//! GEMM sums in two K-blocks), at row counts around every tile size.

use hepae_kernels::gemm::{Epilogue, KC};
use hepae_kernels::mlp::MlpLayerSpec;
use hepae_kernels::mlp_batch::{tile_cols, tile_rows, Affine, MlpBatchPack, MAX_TILE_ROWS};
use hepae_kernels::{kernels_for, scalar, Isa, Kernels};
use rand::SeedableRng;

#[path = "support/chain.rs"]
mod chain;
use chain::{assert_bits_equal, rnd, sets, Chain};

impl Chain {
    fn pack(&self, isa: Isa) -> MlpBatchPack {
        MlpBatchPack::new(isa, &self.specs(), *self.dims.last().unwrap())
    }
    /// The chain as `k.sgemm_packed` calls with fused epilogues, one per layer, all rows at
    /// once, B = Wᵀ read in place (as an inference plan runs it).
    fn by_gemm(&self, k: &Kernels, x: &[f32], rows: usize) -> Vec<f32> {
        let mut cur = x.to_vec();
        let mut ws = Vec::new();
        for j in 0..self.w.len() {
            let (i, o) = (self.dims[j], self.dims[j + 1]);
            let wt = self.transposed(j);
            let mut next = vec![f32::NAN; rows * o];
            let epi = Some(Epilogue { bias: &self.b[j], slope: self.slopes[j] });
            assert!((k.sgemm_packed)(&mut ws, rows, i, o, 1.0, &cur, i, 1, &wt, o, 1, 0.0, &mut next, o, 1, epi));
            cur = next;
        }
        cur
    }
}

fn run(k: &Kernels, pack: &MlpBatchPack, x: &[f32], rows: usize, norm: Option<Affine<'_>>) -> (bool, Vec<f32>) {
    let mut out = vec![f32::NAN; rows * pack.out_dim()];
    let mut scratch = vec![f32::NAN; pack.scratch_len()];
    let ok = (k.mlp_batch)(&mut out, x, rows, pack, norm, &mut scratch);
    (ok, out)
}

const CHAINS: [&[usize]; 7] = [
    &[24, 200, 100, 50, 15],
    &[24, 200, 100, 50, 30],
    &[1, 1],
    &[7, 17, 33, 1],
    &[3, 129, 13, 5],
    &[200, 24, 200, 24],
    &[300, 7, 260, 12],
];

/// Row counts around every set's tile (8, 16, 32 rows) and more than one tile.
const ROWS: [usize; 9] = [0, 1, 5, 15, 16, 17, 32, 33, 70];

#[test]
fn each_set_equals_the_scalar_reference_and_its_own_gemm_chain_bit_for_bit() {
    assert!(CHAINS.iter().any(|d| d.iter().any(|&w| w > KC)), "a chain crosses a K-block");
    let mut r = rand::rngs::StdRng::seed_from_u64(31);
    let scalar = kernels_for(Isa::Scalar).unwrap();
    for dims in CHAINS {
        for last_linear in [false, true] {
            let c = Chain::new(&mut r, dims, last_linear);
            for rows in ROWS {
                let x = rnd(&mut r, rows * dims[0], -1.0, 1.0);
                let (ok, want) = run(scalar, &c.pack(Isa::Scalar), &x, rows, None);
                assert!(ok, "finite input");
                for k in sets() {
                    let what = format!("{} {dims:?} rows {rows}", k.isa.name());
                    let (ok, got) = run(k, &c.pack(k.isa), &x, rows, None);
                    assert!(ok, "{what}: finite input");
                    assert_bits_equal(&got, &want, &format!("{what} against the scalar reference"));
                    assert_bits_equal(&got, &c.by_gemm(k, &x, rows), &format!("{what} against the set's GEMM chain"));
                }
            }
        }
    }
}

#[test]
fn the_affine_map_is_applied_first_as_the_normaliser_computes_it() {
    let mut r = rand::rngs::StdRng::seed_from_u64(32);
    let c = Chain::new(&mut r, &[24, 200, 100, 50, 15], false);
    let shift = rnd(&mut r, 24, -2.0, 2.0);
    let scale = rnd(&mut r, 24, 0.3, 3.0);
    let rows = 37;
    let x = rnd(&mut r, rows * 24, -5.0, 5.0);
    let xn: Vec<f32> = x.iter().enumerate().map(|(i, &v)| (v - shift[i % 24]) / scale[i % 24]).collect();
    for k in sets() {
        let pack = c.pack(k.isa);
        let (ok, got) = run(k, &pack, &x, rows, Some(Affine { shift: &shift, scale: &scale }));
        assert!(ok, "{}", k.isa.name());
        assert_bits_equal(&got, &run(k, &pack, &xn, rows, None).1, &format!("{} mapped in the kernel", k.isa.name()));
    }
}

#[test]
fn a_value_that_is_not_finite_after_the_map_is_reported_and_padding_rows_are_not() {
    let mut r = rand::rngs::StdRng::seed_from_u64(33);
    let c = Chain::new(&mut r, &[5, 20, 3], true);
    // Column 2's map sends 0 (the padding rows of a partial tile) to infinity but the real
    // values near −3e38 to small ones: only real rows count.
    let shift = [0.0, 0.0, -3.0e38, 0.0, 0.0];
    let scale = [1.0, 1.0, 1.0e-3, 1.0, 1.0];
    let norm = Some(Affine { shift: &shift, scale: &scale });
    for k in sets() {
        let pack = c.pack(k.isa);
        let rows = 3;
        let mut x = rnd(&mut r, rows * 5, -1.0, 1.0);
        for row in 0..rows {
            x[row * 5 + 2] = -3.0e38;
        }
        assert!(run(k, &pack, &x, rows, norm).0, "{}: finite rows, padded tile", k.isa.name());
        for (at, v) in [(7usize, f32::NAN), (14, f32::INFINITY), (3, f32::NEG_INFINITY)] {
            let mut bad = x.clone();
            bad[at] = v;
            assert!(!run(k, &pack, &bad, rows, norm).0, "{}: {v} at {at}", k.isa.name());
            assert!(!run(k, &pack, &bad, rows, None).0, "{}: {v} at {at}, no map", k.isa.name());
        }
        // Finite, but (3e38 + 3e38) / 1e-3 overflows.
        let mut over = x.clone();
        over[5 + 2] = 3.0e38;
        assert!(!run(k, &pack, &over, rows, norm).0, "{}: overflow after the map", k.isa.name());
        let rows = 40; // one value in the second tile of every set
        let mut x = rnd(&mut r, rows * 5, -1.0, 1.0);
        x[39 * 5 + 4] = f32::NAN;
        assert!(!run(k, &pack, &x, rows, None).0, "{}: NaN in row 39", k.isa.name());
    }
}

#[test]
fn keeping_the_first_outputs_of_the_last_layer_gives_those_columns() {
    // A VAE's μ of [μ | log σ²]: the kept columns are bit for bit those of the whole chain.
    let mut r = rand::rngs::StdRng::seed_from_u64(34);
    let c = Chain::new(&mut r, &[24, 200, 100, 50, 30], true);
    let rows = 21;
    let x = rnd(&mut r, rows * 24, -1.0, 1.0);
    for k in sets() {
        let full = run(k, &c.pack(k.isa), &x, rows, None).1;
        let mu = MlpBatchPack::new(k.isa, &c.specs(), 15);
        assert_eq!(mu.out_dim(), 15);
        let got = run(k, &mu, &x, rows, None).1;
        let want: Vec<f32> = full.chunks_exact(30).flat_map(|row| row[..15].to_vec()).collect();
        assert_bits_equal(&got, &want, k.isa.name());
    }
}

#[test]
fn any_pack_layout_runs_on_any_set_with_the_same_bits() {
    let mut r = rand::rngs::StdRng::seed_from_u64(35);
    let c = Chain::new(&mut r, &[24, 200, 100, 50, 15], false);
    let x = rnd(&mut r, 50 * 24, -1.0, 1.0);
    for k in sets() {
        let own = run(k, &c.pack(k.isa), &x, 50, None).1;
        for layout in [Isa::Scalar, Isa::Avx2, Isa::Avx512] {
            let other = run(k, &c.pack(layout), &x, 50, None).1;
            assert_bits_equal(&other, &own, &format!("{} on a {} pack", k.isa.name(), layout.name()));
        }
    }
}

#[test]
fn the_pack_holds_each_weight_once_in_tiles_and_stays_aligned_when_cloned() {
    let mut r = rand::rngs::StdRng::seed_from_u64(36);
    let c = Chain::new(&mut r, &[24, 200, 100, 50, 15], false);
    for isa in [Isa::Avx512, Isa::Avx2] {
        let pack = c.pack(isa);
        assert_eq!(pack.cols(), tile_cols(isa));
        assert!(tile_rows(isa) <= MAX_TILE_ROWS);
        let l0 = pack.layers()[0];
        assert_eq!(pack.values()[pack.weight_index(&l0, 3, 130)], c.w[0][130 * 24 + 3]);
        assert_eq!(pack.values()[l0.bias_at + 199], c.b[0][199]);
        // The last tile of 200 outputs is 200 mod cols wide (no padding columns).
        let (tw, _) = pack.tile_of(&l0, 199);
        assert_eq!(tw, 200 - 199 / tile_cols(isa) * tile_cols(isa));
        // Weights and biases, each once, plus at most 15 alignment values per block.
        let values: usize = [24 * 200 + 200, 200 * 100 + 100, 100 * 50 + 50, 50 * 15 + 15].iter().sum();
        assert!(pack.bytes() >= 4 * values && pack.bytes() <= 4 * (values + 8 * 15), "{}", pack.bytes());
        for p in [&pack, &pack.clone()] {
            assert_eq!(p.values().as_ptr() as usize % 64, 0);
        }
        assert_eq!(pack.clone().values(), pack.values());
    }
}

#[test]
fn a_call_with_the_wrong_lengths_panics_on_every_set() {
    let mut r = rand::rngs::StdRng::seed_from_u64(37);
    let c = Chain::new(&mut r, &[5, 20, 3], true);
    let mut ks = sets();
    ks.push(kernels_for(Isa::Scalar).unwrap());
    for k in ks {
        let pack = c.pack(k.isa);
        let call = |out: usize, x: usize, scratch: usize, shift: usize| {
            std::panic::catch_unwind(|| {
                let (mut o, mut s, sh, sc) = (vec![0.0; out], vec![0.0; scratch], vec![0.0; shift], vec![1.0; 5]);
                (k.mlp_batch)(&mut o, &vec![0.0; x], 2, &pack, Some(Affine { shift: &sh, scale: &sc }), &mut s);
            })
            .is_err()
        };
        let n = pack.scratch_len();
        assert!(!call(6, 10, n, 5), "{}: the right lengths run", k.isa.name());
        assert!(call(6, 9, n, 5), "{}: x one short", k.isa.name());
        assert!(call(7, 10, n, 5), "{}: out one long", k.isa.name());
        assert!(call(6, 10, n - 1, 5), "{}: scratch one short", k.isa.name());
        assert!(call(6, 10, n, 4), "{}: shift one short", k.isa.name());
    }
}

#[test]
#[should_panic(expected = "keeps 4 of the last layer's 3 outputs")]
fn keeping_more_outputs_than_the_last_layer_has_is_refused_when_packed() {
    let (w0, b0) = (vec![0.0; 6], vec![0.0; 3]);
    MlpBatchPack::new(Isa::Scalar, &[MlpLayerSpec { inp: 2, out: 3, weight: &w0, bias: &b0, slope: 1.0 }], 4);
}

#[test]
fn a_sum_over_more_than_one_k_block_adds_the_blocks_sums_as_the_gemm_does() {
    // KC + 4 inputs, weights 1: 2²⁴ then KC − 1 ones (block 1: each one is lost to rounding,
    // 2²⁴ + 1 ties to even 2²⁴), then 4 ones (block 2: 4). Blocks added: 2²⁴ + 4, exact; one
    // running sum would have lost those 4 too and given 2²⁴.
    let i = KC + 4;
    let w = vec![1.0f32; i];
    let b = vec![0.0f32];
    let spec = [MlpLayerSpec { inp: i, out: 1, weight: &w, bias: &b, slope: 1.0 }];
    let mut x = vec![1.0f32; i];
    x[0] = 16_777_216.0;
    let mut ks = sets();
    ks.push(kernels_for(Isa::Scalar).unwrap());
    for k in ks {
        let (ok, out) = run(k, &MlpBatchPack::new(k.isa, &spec, 1), &x, 1, None);
        assert!(ok);
        assert_eq!(out, [16_777_220.0], "{}", k.isa.name());
    }
    let pack = MlpBatchPack::new(Isa::Scalar, &spec, 1);
    let mut out = [0.0f32];
    assert!(scalar::mlp_batch_forward(&mut out, &x, 1, &pack, None, &mut vec![0.0; pack.scratch_len()]));
    assert_eq!(out, [16_777_220.0], "the reference itself");
}
