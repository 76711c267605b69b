//! 2-D convolution with a fused activation, in PyTorch `nn.Conv2d` layout (dilation 1, one
//! group): `weight` is [O, C, k, k], `bias` is \[O]. Input (N, C, H, W), output (N, O, OH, OW)
//! with OH = ⌊(H + 2p − k)/s⌋ + 1 (OW likewise).
//!
//! Forward, per image: out[o, y, x] = act(b\[o] + Σ_{c,i,j} w[o, c, i, j]·in[c, y·s − p + i, x·s − p + j])
//! (zero outside the image), computed as one implicit GEMM over whole planes: out[O × OH·OW]
//! = W[O × C·k·k] · cols[C·k·k × OH·OW], where each row (c, i, j) of the column matrix is a
//! contiguous range of a stride phase of the padded image ([`super::im2col_planes`]: output
//! rows Wq wide, the junk positions' outputs dropped), read in place by the kernel set's
//! `rows_gemm` ([`super::plane_products`]): no column matrix is built. A 1×1 kernel with
//! stride 1 and no padding reads the image itself as its column matrix (the packed GEMM).
//! Workspace: the phase planes and output gradients of a chunk of images, outputs in rows of
//! Wq, the input gradient's packed weights and planes.

use super::activation::{sigmoid_inplace, Activation};
use super::conv_transpose_phases::Phases;
use super::im2col::{act_backward, bias_act_channels, channel_sums_add, Window};
use super::im2col_planes::Planes;
use super::init::init_linear;
use super::op::{Ctx, Op, ParamShape};
use super::plane_products::{
    bias_act_rows, check_pairs, dot_rows, gemm_rows, line_len, line_start, DotGeom, Offsets, PlaneRows, LINE,
};
use crate::engine::gemm::gemm;
use crate::engine::tensor::{Matrix, MatrixMut, Shape, Tensor, TensorMut};
use serde::{Deserialize, Serialize};

/// The op: `out` channels, a `kernel`×`kernel` window, `stride`, zero `pad` on each side, then
/// the activation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conv2d {
    pub out: usize,
    pub kernel: usize,
    pub stride: usize,
    pub pad: usize,
    pub act: Activation,
}

impl Conv2d {
    /// The window over a per-row input shape (a feature row is read as one 1×1 pixel per value
    /// only by [`Op::check`]'s refusal: it must be an image).
    pub fn window(&self, inp: Shape) -> Window {
        let (c, h, w) = image_dims(inp);
        Window::conv(c, h, w, self.kernel, self.stride, self.pad)
    }
    fn pointwise(&self) -> bool {
        self.kernel == 1 && self.stride == 1 && self.pad == 0
    }
}

/// Images whose phase planes and output gradients the weight gradient takes in one call
/// (the kernel's 16-lane sums are reduced once per call): as many as keep them within
/// ~512 KiB (the L2 cache), 1 to 8.
pub(super) fn chunk_images(batch: usize, per_image: usize) -> usize {
    (CHUNK_VALUES / per_image.max(1)).clamp(1, 8).min(batch.max(1))
}

/// The value budget of [`chunk_images`].
const CHUNK_VALUES: usize = 128 * 1024;

/// (C, H, W) of an image shape; (F, 1, 1) for a feature row (which the image ops refuse).
pub fn image_dims(s: Shape) -> (usize, usize, usize) {
    match s {
        Shape::Image { c, h, w } => (c, h, w),
        Shape::Features(f) => (f, 1, 1),
    }
}

/// The checks every windowed op makes of its input: an image, a kernel of at least 1, a stride
/// of at least 1 and a window that fits the padded image.
pub fn check_window(inp: Shape, kernel: usize, stride: usize, pad: usize) -> Result<(), String> {
    let Shape::Image { h, w, .. } = inp else {
        return Err(format!("needs an image input (C×H×W), got {} features per row", inp.len()));
    };
    if kernel == 0 || stride == 0 {
        return Err(format!("kernel {kernel} and stride {stride} must both be at least 1"));
    }
    if pad >= kernel {
        return Err(format!("padding {pad} must be smaller than the kernel {kernel}"));
    }
    if h + 2 * pad < kernel || w + 2 * pad < kernel {
        return Err(format!("a {kernel}×{kernel} window does not fit a {h}×{w} image padded by {pad}"));
    }
    Ok(())
}

