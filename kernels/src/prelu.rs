//! The slope gradient of PReLU (y = x > 0 ? x : a·x): ∂L/∂a = Σ over x ≤ 0 of x·dy, over a
//! channel's values, in f64. The scalar reference is the specification, rounding included;
//! the SIMD body (one for AVX2 and AVX-512, instantiated by `crate::body::instantiate!`)
//! gives the same bits.

#[cfg(target_arch = "x86_64")]
use crate::simd::Simd;

/// Partial sums of [`PreluSlopeFn`] (two AVX-512 f64 vectors, four AVX2 ones).
pub const SLOPE_PARTIALS: usize = 16;

/// Σ over t with not x\[t] > 0 of x\[t]·dy\[t]: partial l (from +0) takes the terms t ≡ l
/// (mod 16) in order, each the exact f64 product added with one rounding (the terms where
/// x > 0 are +0); then the partials are added 0 to 15 in order, from 0. dy and x have equal
/// lengths.
pub type PreluSlopeFn = fn(dy: &[f32], x: &[f32]) -> f64;

fn check(dy: usize, x: usize) {
    if dy != x {
        panic!("hepae-kernels::prelu_slope_grad: slice lengths dy {dy}, x {x} (needs equal lengths)");
    }
}

/// The reference of [`PreluSlopeFn`].
pub fn prelu_slope_grad_scalar(dy: &[f32], x: &[f32]) -> f64 {
    check(dy.len(), x.len());
    let mut part = [0.0f64; SLOPE_PARTIALS];
    for (t, (&d, &v)) in dy.iter().zip(x).enumerate() {
        let (v, d) = if v > 0.0 { (0.0, 0.0) } else { (v, d) };
        part[t % SLOPE_PARTIALS] = (v as f64).mul_add(d as f64, part[t % SLOPE_PARTIALS]);
    }
    part.iter().fold(0.0, |s, &p| s + p)
}

/// The SIMD body of [`PreluSlopeFn`]: per W values, x and dy zeroed where x > 0 (a masked
/// load reads the tail as +0, which adds nothing: no partial is ever −0), multiplied and
/// added in f64 into the accumulator of their partials (16 / W accumulators, W partials
/// each); the 16 partials stored and added in order.
///
/// Safety: inlined into a function compiled for `S`'s instruction set.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn prelu_slope_grad<S: Simd>(dy: &[f32], x: &[f32]) -> f64 {
    check(dy.len(), x.len());
    // SAFETY: register-only; the ISA is enabled in the caller.
    let zero = unsafe { S::zero() };
    // The terms of m ≤ W values from `t` (x and dy zeroed where x > 0) added into `acc`.
    // Safety: m ≤ n − t; the ISA is enabled in the caller.
    let add = |acc: S::D, t: usize, m: usize| unsafe {
        // SAFETY: m values from t inside both slices (equal lengths, checked).
        let v = S::load(x.as_ptr().add(t), m);
        let d = S::load(dy.as_ptr().add(t), m);
        S::acc_add_prod(acc, S::select_pos(v, zero, v), S::select_pos(v, zero, d))
    };
    // SAFETY: `add` reads m ≤ n − t values from t (what `sum_partials` hands it).
    unsafe { sum_partials::<S>(x.len(), add) }
}

