//! AVX2 + FMA kernels (8 f32 lanes). Ragged ends use `maskload`/`maskstore` with an integer
//! lane mask. Every public function here is `unsafe` with
//! `#[target_feature(enable = "avx2,fma")]`: `crate::kernels_for` hands them out only after
//! detecting both features.

#![allow(clippy::missing_safety_doc)]

use crate::AdamStep;
use std::arch::x86_64::*;

const W: usize = 8;

#[inline(always)]
unsafe fn tail_mask(len: usize) -> __m256i {
    // SAFETY: register-only operations.
    unsafe {
        let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(len.min(W) as i32), idx)
    }
}

#[inline(always)]
unsafe fn load(p: *const f32, len: usize) -> __m256 {
    // SAFETY: full loads only when 8 elements are valid; otherwise masked to `len`.
    unsafe {
        if len >= W {
            _mm256_loadu_ps(p)
        } else {
            _mm256_maskload_ps(p, tail_mask(len))
        }
    }
}

#[inline(always)]
unsafe fn store(p: *mut f32, v: __m256, len: usize) {
    // SAFETY: full stores only when 8 elements are valid; otherwise masked to `len`.
    unsafe {
        if len >= W {
            _mm256_storeu_ps(p, v)
        } else {
            _mm256_maskstore_ps(p, tail_mask(len), v)
        }
    }
}

/// acc + Σ lanes of v, in two f64×4 halves.
#[inline(always)]
unsafe fn add_f64(acc: __m256d, v: __m256) -> __m256d {
    // SAFETY: register-only operations.
    unsafe {
        let lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
        let hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        _mm256_add_pd(acc, _mm256_add_pd(lo, hi))
    }
}

#[inline(always)]
unsafe fn hsum_pd(v: __m256d) -> f64 {
    let mut a = [0.0f64; 4];
    // SAFETY: `a` has room for 4 doubles.
    unsafe { _mm256_storeu_pd(a.as_mut_ptr(), v) };
    (a[0] + a[1]) + (a[2] + a[3])
}

/// e^x for 8 lanes (Cephes expf polynomial; 2^n built in the exponent bits).
#[inline(always)]
unsafe fn exp(x: __m256) -> __m256 {
    // SAFETY: register-only operations.
    unsafe {
        let x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33654)), _mm256_set1_ps(88.72283));
        let n = _mm256_round_ps(
            _mm256_mul_ps(x, _mm256_set1_ps(std::f32::consts::LOG2_E)),
            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC,
        );
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_359_4), x);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.121_944_4e-4), r);
        let mut y = _mm256_set1_ps(1.987_569_1e-4);
        for c in [1.398_2e-3f32, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 0.5] {
            y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(c));
        }
        let r2 = _mm256_mul_ps(r, r);
        let y = _mm256_add_ps(_mm256_fmadd_ps(y, r2, r), _mm256_set1_ps(1.0));
        // 2^n for n in [-126, 128]: split as 2^(n/2)·2^(n − n/2) so both halves stay normal.
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

/// ln x for 8 lanes of positive normal x (Cephes logf polynomial on the mantissa).
#[inline(always)]
unsafe fn ln(x: __m256) -> __m256 {
    // SAFETY: register-only operations.
    unsafe {
        let bits = _mm256_castps_si256(x);
        let e = _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(126));
        let m = _mm256_castsi256_ps(_mm256_or_si256(
            _mm256_and_si256(bits, _mm256_set1_epi32(0x007f_ffff)),
            _mm256_set1_epi32(0x3f00_0000),
        ));
        let mut e = _mm256_cvtepi32_ps(e);
        let small = _mm256_cmp_ps(m, _mm256_set1_ps(std::f32::consts::FRAC_1_SQRT_2), _CMP_LT_OQ);
        e = _mm256_sub_ps(e, _mm256_and_ps(small, _mm256_set1_ps(1.0)));
        let m = _mm256_add_ps(m, _mm256_and_ps(small, m));
        let x = _mm256_sub_ps(m, _mm256_set1_ps(1.0));
        let z = _mm256_mul_ps(x, x);
        let mut y = _mm256_set1_ps(7.037_683_6e-2);
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
            y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(c));
        }
        let y = _mm256_mul_ps(_mm256_mul_ps(y, x), z);
        let y = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.121_944_4e-4), y);
        let y = _mm256_fnmadd_ps(z, _mm256_set1_ps(0.5), y);
        let x = _mm256_add_ps(x, y);
        _mm256_fmadd_ps(e, _mm256_set1_ps(0.693_359_4), x)
    }
}

