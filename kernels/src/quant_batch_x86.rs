//! The x86-64 [`QSimd`] sets of the int8 batch chain: AVX2 (8 outputs a vector) and AVX-512BW
//! (16), each with `VNNI` = false (`vpmaddubsw` on |x| and sign-adjusted weights, then
//! `vpmaddwd`) or true (`vpdpbusd` on x + 128, starting from the stored −128·Σw), and the four
//! `#[target_feature]` wrappers the quant tables point to (after CPU detection).

#![allow(clippy::missing_safety_doc)]

use super::simd_body::{forward_simd, QSimd};
use super::{QuantBatchPack, QuantBatchScratch};
use std::arch::x86_64::*;

/// AVX2 (+ AVX-VNNI when `VNNI`).
pub(crate) struct Avx2<const VNNI: bool>;
/// AVX-512F+BW (+ AVX-512 VNNI when `VNNI`).
pub(crate) struct Avx512<const VNNI: bool>;

// SAFETY (every method below): register-only, or loads/stores of the stated number of
// elements at the caller's pointers (the `QSimd` contract); compiled only inlined into the
// wrappers at the end of this file, which enable the set's features.
impl<const VNNI: bool> QSimd for Avx2<VNNI> {
    const L: usize = 8;
    type I = __m256i;
    type F = __m256;
    #[inline(always)]
    unsafe fn izero() -> __m256i {
        // SAFETY: as the impl's note.
        unsafe { _mm256_setzero_si256() }
    }
    #[inline(always)]
    unsafe fn acc0(p: *const i32) -> __m256i {
        // SAFETY: as the impl's note (8 values at p).
        unsafe {
            if VNNI {
                _mm256_loadu_si256(p as *const __m256i)
            } else {
                Self::izero()
            }
        }
    }
    #[inline(always)]
    unsafe fn bcast(p: *const i8) -> __m256i {
        // SAFETY: as the impl's note (4 bytes at p).
        unsafe { _mm256_set1_epi32((p as *const i32).read_unaligned()) }
    }
    #[inline(always)]
    unsafe fn wload(p: *const i8) -> __m256i {
        // SAFETY: as the impl's note (32 bytes at p).
        unsafe { _mm256_loadu_si256(p as *const __m256i) }
    }
    #[inline(always)]
    unsafe fn dot(acc: __m256i, x: __m256i, w: __m256i) -> __m256i {
        // SAFETY: as the impl's note (`avxvnni` enabled in the VNNI wrapper).
        unsafe {
            if VNNI {
                _mm256_dpbusd_avx_epi32(acc, x, w)
            } else {
                let sw = _mm256_sign_epi8(w, x);
                let p = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(x), sw), _mm256_set1_epi16(1));
                _mm256_add_epi32(acc, p)
            }
        }
    }
    #[inline(always)]
    unsafe fn finish(acc: __m256i, sc: *const f32, bi: *const f32, slope: __m256) -> __m256 {
        // SAFETY: as the impl's note (8 values at each pointer).
        unsafe {
            let u = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_loadu_ps(sc)), _mm256_loadu_ps(bi));
            _mm256_blendv_ps(_mm256_mul_ps(u, slope), u, _mm256_cmp_ps(u, _mm256_setzero_ps(), _CMP_GT_OQ))
        }
    }
    #[inline(always)]
    unsafe fn fsplat(v: f32) -> __m256 {
        // SAFETY: as the impl's note.
        unsafe { _mm256_set1_ps(v) }
    }
    #[inline(always)]
    unsafe fn fload(p: *const f32, len: usize) -> __m256 {
        // SAFETY: as the impl's note (masked: only `len` lanes are read).
        unsafe { _mm256_maskload_ps(p, mask8(len)) }
    }
    #[inline(always)]
    unsafe fn fstore(p: *mut f32, v: __m256, len: usize) {
        // SAFETY: as the impl's note (masked: only `len` lanes are written).
        unsafe { _mm256_maskstore_ps(p, mask8(len), v) }
    }
    #[inline(always)]
    unsafe fn store_q(p: *mut i8, u: __m256, inv: __m256) {
        // SAFETY: as the impl's note (8 bytes at p).
        unsafe {
            // max(v, −127) gives −127 for NaN v (the second operand), as the scalar code.
            let v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(u, inv), _mm256_set1_ps(-127.0)), _mm256_set1_ps(127.0));
            let q = _mm256_cvtps_epi32(v);
            let p16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256::<1>(q));
            let b = _mm_packs_epi16(p16, p16);
            _mm_storel_epi64(p as *mut __m128i, if VNNI { _mm_xor_si128(b, _mm_set1_epi8(-128)) } else { b });
        }
    }
}

/// All-ones in lanes < len (len ≤ 8).
#[inline(always)]
unsafe fn mask8(len: usize) -> __m256i {
    // SAFETY: register-only AVX2 (the caller's target feature).
    unsafe { _mm256_cmpgt_epi32(_mm256_set1_epi32(len as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)) }
}

#[inline(always)]
fn mask16(len: usize) -> __mmask16 {
    if len >= 16 {
        0xffff
    } else {
        ((1u32 << len) - 1) as __mmask16
    }
}

