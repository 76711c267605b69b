//! One body per kernel, written once over [`Simd`] and instantiated per instruction set by
//! [`instantiate!`] (thin `#[target_feature]` wrappers in `avx2.rs` and `avx512.rs`). Each body
//! computes what its namesake in `scalar.rs` specifies; ragged ends are masked loads and
//! stores, so there are no scalar tail loops.
//!
//! Every body is `unsafe` for the same reason as every [`Simd`] method: it must be inlined
//! into a function compiled for the ISA `S` stands for. Memory safety is the body's own job:
//! each first checks its slice lengths (`crate::check`, the contract on its `crate::Kernels`
//! type) and panics on a mismatch, so its raw loads and stores stay inside the slices.

use crate::check;
use crate::simd::{self, Simd};
use crate::AdamStep;

/// x[r, c] ← leaky(x[r, c] + bias[c]) over rows of `bias.len()` columns.
#[inline(always)]
pub(crate) unsafe fn bias_leaky_forward<S: Simd>(x: &mut [f32], bias: &[f32], slope: f32) {
    check::whole_rows("bias_leaky_forward", ("x", x.len()), ("bias", bias.len()));
    let cols = bias.len();
    if cols == 0 {
        return; // x is empty too (checked above)
    }
    // SAFETY (every block in this body): register-only, or `len` lanes from offset `c` inside
    // `row` and `bias`; the ISA is enabled in the caller (module doc).
    let s = unsafe { S::splat(slope) };
    for row in x.chunks_exact_mut(cols) {
        let mut c = 0;
        while c < cols {
            let len = (cols - c).min(S::W);
            // SAFETY: as this body's first SAFETY note says.
            unsafe {
                let u = S::add(S::load(row.as_ptr().add(c), len), S::load(bias.as_ptr().add(c), len));
                S::store(row.as_mut_ptr().add(c), S::select_pos(u, u, S::mul(u, s)), len);
            }
            c += S::W;
        }
    }
}

/// d[i] ← d[i] if y[i] > 0, else slope·d[i] (y is the layer output; same sign as its input).
#[inline(always)]
pub(crate) unsafe fn leaky_backward<S: Simd>(d: &mut [f32], y: &[f32], slope: f32) {
    check::equal("leaky_backward", &[("d", d.len()), ("y", y.len())]);
    // SAFETY (every block in this body): register-only, or `len` lanes from offset `i` inside
    // `d` and `y`; the ISA is enabled in the caller.
    let s = unsafe { S::splat(slope) };
    let n = d.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(S::W);
        // SAFETY: as this body's first SAFETY note says.
        unsafe {
            let dv = S::load(d.as_ptr().add(i), len);
            let yv = S::load(y.as_ptr().add(i), len);
            S::store(d.as_mut_ptr().add(i), S::select_pos(yv, dv, S::mul(dv, s)), len);
        }
        i += S::W;
    }
}

/// x\[i] = +0, W values a store (the last one masked).
#[inline(always)]
pub(crate) unsafe fn zero<S: Simd>(x: &mut [f32]) {
    let n = x.len();
    let mut i = 0;
    while i < n {
        // SAFETY: the store writes lanes i..i + min(W, n − i) of x; the ISA is enabled in
        // the caller.
        unsafe { S::store(x.as_mut_ptr().add(i), S::zero(), (n - i).min(S::W)) };
        i += S::W;
    }
}

