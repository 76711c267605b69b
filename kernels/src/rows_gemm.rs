//! The implicit GEMMs of a convolution over whole planes: the B operand's rows are not a
//! matrix but ranges of one buffer at given offsets (a padded or phase-split image plane,
//! each kernel tap one offset), so a convolution's products need no column matrix and no
//! packing of it.
//!
//! - [`RowsGemmFn`] (forward, input gradients): c[i, j] (=, +=) Σ_q a[i, q]·b[offs\[q] + j]
//!   — M output channels × N positions, the sum over the K (channel, tap) pairs.
//! - [`RowsGemmDotFn`] (weight gradients): c[i, r] += Σ_images Σ_t a[i, t]·b[offs\[r] + t] —
//!   M output channels × R (channel, tap) pairs, each a dot product over `len` positions.
//!
//! The scalar references below are the specification, rounding included: the SIMD bodies
//! give the same bits.

/// The shape of one [`RowsGemmFn`] call: `m`×`n` outputs, rows `ldc` apart in c; `k`
/// products each, a's rows `lda` apart; `accumulate` adds into c, else c is overwritten.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowsGemm {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub lda: usize,
    pub ldc: usize,
    pub accumulate: bool,
}

/// c[i·ldc + j] = (c[i·ldc + j] if accumulate, else 0) then, for q = 0..k in order,
/// s ← a[i·lda + q]·b[offs\[q] + j] + s with one rounding (`mul_add`), for i < m, j < n.
/// Only those c values are touched.
pub type RowsGemmFn = fn(c: &mut [f32], a: &[f32], b: &[f32], offs: &[usize], g: &RowsGemm);

/// The shape of one [`RowsGemmDotFn`] call: `m`×`r` outputs, rows `ldc` apart in c; each a
/// dot product over `len` positions of each of `images` images; a's rows `lda` apart, image
/// `img` of a at `img·a_is`, of b at `img·b_is`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowsGemmDot {
    pub m: usize,
    pub r: usize,
    pub len: usize,
    pub lda: usize,
    pub ldc: usize,
    pub images: usize,
    pub a_is: usize,
    pub b_is: usize,
}

/// Partial sums per dot product of [`RowsGemmDotFn`] (one AVX-512 vector, two AVX2 ones).
pub const DOT_LANES: usize = 16;

/// c[i·ldc + r] += Σ a[img·a_is + i·lda + t]·b[img·b_is + offs\[r] + t] over img < images,
/// t < len, as [`DOT_LANES`] partial sums: partial l, from 0, takes the positions t ≡ l
/// (mod 16), images in order and t in order within each, each product added with one
/// rounding (`mul_add`); then the partials are added 0 to 15 in order, from 0, and the total
/// added to c. Only c[i·ldc + r] for i < m, r < offs.len() = `r` are touched.
pub type RowsGemmDotFn = fn(c: &mut [f32], a: &[f32], b: &[f32], offs: &[usize], g: &RowsGemmDot);

/// Values a buffer must hold for rows `rows` apart (`rows` of them) of `len` values.
fn span(rows: usize, stride: usize, len: usize) -> usize {
    if rows == 0 || len == 0 {
        0
    } else {
        (rows - 1) * stride + len
    }
}

/// The contract of [`RowsGemmFn`]: `offs` has k entries; a holds m rows of k (lda ≥ k),
/// c m rows of n (ldc ≥ n), b every range offs\[q]..offs\[q] + n. Panics naming the kernel and
/// every length otherwise.
pub(crate) fn check_gemm(c: usize, a: usize, b: usize, offs: &[usize], g: &RowsGemm) {
    let bad = |what: &str| -> ! {
        panic!("hepae-kernels::rows_gemm: {what} (c {c}, a {a}, b {b}, offs {}, {g:?})", offs.len())
    };
    if offs.len() != g.k {
        bad("needs one offset per product (offs.len() = k)");
    }
    if g.m > 0 && g.k > 0 && (g.lda < g.k || a < span(g.m, g.lda, g.k)) {
        bad("a must hold m rows of k values, lda ≥ k apart");
    }
    if g.m > 0 && g.n > 0 && (g.ldc < g.n || c < span(g.m, g.ldc, g.n)) {
        bad("c must hold m rows of n values, ldc ≥ n apart");
    }
    if g.m > 0 && g.n > 0 && offs.iter().any(|&o| o.checked_add(g.n).is_none_or(|end| end > b)) {
        bad("every range offs[q]..offs[q] + n must lie inside b");
    }
}

