//! 2-D convolution with a fused activation, in PyTorch `nn.Conv2d` layout (dilation 1, one
//! group): `weight` is [O, C, k, k], `bias` is \[O]. Input (N, C, H, W), output (N, O, OH, OW)
//! with OH = ⌊(H + 2p − k)/s⌋ + 1 (OW likewise).
//!
//! Forward, per image: out[o, y, x] = act(b\[o] + Σ_{c,i,j} w[o, c, i, j]·in[c, y·s − p + i, x·s − p + j])
//! (zero outside the image), computed as im2col then one GEMM: out[O × OH·OW] =
//! W[O × C·k·k] · cols[C·k·k × OH·OW], the columns built over whole planes
//! ([`super::im2col_planes`]: output rows Wq wide, each column row one contiguous copy of a
//! stride phase of the padded image; the junk positions' outputs are dropped). A 1×1 kernel
//! with stride 1 and no padding reads the image itself as its column matrix; a stride-1
//! convolution with few output channels runs direct (`super::conv_direct`). Workspace: one
//! image's phase planes, columns and outputs (or output gradient) in rows of Wq, and dWᵀ.

use super::activation::Activation;
use super::conv_direct;
use super::conv_transpose_phases::Phases;
use super::im2col::{act_backward, bias_act_channels, channel_sums_add, Window};
use super::im2col_planes::Planes;
use super::init::init_linear;
use super::op::{Ctx, Op, ParamShape};
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
    /// Whether the products run as a direct convolution (stride 1, few output channels).
    fn is_direct(&self) -> bool {
        self.stride == 1 && self.out < SMALL_OUT && !self.pointwise()
    }
}

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
        Ok(())
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
    /// One image's columns (none for a pointwise conv), then dWᵀ [C·k·k × O] accumulated over
    /// the batch.
    fn work_len(&self, inp: Shape, _batch: usize) -> usize {
        let g = self.window(inp);
        if self.is_direct() {
            return conv_direct::Planes::new(&g).work_len(&g, self.out);
        }
        if self.pointwise() {
            return g.rows() * self.out;
        }
        let pl = Planes::new(g);
        let dx = if g.stride >= 2 { Phases::new(&g, self.out).work_len() } else { 0 };
        pl.phases_len() + pl.cols_len() + self.out * pl.len + g.rows() * self.out + dx
    }
    fn forward(&self, cx: &Ctx<'_>, params: &[f32], inp: Tensor<'_>, out: TensorMut<'_>, work: &mut [f32]) {
        let g = self.window(inp.shape);
        let (o, ckk, ohw) = (self.out, g.rows(), g.cols());
        let (weight, bias) = params.split_at(o * ckk);
        let chw = g.c * g.h * g.w;
        if self.is_direct() {
            conv_direct::forward(cx.gemm.kernels(), &g, o, weight, inp.data, out.data, inp.n, work);
            bias_act_channels(out.data, &bias[..o], inp.n, ohw, self.act);
            return;
        }
        if self.pointwise() {
            for (x, y) in inp.data.chunks_exact(chw).zip(out.data.chunks_exact_mut(o * ohw)) {
                products(cx, y, weight, x, o, ckk, ohw);
            }
        } else {
            let (pl, kern) = (Planes::new(g), cx.gemm.kernels());
            let (ph, rest) = work.split_at_mut(pl.phases_len());
            let (cols, rest) = rest.split_at_mut(pl.cols_len());
            let yw = &mut rest[..o * pl.len];
            for (x, y) in inp.data.chunks_exact(chw).zip(out.data.chunks_exact_mut(o * ohw)) {
                pl.phases(ph, x, kern);
                pl.cols(cols, ph);
                products(cx, yw, weight, cols, o, ckk, pl.len);
                pl.crop(y, yw, o, kern);
            }
        }
        bias_act_channels(out.data, &bias[..o], inp.n, ohw, self.act);
    }
    /// From `pre = W·cols + b` per image, with g = dout ⊙ act'(pre) (written over `dout`):
    /// - dW[O × C·k·k] += Σ_images g · colsᵀ, computed as its transpose dWᵀ = Σ cols · gᵀ in
    ///   the scratch (so that the columns, the large operand, are read in place by the GEMM
    ///   instead of packed), added into dW once;  db\[o] += Σ g[o, ·]
    /// - dcols = Wᵀ · g, dinp = col2im(dcols)   (the adjoint of im2col); for a stride of 2 or
    ///   more, dinp = the transposed convolution of g with W (same [O, C, k, k] layout, its
    ///   input O×OH×OW, its output C×H×W) by output phase (`super::conv_transpose_phases`)
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
        if self.is_direct() {
            let dw = dparams.as_mut().map(|(dw, _)| &mut dw[..]);
            conv_direct::backward(cx.gemm.kernels(), &g, o, weight, inp.data, &*dout, n, dw, dinp, work);
            if let Some((_, db)) = dparams {
                channel_sums_add(&mut db[..o], dout, n, ohw);
            }
            return;
        }
        let (pw, pl, kern) = (self.pointwise(), Planes::new(g), cx.gemm.kernels());
        let len = if pw { ohw } else { pl.len };
        let (ph, rest) = work.split_at_mut(if pw { 0 } else { pl.phases_len() });
        let (cols, rest) = rest.split_at_mut(if pw { 0 } else { pl.cols_len() });
        let (gw, rest) = rest.split_at_mut(if pw { 0 } else { o * len });
        let (dwt, dx_work) = rest.split_at_mut(ckk * o);
        dwt.fill(0.0);
        // A strided convolution's input gradient is a transposed convolution of the output
        // gradient with the same weight: by output phase, no column matrix nor col2im.
        let dx_phases = (!pw && g.stride >= 2).then(|| Phases::new(&g, o));
        if let (Some(ph), Some(_)) = (&dx_phases, &dinp) {
            ph.clear(dx_work);
        }
        // The output gradient in rows of Wq, zero at the junk positions (written once).
        gw.fill(0.0);
        for (b, gb) in dout.chunks_exact(o * ohw).enumerate() {
            let x = &inp.data[b * chw..(b + 1) * chw];
            let gd = gb;
            let gb: &[f32] = if pw {
                gb
            } else {
                pl.spread(gw, gb, o, kern);
                gw
            };
            if dparams.is_some() {
                let cols: &[f32] = if pw {
                    x
                } else {
                    pl.phases(ph, x, kern);
                    pl.cols(cols, ph);
                    cols
                };
                if o < SMALL_OUT {
                    small_out_dweight_t(dwt, gb, cols, o, ckk, len);
                } else {
                    let gt = Matrix::new(gb, o, len).t();
                    gemm(cx.gemm, 1.0, Matrix::new(cols, ckk, len), gt, 1.0, &mut MatrixMut::new(dwt, ckk, o));
                }
            }
            if let Some(dx) = dinp.as_deref_mut() {
                let dx = &mut dx[b * chw..(b + 1) * chw];
                let wt = Matrix::new(weight, o, ckk).t();
                if pw {
                    gemm(cx.gemm, 1.0, wt, Matrix::new(gb, o, ohw), 0.0, &mut MatrixMut::new(dx, ckk, ohw));
                } else if let Some(ph) = &dx_phases {
                    ph.forward(cx.gemm, weight, gd, dx, dx_work);
                } else {
                    gemm(cx.gemm, 1.0, wt, Matrix::new(gb, o, len), 0.0, &mut MatrixMut::new(cols, ckk, len));
                    ph.fill(0.0);
                    pl.add_cols(ph, cols);
                    dx.fill(0.0);
                    pl.add_phases(dx, ph, kern);
                }
            }
        }
        if let Some((dw, db)) = dparams {
            for (q, row) in dw[..o * ckk].chunks_exact_mut(ckk).enumerate() {
                for (r, v) in row.iter_mut().enumerate() {
                    *v += dwt[r * o + q];
                }
            }
            channel_sums_add(&mut db[..o], dout, n, ohw);
        }
    }
}

