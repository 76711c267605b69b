//! AVX2 reduced-precision kernels ([`crate::quant`]): 8 outputs per vector, up to 8 vectors
//! in registers. Two sets: AVX2+FMA+F16C (int8 by `vpmaddubsw` on |x| and `vpsignb`-adjusted
//! weights, then `vpmaddwd`) and, where the CPU has it, AVX-VNNI (`vpdpbusd` on x + 128,
//! minus the stored 128·Σw). The packed layouts are the AVX-512 ones (a 16-output block is
//! two 8-lane halves). Every `unsafe fn` here carries its `#[target_feature]`; `TABLE` and
//! `TABLE_VNNI` are handed out by `crate::quant::quant_sets` only after feature detection.

#![allow(clippy::missing_safety_doc)]

use crate::quant::{HalfKind, PackedHalf, PackedI8, QuantKernels};
use crate::quant_avx512::group;
use crate::quant_scalar::dense_lengths;
use std::arch::x86_64::*;

/// All-ones in lanes < len.
#[inline(always)]
unsafe fn tail_mask(len: usize) -> __m256i {
    // SAFETY: register-only AVX2 (the caller's target feature).
    unsafe { _mm256_cmpgt_epi32(_mm256_set1_epi32(len.min(8) as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)) }
}

/// u > 0 ? u : slope·u per lane.
#[inline(always)]
unsafe fn leaky(u: __m256, slope: __m256) -> __m256 {
    // SAFETY: register-only AVX (the caller's target feature).
    unsafe { _mm256_blendv_ps(_mm256_mul_ps(u, slope), u, _mm256_cmp_ps(u, _mm256_setzero_ps(), _CMP_GT_OQ)) }
}

/// 8 weights from `p` (8 u16 readable) widened to f32.
#[inline(always)]
unsafe fn widen<const BF: bool>(p: *const u16) -> __m256 {
    // SAFETY: the caller guarantees 8 readable u16 at `p`.
    unsafe {
        let h = _mm_loadu_si128(p as *const __m128i);
        if BF {
            _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(h)))
        } else {
            _mm256_cvtph_ps(h)
        }
    }
}

#[inline(always)]
unsafe fn half_block<const NV: usize, const BF: bool>(
    o: &mut [f32],
    xr: &[f32],
    w: &PackedHalf,
    bias: &[f32],
    j0: usize,
    slope: f32,
) {
    let (n, npad) = (w.n(), w.npad());
    // SAFETY: lanes j0 + 8v + [0, len) lie inside `o` and `bias` (n long); weight loads read
    // 8 u16 at j0 + 8v < n ≤ npad (npad a multiple of 16) inside a packed row.
    unsafe {
        let mut acc = [_mm256_setzero_ps(); NV];
        for (v, a) in acc.iter_mut().enumerate() {
            let j = j0 + 8 * v;
            *a = _mm256_maskload_ps(bias.as_ptr().add(j), tail_mask(n - j));
        }
        let wp = w.data().as_ptr();
        for (q, &xq) in xr.iter().enumerate() {
            let xb = _mm256_set1_ps(xq);
            let row = wp.add(q * npad + j0);
            for (v, a) in acc.iter_mut().enumerate() {
                *a = _mm256_fmadd_ps(xb, widen::<BF>(row.add(8 * v)), *a);
            }
        }
        let s = _mm256_set1_ps(slope);
        for (v, a) in acc.iter().enumerate() {
            let j = j0 + 8 * v;
            _mm256_maskstore_ps(o.as_mut_ptr().add(j), tail_mask(n - j), leaky(*a, s));
        }
    }
}

