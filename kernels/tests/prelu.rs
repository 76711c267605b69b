//! `prelu_slope_grad`, PReLU's slope gradient Σ_{x ≤ 0} x·dy in f64: the reference is its
//! definition (16 partials in order, exact f64 products), every SIMD set gives its bits at
//! every length, and unequal lengths panic.

#[path = "support/sets.rs"]
mod sets;
use hepae_kernels::prelu::prelu_slope_grad_scalar;
use sets::{every_set, panic_message};

/// Values with both zeros, NaN, ±∞ (in dy only, so that the sum stays finite), subnormals,
/// positives and negatives.
fn inputs(n: usize) -> (Vec<f32>, Vec<f32>) {
    let x =
        (0..n).map(|i| [1.5, -2.25, 0.0, -0.0, 1e-40, -1e-40, 3.0, -0.75][i % 8] * (1.0 + (i % 5) as f32)).collect();
    let dy = (0..n)
        .map(|i| match i % 13 {
            0 => f32::INFINITY,
            1 => f32::NAN,
            k => (k as f32 - 6.0) / 3.0,
        })
        .collect();
    (dy, x)
}

#[test]
fn every_set_gives_the_references_bits_and_the_reference_is_its_definition() {
    for n in [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 1600] {
        let (mut dy, x) = inputs(n);
        // ∞ and NaN where x > 0 must not reach the sum; where x ≤ 0 the sum is finite only
        // without them, so keep them at positive x.
        for (d, &v) in dy.iter_mut().zip(&x) {
            if !d.is_finite() && v.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                *d = 0.5;
            }
        }
        let mut part = [0.0f64; 16];
        for (t, (&d, &v)) in dy.iter().zip(&x).enumerate() {
            if v.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                part[t % 16] += v as f64 * d as f64;
            }
        }
        let want: f64 = part.iter().fold(0.0, |s, &p| s + p);
        let got = prelu_slope_grad_scalar(&dy, &x);
        assert_eq!(got.to_bits(), want.to_bits(), "n {n}: {got} vs the definition's {want}");
        for k in every_set() {
            let simd = (k.prelu_slope_grad)(&dy, &x);
            assert_eq!(simd.to_bits(), got.to_bits(), "{:?} n {n}: {simd} vs {got}", k.isa);
        }
    }
    // A NaN input at x ≤ 0 reaches the sum on every set.
    for k in every_set() {
        assert!((k.prelu_slope_grad)(&[f32::NAN, 1.0], &[-1.0, -1.0]).is_nan(), "{:?}", k.isa);
    }
}

#[test]
fn unequal_lengths_panic_naming_the_kernel() {
    for k in every_set() {
        let f = k.prelu_slope_grad;
        let msg = panic_message(|| {
            f(&[1.0; 3], &[1.0; 4]);
        })
        .expect("must panic");
        assert!(msg.contains("prelu_slope_grad") && msg.contains("dy 3, x 4"), "{:?}: {msg}", k.isa);
    }
}

/// `prelu_backward` (after a fused forward, y = a·x where x ≤ 0): the returned sum is
/// Σ_{y ≤ 0} y·d in 16 partials in order with exact f64 products, d becomes slope·d where not
/// y > 0 (NaN included) and stays where y > 0; every set gives the reference's bits, the sum's
/// and d's, at every length.
#[test]
fn prelu_backward_every_set_gives_the_references_bits_and_the_reference_is_its_definition() {
    use hepae_kernels::prelu::prelu_backward_scalar;
    for n in [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 1600] {
        for slope in [0.25f32, 1.75, 3e-39] {
            let (mut d, y) = inputs(n);
            for (g, &v) in d.iter_mut().zip(&y) {
                if !g.is_finite() && v.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                    *g = 0.5;
                }
            }
            let mut part = [0.0f64; 16];
            let mut want_d = d.clone();
            for (t, (g, &v)) in want_d.iter_mut().zip(&y).enumerate() {
                if v.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                    part[t % 16] += v as f64 * *g as f64;
                    *g *= slope;
                }
            }
            let want: f64 = part.iter().fold(0.0, |s, &p| s + p);
            let mut got_d = d.clone();
            let got = prelu_backward_scalar(&mut got_d, &y, slope);
            assert_eq!(got.to_bits(), want.to_bits(), "n {n} slope {slope}: {got} vs the definition's {want}");
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got_d), bits(&want_d), "n {n} slope {slope}: d");
            for k in every_set() {
                let mut simd_d = d.clone();
                let simd = (k.prelu_backward)(&mut simd_d, &y, slope);
                assert_eq!(simd.to_bits(), got.to_bits(), "{:?} n {n}: {simd} vs {got}", k.isa);
                assert_eq!(bits(&simd_d), bits(&got_d), "{:?} n {n} slope {slope}: d", k.isa);
            }
        }
    }
    // A NaN output counts as not positive on every set: its d is scaled and reaches the sum.
    for k in every_set() {
        let mut d = [2.0, 4.0];
        assert!((k.prelu_backward)(&mut d, &[f32::NAN, 1.0], 0.5).is_nan(), "{:?}", k.isa);
        assert_eq!(d, [1.0, 4.0], "{:?}", k.isa);
    }
}

#[test]
fn prelu_backward_unequal_lengths_panic_naming_the_kernel() {
    for k in every_set() {
        let f = k.prelu_backward;
        let msg = panic_message(|| {
            f(&mut [1.0; 3], &[1.0; 4], 0.25);
        })
        .expect("must panic");
        assert!(msg.contains("prelu_backward") && msg.contains("d 3, y 4"), "{:?}: {msg}", k.isa);
    }
}
