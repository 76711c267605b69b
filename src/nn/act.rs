//! An activation on its own, element by element, for a net that needs one after an op without
//! a fused activation (pooling, upsampling): LeakyReLU, identity or σ, as
//! [`super::activation::Activation`]. Shape unchanged; no parameters, no workspace.

use super::activation::{leaky_relu_backward, leaky_relu_forward, sigmoid_backward, sigmoid_forward, Activation};
use super::op::{Ctx, Op, ParamShape};
use crate::engine::tensor::{Shape, Tensor, TensorMut};
use serde::{Deserialize, Serialize};

/// The op: out = act(inp).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Act {
    pub act: Activation,
}

impl Op for Act {
    fn out_shape(&self, inp: Shape) -> Shape {
        inp
    }
    fn params(&self, _inp: Shape) -> Vec<ParamShape> {
        Vec::new()
    }
    fn init(&self, _inp: Shape, _params: &mut [f32], _rng: &mut rand::rngs::StdRng) {}
    fn forward(&self, _cx: &Ctx<'_>, _params: &[f32], inp: Tensor<'_>, out: TensorMut<'_>, _work: &mut [f32]) {
        match self.act {
            Activation::Leaky { slope } => leaky_relu_forward(out.data, inp.data, slope),
            Activation::Sigmoid => sigmoid_forward(out.data, inp.data),
            Activation::Linear => out.data.copy_from_slice(inp.data),
        }
    }
    /// dinp = dout ⊙ act'(inp), read from the cached output (see [`super::activation`]).
    fn backward(
        &self,
        _cx: &Ctx<'_>,
        _dparams: Option<&mut [f32]>,
        dinp: Option<&mut [f32]>,
        dout: &mut [f32],
        out: Tensor<'_>,
        _inp: Tensor<'_>,
        _params: &[f32],
        _work: &mut [f32],
    ) {
        let Some(dx) = dinp else { return };
        let len = out.data.len();
        let (dx, dy) = (&mut dx[..len], &dout[..len]);
        match self.act {
            Activation::Leaky { slope } => leaky_relu_backward(dx, dy, out.data, slope),
            Activation::Sigmoid => sigmoid_backward(dx, dy, out.data),
            Activation::Linear => dx.copy_from_slice(dy),
        }
    }
}
