//! The vector operations the kernel bodies in [`crate::body`] are written in, one
//! implementation per instruction set (`avx2::Avx2`, `avx512::Avx512`).
//!
//! Every method is `unsafe` and `#[inline(always)]`: it executes its ISA's instructions, so it
//! may run only inside a function compiled with that ISA's `#[target_feature]` (the wrappers
//! `crate::body::instantiate!` emits), which `crate::kernels_for` hands out only after CPU
//! detection. Inlined there, each method compiles to the ISA's instructions.
//!
//! The transcendental functions [`exp`] and [`ln`] are written once, below, over these
//! primitives; each instruction set supplies only the primitives.

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
    /// Per lane: a·b + c with one rounding in lanes < len, `c` unchanged (no FMA) in the others.
    unsafe fn fmadd_tail(a: Self::V, b: Self::V, c: Self::V, len: usize) -> Self::V;
    unsafe fn sqrt(a: Self::V) -> Self::V;
    unsafe fn abs(a: Self::V) -> Self::V;
    /// Per lane: `if c > 0 { a } else { b }` (NaN and ±0 take `b`).
    unsafe fn select_pos(c: Self::V, a: Self::V, b: Self::V) -> Self::V;
    /// Per lane: `s` where a > 0, `neg_s` where a < 0, 0 where a = 0 (sign(a)·s).
    unsafe fn sign_step(a: Self::V, s: Self::V, neg_s: Self::V) -> Self::V;
    /// `v` with lanes ≥ len set to 0.
    unsafe fn keep(v: Self::V, len: usize) -> Self::V;
    unsafe fn min(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    /// c − a·b with one rounding.
    unsafe fn fnmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// Each lane rounded to the nearest integer (ties to even).
    unsafe fn round(a: Self::V) -> Self::V;
    /// y·2ⁿ per lane, for integral n in [−126, 128] (the range [`exp`] needs), exact up to
    /// the one rounding of a subnormal result.
    unsafe fn scale_pow2(y: Self::V, n: Self::V) -> Self::V;
    /// (m, e) with x = m·2^e, m in [0.5, 1), for positive normal x.
    unsafe fn frexp(x: Self::V) -> (Self::V, Self::V);
    unsafe fn acc_zero() -> Self::D;
    /// acc + every lane of `v`, in f64.
    unsafe fn acc_add(acc: Self::D, v: Self::V) -> Self::D;
    /// acc + every lane of `v`², in f64 (the square taken in f64).
    unsafe fn acc_add_sq(acc: Self::D, v: Self::V) -> Self::D;
    /// Σ of the accumulator's lanes.
    unsafe fn acc_sum(acc: Self::D) -> f64;
    /// The even lanes of the 2·W lanes a | b: (a₀, a₂, …, b₀, b₂, …) (a stride-2 gather).
    unsafe fn even_lanes(a: Self::V, b: Self::V) -> Self::V;
    /// Each lane of `v` twice: ((v₀, v₀, v₁, v₁, …) of the low half, the same of the high
    /// half) (the inverse of [`Simd::even_lanes`] on the even lanes).
    unsafe fn spread_pairs(v: Self::V) -> (Self::V, Self::V);
    /// `new` in the even lanes, `old` in the odd ones.
    unsafe fn blend_even(old: Self::V, new: Self::V) -> Self::V;
    /// The sums of W outputs' 16 partial sums each, lane o = ((0 + s₀) + s₁) + … + s₁₅ of
    /// output o, in that order with one rounding per add. `p` holds the partials: on 16
    /// lanes p\[o] is output o's; on 8 lanes p\[o] its s₀..s₇ and p\[8 + o] its s₈..s₁₅.
    /// (A transpose, then vertical adds.)
    unsafe fn fold16(p: [Self::V; 16]) -> Self::V;
    /// A W×W block transposed: dst[v·ds + u] = src[u·ss + v] for u, v < W (W values read
    /// from each src + u·ss, W written to each dst + v·ds).
    unsafe fn transpose_block(src: *const f32, ss: usize, dst: *mut f32, ds: usize);
    /// The odd lanes of the 2·W lanes a | b: (a₁, a₃, …, b₁, b₃, …) (with
    /// [`Simd::even_lanes`], a stride-2 deinterleave).
    unsafe fn odd_lanes(a: Self::V, b: Self::V) -> Self::V;
    /// acc + every lane of a·b, the product taken in f64 (exact for f32 inputs), one rounding.
    unsafe fn acc_add_prod(acc: Self::D, a: Self::V, b: Self::V) -> Self::D;
    /// The accumulator's W lanes, lane l at `out + l` (low half first).
    unsafe fn acc_store(acc: Self::D, out: *mut f64);
}