#[inline(always)]
unsafe fn dense_half_body<const BF: bool>(
    out: &mut [f32],
    x: &[f32],
    w: &PackedHalf,
    bias: &[f32],
    m: usize,
    slope: f32,
) {
    let (k, n) = (w.k(), w.n());
    for r in 0..m {
        let (o, xr) = (&mut out[r * n..(r + 1) * n], &x[r * k..(r + 1) * k]);
        let mut j0 = 0;
        while j0 < n {
            let nv = (n - j0).div_ceil(8).min(8);
            // SAFETY: shapes checked by the caller; the ISA is enabled in the caller.
            unsafe {
                match nv {
                    1 => half_block::<1, BF>(o, xr, w, bias, j0, slope),
                    2 => half_block::<2, BF>(o, xr, w, bias, j0, slope),
                    3 => half_block::<3, BF>(o, xr, w, bias, j0, slope),
                    4 => half_block::<4, BF>(o, xr, w, bias, j0, slope),
                    5 => half_block::<5, BF>(o, xr, w, bias, j0, slope),
                    6 => half_block::<6, BF>(o, xr, w, bias, j0, slope),
                    7 => half_block::<7, BF>(o, xr, w, bias, j0, slope),
                    _ => half_block::<8, BF>(o, xr, w, bias, j0, slope),
                }
            }
            j0 += nv * 8;
        }
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dense_half(out: &mut [f32], x: &[f32], w: &PackedHalf, bias: &[f32], m: usize, slope: f32) {
    dense_lengths("dense_half", out.len(), x.len(), &[("bias", bias.len())], m, w.k(), w.n());
    // SAFETY: lengths checked above; the features are enabled here.
    unsafe {
        match w.kind() {
            HalfKind::Bf16 => dense_half_body::<true>(out, x, w, bias, m, slope),
            HalfKind::F16 => dense_half_body::<false>(out, x, w, bias, m, slope),
        }
    }
}

/// One AVX-VNNI step: acc + Σ₄ u8(x + 128)·w per lane (only under the `avxvnni` feature).
#[inline(always)]
unsafe fn dpbusd(acc: __m256i, xu: __m256i, w: __m256i) -> __m256i {
    // SAFETY: called only from `dense_i8_vnni`'s body, compiled with `avxvnni`.
    unsafe { _mm256_dpbusd_avx_epi32(acc, xu, w) }
}

/// Output half-blocks (8 outputs each) [h0, h0 + NV) of one row.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn i8_block<const NV: usize, const VNNI: bool>(
    o: &mut [f32],
    xr: &[i8],
    w: &PackedI8,
    scale: &[f32],
    bias: &[f32],
    h0: usize,
    slope: f32,
) {
    let (n, nb) = (w.n(), w.blocks());
    // SAFETY: weight loads read 32 bytes at g·nb·64 + h·32 with h < 2·nb, inside the packed
    // data (kg·nb·64 bytes); lanes 8h + [0, len) lie inside `o`, `scale`, `bias` (n long) and
    // `colsum128` (nb·16). Register-only otherwise; the ISA is enabled in the caller.
    unsafe {
        let mut acc = [_mm256_setzero_si256(); NV];
        let wp = w.data().as_ptr();
        let ones = _mm256_set1_epi16(1);
        for g in 0..w.groups() {
            let xg = group(xr, g);
            let base = wp.add(g * nb * 64 + h0 * 32);
            if VNNI {
                let xu = _mm256_set1_epi32(xg ^ 0x8080_8080u32 as i32);
                for (v, a) in acc.iter_mut().enumerate() {
                    *a = dpbusd(*a, xu, _mm256_loadu_si256(base.add(32 * v) as *const __m256i));
                }
            } else {
                let xb = _mm256_set1_epi32(xg);
                let ax = _mm256_abs_epi8(xb);
                for (v, a) in acc.iter_mut().enumerate() {
                    let sw = _mm256_sign_epi8(_mm256_loadu_si256(base.add(32 * v) as *const __m256i), xb);
                    *a = _mm256_add_epi32(*a, _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sw), ones));
                }
            }
        }
        let s = _mm256_set1_ps(slope);
        for (v, a) in acc.iter().enumerate() {
            let j = (h0 + v) * 8;
            let mut ai = *a;
            if VNNI {
                ai = _mm256_sub_epi32(ai, _mm256_loadu_si256(w.colsum128().as_ptr().add(j) as *const __m256i));
            }
            let mask = tail_mask(n - j);
            let sc = _mm256_maskload_ps(scale.as_ptr().add(j), mask);
            let bi = _mm256_maskload_ps(bias.as_ptr().add(j), mask);
            let u = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(ai), sc), bi);
            _mm256_maskstore_ps(o.as_mut_ptr().add(j), mask, leaky(u, s));
        }
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn dense_i8_body<const VNNI: bool>(
    out: &mut [f32],
    x: &[i8],
    w: &PackedI8,
    scale: &[f32],
    bias: &[f32],
    m: usize,
    slope: f32,
) {
    let (k, n) = (w.k(), w.n());
    dense_lengths("dense_i8", out.len(), x.len(), &[("scale", scale.len()), ("bias", bias.len())], m, k, n);
    let nh = n.div_ceil(8); // half-blocks holding outputs
    for r in 0..m {
        let (o, xr) = (&mut out[r * n..(r + 1) * n], &x[r * k..(r + 1) * k]);
        let mut h0 = 0;
        while h0 < nh {
            let nv = (nh - h0).min(8);
            // SAFETY: lengths checked above; the ISA is enabled in the caller.
            unsafe {
                match nv {
                    1 => i8_block::<1, VNNI>(o, xr, w, scale, bias, h0, slope),
                    2 => i8_block::<2, VNNI>(o, xr, w, scale, bias, h0, slope),
                    3 => i8_block::<3, VNNI>(o, xr, w, scale, bias, h0, slope),
                    4 => i8_block::<4, VNNI>(o, xr, w, scale, bias, h0, slope),
                    5 => i8_block::<5, VNNI>(o, xr, w, scale, bias, h0, slope),
                    6 => i8_block::<6, VNNI>(o, xr, w, scale, bias, h0, slope),
                    7 => i8_block::<7, VNNI>(o, xr, w, scale, bias, h0, slope),
                    _ => i8_block::<8, VNNI>(o, xr, w, scale, bias, h0, slope),
                }
            }
            h0 += nv;
        }
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dense_i8(out: &mut [f32], x: &[i8], w: &PackedI8, scale: &[f32], bias: &[f32], m: usize, slope: f32) {
    // SAFETY: the features are enabled here; the body checks the lengths.
    unsafe { dense_i8_body::<false>(out, x, w, scale, bias, m, slope) }
}

#[target_feature(enable = "avx2,fma,f16c,avxvnni")]
pub unsafe fn dense_i8_vnni(
    out: &mut [f32],
    x: &[i8],
    w: &PackedI8,
    scale: &[f32],
    bias: &[f32],
    m: usize,
    slope: f32,
) {
    // SAFETY: the features are enabled here; the body checks the lengths.
    unsafe { dense_i8_body::<true>(out, x, w, scale, bias, m, slope) }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn quantize_i8(dst: &mut [i8], src: &[f32], inv_scale: f32) {
    crate::check::equal("quantize_i8", &[("dst", dst.len()), ("src", src.len())]);
    // SAFETY: each step reads and writes lanes [i, i + len) of `src` and `dst` (equal
    // lengths, checked); the partial last step goes through a stack buffer.
    unsafe {
        let (inv, lo, hi) = (_mm256_set1_ps(inv_scale), _mm256_set1_ps(-127.0), _mm256_set1_ps(127.0));
        let mut i = 0;
        while i < src.len() {
            let len = (src.len() - i).min(8);
            let v = _mm256_mul_ps(_mm256_maskload_ps(src.as_ptr().add(i), tail_mask(len)), inv);
            // max(v, −127) gives −127 for NaN v (the second operand), as the scalar code.
            let q = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi));
            let p16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256::<1>(q));
            let p8 = _mm_packs_epi16(p16, p16);
            if len == 8 {
                _mm_storel_epi64(dst.as_mut_ptr().add(i) as *mut __m128i, p8);
            } else {
                let mut tmp = [0i8; 16];
                _mm_storeu_si128(tmp.as_mut_ptr() as *mut __m128i, p8);
                dst[i..i + len].copy_from_slice(&tmp[..len]);
            }
            i += 8;
        }
    }
}

