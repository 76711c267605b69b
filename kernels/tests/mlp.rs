//! The fused dense chain (`mlp_forward`) against what it replaces, a chain of `dense_small`
//! calls, on every kernel set this CPU has: bit for bit against the same set's chain, and
//! within the one tolerance against the scalar reference; for the reference encoder's shapes
//! and ragged ones (widths 1, 15, 17, 33, 129 that are no multiple of any vector width).

use hepae_kernels::close::assert_slices_close;
use hepae_kernels::mlp::{block_cols, MlpLayerSpec, MlpPack};
use hepae_kernels::{kernels_for, Isa, Kernels};
use rand::SeedableRng;

#[path = "support/chain.rs"]
mod chain;
use chain::{assert_bits_equal, rnd, sets, Chain};

impl Chain {
    /// The chain as `k.dense_small` calls, one per layer, with the weights transposed.
    fn by_dense_small(&self, k: &Kernels, x: &[f32], rows: usize) -> Vec<f32> {
        let mut cur = x.to_vec();
        for j in 0..self.w.len() {
            let (i, o) = (self.dims[j], self.dims[j + 1]);
            let wt = self.transposed(j);
            let mut next = vec![f32::NAN; rows * o];
            (k.dense_small)(&mut next, &cur, &wt, &self.b[j], rows, i, o, self.slopes[j]);
            cur = next;
        }
        cur
    }
}

fn run(k: &Kernels, pack: &MlpPack, x: &[f32], rows: usize) -> Vec<f32> {
    let mut out = vec![f32::NAN; rows * pack.out_dim()];
    let mut scratch = vec![f32::NAN; pack.scratch_len()];
    (k.mlp_forward)(&mut out, x, rows, pack, &mut scratch);
    out
}

const CHAINS: [&[usize]; 6] =
    [&[24, 200, 100, 50, 15], &[24, 200, 100, 50, 30], &[1, 1], &[7, 17, 33, 1], &[3, 129, 5], &[200, 24, 200, 24]];

#[test]
fn each_set_equals_its_own_dense_small_chain_bit_for_bit() {
    let mut r = rand::rngs::StdRng::seed_from_u64(21);
    for k in sets() {
        for dims in CHAINS {
            for last_linear in [false, true] {
                let c = Chain::new(&mut r, dims, last_linear);
                let pack = MlpPack::new(k.isa, &c.specs());
                for rows in [1usize, 2, 3] {
                    let x = rnd(&mut r, rows * dims[0], -1.0, 1.0);
                    let what = format!("{} {dims:?} rows {rows}", k.isa.name());
                    assert_bits_equal(&run(k, &pack, &x, rows), &c.by_dense_small(k, &x, rows), &what);
                }
            }
        }
    }
}

#[test]
fn simd_sets_match_the_scalar_reference_and_any_pack_layout_runs_on_any_set() {
    let mut r = rand::rngs::StdRng::seed_from_u64(22);
    let scalar = kernels_for(Isa::Scalar).unwrap();
    for dims in CHAINS {
        let c = Chain::new(&mut r, dims, true);
        let x = rnd(&mut r, 2 * dims[0], -1.0, 1.0);
        let want = run(scalar, &MlpPack::new(Isa::Scalar, &c.specs()), &x, 2);
        for k in sets() {
            let own = run(k, &MlpPack::new(k.isa, &c.specs()), &x, 2);
            assert_slices_close(&own, &want, 1e-5, 1e-5, &format!("{} {dims:?}", k.isa.name()));
            // A pack in another set's block layout gives this set's bits.
            for layout in [Isa::Scalar, Isa::Avx2, Isa::Avx512] {
                let other = run(k, &MlpPack::new(layout, &c.specs()), &x, 2);
                assert_bits_equal(&other, &own, &format!("{} on a {} pack {dims:?}", k.isa.name(), layout.name()));
            }
        }
    }
}

#[test]
fn the_pack_is_aligned_padded_and_stays_aligned_when_cloned() {
    let mut r = rand::rngs::StdRng::seed_from_u64(23);
    let c = Chain::new(&mut r, &[24, 200, 100, 50, 15], false);
    let pack = MlpPack::new(Isa::Avx512, &c.specs());
    assert_eq!(pack.block(), block_cols(Isa::Avx512));
    let pads: Vec<usize> = pack.layers().iter().map(|l| l.out_pad).collect();
    assert_eq!(pads, [208, 112, 64, 16]);
    // Values: 208·25 + 112·201 + 64·101 + 16·51, weights and biases with zero padding.
    assert_eq!(pack.bytes(), 4 * (208 * 25 + 112 * 201 + 64 * 101 + 16 * 51));
    let l0 = pack.layers()[0];
    assert_eq!(pack.values()[pack.weight_index(&l0, 3, 130)], c.w[0][130 * 24 + 3]);
    assert_eq!(pack.values()[pack.bias_index(&l0, 199)], c.b[0][199]);
    assert_eq!(pack.values()[pack.weight_index(&l0, 3, 205)], 0.0, "padding column");
    for p in [&pack, &pack.clone()] {
        assert_eq!(p.values().as_ptr() as usize % 64, 0);
    }
    assert_eq!(pack.clone().values(), pack.values());
}

#[test]
fn a_call_with_the_wrong_lengths_panics_on_every_set() {
    let mut r = rand::rngs::StdRng::seed_from_u64(24);
    let c = Chain::new(&mut r, &[5, 20, 3], true);
    for k in sets() {
        let pack = MlpPack::new(k.isa, &c.specs());
        let bad_x = std::panic::catch_unwind(|| {
            let (mut out, mut s) = (vec![0.0; 3], vec![0.0; pack.scratch_len()]);
            (k.mlp_forward)(&mut out, &[0.0; 4], 1, &pack, &mut s);
        });
        assert!(bad_x.is_err(), "{}: x of 4 values for a 5-wide input", k.isa.name());
        let short_scratch = std::panic::catch_unwind(|| {
            let (mut out, mut s) = (vec![0.0; 3], vec![0.0; pack.scratch_len() - 1]);
            (k.mlp_forward)(&mut out, &[0.0; 5], 1, &pack, &mut s);
        });
        assert!(short_scratch.is_err(), "{}: scratch one short", k.isa.name());
    }
}

#[test]
#[should_panic(expected = "input is not layer 0's output")]
fn a_broken_chain_is_refused_when_packed() {
    let (w0, b0, w1, b1) = (vec![0.0; 6], vec![0.0; 3], vec![0.0; 8], vec![0.0; 2]);
    let specs = [
        MlpLayerSpec { inp: 2, out: 3, weight: &w0, bias: &b0, slope: 1.0 },
        MlpLayerSpec { inp: 4, out: 2, weight: &w1, bias: &b1, slope: 1.0 },
    ];
    MlpPack::new(Isa::Scalar, &specs);
}
