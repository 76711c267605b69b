//! Transposed 2-D convolution with a fused activation, in PyTorch `nn.ConvTranspose2d` layout
//! (dilation 1, one group): `weight` is [C, O, k, k], `bias` is \[O]. Input (N, C, H, W), output
//! (N, O, OH, OW) with OH = (H − 1)·s − 2p + k + op (OW likewise), op the output padding
//! (< s).
//!
//! Forward, per image: out[o, Y, X] = act(b\[o] + Σ w[c, o, i, j]·in[c, y, x] over every
//! (c, y, x, i, j) with Y = y·s − p + i and X = x·s − p + j inside the output). That is the
//! input gradient of a convolution over the output image, so it runs as one GEMM and a
//! col2im: cols[O·k·k × H·W] = Wᵀ · in[C × H·W] (W read as [C × O·k·k]), then
//! out = col2im(cols) over the window of that convolution. With a stride of 2 or more the
//! forward instead runs by output phase (`super::conv_transpose_phases`: each of the s²
//! phases a stride-1 correlation of the input with its taps, written into its pixels, no
//! column matrix and no scatter). Workspace: one image's columns (O·k·k·H·W values) and dWᵀ,
//! or the phase path's padded input and one phase.

use super::activation::Activation;
use super::conv2d::image_dims;
use super::conv_transpose_phases::Phases;
use super::im2col::{act_backward, bias_act_channels, channel_sums_add, col2im, Window};
use super::im2col_planes::Planes;
use super::init::init_linear;
use super::op::{Ctx, Op, ParamShape};
use crate::engine::gemm::gemm;
use crate::engine::tensor::{Matrix, MatrixMut, Shape, Tensor, TensorMut};
use serde::{Deserialize, Serialize};

/// The op: `out` channels, a `kernel`×`kernel` window, `stride`, `pad` cropped on each side,
/// `out_pad` extra rows and columns at the bottom and right, then the activation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConvTranspose2d {
    pub out: usize,
    pub kernel: usize,
    pub stride: usize,
    pub pad: usize,
    #[serde(default)]
    pub out_pad: usize,
    pub act: Activation,
}

impl ConvTranspose2d {
    /// Output height (or width) for an input of `n`: (n − 1)·s − 2p + k + op (0 where negative).
    pub fn out_len(&self, n: usize) -> usize {
        ((n.max(1) - 1) * self.stride + self.kernel + self.out_pad).saturating_sub(2 * self.pad)
    }
    /// The window of the convolution whose input gradient this op is: over the output image,
    /// with the op's input positions as its window positions.
    pub fn window(&self, inp: Shape) -> Window {
        let (_, h, w) = image_dims(inp);
        let (oh, ow) = (self.out_len(h), self.out_len(w));
        Window { c: self.out, h: oh, w: ow, k: self.kernel, stride: self.stride, pad: self.pad, oh: h, ow: w }
    }
    /// Whether the forward runs by output phase ([`super::conv_transpose_phases`]): for
    /// strides of 2 and more, where the column matrix's col2im is a strided scatter.
    fn phased(&self) -> bool {
        self.stride >= 2
    }
}