/// AVX2+FMA+F16C, as safe pointers (SAFETY: handed out only after detecting the features).
pub static TABLE: QuantKernels = QuantKernels {
    name: "avx2",
    isa: crate::Isa::Avx2,
    dense_half: |o, x, w, b, m, s| unsafe { dense_half(o, x, w, b, m, s) },
    dense_i8: |o, x, w, sc, b, m, s| unsafe { dense_i8(o, x, w, sc, b, m, s) },
    quantize_i8: |d, s, i| unsafe { quantize_i8(d, s, i) },
    dense_bf16_dot: crate::quant_scalar::dense_bf16_dot,
    batch_i8: |o, x, r, p, s| unsafe { crate::quant_batch::x86::batch_i8_avx2(o, x, r, p, s) },
    batch_bf16_dot: crate::quant_batch_bf16::forward_scalar,
};

/// AVX2 with AVX-VNNI int8 (SAFETY: handed out only after detecting the features).
pub static TABLE_VNNI: QuantKernels = QuantKernels {
    name: "avx2-vnni",
    isa: crate::Isa::Avx2,
    dense_half: |o, x, w, b, m, s| unsafe { dense_half(o, x, w, b, m, s) },
    dense_i8: |o, x, w, sc, b, m, s| unsafe { dense_i8_vnni(o, x, w, sc, b, m, s) },
    quantize_i8: |d, s, i| unsafe { quantize_i8(d, s, i) },
    dense_bf16_dot: crate::quant_scalar::dense_bf16_dot,
    batch_i8: |o, x, r, p, s| unsafe { crate::quant_batch::x86::batch_i8_avx2_vnni(o, x, r, p, s) },
    batch_bf16_dot: crate::quant_batch_bf16::forward_scalar,
};