/// acc\[c] += Σ_t x[c·hw + t] (the reference: `scalar::plane_sums_add`): four planes at a
/// time, each plane's 16 partials one vector (two on AVX2) added chunk after chunk, so four
/// (eight) independent chains run side by side; then each plane's partials stored and folded
/// with the tail by `scalar::fold_plane`. The bits are the reference's.
#[inline(always)]
pub(crate) unsafe fn plane_sums_add<S: Simd>(acc: &mut [f32], x: &[f32]) {
    check::whole_rows("plane_sums_add", ("x", x.len()), ("acc", acc.len()));
    let c = acc.len();
    if c == 0 {
        return; // x is empty too (checked above)
    }
    let hw = x.len() / c;
    if hw == 0 {
        acc.iter_mut().for_each(|a| *a += crate::scalar::fold_plane(&[0.0; 16], &[]));
        return;
    }
    let mut p = 0;
    // SAFETY: planes p..p + G of hw values each lie inside x (c·hw = x.len(), p + G ≤ c); the
    // ISA is enabled in the caller.
    unsafe {
        while p + 4 <= c {
            plane_group::<S, 4>(&mut acc[p..p + 4], &x[p * hw..(p + 4) * hw], hw);
            p += 4;
        }
        while p < c {
            plane_group::<S, 1>(&mut acc[p..p + 1], &x[p * hw..(p + 1) * hw], hw);
            p += 1;
        }
    }
}

/// G planes of [`plane_sums_add`] (acc.len() = G, x.len() = G·hw).
///
/// Safety: inlined into a function compiled for `S`'s instruction set.
#[inline(always)]
unsafe fn plane_group<S: Simd, const G: usize>(acc: &mut [f32], x: &[f32], hw: usize) {
    assert!(acc.len() == G && x.len() == G * hw);
    let two = S::W < 16;
    let whole = hw / 16 * 16;
    // SAFETY: every load reads W lanes at t + (0 or W) < whole ≤ hw of plane k < G inside x;
    // each store writes W lanes (twice W ≤ 16 with two) of `part`.
    unsafe {
        let (mut lo, mut hi) = ([S::zero(); G], [S::zero(); G]);
        let mut t = 0;
        while t < whole {
            for k in 0..G {
                let at = x.as_ptr().add(k * hw + t);
                lo[k] = S::add(lo[k], S::load(at, S::W));
                if two {
                    hi[k] = S::add(hi[k], S::load(at.add(S::W), S::W));
                }
            }
            t += 16;
        }
        for k in 0..G {
            let mut part = [0.0f32; 16];
            S::store(part.as_mut_ptr(), lo[k], S::W);
            if two {
                S::store(part.as_mut_ptr().add(S::W), hi[k], S::W);
            }
            acc[k] += crate::scalar::fold_plane(&part, &x[k * hw + whole..(k + 1) * hw]);
        }
    }
}

/// acc[c] += Σ_r x[r, c]. Up to 8 column vectors stay in registers while all rows stream
/// past; rows are added in order, so each column's sum is the scalar code's sequence of f32
/// additions.
#[inline(always)]
pub(crate) unsafe fn col_sums_add<S: Simd>(acc: &mut [f32], x: &[f32]) {
    check::whole_rows("col_sums_add", ("x", x.len()), ("acc", acc.len()));
    let cols = acc.len();
    let rows = x.len() / cols.max(1);
    let mut c0 = 0;
    while c0 < cols {
        let nv = (cols - c0).div_ceil(S::W).min(8);
        // SAFETY: each vector v covers lanes [c0 + W·v, c0 + W·v + len) inside the row and
        // `acc`; the ISA is enabled in the caller.
        unsafe {
            let mut a = [S::zero(); 8];
            for (v, av) in a.iter_mut().enumerate().take(nv) {
                let c = c0 + v * S::W;
                *av = S::load(acc.as_ptr().add(c), (cols - c).min(S::W));
            }
            for r in 0..rows {
                let row = x.as_ptr().add(r * cols);
                for (v, av) in a.iter_mut().enumerate().take(nv) {
                    let c = c0 + v * S::W;
                    *av = S::add(*av, S::load(row.add(c), (cols - c).min(S::W)));
                }
            }
            for (v, av) in a.iter().enumerate().take(nv) {
                let c = c0 + v * S::W;
                S::store(acc.as_mut_ptr().add(c), *av, (cols - c).min(S::W));
            }
        }
        c0 += nv * S::W;
    }
}

