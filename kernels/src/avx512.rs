//! AVX-512F kernels (16 f32 lanes). Ragged ends use lane masks, so no scalar tail loops.
//! Every public function here is `unsafe` and `#[target_feature(enable = "avx512f")]`:
//! `crate::kernels_for` hands them out only after `is_x86_feature_detected!("avx512f")`.

#![allow(clippy::missing_safety_doc)]

use crate::AdamStep;
use std::arch::x86_64::*;

const W: usize = 16;

#[inline(always)]
fn tail_mask(len: usize) -> __mmask16 {
    if len >= W {
        0xffff
    } else {
        ((1u32 << len) - 1) as __mmask16
    }
}

/// Loads `len ≤ 16` lanes from `p` (zeros beyond).
#[inline(always)]
unsafe fn load(p: *const f32, len: usize) -> __m512 {
    // SAFETY: the mask covers only the `len` valid elements at `p`.
    unsafe { _mm512_maskz_loadu_ps(tail_mask(len), p) }
}

#[inline(always)]
unsafe fn store(p: *mut f32, v: __m512, len: usize) {
    // SAFETY: the mask covers only the `len` valid elements at `p`.
    unsafe { _mm512_mask_storeu_ps(p, tail_mask(len), v) }
}

/// Σ of the lanes of `v` (masked to `len`) into f64, by halves converted to f64.
#[inline(always)]
unsafe fn add_f64(acc: __m512d, v: __m512) -> (__m512d, __m512d) {
    // SAFETY: register-only operations.
    unsafe {
        let lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
        let hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
        (_mm512_add_pd(acc, lo), hi)
    }
}

/// e^x for 16 lanes (Cephes expf polynomial, range-reduced by ln 2; ~1 ulp), clamped to
/// the finite f32 range.
#[inline(always)]
unsafe fn exp(x: __m512) -> __m512 {
    // SAFETY: register-only operations.
    unsafe {
        let x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.33654)), _mm512_set1_ps(88.72283));
        let n = _mm512_roundscale_ps(
            _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)),
            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC,
        );
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_359_4), x);
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.121_944_4e-4), r);
        let mut y = _mm512_set1_ps(1.987_569_1e-4);
        for c in [1.398_2e-3f32, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 0.5] {
            y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(c));
        }
        let r2 = _mm512_mul_ps(r, r);
        let y = _mm512_add_ps(_mm512_fmadd_ps(y, r2, r), _mm512_set1_ps(1.0));
        _mm512_scalef_ps(y, n)
    }
}

/// ln x for 16 lanes of positive x (Cephes logf polynomial on the mantissa).
#[inline(always)]
unsafe fn ln(x: __m512) -> __m512 {
    // SAFETY: register-only operations.
    unsafe {
        // x = m·2^e with m in [0.5, 1).
        let e = _mm512_add_ps(_mm512_getexp_ps(x), _mm512_set1_ps(1.0));
        let m = _mm512_getmant_ps(x, _MM_MANT_NORM_P5_1, _MM_MANT_SIGN_SRC);
        let small = _mm512_cmp_ps_mask(m, _mm512_set1_ps(std::f32::consts::FRAC_1_SQRT_2), _CMP_LT_OQ);
        let e = _mm512_mask_sub_ps(e, small, e, _mm512_set1_ps(1.0));
        let m = _mm512_mask_add_ps(m, small, m, m);
        let x = _mm512_sub_ps(m, _mm512_set1_ps(1.0));
        let z = _mm512_mul_ps(x, x);
        let mut y = _mm512_set1_ps(7.037_683_6e-2);
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
            y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(c));
        }
        let y = _mm512_mul_ps(_mm512_mul_ps(y, x), z);
        let y = _mm512_fmadd_ps(e, _mm512_set1_ps(-2.121_944_4e-4), y);
        let y = _mm512_fnmadd_ps(z, _mm512_set1_ps(0.5), y);
        let x = _mm512_add_ps(x, y);
        _mm512_fmadd_ps(e, _mm512_set1_ps(0.693_359_4), x)
    }
}

#[target_feature(enable = "avx512f")]
pub unsafe fn bias_leaky_forward(x: &mut [f32], bias: &[f32], slope: f32) {
    let cols = bias.len();
    let s = _mm512_set1_ps(slope);
    let zero = _mm512_setzero_ps();
    for row in x.chunks_exact_mut(cols) {
        let mut c = 0;
        while c < cols {
            let len = (cols - c).min(W);
            // SAFETY: `len` lanes from offset `c` lie inside `row` and `bias`.
            unsafe {
                let u = _mm512_add_ps(load(row.as_ptr().add(c), len), load(bias.as_ptr().add(c), len));
                let pos = _mm512_cmp_ps_mask(u, zero, _CMP_GT_OQ);
                store(row.as_mut_ptr().add(c), _mm512_mask_blend_ps(pos, _mm512_mul_ps(u, s), u), len);
            }
            c += W;
        }
    }
}