impl<const VNNI: bool> QSimd for Avx512<VNNI> {
    const L: usize = 16;
    type I = __m512i;
    type F = __m512;
    #[inline(always)]
    unsafe fn izero() -> __m512i {
        // SAFETY: as the impl's note above `Avx2`'s.
        unsafe { _mm512_setzero_si512() }
    }
    #[inline(always)]
    unsafe fn acc0(p: *const i32) -> __m512i {
        // SAFETY: as the impl's note (16 values at p).
        unsafe {
            if VNNI {
                _mm512_loadu_si512(p as *const _)
            } else {
                Self::izero()
            }
        }
    }
    #[inline(always)]
    unsafe fn bcast(p: *const i8) -> __m512i {
        // SAFETY: as the impl's note (4 bytes at p).
        unsafe { _mm512_set1_epi32((p as *const i32).read_unaligned()) }
    }
    #[inline(always)]
    unsafe fn wload(p: *const i8) -> __m512i {
        // SAFETY: as the impl's note (64 bytes at p).
        unsafe { _mm512_loadu_si512(p as *const _) }
    }
    #[inline(always)]
    unsafe fn dot(acc: __m512i, x: __m512i, w: __m512i) -> __m512i {
        // SAFETY: as the impl's note (`avx512vnni` enabled in the VNNI wrapper).
        unsafe {
            if VNNI {
                _mm512_dpbusd_epi32(acc, x, w)
            } else {
                let sw = _mm512_mask_sub_epi8(w, _mm512_movepi8_mask(x), _mm512_setzero_si512(), w);
                let p = _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_abs_epi8(x), sw), _mm512_set1_epi16(1));
                _mm512_add_epi32(acc, p)
            }
        }
    }
    #[inline(always)]
    unsafe fn finish(acc: __m512i, sc: *const f32, bi: *const f32, slope: __m512) -> __m512 {
        // SAFETY: as the impl's note (16 values at each pointer).
        unsafe {
            let u = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_loadu_ps(sc)), _mm512_loadu_ps(bi));
            _mm512_mask_blend_ps(_mm512_cmp_ps_mask(u, _mm512_setzero_ps(), _CMP_GT_OQ), _mm512_mul_ps(u, slope), u)
        }
    }
    #[inline(always)]
    unsafe fn fsplat(v: f32) -> __m512 {
        // SAFETY: as the impl's note.
        unsafe { _mm512_set1_ps(v) }
    }
    #[inline(always)]
    unsafe fn fload(p: *const f32, len: usize) -> __m512 {
        // SAFETY: as the impl's note (masked: only `len` lanes are read).
        unsafe { _mm512_maskz_loadu_ps(mask16(len), p) }
    }
    #[inline(always)]
    unsafe fn fstore(p: *mut f32, v: __m512, len: usize) {
        // SAFETY: as the impl's note (masked: only `len` lanes are written).
        unsafe { _mm512_mask_storeu_ps(p, mask16(len), v) }
    }
    #[inline(always)]
    unsafe fn store_q(p: *mut i8, u: __m512, inv: __m512) {
        // SAFETY: as the impl's note (16 bytes at p).
        unsafe {
            // max(v, −127) gives −127 for NaN v (the second operand), as the scalar code.
            let v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(u, inv), _mm512_set1_ps(-127.0)), _mm512_set1_ps(127.0));
            let b = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v));
            _mm_storeu_si128(p as *mut __m128i, if VNNI { _mm_xor_si128(b, _mm_set1_epi8(-128)) } else { b });
        }
    }
}

/// Register tiles (rows × vectors, the best of those tried on Zen 5): AVX2 4 × 2, AVX-VNNI
/// 6 × 2 (12 of 16 ymm accumulate), AVX-512 4 × 4 (16 of 32).
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn batch_i8_avx2(o: &mut [f32], x: &[f32], rows: usize, p: &QuantBatchPack, s: &mut QuantBatchScratch) {
    // SAFETY: the features are enabled here; the body checks the lengths.
    unsafe { forward_simd::<Avx2<false>, 4, 2>(o, x, rows, p, s) }
}

#[target_feature(enable = "avx2,fma,f16c,avxvnni")]
pub unsafe fn batch_i8_avx2_vnni(o: &mut [f32], x: &[f32], rows: usize, p: &QuantBatchPack, s: &mut QuantBatchScratch) {
    // SAFETY: the features are enabled here; the body checks the lengths.
    unsafe { forward_simd::<Avx2<true>, 6, 2>(o, x, rows, p, s) }
}

#[target_feature(enable = "avx512f,avx512bw")]
pub unsafe fn batch_i8_avx512(o: &mut [f32], x: &[f32], rows: usize, p: &QuantBatchPack, s: &mut QuantBatchScratch) {
    // SAFETY: the features are enabled here; the body checks the lengths.
    unsafe { forward_simd::<Avx512<false>, 4, 4>(o, x, rows, p, s) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub unsafe fn batch_i8_avx512_vnni(
    o: &mut [f32],
    x: &[f32],
    rows: usize,
    p: &QuantBatchPack,
    s: &mut QuantBatchScratch,
) {
    // SAFETY: the features are enabled here; the body checks the lengths.
    unsafe { forward_simd::<Avx512<true>, 4, 4>(o, x, rows, p, s) }
}