/// One Adam step over all parameters (see [`AdamStep`] for the update).
#[inline(always)]
pub(crate) unsafe fn adam_update<S: Simd>(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], hp: &AdamStep) {
    check::equal("adam_update", &[("p", p.len()), ("g", g.len()), ("m", m.len()), ("v", v.len())]);
    // SAFETY (every block in this body): register-only, or `len` lanes from offset `i` inside
    // the four equal-length slices; the ISA is enabled in the caller.
    let (omb1, b2, omb2, step, bc2s, eps) = unsafe {
        (
            S::splat(hp.one_minus_beta1),
            S::splat(hp.beta2),
            S::splat(hp.one_minus_beta2),
            S::splat(hp.step_size),
            S::splat(hp.bc2_sqrt),
            S::splat(hp.eps),
        )
    };
    let n = p.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(S::W);
        // SAFETY: as this body's first SAFETY note says.
        unsafe {
            let gv = S::load(g.as_ptr().add(i), len);
            let mv = S::load(m.as_ptr().add(i), len);
            let mv = S::add(mv, S::mul(omb1, S::sub(gv, mv)));
            let vv = S::add(S::mul(b2, S::load(v.as_ptr().add(i), len)), S::mul(S::mul(omb2, gv), gv));
            let denom = S::add(S::div(S::sqrt(vv), bc2s), eps);
            let pv = S::sub(S::load(p.as_ptr().add(i), len), S::div(S::mul(step, mv), denom));
            S::store(m.as_mut_ptr().add(i), mv, len);
            S::store(v.as_mut_ptr().add(i), vv, len);
            S::store(p.as_mut_ptr().add(i), pv, len);
        }
        i += S::W;
    }
}

/// grad ← scale·(out − target); returns Σ (out − target)² in f64.
#[inline(always)]
pub(crate) unsafe fn mse_grad<S: Simd>(grad: &mut [f32], out: &[f32], target: &[f32], scale: f32) -> f64 {
    check::equal("mse_grad", &[("grad", grad.len()), ("out", out.len()), ("target", target.len())]);
    // SAFETY (every block in this body): register-only, or `len` lanes from offset `i` inside
    // the three equal-length slices; the ISA is enabled in the caller.
    let (s, mut acc) = unsafe { (S::splat(scale), S::acc_zero()) };
    let n = grad.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(S::W);
        // SAFETY: as this body's first SAFETY note says.
        unsafe {
            let d = S::sub(S::load(out.as_ptr().add(i), len), S::load(target.as_ptr().add(i), len));
            S::store(grad.as_mut_ptr().add(i), S::mul(s, d), len);
            acc = S::acc_add_sq(acc, d); // masked lanes are 0 − 0
        }
        i += S::W;
    }
    // SAFETY: as this body's first SAFETY note says.
    unsafe { S::acc_sum(acc) }
}

/// z = μ + e^{½·logvar}·ε.
#[inline(always)]
pub(crate) unsafe fn reparam_forward<S: Simd>(z: &mut [f32], mu: &[f32], logvar: &[f32], eps: &[f32]) {
    check::equal("reparam_forward", &[("z", z.len()), ("mu", mu.len()), ("logvar", logvar.len()), ("eps", eps.len())]);
    // SAFETY (every block in this body): register-only, or `len` lanes from offset `i` inside
    // the four equal-length slices; the ISA is enabled in the caller.
    let half = unsafe { S::splat(0.5) };
    let n = z.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(S::W);
        // SAFETY: as this body's first SAFETY note says.
        unsafe {
            let sd = simd::exp::<S>(S::mul(half, S::load(logvar.as_ptr().add(i), len)));
            let zv = S::fmadd(sd, S::load(eps.as_ptr().add(i), len), S::load(mu.as_ptr().add(i), len));
            S::store(z.as_mut_ptr().add(i), zv, len);
        }
        i += S::W;
    }
}