#[inline(always)]
unsafe fn leaky(u: __m256, s: __m256) -> __m256 {
    // SAFETY: register-only operations.
    unsafe { _mm256_blendv_ps(_mm256_mul_ps(u, s), u, _mm256_cmp_ps(u, _mm256_setzero_ps(), _CMP_GT_OQ)) }
}

#[target_feature(enable = "avx2,fma")]
pub unsafe fn bias_leaky_forward(x: &mut [f32], bias: &[f32], slope: f32) {
    let cols = bias.len();
    let s = _mm256_set1_ps(slope);
    for row in x.chunks_exact_mut(cols) {
        let mut c = 0;
        while c < cols {
            let len = (cols - c).min(W);
            // SAFETY: `len` lanes from offset `c` lie inside `row` and `bias`.
            unsafe {
                let u = _mm256_add_ps(load(row.as_ptr().add(c), len), load(bias.as_ptr().add(c), len));
                store(row.as_mut_ptr().add(c), leaky(u, s), len);
            }
            c += W;
        }
    }
}

#[target_feature(enable = "avx2,fma")]
pub unsafe fn leaky_backward(d: &mut [f32], y: &[f32], slope: f32) {
    let s = _mm256_set1_ps(slope);
    let n = d.len().min(y.len());
    let mut i = 0;
    while i < n {
        let len = (n - i).min(W);
        // SAFETY: `len` lanes from offset `i` lie inside `d` and `y`.
        unsafe {
            let dv = load(d.as_ptr().add(i), len);
            let pos = _mm256_cmp_ps(load(y.as_ptr().add(i), len), _mm256_setzero_ps(), _CMP_GT_OQ);
            store(d.as_mut_ptr().add(i), _mm256_blendv_ps(_mm256_mul_ps(dv, s), dv, pos), len);
        }
        i += W;
    }
}

#[target_feature(enable = "avx2,fma")]
pub unsafe fn col_sums_add(acc: &mut [f32], x: &[f32]) {
    let cols = acc.len();
    let rows = x.len() / cols.max(1);
    let mut c0 = 0;
    while c0 < cols {
        let nv = (cols - c0).div_ceil(W).min(8);
        // SAFETY: each vector v covers lanes [c0 + 8v, c0 + 8v + len) inside the row.
        unsafe {
            let mut a = [_mm256_setzero_ps(); 8];
            for (v, av) in a.iter_mut().enumerate().take(nv) {
                let c = c0 + v * W;
                *av = load(acc.as_ptr().add(c), (cols - c).min(W));
            }
            for r in 0..rows {
                let row = x.as_ptr().add(r * cols);
                for (v, av) in a.iter_mut().enumerate().take(nv) {
                    let c = c0 + v * W;
                    *av = _mm256_add_ps(*av, load(row.add(c), (cols - c).min(W)));
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

#[target_feature(enable = "avx2,fma")]
pub unsafe fn adam_update(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], hp: &AdamStep) {
    let (omb1, b2, omb2) =
        (_mm256_set1_ps(hp.one_minus_beta1), _mm256_set1_ps(hp.beta2), _mm256_set1_ps(hp.one_minus_beta2));
    let (step, bc2s, eps) = (_mm256_set1_ps(hp.step_size), _mm256_set1_ps(hp.bc2_sqrt), _mm256_set1_ps(hp.eps));
    let n = p.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(W);
        // SAFETY: `len` lanes from offset `i` lie inside all four equal-length slices.
        unsafe {
            let gv = load(g.as_ptr().add(i), len);
            let mv = load(m.as_ptr().add(i), len);
            let mv = _mm256_add_ps(mv, _mm256_mul_ps(omb1, _mm256_sub_ps(gv, mv)));
            let vv = _mm256_add_ps(
                _mm256_mul_ps(b2, load(v.as_ptr().add(i), len)),
                _mm256_mul_ps(_mm256_mul_ps(omb2, gv), gv),
            );
            let denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vv), bc2s), eps);
            let pv = _mm256_sub_ps(load(p.as_ptr().add(i), len), _mm256_div_ps(_mm256_mul_ps(step, mv), denom));
            store(m.as_mut_ptr().add(i), mv, len);
            store(v.as_mut_ptr().add(i), vv, len);
            store(p.as_mut_ptr().add(i), pv, len);
        }
        i += W;
    }
}

