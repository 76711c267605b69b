//! Dense (fully connected) layer with a fused activation, in PyTorch `nn.Linear` layout:
//! `weight` is [O×I] row-major, `bias` is [O].

use super::activation::{sigmoid_inplace, Activation};
use crate::gemm::{gemm, gemm_bias_leaky};
use crate::tensor::{Matrix, MatrixMut};

/// out[N×O] = act(inp[N×I] · weightᵀ + bias), act = LeakyReLU (u if u > 0 else slope·u),
/// identity, or σ(u).
///
/// The bias add and LeakyReLU run as one fused kernel pass over `out` after the GEMM (slope 1
/// for linear and sigmoid layers; the sigmoid then runs as a second pass).
#[allow(clippy::too_many_arguments)]
pub fn dense_forward(
    out: &mut [f32],
    inp: &[f32],
    weight: &[f32],
    bias: &[f32],
    n: usize,
    i: usize,
    o: usize,
    act: Activation,
) {
    let out = &mut out[..n * o];
    gemm_bias_leaky(
        Matrix::new(inp, n, i),
        Matrix::new(weight, o, i).t(),
        &bias[..o],
        act.fused_slope(),
        &mut MatrixMut::new(out, n, o),
    );
    if act == Activation::Sigmoid {
        sigmoid_inplace(out);
    }
}

/// Backward of [`dense_forward`].
///
/// On entry `dout[N×O]` holds dL/d(out); it is overwritten with dL/d(pre-activation)
/// `g = dout ⊙ act'(pre)`, computed from the cached `out`: LeakyReLU reads its sign (the same
/// sign as the pre-activation because slope > 0), σ' = out·(1 − out). Then, from
/// `pre = inp·Wᵀ + b`:
/// - `dweight[O×I] += gᵀ · inp`
/// - `dbias[O]     += Σ_n g[n, :]`
/// - `dinp[N×I]     = g · W`   (overwritten; skipped for the first layer, whose input is data)
#[allow(clippy::too_many_arguments)]
pub fn dense_backward(
    dinp: Option<&mut [f32]>,
    dweight: &mut [f32],
    dbias: &mut [f32],
    dout: &mut [f32],
    out: &[f32],
    inp: &[f32],
    weight: &[f32],
    n: usize,
    i: usize,
    o: usize,
    act: Activation,
) {
    let k = hepae_kernels::kernels();
    let g = &mut dout[..n * o];
    match act {
        Activation::Leaky { slope } => (k.leaky_backward)(g, &out[..n * o], slope),
        Activation::Sigmoid => {
            for (d, &y) in g.iter_mut().zip(&out[..n * o]) {
                *d *= y * (1.0 - y);
            }
        }
        Activation::Linear => {}
    }
    let g = &*g;
    gemm(1.0, Matrix::new(g, n, o).t(), Matrix::new(inp, n, i), 1.0, &mut MatrixMut::new(dweight, o, i));
    (k.col_sums_add)(&mut dbias[..o], g);
    if let Some(dinp) = dinp {
        gemm(1.0, Matrix::new(g, n, o), Matrix::new(weight, o, i), 0.0, &mut MatrixMut::new(dinp, n, i));
    }
}