/// dμ += dz; dlogvar += dz·½·e^{½·logvar}·ε (the derivative of z = μ + e^{½·logvar}·ε).
#[inline(always)]
pub(crate) unsafe fn reparam_backward<S: Simd>(
    dmu: &mut [f32],
    dlogvar: &mut [f32],
    dz: &[f32],
    logvar: &[f32],
    eps: &[f32],
) {
    check::equal(
        "reparam_backward",
        &[
            ("dmu", dmu.len()),
            ("dlogvar", dlogvar.len()),
            ("dz", dz.len()),
            ("logvar", logvar.len()),
            ("eps", eps.len()),
        ],
    );
    // SAFETY (every block in this body): register-only, or `len` lanes from offset `i` inside
    // the five equal-length slices; the ISA is enabled in the caller.
    let half = unsafe { S::splat(0.5) };
    let n = dz.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(S::W);
        // SAFETY: as this body's first SAFETY note says.
        unsafe {
            let g = S::load(dz.as_ptr().add(i), len);
            S::store(dmu.as_mut_ptr().add(i), S::add(S::load(dmu.as_ptr().add(i), len), g), len);
            let sd = simd::exp::<S>(S::mul(half, S::load(logvar.as_ptr().add(i), len)));
            let t = S::mul(S::mul(S::mul(g, half), sd), S::load(eps.as_ptr().add(i), len));
            S::store(dlogvar.as_mut_ptr().add(i), S::add(S::load(dlogvar.as_ptr().add(i), len), t), len);
        }
        i += S::W;
    }
}

/// KL(N(μ, e^{logvar}) ‖ N(0, 1)) = Σ ½(μ² + e^{logvar} − 1 − logvar), returned in f64;
/// dμ += scale·μ, dlogvar += scale·½(e^{logvar} − 1).
#[inline(always)]
pub(crate) unsafe fn kl_normal<S: Simd>(
    dmu: &mut [f32],
    dlogvar: &mut [f32],
    mu: &[f32],
    logvar: &[f32],
    scale: f32,
) -> f64 {
    check::equal(
        "kl_normal",
        &[("dmu", dmu.len()), ("dlogvar", dlogvar.len()), ("mu", mu.len()), ("logvar", logvar.len())],
    );
    // SAFETY (every block in this body): register-only, or `len` lanes from offset `i` inside
    // the four equal-length slices; the ISA is enabled in the caller.
    let (half, one, s, mut acc) = unsafe { (S::splat(0.5), S::splat(1.0), S::splat(scale), S::acc_zero()) };
    let n = mu.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(S::W);
        // SAFETY: as this body's first SAFETY note says.
        unsafe {
            let (m, lv) = (S::load(mu.as_ptr().add(i), len), S::load(logvar.as_ptr().add(i), len));
            let e = simd::exp::<S>(lv);
            // Masked lanes: m = lv = 0 gives a term of ½(0 + 1 − 1 − 0) = 0.
            let term = S::mul(half, S::sub(S::sub(S::fmadd(m, m, e), one), lv));
            acc = S::acc_add(acc, term);
            S::store(dmu.as_mut_ptr().add(i), S::fmadd(s, m, S::load(dmu.as_ptr().add(i), len)), len);
            let g = S::mul(S::mul(s, half), S::sub(e, one));
            S::store(dlogvar.as_mut_ptr().add(i), S::add(S::load(dlogvar.as_ptr().add(i), len), g), len);
        }
        i += S::W;
    }
    // SAFETY: as this body's first SAFETY note says.
    unsafe { S::acc_sum(acc) }
}

/// Σ|a| in f64; da += scale·sign(a) (0 at a = 0).
#[inline(always)]
pub(crate) unsafe fn l1_penalty<S: Simd>(da: &mut [f32], a: &[f32], scale: f32) -> f64 {
    check::equal("l1_penalty", &[("da", da.len()), ("a", a.len())]);
    // SAFETY (every block in this body): register-only, or `len` lanes from offset `i` inside
    // both slices; the ISA is enabled in the caller.
    let (s, ns, mut acc) = unsafe { (S::splat(scale), S::splat(-scale), S::acc_zero()) };
    let n = a.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(S::W);
        // SAFETY: as this body's first SAFETY note says.
        unsafe {
            let av = S::load(a.as_ptr().add(i), len);
            acc = S::acc_add(acc, S::abs(av));
            let step = S::sign_step(av, s, ns);
            S::store(da.as_mut_ptr().add(i), S::add(S::load(da.as_ptr().add(i), len), step), len);
        }
        i += S::W;
    }
    // SAFETY: as this body's first SAFETY note says.
    unsafe { S::acc_sum(acc) }
}

