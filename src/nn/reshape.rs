//! Reshape (flatten or unflatten): the same values per row read as another shape, (N, F) ↔
//! (N, C, H, W) with F = C·H·W. Forward copies the rows, backward copies the gradient back.
//! No parameters, no workspace.

use super::op::{Ctx, Op, ParamShape};
use crate::engine::tensor::{Shape, Tensor, TensorMut};
use serde::{Deserialize, Serialize};

/// The op: rows become `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reshape {
    pub to: Shape,
}

impl Op for Reshape {
    fn out_shape(&self, _inp: Shape) -> Shape {
        self.to
    }
    fn check(&self, inp: Shape) -> Result<(), String> {
        if inp.len() != self.to.len() {
            return Err(format!(
                "cannot read {} values per row as {:?} ({} values)",
                inp.len(),
                self.to,
                self.to.len()
            ));
        }
        Ok(())
    }
    fn params(&self, _inp: Shape) -> Vec<ParamShape> {
        Vec::new()
    }
    fn init(&self, _inp: Shape, _params: &mut [f32], _rng: &mut rand::rngs::StdRng) {}
    fn forward(&self, _cx: &Ctx<'_>, _params: &[f32], inp: Tensor<'_>, out: TensorMut<'_>, _work: &mut [f32]) {
        out.data.copy_from_slice(inp.data);
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
        if let Some(dx) = dinp {
            let len = inp.data.len();
            dx[..len].copy_from_slice(&dout[..len]);
        }
    }
}
