//! Single-precision GEMM for the shapes of this workload (batch 512 × widths 15…200, and the
//! transposed products of backward), in the style of matrixmultiply/BLIS: operands are packed
//! into contiguous panels (any strides, so transposes cost nothing extra) and a register-
//! blocked AVX-512 micro-kernel computes a 12×32 (or 12×16) tile of C with the whole K-block
//! in registers. Unlike `matrixmultiply::sgemm`, the packing space is the caller's, so a
//! training step that reuses it allocates nothing.
//!
//! C[m×n] ← α·A[m×k]·B[k×n] + β·C, element (i, p) of A at `a[i·rsa + p·csa]`, and likewise
//! for B and C. β = 0 overwrites C without reading it.

/// Rows of A per micro-tile.
pub const MR: usize = 12;
/// Columns of B per wide micro-tile (two 16-lane vectors).
pub const NR: usize = 32;
/// K-block: the packed panels hold this many k values.
pub const KC: usize = 256;
/// Columns of B packed at a time.
pub const NC: usize = 512;
/// Rows of A packed at a time.
pub const MC: usize = 144;

/// Packing space needed, in f32s (B panels only: A is read in place through its strides).
pub const WORKSPACE: usize = KC * NC + 16 * KC;

/// What the store of the last K-block applies after α·A·B + β·C: a per-column bias and a
/// LeakyReLU (slope 1 = none). Fusing it saves a pass over C.
#[derive(Clone, Copy, Debug)]
pub struct Epilogue<'a> {
    pub bias: &'a [f32],
    pub slope: f32,
}

/// The scalar reference: a triple loop in f32, k innermost in order.
#[allow(clippy::too_many_arguments)]
pub fn gemm_ref(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    rsa: usize,
    csa: usize,
    b: &[f32],
    rsb: usize,
    csb: usize,
    beta: f32,
    c: &mut [f32],
    rsc: usize,
    csc: usize,
) {
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f32;
            for p in 0..k {
                s += a[i * rsa + p * csa] * b[p * rsb + j * csb];
            }
            let cij = &mut c[i * rsc + j * csc];
            *cij = if beta == 0.0 { alpha * s } else { alpha * s + beta * *cij };
        }
    }
}

/// Packs k-values `p0..p0+kc`, columns `j0..j0+nc` of B into panels of NR (the last one 16
/// when at most 16 columns remain): for each p, the panel's columns, zero beyond column n.
/// Reads B in memory order (row segments when `csb == 1`, columns otherwise). Returns the
/// number of panels; each panel's (offset, width) goes to `panels`.
#[allow(clippy::too_many_arguments)]
fn pack_b(
    dst: &mut [f32],
    panels: &mut [(usize, usize)],
    b: &[f32],
    rsb: usize,
    csb: usize,
    p0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
) -> usize {
    let mut off = 0;
    let mut j = 0;
    let mut count = 0;
    while j < nc {
        let left = nc - j;
        let w = if left <= 16 { 16 } else { NR };
        let cols = left.min(w);
        let panel = &mut dst[off..off + w * kc];
        if csb == 1 {
            for p in 0..kc {
                let src = (p0 + p) * rsb + j0 + j;
                panel[p * w..p * w + cols].copy_from_slice(&b[src..src + cols]);
                panel[p * w + cols..(p + 1) * w].fill(0.0);
            }
        } else {
            for t in 0..w {
                if t < cols {
                    let col = (j0 + j + t) * csb + p0 * rsb;
                    for p in 0..kc {
                        panel[p * w + t] = b[col + p * rsb];
                    }
                } else {
                    for p in 0..kc {
                        panel[p * w + t] = 0.0;
                    }
                }
            }
        }
        panels[count] = (off, w);
        count += 1;
        off += w * kc;
        j += w;
    }
    count
}

/// For a row-contiguous B: full-width panels are read in place (offset `usize::MAX`); only a
/// last panel narrower than its width is packed, at the start of `dst`.
#[allow(clippy::too_many_arguments)]
fn pack_b_ragged_only(
    dst: &mut [f32],
    panels: &mut [(usize, usize)],
    b: &[f32],
    rsb: usize,
    p0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
) -> usize {
    let mut j = 0;
    let mut count = 0;
    while j < nc {
        let left = nc - j;
        let w = if left <= 16 { 16 } else { NR };
        if left >= w {
            panels[count] = (usize::MAX, w);
        } else {
            for p in 0..kc {
                let src = (p0 + p) * rsb + j0 + j;
                dst[p * w..p * w + left].copy_from_slice(&b[src..src + left]);
                dst[p * w + left..(p + 1) * w].fill(0.0);
            }
            panels[count] = (0, w);
        }
        count += 1;
        j += w;
    }
    count
}