impl Op for Conv2d {
    fn out_shape(&self, inp: Shape) -> Shape {
        let g = self.window(inp);
        Shape::Image { c: self.out, h: g.oh, w: g.ow }
    }
    fn check(&self, inp: Shape) -> Result<(), String> {
        check_window(inp, self.kernel, self.stride, self.pad)?;
        if self.out == 0 {
            return Err("a convolution needs at least one output channel".into());
        }
        let (c, _, _) = image_dims(inp);
        check_pairs(c.max(self.out), self.kernel)
    }
    fn params(&self, inp: Shape) -> Vec<ParamShape> {
        let (c, _, _) = image_dims(inp);
        vec![
            ParamShape { name: "weight", shape: vec![self.out, c, self.kernel, self.kernel] },
            ParamShape { name: "bias", shape: vec![self.out] },
        ]
    }
    /// PyTorch's default: U(−1/√fan_in, 1/√fan_in) for weight and bias, fan_in = C·k·k.
    fn init(&self, inp: Shape, params: &mut [f32], rng: &mut rand::rngs::StdRng) {
        let fan_in = self.window(inp).rows();
        let (w, b) = params.split_at_mut(self.out * fan_in);
        init_linear(w, b, fan_in, rng);
    }
    /// Pointwise: dWᵀ [C × O]. Otherwise, the larger of the forward's (one image's phase
    /// planes and outputs in rows of Wq) and the backward's (a chunk of images' phase planes
    /// and output gradients in rows of Wq, then the input gradient's packed weights and
    /// planes).
    fn work_len(&self, inp: Shape, batch: usize) -> usize {
        let g = self.window(inp);
        if self.pointwise() {
            return g.rows() * self.out;
        }
        let pl = Planes::new(g);
        let dx = Phases::new(&g, self.out);
        let fwd = pl.phases_len() + LINE + self.out * line_len(pl.len);
        let per = pl.phases_len() + GradRows::new(&pl, &dx, self.out).len;
        fwd.max(chunk_images(batch, per) * per + LINE + dx.pack_len() + g.c + LINE + dx.work_len())
    }
    fn forward(&self, cx: &Ctx<'_>, params: &[f32], inp: Tensor<'_>, out: TensorMut<'_>, work: &mut [f32]) {
        let g = self.window(inp.shape);
        let (o, ckk, ohw) = (self.out, g.rows(), g.cols());
        let (weight, bias) = params.split_at(o * ckk);
        let chw = g.c * g.h * g.w;
        let kern = cx.gemm.kernels();
        if self.pointwise() {
            for (x, y) in inp.data.chunks_exact(chw).zip(out.data.chunks_exact_mut(o * ohw)) {
                gemm(
                    cx.gemm,
                    1.0,
                    Matrix::new(weight, o, ckk),
                    Matrix::new(x, ckk, ohw),
                    0.0,
                    &mut MatrixMut::new(y, o, ohw),
                );
            }
            bias_act_channels(out.data, &bias[..o], inp.n, ohw, self.act);
            return;
        }
        let pl = Planes::new(g);
        let (ph, rest) = work.split_at_mut(pl.phases_len());
        // The outputs in rows of Wq, planes whole lines apart from a line (aligned stores).
        let ldc = line_len(pl.len);
        let yw = &mut line_start(rest)[..o * ldc];
        pl.clear(ph, kern);
        // The outputs' kept positions, with the bias and the slope, into the dense planes.
        let geo = PlaneRows {
            planes: o,
            rows: g.oh,
            len: g.ow,
            src_ps: ldc,
            src_rs: pl.row_stride(),
            dst_ps: ohw,
            dst_rs: g.ow,
            step: 1,
        };
        let mut offs = Offsets::empty();
        pl.offsets(&mut offs);
        for (x, y) in inp.data.chunks_exact(chw).zip(out.data.chunks_exact_mut(o * ohw)) {
            pl.phases(ph, x, kern);
            gemm_rows(kern, yw, ldc, weight, ckk, ph, offs.as_slice(), (o, pl.len), false);
            bias_act_rows(kern, y, yw, &bias[..o], self.act.fused_slope(), &geo);
        }
        if self.act == Activation::Sigmoid {
            sigmoid_inplace(&mut out.data[..inp.n * o * ohw]);
        }
    }
    /// From `pre = W·cols + b` per image, with g = dout ⊙ act'(pre) (written over `dout`):
    /// - dW[O × C·k·k] += Σ_images g · colsᵀ: each (c, i, j) column a dot product of g (in
    ///   rows of Wq, zero at the junk positions) with its range of the phase planes, a chunk
    ///   of images per call (`rows_gemm_dot`);  db\[o] += Σ g[o, ·]
    /// - dinp = Wᵀ·g through col2im, which is the transposed convolution of g with W (the
    ///   same [O, C, k, k] layout read as its [C′ = O, O′ = C, k, k]; its input O×OH×OW, its
    ///   output C×H×W), by output phase (`super::conv_transpose_phases`)
    fn backward(
        &self,
        cx: &Ctx<'_>,
        dparams: Option<&mut [f32]>,
        mut dinp: Option<&mut [f32]>,
        dout: &mut [f32],
        out: Tensor<'_>,
        inp: Tensor<'_>,
        params: &[f32],
        work: &mut [f32],
    ) {
        let g = self.window(inp.shape);
        let (n, o, ckk, ohw) = (inp.n, self.out, g.rows(), g.cols());
        let chw = g.c * g.h * g.w;
        let weight = &params[..o * ckk];
        let dout = &mut dout[..n * o * ohw];
        act_backward(dout, out.data, self.act);
        let mut dparams = dparams.map(|d| d.split_at_mut(o * ckk));
        if self.pointwise() {
            pointwise_backward(
                cx,
                &g,
                o,
                weight,
                inp.data,
                dout,
                n,
                dparams.as_mut().map(|(dw, _)| &mut dw[..]),
                dinp,
                work,
            );
        } else {
            let (pl, kern) = (Planes::new(g), cx.gemm.kernels());
            let dxp = Phases::new(&g, o);
            let rows = GradRows::new(&pl, &dxp, o);
            let (plen, glen) = (pl.phases_len(), rows.len);
            let chunk = chunk_images(n, plen + glen);
            let (phs, rest) = work.split_at_mut(chunk * plen);
            pl.clear(phs, kern);
            let (gws, rest) = line_start(rest).split_at_mut(chunk * glen);
            let (mut offs, mut dx_offs) = (Offsets::empty(), Offsets::empty());
            pl.offsets(&mut offs);
            dxp.offsets(&mut dx_offs);
            let (packed, rest) = rest.split_at_mut(dxp.pack_len());
            let (zeros, dx_work) = rest.split_at_mut(g.c);
            let dx_work = line_start(dx_work);
            if dinp.is_some() {
                dxp.pack(weight, packed);
                if !rows.shared {
                    dxp.clear(dx_work, kern);
                }
                zeros.fill(0.0);
            }
            // The output gradients' layout, zero at the junk positions and borders (written once).
            (kern.zero)(gws);
            for b0 in (0..n).step_by(chunk) {
                let imgs = chunk.min(n - b0);
                for t in 0..imgs {
                    let (b, gt) = (b0 + t, &mut gws[t * glen..][..glen]);
                    let d = &dout[b * o * ohw..(b + 1) * o * ohw];
                    if rows.shared {
                        dxp.pad_input(kern, gt, d);
                    } else if dparams.is_some() {
                        pl.spread(gt, rows.plane, d, o, kern);
                    }
                }
                if let Some((dw, _)) = dparams.as_mut() {
                    for t in 0..imgs {
                        let b = b0 + t;
                        pl.phases(&mut phs[t * plen..][..plen], &inp.data[b * chw..(b + 1) * chw], kern);
                    }
                    let d = DotGeom { m: o, len: pl.len, lda: rows.plane, images: imgs, a_is: glen, b_is: plen };
                    dot_rows(kern, &mut dw[..o * ckk], ckk, &gws[rows.at..], phs, offs.as_slice(), d);
                }
                if let Some(dx) = dinp.as_deref_mut() {
                    for t in 0..imgs {
                        let b = b0 + t;
                        let (offs, dxb) = (dx_offs.as_slice(), &mut dx[b * chw..(b + 1) * chw]);
                        if rows.shared {
                            let gt = &gws[t * glen..][..glen];
                            dxp.forward_padded(kern, packed, offs, gt, dxb, (&*zeros, 1.0), dx_work);
                        } else {
                            let d = &dout[b * o * ohw..(b + 1) * o * ohw];
                            dxp.forward(kern, packed, offs, d, dxb, (&*zeros, 1.0), dx_work);
                        }
                    }
                }
            }
        }
        if let Some((_, db)) = dparams {
            channel_sums_add(cx.gemm.kernels(), &mut db[..o], dout, n, ohw);
        }
    }
}

