//! The SIMD body of [`crate::Kernels::conv_enc`] (the layout and the maths are in
//! `conv_enc.rs`), written once over [`Simd`] for AVX2 and AVX-512F.
//!
//! Blocking: per output row, per group of up to two vectors of output channels, a register
//! tile of P output pixels × NV vectors of channels (P·NV accumulators: up to 20 on AVX-512,
//! 12 on AVX2, enough independent FMA chains to hide their latency) starts at the biases; for
//! each kernel row i the tile walks the k·C input values of that row's window, which are
//! contiguous in the padded HWC input (for any stride), loading NV weight vectors and
//! broadcasting one input value per pixel. A row is cut into tiles of 10, 8, 6, 4, 2, 1
//! pixels, largest first (6 at most for two AVX2 vectors). The epilogue applies the
//! per-channel slope and stores exactly the channels that exist (masked), so O needs no
//! multiple of the vector width. A one-pixel tile over a long window (a dense layer run as a
//! 1×1 convolution of a 1×1 image of I channels) has too few accumulators to hide the FMA
//! latency, so it keeps four partial sums (window positions q mod 4) and adds them at the end.

use crate::conv_enc::{check_call, ConvEncPack};
use crate::simd::Simd;

/// Tile widths (pixels), largest first.
const TILES: [usize; 6] = [10, 8, 6, 4, 2, 1];

/// Window values (k·k·C) from which a one-pixel tile keeps four partial sums.
const LONG_WINDOW: usize = 64;

/// The body: one image through `pack` (lengths checked first).
///
/// Safety: inlined into a function compiled for `S`'s instruction set.
#[inline(always)]
pub(crate) unsafe fn forward_simd<S: Simd>(out: &mut [f32], x: &[f32], pack: &ConvEncPack) {
    check_call(out.len(), x.len(), pack);
    let (c, k, s, o) = (pack.c, pack.kernel, pack.stride, pack.out);
    let x_row = (pack.w + 2 * pack.pad) * c;
    let (b, owb) = (pack.out_border, pack.ow + 2 * pack.out_border);
    let g = Geom { x_row, x_px: s * c, kc: k * c, k, w_row: pack.out_pad, o_px: o };
    let nvec = o.div_ceil(S::W);
    let (wts, bias, slopes) = (pack.weights().as_ptr(), pack.bias().as_ptr(), pack.slopes().as_ptr());
    for y in 0..pack.oh {
        let mut v0 = 0;
        while v0 < nvec {
            let nv = (nvec - v0).min(2);
            let pmax = if nv == 1 || S::W >= 16 { 10 } else { 6 };
            let ch = v0 * S::W;
            let left = o - ch;
            let mut xo = 0;
            while xo < pack.ow {
                let p = TILES.into_iter().find(|&p| p <= pmax.min(pack.ow - xo)).unwrap_or(1);
                // SAFETY: the tile reads input rows y·s + i (i < k) at pixels (xo + t)·s + j
                // (t < p, j < k), each of C values: inside the padded image, whose height and
                // width the window fits at every output position (OH, OW from the pack); it
                // reads weight, bias and slope columns [ch, ch + nv·W) < out_pad (a multiple
                // of 16, so of W), rows < k·k·C; it writes `left` ≥ 1 channels (at most nv·W)
                // of pixels (y + b, xo + b + t) of the output buffer, inside it (checked
                // lengths). The ISA is enabled in the caller.
                unsafe {
                    let xp = x.as_ptr().add(y * s * x_row + xo * s * c);
                    let op = out.as_mut_ptr().add(((y + b) * owb + xo + b) * o + ch);
                    let (w, bi, sl) = (wts.add(ch), bias.add(ch), slopes.add(ch));
                    let long = g.k * g.kc >= LONG_WINDOW;
                    match (nv, p) {
                        (1, 1) if long => tile_long::<S, 1>(op, xp, w, bi, sl, left, &g),
                        (2, 1) if long => tile_long::<S, 2>(op, xp, w, bi, sl, left, &g),
                        (1, 10) => tile::<S, 10, 1>(op, xp, w, bi, sl, left, &g),
                        (1, 8) => tile::<S, 8, 1>(op, xp, w, bi, sl, left, &g),
                        (1, 6) => tile::<S, 6, 1>(op, xp, w, bi, sl, left, &g),
                        (1, 4) => tile::<S, 4, 1>(op, xp, w, bi, sl, left, &g),
                        (1, 2) => tile::<S, 2, 1>(op, xp, w, bi, sl, left, &g),
                        (1, _) => tile::<S, 1, 1>(op, xp, w, bi, sl, left, &g),
                        (_, 10) => tile::<S, 10, 2>(op, xp, w, bi, sl, left, &g),
                        (_, 8) => tile::<S, 8, 2>(op, xp, w, bi, sl, left, &g),
                        (_, 6) => tile::<S, 6, 2>(op, xp, w, bi, sl, left, &g),
                        (_, 4) => tile::<S, 4, 2>(op, xp, w, bi, sl, left, &g),
                        (_, 2) => tile::<S, 2, 2>(op, xp, w, bi, sl, left, &g),
                        (_, _) => tile::<S, 1, 2>(op, xp, w, bi, sl, left, &g),
                    }
                }
                xo += p;
            }
            v0 += nv;
        }
    }
}

