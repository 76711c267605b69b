//! The row-tiled int8 chain (`QuantKernels::batch_i8`) gives, on every set this CPU has, the
//! bits of the per-layer path (`quantize_i8` then `dense_i8`, layer by layer, on the whole
//! batch) — int8 sums are exact in i32 and the rescale is the same multiply then add. Shapes:
//! ragged chains (k not a multiple of 4, n not a multiple of 8 or 16, widths 1 to 40) at every
//! row count 0–100 (across two tiles of 48 rows, around every register tile of 4 or 6), and the reference encoder
//! 24→200→100→50→15 at tile boundaries. Inputs saturate the int8 range and include NaN and ±∞
//! (quantised to −127 / ±127 on both paths). Every safe entry refuses wrong lengths.

use hepae_kernels::quant::{f32_to_bf16, quant_sets, PackedBf16Pairs, PackedI8, QuantKernels, SCALAR};
use hepae_kernels::quant_batch::{I8LayerSpec, QuantBatchPack, TILE_ROWS};
use hepae_kernels::quant_batch_bf16::{Bf16BatchPack, Bf16LayerSpec};
use rand::{Rng, SeedableRng};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// One layer's unpacked parameters.
struct Layer {
    w: PackedI8,
    scale: Vec<f32>,
    bias: Vec<f32>,
    inv_in: f32,
    slope: f32,
}

fn chain(r: &mut impl Rng, widths: &[usize]) -> Vec<Layer> {
    let last = widths.len() - 2;
    (0..widths.len() - 1)
        .map(|j| {
            let (k, n) = (widths[j], widths[j + 1]);
            let w: Vec<i8> = (0..n * k).map(|_| r.random_range(-127..=127)).collect();
            Layer {
                w: PackedI8::new(&w, n, k),
                scale: (0..n).map(|_| r.random_range(1e-4f32..3e-3)).collect(),
                bias: (0..n).map(|_| r.random_range(-1.0f32..1.0)).collect(),
                inv_in: r.random_range(20.0f32..90.0),
                slope: if j == last { 1.0 } else { 0.01 },
            }
        })
        .collect()
}

fn pack(layers: &[Layer]) -> QuantBatchPack {
    let specs: Vec<I8LayerSpec<'_>> = layers
        .iter()
        .map(|l| I8LayerSpec { w: &l.w, scale: &l.scale, bias: &l.bias, inv_in: l.inv_in, slope: l.slope })
        .collect();
    QuantBatchPack::new(&specs)
}

/// Inputs around ±3 (some saturating at ±127 after the 1/s_x of up to 90), with NaN and ±∞.
fn inputs(r: &mut impl Rng, len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| match i % 97 {
            13 => f32::NAN,
            29 => f32::INFINITY,
            71 => f32::NEG_INFINITY,
            _ => r.random_range(-3.0f32..3.0),
        })
        .collect()
}

/// The per-layer path on set `s`: each layer over the whole batch.
fn per_layer(s: &QuantKernels, layers: &[Layer], x: &[f32], rows: usize) -> Vec<f32> {
    let mut cur = x.to_vec();
    for l in layers {
        let (k, n) = (l.w.k(), l.w.n());
        let mut xq = vec![0i8; rows * k];
        (s.quantize_i8)(&mut xq, &cur, l.inv_in);
        let mut out = vec![0.0f32; rows * n];
        (s.dense_i8)(&mut out, &xq, &l.w, &l.scale, &l.bias, rows, l.slope);
        cur = out;
    }
    cur
}

fn assert_bits(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.to_bits(), w.to_bits(), "{what}: value {i}: {g} vs {w}");
    }
}

fn check_chain(layers: &[Layer], row_counts: &[usize], r: &mut impl Rng, what: &str) {
    let p = pack(layers);
    let (din, dout) = (p.in_dim(), p.out_dim());
    let max_rows = row_counts.iter().copied().max().unwrap_or(0);
    let x = inputs(r, max_rows * din);
    let sets = quant_sets();
    assert!(sets.len() > 1 || !cfg!(target_arch = "x86_64"), "no SIMD set on this CPU");
    for &rows in row_counts {
        let x = &x[..rows * din];
        let want = per_layer(&SCALAR, layers, x, rows);
        for s in &sets {
            // The per-layer path of this set is bit-identical to scalar's (tested elsewhere);
            // the tiled chain must be too. The scratch is reused: stale rows do not leak in.
            let mut scratch = p.scratch();
            let mut got = vec![f32::NAN; rows * dout];
            for _ in 0..2 {
                (s.batch_i8)(&mut got, x, rows, &p, &mut scratch);
                assert_bits(&got, &want, &format!("{what} {} rows {rows}", s.name));
            }
        }
    }
}

