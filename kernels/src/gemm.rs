//! Single-precision GEMM for the shapes of this workload (batch 512 × widths 15…200, and the
//! transposed products of backward), in the style of matrixmultiply/BLIS: operands are packed
//! into contiguous panels (any strides, so transposes cost nothing extra) and a register-
//! blocked micro-kernel computes a tile of C with the whole K-block in registers: 12×32 (or
//! 12×16) on AVX-512F, 6×16 (or 6×8) on AVX2+FMA, 4×8 (or 4×4) on the scalar set. The tile and
//! the driver are written once over the `Lanes` vector operations (`lanes.rs`: every `Simd`
//! set, and a portable four-lane type for the scalar set) and instantiated per instruction
//! set. Unlike `matrixmultiply::sgemm`, the packing space is the caller's, so a training step
//! that reuses it allocates nothing, under every kernel set.
//!
//! C[m×n] ← α·A[m×k]·B[k×n] + β·C, element (i, p) of A at `a[i·rsa + p·csa]`, and likewise
//! for B and C. β = 0 overwrites C without reading it.

use crate::lanes::Lanes;
use crate::Isa;

/// Rows of A per micro-tile on AVX-512F (6 on AVX2).
pub const MR: usize = 12;
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

/// The packed GEMM as the [`crate::Kernels`] table carries it: [`sgemm_packed_on`] with the
/// table's instruction set bound (same arguments, same contract, same `false` cases).
pub type PackedGemmFn = fn(
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
) -> bool;

/// The table entry of `isa`: [`sgemm_packed_on`] with `isa` bound.
macro_rules! packed_entry {
    ($isa:expr) => {
        |ws, m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc, epi| {
            crate::gemm::sgemm_packed_on($isa, ws, m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc, epi)
        }
    };
}
pub(crate) use packed_entry;

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
    check_views(m, k, n, (a.len(), rsa, csa), (b.len(), rsb, csb), (c.len(), rsc, csc));
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