/// Σ_j KL(ρ ‖ ρ̂_j) = ρ·ln(ρ/ρ̂) + (1−ρ)·ln((1−ρ)/(1−ρ̂)) in f64;
/// drho ← scale·((1−ρ)/(1−ρ̂) − ρ/ρ̂).
#[inline(always)]
pub(crate) unsafe fn kl_sparsity<S: Simd>(drho: &mut [f32], rho_hat: &[f32], rho: f32, scale: f32) -> f64 {
    check::equal("kl_sparsity", &[("drho", drho.len()), ("rho_hat", rho_hat.len())]);
    // SAFETY (every block in this body): register-only, or `len` lanes from offset `i` inside
    // both slices; the ISA is enabled in the caller.
    let (r, omr, s, one, lnr, lnomr, mut acc) = unsafe {
        (
            S::splat(rho),
            S::splat(1.0 - rho),
            S::splat(scale),
            S::splat(1.0),
            S::splat(rho.ln()),
            S::splat((1.0 - rho).ln()),
            S::acc_zero(),
        )
    };
    let n = rho_hat.len();
    let mut i = 0;
    while i < n {
        let len = (n - i).min(S::W);
        // SAFETY: as this body's first SAFETY note says.
        unsafe {
            // Masked lanes read q = ρ, whose KL term is 0 (and is masked out of the sum).
            let q = S::load_or(rho_hat.as_ptr().add(i), len, r);
            let omq = S::sub(one, q);
            let t = S::add(S::mul(r, S::sub(lnr, simd::ln::<S>(q))), S::mul(omr, S::sub(lnomr, simd::ln::<S>(omq))));
            acc = S::acc_add(acc, S::keep(t, len));
            let g = S::mul(s, S::sub(S::div(omr, omq), S::div(r, q)));
            S::store(drho.as_mut_ptr().add(i), g, len);
        }
        i += S::W;
    }
    // SAFETY: as this body's first SAFETY note says.
    unsafe { S::acc_sum(acc) }
}

/// One block of up to `NV` output vectors from column `j0` of one row: the accumulators stay
/// in registers while the k inputs are broadcast against rows of wᵀ.
///
/// Safety: columns [j0, min(j0 + W·NV, n)) exist in every row of wᵀ [k×n], in `o` and in
/// `bias`, and `a` holds k values.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn dense_block<S: Simd, const NV: usize>(
    o: *mut f32,
    a: *const f32,
    wt: *const f32,
    bias: *const f32,
    k: usize,
    n: usize,
    j0: usize,
    slope: f32,
) {
    // SAFETY: the caller's contract above; masks restrict the last vector to column n.
    unsafe {
        let mut acc = [S::zero(); NV];
        let lens: [usize; NV] = std::array::from_fn(|v| n.saturating_sub(j0 + v * S::W).min(S::W));
        for (v, av) in acc.iter_mut().enumerate() {
            *av = S::load(bias.add(j0 + v * S::W), lens[v]);
        }
        for q in 0..k {
            let x = S::splat(*a.add(q));
            let row = wt.add(q * n + j0);
            for (v, av) in acc.iter_mut().enumerate() {
                *av = S::fmadd(x, S::load(row.add(v * S::W), lens[v]), *av);
            }
        }
        let s = S::splat(slope);
        for (v, av) in acc.iter().enumerate() {
            S::store(o.add(j0 + v * S::W), S::select_pos(*av, *av, S::mul(*av, s)), lens[v]);
        }
    }
}

