//! The reference implementation of every kernel: plain loops, the specification the SIMD
//! versions are tested against. Sums that are returned accumulate in f64.

use crate::check;
use crate::AdamStep;

/// x\[r,c] = leaky(x\[r,c] + bias\[c]), leaky(u) = u if u > 0 else slope·u.
pub fn bias_leaky_forward(x: &mut [f32], bias: &[f32], slope: f32) {
    check::whole_rows("bias_leaky_forward", ("x", x.len()), ("bias", bias.len()));
    if bias.is_empty() {
        return; // x is empty too (checked above)
    }
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, &b) in row.iter_mut().zip(bias) {
            let u = *v + b;
            *v = if u > 0.0 { u } else { slope * u };
        }
    }
}

/// d\[i] *= 1 if y\[i] > 0 else slope.
pub fn leaky_backward(d: &mut [f32], y: &[f32], slope: f32) {
    check::equal("leaky_backward", &[("d", d.len()), ("y", y.len())]);
    for (d, &y) in d.iter_mut().zip(y) {
        if y <= 0.0 {
            *d *= slope;
        }
    }
}

/// acc\[c] += Σ_r x[r, c], rows in order.
pub fn col_sums_add(acc: &mut [f32], x: &[f32]) {
    check::whole_rows("col_sums_add", ("x", x.len()), ("acc", acc.len()));
    if acc.is_empty() {
        return; // x is empty too (checked above)
    }
    for row in x.chunks_exact(acc.len()) {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a += v;
        }
    }
}

/// acc\[c] += Σ_t x[c·hw + t] with hw = x.len() / acc.len() (planes one after another): each
/// plane's sum over 16 interleaved partials (partial l, from +0, takes the values at t ≡ l
/// (mod 16) of the plane's whole chunks of 16, in order), then [`fold_plane`].
pub fn plane_sums_add(acc: &mut [f32], x: &[f32]) {
    check::whole_rows("plane_sums_add", ("x", x.len()), ("acc", acc.len()));
    if acc.is_empty() {
        return; // x is empty too (checked above)
    }
    let hw = x.len() / acc.len();
    if hw == 0 {
        acc.iter_mut().for_each(|a| *a += fold_plane(&[0.0; 16], &[]));
        return;
    }
    for (a, plane) in acc.iter_mut().zip(x.chunks_exact(hw)) {
        let mut part = [0.0f32; 16];
        let chunks = plane.chunks_exact(16);
        let tail = chunks.remainder();
        for ch in chunks {
            for (p, &v) in part.iter_mut().zip(ch) {
                *p += v;
            }
        }
        *a += fold_plane(&part, tail);
    }
}

/// x\[i] = +0 for every i.
pub fn zero(x: &mut [f32]) {
    x.fill(0.0);
}

/// A plane's sum from its 16 partials and the values past its last whole chunk of 16: the
/// partials added 0 to 15 in order, plus the tail's values added in order (shared by every
/// instruction set's `plane_sums_add`, so the rounding is one sequence).
pub(crate) fn fold_plane(part: &[f32; 16], tail: &[f32]) -> f32 {
    part.iter().sum::<f32>() + tail.iter().sum::<f32>()
}

/// PyTorch's Adam update: m += (1−β1)(g − m); v = β2·v + (1−β2)·g²;
/// p −= step_size · m / (√v / √bc2 + ε).
pub fn adam_update(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], hp: &AdamStep) {
    check::equal("adam_update", &[("p", p.len()), ("g", g.len()), ("m", m.len()), ("v", v.len())]);
    for i in 0..p.len() {
        m[i] += hp.one_minus_beta1 * (g[i] - m[i]);
        v[i] = hp.beta2 * v[i] + hp.one_minus_beta2 * g[i] * g[i];
        p[i] -= hp.step_size * m[i] / (v[i].sqrt() / hp.bc2_sqrt + hp.eps);
    }
}

/// grad = scale·(out − target); returns Σ (out − target)².
pub fn mse_grad(grad: &mut [f32], out: &[f32], target: &[f32], scale: f32) -> f64 {
    check::equal("mse_grad", &[("grad", grad.len()), ("out", out.len()), ("target", target.len())]);
    let mut sum = 0.0f64;
    for i in 0..grad.len() {
        let d = out[i] - target[i];
        grad[i] = scale * d;
        sum += (d as f64) * (d as f64);
    }
    sum
}

/// z = μ + exp(½·logσ²)·ε.
pub fn reparam_forward(z: &mut [f32], mu: &[f32], logvar: &[f32], eps: &[f32]) {
    check::equal("reparam_forward", &[("z", z.len()), ("mu", mu.len()), ("logvar", logvar.len()), ("eps", eps.len())]);
    for i in 0..z.len() {
        z[i] = mu[i] + (0.5 * logvar[i]).exp() * eps[i];
    }
}

