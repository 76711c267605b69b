//! `rows_bias_act_pair`, the stride-2 two-phase epilogue: the reference is its definition
//! (a's values in the even columns, b's in the odd ones, bias then LeakyReLU), every SIMD set
//! gives the reference's bits, nothing outside the output rows is written, and a broken
//! length contract panics before anything is.

use hepae_kernels::plane_pairs::{rows_bias_act_pair_scalar, PairRows};
use hepae_kernels::{available_isas, kernels_for};

/// A sentinel no computed value can have: a signalling NaN with a payload.
const SENTINEL: u32 = 0x7f80_1234;

/// Values with zeros of both signs, NaN, ±∞, a subnormal and negatives.
fn values(n: usize, seed: usize) -> Vec<f32> {
    let special = [0.0, -0.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e-40, -3.5, 2.25];
    (0..n)
        .map(|i| {
            let k = (i * 31 + seed * 17) % 97;
            if k < special.len() {
                special[k]
            } else {
                (k as f32 - 48.0) / 7.0
            }
        })
        .collect()
}

fn same(x: f32, y: f32) -> bool {
    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
}

#[test]
fn every_set_gives_the_reference_bits_and_the_reference_is_its_definition() {
    let mut cases = 0;
    for planes in 1..=3 {
        for rows in 1..=3 {
            for len in [1, 2, 5, 8, 9, 10, 16, 17, 20, 21, 33] {
                for len_b in [len, len - 1] {
                    for slope in [0.01f32, 1.0] {
                        let (src_rs, dst_rs) = (len + 2, 2 * len + 3);
                        let (src_ps, dst_ps) = (rows * src_rs + 1, rows * dst_rs + 5);
                        let g = PairRows { planes, rows, len, len_b, src_ps, src_rs, dst_ps, dst_rs };
                        let (a, b) = (values(planes * src_ps, 1), values(planes * src_ps, 2));
                        let bias: Vec<f32> =
                            values(planes, 3).iter().map(|v| if v.is_finite() { *v } else { 0.5 }).collect();
                        let fresh = vec![f32::from_bits(SENTINEL); planes * dst_ps];
                        let mut want = fresh.clone();
                        rows_bias_act_pair_scalar(&mut want, &a, &b, &bias, slope, &g);
                        // The definition, written out.
                        let f = |u: f32| if u > 0.0 { u } else { slope * u };
                        for (i, &w) in want.iter().enumerate() {
                            let (q, rest) = (i / dst_ps, i % dst_ps);
                            let (r, col) = (rest / dst_rs, rest % dst_rs);
                            let expect = if r < rows && col < len + len_b {
                                let src = if col % 2 == 0 { &a } else { &b };
                                f(src[q * src_ps + r * src_rs + col / 2] + bias[q])
                            } else {
                                f32::from_bits(SENTINEL)
                            };
                            assert!(same(w, expect), "{g:?} slope {slope}: value {i} is {w}, not {expect}");
                        }
                        for isa in available_isas() {
                            let k = kernels_for(isa).expect("available");
                            let mut got = fresh.clone();
                            (k.rows_bias_act_pair)(&mut got, &a, &b, &bias, slope, &g);
                            for (i, (x, y)) in got.iter().zip(&want).enumerate() {
                                assert!(same(*x, *y), "{isa:?} {g:?}: value {i} is {x}, the reference's {y}");
                            }
                        }
                        cases += 1;
                    }
                }
            }
        }
    }
    assert_eq!(cases, 3 * 3 * 11 * 2 * 2);
}

#[test]
fn a_pair_by_hand() {
    // One plane, one row: a = [1, −2, 3], b = [4, −5], bias 1, slope 0.5:
    // [f(2), f(5), f(−1), f(−4), f(4)] = [2, 5, −0.5, −2, 4].
    let g = PairRows { planes: 1, rows: 1, len: 3, len_b: 2, src_ps: 3, src_rs: 3, dst_ps: 5, dst_rs: 5 };
    for isa in available_isas() {
        let mut d = [0.0f32; 5];
        (kernels_for(isa).expect("available").rows_bias_act_pair)(
            &mut d,
            &[1.0, -2.0, 3.0],
            &[4.0, -5.0, 0.0],
            &[1.0],
            0.5,
            &g,
        );
        assert_eq!(d, [2.0, 5.0, -0.5, -2.0, 4.0], "{isa:?}");
    }
}

#[test]
fn a_broken_length_contract_panics_before_writing() {
    let ok = PairRows { planes: 2, rows: 2, len: 4, len_b: 3, src_ps: 10, src_rs: 5, dst_ps: 16, dst_rs: 8 };
    // Spans: a 1·10 + 1·5 + 4 = 19, b 18, dst 16 + 8 + 7 = 31.
    let cases: [(PairRows, usize, usize, usize, usize, &str); 5] = [
        (ok, 30, 19, 18, 2, "dst ≥ 31"),
        (ok, 31, 18, 18, 2, "a ≥ 19"),
        (ok, 31, 19, 17, 2, "b ≥ 18"),
        (ok, 31, 19, 18, 1, "one bias per plane"),
        (PairRows { len_b: 2, ..ok }, 31, 19, 18, 2, "len_b = len or len − 1"),
    ];
    for isa in available_isas() {
        let k = kernels_for(isa).expect("available");
        for (g, nd, na, nb, nbias, why) in cases {
            let mut d = vec![7.0f32; nd];
            let (a, b, bias) = (vec![1.0f32; na], vec![1.0f32; nb], vec![0.0f32; nbias]);
            let f = k.rows_bias_act_pair;
            let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut d, &a, &b, &bias, 1.0, &g)));
            let msg = err.expect_err("must panic");
            let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
            assert!(msg.contains("rows_bias_act_pair") && msg.contains(why), "{isa:?}: {msg}");
            assert!(d.iter().all(|&v| v == 7.0), "{isa:?}: nothing written");
        }
        let mut d = vec![0.0f32; 31];
        (k.rows_bias_act_pair)(&mut d, &[1.0; 19], &[1.0; 18], &[0.0; 2], 1.0, &ok);
    }
}
