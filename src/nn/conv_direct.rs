//! The direct path of a stride-1 convolution with few output channels, over whole padded
//! planes: each input plane is copied once into a zero-bordered (H + 2p) × (W + 2p) plane,
//! so that kernel tap (i, j) reads one contiguous range of it (offset i·Wp + j) and every
//! (o, c, i, j) term is one long `rows_axpy` (or `rows_dot`) over OH rows of Wp values, the
//! Wp − OW values past each output row being junk that is never kept. (A k×k window over
//! rows of 40 values is otherwise k²·OH calls of 40 values each per channel pair.)
//!
//! Per image, with xp the padded input (Hp = H + 2p, Wp = W + 2p) and outputs in rows of Wp:
//! - forward: y′[o, y·Wp + x] = Σ_{c,i,j} w[o, c, i, j]·xp[c, (y + i)·Wp + x + j], terms
//!   added in (c, i, j) order from 0 (the in-image terms of the row-segment loops in the
//!   same order; the padding's terms add ±0, which leaves a sum that starts at +0 unchanged),
//!   then y[o, y, x] = y′[o, y·Wp + x] for x < OW;
//! - dW[o, c, i, j] += Σ_{y,x} g′[o, y·Wp + x]·xp[c, (y + i)·Wp + x + j] with g′ the output
//!   gradient in rows of Wp, zero past OW (`rows_dot`: 16 partial sums, a fixed order);
//! - dx[c, Y, X] = Σ_{o,i,j} w[o, c, i, j]·gp[o, (Y + k − 1 − i)·Wg + X + k − 1 − j] with gp
//!   the output gradient padded by q = k − 1 − p on every side (Wg = OW + 2q = W + k − 1),
//!   terms in (o, i, j) order, then cropped to W columns.

use super::im2col::Window;
use hepae_kernels::window::Rows;
use hepae_kernels::Kernels;

/// The padded planes of one image and the lengths of the contiguous ranges over them.
#[derive(Clone, Copy, Debug)]
pub(super) struct Planes {
    /// The padded input: Hp × Wp.
    hp: usize,
    wp: usize,
    /// The padded output gradient (for dx): Hg × Wg, the gradient at (q, q).
    hg: usize,
    wg: usize,
    q: usize,
}

impl Planes {
    pub(super) fn new(g: &Window) -> Planes {
        let q = g.k - 1 - g.pad;
        Planes { hp: g.h + 2 * g.pad, wp: g.w + 2 * g.pad, hg: g.oh + 2 * q, wg: g.ow + 2 * q, q }
    }
    /// Scratch: the padded input, the outputs (or output gradient) in rows of Wp, the padded
    /// output gradient and the input gradient in rows of Wg.
    pub(super) fn work_len(&self, g: &Window, o: usize) -> usize {
        g.c * self.hp * self.wp + o * g.oh * self.wp + o * self.hg * self.wg + g.c * g.h * self.wg
    }
    /// One contiguous range of `len` values.
    fn range(len: usize) -> Rows {
        Rows { rows: 1, len, a_rs: len, b_rs: len }
    }
    /// Length of the forward (and dW) range: OH − 1 rows of Wp, then OW.
    fn len_out(&self, g: &Window) -> usize {
        (g.oh - 1) * self.wp + g.ow
    }
    /// Length of the dx range: H − 1 rows of Wg, then W.
    fn len_in(&self, g: &Window) -> usize {
        (g.h - 1) * self.wg + g.w
    }
}

/// Copies `n` planes of h×w from `src` into the planes of hp×wp of `dst` at row `top` and
/// column `left`; only those values are written (the borders keep what they hold).
#[allow(clippy::too_many_arguments)]
fn pad_planes(
    kern: &Kernels,
    dst: &mut [f32],
    src: &[f32],
    n: usize,
    (h, w): (usize, usize),
    (hp, wp): (usize, usize),
    top: usize,
    left: usize,
) {
    let rows = Rows { rows: h, len: w, a_rs: wp, b_rs: w };
    for (d, s) in dst.chunks_exact_mut(hp * wp).zip(src.chunks_exact(h * w)).take(n) {
        (kern.rows_copy)(&mut d[top * wp + left..], s, &rows);
    }
}

/// Copies `n` planes of `h` rows of `w` values, rows `from_rs` apart, into dense planes.
fn crop(kern: &Kernels, dst: &mut [f32], src: &[f32], n: usize, h: usize, w: usize, from_rs: usize) {
    let rows = Rows { rows: h, len: w, a_rs: w, b_rs: from_rs };
    for (p, d) in dst.chunks_exact_mut(h * w).take(n).enumerate() {
        (kern.rows_copy)(d, &src[p * h * from_rs..], &rows);
    }
}

