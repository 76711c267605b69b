//! Element-wise activations, forward and backward. The dense layer fuses LeakyReLU into its
//! own pass; these standalone versions serve layers that need the activation on its own
//! (and the gradient tests, which check the fused and the plain forms agree).

use serde::{Deserialize, Serialize};

/// The default LeakyReLU negative slope (PyTorch's `nn.LeakyReLU()` default).
pub const LEAKY_SLOPE: f32 = 0.01;

/// What follows a dense layer.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fn", rename_all = "lowercase")]
pub enum Activation {
    Linear,
    Leaky { slope: f32 },
    Sigmoid,
}

impl Activation {
    /// The slope the fused bias+LeakyReLU kernel applies: 1.0 (identity) unless LeakyReLU.
    pub fn fused_slope(self) -> f32 {
        match self {
            Activation::Leaky { slope } => slope,
            Activation::Linear | Activation::Sigmoid => 1.0,
        }
    }
}

/// In place: y = σ(y) (after the fused kernel has added the bias).
pub fn sigmoid_inplace(y: &mut [f32]) {
    for v in y.iter_mut() {
        let x = *v;
        *v = if x >= 0.0 {
            1.0 / (1.0 + (-x).exp())
        } else {
            let e = x.exp();
            e / (1.0 + e)
        };
    }
}

/// out\[i] = inp\[i] if inp\[i] > 0 else slope·inp\[i].
pub fn leaky_relu_forward(out: &mut [f32], inp: &[f32], slope: f32) {
    for (y, &x) in out.iter_mut().zip(inp) {
        *y = if x > 0.0 { x } else { slope * x };
    }
}

/// dinp\[i] = dout\[i] · (1 if out\[i] > 0 else slope), reading the sign of the forward's output
/// (`out = leaky(inp)` has the sign of `inp` since slope > 0).
pub fn leaky_relu_backward(dinp: &mut [f32], dout: &[f32], out: &[f32], slope: f32) {
    for ((dx, &dy), &y) in dinp.iter_mut().zip(dout).zip(out) {
        *dx = if y > 0.0 { dy } else { slope * dy };
    }
}

/// out\[i] = σ(inp\[i]) = 1 / (1 + e^(−inp\[i])), written to stay finite for large |inp|.
pub fn sigmoid_forward(out: &mut [f32], inp: &[f32]) {
    for (y, &x) in out.iter_mut().zip(inp) {
        *y = if x >= 0.0 {
            1.0 / (1.0 + (-x).exp())
        } else {
            let e = x.exp();
            e / (1.0 + e)
        };
    }
}

/// dinp\[i] = dout\[i] · σ(x)(1 − σ(x)), from the cached output `out = σ(x)`.
pub fn sigmoid_backward(dinp: &mut [f32], dout: &[f32], out: &[f32]) {
    for ((dx, &dy), &y) in dinp.iter_mut().zip(dout).zip(out) {
        *dx = dy * y * (1.0 - y);
    }
}