/// Below this many output channels a convolution's products run as plain loops: a GEMM tile
/// is at least 4 rows (forward) or 16 columns (dWᵀ) wide, so one output channel (an image
/// autoencoder's last layer) would use a quarter or a sixteenth of it.
const SMALL_OUT: usize = 4;

/// y[O × P] = W[O × R] · cols[R × P]: the GEMM, or for few O the loops below.
fn products(cx: &Ctx<'_>, y: &mut [f32], w: &[f32], cols: &[f32], o: usize, r: usize, p: usize) {
    if o < SMALL_OUT {
        small_out_forward(y, w, cols, o, r, p);
    } else {
        gemm(cx.gemm, 1.0, Matrix::new(w, o, r), Matrix::new(cols, r, p), 0.0, &mut MatrixMut::new(y, o, p));
    }
}

/// y[O × P] = W[O × R] · cols[R × P] for few O: per output channel, a sum of scaled rows.
fn small_out_forward(y: &mut [f32], w: &[f32], cols: &[f32], o: usize, r: usize, p: usize) {
    for (q, yq) in y[..o * p].chunks_exact_mut(p).enumerate() {
        yq.fill(0.0);
        for (t, row) in cols[..r * p].chunks_exact(p).enumerate() {
            let wv = w[q * r + t];
            for (a, &c) in yq.iter_mut().zip(row) {
                *a += wv * c;
            }
        }
    }
}

/// dwt[R × O] += cols[R × P] · g[O × P]ᵀ for few O: dot products, 16 partial sums each (in a
/// fixed order, so the result does not depend on the machine).
fn small_out_dweight_t(dwt: &mut [f32], g: &[f32], cols: &[f32], o: usize, r: usize, p: usize) {
    for (t, row) in cols[..r * p].chunks_exact(p).enumerate() {
        for q in 0..o {
            dwt[t * o + q] += dot(row, &g[q * p..(q + 1) * p]);
        }
    }
}

use super::im2col::dot16 as dot;
