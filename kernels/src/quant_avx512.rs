//! AVX-512 reduced-precision kernels ([`crate::quant`]): 16 outputs per vector, up to 8
//! vectors (128 outputs) in registers while the inputs stream past. Two sets: AVX-512F+BW
//! (int8 by `vpmaddubsw` on |x| and sign-adjusted weights, then `vpmaddwd`) and, where the CPU
//! has it, AVX-512 VNNI (`vpdpbusd` on x + 128, minus the stored 128·Σw), and with AVX-512
//! BF16 as well, bf16 × bf16 dot products (`vdpbf16ps`). Every `unsafe fn`
//! here carries its `#[target_feature]`; `TABLE` and `TABLE_VNNI` are handed out by
//! `crate::quant::quant_sets` only after feature detection.

#![allow(clippy::missing_safety_doc)]

use crate::quant::{f32_to_bf16, HalfKind, PackedBf16Pairs, PackedHalf, PackedI8, QuantKernels};
use crate::quant_scalar::dense_lengths;
use std::arch::x86_64::*;

#[inline(always)]
fn tail_mask(len: usize) -> __mmask16 {
    if len >= 16 {
        0xffff
    } else {
        ((1u32 << len) - 1) as __mmask16
    }
}

/// u > 0 ? u : slope·u per lane.
#[inline(always)]
unsafe fn leaky(u: __m512, slope: __m512) -> __m512 {
    // SAFETY: register-only AVX-512F (the caller's target feature).
    unsafe { _mm512_mask_blend_ps(_mm512_cmp_ps_mask(u, _mm512_setzero_ps(), _CMP_GT_OQ), _mm512_mul_ps(u, slope), u) }
}

/// 16 weights from `p` (16 u16 readable) widened to f32.
#[inline(always)]
unsafe fn widen<const BF: bool>(p: *const u16) -> __m512 {
    // SAFETY: the caller guarantees 16 readable u16 at `p` (a whole padded vector).
    unsafe {
        let h = _mm256_loadu_si256(p as *const __m256i);
        if BF {
            _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(h)))
        } else {
            _mm512_cvtph_ps(h)
        }
    }
}

/// Outputs [j0, j0 + 16·NV) of one row (NV vectors, the last possibly ragged).
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
    // SAFETY: lanes j0 + 16v + [0, len) lie inside `o` and `bias` (n long); weight loads read
    // whole vectors at j0 + 16v < n ≤ npad of a packed row of npad (a multiple of 16).
    unsafe {
        let mut acc = [_mm512_setzero_ps(); NV];
        for (v, a) in acc.iter_mut().enumerate() {
            let j = j0 + 16 * v;
            *a = _mm512_maskz_loadu_ps(tail_mask(n - j), bias.as_ptr().add(j));
        }
        let wp = w.data().as_ptr();
        for (q, &xq) in xr.iter().enumerate() {
            let xb = _mm512_set1_ps(xq);
            let row = wp.add(q * npad + j0);
            for (v, a) in acc.iter_mut().enumerate() {
                *a = _mm512_fmadd_ps(xb, widen::<BF>(row.add(16 * v)), *a);
            }
        }
        let s = _mm512_set1_ps(slope);
        for (v, a) in acc.iter().enumerate() {
            let j = j0 + 16 * v;
            _mm512_mask_storeu_ps(o.as_mut_ptr().add(j), tail_mask(n - j), leaky(*a, s));
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
            let nv = (n - j0).div_ceil(16).min(8);
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
            j0 += nv * 16;
        }
    }
}

#[target_feature(enable = "avx512f,avx512bw")]
pub unsafe fn dense_half(out: &mut [f32], x: &[f32], w: &PackedHalf, bias: &[f32], m: usize, slope: f32) {
    dense_lengths("dense_half", out.len(), x.len(), &[("bias", bias.len())], m, w.k(), w.n());
    // SAFETY: lengths checked above; the feature is enabled here.
    unsafe {
        match w.kind() {
            HalfKind::Bf16 => dense_half_body::<true>(out, x, w, bias, m, slope),
            HalfKind::F16 => dense_half_body::<false>(out, x, w, bias, m, slope),
        }
    }
}

