//! AVX-512F: `Simd` over 16 f32 lanes, and the kernel set instantiated from
//! `crate::body`. Ragged ends use lane masks (`__mmask16`). Every public function here is
//! `unsafe` and `#[target_feature(enable = "avx512f")]`: `crate::kernels_for` hands them out
//! only after `is_x86_feature_detected!("avx512f")`.

#![allow(clippy::missing_safety_doc)]

use crate::simd::Simd;
use std::arch::x86_64::*;

/// The AVX-512F instruction set.
pub(crate) struct Avx512;

#[inline(always)]
fn tail_mask(len: usize) -> __mmask16 {
    if len >= 16 {
        0xffff
    } else {
        ((1u32 << len) - 1) as __mmask16
    }
}

/// The low and high 8 lanes of `v` as f64.
#[inline(always)]
unsafe fn halves_f64(v: __m512) -> (__m512d, __m512d) {
    // SAFETY: register-only AVX-512F operations (module doc).
    unsafe {
        let lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
        let hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
        (lo, hi)
    }
}

// SAFETY (every `unsafe` block in this impl unless it says otherwise): register-only
// AVX-512F operations, run only inside `#[target_feature(enable = "avx512f")]` functions.
impl Simd for Avx512 {
    const W: usize = 16;
    type V = __m512;
    type D = (__m512d, __m512d);

    #[inline(always)]
    unsafe fn zero() -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm512_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32, len: usize) -> __m512 {
        // SAFETY: a full load only when 16 elements are valid at `p`, else masked to `len`
        // (the caller's contract). (A masked load stalls on some cores where a plain one does
        // not, so a whole vector takes the plain one.)
        unsafe {
            if len >= 16 {
                _mm512_loadu_ps(p)
            } else {
                _mm512_maskz_loadu_ps(tail_mask(len), p)
            }
        }
    }
    #[inline(always)]
    unsafe fn load_or(p: *const f32, len: usize, fill: __m512) -> __m512 {
        // SAFETY: the mask covers only the `len` valid elements at `p` (the caller's contract).
        unsafe { _mm512_mask_loadu_ps(fill, tail_mask(len), p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512, len: usize) {
        // SAFETY: a full store only when 16 elements are valid at `p`, else masked to `len`
        // (the caller's contract).
        unsafe {
            if len >= 16 {
                _mm512_storeu_ps(p, v)
            } else {
                _mm512_mask_storeu_ps(p, tail_mask(len), v)
            }
        }
    }
    #[inline(always)]
    unsafe fn add(a: __m512, b: __m512) -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: __m512, b: __m512) -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm512_sub_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m512, b: __m512) -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm512_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn div(a: __m512, b: __m512) -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm512_div_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn fmadd_tail(a: __m512, b: __m512, c: __m512, len: usize) -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm512_mask3_fmadd_ps(a, b, c, tail_mask(len)) }
    }
    #[inline(always)]
    unsafe fn sqrt(a: __m512) -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm512_sqrt_ps(a) }
    }
    #[inline(always)]
    unsafe fn abs(a: __m512) -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm512_abs_ps(a) }
    }
    #[inline(always)]
    unsafe fn select_pos(c: __m512, a: __m512, b: __m512) -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm512_mask_blend_ps(_mm512_cmp_ps_mask(c, _mm512_setzero_ps(), _CMP_GT_OQ), b, a) }
    }
    #[inline(always)]
    unsafe fn sign_step(a: __m512, s: __m512, neg_s: __m512) -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe {
            let pos = _mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_GT_OQ);
            let neg = _mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_LT_OQ);
            _mm512_mask_blend_ps(pos, _mm512_maskz_mov_ps(neg, neg_s), s)
        }
    }
    #[inline(always)]
    unsafe fn keep(v: __m512, len: usize) -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm512_maskz_mov_ps(tail_mask(len), v) }
    }
    #[inline(always)]
    unsafe fn min(a: __m512, b: __m512) -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm512_min_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn max(a: __m512, b: __m512) -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm512_max_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn fnmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm512_fnmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn round(a: __m512) -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC) }
    }
    #[inline(always)]
    unsafe fn scale_pow2(y: __m512, n: __m512) -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm512_scalef_ps(y, n) }
    }
    #[inline(always)]
    unsafe fn frexp(x: __m512) -> (__m512, __m512) {
        // SAFETY: register-only (see the note above the impl).
        unsafe {
            // getexp gives floor(log₂ x) (mantissa in [1, 2)); the [0.5, 1) form has one more.
            let e = _mm512_add_ps(_mm512_getexp_ps(x), _mm512_set1_ps(1.0));
            (_mm512_getmant_ps(x, _MM_MANT_NORM_P5_1, _MM_MANT_SIGN_SRC), e)
        }
    }
    #[inline(always)]
    unsafe fn acc_zero() -> Self::D {
        // SAFETY: register-only (see the note above the impl).
        unsafe { (_mm512_setzero_pd(), _mm512_setzero_pd()) }
    }
    #[inline(always)]
    unsafe fn acc_add(acc: Self::D, v: __m512) -> Self::D {
        // SAFETY: register-only (see the note above the impl).
        unsafe {
            let (lo, hi) = halves_f64(v);
            (_mm512_add_pd(acc.0, lo), _mm512_add_pd(acc.1, hi))
        }
    }
    #[inline(always)]
    unsafe fn acc_add_sq(acc: Self::D, v: __m512) -> Self::D {
        // SAFETY: register-only (see the note above the impl).
        unsafe {
            let (lo, hi) = halves_f64(v);
            (_mm512_fmadd_pd(lo, lo, acc.0), _mm512_fmadd_pd(hi, hi, acc.1))
        }
    }
    #[inline(always)]
    unsafe fn acc_sum(acc: Self::D) -> f64 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm512_reduce_add_pd(_mm512_add_pd(acc.0, acc.1)) }
    }
    #[inline(always)]
    unsafe fn even_lanes(a: __m512, b: __m512) -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe {
            let idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            _mm512_permutex2var_ps(a, idx, b)
        }
    }
    #[inline(always)]
    unsafe fn spread_pairs(v: __m512) -> (__m512, __m512) {
        // SAFETY: register-only (see the note above the impl).
        unsafe {
            let lo = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
            let hi = _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
            (_mm512_permutexvar_ps(lo, v), _mm512_permutexvar_ps(hi, v))
        }
    }
    #[inline(always)]
    unsafe fn blend_even(old: __m512, new: __m512) -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { _mm512_mask_blend_ps(0x5555, old, new) }
    }
    #[inline(always)]
    unsafe fn fold16(p: [__m512; 16]) -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe { transpose16(p).iter().fold(_mm512_setzero_ps(), |s, &v| _mm512_add_ps(s, v)) }
    }
    #[inline(always)]
    unsafe fn transpose_block(src: *const f32, ss: usize, dst: *mut f32, ds: usize) {
        // SAFETY: the caller's contract (16 values from src + u·ss and to dst + v·ds, u, v <
        // 16); the ISA is enabled in the caller.
        unsafe {
            let mut r = [_mm512_setzero_ps(); 16];
            for (u, r) in r.iter_mut().enumerate() {
                *r = _mm512_loadu_ps(src.add(u * ss));
            }
            for (v, t) in transpose16(r).iter().enumerate() {
                _mm512_storeu_ps(dst.add(v * ds), *t);
            }
        }
    }
    #[inline(always)]
    unsafe fn odd_lanes(a: __m512, b: __m512) -> __m512 {
        // SAFETY: register-only (see the note above the impl).
        unsafe {
            let idx = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
            _mm512_permutex2var_ps(a, idx, b)
        }
    }
    #[inline(always)]
    unsafe fn acc_add_prod(acc: Self::D, a: __m512, b: __m512) -> Self::D {
        // SAFETY: register-only (see the note above the impl).
        unsafe {
            let ((alo, ahi), (blo, bhi)) = (halves_f64(a), halves_f64(b));
            (_mm512_fmadd_pd(alo, blo, acc.0), _mm512_fmadd_pd(ahi, bhi, acc.1))
        }
    }
    #[inline(always)]
    unsafe fn acc_store(acc: Self::D, out: *mut f64) {
        // SAFETY: the caller's `out` has room for 16 doubles.
        unsafe {
            _mm512_storeu_pd(out, acc.0);
            _mm512_storeu_pd(out.add(8), acc.1);
        }
    }
}