impl Op for ConvTranspose2d {
    fn out_shape(&self, inp: Shape) -> Shape {
        let (_, h, w) = image_dims(inp);
        Shape::Image { c: self.out, h: self.out_len(h), w: self.out_len(w) }
    }
    fn check(&self, inp: Shape) -> Result<(), String> {
        let Shape::Image { h, w, .. } = inp else {
            return Err(format!("needs an image input (C×H×W), got {} features per row", inp.len()));
        };
        if self.kernel == 0 || self.stride == 0 || self.out == 0 {
            return Err("kernel, stride and output channels must all be at least 1".into());
        }
        if self.out_pad >= self.stride {
            return Err(format!("output padding {} must be smaller than the stride {}", self.out_pad, self.stride));
        }
        if self.pad >= self.kernel {
            return Err(format!("padding {} must be smaller than the kernel {}", self.pad, self.kernel));
        }
        if self.out_len(h) == 0 || self.out_len(w) == 0 {
            return Err(format!("a {h}×{w} input gives an empty output"));
        }
        Ok(())
    }
    fn params(&self, inp: Shape) -> Vec<ParamShape> {
        let (c, _, _) = image_dims(inp);
        vec![
            ParamShape { name: "weight", shape: vec![c, self.out, self.kernel, self.kernel] },
            ParamShape { name: "bias", shape: vec![self.out] },
        ]
    }
    /// PyTorch's default: U(−1/√fan_in, 1/√fan_in) for weight and bias, with fan_in = O·k·k
    /// (PyTorch reads it from dimension 1 of the [C, O, k, k] weight).
    fn init(&self, inp: Shape, params: &mut [f32], rng: &mut rand::rngs::StdRng) {
        let (c, _, _) = image_dims(inp);
        let fan_in = self.out * self.kernel * self.kernel;
        let (w, b) = params.split_at_mut(c * fan_in);
        init_linear(w, b, fan_in, rng);
    }
    /// One image's columns, then dWᵀ [O·k·k × C] accumulated over the batch.
    fn work_len(&self, inp: Shape, _batch: usize) -> usize {
        let g = self.window(inp);
        let (c, _, _) = image_dims(inp);
        let phased = if self.phased() { Phases::new(&g, c).work_len() } else { 0 };
        let pl = Planes::new(g);
        let backward = pl.phases_len() + pl.cols_len() + 2 * c * pl.len + g.rows() * c;
        (g.rows() * g.cols()).max(phased).max(backward)
    }
    fn forward(&self, cx: &Ctx<'_>, params: &[f32], inp: Tensor<'_>, out: TensorMut<'_>, work: &mut [f32]) {
        let g = self.window(inp.shape);
        let (c, _, _) = image_dims(inp.shape);
        let (okk, hw, ohw) = (g.rows(), g.cols(), g.h * g.w);
        let (weight, bias) = params.split_at(c * okk);
        if self.phased() {
            let ph = Phases::new(&g, c);
            ph.clear(work);
            for (x, y) in inp.data.chunks_exact(c * hw).zip(out.data.chunks_exact_mut(self.out * ohw)) {
                ph.forward(cx.gemm, weight, x, y, work);
            }
            bias_act_channels(out.data, &bias[..self.out], inp.n, ohw, self.act);
            return;
        }
        for (x, y) in inp.data.chunks_exact(c * hw).zip(out.data.chunks_exact_mut(self.out * ohw)) {
            let wt = Matrix::new(weight, c, okk).t();
            gemm(cx.gemm, 1.0, wt, Matrix::new(x, c, hw), 0.0, &mut MatrixMut::new(work, okk, hw));
            y.fill(0.0);
            col2im(y, work, &g, cx.gemm.kernels());
            bias_act_channels(y, &bias[..self.out], 1, ohw, self.act);
        }
    }
    /// With g = dout ⊙ act'(pre) (written over `dout`) and gcols = im2col(g) over the window
    /// (built over whole planes, [`super::im2col_planes`]: the input and dinp in rows of Wq):
    /// - dW[C × O·k·k] += Σ_images in · gcolsᵀ, computed as its transpose dWᵀ = Σ gcols · inᵀ
    ///   in the scratch (the columns read in place, not packed), added into dW once;
    ///   db\[o] += Σ g[o, ·]
    /// - dinp[C × H·W] = W · gcols
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
        let (c, _, _) = image_dims(inp.shape);
        let (n, okk, hw, ohw) = (inp.n, g.rows(), g.cols(), g.h * g.w);
        let weight = &params[..c * okk];
        let dout = &mut dout[..n * self.out * ohw];
        act_backward(dout, out.data, self.act);
        let dparams = dparams.map(|d| d.split_at_mut(c * okk));
        let (pl, kern) = (Planes::new(g), cx.gemm.kernels());
        let len = pl.len;
        let (ph, rest) = work.split_at_mut(pl.phases_len());
        let (gcols, rest) = rest.split_at_mut(pl.cols_len());
        let (xw, rest) = rest.split_at_mut(c * len);
        let (dxw, dwt) = rest.split_at_mut(c * len);
        let dwt = &mut dwt[..okk * c];
        dwt.fill(0.0);
        // The input in rows of Wq, zero at the junk positions (written once).
        xw.fill(0.0);
        for (b, gb) in dout.chunks_exact(self.out * ohw).enumerate() {
            pl.phases(ph, gb, kern);
            pl.cols(gcols, ph);
            let gcols = Matrix::new(gcols, okk, len);
            if dparams.is_some() {
                pl.spread(xw, &inp.data[b * c * hw..(b + 1) * c * hw], c, kern);
                gemm(cx.gemm, 1.0, gcols, Matrix::new(xw, c, len).t(), 1.0, &mut MatrixMut::new(dwt, okk, c));
            }
            if let Some(dx) = dinp.as_deref_mut() {
                gemm(cx.gemm, 1.0, Matrix::new(weight, c, okk), gcols, 0.0, &mut MatrixMut::new(dxw, c, len));
                pl.crop(&mut dx[b * c * hw..(b + 1) * c * hw], dxw, c, kern);
            }
        }
        if let Some((dw, db)) = dparams {
            for (q, row) in dw[..c * okk].chunks_exact_mut(okk).enumerate() {
                for (r, v) in row.iter_mut().enumerate() {
                    *v += dwt[r * c + q];
                }
            }
            channel_sums_add(&mut db[..self.out], dout, n, ohw);
        }
    }
}
