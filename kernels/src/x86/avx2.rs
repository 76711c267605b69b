//! AVX2 + FMA: `Simd` over 8 f32 lanes, and the kernel set instantiated from
//! `crate::body`. Ragged ends use `maskload`/`maskstore` with an integer lane mask. Every
//! public function here is `unsafe` with `#[target_feature(enable = "avx2,fma")]`:
//! `crate::kernels_for` hands them out only after detecting both features.

#![allow(clippy::missing_safety_doc)]

use crate::simd::Simd;
use std::arch::x86_64::*;

/// The AVX2 + FMA instruction set.
pub(crate) struct Avx2;

/// All-ones in lanes < len.
#[inline(always)]
unsafe fn tail_mask(len: usize) -> __m256i {
    // SAFETY: register-only AVX2 operations (module doc).
    unsafe {
        let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(len.min(8) as i32), idx)
    }
}

/// The low and high 4 lanes of `v` as f64.
#[inline(always)]
unsafe fn halves_f64(v: __m256) -> (__m256d, __m256d) {
    // SAFETY: register-only AVX operations (module doc).
    unsafe { (_mm256_cvtps_pd(_mm256_castps256_ps128(v)), _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))) }
}

// SAFETY (every `unsafe` block in this impl unless it says otherwise): register-only AVX2 and
// FMA operations, run only inside `#[target_feature(enable = "avx2,fma")]` functions.
impl Simd for Avx2 {
    const W: usize = 8;
    type V = __m256;
    type D = (__m256d, __m256d);