#[target_feature(enable = "avx512f")]
pub unsafe fn leaky_backward(d: &mut [f32], y: &[f32], slope: f32) {
    let s = _mm512_set1_ps(slope);
    let zero = _mm512_setzero_ps();
    let n = d.len().min(y.len());
    let mut i = 0;
    while i < n {
        let len = (n - i).min(W);
        // SAFETY: `len` lanes from offset `i` lie inside `d` and `y`.
        unsafe {
            let dv = load(d.as_ptr().add(i), len);
            let pos = _mm512_cmp_ps_mask(load(y.as_ptr().add(i), len), zero, _CMP_GT_OQ);
            store(d.as_mut_ptr().add(i), _mm512_mask_blend_ps(pos, _mm512_mul_ps(dv, s), dv), len);
        }
        i += W;
    }
}

#[target_feature(enable = "avx512f")]
pub unsafe fn col_sums_add(acc: &mut [f32], x: &[f32]) {
    let cols = acc.len();
    let rows = x.len() / cols.max(1);
    // Up to 8 column vectors stay in registers while all rows stream past; rows are added in
    // order, so each column's sum is the same sequence of f32 additions as the scalar code.
    let mut c0 = 0;
    while c0 < cols {
        let nv = (cols - c0).div_ceil(W).min(8);
        // SAFETY: each vector v covers lanes [c0 + 16v, c0 + 16v + len) inside the row.
        unsafe {
            let mut a = [_mm512_setzero_ps(); 8];
            for (v, av) in a.iter_mut().enumerate().take(nv) {
                let c = c0 + v * W;
                *av = load(acc.as_ptr().add(c), (cols - c).min(W));
            }
            for r in 0..rows {
                let row = x.as_ptr().add(r * cols);
                for (v, av) in a.iter_mut().enumerate().take(nv) {
                    let c = c0 + v * W;
                    *av = _mm512_add_ps(*av, load(row.add(c), (cols - c).min(W)));
                }
            }
            for (v, av) in a.iter().enumerate().take(nv) {
                let c = c0 + v * W;
                store(acc.as_mut_ptr().add(c), *av, (cols - c).min(W));
            }
        }
        c0 += nv * W;
    }
}

#[target_feature(enable = "avx512f")]
pub unsafe fn adam_update(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], hp: &AdamStep) {
    let (omb1, b2, omb2) =
        (_mm512_set1_ps(hp.one_minus_beta1), _mm512_set1_ps(hp.beta2), _mm512_set1_ps(hp.one_minus_beta2));
    let (step, bc2s, eps) = (_mm512_set1_ps(hp.step_size), _mm512_set1_ps(hp.bc2_sqrt), _mm512_set1_ps(hp.eps));
    let n = p.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(W);
        // SAFETY: `len` lanes from offset `i` lie inside all four equal-length slices.
        unsafe {
            let gv = load(g.as_ptr().add(i), len);
            let mv = load(m.as_ptr().add(i), len);
            let mv = _mm512_add_ps(mv, _mm512_mul_ps(omb1, _mm512_sub_ps(gv, mv)));
            let vv = _mm512_add_ps(
                _mm512_mul_ps(b2, load(v.as_ptr().add(i), len)),
                _mm512_mul_ps(_mm512_mul_ps(omb2, gv), gv),
            );
            let denom = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vv), bc2s), eps);
            let pv = _mm512_sub_ps(load(p.as_ptr().add(i), len), _mm512_div_ps(_mm512_mul_ps(step, mv), denom));
            store(m.as_mut_ptr().add(i), mv, len);
            store(v.as_mut_ptr().add(i), vv, len);
            store(p.as_mut_ptr().add(i), pv, len);
        }
        i += W;
    }
}

#[target_feature(enable = "avx512f")]
pub unsafe fn mse_grad(grad: &mut [f32], out: &[f32], target: &[f32], scale: f32) -> f64 {
    let s = _mm512_set1_ps(scale);
    let (mut lo, mut hi) = (_mm512_setzero_pd(), _mm512_setzero_pd());
    let n = grad.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(W);
        // SAFETY: `len` lanes from offset `i` lie inside the three equal-length slices.
        unsafe {
            let d = _mm512_sub_ps(load(out.as_ptr().add(i), len), load(target.as_ptr().add(i), len));
            store(grad.as_mut_ptr().add(i), _mm512_mul_ps(s, d), len);
            let dl = _mm512_cvtps_pd(_mm512_castps512_ps256(d));
            let dh = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(d), 1)));
            lo = _mm512_fmadd_pd(dl, dl, lo);
            hi = _mm512_fmadd_pd(dh, dh, hi);
        }
        i += W;
    }
    _mm512_reduce_add_pd(_mm512_add_pd(lo, hi))
}