#[target_feature(enable = "avx2,fma")]
pub unsafe fn mse_grad(grad: &mut [f32], out: &[f32], target: &[f32], scale: f32) -> f64 {
    let s = _mm256_set1_ps(scale);
    let (mut lo, mut hi) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    let n = grad.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(W);
        // SAFETY: `len` lanes from offset `i` lie inside the three equal-length slices.
        unsafe {
            let d = _mm256_sub_ps(load(out.as_ptr().add(i), len), load(target.as_ptr().add(i), len));
            store(grad.as_mut_ptr().add(i), _mm256_mul_ps(s, d), len);
            let dl = _mm256_cvtps_pd(_mm256_castps256_ps128(d));
            let dh = _mm256_cvtps_pd(_mm256_extractf128_ps(d, 1));
            lo = _mm256_fmadd_pd(dl, dl, lo);
            hi = _mm256_fmadd_pd(dh, dh, hi);
        }
        i += W;
    }
    // SAFETY: register-only operations.
    unsafe { hsum_pd(_mm256_add_pd(lo, hi)) }
}

#[target_feature(enable = "avx2,fma")]
pub unsafe fn reparam_forward(z: &mut [f32], mu: &[f32], logvar: &[f32], eps: &[f32]) {
    let half = _mm256_set1_ps(0.5);
    let n = z.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(W);
        // SAFETY: `len` lanes from offset `i` lie inside the four equal-length slices.
        unsafe {
            let sd = exp(_mm256_mul_ps(half, load(logvar.as_ptr().add(i), len)));
            store(
                z.as_mut_ptr().add(i),
                _mm256_fmadd_ps(sd, load(eps.as_ptr().add(i), len), load(mu.as_ptr().add(i), len)),
                len,
            );
        }
        i += W;
    }
}

#[target_feature(enable = "avx2,fma")]
pub unsafe fn reparam_backward(dmu: &mut [f32], dlogvar: &mut [f32], dz: &[f32], logvar: &[f32], eps: &[f32]) {
    let half = _mm256_set1_ps(0.5);
    let n = dz.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(W);
        // SAFETY: `len` lanes from offset `i` lie inside the five equal-length slices.
        unsafe {
            let g = load(dz.as_ptr().add(i), len);
            store(dmu.as_mut_ptr().add(i), _mm256_add_ps(load(dmu.as_ptr().add(i), len), g), len);
            let sd = exp(_mm256_mul_ps(half, load(logvar.as_ptr().add(i), len)));
            let t = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(g, half), sd), load(eps.as_ptr().add(i), len));
            store(dlogvar.as_mut_ptr().add(i), _mm256_add_ps(load(dlogvar.as_ptr().add(i), len), t), len);
        }
        i += W;
    }
}

#[target_feature(enable = "avx2,fma")]
pub unsafe fn kl_normal(dmu: &mut [f32], dlogvar: &mut [f32], mu: &[f32], logvar: &[f32], scale: f32) -> f64 {
    let (half, one, s) = (_mm256_set1_ps(0.5), _mm256_set1_ps(1.0), _mm256_set1_ps(scale));
    let mut acc = _mm256_setzero_pd();
    let n = mu.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(W);
        // SAFETY: `len` lanes from offset `i` lie inside the four equal-length slices.
        unsafe {
            let (m, lv) = (load(mu.as_ptr().add(i), len), load(logvar.as_ptr().add(i), len));
            let e = exp(lv);
            // Masked lanes load m = lv = 0, whose term is ½(0 + 1 − 1 − 0) = 0.
            let term = _mm256_mul_ps(half, _mm256_sub_ps(_mm256_sub_ps(_mm256_fmadd_ps(m, m, e), one), lv));
            acc = add_f64(acc, term);
            store(dmu.as_mut_ptr().add(i), _mm256_fmadd_ps(s, m, load(dmu.as_ptr().add(i), len)), len);
            let g = _mm256_mul_ps(_mm256_mul_ps(s, half), _mm256_sub_ps(e, one));
            store(dlogvar.as_mut_ptr().add(i), _mm256_add_ps(load(dlogvar.as_ptr().add(i), len), g), len);
        }
        i += W;
    }
    // SAFETY: register-only operations.
    unsafe { hsum_pd(acc) }
}

