//! Every reduced-precision kernel set this CPU has, against the scalar reference, on ragged
//! shapes: k and n over 0..=35 (every 4-byte input group and 8/16-lane mask pattern) and the
//! reference encoder's layers (24→200→100→50→15), batches 1–5. The int8 kernels must agree
//! bit for bit (exact i32 sums, the same multiply-then-add); the bf16/f16 ones within FMA
//! rounding. A set the CPU has must run (a skipped ISA is not a pass). The scalar f16/bf16
//! conversions are checked against the CPU's F16C instructions.

use hepae_kernels::close::assert_slices_close;
use hepae_kernels::quant::{self, HalfKind, PackedBf16Pairs, PackedHalf, PackedI8, QuantKernels};
use rand::{Rng, SeedableRng};

fn scalar() -> &'static QuantKernels {
    &quant::SCALAR
}

fn simd_sets() -> Vec<&'static QuantKernels> {
    let sets: Vec<_> = quant::quant_sets().into_iter().filter(|k| k.name != "scalar").collect();
    #[cfg(target_arch = "x86_64")]
    {
        let want = |name: &str, has: bool| {
            assert!(
                !has || sets.iter().any(|k| k.name == name),
                "CPU has the features of {name} but the set is missing"
            );
        };
        want("avx2", is_x86_feature_detected!("avx2") && is_x86_feature_detected!("f16c"));
        want("avx512", is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw"));
        want("avx512-vnni", is_x86_feature_detected!("avx512bw") && is_x86_feature_detected!("avx512vnni"));
        want("avx2-vnni", is_x86_feature_detected!("avx2") && is_x86_feature_detected!("avxvnni"));
        want("avx512-vnni-bf16", is_x86_feature_detected!("avx512vnni") && is_x86_feature_detected!("avx512bf16"));
    }
    sets
}

/// (m, k, n) shapes: ragged small ones, then the reference encoder's layers.
fn shapes() -> Vec<(usize, usize, usize)> {
    let mut v = Vec::new();
    for k in 0..=35 {
        for n in [0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 35] {
            v.push((1 + (k + n) % 3, k, n));
        }
    }
    for n in 0..=35 {
        v.push((1, 5, n));
    }
    for (k, n) in [(24, 200), (200, 100), (100, 50), (50, 15), (129, 257)] {
        for m in [1, 2, 5] {
            v.push((m, k, n));
        }
    }
    v
}

fn rnd(r: &mut impl Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| r.random_range(lo..hi)).collect()
}

#[test]
fn dense_i8_is_bit_identical_to_scalar_on_every_set() {
    let mut r = rand::rngs::StdRng::seed_from_u64(19);
    let sets = simd_sets();
    for (m, k, n) in shapes() {
        let w: Vec<i8> = (0..n * k).map(|_| r.random_range(-127..=127)).collect();
        // Activations over the whole int8 range, −128 included, with runs of extremes.
        let x: Vec<i8> = (0..m * k).map(|i| if i % 7 == 0 { i8::MIN } else { r.random_range(-128..=127) }).collect();
        let scale = rnd(&mut r, n, 1e-4, 1e-2);
        let bias = rnd(&mut r, n, -1.0, 1.0);
        let p = PackedI8::new(&w, n, k);
        let mut want = vec![0.0f32; m * n];
        (scalar().dense_i8)(&mut want, &x, &p, &scale, &bias, m, 0.01);
        // The reference itself against a plain i64 sum of the unpacked weights.
        for row in 0..m {
            for j in 0..n {
                let acc: i64 = (0..k).map(|q| x[row * k + q] as i64 * w[j * k + q] as i64).sum();
                let u = acc as f32 * scale[j] + bias[j];
                let y = if u > 0.0 { u } else { 0.01 * u };
                assert_eq!(want[row * n + j].to_bits(), y.to_bits(), "scalar dense_i8 m{m} k{k} n{n} ({row},{j})");
            }
        }
        for s in &sets {
            let mut got = vec![f32::NAN; m * n];
            (s.dense_i8)(&mut got, &x, &p, &scale, &bias, m, 0.01);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g.to_bits(), w.to_bits(), "{} dense_i8 m{m} k{k} n{n} [{i}]: {g} vs {w}", s.name);
            }
        }
    }
}