/// out[m×n] = leaky(a[m×k]·W + bias) with W given transposed, wᵀ [k×n] (input-major), for
/// the few rows of a trigger's batch.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn dense_small<S: Simd>(
    out: &mut [f32],
    a: &[f32],
    wt: &[f32],
    bias: &[f32],
    m: usize,
    k: usize,
    n: usize,
    slope: f32,
) {
    check::dense_small(out.len(), a.len(), wt.len(), bias.len(), m, k, n);
    let (wt, bias) = (wt.as_ptr(), bias.as_ptr());
    for r in 0..m {
        let (o, ar) = (out[r * n..].as_mut_ptr(), a[r * k..].as_ptr());
        let mut j0 = 0;
        while j0 < n {
            let nv = (n - j0).div_ceil(S::W).min(8);
            // SAFETY: shapes checked above; dense_block masks to column n.
            unsafe {
                match nv {
                    1 => dense_block::<S, 1>(o, ar, wt, bias, k, n, j0, slope),
                    2 => dense_block::<S, 2>(o, ar, wt, bias, k, n, j0, slope),
                    3 => dense_block::<S, 3>(o, ar, wt, bias, k, n, j0, slope),
                    4 => dense_block::<S, 4>(o, ar, wt, bias, k, n, j0, slope),
                    5 => dense_block::<S, 5>(o, ar, wt, bias, k, n, j0, slope),
                    6 => dense_block::<S, 6>(o, ar, wt, bias, k, n, j0, slope),
                    7 => dense_block::<S, 7>(o, ar, wt, bias, k, n, j0, slope),
                    _ => dense_block::<S, 8>(o, ar, wt, bias, k, n, j0, slope),
                }
            }
            j0 += nv * S::W;
        }
    }
}