fn span(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

/// C ← α·A·B + β·C with the AVX-512 micro-kernel, packing into `ws` (grown to
/// [`WORKSPACE`] on first use, never again). Returns false (doing nothing) when this CPU has
/// no AVX-512F, or C is not row-contiguous (csc ≠ 1); the caller then uses another GEMM.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_packed(
    ws: &mut Vec<f32>,
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    rsa: usize,
    csa: usize,
    b: &[f32],
    rsb: usize,
    csb: usize,
    beta: f32,
    c: &mut [f32],
    rsc: usize,
    csc: usize,
) -> bool {
    sgemm_packed_epilogue(ws, m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc, None)
}

/// [`sgemm_packed`] with an [`Epilogue`] applied as the last K-block is stored:
/// C ← act(α·A·B + β·C + bias). Needs k ≥ 1 (the epilogue rides on a store).
#[allow(clippy::too_many_arguments)]
pub fn sgemm_packed_epilogue(
    ws: &mut Vec<f32>,
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    rsa: usize,
    csa: usize,
    b: &[f32],
    rsb: usize,
    csb: usize,
    beta: f32,
    c: &mut [f32],
    rsc: usize,
    csc: usize,
    epi: Option<Epilogue<'_>>,
) -> bool {
    if let Some(e) = &epi {
        assert!(e.bias.len() >= n && k > 0, "sgemm: epilogue needs n biases and k ≥ 1");
    }
    #[cfg(target_arch = "x86_64")]
    {
        if csc != 1 || !is_x86_feature_detected!("avx512f") {
            return false;
        }
        assert!(span(m, k, rsa, csa) <= a.len(), "sgemm: A view out of bounds");
        assert!(span(k, n, rsb, csb) <= b.len(), "sgemm: B view out of bounds");
        assert!(span(m, n, rsc, csc) <= c.len(), "sgemm: C view out of bounds");
        if m == 0 || n == 0 {
            return true;
        }
        if k == 0 {
            for i in 0..m {
                for v in &mut c[i * rsc..i * rsc + n] {
                    *v = if beta == 0.0 { 0.0 } else { beta * *v };
                }
            }
            return true;
        }
        if ws.len() < WORKSPACE {
            ws.resize(WORKSPACE, 0.0);
        }
        let bpack = &mut ws[..];
        let mut panels = [(0usize, 0usize); NC / 16];
        // Full-width panels of a row-contiguous B are read in place; only a ragged last panel
        // (or a strided B) is packed.
        let in_place = csb == 1;
        for j0 in (0..n).step_by(NC) {
            let nc = (n - j0).min(NC);
            for p0 in (0..k).step_by(KC) {
                let kc = (k - p0).min(KC);
                let np = if in_place {
                    pack_b_ragged_only(bpack, &mut panels, b, rsb, p0, kc, j0, nc)
                } else {
                    pack_b(bpack, &mut panels, b, rsb, csb, p0, kc, j0, nc)
                };
                // The first K-block applies β; later ones accumulate.
                let beta_k = if p0 == 0 { beta } else { 1.0 };
                // The epilogue goes with the last K-block's store.
                let epi_k = if p0 + kc == k { epi } else { None };
                for i0 in (0..m).step_by(MC) {
                    let mc = (m - i0).min(MC);
                    for r in 0..mc.div_ceil(MR) {
                        let rows = (mc - r * MR).min(MR);
                        // This tile's rows of A, k-block p0..p0+kc, read in place.
                        let a0 = (i0 + r * MR) * rsa + p0 * csa;
                        let mut jj = 0;
                        for &(off, w) in &panels[..np] {
                            let cols = (nc - jj).min(w);
                            // In place: B's own rows (offset = usize::MAX marks it); else the panel.
                            let (bp, bstride) = if off == usize::MAX {
                                // SAFETY: columns j0+jj .. +w < n and rows p0.. < k of B exist
                                // (full-width panel of a span-checked view).
                                (unsafe { b.as_ptr().add(p0 * rsb + j0 + jj) }, rsb)
                            } else {
                                (bpack[off..off + w * kc].as_ptr(), w)
                            };
                            let c0 = (i0 + r * MR) * rsc + j0 + jj;
                            // The tile's last element is inside `c` (span checked above).
                            let ct = &mut c[c0..c0 + (rows - 1) * rsc + cols];
                            // SAFETY: AVX-512F was detected above; the A view's span was checked,
                            // so rows < `rows` and k-values < kc from `a0` lie inside `a`; `bp`
                            // holds w·kc packed values; the kernel writes only rows < `rows` and
                            // columns < `cols` of `ct`, which the slice bounds contain.
                            unsafe {
                                let ap = a.as_ptr().add(a0);
                                let epi_t = epi_k.map(|e| (e.bias.as_ptr().add(j0 + jj), e.slope));
                                // Tile height: 12 rows, or 8/4 for a short remainder.
                                match (w == NR, rows) {
                                    (true, 9..) => avx512::tile::<2, 12>(
                                        kc, alpha, ap, rsa, csa, rows, bp, bstride, beta_k, ct, rsc, cols, epi_t,
                                    ),
                                    (true, 5..=8) => avx512::tile::<2, 8>(
                                        kc, alpha, ap, rsa, csa, rows, bp, bstride, beta_k, ct, rsc, cols, epi_t,
                                    ),
                                    (true, _) => avx512::tile::<2, 4>(
                                        kc, alpha, ap, rsa, csa, rows, bp, bstride, beta_k, ct, rsc, cols, epi_t,
                                    ),
                                    (false, 9..) => avx512::tile::<1, 12>(
                                        kc, alpha, ap, rsa, csa, rows, bp, bstride, beta_k, ct, rsc, cols, epi_t,
                                    ),
                                    (false, 5..=8) => avx512::tile::<1, 8>(
                                        kc, alpha, ap, rsa, csa, rows, bp, bstride, beta_k, ct, rsc, cols, epi_t,
                                    ),
                                    (false, _) => avx512::tile::<1, 4>(
                                        kc, alpha, ap, rsa, csa, rows, bp, bstride, beta_k, ct, rsc, cols, epi_t,
                                    ),
                                }
                            }
                            jj += w;
                        }
                    }
                }
            }
        }
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (ws, m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// One R × (16·NV) tile (R ≤ MR): C[t, j] ← α·Σ_p A[t, p]·B[p, j] + β·C[t, j] for t < rows,
    /// j < cols. A is read in place (element (t, p) at `a + t·rsa + p·csa`; rows past `rows`
    /// repeat the last valid one and are not stored); B's 16·NV columns for k-value p are
    /// at `bp + p·rsb` (a packed panel, rsb = 16·NV, or B itself when its rows are contiguous).
    /// `epi` = (this tile's first bias, LeakyReLU slope) is applied before the store.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn tile<const NV: usize, const R: usize>(
        kc: usize,
        alpha: f32,
        a: *const f32,
        rsa: usize,
        csa: usize,
        rows: usize,
        bp: *const f32,
        rsb: usize,
        beta: f32,
        c: &mut [f32],
        rsc: usize,
        cols: usize,
        epi: Option<(*const f32, f32)>,
    ) {
        let mut acc = [[_mm512_setzero_ps(); NV]; R];
        let mut rowp = [a; R];
        for (t, rp) in rowp.iter_mut().enumerate() {
            // SAFETY: row min(t, rows − 1) of the tile exists in A.
            *rp = unsafe { a.add(t.min(rows - 1) * rsa) };
        }
        for p in 0..kc {
            // SAFETY: p < kc: B's rows (packed or in place) hold 16·NV values at p·rsb, and A's
            // rows hold kc values.
            unsafe {
                let mut bv = [_mm512_setzero_ps(); NV];
                for (v, bvv) in bv.iter_mut().enumerate() {
                    *bvv = _mm512_loadu_ps(bp.add(p * rsb + 16 * v));
                }
                for (row, rp) in acc.iter_mut().zip(&rowp) {
                    let x = _mm512_set1_ps(*rp.add(p * csa));
                    for v in 0..NV {
                        row[v] = _mm512_fmadd_ps(x, bv[v], row[v]);
                    }
                }
            }
        }
        let al = _mm512_set1_ps(alpha);
        let be = _mm512_set1_ps(beta);
        for (t, row) in acc.iter().enumerate().take(rows) {
            for (v, &accv) in row.iter().enumerate() {
                let j = 16 * v;
                if j >= cols {
                    break;
                }
                let len = (cols - j).min(16);
                let mask: __mmask16 = if len == 16 { 0xffff } else { ((1u32 << len) - 1) as __mmask16 };
                // SAFETY: row t < rows and columns j..j+len < cols lie inside `c`.
                unsafe {
                    let dst = c.as_mut_ptr().add(t * rsc + j);
                    let mut r = if beta == 0.0 {
                        _mm512_mul_ps(al, accv)
                    } else {
                        _mm512_fmadd_ps(al, accv, _mm512_mul_ps(be, _mm512_maskz_loadu_ps(mask, dst)))
                    };
                    if let Some((bias, slope)) = epi {
                        // SAFETY: the bias covers the tile's columns (asserted by the caller).
                        r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(mask, bias.add(j)));
                        let pos = _mm512_cmp_ps_mask(r, _mm512_setzero_ps(), _CMP_GT_OQ);
                        r = _mm512_mask_blend_ps(pos, _mm512_mul_ps(r, _mm512_set1_ps(slope)), r);
                    }
                    _mm512_mask_storeu_ps(dst, mask, r);
                }
            }
        }
    }
}