/// eˣ per lane (the Cephes expf polynomial, ~1 ulp), x clamped to the finite f32 range
/// [−87.34, 88.72]: x = n·ln 2 + r with n = round(x·log₂e), |r| ≤ ½ln 2 (ln 2 split in two
/// parts so that r is exact), eʳ by a degree-7 polynomial, then scaled by 2ⁿ.
///
/// Safety: as every [`Simd`] method (inlined into a function compiled for `S`'s ISA).
#[inline(always)]
pub(crate) unsafe fn exp<S: Simd>(x: S::V) -> S::V {
    // SAFETY: register-only primitives of `S`; the ISA is enabled in the caller.
    unsafe {
        let x = S::min(S::max(x, S::splat(-87.33654)), S::splat(88.72283));
        let n = S::round(S::mul(x, S::splat(std::f32::consts::LOG2_E)));
        let r = S::fnmadd(n, S::splat(0.693_359_4), x);
        let r = S::fnmadd(n, S::splat(-2.121_944_4e-4), r);
        let mut y = S::splat(1.987_569_1e-4);
        for c in [1.398_2e-3f32, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 0.5] {
            y = S::fmadd(y, r, S::splat(c));
        }
        let r2 = S::mul(r, r);
        let y = S::add(S::fmadd(y, r2, r), S::splat(1.0));
        S::scale_pow2(y, n)
    }
}

/// ln x per lane for positive normal x (the Cephes logf polynomial): x = m·2^e with m in
/// [1/√2, √2) (m < 1/√2 is doubled and e lowered by one), ln m = ln(1 + t) by a degree-9
/// polynomial in t = m − 1, and e·ln 2 added in two parts.
///
/// Safety: as every [`Simd`] method (inlined into a function compiled for `S`'s ISA).
#[inline(always)]
pub(crate) unsafe fn ln<S: Simd>(x: S::V) -> S::V {
    // SAFETY: register-only primitives of `S`; the ISA is enabled in the caller.
    unsafe {
        let one = S::splat(1.0);
        let (m, e) = S::frexp(x);
        // m < 1/√2 ⇔ 1/√2 − m > 0 (exact for floats; NaN keeps m and e).
        let small = S::sub(S::splat(std::f32::consts::FRAC_1_SQRT_2), m);
        let e = S::select_pos(small, S::sub(e, one), e);
        let m = S::select_pos(small, S::add(m, m), m);
        let t = S::sub(m, one);
        let z = S::mul(t, t);
        let mut y = S::splat(7.037_683_6e-2);
        for c in [
            -1.151_461e-1f32,
            1.167_699_9e-1,
            -1.242_014_1e-1,
            1.424_932_3e-1,
            -1.666_805_8e-1,
            2.000_071_5e-1,
            -2.499_999_4e-1,
            3.333_333e-1,
        ] {
            y = S::fmadd(y, t, S::splat(c));
        }
        let y = S::mul(S::mul(y, t), z);
        let y = S::fmadd(e, S::splat(-2.121_944_4e-4), y);
        let y = S::fnmadd(z, S::splat(0.5), y);
        let t = S::add(t, y);
        S::fmadd(e, S::splat(0.693_359_4), t)
    }
}