    #[inline(always)]
    unsafe fn zero() -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm256_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32, len: usize) -> __m256 {
        // SAFETY: a full load only when 8 elements are valid at `p`, else masked to `len`
        // (the caller's contract).
        // SAFETY: register-only (see the note above the impl).
        unsafe {
            if len >= 8 {
                _mm256_loadu_ps(p)
            } else {
                _mm256_maskload_ps(p, tail_mask(len))
            }
        }
    }
    #[inline(always)]
    unsafe fn load_or(p: *const f32, len: usize, fill: __m256) -> __m256 {
        // SAFETY: as `load`; the blend is register-only.
        unsafe { _mm256_blendv_ps(fill, Self::load(p, len), _mm256_castsi256_ps(tail_mask(len))) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256, len: usize) {
        // SAFETY: a full store only when 8 elements are valid at `p`, else masked to `len`
        // (the caller's contract).
        // SAFETY: register-only (see the note above the impl).
        unsafe {
            if len >= 8 {
                _mm256_storeu_ps(p, v)
            } else {
                _mm256_maskstore_ps(p, tail_mask(len), v)
            }
        }
    }
    #[inline(always)]
    unsafe fn add(a: __m256, b: __m256) -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: __m256, b: __m256) -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm256_sub_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m256, b: __m256) -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn div(a: __m256, b: __m256) -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm256_div_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn fmadd_tail(a: __m256, b: __m256, c: __m256, len: usize) -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm256_blendv_ps(c, _mm256_fmadd_ps(a, b, c), _mm256_castsi256_ps(tail_mask(len))) }
    }
    #[inline(always)]
    unsafe fn sqrt(a: __m256) -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm256_sqrt_ps(a) }
    }
    #[inline(always)]
    unsafe fn abs(a: __m256) -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff))) }
    }
    #[inline(always)]
    unsafe fn select_pos(c: __m256, a: __m256, b: __m256) -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm256_blendv_ps(b, a, _mm256_cmp_ps(c, _mm256_setzero_ps(), _CMP_GT_OQ)) }
    }
    #[inline(always)]
    unsafe fn sign_step(a: __m256, s: __m256, neg_s: __m256) -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe {
            let pos = _mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_GT_OQ);
            let neg = _mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_LT_OQ);
            _mm256_or_ps(_mm256_and_ps(pos, s), _mm256_and_ps(neg, neg_s))
        }
    }
    #[inline(always)]
    unsafe fn keep(v: __m256, len: usize) -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm256_and_ps(v, _mm256_castsi256_ps(tail_mask(len))) }
    }
    #[inline(always)]
    unsafe fn min(a: __m256, b: __m256) -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm256_min_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn max(a: __m256, b: __m256) -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm256_max_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn fnmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm256_fnmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn round(a: __m256) -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC) }
    }
    #[inline(always)]
    unsafe fn scale_pow2(y: __m256, n: __m256) -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe {
            // 2ⁿ for n in [−126, 128]: split as 2^(n/2)·2^(n − n/2) so both halves stay normal.
            let ni = _mm256_cvtps_epi32(n);
            let h = _mm256_srai_epi32(ni, 1);
            let p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, _mm256_set1_epi32(127)), 23));
            let p2 = _mm256_castsi256_ps(_mm256_slli_epi32(
                _mm256_add_epi32(_mm256_sub_epi32(ni, h), _mm256_set1_epi32(127)),
                23,
            ));
            _mm256_mul_ps(_mm256_mul_ps(y, p1), p2)
        }
    }
    #[inline(always)]
    unsafe fn frexp(x: __m256) -> (__m256, __m256) {
        // SAFETY: register-only (see the note above the impl).
        unsafe {
            // Read from the exponent and mantissa bits (x positive and normal).
            let bits = _mm256_castps_si256(x);
            let e = _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(126));
            let m = _mm256_castsi256_ps(_mm256_or_si256(
                _mm256_and_si256(bits, _mm256_set1_epi32(0x007f_ffff)),
                _mm256_set1_epi32(0x3f00_0000),
            ));
            (m, _mm256_cvtepi32_ps(e))
        }
    }
    #[inline(always)]
    unsafe fn acc_zero() -> Self::D {
        // SAFETY: register-only (see the note above the impl).
        unsafe { (_mm256_setzero_pd(), _mm256_setzero_pd()) }
    }
    #[inline(always)]
    unsafe fn acc_add(acc: Self::D, v: __m256) -> Self::D {
        // SAFETY: register-only (see the note above the impl).
        unsafe {
            let (lo, hi) = halves_f64(v);
            (_mm256_add_pd(acc.0, lo), _mm256_add_pd(acc.1, hi))
        }
    }
    #[inline(always)]
    unsafe fn acc_add_sq(acc: Self::D, v: __m256) -> Self::D {
        // SAFETY: register-only (see the note above the impl).
        unsafe {
            let (lo, hi) = halves_f64(v);
            (_mm256_fmadd_pd(lo, lo, acc.0), _mm256_fmadd_pd(hi, hi, acc.1))
        }
    }
    #[inline(always)]
    unsafe fn acc_sum(acc: Self::D) -> f64 {
        let mut a = [0.0f64; 4];
        // SAFETY: `a` has room for 4 doubles.
        unsafe { _mm256_storeu_pd(a.as_mut_ptr(), _mm256_add_pd(acc.0, acc.1)) };
        (a[0] + a[1]) + (a[2] + a[3])
    }
    #[inline(always)]
    unsafe fn even_lanes(a: __m256, b: __m256) -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe {
            // (a0 a2 b0 b2 | a4 a6 b4 b6), then the 64-bit pairs reordered to (a0 a2 a4 a6 b0 b2 b4 b6).
            let s = _mm256_shuffle_ps::<0b10_00_10_00>(a, b);
            _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(s)))
        }
    }
    #[inline(always)]
    unsafe fn spread_pairs(v: __m256) -> (__m256, __m256) {
        // SAFETY: register-only (see the note above the impl).
        unsafe {
            // (v0 v0 v1 v1 | v4 v4 v5 v5) and (v2 v2 v3 v3 | v6 v6 v7 v7), then their halves paired.
            let (l, h) = (_mm256_unpacklo_ps(v, v), _mm256_unpackhi_ps(v, v));
            (_mm256_permute2f128_ps::<0x20>(l, h), _mm256_permute2f128_ps::<0x31>(l, h))
        }
    }
    #[inline(always)]
    unsafe fn blend_even(old: __m256, new: __m256) -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm256_blend_ps::<0b0101_0101>(old, new) }
    }
    #[inline(always)]
    unsafe fn fold16(p: [__m256; 16]) -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe {
            // Two 8×8 transposes (partials 0..8, then 8..16): t[l] lane o = partial l of
            // output o, added l = 0..8 of the first, then of the second.
            let mut s = _mm256_setzero_ps();
            for h in 0..2 {
                for t in transpose8(&p[8 * h..8 * h + 8]) {
                    s = _mm256_add_ps(s, t);
                }
            }
            s
        }
    }
    #[inline(always)]
    unsafe fn transpose_block(src: *const f32, ss: usize, dst: *mut f32, ds: usize) {
        // SAFETY: the caller's contract (8 values from src + u·ss and to dst + v·ds, u, v <
        // 8); the ISA is enabled in the caller.
        unsafe {
            let mut r = [_mm256_setzero_ps(); 8];
            for (u, r) in r.iter_mut().enumerate() {
                *r = _mm256_loadu_ps(src.add(u * ss));
            }
            for (v, t) in transpose8(&r).iter().enumerate() {
                _mm256_storeu_ps(dst.add(v * ds), *t);
            }
        }
    }
    #[inline(always)]
    unsafe fn odd_lanes(a: __m256, b: __m256) -> __m256 {
        // SAFETY: register-only (see the note above the impl).
        unsafe {
            // (a1 a3 b1 b3 | a5 a7 b5 b7), then the 64-bit pairs reordered to (a1 a3 a5 a7 b1 b3 b5 b7).
            let s = _mm256_shuffle_ps::<0b11_01_11_01>(a, b);
            _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(s)))
        }
    }
    #[inline(always)]
    unsafe fn acc_add_prod(acc: Self::D, a: __m256, b: __m256) -> Self::D {
        // SAFETY: register-only (see the note above the impl).
        unsafe {
            let ((alo, ahi), (blo, bhi)) = (halves_f64(a), halves_f64(b));
            (_mm256_fmadd_pd(alo, blo, acc.0), _mm256_fmadd_pd(ahi, bhi, acc.1))
        }
    }
    #[inline(always)]
    unsafe fn acc_store(acc: Self::D, out: *mut f64) {
        // SAFETY: the caller's `out` has room for 8 doubles.
        unsafe {
            _mm256_storeu_pd(out, acc.0);
            _mm256_storeu_pd(out.add(4), acc.1);
        }
    }
}