crate::body::instantiate!("avx512f", crate::Isa::Avx512, Avx512);

/// A 16×16 transpose: t\[l] lane o = p\[o] lane l. Within 128-bit blocks k: pairs of rows
/// interleaved, then groups of four (b[4j + c] block k = column 4k + c of rows 4j..4j + 3),
/// then the blocks of the four groups gathered. (Plain loops: `array::from_fn` is not always
/// inlined, and out of line its closures lose the target feature.)
///
/// Safety: register-only; inlined into a function compiled for AVX-512F.
#[inline(always)]
unsafe fn transpose16(p: [__m512; 16]) -> [__m512; 16] {
    // SAFETY: register-only; the ISA is enabled in the caller.
    unsafe {
        let mut a = [_mm512_setzero_ps(); 16];
        for i in (0..16).step_by(2) {
            a[i] = _mm512_unpacklo_ps(p[i], p[i + 1]);
            a[i + 1] = _mm512_unpackhi_ps(p[i], p[i + 1]);
        }
        let mut b = [_mm512_setzero_ps(); 16];
        for j in (0..16).step_by(4) {
            for h in 0..2 {
                let (x, y) = (_mm512_castps_pd(a[j + h]), _mm512_castps_pd(a[j + h + 2]));
                b[j + 2 * h] = _mm512_castpd_ps(_mm512_unpacklo_pd(x, y));
                b[j + 2 * h + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(x, y));
            }
        }
        let mut t = [_mm512_setzero_ps(); 16];
        for c in 0..4 {
            let p0 = _mm512_shuffle_f32x4::<0x44>(b[c], b[4 + c]);
            let q0 = _mm512_shuffle_f32x4::<0xEE>(b[c], b[4 + c]);
            let p1 = _mm512_shuffle_f32x4::<0x44>(b[8 + c], b[12 + c]);
            let q1 = _mm512_shuffle_f32x4::<0xEE>(b[8 + c], b[12 + c]);
            t[c] = _mm512_shuffle_f32x4::<0x88>(p0, p1);
            t[4 + c] = _mm512_shuffle_f32x4::<0xDD>(p0, p1);
            t[8 + c] = _mm512_shuffle_f32x4::<0x88>(q0, q1);
            t[12 + c] = _mm512_shuffle_f32x4::<0xDD>(q0, q1);
        }
        t
    }
}
