//! The SIMD body of [`crate::Kernels::mlp_batch`] over [`Simd`], instantiated per ISA by
//! `crate::body::instantiate!` (its `#[target_feature]` wrapper) with that set's register
//! tile width `NJ`. Any pack runs on any set: a weight tile wider than `NJ` is done in
//! `NJ`-wide slices.

use super::{aligned_base, check_call, Affine, MlpBatchPack, MAX_TILE_ROWS};
use crate::gemm::KC;
use crate::simd::Simd;

/// See [`crate::mlp_batch::MlpBatchFn`] for the contract.
///
/// Safety: inlined into a function compiled for `S`'s instruction set; `RV`, `NJ` ≥ 1.
#[inline(always)]
pub(crate) unsafe fn forward_simd<S: Simd, const RV: usize, const NJ: usize>(
    out: &mut [f32],
    x: &[f32],
    rows: usize,
    pack: &MlpBatchPack,
    norm: Option<Affine<'_>>,
    scratch: &mut [f32],
) -> bool {
    check_call(out.len(), x.len(), rows, pack, norm.as_ref(), scratch.len());
    assert!(RV * S::W <= MAX_TILE_ROWS && S::W <= 16, "hepae-kernels::mlp_batch: tile of {RV}×{} rows", S::W);
    let din = pack.in_dim();
    let mut r0 = 0;
    while r0 < rows {
        let n = (RV * S::W).min(rows - r0);
        let (x, out) = (&x[r0 * din..(r0 + n) * din], &mut out[r0 * pack.out_dim()..(r0 + n) * pack.out_dim()]);
        // A last tile of at most one vector of rows runs one row-vector high: half the
        // work of a full tile for batches of 5 to 16 rows.
        // SAFETY: as this function's (the ISA is enabled in the caller).
        let ok = unsafe {
            if n <= S::W {
                row_tile::<S, 1, NJ>(out, x, n, pack, norm.as_ref(), scratch)
            } else {
                row_tile::<S, RV, NJ>(out, x, n, pack, norm.as_ref(), scratch)
            }
        };
        if !ok {
            return false;
        }
        r0 += n;
    }
    true
}

/// One tile of n ≤ RV·W rows through the whole chain: out [n×out_dim] from x [n×in_dim]
/// (lengths checked by the caller); whether every mapped input was finite.
///
/// Safety: inlined into a function compiled for `S`; RV·W ≤ [`MAX_TILE_ROWS`], and `scratch`
/// holds at least [`MlpBatchPack::scratch_len`] values.
#[inline(always)]
unsafe fn row_tile<S: Simd, const RV: usize, const NJ: usize>(
    out: &mut [f32],
    x: &[f32],
    n: usize,
    pack: &MlpBatchPack,
    norm: Option<&Affine<'_>>,
    scratch: &mut [f32],
) -> bool {
    let tr = RV * S::W;
    let (din, dout, width) = (pack.in_dim(), pack.out_dim(), pack.width);
    // Every buffer, and every vector in it, on a 64-byte boundary (tr·4 bytes a value).
    let base = aligned_base(scratch);
    let (xt, rest) = scratch[base..].split_at_mut(MAX_TILE_ROWS * din);
    let (buf_a, buf_b) = rest.split_at_mut(MAX_TILE_ROWS * width);
    let bufs = [buf_a.as_mut_ptr(), buf_b[..MAX_TILE_ROWS * width].as_mut_ptr()];
    let vals = pack.values().as_ptr();
    // SAFETY: the ISA is enabled in the caller; `xt` holds MAX_TILE_ROWS·din ≥ tr·din.
    if !unsafe { load_tile::<S, RV>(xt, x, din, n, norm) } {
        return false;
    }
    let mut src = xt.as_ptr();
    for (li, l) in pack.layers.iter().enumerate() {
        let dst = bufs[li % 2];
        let mut j0 = 0;
        while j0 < l.out {
            let (tw, w_at) = pack.tile_of(l, j0);
            let mut s0 = 0;
            while s0 < tw {
                let w = NJ.min(tw - s0);
                // SAFETY: the tile holds inp·tw weights from `w_at` (layout of
                // `MlpBatchPack::new`), so columns s0..s0 + w of each of its `inp` rows
                // (stride tw) exist, and biases j0 + s0.. < out from `bias_at`; `dst` has
                // MAX_TILE_ROWS·width ≥ tr·out values and `src` tr·inp (the input tile, or
                // the previous layer's `inp` outputs), each value q's tr rows contiguous.
                unsafe {
                    let t = Tile {
                        o: dst.add((j0 + s0) * tr),
                        a: src,
                        w: vals.add(w_at + s0),
                        ws: tw,
                        bias: vals.add(l.bias_at + j0 + s0),
                        k: l.inp,
                        slope: l.slope,
                    };
                    match w {
                        1 => tile::<S, RV, 1>(&t),
                        2 => tile::<S, RV, 2>(&t),
                        3 => tile::<S, RV, 3>(&t),
                        4 => tile::<S, RV, 4>(&t),
                        5 => tile::<S, RV, 5>(&t),
                        6 => tile::<S, RV, 6>(&t),
                        7 => tile::<S, RV, 7>(&t),
                        8 => tile::<S, RV, 8>(&t),
                        9 => tile::<S, RV, 9>(&t),
                        10 => tile::<S, RV, 10>(&t),
                        11 => tile::<S, RV, 11>(&t),
                        _ => tile::<S, RV, NJ>(&t),
                    }
                }
                s0 += w;
            }
            j0 += tw;
        }
        src = dst;
    }
    // SAFETY: `src` is the last layer's buffer, holding its dout outputs × tr rows.
    let last = unsafe { std::slice::from_raw_parts(src, dout * tr) };
    for (r, row) in out.chunks_exact_mut(dout).enumerate() {
        for (j, o) in row.iter_mut().enumerate() {
            *o = last[j * tr + r];
        }
    }
    true
}