/// Packs k-values `p0..p0+kc`, columns `j0..j0+nc` of B into panels of 2·W columns (the
/// last one W wide when at most W columns remain): for each p, the panel's columns, zero beyond column n.
/// Reads B in memory order (row segments when `csb == 1`, columns otherwise). Returns the
/// number of panels; each panel's (offset, width) goes to `panels`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn pack_b<S: Lanes>(
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
    let lanes = S::W;
    let mut off = 0;
    let mut j = 0;
    let mut count = 0;
    while j < nc {
        let left = nc - j;
        let w = if left <= lanes { lanes } else { 2 * lanes };
        let cols = left.min(w);
        let panel = &mut dst[off..off + w * kc];
        if csb == 1 {
            for p in 0..kc {
                let src = (p0 + p) * rsb + j0 + j;
                panel[p * w..p * w + cols].copy_from_slice(&b[src..src + cols]);
                panel[p * w + cols..(p + 1) * w].fill(0.0);
            }
        } else {
            // Columns of B contiguous (rsb = 1: a transposed view): whole W×W blocks are
            // transposed in registers; the rest, and every other stride, value by value.
            let blocked = if rsb == 1 { cols / lanes * lanes } else { 0 };
            let whole_p = kc / lanes * lanes;
            for t0 in (0..blocked).step_by(lanes) {
                let col = (j0 + j + t0) * csb + p0;
                for q in (0..whole_p).step_by(lanes) {
                    let (first, last) = (col + q, col + q + (lanes - 1) * csb + lanes - 1);
                    assert!(last < b.len() && (q + lanes - 1) * w + t0 + lanes <= panel.len());
                    // SAFETY: every value read, first + u·csb + v for u, v < W, is at most
                    // `last` < b.len(), and every one written, (q + v)·w + t0 + u, is inside
                    // the panel (both asserted above); the ISA is enabled in the caller.
                    unsafe { S::transpose_block(b.as_ptr().add(first), csb, panel.as_mut_ptr().add(q * w + t0), w) };
                }
                for t in t0..t0 + lanes {
                    let col = (j0 + j + t) * csb + p0;
                    for p in whole_p..kc {
                        panel[p * w + t] = b[col + p];
                    }
                }
            }
            for t in blocked..w {
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
    lanes: usize,
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
        let w = if left <= lanes { lanes } else { 2 * lanes };
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

/// Elements a rows×cols view with strides (rs, cs) spans: its last index + 1 (0 when empty);
/// `usize::MAX` when that overflows, which no slice can hold, so the bounds check fails.
fn span(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        return 0;
    }
    (rows - 1)
        .checked_mul(rs)
        .and_then(|r| (cols - 1).checked_mul(cs).and_then(|c| r.checked_add(c)))
        .and_then(|last| last.checked_add(1))
        .unwrap_or(usize::MAX)
}

/// Panics unless the A, B and C views of an m×k·k×n product lie inside their slices.
fn check_views(
    m: usize,
    k: usize,
    n: usize,
    a: (usize, usize, usize),
    b: (usize, usize, usize),
    c: (usize, usize, usize),
) {
    for (name, rows, cols, (len, rs, cs)) in [("A", m, k, a), ("B", k, n, b), ("C", m, n, c)] {
        let need = span(rows, cols, rs, cs);
        assert!(
            need <= len,
            "hepae-kernels::gemm: {name} view {rows}×{cols} with strides ({rs}, {cs}) needs {need} elements, the slice has {len}"
        );
    }
}

/// C ← epi(α·A·B + β·C) with `isa`'s micro-kernels (AVX-512F, AVX2+FMA, or the portable
/// scalar tile; all three give the same bits: each output accumulated over k in order with
/// one rounding per multiply-add, in the same K-blocks), packing into `ws`
/// (grown to [`WORKSPACE`] on first use, never again). Callers use the kernel table's
/// `sgemm_packed` entry, which binds the process's ISA; tests pass each set. With an
/// [`Epilogue`] (needs k ≥ 1) bias and LeakyReLU are applied as the last K-block is stored.
/// Returns false (doing nothing) when this CPU lacks `isa` or C is not row-contiguous
/// (csc ≠ 1); the caller then uses another GEMM.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_packed_on(
    isa: Isa,
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
        assert!(
            e.bias.len() >= n && k > 0,
            "hepae-kernels::gemm: the epilogue needs n = {n} biases (has {}) and k ≥ 1 (k = {k})",
            e.bias.len()
        );
    }
    if csc != 1 || !crate::cpu_has(isa) {
        return false;
    }
    check_views(m, k, n, (a.len(), rsa, csa), (b.len(), rsb, csb), (c.len(), rsc, csc));
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
    let job = Job { m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, epi };
    match isa {
        // SAFETY: the views were span-checked above and `ws` holds WORKSPACE values.
        Isa::Scalar => unsafe { drive::<crate::lanes::Portable, 4, 2, 1>(&mut ws[..], job) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `cpu_has(isa)` confirmed the features the driver is compiled for.
        Isa::Avx512 => unsafe { drive_avx512(&mut ws[..], job) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { drive_avx2(&mut ws[..], job) },
        #[cfg(not(target_arch = "x86_64"))]
        _ => unreachable!("cpu_has is false for x86 sets elsewhere"),
    }
    true
}

/// One span-checked GEMM call: C[m×n] (row stride `rsc`, contiguous rows) ← epi(α·A·B + β·C).
struct Job<'a> {
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &'a [f32],
    rsa: usize,
    csa: usize,
    b: &'a [f32],
    rsb: usize,
    csb: usize,
    beta: f32,
    c: &'a mut [f32],
    rsc: usize,
    epi: Option<Epilogue<'a>>,
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn drive_avx512(bpack: &mut [f32], job: Job<'_>) {
    // SAFETY: AVX-512F is enabled here; `job` was span-checked by the caller.
    unsafe { drive::<crate::avx512::Avx512, 12, 8, 4>(bpack, job) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn drive_avx2(bpack: &mut [f32], job: Job<'_>) {
    // SAFETY: AVX2 and FMA are enabled here; `job` was span-checked by the caller.
    unsafe { drive::<crate::avx2::Avx2, 6, 4, 2>(bpack, job) }
}

/// The blocked loops: for each NC-column block of B and KC-block of k, pack B's panels (or
/// read them in place), then run tiles of R1 rows (R2 or R3 for a short remainder) of A
/// against each panel of 2·W (or W) columns. Must be inlined into a function compiled for
/// `S`'s instruction set; `job`'s views must be span-checked and `bpack` ≥ [`WORKSPACE`].
#[inline(always)]
unsafe fn drive<S: Lanes, const R1: usize, const R2: usize, const R3: usize>(bpack: &mut [f32], job: Job<'_>) {
    let Job { m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, epi } = job;
    let mut panels = [(0usize, 0usize); NC / 8];
    // Full-width panels of a row-contiguous B are read in place; only a ragged last panel
    // (or a strided B) is packed.
    let in_place = csb == 1;
    for j0 in (0..n).step_by(NC) {
        let nc = (n - j0).min(NC);
        for p0 in (0..k).step_by(KC) {
            let kc = (k - p0).min(KC);
            let np = if in_place {
                pack_b_ragged_only(S::W, bpack, &mut panels, b, rsb, p0, kc, j0, nc)
            } else {
                pack_b::<S>(bpack, &mut panels, b, rsb, csb, p0, kc, j0, nc)
            };
            // The first K-block applies β; later ones accumulate.
            let beta_k = if p0 == 0 { beta } else { 1.0 };
            // The epilogue goes with the last K-block's store.
            let epi_k = if p0 + kc == k { epi } else { None };
            for i0 in (0..m).step_by(MC) {
                let mc = (m - i0).min(MC);
                let mut r0 = 0;
                while r0 < mc {
                    let rows = (mc - r0).min(R1);
                    // This tile's rows of A, k-block p0..p0+kc, read in place.
                    let a0 = (i0 + r0) * rsa + p0 * csa;
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
                        let c0 = (i0 + r0) * rsc + j0 + jj;
                        // The tile's last element is inside `c` (span checked by the caller).
                        let ct = &mut c[c0..c0 + (rows - 1) * rsc + cols];
                        let t = TileArgs { kc, alpha, rsa, csa, rows, bp, rsb: bstride, beta: beta_k, rsc, cols };
                        // SAFETY: the A view's span was checked, so rows < `rows` and k-values
                        // < kc from `a0` lie inside `a`; `bp` holds w·kc values at stride
                        // `bstride`; the tile writes only rows < `rows` and columns < `cols`
                        // of `ct`, which the slice bounds contain; the ISA is enabled in the
                        // caller.
                        unsafe {
                            let ap = a.as_ptr().add(a0);
                            let epi_t = epi_k.map(|e| (e.bias.as_ptr().add(j0 + jj), e.slope));
                            match (w == 2 * S::W, rows) {
                                (true, r) if r > R2 => tile::<S, 2, R1>(&t, ap, ct, epi_t),
                                (true, r) if r > R3 => tile::<S, 2, R2>(&t, ap, ct, epi_t),
                                (true, _) => tile::<S, 2, R3>(&t, ap, ct, epi_t),
                                (false, r) if r > R2 => tile::<S, 1, R1>(&t, ap, ct, epi_t),
                                (false, r) if r > R3 => tile::<S, 1, R2>(&t, ap, ct, epi_t),
                                (false, _) => tile::<S, 1, R3>(&t, ap, ct, epi_t),
                            }
                        }
                        jj += w;
                    }
                    r0 += rows;
                }
            }
        }
    }
}

/// What a tile needs besides its A, C and epilogue pointers.
struct TileArgs {
    kc: usize,
    alpha: f32,
    rsa: usize,
    csa: usize,
    rows: usize,
    bp: *const f32,
    rsb: usize,
    beta: f32,
    rsc: usize,
    cols: usize,
}

/// One R × (W·NV) tile (R ≤ R1): C[t, j] ← α·Σ_p A[t, p]·B[p, j] + β·C[t, j] for t < rows,
/// j < cols. A is read in place (element (t, p) at `a + t·rsa + p·csa`; rows past `rows`
/// repeat the last valid one and are not stored); B's W·NV columns for k-value p are at
/// `bp + p·rsb` (a packed panel, or B itself when its rows are contiguous). `epi` = (this
/// tile's first bias, LeakyReLU slope) is applied before the store.
///
/// Safety: as `drive`'s call site states; inlined into a function compiled for `S`.
#[inline(always)]
unsafe fn tile<S: Lanes, const NV: usize, const R: usize>(
    t: &TileArgs,
    a: *const f32,
    c: &mut [f32],
    epi: Option<(*const f32, f32)>,
) {
    let (kc, rows, rsa, csa, bp, rsb) = (t.kc, t.rows, t.rsa, t.csa, t.bp, t.rsb);
    // SAFETY (this block): register-only, and row min(i, rows − 1) of the tile exists in A.
    let (mut acc, mut rowp) = unsafe { ([[S::zero(); NV]; R], [a; R]) };
    for (i, rp) in rowp.iter_mut().enumerate() {
        // SAFETY: row min(i, rows − 1) of the tile exists in A.
        *rp = unsafe { a.add(i.min(rows - 1) * rsa) };
    }
    for p in 0..kc {
        // SAFETY: p < kc: B's rows (packed or in place) hold W·NV values at p·rsb, and A's
        // rows hold kc values at stride csa.
        unsafe {
            let mut bv = [S::zero(); NV];
            for (v, bvv) in bv.iter_mut().enumerate() {
                *bvv = S::load(bp.add(p * rsb + S::W * v), S::W);
            }
            for (row, rp) in acc.iter_mut().zip(&rowp) {
                let x = S::splat(*rp.add(p * csa));
                for v in 0..NV {
                    row[v] = S::madd(x, bv[v], row[v]);
                }
            }
        }
    }
    // SAFETY: register-only.
    let (al, be) = unsafe { (S::splat(t.alpha), S::splat(t.beta)) };
    for (i, row) in acc.iter().enumerate().take(rows) {
        for (v, &accv) in row.iter().enumerate() {
            let j = S::W * v;
            if j >= t.cols {
                break;
            }
            let len = (t.cols - j).min(S::W);
            // SAFETY: row i < rows and columns j..j+len < cols lie inside `c`; the bias
            // covers the tile's columns (asserted by `sgemm_packed_on`).
            unsafe {
                let dst = c.as_mut_ptr().add(i * t.rsc + j);
                let mut r =
                    if t.beta == 0.0 { S::mul(al, accv) } else { S::madd(al, accv, S::mul(be, S::load(dst, len))) };
                if let Some((bias, slope)) = epi {
                    r = S::add(r, S::load(bias.add(j), len));
                    r = S::select_pos(r, r, S::mul(r, S::splat(slope)));
                }
                S::store(dst, r, len);
            }
        }
    }
}