/// Strides of one call, in floats: input row and pixel step (stride·C), the window row's
/// length k·C, the kernel size, the weight row (out_pad) and the output pixel (O).
struct Geom {
    x_row: usize,
    x_px: usize,
    kc: usize,
    k: usize,
    w_row: usize,
    o_px: usize,
}

/// P output pixels × NV channel vectors: o[t][v] = act(bias[v] + Σ_{i, q} x[i·x_row + t·x_px
/// + q]·w[(i·kc + q)·w_row + v·W]), storing min(W, left − v·W) lanes of vector v.
///
/// Safety: every address above exists (the caller's SAFETY note); inlined into a function
/// compiled for `S`.
#[inline(always)]
unsafe fn tile<S: Simd, const P: usize, const NV: usize>(
    o: *mut f32,
    x: *const f32,
    w: *const f32,
    bias: *const f32,
    slopes: *const f32,
    left: usize,
    g: &Geom,
) {
    // SAFETY: the caller's contract above.
    unsafe {
        let mut acc = [[S::zero(); NV]; P];
        for v in 0..NV {
            let bv = S::load(bias.add(v * S::W), S::W);
            for a in acc.iter_mut() {
                a[v] = bv;
            }
        }
        for i in 0..g.k {
            let xi = x.add(i * g.x_row);
            let wi = w.add(i * g.kc * g.w_row);
            for q in 0..g.kc {
                let mut wv = [S::zero(); NV];
                for (v, wv) in wv.iter_mut().enumerate() {
                    *wv = S::load(wi.add(q * g.w_row + v * S::W), S::W);
                }
                for (t, a) in acc.iter_mut().enumerate() {
                    let xv = S::splat(*xi.add(t * g.x_px + q));
                    for v in 0..NV {
                        a[v] = S::fmadd(xv, wv[v], a[v]);
                    }
                }
            }
        }
        for v in 0..NV {
            let len = left.saturating_sub(v * S::W).min(S::W);
            if len == 0 {
                continue;
            }
            let sl = S::load(slopes.add(v * S::W), S::W);
            for (t, a) in acc.iter().enumerate() {
                let y = S::select_pos(a[v], a[v], S::mul(a[v], sl));
                S::store(o.add(t * g.o_px + v * S::W), y, len);
            }
        }
    }
}

/// One pixel × NV channel vectors as [`tile`], with four partial sums (window values
/// q ≡ 0, 1, 2, 3 mod 4 of each kernel row, the remainder into the first) added as
/// (s₀ + s₁) + (s₂ + s₃) before the activation.
///
/// Safety: as [`tile`] with P = 1.
#[inline(always)]
unsafe fn tile_long<S: Simd, const NV: usize>(
    o: *mut f32,
    x: *const f32,
    w: *const f32,
    bias: *const f32,
    slopes: *const f32,
    left: usize,
    g: &Geom,
) {
    // SAFETY: the caller's contract above.
    unsafe {
        let mut acc = [[S::zero(); NV]; 4];
        for (v, a) in acc[0].iter_mut().enumerate() {
            *a = S::load(bias.add(v * S::W), S::W);
        }
        for i in 0..g.k {
            let xi = x.add(i * g.x_row);
            let wi = w.add(i * g.kc * g.w_row);
            let mut q = 0;
            while q + 4 <= g.kc {
                for (u, a) in acc.iter_mut().enumerate() {
                    let xv = S::splat(*xi.add(q + u));
                    let row = wi.add((q + u) * g.w_row);
                    for (v, av) in a.iter_mut().enumerate() {
                        *av = S::fmadd(xv, S::load(row.add(v * S::W), S::W), *av);
                    }
                }
                q += 4;
            }
            for q in q..g.kc {
                let xv = S::splat(*xi.add(q));
                let row = wi.add(q * g.w_row);
                for (v, av) in acc[0].iter_mut().enumerate() {
                    *av = S::fmadd(xv, S::load(row.add(v * S::W), S::W), *av);
                }
            }
        }
        let [s0, s1, s2, s3] = acc;
        for v in 0..NV {
            let len = left.saturating_sub(v * S::W).min(S::W);
            if len == 0 {
                continue;
            }
            let a = S::add(S::add(s0[v], s1[v]), S::add(s2[v], s3[v]));
            let sl = S::load(slopes.add(v * S::W), S::W);
            S::store(o.add(v * S::W), S::select_pos(a, a, S::mul(a, sl)), len);
        }
    }
}