/// The contract of [`RowsGemmDotFn`]: `offs` has r entries; a holds, per image, m rows of
/// len (lda ≥ len), b every range img·b_is + offs\[r] ..+ len, c m rows of r (ldc ≥ r).
pub(crate) fn check_dot(c: usize, a: usize, b: usize, offs: &[usize], g: &RowsGemmDot) {
    let bad = |what: &str| -> ! {
        panic!("hepae-kernels::rows_gemm_dot: {what} (c {c}, a {a}, b {b}, offs {}, {g:?})", offs.len())
    };
    if offs.len() != g.r {
        bad("needs one offset per output column (offs.len() = r)");
    }
    if g.m > 0 && g.r > 0 && (g.ldc < g.r || c < span(g.m, g.ldc, g.r)) {
        bad("c must hold m rows of r values, ldc ≥ r apart");
    }
    if g.m == 0 || g.r == 0 || g.len == 0 || g.images == 0 {
        return;
    }
    let last = g.images - 1;
    let a_end = last.checked_mul(g.a_is).and_then(|s| s.checked_add(span(g.m, g.lda, g.len)));
    if g.lda < g.len || a_end.is_none_or(|end| end > a) {
        bad("a must hold, per image, m rows of len values, lda ≥ len apart");
    }
    let b_last = last.checked_mul(g.b_is);
    let fits =
        |o: usize| b_last.and_then(|s| s.checked_add(o)).and_then(|s| s.checked_add(g.len)).is_some_and(|e| e <= b);
    if !offs.iter().all(|&o| fits(o)) {
        bad("every range img·b_is + offs[r] ..+ len must lie inside b");
    }
}

/// The reference of [`RowsGemmFn`].
pub fn rows_gemm_scalar(c: &mut [f32], a: &[f32], b: &[f32], offs: &[usize], g: &RowsGemm) {
    check_gemm(c.len(), a.len(), b.len(), offs, g);
    for i in 0..g.m {
        let ai = a.get(i * g.lda..).unwrap_or_default(); // (a may be empty when k = 0)
        for j in 0..g.n {
            let at = i * g.ldc + j;
            let mut s = if g.accumulate { c[at] } else { 0.0 };
            for (q, &o) in offs.iter().enumerate() {
                s = ai[q].mul_add(b[o + j], s);
            }
            c[at] = s;
        }
    }
}

/// The reference of [`RowsGemmDotFn`].
pub fn rows_gemm_dot_scalar(c: &mut [f32], a: &[f32], b: &[f32], offs: &[usize], g: &RowsGemmDot) {
    check_dot(c.len(), a.len(), b.len(), offs, g);
    for i in 0..g.m {
        for (r, &o) in offs.iter().enumerate() {
            let mut part = [0.0f32; DOT_LANES];
            for img in (0..g.images).filter(|_| g.len > 0) {
                // (a and b may be empty when len = 0)
                let ar = &a[img * g.a_is + i * g.lda..][..g.len];
                let br = &b[img * g.b_is + o..][..g.len];
                for (t, (&x, &y)) in ar.iter().zip(br).enumerate() {
                    part[t % DOT_LANES] = x.mul_add(y, part[t % DOT_LANES]);
                }
            }
            c[i * g.ldc + r] += part.iter().fold(0.0f32, |s, &v| s + v);
        }
    }
}