crate::body::instantiate!("avx2,fma", crate::Isa::Avx2, Avx2);

/// An 8×8 transpose of r\[0..8]: t\[l] lane o = r\[o] lane l. Within 128-bit blocks k: pairs
/// of rows interleaved, then groups of four (u[4j + c] block k = column 4k + c of rows
/// 4j..4j + 3), then the blocks of the two groups gathered.
///
/// Safety: register-only; inlined into a function compiled for AVX2; r has 8 vectors.
#[inline(always)]
unsafe fn transpose8(r: &[__m256]) -> [__m256; 8] {
    // SAFETY: register-only; the ISA is enabled in the caller.
    unsafe {
        // (Plain loops: `array::from_fn` is not always inlined, and out of line its closures
        // lose the target feature.)
        let mut a = [_mm256_setzero_ps(); 8];
        for i in (0..8).step_by(2) {
            a[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
            a[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
        }
        let mut u = [_mm256_setzero_ps(); 8];
        for j in (0..8).step_by(4) {
            for h in 0..2 {
                let (x, y) = (a[j + h], a[j + h + 2]);
                u[j + 2 * h] = _mm256_shuffle_ps::<0x44>(x, y);
                u[j + 2 * h + 1] = _mm256_shuffle_ps::<0xEE>(x, y);
            }
        }
        let mut t = [_mm256_setzero_ps(); 8];
        for (l, t) in t.iter_mut().enumerate() {
            let c = l % 4;
            *t = if l < 4 {
                _mm256_permute2f128_ps::<0x20>(u[c], u[4 + c])
            } else {
                _mm256_permute2f128_ps::<0x31>(u[c], u[4 + c])
            };
        }
        t
    }
}