#[test]
fn dense_half_matches_scalar_on_every_set_in_bf16_and_f16() {
    let mut r = rand::rngs::StdRng::seed_from_u64(20);
    let sets = simd_sets();
    for kind in [HalfKind::Bf16, HalfKind::F16] {
        for (m, k, n) in shapes() {
            let w: Vec<u16> = rnd(&mut r, n * k, -0.5, 0.5).into_iter().map(|v| kind.from_f32(v)).collect();
            let x = rnd(&mut r, m * k, -2.0, 2.0);
            let bias = rnd(&mut r, n, -1.0, 1.0);
            let p = PackedHalf::new(kind, &w, n, k);
            let mut want = vec![0.0f32; m * n];
            (scalar().dense_half)(&mut want, &x, &p, &bias, m, 0.01);
            // The reference against an f64 sum of the widened weights.
            let mut exact = vec![0.0f32; m * n];
            for row in 0..m {
                for j in 0..n {
                    let u = bias[j] as f64
                        + (0..k).map(|q| x[row * k + q] as f64 * kind.to_f32(w[j * k + q]) as f64).sum::<f64>();
                    exact[row * n + j] = (if u > 0.0 { u } else { 0.01 * u }) as f32;
                }
            }
            let what = format!("scalar dense_half {kind:?} m{m} k{k} n{n}");
            assert_slices_close(&want, &exact, 1e-5, 1e-5, &what);
            for s in &sets {
                let mut got = vec![f32::NAN; m * n];
                (s.dense_half)(&mut got, &x, &p, &bias, m, 0.01);
                assert_slices_close(&got, &want, 1e-5, 1e-5, &format!("{} dense_half {kind:?} m{m} k{k} n{n}", s.name));
            }
        }
    }
}

#[test]
fn dense_bf16_dot_matches_scalar_on_every_set() {
    let mut r = rand::rngs::StdRng::seed_from_u64(22);
    let sets = simd_sets();
    let bf = |v: f32| quant::bf16_to_f32(quant::f32_to_bf16(v));
    for (m, k, n) in shapes() {
        let w: Vec<u16> = rnd(&mut r, n * k, -0.5, 0.5).into_iter().map(quant::f32_to_bf16).collect();
        let x = rnd(&mut r, m * k, -2.0, 2.0);
        let bias = rnd(&mut r, n, -1.0, 1.0);
        let p = PackedBf16Pairs::new(&w, n, k);
        for j in 0..n {
            for q in 0..k {
                assert_eq!(p.get(j, q), quant::bf16_to_f32(w[j * k + q]), "packing ({j}, {q})");
            }
        }
        let mut want = vec![0.0f32; m * n];
        (scalar().dense_bf16_dot)(&mut want, &x, &p, &bias, m, 0.01);
        // The reference against an f64 sum of bf16 activations × bf16 weights.
        let mut exact = vec![0.0f32; m * n];
        for row in 0..m {
            for j in 0..n {
                let u = bias[j] as f64
                    + (0..k).map(|q| bf(x[row * k + q]) as f64 * quant::bf16_to_f32(w[j * k + q]) as f64).sum::<f64>();
                exact[row * n + j] = (if u > 0.0 { u } else { 0.01 * u }) as f32;
            }
        }
        assert_slices_close(&want, &exact, 1e-5, 1e-5, &format!("scalar dense_bf16_dot m{m} k{k} n{n}"));
        for s in &sets {
            let mut got = vec![f32::NAN; m * n];
            (s.dense_bf16_dot)(&mut got, &x, &p, &bias, m, 0.01);
            assert_slices_close(&got, &want, 1e-5, 1e-5, &format!("{} dense_bf16_dot m{m} k{k} n{n}", s.name));
        }
    }
}