#[test]
fn ragged_chains_match_the_per_layer_path_bit_for_bit_at_every_row_count() {
    let mut r = rand::rngs::StdRng::seed_from_u64(1919);
    let rows: Vec<usize> = (0..=100).collect();
    const { assert!(2 * TILE_ROWS < 100, "rows 0–100 cross two tile boundaries") };
    for widths in
        [vec![1, 1], vec![3, 17, 5], vec![5, 33, 9, 2], vec![24, 40, 15, 7, 3], vec![7, 16, 8, 31], vec![13, 1, 29]]
    {
        let layers = chain(&mut r, &widths);
        check_chain(&layers, &rows, &mut r, &format!("chain {widths:?}"));
    }
}

#[test]
fn the_reference_encoder_matches_the_per_layer_path_bit_for_bit() {
    let mut r = rand::rngs::StdRng::seed_from_u64(24);
    let layers = chain(&mut r, &[24, 200, 100, 50, 15]);
    check_chain(&layers, &[1, 3, 4, 5, 6, 7, 47, 48, 49, 95, 96, 97, 145], &mut r, "24-200-100-50-15");
}

fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("a length mismatch was accepted");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn batch_i8_refuses_wrong_lengths_and_a_small_scratch_on_every_set() {
    let mut r = rand::rngs::StdRng::seed_from_u64(7);
    let small = chain(&mut r, &[5, 9, 3]);
    let big = chain(&mut r, &[5, 90, 3]);
    let (p, pb) = (pack(&small), pack(&big));
    for s in quant_sets() {
        let rows = 4;
        let x = vec![0.5f32; rows * 5];
        let cases: [(&str, usize, usize, usize); 2] =
            [("out", rows * 3 + 1, rows * 5, rows * 3 + 1), ("x", rows * 3, rows * 5 - 1, rows * 5 - 1)];
        for (name, lo, lx, shown) in cases {
            let mut out = vec![7.0f32; lo];
            let msg = panic_message(|| (s.batch_i8)(&mut out, &x[..lx.min(x.len())], rows, &p, &mut p.scratch()));
            assert!(
                msg.contains("hepae-kernels::batch_i8") && msg.contains(&shown.to_string()),
                "{} {name}: {msg}",
                s.name
            );
            assert!(out.iter().all(|&v| v == 7.0), "{}: wrote before refusing", s.name);
        }
        let mut out = vec![7.0f32; rows * 3];
        let msg = panic_message(|| (s.batch_i8)(&mut out, &x, rows, &pb, &mut p.scratch()));
        assert!(msg.contains("scratch"), "{}: {msg}", s.name);
        assert!(out.iter().all(|&v| v == 7.0), "{}: wrote before refusing", s.name);
        (s.batch_i8)(&mut [], &[], 0, &p, &mut p.scratch());
    }
    let msg = panic_message(|| {
        let specs: Vec<I8LayerSpec<'_>> = [&small[0], &small[0]]
            .iter()
            .map(|l| I8LayerSpec { w: &l.w, scale: &l.scale, bias: &l.bias, inv_in: l.inv_in, slope: l.slope })
            .collect();
        QuantBatchPack::new(&specs);
    });
    assert!(msg.contains("layer 1's input"), "a broken chain: {msg}");
}

/// The bf16 per-layer path on set `s`: `dense_bf16_dot` layer by layer over the whole batch.
fn bf16_per_layer(s: &QuantKernels, layers: &[(PackedBf16Pairs, Vec<f32>, f32)], x: &[f32], rows: usize) -> Vec<f32> {
    let mut cur = x.to_vec();
    for (w, b, slope) in layers {
        let mut out = vec![0.0f32; rows * w.n()];
        (s.dense_bf16_dot)(&mut out, &cur, w, b, rows, *slope);
        cur = out;
    }
    cur
}