#[target_feature(enable = "avx512f")]
pub unsafe fn reparam_forward(z: &mut [f32], mu: &[f32], logvar: &[f32], eps: &[f32]) {
    let half = _mm512_set1_ps(0.5);
    let n = z.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(W);
        // SAFETY: `len` lanes from offset `i` lie inside the four equal-length slices.
        unsafe {
            let sd = exp(_mm512_mul_ps(half, load(logvar.as_ptr().add(i), len)));
            let zv = _mm512_fmadd_ps(sd, load(eps.as_ptr().add(i), len), load(mu.as_ptr().add(i), len));
            store(z.as_mut_ptr().add(i), zv, len);
        }
        i += W;
    }
}

#[target_feature(enable = "avx512f")]
pub unsafe fn reparam_backward(dmu: &mut [f32], dlogvar: &mut [f32], dz: &[f32], logvar: &[f32], eps: &[f32]) {
    let half = _mm512_set1_ps(0.5);
    let n = dz.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(W);
        // SAFETY: `len` lanes from offset `i` lie inside the five equal-length slices.
        unsafe {
            let g = load(dz.as_ptr().add(i), len);
            store(dmu.as_mut_ptr().add(i), _mm512_add_ps(load(dmu.as_ptr().add(i), len), g), len);
            let sd = exp(_mm512_mul_ps(half, load(logvar.as_ptr().add(i), len)));
            let t = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(g, half), sd), load(eps.as_ptr().add(i), len));
            store(dlogvar.as_mut_ptr().add(i), _mm512_add_ps(load(dlogvar.as_ptr().add(i), len), t), len);
        }
        i += W;
    }
}

#[target_feature(enable = "avx512f")]
pub unsafe fn kl_normal(dmu: &mut [f32], dlogvar: &mut [f32], mu: &[f32], logvar: &[f32], scale: f32) -> f64 {
    let (half, one, s) = (_mm512_set1_ps(0.5), _mm512_set1_ps(1.0), _mm512_set1_ps(scale));
    let mut acc = _mm512_setzero_pd();
    let n = mu.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(W);
        // SAFETY: `len` lanes from offset `i` lie inside the four equal-length slices.
        unsafe {
            let (m, lv) = (load(mu.as_ptr().add(i), len), load(logvar.as_ptr().add(i), len));
            let e = exp(lv);
            // Masked lanes: m = lv = 0 gives a term of ½(0 + 1 − 1 − 0) = 0.
            let term = _mm512_mul_ps(half, _mm512_sub_ps(_mm512_sub_ps(_mm512_fmadd_ps(m, m, e), one), lv));
            let (a, h) = add_f64(acc, term);
            acc = _mm512_add_pd(a, h);
            store(dmu.as_mut_ptr().add(i), _mm512_fmadd_ps(s, m, load(dmu.as_ptr().add(i), len)), len);
            let g = _mm512_mul_ps(_mm512_mul_ps(s, half), _mm512_sub_ps(e, one));
            store(dlogvar.as_mut_ptr().add(i), _mm512_add_ps(load(dlogvar.as_ptr().add(i), len), g), len);
        }
        i += W;
    }
    _mm512_reduce_add_pd(acc)
}

#[target_feature(enable = "avx512f")]
pub unsafe fn l1_penalty(da: &mut [f32], a: &[f32], scale: f32) -> f64 {
    let (s, ns, zero) = (_mm512_set1_ps(scale), _mm512_set1_ps(-scale), _mm512_setzero_ps());
    let mut acc = _mm512_setzero_pd();
    let n = a.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(W);
        // SAFETY: `len` lanes from offset `i` lie inside both slices.
        unsafe {
            let av = load(a.as_ptr().add(i), len);
            let (lo, hi) = add_f64(acc, _mm512_abs_ps(av));
            acc = _mm512_add_pd(lo, hi);
            let pos = _mm512_cmp_ps_mask(av, zero, _CMP_GT_OQ);
            let neg = _mm512_cmp_ps_mask(av, zero, _CMP_LT_OQ);
            let step = _mm512_mask_blend_ps(pos, _mm512_maskz_mov_ps(neg, ns), s);
            store(da.as_mut_ptr().add(i), _mm512_add_ps(load(da.as_ptr().add(i), len), step), len);
        }
        i += W;
    }
    _mm512_reduce_add_pd(acc)
}