#[test]
fn quantize_i8_is_bit_identical_to_scalar_on_every_set() {
    let mut r = rand::rngs::StdRng::seed_from_u64(21);
    let sets = simd_sets();
    for len in (0..=67).chain([200, 1001]) {
        let mut src = rnd(&mut r, len, -3.0, 3.0);
        // Exact ties (x.5 after scaling by 50), the clamps, and a NaN.
        for (i, v) in src.iter_mut().enumerate() {
            match i % 11 {
                0 => *v = (i as f32 - 20.5) / 50.0,
                1 => *v = 1e9,
                2 => *v = -1e9,
                3 if i == 3 => *v = f32::NAN,
                _ => {}
            }
        }
        let mut want = vec![0i8; len];
        (scalar().quantize_i8)(&mut want, &src, 50.0);
        for (i, (&q, &s)) in want.iter().zip(&src).enumerate() {
            let expect = if s.is_nan() { -127.0 } else { (s * 50.0).clamp(-127.0, 127.0).round_ties_even() };
            assert_eq!(q as f32, expect, "scalar quantize_i8 [{i}] of {s}");
        }
        for s in &sets {
            let mut got = vec![0i8; len];
            (s.quantize_i8)(&mut got, &src, 50.0);
            assert_eq!(got, want, "{} quantize_i8 len {len}", s.name);
        }
    }
}

#[test]
fn half_conversions_match_the_cpu_f16c_and_round_trip() {
    // Every f16 and bf16 value widens exactly and narrows back to itself (NaNs stay NaN).
    for h in 0..=u16::MAX {
        for kind in [HalfKind::Bf16, HalfKind::F16] {
            let f = kind.to_f32(h);
            if f.is_nan() {
                assert!(kind.to_f32(kind.from_f32(f)).is_nan());
            } else {
                assert_eq!(kind.from_f32(f), h, "{kind:?} {h:#06x} → {f} → back");
            }
        }
    }
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("f16c") {
        use std::arch::x86_64::*;
        // SAFETY: F16C detected just above; register-only conversions of one value.
        let hw_to = |x: f32| unsafe { _mm_extract_epi16::<0>(_mm_cvtps_ph::<0>(_mm_set1_ps(x))) as u16 };
        let hw_from = |h: u16| unsafe { _mm_cvtss_f32(_mm_cvtph_ps(_mm_set1_epi16(h as i16))) };
        for h in 0..=u16::MAX {
            let (a, b) = (quant::f16_to_f32(h), hw_from(h));
            assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "f16 {h:#06x}: {a} vs F16C {b}");
        }
        // f32 → f16 over a spread of bit patterns (every exponent, ties, subnormals, ∞, NaN).
        let mut bits: Vec<u32> = (0..u32::MAX / 7919).map(|i| i * 7919).collect();
        for e in 100u32..=145 {
            for m in [0u32, 1, 0xfff, 0x1000, 0x1001, 0x2000, 0x3000, 0x7f_e000, 0x7f_f000, 0x7f_ffff] {
                bits.push((e << 23) | m);
                bits.push(0x8000_0000 | (e << 23) | m);
            }
        }
        for b in bits {
            let x = f32::from_bits(b);
            let (ours, hw) = (quant::f32_to_f16(x), hw_to(x));
            if x.is_nan() {
                assert!(quant::f16_to_f32(ours).is_nan(), "NaN {b:#010x}");
            } else {
                assert_eq!(ours, hw, "f32 {x:e} ({b:#010x}): ours {ours:#06x}, F16C {hw:#06x}");
            }
        }
    }
}

#[test]
fn the_process_set_follows_the_f32_isa() {
    let (chosen, isa) = (quant::quant_kernels(), hepae_kernels::kernels().isa);
    match quant::quant_kernels_for(isa) {
        Some(best) => {
            assert!(std::ptr::eq(chosen, best), "{} chosen, {} is the best of {isa:?}", chosen.name, best.name)
        }
        None => assert!((chosen.isa as u8) < isa as u8),
    }
    assert!(quant::quant_sets().iter().any(|k| std::ptr::eq(*k, chosen)));
}