#[test]
fn bf16_chains_match_their_set_s_per_layer_path_bit_for_bit() {
    let mut r = rand::rngs::StdRng::seed_from_u64(16);
    for widths in
        [vec![1, 1], vec![3, 17, 5], vec![5, 33, 9, 2], vec![24, 200, 100, 51, 15], vec![7, 16, 8, 31], vec![13, 1, 29]]
    {
        let last = widths.len() - 2;
        let layers: Vec<(PackedBf16Pairs, Vec<f32>, f32)> = (0..=last)
            .map(|j| {
                let (k, n) = (widths[j], widths[j + 1]);
                let w: Vec<u16> = (0..n * k).map(|_| f32_to_bf16(r.random_range(-0.5f32..0.5))).collect();
                let b = (0..n).map(|_| r.random_range(-1.0f32..1.0)).collect();
                (PackedBf16Pairs::new(&w, n, k), b, if j == last { 1.0 } else { 0.01 })
            })
            .collect();
        let specs: Vec<Bf16LayerSpec<'_>> =
            layers.iter().map(|(w, b, s)| Bf16LayerSpec { w, bias: b, slope: *s }).collect();
        let p = Bf16BatchPack::new(&specs);
        let x = inputs(&mut r, 100 * widths[0]);
        for s in quant_sets() {
            let mut scratch = p.scratch();
            for rows in (0..=100).step_by(if widths[1] > 100 { 7 } else { 1 }) {
                let x = &x[..rows * widths[0]];
                let want = bf16_per_layer(s, &layers, x, rows);
                let mut got = vec![f32::NAN; rows * p.out_dim()];
                (s.batch_bf16_dot)(&mut got, x, rows, &p, &mut scratch);
                assert_bits(&got, &want, &format!("bf16 chain {widths:?} {} rows {rows}", s.name));
            }
        }
    }
}

#[test]
fn batch_bf16_dot_refuses_wrong_lengths_and_a_small_scratch_on_every_set() {
    let ones = |n: usize, k: usize| PackedBf16Pairs::new(&vec![0x3f80; n * k], n, k);
    let (w1, w2, wbig) = (ones(9, 5), ones(3, 9), ones(90, 5));
    let (b9, b3, b90) = (vec![0.0f32; 9], vec![0.5f32; 3], vec![0.0f32; 90]);
    let w3 = ones(3, 90);
    let p = Bf16BatchPack::new(&[
        Bf16LayerSpec { w: &w1, bias: &b9, slope: 1.0 },
        Bf16LayerSpec { w: &w2, bias: &b3, slope: 1.0 },
    ]);
    let pb = Bf16BatchPack::new(&[
        Bf16LayerSpec { w: &wbig, bias: &b90, slope: 1.0 },
        Bf16LayerSpec { w: &w3, bias: &b3, slope: 1.0 },
    ]);
    for s in quant_sets() {
        let rows = 4;
        let x = vec![1.0f32; rows * 5];
        for (name, lo, lx, shown) in
            [("out", rows * 3 + 1, rows * 5, rows * 3 + 1), ("x", rows * 3, rows * 5 - 1, rows * 5 - 1)]
        {
            let mut out = vec![7.0f32; lo];
            let msg = panic_message(|| (s.batch_bf16_dot)(&mut out, &x[..lx], rows, &p, &mut p.scratch()));
            assert!(
                msg.contains("hepae-kernels::batch_bf16_dot") && msg.contains(&shown.to_string()),
                "{} {name}: {msg}",
                s.name
            );
            assert!(out.iter().all(|&v| v == 7.0), "{}: wrote before refusing", s.name);
        }
        let mut out = vec![7.0f32; rows * 3];
        let msg = panic_message(|| (s.batch_bf16_dot)(&mut out, &x, rows, &pb, &mut p.scratch()));
        assert!(msg.contains("scratch"), "{}: {msg}", s.name);
        // Exact lengths: 5 ones → 5 per hidden output → 0.5 + 9·5 = 45.5 per output.
        (s.batch_bf16_dot)(&mut out, &x, rows, &p, &mut p.scratch());
        assert_eq!(out, vec![45.5; rows * 3], "{}", s.name);
    }
}