#[target_feature(enable = "avx2,fma")]
pub unsafe fn l1_penalty(da: &mut [f32], a: &[f32], scale: f32) -> f64 {
    let (s, ns, zero) = (_mm256_set1_ps(scale), _mm256_set1_ps(-scale), _mm256_setzero_ps());
    let absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
    let mut acc = _mm256_setzero_pd();
    let n = a.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(W);
        // SAFETY: `len` lanes from offset `i` lie inside both slices.
        unsafe {
            let av = load(a.as_ptr().add(i), len);
            acc = add_f64(acc, _mm256_and_ps(av, absmask));
            let pos = _mm256_cmp_ps(av, zero, _CMP_GT_OQ);
            let neg = _mm256_cmp_ps(av, zero, _CMP_LT_OQ);
            let step = _mm256_or_ps(_mm256_and_ps(pos, s), _mm256_and_ps(neg, ns));
            store(da.as_mut_ptr().add(i), _mm256_add_ps(load(da.as_ptr().add(i), len), step), len);
        }
        i += W;
    }
    // SAFETY: register-only operations.
    unsafe { hsum_pd(acc) }
}

#[target_feature(enable = "avx2,fma")]
pub unsafe fn kl_sparsity(drho: &mut [f32], rho_hat: &[f32], rho: f32, scale: f32) -> f64 {
    let (r, omr, s, one) = (_mm256_set1_ps(rho), _mm256_set1_ps(1.0 - rho), _mm256_set1_ps(scale), _mm256_set1_ps(1.0));
    let (lnr, lnomr) = (_mm256_set1_ps(rho.ln()), _mm256_set1_ps((1.0 - rho).ln()));
    let mut acc = _mm256_setzero_pd();
    let n = rho_hat.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(W);
        // SAFETY: `len` lanes from offset `i` lie inside both slices.
        unsafe {
            let mask = _mm256_castsi256_ps(tail_mask(len));
            // Masked lanes take q = ρ, whose KL term is 0.
            let q = _mm256_blendv_ps(r, load(rho_hat.as_ptr().add(i), len), mask);
            let omq = _mm256_sub_ps(one, q);
            let t = _mm256_add_ps(
                _mm256_mul_ps(r, _mm256_sub_ps(lnr, ln(q))),
                _mm256_mul_ps(omr, _mm256_sub_ps(lnomr, ln(omq))),
            );
            acc = add_f64(acc, _mm256_and_ps(t, mask));
            let g = _mm256_mul_ps(s, _mm256_sub_ps(_mm256_div_ps(omr, omq), _mm256_div_ps(r, q)));
            store(drho.as_mut_ptr().add(i), g, len);
        }
        i += W;
    }
    // SAFETY: register-only operations.
    unsafe { hsum_pd(acc) }
}

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
    // SAFETY: the caller guarantees columns [j0, min(j0 + 8·NV, n)) exist in every row of wᵀ
    // and in `o`/`bias`; `load`/`store` mask the last vector to the valid columns.
    unsafe {
        let mut acc = [_mm256_setzero_ps(); NV];
        let lens: [usize; NV] = std::array::from_fn(|v| n.saturating_sub(j0 + v * W).min(W));
        for (v, av) in acc.iter_mut().enumerate() {
            *av = load(bias.add(j0 + v * W), lens[v]);
        }
        for q in 0..k {
            let x = _mm256_set1_ps(*a.add(q));
            let row = wt.add(q * n + j0);
            for (v, av) in acc.iter_mut().enumerate() {
                *av = _mm256_fmadd_ps(x, load(row.add(v * W), lens[v]), *av);
            }
        }
        let s = _mm256_set1_ps(slope);
        for (v, av) in acc.iter().enumerate() {
            store(o.add(j0 + v * W), leaky(*av, s), lens[v]);
        }
    }
}

#[target_feature(enable = "avx2,fma")]
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
