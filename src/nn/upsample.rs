//! Upsampling by an integer factor s (PyTorch `nn.Upsample(scale_factor = s)`): input
//! (N, C, H, W), output (N, C, s·H, s·W). No parameters, no workspace.
//!
//! - nearest: out[c, Y, X] = in[c, ⌊Y/s⌋, ⌊X/s⌋]; backward sums each s×s block of dout.
//! - bilinear (align_corners = false, PyTorch's default): the source coordinate of output Y
//!   is u = max(0, (Y + ½)/s − ½), y₀ = ⌊u⌋, y₁ = min(y₀ + 1, H − 1), λ = u − y₀, and
//!   out = Σ over the four corners of (1−λ or λ)·(1−μ or μ)·in; backward scatters dout with
//!   the same weights.

use super::conv2d::image_dims;
use super::op::{Ctx, Op, ParamShape};
use crate::engine::tensor::{Shape, Tensor, TensorMut};
use serde::{Deserialize, Serialize};

/// How an output pixel takes its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpsampleMode {
    Nearest,
    Bilinear,
}

/// The op: factor `scale` in both directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upsample {
    pub mode: UpsampleMode,
    pub scale: usize,
}

/// Source rows (or columns) of output position `o`: (i₀, i₁, weight of i₁), bilinear,
/// align_corners = false, for an input of `n` and factor `s`.
fn source(o: usize, n: usize, s: usize) -> (usize, usize, f32) {
    let u = (((o as f32) + 0.5) / s as f32 - 0.5).max(0.0);
    let i0 = (u as usize).min(n - 1);
    let i1 = if i0 < n - 1 { i0 + 1 } else { i0 };
    (i0, i1, u - i0 as f32)
}

impl Op for Upsample {
    fn out_shape(&self, inp: Shape) -> Shape {
        let (c, h, w) = image_dims(inp);
        Shape::Image { c, h: h * self.scale, w: w * self.scale }
    }
    fn check(&self, inp: Shape) -> Result<(), String> {
        if !matches!(inp, Shape::Image { .. }) {
            return Err(format!("needs an image input (C×H×W), got {} features per row", inp.len()));
        }
        if self.scale == 0 {
            return Err("the scale factor must be at least 1".into());
        }
        Ok(())
    }
    fn params(&self, _inp: Shape) -> Vec<ParamShape> {
        Vec::new()
    }
    fn init(&self, _inp: Shape, _params: &mut [f32], _rng: &mut rand::rngs::StdRng) {}
    fn forward(&self, _cx: &Ctx<'_>, _params: &[f32], inp: Tensor<'_>, out: TensorMut<'_>, _work: &mut [f32]) {
        let (c, h, w) = image_dims(inp.shape);
        let s = self.scale;
        let (oh, ow) = (h * s, w * s);
        for (x, y) in inp.data.chunks_exact(h * w).zip(out.data.chunks_exact_mut(oh * ow)).take(inp.n * c) {
            for oy in 0..oh {
                let row = &mut y[oy * ow..(oy + 1) * ow];
                match self.mode {
                    UpsampleMode::Nearest => {
                        let src = &x[(oy / s) * w..(oy / s + 1) * w];
                        for (ox, v) in row.iter_mut().enumerate() {
                            *v = src[ox / s];
                        }
                    }
                    UpsampleMode::Bilinear => {
                        let (y0, y1, ly) = source(oy, h, s);
                        for (ox, v) in row.iter_mut().enumerate() {
                            let (x0, x1, lx) = source(ox, w, s);
                            let top = (1.0 - lx) * x[y0 * w + x0] + lx * x[y0 * w + x1];
                            let bot = (1.0 - lx) * x[y1 * w + x0] + lx * x[y1 * w + x1];
                            *v = (1.0 - ly) * top + ly * bot;
                        }
                    }
                }
            }
        }
    }
    fn backward(
        &self,
        _cx: &Ctx<'_>,
        _dparams: Option<&mut [f32]>,
        dinp: Option<&mut [f32]>,
        dout: &mut [f32],
        _out: Tensor<'_>,
        inp: Tensor<'_>,
        _params: &[f32],
        _work: &mut [f32],
    ) {
        let Some(dinp) = dinp else { return };
        let (c, h, w) = image_dims(inp.shape);
        let s = self.scale;
        let (oh, ow) = (h * s, w * s);
        let planes = inp.n * c;
        dinp[..planes * h * w].fill(0.0);
        for (dx, dy) in dinp.chunks_exact_mut(h * w).zip(dout.chunks_exact(oh * ow)).take(planes) {
            for oy in 0..oh {
                let row = &dy[oy * ow..(oy + 1) * ow];
                match self.mode {
                    UpsampleMode::Nearest => {
                        let dst = &mut dx[(oy / s) * w..(oy / s + 1) * w];
                        for (ox, g) in row.iter().enumerate() {
                            dst[ox / s] += g;
                        }
                    }
                    UpsampleMode::Bilinear => {
                        let (y0, y1, ly) = source(oy, h, s);
                        for (ox, &g) in row.iter().enumerate() {
                            let (x0, x1, lx) = source(ox, w, s);
                            dx[y0 * w + x0] += (1.0 - ly) * (1.0 - lx) * g;
                            dx[y0 * w + x1] += (1.0 - ly) * lx * g;
                            dx[y1 * w + x0] += ly * (1.0 - lx) * g;
                            dx[y1 * w + x1] += ly * lx * g;
                        }
                    }
                }
            }
        }
    }
}
