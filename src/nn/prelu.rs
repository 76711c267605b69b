//! PReLU, PyTorch's `nn.PReLU`: a LeakyReLU whose negative slope is learned. One slope for the
//! whole layer (`nn.PReLU()`, the default) or one per channel (`nn.PReLU(C)`: per image
//! channel of an (N, C, H, W) row, per feature of an (N, F) row). Shape unchanged; the slopes
//! start at 0.25 (PyTorch's init) and are trained by Adam like any weight; no workspace.
//!
//! With a = the slope of x's channel (`a[0]` when shared):
//! - forward:  y = x if x > 0, else a·x
//! - backward: dx = dy if x > 0, else a·dy;
//!   da_c += Σ over the elements of channel c (every row of the batch) with x ≤ 0 of x·dy
//!
//! The backward reads the sign of the *input* (a learned slope can turn negative, so the
//! output's sign is not the input's, unlike LeakyReLU's). da is summed in f64 over the batch
//! and added once per channel, so a large batch of images loses no precision in the sum.
//!
//! **Fused after a linear layer.** A shared PReLU of slope a > 0 ([`FUSED_SLOPES`]: neither
//! tiny nor huge) after a dense layer or a convolution with no activation of its own runs
//! inside that layer ([`crate::net::Net`]):
//! the layer's epilogue applies y = u > 0 ? u : a·u to its output u (LeakyReLU of slope a:
//! the same values, bit for bit), and the PReLU's backward reads y instead of x. As a > 0,
//! y ≤ 0 exactly where x ≤ 0, and x = y/a there, so ([`fused_backward`], in one pass):
//! - dx = y > 0 ? dy : a·dy (written over dy, the same bits as from x);
//! - da += (Σ over y ≤ 0 of y·dy) / a (in f64; within an f32 rounding of each term of the
//!   unfused sum).

use super::op::{Ctx, Op, ParamShape};
use crate::engine::tensor::{Shape, Tensor, TensorMut};
use serde::{Deserialize, Serialize};

/// PyTorch's initial slope (`nn.PReLU(init=0.25)`).
pub const PRELU_INIT: f32 = 0.25;

/// The op: y = x > 0 ? x : a·x, with one learned `a` (or one per channel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Prelu {
    /// One slope per channel (C of an image row, F of a feature row) instead of one in all.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_channel: bool,
}

/// (channels, values per channel) of a row: (C, H·W) of an image, (F, 1) of features.
fn channels(s: Shape) -> (usize, usize) {
    match s {
        Shape::Features(f) => (f, 1),
        Shape::Image { c, h, w } => (c, h * w),
    }
}

impl Prelu {
    /// Slopes the op holds on input `inp`.
    pub fn slopes(&self, inp: Shape) -> usize {
        if self.per_channel {
            channels(inp).0
        } else {
            1
        }
    }
}

/// The slopes a shared PReLU runs fused at: 2⁻⁶⁴ ≤ a ≤ 2⁶⁴. Outside them a·x can underflow
/// (the fused slope gradient, Σ y·dy / a, would lose what x·dy keeps) or overflow.
pub const FUSED_SLOPES: std::ops::RangeInclusive<f32> = f32::from_bits(0x1f80_0000)..=f32::from_bits(0x5f80_0000);

/// The slope a shared PReLU with `params` runs fused with (see the module doc): its one
/// slope when that is within [`FUSED_SLOPES`]; None (the op runs on its own) otherwise or per
/// channel.
pub fn fused_slope(op: &Prelu, params: &[f32]) -> Option<f32> {
    let a = *params.first()?;
    (!op.per_channel && FUSED_SLOPES.contains(&a)).then_some(a)
}

/// The backward of a fused PReLU of slope `a` > 0 (module doc): from its output `y` and the
/// gradient `dy` of it (N rows of any shape), dy ← the input's gradient in place, and
/// `da[0]` += the slope's gradient if given.
pub fn fused_backward(kern: &hepae_kernels::Kernels, da: Option<&mut [f32]>, dy: &mut [f32], y: &[f32], a: f32) {
    let sum = (kern.prelu_backward)(dy, y, a);
    if let Some(da) = da {
        da[0] += (sum / a as f64) as f32;
    }
}