/// The 16 partials over n values, from +0: `add(acc, t, m)` adds the terms of the m ≤ W
/// values from t into the accumulator of their W partials, for t = 0, 16, 32, … (and t + W
/// with W = 8: one accumulator of W on AVX-512, two on AVX2, held in named locals, since an
/// indexed array of them lives in memory); then the partials stored and added 0 to 15 in
/// order, from 0.
///
/// Safety: inlined into a function compiled for `S`'s instruction set; `add` is safe to call
/// for m ≤ n − t.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn sum_partials<S: Simd>(n: usize, mut add: impl FnMut(S::D, usize, usize) -> S::D) -> f64 {
    let two = SLOPE_PARTIALS / S::W == 2;
    // SAFETY: register-only; the ISA is enabled in the caller.
    let (mut acc0, mut acc1) = unsafe { (S::acc_zero(), S::acc_zero()) };
    let mut t = 0;
    while t < n {
        acc0 = add(acc0, t, (n - t).min(S::W));
        if two && t + S::W < n {
            acc1 = add(acc1, t + S::W, (n - t - S::W).min(S::W));
        }
        t += SLOPE_PARTIALS;
    }
    let mut part = [0.0f64; SLOPE_PARTIALS];
    // SAFETY: W doubles from 0 (and from W, with two accumulators) inside `part`.
    unsafe {
        S::acc_store(acc0, part.as_mut_ptr());
        if two {
            S::acc_store(acc1, part.as_mut_ptr().add(S::W));
        }
    }
    part.iter().fold(0.0, |s, &p| s + p)
}

/// PReLU's backward in place after a forward fused into the layer before it (y = x > 0 ? x :
/// a·x with a > 0, so y has x's sign and x = y/a where x ≤ 0): returns Σ over t with not
/// y\[t] > 0 of y\[t]·d\[t] (d as on entry; 16 partials in order, exact f64 products, as
/// [`PreluSlopeFn`]): a times the slope gradient. And d\[t] ← slope·d\[t] at those t (the input
/// gradient; NaN y included). d and y have equal lengths.
pub type PreluBackwardFn = fn(d: &mut [f32], y: &[f32], slope: f32) -> f64;

fn check_backward(d: usize, y: usize) {
    if d != y {
        panic!("hepae-kernels::prelu_backward: slice lengths d {d}, y {y} (needs equal lengths)");
    }
}

/// The reference of [`PreluBackwardFn`].
pub fn prelu_backward_scalar(d: &mut [f32], y: &[f32], slope: f32) -> f64 {
    check_backward(d.len(), y.len());
    let mut part = [0.0f64; SLOPE_PARTIALS];
    for (t, (d, &v)) in d.iter_mut().zip(y).enumerate() {
        let neg = v.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater); // not v > 0 (NaN too)
        let (v, g) = if neg { (v, *d) } else { (0.0, 0.0) };
        part[t % SLOPE_PARTIALS] = (v as f64).mul_add(g as f64, part[t % SLOPE_PARTIALS]);
        if neg {
            *d *= slope;
        }
    }
    part.iter().fold(0.0, |s, &p| s + p)
}

/// The SIMD body of [`PreluBackwardFn`]: [`prelu_slope_grad`]'s over (d, y), each vector of d
/// stored back as a select of d and slope·d on y > 0 (a masked store of the tail).
///
/// Safety: inlined into a function compiled for `S`'s instruction set.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn prelu_backward<S: Simd>(d: &mut [f32], y: &[f32], slope: f32) -> f64 {
    check_backward(d.len(), y.len());
    let (dp, yp) = (d.as_mut_ptr(), y.as_ptr());
    // SAFETY: register-only; the ISA is enabled in the caller.
    let (zero, s) = unsafe { (S::zero(), S::splat(slope)) };
    // The terms of m ≤ W values from `t` added into `acc`, and those values of d rewritten.
    // Safety: m ≤ n − t; the ISA is enabled in the caller.
    let step = |acc: S::D, t: usize, m: usize| unsafe {
        // SAFETY: m values from t inside both slices (equal lengths, checked); `dp` is the
        // only access to d while this body runs.
        let v = S::load(yp.add(t), m);
        let g = S::load(dp.add(t), m);
        S::store(dp.add(t), S::select_pos(v, g, S::mul(g, s)), m);
        S::acc_add_prod(acc, S::select_pos(v, zero, v), S::select_pos(v, zero, g))
    };
    // SAFETY: `step` reads and writes m ≤ n − t values from t (what `sum_partials` hands it).
    unsafe { sum_partials::<S>(y.len(), step) }
}
