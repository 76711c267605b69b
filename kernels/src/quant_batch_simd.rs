//! The SIMD body of [`crate::quant::QuantKernels::batch_i8`], written once over [`QSimd`] and
//! instantiated per set (with its register tile `R` rows × `NV` vectors) by the
//! `#[target_feature]` wrappers of `quant_batch_x86.rs`.

use super::{check_call, stride, QuantBatchPack, QuantBatchScratch, TILE_ROWS};

/// The int8 operations of one instruction family: `L` outputs per vector. Every method
/// executes its set's instructions, so it may run only inlined into a function compiled with
/// that set's `#[target_feature]` (the wrappers, handed out after CPU detection).
pub(crate) trait QSimd {
    /// Outputs (i32 / f32 lanes) per vector.
    const L: usize;
    /// L i32 lanes (also a weight vector: L outputs × 4 inputs of int8).
    type I: Copy;
    /// L f32 lanes.
    type F: Copy;
    unsafe fn izero() -> Self::I;
    /// An accumulator's start: 0, or in the VNNI sets −128·Σ_q w (the L values at `neg_colsum`),
    /// which undoes the +128 of the activations.
    unsafe fn acc0(neg_colsum: *const i32) -> Self::I;
    /// The 4 bytes at `p` (one input group of a row, as [`QSimd::store_q`] wrote it) in
    /// every lane.
    unsafe fn bcast(p: *const i8) -> Self::I;
    /// The 4·L weight bytes at `p`.
    unsafe fn wload(p: *const i8) -> Self::I;
    /// acc + Σ₄ x·w per lane (exact: i32; the VNNI sets sum (x + 128)·w).
    unsafe fn dot(acc: Self::I, x: Self::I, w: Self::I) -> Self::I;
    /// leaky(f32(acc)·scale + bias), a multiply then an add; L values readable at each pointer.
    unsafe fn finish(acc: Self::I, scale: *const f32, bias: *const f32, slope: Self::F) -> Self::F;
    unsafe fn fsplat(v: f32) -> Self::F;
    /// `len` ≤ L lanes from `p`, the others 0.
    unsafe fn fload(p: *const f32, len: usize) -> Self::F;
    /// The first `len` ≤ L lanes of `v` to `p`.
    unsafe fn fstore(p: *mut f32, v: Self::F, len: usize);
    /// L bytes q = round_ties_even(clamp(u·inv, −127, 127)) to `p` (NaN gives −127), as
    /// [`QSimd::dot`] takes them: the VNNI sets store q + 128 as u8 (q ^ 0x80), so that the
    /// broadcast of an input group is one load.
    unsafe fn store_q(p: *mut i8, u: Self::F, inv: Self::F);
}

/// See [`super::QuantBatchFn`] for the contract.
///
/// Safety: inlined into a function compiled for `Q`'s instruction set; 1 ≤ R ≤ TILE_ROWS, 1 ≤ NV ≤ 6,
/// TILE_ROWS a multiple of R.
#[inline(always)]
pub(crate) unsafe fn forward_simd<Q: QSimd, const R: usize, const NV: usize>(
    out: &mut [f32],
    x: &[f32],
    rows: usize,
    pack: &QuantBatchPack,
    scratch: &mut QuantBatchScratch,
) {
    check_call(out.len(), x.len(), rows, pack, scratch);
    assert!(TILE_ROWS.is_multiple_of(R) && NV <= 6 && Q::L * 4 <= 64, "hepae-kernels::batch_i8: tile {R}×{NV}");
    let (din, dout) = (pack.in_dim(), pack.out_dim());
    let (s_in, s_hid) = (stride(din), pack.hidden_stride());
    let buf = scratch.i8_mut();
    let (xin, rest) = buf.split_at_mut(TILE_ROWS * s_in);
    let (ha, hb) = rest.split_at_mut(TILE_ROWS * s_hid);
    let hid = [ha.as_mut_ptr(), hb.as_mut_ptr()];
    let last = pack.layers().len() - 1;
    let mut r0 = 0;
    while r0 < rows {
        let n = TILE_ROWS.min(rows - r0);
        let xt = &x[r0 * din..(r0 + n) * din];
        let ot = &mut out[r0 * dout..(r0 + n) * dout];
        // SAFETY: the ISA is enabled in the caller; `xin` holds TILE_ROWS rows of s_in ≥ din
        // bytes (rounded to 16, so each L-byte store of a row stays in it), `xt` n rows of din.
        unsafe {
            let inv = Q::fsplat(pack.layers()[0].inv_in);
            for r in 0..n {
                let mut c = 0;
                while c < din {
                    let u = Q::fload(xt.as_ptr().add(r * din + c), Q::L.min(din - c));
                    Q::store_q(xin.as_mut_ptr().add(r * s_in + c), u, inv);
                    c += Q::L;
                }
            }
        }
        // Rows n..TILE_ROWS of a last short tile hold stale bytes: they are computed (int8
        // arithmetic cannot fault) but never stored to `out`.
        let mut src: (*const i8, usize) = (xin.as_ptr(), s_in);
        for (li, l) in pack.layers().iter().enumerate() {
            let dst = if li == last {
                Dst::Out { p: ot.as_mut_ptr(), stride: dout, rows: n }
            } else {
                Dst::Hidden { p: hid[li % 2], stride: s_hid, inv: pack.layers()[li + 1].inv_in }
            };
            let nvec = l.w.n().div_ceil(Q::L);
            let mut v0 = 0;
            while v0 < nvec {
                let nv = NV.min(nvec - v0);
                let mut r = 0;
                while r < n {
                    // SAFETY: the block reads groups < kg of R rows from r of `src` (each row
                    // 4·kg ≤ its stride bytes, rows < TILE_ROWS), weight vectors v0..v0 + nv
                    // < ⌈n/L⌉ ≤ 16·nb/L of every group, and the padded scale/bias/negated column sums
                    // (16·nb) at L·(v0 + v); it stores as `Dst` says (hidden rows within
                    // TILE_ROWS, columns < L·nvec ≤ stride; out rows < n, lanes < n_out).
                    unsafe {
                        let b = Block { a: src.0.add(r * src.1), sa: src.1, layer: l, v0, r, dst };
                        match nv {
                            1 => block::<Q, R, 1>(&b),
                            2 => block::<Q, R, 2>(&b),
                            3 => block::<Q, R, 3>(&b),
                            4 if NV > 4 => block::<Q, R, 4>(&b),
                            5 if NV > 5 => block::<Q, R, 5>(&b),
                            _ => block::<Q, R, NV>(&b),
                        }
                    }
                    r += R;
                }
                v0 += nv;
            }
            if let Dst::Hidden { p, stride, .. } = dst {
                src = (p, stride);
            }
        }
        r0 += n;
    }
}