/// Emits, in the invoking module, one `#[target_feature(enable = $feature)]` function per
/// kernel that runs the body above for the [`Simd`] type `$S` (`unsafe`: the CPU must have
/// `$feature`), and `TABLE`, the [`crate::Kernels`] of safe wrappers around them that
/// `crate::kernels_for` hands out only after checking the CPU's features.
macro_rules! instantiate {
    ($feature:literal, $isa:expr, $S:ty) => {
        #[target_feature(enable = $feature)]
        pub unsafe fn bias_leaky_forward(x: &mut [f32], bias: &[f32], slope: f32) {
            // SAFETY: the feature is enabled here, so the body's instructions may run.
            unsafe { crate::body::bias_leaky_forward::<$S>(x, bias, slope) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn leaky_backward(d: &mut [f32], y: &[f32], slope: f32) {
            // SAFETY: as above.
            unsafe { crate::body::leaky_backward::<$S>(d, y, slope) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn col_sums_add(acc: &mut [f32], x: &[f32]) {
            // SAFETY: as above.
            unsafe { crate::body::col_sums_add::<$S>(acc, x) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn zero(x: &mut [f32]) {
            // SAFETY: as above.
            unsafe { crate::body::zero::<$S>(x) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn plane_sums_add(acc: &mut [f32], x: &[f32]) {
            // SAFETY: as above.
            unsafe { crate::body::plane_sums_add::<$S>(acc, x) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn adam_update(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], hp: &crate::AdamStep) {
            // SAFETY: as above.
            unsafe { crate::body::adam_update::<$S>(p, g, m, v, hp) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn mse_grad(grad: &mut [f32], out: &[f32], target: &[f32], scale: f32) -> f64 {
            // SAFETY: as above.
            unsafe { crate::body::mse_grad::<$S>(grad, out, target, scale) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn reparam_forward(z: &mut [f32], mu: &[f32], logvar: &[f32], eps: &[f32]) {
            // SAFETY: as above.
            unsafe { crate::body::reparam_forward::<$S>(z, mu, logvar, eps) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn reparam_backward(dmu: &mut [f32], dlogvar: &mut [f32], dz: &[f32], logvar: &[f32], eps: &[f32]) {
            // SAFETY: as above.
            unsafe { crate::body::reparam_backward::<$S>(dmu, dlogvar, dz, logvar, eps) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn kl_normal(dmu: &mut [f32], dlogvar: &mut [f32], mu: &[f32], logvar: &[f32], scale: f32) -> f64 {
            // SAFETY: as above.
            unsafe { crate::body::kl_normal::<$S>(dmu, dlogvar, mu, logvar, scale) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn l1_penalty(da: &mut [f32], a: &[f32], scale: f32) -> f64 {
            // SAFETY: as above.
            unsafe { crate::body::l1_penalty::<$S>(da, a, scale) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn kl_sparsity(drho: &mut [f32], rho_hat: &[f32], rho: f32, scale: f32) -> f64 {
            // SAFETY: as above.
            unsafe { crate::body::kl_sparsity::<$S>(drho, rho_hat, rho, scale) }
        }
        #[target_feature(enable = $feature)]
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
            // SAFETY: as above.
            unsafe { crate::body::dense_small::<$S>(out, a, wt, bias, m, k, n, slope) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn mlp_forward(o: &mut [f32], x: &[f32], rows: usize, p: &crate::mlp::MlpPack, s: &mut [f32]) {
            // SAFETY: as above.
            unsafe { crate::mlp::forward_simd::<$S>(o, x, rows, p, s) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn window_gather(dst: &mut [f32], src: &[f32], g: &crate::window::Strided) {
            // SAFETY: as above.
            unsafe { crate::window::gather::<$S>(dst, src, g) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn window_scatter_add(dst: &mut [f32], src: &[f32], g: &crate::window::Strided) {
            // SAFETY: as above.
            unsafe { crate::window::scatter_add::<$S>(dst, src, g) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn rows_axpy(a: &mut [f32], b: &[f32], s: f32, g: &crate::window::Rows) {
            // SAFETY: as above.
            unsafe { crate::window::rows_axpy::<$S>(a, b, s, g) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn rows_copy(a: &mut [f32], b: &[f32], g: &crate::window::Rows) {
            // SAFETY: as above.
            unsafe { crate::window::rows_copy::<$S>(a, b, g) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn rows_dot(a: &[f32], b: &[f32], g: &crate::window::Rows) -> f32 {
            // SAFETY: as above.
            unsafe { crate::window::rows_dot::<$S>(a, b, g) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn rows_gemm(c: &mut [f32], a: &[f32], b: &[f32], offs: &[usize], g: &crate::rows_gemm::RowsGemm) {
            // SAFETY: as above.
            unsafe { crate::rows_gemm_simd::rows_gemm::<$S>(c, a, b, offs, g) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn rows_gemm_dot(
            c: &mut [f32],
            a: &[f32],
            b: &[f32],
            offs: &[usize],
            g: &crate::rows_gemm::RowsGemmDot,
        ) {
            // SAFETY: as above.
            unsafe { crate::rows_gemm_simd::rows_gemm_dot::<$S>(c, a, b, offs, g) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn mlp_batch(
            o: &mut [f32],
            x: &[f32],
            rows: usize,
            p: &crate::mlp_batch::MlpBatchPack,
            norm: Option<crate::mlp_batch::Affine<'_>>,
            s: &mut [f32],
        ) -> bool {
            // SAFETY: as above; the tile width is this set's.
            unsafe {
                crate::mlp_batch::forward_simd::<
                    $S,
                    { crate::mlp_batch::row_vectors($isa) },
                    { crate::mlp_batch::tile_cols($isa) },
                >(o, x, rows, p, norm, s)
            }
        }

        #[target_feature(enable = $feature)]
        pub unsafe fn conv_enc(o: &mut [f32], x: &[f32], p: &crate::conv_enc::ConvEncPack) {
            // SAFETY: as above.
            unsafe { crate::conv_enc_simd::forward_simd::<$S>(o, x, p) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn prelu_slope_grad(dy: &[f32], x: &[f32]) -> f64 {
            // SAFETY: as above.
            unsafe { crate::prelu::prelu_slope_grad::<$S>(dy, x) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn prelu_backward(d: &mut [f32], y: &[f32], slope: f32) -> f64 {
            // SAFETY: as above.
            unsafe { crate::prelu::prelu_backward::<$S>(d, y, slope) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn rows_bias_act_pair(
            dst: &mut [f32],
            a: &[f32],
            b: &[f32],
            bias: &[f32],
            slope: f32,
            g: &crate::plane_pairs::PairRows,
        ) {
            // SAFETY: as above.
            unsafe { crate::plane_pairs::rows_bias_act_pair::<$S>(dst, a, b, bias, slope, g) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn rows_bias_act(
            dst: &mut [f32],
            src: &[f32],
            bias: &[f32],
            slope: f32,
            g: &crate::plane_epilogue::PlaneRows,
        ) {
            // SAFETY: as above.
            unsafe { crate::plane_epilogue::rows_bias_act::<$S>(dst, src, bias, slope, g) }
        }
        #[target_feature(enable = $feature)]
        pub unsafe fn phase_split(dst: &mut [f32], src: &[f32], g: &crate::phase_split::PhaseSplit) {
            // SAFETY: as above.
            unsafe { crate::phase_split::phase_split::<$S>(dst, src, g) }
        }

        /// This set's kernels as safe function pointers. Reachable only through
        /// `crate::kernels_for`, which checks the CPU features first: that check, and the
        /// body's own length check (`crate::check`) before it touches memory, are the SAFETY
        /// argument of every `unsafe` call below.
        pub static TABLE: crate::Kernels = crate::Kernels {
            isa: $isa,
            // SAFETY (each closure): see `TABLE`'s doc.
            bias_leaky_forward: |x, b, s| unsafe { bias_leaky_forward(x, b, s) },
            leaky_backward: |d, y, s| unsafe { leaky_backward(d, y, s) },
            col_sums_add: |acc, x| unsafe { col_sums_add(acc, x) },
            plane_sums_add: |acc, x| unsafe { plane_sums_add(acc, x) },
            zero: |x| unsafe { zero(x) },
            adam_update: |p, g, m, v, hp| unsafe { adam_update(p, g, m, v, hp) },
            mse_grad: |g, o, t, s| unsafe { mse_grad(g, o, t, s) },
            reparam_forward: |z, mu, lv, e| unsafe { reparam_forward(z, mu, lv, e) },
            reparam_backward: |dmu, dlv, dz, lv, e| unsafe { reparam_backward(dmu, dlv, dz, lv, e) },
            kl_normal: |dmu, dlv, mu, lv, s| unsafe { kl_normal(dmu, dlv, mu, lv, s) },
            l1_penalty: |da, a, s| unsafe { l1_penalty(da, a, s) },
            kl_sparsity: |dr, q, rho, s| unsafe { kl_sparsity(dr, q, rho, s) },
            dense_small: |o, a, wt, b, m, k, n, s| unsafe { dense_small(o, a, wt, b, m, k, n, s) },
            mlp_forward: |o, x, r, p, s| unsafe { mlp_forward(o, x, r, p, s) },
            window_gather: |d, s, g| unsafe { window_gather(d, s, g) },
            window_scatter_add: |d, s, g| unsafe { window_scatter_add(d, s, g) },
            rows_axpy: |a, b, s, g| unsafe { rows_axpy(a, b, s, g) },
            rows_dot: |a, b, g| unsafe { rows_dot(a, b, g) },
            rows_copy: |a, b, g| unsafe { rows_copy(a, b, g) },
            rows_gemm: |c, a, b, o, g| unsafe { rows_gemm(c, a, b, o, g) },
            rows_gemm_dot: |c, a, b, o, g| unsafe { rows_gemm_dot(c, a, b, o, g) },
            mlp_batch: |o, x, r, p, a, s| unsafe { mlp_batch(o, x, r, p, a, s) },
            conv_enc: |o, x, p| unsafe { conv_enc(o, x, p) },
            sgemm_packed: crate::gemm::packed_entry!($isa),
            prefer_packed_gemm: true,
            rows_bias_act_pair: |d, a, b, bi, s, g| unsafe { rows_bias_act_pair(d, a, b, bi, s, g) },
            prelu_slope_grad: |dy, x| unsafe { prelu_slope_grad(dy, x) },
            prelu_backward: |d, y, s| unsafe { prelu_backward(d, y, s) },
            rows_bias_act: |d, s, b, a, g| unsafe { rows_bias_act(d, s, b, a, g) },
            phase_split: |d, s, g| unsafe { phase_split(d, s, g) },
        };
    };
}
pub(crate) use instantiate;