/// Pre-activation outputs (no bias) of the `n` images of `xs` (each C×H×W) into `ys` (each
/// O×OH×OW); `weight` is [O, C, k, k].
#[allow(clippy::too_many_arguments)]
pub(super) fn forward(
    kern: &Kernels,
    g: &Window,
    o: usize,
    weight: &[f32],
    xs: &[f32],
    ys: &mut [f32],
    n: usize,
    work: &mut [f32],
) {
    let pl = Planes::new(g);
    let (k, c, chw, ohw) = (g.k, g.c, g.c * g.h * g.w, g.oh * g.ow);
    let (xp, rest) = work.split_at_mut(c * pl.hp * pl.wp);
    let yw = &mut rest[..o * g.oh * pl.wp];
    xp.fill(0.0);
    let len = pl.len_out(g);
    for (x, y) in xs.chunks_exact(chw).zip(ys.chunks_exact_mut(o * ohw)).take(n) {
        pad_planes(kern, xp, x, c, (g.h, g.w), (pl.hp, pl.wp), g.pad, g.pad);
        yw.fill(0.0);
        for (q, yq) in yw.chunks_exact_mut(g.oh * pl.wp).enumerate() {
            for (ci, plane) in xp.chunks_exact(pl.hp * pl.wp).enumerate() {
                for i in 0..k {
                    for j in 0..k {
                        let wv = weight[((q * c + ci) * k + i) * k + j];
                        (kern.rows_axpy)(&mut yq[..len], &plane[i * pl.wp + j..][..len], wv, &Planes::range(len));
                    }
                }
            }
        }
        crop(kern, y, yw, o, g.oh, g.ow, pl.wp);
    }
}

/// The gradients of [`forward`] from `gs` (each image's O×OH×OW output gradient, after the
/// activation's derivative): dW [O, C, k, k] added into, dx written.
#[allow(clippy::too_many_arguments)]
pub(super) fn backward(
    kern: &Kernels,
    g: &Window,
    o: usize,
    weight: &[f32],
    xs: &[f32],
    gs: &[f32],
    n: usize,
    mut dw: Option<&mut [f32]>,
    mut dx: Option<&mut [f32]>,
    work: &mut [f32],
) {
    let pl = Planes::new(g);
    let (k, c, chw, ohw) = (g.k, g.c, g.c * g.h * g.w, g.oh * g.ow);
    let work = &mut work[..pl.work_len(g, o)];
    work.fill(0.0);
    let (xp, rest) = work.split_at_mut(c * pl.hp * pl.wp);
    let (gw, rest) = rest.split_at_mut(o * g.oh * pl.wp);
    let (gp, dxw) = rest.split_at_mut(o * pl.hg * pl.wg);
    let (len, len_in) = (pl.len_out(g), pl.len_in(g));
    for (b, gb) in gs.chunks_exact(o * ohw).take(n).enumerate() {
        if let Some(dw) = dw.as_deref_mut() {
            pad_planes(kern, xp, &xs[b * chw..], c, (g.h, g.w), (pl.hp, pl.wp), g.pad, g.pad);
            pad_planes(kern, gw, gb, o, (g.oh, g.ow), (g.oh, pl.wp), 0, 0);
            for (q, gq) in gw.chunks_exact(g.oh * pl.wp).enumerate() {
                for (ci, plane) in xp.chunks_exact(pl.hp * pl.wp).enumerate() {
                    for i in 0..k {
                        for j in 0..k {
                            let d = (kern.rows_dot)(&gq[..len], &plane[i * pl.wp + j..][..len], &Planes::range(len));
                            dw[((q * c + ci) * k + i) * k + j] += d;
                        }
                    }
                }
            }
        }
        if let Some(dx) = dx.as_deref_mut() {
            pad_planes(kern, gp, gb, o, (g.oh, g.ow), (pl.hg, pl.wg), pl.q, pl.q);
            dxw.fill(0.0);
            for (ci, dc) in dxw.chunks_exact_mut(g.h * pl.wg).enumerate() {
                for (q, plane) in gp.chunks_exact(pl.hg * pl.wg).enumerate() {
                    for i in 0..k {
                        for j in 0..k {
                            let wv = weight[((q * c + ci) * k + i) * k + j];
                            let at = (k - 1 - i) * pl.wg + (k - 1 - j);
                            (kern.rows_axpy)(&mut dc[..len_in], &plane[at..][..len_in], wv, &Planes::range(len_in));
                        }
                    }
                }
            }
            crop(kern, &mut dx[b * chw..(b + 1) * chw], dxw, c, g.h, g.w, pl.wg);
        }
    }
}
