//! Transposed 2-D convolution with a fused activation, in PyTorch `nn.ConvTranspose2d` layout
//! (dilation 1, one group): `weight` is [C, O, k, k], `bias` is \[O]. Input (N, C, H, W), output
//! (N, O, OH, OW) with OH = (H − 1)·s − 2p + k + op (OW likewise), op the output padding
//! (< s).
//!
//! Forward, per image: out[o, Y, X] = act(b\[o] + Σ w[c, o, i, j]·in[c, y, x] over every
//! (c, y, x, i, j) with Y = y·s − p + i and X = x·s − p + j inside the output). That is the
//! input gradient of a convolution over the output image, run by output phase
//! (`super::conv_transpose_phases`: each of the s² phases a stride-1 correlation of the
//! input with its taps, one implicit GEMM over the padded input, written into its pixels; no
//! column matrix and no col2im). Workspace: the phases' packed weights, the padded input and
//! one phase; for the backward, a chunk of images' phase planes of the output gradient and
//! inputs in rows of Wq.

use super::activation::{sigmoid_inplace, Activation};
use super::conv2d::chunk_images;
use super::conv2d::image_dims;
use super::conv_transpose_phases::Phases;
use super::im2col::{act_backward, channel_sums_add, Window};
use super::im2col_planes::Planes;
use super::init::init_linear;
use super::op::{Ctx, Op, ParamShape};
use super::plane_products::{check_pairs, dot_rows, gemm_rows, line_len, line_start, DotGeom, Offsets, LINE};
use crate::engine::tensor::{Shape, Tensor, TensorMut};
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
        let (c, _, _) = image_dims(inp);
        check_pairs(c.max(self.out), self.kernel)
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
    /// The larger of the forward's (the phases' packed weights, the padded input, one phase)
    /// and the backward's (a chunk of images' phase planes of the output gradient and inputs
    /// in rows of Wq, one image's input gradient in rows of Wq).
    fn work_len(&self, inp: Shape, batch: usize) -> usize {
        let g = self.window(inp);
        let (c, _, _) = image_dims(inp);
        let ph = Phases::new(&g, c);
        let pl = Planes::new(g);
        let per = pl.phases_len() + c * line_len(pl.len);
        (ph.pack_len() + LINE + ph.work_len()).max(chunk_images(batch, per) * per + LINE + c * pl.len)
    }
    fn forward(&self, cx: &Ctx<'_>, params: &[f32], inp: Tensor<'_>, out: TensorMut<'_>, work: &mut [f32]) {
        let g = self.window(inp.shape);
        let (c, _, _) = image_dims(inp.shape);
        let (okk, hw, ohw) = (g.rows(), g.cols(), g.h * g.w);
        let (weight, bias) = params.split_at(c * okk);
        let ph = Phases::new(&g, c);
        let (packed, rest) = work.split_at_mut(ph.pack_len());
        ph.pack(weight, packed);
        let kern = cx.gemm.kernels();
        let rest = line_start(rest);
        ph.clear(rest, kern);
        let epilogue = (&bias[..self.out], self.act.fused_slope());
        let mut offs = Offsets::empty();
        ph.offsets(&mut offs);
        for (x, y) in inp.data.chunks_exact(c * hw).zip(out.data.chunks_exact_mut(self.out * ohw)) {
            ph.forward(kern, packed, offs.as_slice(), x, y, epilogue, rest);
        }
        if self.act == Activation::Sigmoid {
            sigmoid_inplace(&mut out.data[..inp.n * self.out * ohw]);
        }
    }
    /// With g = dout ⊙ act'(pre) (written over `dout`) and gcols = im2col(g) over the window
    /// (over whole planes, [`super::im2col_planes`]: each row (o, i, j) a range of g's phase
    /// planes, read in place; the input and dinp in rows of Wq):
    /// - dW[C × O·k·k] += Σ_images in · gcolsᵀ, a chunk of images per `rows_gemm_dot` call
    ///   (the input spread into rows of Wq, zero at the junk positions);  db\[o] += Σ g[o, ·]
    /// - dinp[C × H·W] = W · gcols (`rows_gemm`), cropped from rows of Wq
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
        let mut dparams = dparams.map(|d| d.split_at_mut(c * okk));
        let (pl, kern) = (Planes::new(g), cx.gemm.kernels());
        let mut offs = Offsets::empty();
        pl.offsets(&mut offs);
        let offs = offs.as_slice();
        let (len, plen, gsz) = (pl.len, pl.phases_len(), self.out * ohw);
        // The inputs' rows whole 64-byte lines apart, from a line (`line_len`).
        let (lda, xlen) = (line_len(len), c * line_len(len));
        let chunk = chunk_images(n, plen + xlen);
        let (phs, rest) = work.split_at_mut(chunk * plen);
        pl.clear(phs, kern);
        let (xws, rest) = line_start(rest).split_at_mut(chunk * xlen);
        let dxw = &mut rest[..c * len];
        // The inputs in rows of Wq, zero at the junk positions (written once).
        (kern.zero)(xws);
        for b0 in (0..n).step_by(chunk) {
            let imgs = chunk.min(n - b0);
            for t in 0..imgs {
                let b = b0 + t;
                pl.phases(&mut phs[t * plen..][..plen], &dout[b * gsz..(b + 1) * gsz], kern);
            }
            if let Some((dw, _)) = dparams.as_mut() {
                for t in 0..imgs {
                    let b = b0 + t;
                    pl.spread(&mut xws[t * xlen..][..xlen], lda, &inp.data[b * c * hw..(b + 1) * c * hw], c, kern);
                }
                let d = DotGeom { m: c, len, lda, images: imgs, a_is: xlen, b_is: plen };
                dot_rows(kern, &mut dw[..c * okk], okk, xws, phs, offs, d);
            }
            if let Some(dx) = dinp.as_deref_mut() {
                for t in 0..imgs {
                    let b = b0 + t;
                    gemm_rows(kern, dxw, len, weight, okk, &phs[t * plen..][..plen], offs, (c, len), false);
                    pl.crop(&mut dx[b * c * hw..(b + 1) * c * hw], dxw, c, kern);
                }
            }
        }
        if let Some((_, db)) = dparams {
            channel_sums_add(kern, &mut db[..self.out], dout, n, ohw);
        }
    }
}