/// y = x > 0 ? x : a·x over one channel's values.
#[inline]
fn prelu_forward(y: &mut [f32], x: &[f32], a: f32) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = if x > 0.0 { x } else { a * x };
    }
}

/// dx = x > 0 ? dy : a·dy over one channel's values.
#[inline]
fn prelu_backward_input(dx: &mut [f32], dy: &[f32], x: &[f32], a: f32) {
    for ((dx, &dy), &x) in dx.iter_mut().zip(dy).zip(x) {
        *dx = if x > 0.0 { dy } else { a * dy };
    }
}

impl Op for Prelu {
    fn out_shape(&self, inp: Shape) -> Shape {
        inp
    }
    fn params(&self, inp: Shape) -> Vec<ParamShape> {
        vec![ParamShape { name: "weight", shape: vec![self.slopes(inp)] }]
    }
    /// Every slope 0.25, as PyTorch (nothing is drawn from `rng`, so the other ops' weights are
    /// those of the same net with LeakyReLU).
    fn init(&self, _inp: Shape, params: &mut [f32], _rng: &mut rand::rngs::StdRng) {
        params.fill(PRELU_INIT);
    }
    fn forward(&self, _cx: &Ctx<'_>, params: &[f32], inp: Tensor<'_>, out: TensorMut<'_>, _work: &mut [f32]) {
        let (c, hw) = channels(inp.shape);
        if hw == 0 || c == 0 {
            return;
        }
        for (row_y, row_x) in out.data.chunks_exact_mut(c * hw).zip(inp.data.chunks_exact(c * hw)) {
            for (ch, (y, x)) in row_y.chunks_exact_mut(hw).zip(row_x.chunks_exact(hw)).enumerate() {
                prelu_forward(y, x, params[if self.per_channel { ch } else { 0 }]);
            }
        }
    }
    fn backward(
        &self,
        cx: &Ctx<'_>,
        dparams: Option<&mut [f32]>,
        dinp: Option<&mut [f32]>,
        dout: &mut [f32],
        _out: Tensor<'_>,
        inp: Tensor<'_>,
        params: &[f32],
        _work: &mut [f32],
    ) {
        let (c, hw) = channels(inp.shape);
        let len = inp.data.len();
        if hw == 0 || c == 0 {
            return;
        }
        let (x, dy) = (inp.data, &dout[..len]);
        if let Some(da) = dparams {
            let kern = cx.gemm.kernels();
            // Per channel: its values of every row, one f64 sum per channel added once.
            // Shared: each row's values at once (a feature row's channels are single values).
            let sum = |ch: usize| -> f64 {
                let r = ch * hw..(ch + 1) * hw;
                let rows = dy.chunks_exact(c * hw).zip(x.chunks_exact(c * hw));
                rows.map(|(row_dy, row_x)| (kern.prelu_slope_grad)(&row_dy[r.clone()], &row_x[r.clone()])).sum()
            };
            if self.per_channel {
                for (ch, a) in da[..c].iter_mut().enumerate() {
                    *a += sum(ch) as f32;
                }
            } else {
                let rows = dy.chunks_exact(c * hw).zip(x.chunks_exact(c * hw));
                da[0] += rows.map(|(row_dy, row_x)| (kern.prelu_slope_grad)(row_dy, row_x)).sum::<f64>() as f32;
            }
        }
        if let Some(dx) = dinp {
            for ((row_dx, row_dy), row_x) in
                dx[..len].chunks_exact_mut(c * hw).zip(dy.chunks_exact(c * hw)).zip(x.chunks_exact(c * hw))
            {
                for (ch, ((dx, dy), x)) in
                    row_dx.chunks_exact_mut(hw).zip(row_dy.chunks_exact(hw)).zip(row_x.chunks_exact(hw)).enumerate()
                {
                    prelu_backward_input(dx, dy, x, params[if self.per_channel { ch } else { 0 }]);
                }
            }
        }
    }
}