#[target_feature(enable = "avx512f")]
pub unsafe fn kl_sparsity(drho: &mut [f32], rho_hat: &[f32], rho: f32, scale: f32) -> f64 {
    let (r, omr, s, one) = (_mm512_set1_ps(rho), _mm512_set1_ps(1.0 - rho), _mm512_set1_ps(scale), _mm512_set1_ps(1.0));
    let (lnr, lnomr) = (_mm512_set1_ps(rho.ln()), _mm512_set1_ps((1.0 - rho).ln()));
    let mut acc = _mm512_setzero_pd();
    let n = rho_hat.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(W);
        // SAFETY: `len` lanes from offset `i` lie inside both slices.
        unsafe {
            let mask = tail_mask(len);
            // Masked lanes read q = ρ, whose KL term is 0.
            let q = _mm512_mask_loadu_ps(r, mask, rho_hat.as_ptr().add(i));
            let omq = _mm512_sub_ps(one, q);
            let t = _mm512_add_ps(
                _mm512_mul_ps(r, _mm512_sub_ps(lnr, ln(q))),
                _mm512_mul_ps(omr, _mm512_sub_ps(lnomr, ln(omq))),
            );
            let (lo, hi) = add_f64(acc, _mm512_maskz_mov_ps(mask, t));
            acc = _mm512_add_pd(lo, hi);
            let g = _mm512_mul_ps(s, _mm512_sub_ps(_mm512_div_ps(omr, omq), _mm512_div_ps(r, q)));
            store(drho.as_mut_ptr().add(i), g, len);
        }
        i += W;
    }
    _mm512_reduce_add_pd(acc)
}

/// One block of up to `NV` 16-lane output vectors starting at column `j0`: the accumulators
/// stay in registers while the k inputs are broadcast against rows of wᵀ.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn dense_block<const NV: usize>(
    o: *mut f32,
    a: *const f32,
    wt: *const f32,
    bias: *const f32,
    k: usize,
    n: usize,
    j0: usize,
    slope: f32,
) {
    // SAFETY: the caller guarantees columns [j0, min(j0 + 16·NV, n)) exist in every row of
    // wᵀ and in `o`/`bias`; masks restrict the last vector to the valid columns.
    unsafe {
        let mut acc = [_mm512_setzero_ps(); NV];
        let lens: [usize; NV] = std::array::from_fn(|v| n.saturating_sub(j0 + v * W).min(W));
        for (v, av) in acc.iter_mut().enumerate() {
            *av = load(bias.add(j0 + v * W), lens[v]);
        }
        for q in 0..k {
            let x = _mm512_set1_ps(*a.add(q));
            let row = wt.add(q * n + j0);
            for (v, av) in acc.iter_mut().enumerate() {
                *av = _mm512_fmadd_ps(x, load(row.add(v * W), lens[v]), *av);
            }
        }
        let (s, zero) = (_mm512_set1_ps(slope), _mm512_setzero_ps());
        for (v, av) in acc.iter().enumerate() {
            let pos = _mm512_cmp_ps_mask(*av, zero, _CMP_GT_OQ);
            store(o.add(j0 + v * W), _mm512_mask_blend_ps(pos, _mm512_mul_ps(*av, s), *av), lens[v]);
        }
    }
}

#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn dense_small(
    out: &mut [f32],
    a: &[f32],
    wt: &[f32],
    bias: &[f32],
    m: usize,
    k: usize,
    n: usize,
    slope: f32,
) {
    assert!(out.len() >= m * n && a.len() >= m * k && wt.len() >= k * n && bias.len() >= n);
    for r in 0..m {
        let (o, ar) = (out[r * n..].as_mut_ptr(), a[r * k..].as_ptr());
        let mut j0 = 0;
        while j0 < n {
            let nv = (n - j0).div_ceil(W).min(8);
            // SAFETY: bounds asserted above; dense_block masks to column n.
            unsafe {
                match nv {
                    1 => dense_block::<1>(o, ar, wt.as_ptr(), bias.as_ptr(), k, n, j0, slope),
                    2 => dense_block::<2>(o, ar, wt.as_ptr(), bias.as_ptr(), k, n, j0, slope),
                    3 => dense_block::<3>(o, ar, wt.as_ptr(), bias.as_ptr(), k, n, j0, slope),
                    4 => dense_block::<4>(o, ar, wt.as_ptr(), bias.as_ptr(), k, n, j0, slope),
                    5 => dense_block::<5>(o, ar, wt.as_ptr(), bias.as_ptr(), k, n, j0, slope),
                    6 => dense_block::<6>(o, ar, wt.as_ptr(), bias.as_ptr(), k, n, j0, slope),
                    7 => dense_block::<7>(o, ar, wt.as_ptr(), bias.as_ptr(), k, n, j0, slope),
                    _ => dense_block::<8>(o, ar, wt.as_ptr(), bias.as_ptr(), k, n, j0, slope),
                }
            }
            j0 += nv * W;
        }
    }
}