/// Input group g of a row as one i32 (4 bytes; zeros past k).
#[inline(always)]
pub(crate) fn group(xr: &[i8], g: usize) -> i32 {
    if let Some(c) = xr.get(4 * g..4 * g + 4) {
        return i32::from_le_bytes([c[0] as u8, c[1] as u8, c[2] as u8, c[3] as u8]);
    }
    let mut b = [0u8; 4];
    for (t, bt) in b.iter_mut().enumerate() {
        if let Some(&v) = xr.get(4 * g + t) {
            *bt = v as u8;
        }
    }
    i32::from_le_bytes(b)
}

/// Output blocks [b0, b0 + NV) of one row.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn i8_block<const NV: usize, const VNNI: bool>(
    o: &mut [f32],
    xr: &[i8],
    w: &PackedI8,
    scale: &[f32],
    bias: &[f32],
    b0: usize,
    slope: f32,
) {
    let (n, nb) = (w.n(), w.blocks());
    // SAFETY: weight loads read whole 64-byte blocks (g·nb + b)·64 inside the packed data
    // (kg·nb·64 bytes, b < nb); lanes 16b + [0, len) lie inside `o`, `scale`, `bias` (n long)
    // and `colsum128` (nb·16 long). Register-only otherwise; the ISA is enabled in the caller.
    unsafe {
        let mut acc = [_mm512_setzero_si512(); NV];
        let wp = w.data().as_ptr();
        let ones = _mm512_set1_epi16(1);
        for g in 0..w.groups() {
            let xg = group(xr, g);
            let base = wp.add((g * nb + b0) * 64);
            if VNNI {
                let xu = _mm512_set1_epi32(xg ^ 0x8080_8080u32 as i32);
                for (v, a) in acc.iter_mut().enumerate() {
                    *a = _mm512_dpbusd_epi32(*a, xu, _mm512_loadu_si512(base.add(64 * v) as *const _));
                }
            } else {
                let xb = _mm512_set1_epi32(xg);
                let ax = _mm512_abs_epi8(xb);
                let neg = _mm512_movepi8_mask(xb);
                for (v, a) in acc.iter_mut().enumerate() {
                    let wv = _mm512_loadu_si512(base.add(64 * v) as *const _);
                    let sw = _mm512_mask_sub_epi8(wv, neg, _mm512_setzero_si512(), wv);
                    *a = _mm512_add_epi32(*a, _mm512_madd_epi16(_mm512_maddubs_epi16(ax, sw), ones));
                }
            }
        }
        let s = _mm512_set1_ps(slope);
        for (v, a) in acc.iter().enumerate() {
            let j = (b0 + v) * 16;
            let mut ai = *a;
            if VNNI {
                ai = _mm512_sub_epi32(ai, _mm512_loadu_si512(w.colsum128().as_ptr().add(j) as *const _));
            }
            let mask = tail_mask(n - j);
            let sc = _mm512_maskz_loadu_ps(mask, scale.as_ptr().add(j));
            let bi = _mm512_maskz_loadu_ps(mask, bias.as_ptr().add(j));
            let u = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(ai), sc), bi);
            _mm512_mask_storeu_ps(o.as_mut_ptr().add(j), mask, leaky(u, s));
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
    let (k, n, nb) = (w.k(), w.n(), w.blocks());
    dense_lengths("dense_i8", out.len(), x.len(), &[("scale", scale.len()), ("bias", bias.len())], m, k, n);
    for r in 0..m {
        let (o, xr) = (&mut out[r * n..(r + 1) * n], &x[r * k..(r + 1) * k]);
        let mut b0 = 0;
        while b0 < nb {
            let nv = (nb - b0).min(8);
            // SAFETY: lengths checked above; the ISA is enabled in the caller.
            unsafe {
                match nv {
                    1 => i8_block::<1, VNNI>(o, xr, w, scale, bias, b0, slope),
                    2 => i8_block::<2, VNNI>(o, xr, w, scale, bias, b0, slope),
                    3 => i8_block::<3, VNNI>(o, xr, w, scale, bias, b0, slope),
                    4 => i8_block::<4, VNNI>(o, xr, w, scale, bias, b0, slope),
                    5 => i8_block::<5, VNNI>(o, xr, w, scale, bias, b0, slope),
                    6 => i8_block::<6, VNNI>(o, xr, w, scale, bias, b0, slope),
                    7 => i8_block::<7, VNNI>(o, xr, w, scale, bias, b0, slope),
                    _ => i8_block::<8, VNNI>(o, xr, w, scale, bias, b0, slope),
                }
            }
            b0 += nv;
        }
    }
}