/// dμ += dz; dlogσ² += dz·½·exp(½·logσ²)·ε.
pub fn reparam_backward(dmu: &mut [f32], dlogvar: &mut [f32], dz: &[f32], logvar: &[f32], eps: &[f32]) {
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
    for i in 0..dz.len() {
        dmu[i] += dz[i];
        dlogvar[i] += dz[i] * 0.5 * (0.5 * logvar[i]).exp() * eps[i];
    }
}

/// Returns ½·Σ(μ² + e^lv − 1 − lv); dμ += scale·μ; dlv += scale·½·(e^lv − 1).
pub fn kl_normal(dmu: &mut [f32], dlogvar: &mut [f32], mu: &[f32], logvar: &[f32], scale: f32) -> f64 {
    check::equal(
        "kl_normal",
        &[("dmu", dmu.len()), ("dlogvar", dlogvar.len()), ("mu", mu.len()), ("logvar", logvar.len())],
    );
    let mut sum = 0.0f64;
    for i in 0..mu.len() {
        let e = logvar[i].exp();
        sum += (0.5 * (mu[i] * mu[i] + e - 1.0 - logvar[i])) as f64;
        dmu[i] += scale * mu[i];
        dlogvar[i] += scale * 0.5 * (e - 1.0);
    }
    sum
}

/// Returns Σ|a|; da += scale·sign(a) (sign(0) = 0).
pub fn l1_penalty(da: &mut [f32], a: &[f32], scale: f32) -> f64 {
    check::equal("l1_penalty", &[("da", da.len()), ("a", a.len())]);
    let mut sum = 0.0f64;
    for i in 0..a.len() {
        sum += a[i].abs() as f64;
        if a[i] > 0.0 {
            da[i] += scale;
        } else if a[i] < 0.0 {
            da[i] -= scale;
        }
    }
    sum
}

/// Returns Σ_j [ρ ln(ρ/ρ̂_j) + (1−ρ) ln((1−ρ)/(1−ρ̂_j))]; drho_j = scale·(−ρ/ρ̂_j + (1−ρ)/(1−ρ̂_j)).
pub fn kl_sparsity(drho: &mut [f32], rho_hat: &[f32], rho: f32, scale: f32) -> f64 {
    check::equal("kl_sparsity", &[("drho", drho.len()), ("rho_hat", rho_hat.len())]);
    let mut sum = 0.0f64;
    for j in 0..rho_hat.len() {
        let q = rho_hat[j];
        sum += (rho * (rho.ln() - q.ln()) + (1.0 - rho) * ((1.0 - rho).ln() - (1.0 - q).ln())) as f64;
        drho[j] = scale * (-rho / q + (1.0 - rho) / (1.0 - q));
    }
    sum
}

/// out[m×n] = leaky(a[m×k] · wt[k×n] + bias), wt the weight *transposed* (input-major).
#[allow(clippy::too_many_arguments)]
pub fn dense_small(out: &mut [f32], a: &[f32], wt: &[f32], bias: &[f32], m: usize, k: usize, n: usize, slope: f32) {
    check::dense_small(out.len(), a.len(), wt.len(), bias.len(), m, k, n);
    for r in 0..m {
        let o = &mut out[r * n..(r + 1) * n];
        o.copy_from_slice(&bias[..n]);
        for q in 0..k {
            let av = a[r * k + q];
            for (oj, &w) in o.iter_mut().zip(&wt[q * n..(q + 1) * n]) {
                *oj += av * w;
            }
        }
        for v in o.iter_mut() {
            if *v <= 0.0 {
                *v *= slope;
            }
        }
    }
}

/// The reference of [`crate::Kernels::mlp_forward`]: each row through every packed layer in
/// turn, each layer exactly as [`dense_small`] computes it (bias, then the products added in
/// input order, then LeakyReLU), reading the pack's blocks in order.
pub fn mlp_forward(out: &mut [f32], x: &[f32], rows: usize, pack: &crate::mlp::MlpPack, scratch: &mut [f32]) {
    crate::mlp::check_call(out.len(), x.len(), rows, pack, scratch.len());
    let (din, dout, block) = (pack.in_dim(), pack.out_dim(), pack.block());
    let vals = pack.values();
    let (mut cur, mut next) = scratch.split_at_mut(scratch.len() / 2);
    for r in 0..rows {
        cur[..din].copy_from_slice(&x[r * din..(r + 1) * din]);
        for l in pack.layers() {
            let (mut at, mut j0) = (l.at, 0);
            while j0 < l.out_pad {
                // Block [j0, j0 + bw): bw biases, then bw weights per input.
                let bw = block.min(l.out_pad - j0);
                let blk = &vals[at..at + bw * (l.inp + 1)];
                let o = &mut next[j0..j0 + bw];
                o.copy_from_slice(&blk[..bw]);
                for (q, &a) in cur[..l.inp].iter().enumerate() {
                    for (v, &w) in o.iter_mut().zip(&blk[(q + 1) * bw..(q + 2) * bw]) {
                        *v += a * w;
                    }
                }
                for v in o.iter_mut() {
                    if *v <= 0.0 {
                        *v *= l.slope;
                    }
                }
                at += bw * (l.inp + 1);
                j0 += bw;
            }
            std::mem::swap(&mut cur, &mut next);
        }
        out[r * dout..(r + 1) * dout].copy_from_slice(&cur[..dout]);
    }
}