/// Writes the tile's n rows of `x` [n×din] transposed into `xt` (value c of row r at
/// c·tr + r, rows n..tr zero), mapped by `norm`; whether every mapped value is finite.
///
/// Safety: inlined into a function compiled for `S`; `xt` holds ≥ tr·din values.
#[inline(always)]
unsafe fn load_tile<S: Simd, const RV: usize>(
    xt: &mut [f32],
    x: &[f32],
    din: usize,
    n: usize,
    norm: Option<&Affine<'_>>,
) -> bool {
    let tr = RV * S::W;
    let xt = &mut xt[..tr * din];
    for c in 0..din {
        let col = &mut xt[c * tr..(c + 1) * tr];
        for (r, v) in col[..n].iter_mut().enumerate() {
            *v = x[r * din + c];
        }
        col[n..].fill(0.0);
    }
    // SAFETY (this block): register-only, and whole vectors inside `xt` (tr·din values);
    // the ISA is enabled in the caller.
    unsafe {
        // x − x is 0 for a finite x and NaN otherwise; their sum is 0 iff all are finite.
        let mut bad = S::zero();
        for c in 0..din {
            let (sh, sc) = match norm {
                Some(a) => (S::splat(a.shift[c]), S::splat(a.scale[c])),
                None => (S::zero(), S::zero()),
            };
            for v in 0..RV {
                let p = xt.as_mut_ptr().add(c * tr + v * S::W);
                let mut val = S::load(p, S::W);
                if norm.is_some() {
                    // Rows past n stay 0, whatever the map gives them.
                    val = S::keep(S::div(S::sub(val, sh), sc), n.saturating_sub(v * S::W));
                    S::store(p, val, S::W);
                }
                bad = S::add(bad, S::sub(val, val));
            }
        }
        let mut lanes = [0.0f32; 16];
        S::store(lanes.as_mut_ptr(), bad, S::W);
        lanes.iter().all(|&v| v == 0.0)
    }
}

/// One register tile's operands: outputs j < NJ of a layer for the tile's rows.
struct Tile {
    /// Output j, row r at `o + j·tr + r`.
    o: *mut f32,
    /// Input q, row r at `a + q·tr + r`.
    a: *const f32,
    /// Weight (q, j) at `w + q·ws + j`.
    w: *const f32,
    ws: usize,
    /// Bias j at `bias + j`.
    bias: *const f32,
    k: usize,
    slope: f32,
}

/// o[j][r] = leaky(Σ_q a[q][r]·w[q][j] + bias[j]) for j < NJ and the RV·W rows, each sum as
/// the packed GEMM forms it: per K-block of [`KC`] inputs from zero, in input order, one
/// rounding per multiply-add; later blocks added to the stored sum of the earlier ones.
///
/// Safety: as `forward_simd`'s call site states; inlined into a function compiled for `S`.
#[inline(always)]
unsafe fn tile<S: Simd, const RV: usize, const NJ: usize>(t: &Tile) {
    let tr = RV * S::W;
    let mut p0 = 0;
    // SAFETY (this body): every pointer is inside the operand its `Tile` field names (the
    // caller's contract); the ISA is enabled in the caller.
    unsafe {
        while p0 < t.k {
            let kc = KC.min(t.k - p0);
            let mut acc = [[S::zero(); RV]; NJ];
            for p in p0..p0 + kc {
                let mut av = [S::zero(); RV];
                for (v, x) in av.iter_mut().enumerate() {
                    *x = S::load(t.a.add(p * tr + v * S::W), S::W);
                }
                let wp = t.w.add(p * t.ws);
                for (j, row) in acc.iter_mut().enumerate() {
                    let wj = S::splat(*wp.add(j));
                    for (r, &x) in row.iter_mut().zip(&av) {
                        *r = S::fmadd(x, wj, *r);
                    }
                }
            }
            let (first, last) = (p0 == 0, p0 + kc == t.k);
            let s = S::splat(t.slope);
            for (j, row) in acc.iter().enumerate() {
                let b = S::splat(*t.bias.add(j));
                for (v, &sum) in row.iter().enumerate() {
                    let dst = t.o.add(j * tr + v * S::W);
                    let mut r = if first { sum } else { S::add(sum, S::load(dst, S::W)) };
                    if last {
                        r = S::add(r, b);
                        r = S::select_pos(r, r, S::mul(r, s));
                    }
                    S::store(dst, r, S::W);
                }
            }
            p0 += kc;
        }
    }
}
