//! 2-D max and average pooling (PyTorch `nn.MaxPool2d` / `nn.AvgPool2d` with no padding,
//! floor mode): input (N, C, H, W), output (N, C, OH, OW), OH = ⌊(H − k)/s⌋ + 1. No
//! parameters, no workspace.
//!
//! - max: out[c, y, x] = max_{i,j<k} in[c, y·s + i, x·s + j]; the gradient goes to the first
//!   maximum in row-major window order (PyTorch's choice), found again in the backward by
//!   comparing the window with the cached output.
//! - avg: out[c, y, x] = (1/k²)·Σ_{i,j<k} in[c, y·s + i, x·s + j]; each input of the window
//!   gets dout/k².

use super::conv2d::{check_window, image_dims};
use super::op::{Ctx, Op, ParamShape};
use crate::engine::tensor::{Shape, Tensor, TensorMut};
use serde::{Deserialize, Serialize};

/// Which reduction a window takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolMode {
    Max,
    Avg,
}

/// The op: a `kernel`×`kernel` window moved by `stride`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool2d {
    pub mode: PoolMode,
    pub kernel: usize,
    pub stride: usize,
}

impl Pool2d {
    fn out_hw(&self, inp: Shape) -> (usize, usize, usize, usize, usize) {
        let (c, h, w) = image_dims(inp);
        let out = |n: usize| if n >= self.kernel && self.stride > 0 { (n - self.kernel) / self.stride + 1 } else { 0 };
        (c, h, w, out(h), out(w))
    }
}

impl Op for Pool2d {
    fn out_shape(&self, inp: Shape) -> Shape {
        let (c, _, _, oh, ow) = self.out_hw(inp);
        Shape::Image { c, h: oh, w: ow }
    }
    fn check(&self, inp: Shape) -> Result<(), String> {
        check_window(inp, self.kernel, self.stride, 0)
    }
    fn params(&self, _inp: Shape) -> Vec<ParamShape> {
        Vec::new()
    }
    fn init(&self, _inp: Shape, _params: &mut [f32], _rng: &mut rand::rngs::StdRng) {}
    fn forward(&self, _cx: &Ctx<'_>, _params: &[f32], inp: Tensor<'_>, out: TensorMut<'_>, _work: &mut [f32]) {
        let (c, h, w, oh, ow) = self.out_hw(inp.shape);
        let (k, s) = (self.kernel, self.stride);
        let planes = inp.data.chunks_exact(h * w).zip(out.data.chunks_exact_mut(oh * ow)).take(inp.n * c);
        for (x, y) in planes {
            for oy in 0..oh {
                for ox in 0..ow {
                    let win = (0..k).flat_map(|i| (0..k).map(move |j| (oy * s + i) * w + ox * s + j));
                    y[oy * ow + ox] = match self.mode {
                        PoolMode::Max => {
                            win.fold(f32::NEG_INFINITY, |m, q| if x[q] > m || x[q].is_nan() { x[q] } else { m })
                        }
                        PoolMode::Avg => win.map(|q| x[q]).sum::<f32>() / (k * k) as f32,
                    };
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
        out: Tensor<'_>,
        inp: Tensor<'_>,
        _params: &[f32],
        _work: &mut [f32],
    ) {
        let Some(dinp) = dinp else { return };
        let (c, h, w, oh, ow) = self.out_hw(inp.shape);
        let (k, s) = (self.kernel, self.stride);
        let planes = inp.n * c;
        dinp[..planes * h * w].fill(0.0);
        for p in 0..planes {
            let x = &inp.data[p * h * w..(p + 1) * h * w];
            let dx = &mut dinp[p * h * w..(p + 1) * h * w];
            let (y, dy) = (&out.data[p * oh * ow..(p + 1) * oh * ow], &dout[p * oh * ow..(p + 1) * oh * ow]);
            for oy in 0..oh {
                for ox in 0..ow {
                    let g = dy[oy * ow + ox];
                    let mut win = (0..k).flat_map(|i| (0..k).map(move |j| (oy * s + i) * w + ox * s + j));
                    match self.mode {
                        PoolMode::Max => {
                            let m = y[oy * ow + ox];
                            let at = win.find(|&q| x[q] == m || (m.is_nan() && x[q].is_nan()));
                            if let Some(q) = at {
                                dx[q] += g;
                            }
                        }
                        PoolMode::Avg => {
                            let v = g / (k * k) as f32;
                            win.for_each(|q| dx[q] += v);
                        }
                    }
                }
            }
        }
    }
}