/// dst[r·len + t] = src[r·rs + (t − lo)·step] for lo ≤ t < hi, else 0 (one im2col tap).
pub fn window_gather(dst: &mut [f32], src: &[f32], g: &crate::window::Strided) {
    g.check("window_gather", dst.len(), src.len());
    for r in 0..g.rows {
        for t in 0..g.len {
            dst[r * g.len + t] = if (g.lo..g.hi).contains(&t) { src[r * g.rs + (t - g.lo) * g.step] } else { 0.0 };
        }
    }
}

/// dst[r·rs + (t − lo)·step] += src[r·len + t] for lo ≤ t < hi, rows and positions in order
/// (one col2im tap).
pub fn window_scatter_add(dst: &mut [f32], src: &[f32], g: &crate::window::Strided) {
    g.check("window_scatter_add", src.len(), dst.len());
    for r in 0..g.rows {
        for t in g.lo..g.hi {
            dst[r * g.rs + (t - g.lo) * g.step] += src[r * g.len + t];
        }
    }
}

/// a[r·a_rs + t] += s·b[r·b_rs + t] (a direct convolution's tap).
pub fn rows_axpy(a: &mut [f32], b: &[f32], s: f32, g: &crate::window::Rows) {
    g.check("rows_axpy", a.len(), b.len());
    for r in 0..g.rows {
        for t in 0..g.len {
            a[r * g.a_rs + t] += s * b[r * g.b_rs + t];
        }
    }
}

/// a[r·a_rs + t] = b[r·b_rs + t] (rows copied between row strides).
pub fn rows_copy(a: &mut [f32], b: &[f32], g: &crate::window::Rows) {
    g.check("rows_copy", a.len(), b.len());
    for r in 0..g.rows {
        for t in 0..g.len {
            a[r * g.a_rs + t] = b[r * g.b_rs + t];
        }
    }
}

/// Σ a[r·a_rs + t]·b[r·b_rs + t]: 16 partial sums, partial l over the positions t ≡ l (mod 16)
/// of every row, rows in order, then the partials added 0 to 15 in order.
pub fn rows_dot(a: &[f32], b: &[f32], g: &crate::window::Rows) -> f32 {
    g.check("rows_dot", a.len(), b.len());
    let mut acc = [0.0f32; 16];
    for r in 0..g.rows {
        for t in 0..g.len {
            acc[t % 16] += a[r * g.a_rs + t] * b[r * g.b_rs + t];
        }
    }
    acc.iter().fold(0.0, |s, &v| s + v)
}

/// The reference of [`crate::Kernels::mlp_batch`]: each row mapped by `norm` if given
/// ((x − shift) / scale) and checked finite, then through every packed layer in turn, each
/// output as the packed GEMM with its fused epilogue forms it: per K-block of
/// [`crate::gemm::KC`] inputs a sum from zero of `mul_add`s in input order, the blocks' sums
/// added in order, then the bias added, then LeakyReLU. False at the first value that is not
/// finite after the map.
pub fn mlp_batch_forward(
    out: &mut [f32],
    x: &[f32],
    rows: usize,
    pack: &crate::mlp_batch::MlpBatchPack,
    norm: Option<crate::mlp_batch::Affine<'_>>,
    scratch: &mut [f32],
) -> bool {
    crate::mlp_batch::check_call(out.len(), x.len(), rows, pack, norm.as_ref(), scratch.len());
    let (din, dout) = (pack.in_dim(), pack.out_dim());
    let vals = pack.values();
    let (mut cur, mut next) = scratch.split_at_mut(scratch.len() / 2);
    for r in 0..rows {
        for (c, v) in cur[..din].iter_mut().enumerate() {
            let u = x[r * din + c];
            *v = match &norm {
                Some(a) => (u - a.shift[c]) / a.scale[c],
                None => u,
            };
            if !v.is_finite() {
                return false;
            }
        }
        for l in pack.layers() {
            for (j, o) in next[..l.out].iter_mut().enumerate() {
                // Weight (q, j) at col + q·tw (`MlpBatchPack::weight_index`).
                let (tw, at) = pack.tile_of(l, j);
                let col = at + j % pack.cols();
                let mut total = 0.0f32;
                for p0 in (0..l.inp).step_by(crate::gemm::KC) {
                    let mut s = 0.0f32;
                    for (q, &a) in cur.iter().enumerate().take(l.inp.min(p0 + crate::gemm::KC)).skip(p0) {
                        s = a.mul_add(vals[col + q * tw], s);
                    }
                    total = if p0 == 0 { s } else { total + s };
                }
                let v = total + vals[l.bias_at + j];
                *o = if v <= 0.0 { v * l.slope } else { v };
            }
            std::mem::swap(&mut cur, &mut next);
        }
        out[r * dout..(r + 1) * dout].copy_from_slice(&cur[..dout]);
    }
    true
}