#[target_feature(enable = "avx512f,avx512bw")]
pub unsafe fn dense_i8(out: &mut [f32], x: &[i8], w: &PackedI8, scale: &[f32], bias: &[f32], m: usize, slope: f32) {
    // SAFETY: the feature is enabled here; the body checks the lengths.
    unsafe { dense_i8_body::<false>(out, x, w, scale, bias, m, slope) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
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

#[target_feature(enable = "avx512f,avx512bw")]
pub unsafe fn quantize_i8(dst: &mut [i8], src: &[f32], inv_scale: f32) {
    crate::check::equal("quantize_i8", &[("dst", dst.len()), ("src", src.len())]);
    // SAFETY: each step touches lanes [i, i + len) of `src` and `dst` (equal lengths, checked).
    unsafe {
        let (inv, lo, hi) = (_mm512_set1_ps(inv_scale), _mm512_set1_ps(-127.0), _mm512_set1_ps(127.0));
        let mut i = 0;
        while i < src.len() {
            let mask = tail_mask(src.len() - i);
            let v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, src.as_ptr().add(i)), inv);
            // max(v, −127) gives −127 for NaN v (the second operand), as the scalar code.
            let v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
            _mm512_mask_cvtepi32_storeu_epi8(dst.as_mut_ptr().add(i) as *mut _, mask, _mm512_cvtps_epi32(v));
            i += 16;
        }
    }
}

/// AVX-512F+BW, as safe pointers (SAFETY: handed out only after detecting both features).
pub static TABLE: QuantKernels = QuantKernels {
    name: "avx512",
    isa: crate::Isa::Avx512,
    dense_half: |o, x, w, b, m, s| unsafe { dense_half(o, x, w, b, m, s) },
    dense_i8: |o, x, w, sc, b, m, s| unsafe { dense_i8(o, x, w, sc, b, m, s) },
    quantize_i8: |d, s, i| unsafe { quantize_i8(d, s, i) },
    dense_bf16_dot: crate::quant_scalar::dense_bf16_dot,
    batch_i8: |o, x, r, p, s| unsafe { crate::quant_batch::x86::batch_i8_avx512(o, x, r, p, s) },
    batch_bf16_dot: crate::quant_batch_bf16::forward_scalar,
};

/// AVX-512F+BW with VNNI int8 (SAFETY: handed out only after detecting the three features).
pub static TABLE_VNNI: QuantKernels = QuantKernels {
    name: "avx512-vnni",
    isa: crate::Isa::Avx512,
    dense_half: |o, x, w, b, m, s| unsafe { dense_half(o, x, w, b, m, s) },
    dense_i8: |o, x, w, sc, b, m, s| unsafe { dense_i8_vnni(o, x, w, sc, b, m, s) },
    quantize_i8: |d, s, i| unsafe { quantize_i8(d, s, i) },
    dense_bf16_dot: crate::quant_scalar::dense_bf16_dot,
    batch_i8: |o, x, r, p, s| unsafe { crate::quant_batch::x86::batch_i8_avx512_vnni(o, x, r, p, s) },
    batch_bf16_dot: crate::quant_batch_bf16::forward_scalar,
};