/// Where a layer's outputs go.
#[derive(Clone, Copy)]
enum Dst {
    /// The next layer's int8 input (row stride in bytes), quantised with its 1/s_x.
    Hidden { p: *mut i8, stride: usize, inv: f32 },
    /// The chain's f32 output: `rows` valid rows of `stride` values.
    Out { p: *mut f32, stride: usize, rows: usize },
}

/// One register tile: R rows from tile row `r` (input row i at `a + i·sa`), output vectors
/// v0.. of `layer`.
struct Block<'a> {
    a: *const i8,
    sa: usize,
    layer: &'a super::I8BatchLayer,
    v0: usize,
    r: usize,
    dst: Dst,
}

/// Safety: as `forward_simd`'s call site states; inlined into a function compiled for `Q`.
#[inline(always)]
unsafe fn block<Q: QSimd, const R: usize, const NV: usize>(b: &Block<'_>) {
    let w = &b.layer.w;
    let gs = w.blocks() * 64; // bytes per input group
                              // SAFETY (this body): every pointer is inside the operand the call site names; the ISA is
                              // enabled in the caller.
    unsafe {
        let wp = w.data().as_ptr().add(b.v0 * Q::L * 4);
        let mut acc0 = [Q::izero(); NV];
        for (v, a) in acc0.iter_mut().enumerate() {
            *a = Q::acc0(b.layer.neg_colsum128.as_ptr().add((b.v0 + v) * Q::L));
        }
        let mut acc = [acc0; R];
        for g in 0..w.groups() {
            let wg = wp.add(g * gs);
            let mut wv = [Q::izero(); NV];
            for (v, x) in wv.iter_mut().enumerate() {
                *x = Q::wload(wg.add(v * Q::L * 4));
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let xv = Q::bcast(b.a.add(i * b.sa + 4 * g));
                for (a, &wvv) in row.iter_mut().zip(&wv) {
                    *a = Q::dot(*a, xv, wvv);
                }
            }
        }
        // A copy for the epilogue's indexed reads, so that `acc` itself stays in registers
        // through the loop above (indexed by loop counters it would live on the stack).
        let acc: [[Q::I; NV]; R] = acc;
        let slope = Q::fsplat(b.layer.slope);
        let n = w.n();
        for v in 0..NV {
            let j = (b.v0 + v) * Q::L;
            let (sc, bi) = (b.layer.scale.as_ptr().add(j), b.layer.bias.as_ptr().add(j));
            for (i, row) in acc.iter().enumerate() {
                let u = Q::finish(row[v], sc, bi, slope);
                match b.dst {
                    Dst::Hidden { p, stride, inv } => Q::store_q(p.add((b.r + i) * stride + j), u, Q::fsplat(inv)),
                    Dst::Out { p, stride, rows } => {
                        if b.r + i < rows {
                            Q::fstore(p.add((b.r + i) * stride + j), u, Q::L.min(n - j));
                        }
                    }
                }
            }
        }
    }
}
