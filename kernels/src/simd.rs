//! The vector operations the kernel bodies in [`crate::body`] are written in, one
//! implementation per instruction set (`avx2::Avx2`, `avx512::Avx512`).
//!
//! Every method is `unsafe` and `#[inline(always)]`: it executes its ISA's instructions, so it
//! may run only inside a function compiled with that ISA's `#[target_feature]` (the wrappers
//! `crate::body::instantiate!` emits), which `crate::kernels_for` hands out only after CPU
//! detection. Inlined there, each method compiles to the ISA's instructions.

/// One SIMD instruction set: `W` f32 lanes in `V`, and f64 sums in `D`.
pub(crate) trait Simd {
    /// f32 lanes per vector.
    const W: usize;
    /// A vector of `W` f32.
    type V: Copy;
    /// An f64 accumulator for sums of `V` lanes (the low and high halves kept apart).
    type D: Copy;

    unsafe fn zero() -> Self::V;
    unsafe fn splat(x: f32) -> Self::V;
    /// `len` lanes from `p` (lanes ≥ len read as 0; only `len` elements are touched).
    unsafe fn load(p: *const f32, len: usize) -> Self::V;
    /// As [`Simd::load`], with lanes ≥ len taken from `fill`.
    unsafe fn load_or(p: *const f32, len: usize, fill: Self::V) -> Self::V;
    /// Writes the first `len` lanes of `v` to `p`.
    unsafe fn store(p: *mut f32, v: Self::V, len: usize);
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn div(a: Self::V, b: Self::V) -> Self::V;
    /// a·b + c with one rounding.
    unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    unsafe fn sqrt(a: Self::V) -> Self::V;
    unsafe fn abs(a: Self::V) -> Self::V;
    /// Per lane: `if c > 0 { a } else { b }` (NaN and ±0 take `b`).
    unsafe fn select_pos(c: Self::V, a: Self::V, b: Self::V) -> Self::V;
    /// Per lane: `s` where a > 0, `neg_s` where a < 0, 0 where a = 0 (sign(a)·s).
    unsafe fn sign_step(a: Self::V, s: Self::V, neg_s: Self::V) -> Self::V;
    /// `v` with lanes ≥ len set to 0.
    unsafe fn keep(v: Self::V, len: usize) -> Self::V;
    /// eˣ per lane (Cephes expf polynomial, ~1 ulp), x clamped to the finite f32 range.
    unsafe fn exp(x: Self::V) -> Self::V;
    /// ln x per lane for positive normal x (Cephes logf polynomial).
    unsafe fn ln(x: Self::V) -> Self::V;
    unsafe fn acc_zero() -> Self::D;
    /// acc + every lane of `v`, in f64.
    unsafe fn acc_add(acc: Self::D, v: Self::V) -> Self::D;
    /// acc + every lane of `v`², in f64 (the square taken in f64).
    unsafe fn acc_add_sq(acc: Self::D, v: Self::V) -> Self::D;
    /// Σ of the accumulator's lanes.
    unsafe fn acc_sum(acc: Self::D) -> f64;
}