/// Outputs [j0, j0 + 16·NV) of one row by `vdpbf16ps`: per input pair, both activations
/// rounded to bf16 in one 32-bit lane, broadcast, against 16 outputs' weight pairs.
#[inline(always)]
unsafe fn bf16_dot_block<const NV: usize>(
    o: &mut [f32],
    xr: &[f32],
    w: &PackedBf16Pairs,
    bias: &[f32],
    j0: usize,
    slope: f32,
) {
    let (n, npad) = (w.n(), w.npad());
    // SAFETY: lanes j0 + 16v + [0, len) lie inside `o` and `bias` (n long); weight loads read
    // 32 u16 (16 pairs) at pair row p, column j0 + 16v < n ≤ npad, inside the packed data.
    unsafe {
        let mut acc = [_mm512_setzero_ps(); NV];
        for (v, a) in acc.iter_mut().enumerate() {
            let j = j0 + 16 * v;
            *a = _mm512_maskz_loadu_ps(tail_mask(n - j), bias.as_ptr().add(j));
        }
        let wp = w.data().as_ptr();
        for p in 0..xr.len().div_ceil(2) {
            let lo = f32_to_bf16(xr[2 * p]) as u32;
            let hi = xr.get(2 * p + 1).map_or(0, |&v| f32_to_bf16(v) as u32);
            let xb: __m512bh = std::mem::transmute(_mm512_set1_epi32((lo | (hi << 16)) as i32));
            let row = wp.add((p * npad + j0) * 2);
            for (v, a) in acc.iter_mut().enumerate() {
                let wv: __m512bh = std::mem::transmute(_mm512_loadu_si512(row.add(32 * v) as *const _));
                *a = _mm512_dpbf16_ps(*a, xb, wv);
            }
        }
        let s = _mm512_set1_ps(slope);
        for (v, a) in acc.iter().enumerate() {
            let j = j0 + 16 * v;
            _mm512_mask_storeu_ps(o.as_mut_ptr().add(j), tail_mask(n - j), leaky(*a, s));
        }
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
pub unsafe fn dense_bf16_dot(out: &mut [f32], x: &[f32], w: &PackedBf16Pairs, bias: &[f32], m: usize, slope: f32) {
    let (k, n) = (w.k(), w.n());
    dense_lengths("dense_bf16_dot", out.len(), x.len(), &[("bias", bias.len())], m, k, n);
    for r in 0..m {
        let (o, xr) = (&mut out[r * n..(r + 1) * n], &x[r * k..(r + 1) * k]);
        let mut j0 = 0;
        while j0 < n {
            let nv = (n - j0).div_ceil(16).min(8);
            // SAFETY: lengths checked above; the features are enabled here.
            unsafe {
                match nv {
                    1 => bf16_dot_block::<1>(o, xr, w, bias, j0, slope),
                    2 => bf16_dot_block::<2>(o, xr, w, bias, j0, slope),
                    3 => bf16_dot_block::<3>(o, xr, w, bias, j0, slope),
                    4 => bf16_dot_block::<4>(o, xr, w, bias, j0, slope),
                    5 => bf16_dot_block::<5>(o, xr, w, bias, j0, slope),
                    6 => bf16_dot_block::<6>(o, xr, w, bias, j0, slope),
                    7 => bf16_dot_block::<7>(o, xr, w, bias, j0, slope),
                    _ => bf16_dot_block::<8>(o, xr, w, bias, j0, slope),
                }
            }
            j0 += nv * 16;
        }
    }
}

/// AVX-512 VNNI with BF16 dot products (SAFETY: handed out only after detecting the
/// features: avx512f, avx512bw, avx512vnni, avx512bf16).
pub static TABLE_VNNI_BF16: QuantKernels = QuantKernels {
    name: "avx512-vnni-bf16",
    isa: crate::Isa::Avx512,
    dense_half: |o, x, w, b, m, s| unsafe { dense_half(o, x, w, b, m, s) },
    dense_i8: |o, x, w, sc, b, m, s| unsafe { dense_i8_vnni(o, x, w, sc, b, m, s) },
    quantize_i8: |d, s, i| unsafe { quantize_i8(d, s, i) },
    dense_bf16_dot: |o, x, w, b, m, s| unsafe { dense_bf16_dot(o, x, w, b, m, s) },
    batch_i8: |o, x, r, p, s| unsafe { crate::quant_batch::x86::batch_i8_avx512_vnni(o, x, r, p, s) },
    batch_bf16_dot: |o, x, r, p, s| unsafe { crate::quant_batch_bf16::avx512::batch_bf16_dot(o, x, r, p, s) },
};