/// How the backward holds each image's output gradient g (O planes of OH×OW): in rows of Wq
/// for the weight gradient's dot products, zero at the junk positions ([`Planes::spread`]);
/// or, where the input gradient's padded planes have rows of the same width (Wp = Wq, as
/// for 3×3 kernels of stride 1 or 2 with padding 1 on even sizes), in those padded planes
/// ([`Phases::pad_input`]), which both products then read: one copy of g instead of two.
/// Either way row y of plane o starts at `at` + o·`plane` + y·Wq, the Wq − OW values after
/// each row are zero, and each plane's row 0 starts a 64-byte line (`len` and `plane` whole
/// lines, the buffer on a line: [`super::plane_products::LINE`]).
struct GradRows {
    shared: bool,
    /// Values per image.
    len: usize,
    at: usize,
    plane: usize,
}

impl GradRows {
    fn new(pl: &Planes, dxp: &Phases, o: usize) -> GradRows {
        let (at, plane, wp) = dxp.input_at();
        if wp == pl.row_stride() {
            GradRows { shared: true, len: dxp.input_len(), at, plane }
        } else {
            GradRows { shared: false, len: o * line_len(pl.len), at: 0, plane: line_len(pl.len) }
        }
    }
}

/// The backward of a pointwise convolution (each image's column matrix is the image): dWᵀ
/// [C × O] += x · gᵀ in the scratch, added into dW once; dx = Wᵀ · g.
#[allow(clippy::too_many_arguments)]
fn pointwise_backward(
    cx: &Ctx<'_>,
    g: &Window,
    o: usize,
    weight: &[f32],
    xs: &[f32],
    gs: &[f32],
    n: usize,
    dw: Option<&mut [f32]>,
    mut dinp: Option<&mut [f32]>,
    work: &mut [f32],
) {
    let (c, hw) = (g.c, g.h * g.w);
    let dwt = &mut work[..c * o];
    dwt.fill(0.0);
    for b in 0..n {
        let (x, gb) = (&xs[b * c * hw..(b + 1) * c * hw], &gs[b * o * hw..(b + 1) * o * hw]);
        if dw.is_some() {
            let gt = Matrix::new(gb, o, hw).t();
            gemm(cx.gemm, 1.0, Matrix::new(x, c, hw), gt, 1.0, &mut MatrixMut::new(dwt, c, o));
        }
        if let Some(dx) = dinp.as_deref_mut() {
            let wt = Matrix::new(weight, o, c).t();
            gemm(
                cx.gemm,
                1.0,
                wt,
                Matrix::new(gb, o, hw),
                0.0,
                &mut MatrixMut::new(&mut dx[b * c * hw..(b + 1) * c * hw], c, hw),
            );
        }
    }
    if let Some(dw) = dw {
        for (q, row) in dw[..o * c].chunks_exact_mut(c).enumerate() {
            for (r, v) in row.iter_mut().enumerate() {
                *v += dwt[r * o + q];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::im2col::tests::windows;

    /// Both layouts of the output gradients keep what the two products read: plane o's row y
    /// at at + o·plane + y·Wq on a 64-byte line at row 0, the Wq − OW values after each row
    /// and the row ranges inside the image's slot. The reference net's 3×3 convolutions
    /// (stride 1 and 2, padding 1, even sizes) share one copy; a 4×4 kernel of stride 3 does
    /// not.
    #[test]
    fn the_output_gradient_rows_serve_both_products() {
        let extra =
            [Window::conv(8, 40, 40, 3, 1, 1), Window::conv(8, 40, 40, 3, 2, 1), Window::conv(16, 20, 20, 3, 2, 1)];
        let mut seen = (false, false);
        for g in windows().into_iter().chain(extra) {
            let o = 3;
            let (pl, dxp) = (Planes::new(g), Phases::new(&g, o));
            let rows = GradRows::new(&pl, &dxp, o);
            let (wq, lines) = (pl.row_stride(), |v: usize| v.is_multiple_of(LINE));
            assert!(lines(rows.at) && lines(rows.plane) && lines(rows.len), "{g:?}: rows on lines");
            assert!(rows.at + (o - 1) * rows.plane + pl.len <= rows.len, "{g:?}: rows inside the slot");
            assert!(rows.plane >= pl.len, "{g:?}: planes apart by at least L");
            if rows.shared {
                // The padded planes' interior is the gradient, rows Wq apart; the rest zero.
                let d: Vec<f32> = (0..o * g.oh * g.ow).map(|v| v as f32 + 1.0).collect();
                let mut buf = vec![0.0f32; rows.len];
                dxp.pad_input(hepae_kernels::kernels(), &mut buf, &d);
                for q in 0..o {
                    for y in 0..g.oh {
                        for x in 0..wq {
                            let got = buf[rows.at + q * rows.plane + y * wq + x];
                            let want = if x < g.ow { d[(q * g.oh + y) * g.ow + x] } else { 0.0 };
                            if y + 1 < g.oh || x < g.ow {
                                assert_eq!(got, want, "{g:?}: plane {q} ({y}, {x})");
                            }
                        }
                    }
                }
            }
            seen = (seen.0 || rows.shared, seen.1 || !rows.shared);
        }
        assert_eq!(seen, (true, true), "both layouts are covered");
        for g in extra {
            assert!(GradRows::new(&Planes::new(g), &Phases::new(&g, 4), 4).shared, "{g:?} shares the copy");
        }
        let apart = Window::conv(2, 11, 10, 4, 3, 0);
        assert!(!GradRows::new(&Planes::new(apart), &Phases::new(&apart, 9), 9).shared);
    }
}
