//! The AVX-512 BF16 body of the bf16 batch chain ([`super`]): register tiles of 4 rows × 4
//! vectors (64 outputs), `vdpbf16ps` per input pair, the activations rounded to bf16 in SIMD
//! exactly as [`crate::quant::f32_to_bf16`] does (nearest even; NaN stays a quiet NaN).

#![allow(clippy::missing_safety_doc)]

use super::{check_call, Bf16BatchLayer, Bf16BatchPack, Bf16BatchScratch};
use crate::quant_batch::{stride, TILE_ROWS};
use std::arch::x86_64::*;

const R: usize = 4;
const NV: usize = 4;

#[inline(always)]
fn mask16(len: usize) -> __mmask16 {
    if len >= 16 {
        0xffff
    } else {
        ((1u32 << len) - 1) as __mmask16
    }
}

/// The first `len` lanes of `u` rounded to bf16 (as `f32_to_bf16`), stored at `p`.
#[inline(always)]
unsafe fn store_bf16(p: *mut u16, u: __m512, len: usize) {
    // SAFETY: register-only, and a masked store of `len` u16 at `p` (the caller's bound).
    unsafe {
        let b = _mm512_castps_si512(u);
        let hi = _mm512_srli_epi32::<16>(b);
        let round = _mm512_add_epi32(_mm512_set1_epi32(0x7fff), _mm512_and_si512(hi, _mm512_set1_epi32(1)));
        let r = _mm512_srli_epi32::<16>(_mm512_add_epi32(b, round));
        let nan = _mm512_cmp_ps_mask(u, u, _CMP_UNORD_Q);
        let v = _mm512_mask_blend_epi32(nan, r, _mm512_or_si512(hi, _mm512_set1_epi32(0x40)));
        _mm256_mask_storeu_epi16(p as *mut i16, mask16(len), _mm512_cvtepi32_epi16(v));
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512bf16")]
pub unsafe fn batch_bf16_dot(out: &mut [f32], x: &[f32], rows: usize, pack: &Bf16BatchPack, s: &mut Bf16BatchScratch) {
    check_call(out.len(), x.len(), rows, pack, s);
    let (din, dout) = (pack.in_dim(), pack.out_dim());
    let (s_in, s_hid) = (stride(din), pack.hidden_stride());
    let (xin, rest) = s.h.split_at_mut(TILE_ROWS * s_in);
    let (ha, hb) = rest.split_at_mut(TILE_ROWS * s_hid);
    let hid = [ha.as_mut_ptr(), hb.as_mut_ptr()];
    let last = pack.layers().len() - 1;
    let mut r0 = 0;
    while r0 < rows {
        let n = TILE_ROWS.min(rows - r0);
        let xt = &x[r0 * din..(r0 + n) * din];
        let ot = &mut out[r0 * dout..(r0 + n) * dout];
        // SAFETY: masked loads of row r's values c.. < din of `xt`, masked stores of as many
        // into `xin` row r (s_in ≥ din values); the features are enabled here.
        unsafe {
            for r in 0..n {
                let mut c = 0;
                while c < din {
                    let len = (din - c).min(16);
                    let u = _mm512_maskz_loadu_ps(mask16(len), xt.as_ptr().add(r * din + c));
                    store_bf16(xin.as_mut_ptr().add(r * s_in + c), u, len);
                    c += 16;
                }
            }
        }
        let mut src: (*const u16, usize) = (xin.as_ptr(), s_in);
        for (li, l) in pack.layers().iter().enumerate() {
            let dst = if li == last { Dst::Out(ot.as_mut_ptr(), dout, n) } else { Dst::Hidden(hid[li % 2], s_hid) };
            let nvec = l.w.n().div_ceil(16);
            let mut v0 = 0;
            while v0 < nvec {
                let nv = NV.min(nvec - v0);
                let mut r = 0;
                while r < n {
                    // SAFETY: rows r..r + R < TILE_ROWS of `src` (pairs < ⌈k/2⌉, inside the
                    // row's stride ≥ 2⌈k/2⌉), weight pairs of vectors < npad/16, padded bias;
                    // stores masked to the layer's n (hidden: n + 1 ≤ the stride for odd n, rows < TILE_ROWS;
                    // out: rows < n).
                    unsafe {
                        let a = src.0.add(r * src.1);
                        match nv {
                            1 => block::<1>(a, src.1, l, v0, r, dst),
                            2 => block::<2>(a, src.1, l, v0, r, dst),
                            3 => block::<3>(a, src.1, l, v0, r, dst),
                            _ => block::<NV>(a, src.1, l, v0, r, dst),
                        }
                    }
                    r += R;
                }
                v0 += nv;
            }
            if let Dst::Hidden(p, st) = dst {
                src = (p, st);
            }
        }
        r0 += n;
    }
}

/// Where a layer's outputs go: the next layer's bf16 input (row stride), or the chain's f32
/// output (row stride, valid rows).
#[derive(Clone, Copy)]
enum Dst {
    Hidden(*mut u16, usize),
    Out(*mut f32, usize, usize),
}

/// Outputs of vectors v0.. of `l` for R rows from tile row `r` (row i's input at a + i·sa).
///
/// Safety: as the call site states; inlined into `batch_bf16_dot` (its features).
#[inline(always)]
unsafe fn block<const V: usize>(a: *const u16, sa: usize, l: &Bf16BatchLayer, v0: usize, r: usize, dst: Dst) {
    let (n, npad) = (l.w.n(), l.w.npad());
    // SAFETY: as the call site states.
    unsafe {
        let mut b0 = [_mm512_setzero_ps(); V];
        for (v, b) in b0.iter_mut().enumerate() {
            *b = _mm512_loadu_ps(l.bias.as_ptr().add((v0 + v) * 16));
        }
        let mut acc = [b0; R];
        let wp = l.w.data().as_ptr().add(v0 * 32);
        for p in 0..l.w.k().div_ceil(2) {
            let row = wp.add(p * npad * 2);
            let mut wv = [_mm512_setzero_ps(); V];
            for (v, w) in wv.iter_mut().enumerate() {
                *w = _mm512_castsi512_ps(_mm512_loadu_si512(row.add(32 * v) as *const _));
            }
            for (i, ar) in acc.iter_mut().enumerate() {
                let xb: __m512bh =
                    std::mem::transmute(_mm512_set1_epi32((a.add(i * sa + 2 * p) as *const i32).read_unaligned()));
                for (c, &w) in ar.iter_mut().zip(&wv) {
                    *c = _mm512_dpbf16_ps(*c, xb, std::mem::transmute::<__m512, __m512bh>(w));
                }
            }
        }
        let acc: [[__m512; V]; R] = acc; // the epilogue's indexed copy (see quant_batch_simd)
        let s = _mm512_set1_ps(l.slope);
        for v in 0..V {
            let j = (v0 + v) * 16;
            let len = (n - j).min(16);
            for (i, ar) in acc.iter().enumerate() {
                let u = ar[v];
                let u = _mm512_mask_blend_ps(
                    _mm512_cmp_ps_mask(u, _mm512_setzero_ps(), _CMP_GT_OQ),
                    _mm512_mul_ps(u, s),
                    u,
                );
                match dst {
                    // Lane n of an odd-width layer (the next layer's zero pair partner,
                    // where a wider earlier layer may have left a value) is written as 0.
                    Dst::Hidden(p, st) => {
                        store_bf16(p.add((r + i) * st + j), _mm512_maskz_mov_ps(mask16(len), u), (len + 1).min(16))
                    }
                    Dst::Out(p, st, rows) => {
                        if r + i < rows {
                            _mm512_mask_storeu_ps(p.add((r + i) * st + j), mask16(len), u);
                        }
                    }
                }
            }
        }
    }
}
