//! Dense (fully connected) layer with a fused activation, in PyTorch `nn.Linear` layout:
//! `weight` is [O×I] row-major, `bias` is \[O]. Output shape (N, O); any input shape is read
//! as (N, I) with I its values per row. Workspace: none for training; an inference plan keeps
//! the weight transposed ([I×O], for the batch-1 path).

use super::activation::{sigmoid_inplace, Activation};
use super::init::init_linear;
use super::op::{Ctx, Op, ParamShape};
use crate::engine::gemm::{gemm, gemm_bias_leaky, Gemm};
use crate::engine::tensor::{Matrix, MatrixMut, Shape, Tensor, TensorMut};
use serde::{Deserialize, Serialize};

/// Batches up to this many rows take the small-batch path where the plan holds packed weights
/// (no packing, no allocation, no thread pool: the trigger's batch 1).
pub const SMALL_BATCH: usize = 4;

/// The op: O outputs, then the activation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dense {
    pub out: usize,
    pub act: Activation,
}

impl Op for Dense {
    fn out_shape(&self, _inp: Shape) -> Shape {
        Shape::Features(self.out)
    }
    fn params(&self, inp: Shape) -> Vec<ParamShape> {
        vec![
            ParamShape { name: "weight", shape: vec![self.out, inp.len()] },
            ParamShape { name: "bias", shape: vec![self.out] },
        ]
    }
    fn init(&self, inp: Shape, params: &mut [f32], rng: &mut rand::rngs::StdRng) {
        let (w, b) = params.split_at_mut(self.out * inp.len());
        init_linear(w, b, inp.len(), rng);
    }
    fn packed_len(&self, inp: Shape) -> usize {
        inp.len() * self.out
    }
    fn pack(&self, inp: Shape, params: &[f32], packed: &mut [f32]) {
        let (i, o) = (inp.len(), self.out);
        for q in 0..i {
            for j in 0..o {
                packed[q * o + j] = params[j * i + q];
            }
        }
    }
    fn forward(&self, cx: &Ctx<'_>, params: &[f32], inp: Tensor<'_>, out: TensorMut<'_>, _work: &mut [f32]) {
        let (n, i, o) = (inp.n, inp.shape.len(), self.out);
        let (w, b) = params.split_at(o * i);
        match cx.packed {
            Some(wt) if n <= SMALL_BATCH => {
                let k = cx.gemm.kernels();
                dense_small_forward(k, out.data, inp.data, wt, b, n, i, o, self.act)
            }
            // An inference plan's transposed copy [I×O]: B read in place, not packed per call.
            Some(wt) => {
                dense_forward_with(cx.gemm, out.data, Matrix::new(inp.data, n, i), Matrix::new(wt, i, o), b, self.act)
            }
            None => dense_forward(cx.gemm, out.data, inp.data, w, b, n, i, o, self.act),
        }
    }
    fn backward(
        &self,
        cx: &Ctx<'_>,
        dparams: Option<&mut [f32]>,
        dinp: Option<&mut [f32]>,
        dout: &mut [f32],
        out: Tensor<'_>,
        inp: Tensor<'_>,
        params: &[f32],
        _work: &mut [f32],
    ) {
        let (n, i, o) = (inp.n, inp.shape.len(), self.out);
        let grads = dparams.map(|d| d.split_at_mut(o * i));
        dense_backward(cx.gemm, dinp, grads, dout, out.data, inp.data, &params[..o * i], n, i, o, self.act);
    }
}

/// out[N×O] = act(inp[N×I] · weightᵀ + bias), act = LeakyReLU (u if u > 0 else slope·u),
/// identity, or σ(u).
///
/// The bias add and LeakyReLU run as one fused kernel pass over `out` after the GEMM (slope 1
/// for linear and sigmoid layers; the sigmoid then runs as a second pass).
pub fn dense_forward(
    g: Gemm,
    out: &mut [f32],
    inp: &[f32],
    weight: &[f32],
    bias: &[f32],
    n: usize,
    i: usize,
    o: usize,
    act: Activation,
) {
    dense_forward_with(g, out, Matrix::new(inp, n, i), Matrix::new(weight, o, i).t(), bias, act)
}

/// out[N×O] = act(a · b + bias) for a = the input [N×I] and b = the weight as [I×O]: Wᵀ as a
/// strided view of the [O×I] weight, or an inference plan's transposed copy, whose contiguous
/// rows the GEMM reads in place (same products in the same order either way, so same bits).
fn dense_forward_with(g: Gemm, out: &mut [f32], a: Matrix<'_>, b: Matrix<'_>, bias: &[f32], act: Activation) {
    let (n, o) = (a.rows, b.cols);
    let out = &mut out[..n * o];
    gemm_bias_leaky(g, a, b, &bias[..o], act.fused_slope(), &mut MatrixMut::new(out, n, o));
    if act == Activation::Sigmoid {
        sigmoid_inplace(out);
    }
}

/// [`dense_forward`] for N ≤ [`SMALL_BATCH`] rows from the transposed weight `wt` [I×O], on
/// kernel set `k`: the kernels' register-blocked small product, which neither allocates nor
/// touches rayon.
#[allow(clippy::too_many_arguments)]
pub fn dense_small_forward(
    k: &hepae_kernels::Kernels,
    out: &mut [f32],
    inp: &[f32],
    wt: &[f32],
    bias: &[f32],
    n: usize,
    i: usize,
    o: usize,
    act: Activation,
) {
    let out = &mut out[..n * o];
    (k.dense_small)(out, &inp[..n * i], &wt[..i * o], &bias[..o], n, i, o, act.fused_slope());
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
/// - `dweight[O×I] += gᵀ · inp`, `dbias[O] += Σ_n g[n, :]`   (when `grads` is given)
/// - `dinp[N×I]     = g · W`   (overwritten; when `dinp` is given)
pub fn dense_backward(
    gm: Gemm,
    dinp: Option<&mut [f32]>,
    grads: Option<(&mut [f32], &mut [f32])>,
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
    if let Some((dweight, dbias)) = grads {
        gemm(gm, 1.0, Matrix::new(g, n, o).t(), Matrix::new(inp, n, i), 1.0, &mut MatrixMut::new(dweight, o, i));
        (k.col_sums_add)(&mut dbias[..o], g);
    }
    if let Some(dinp) = dinp {
        gemm(gm, 1.0, Matrix::new(g, n, o), Matrix::new(weight, o, i), 0.0, &mut MatrixMut::new(dinp, n, i));
    }
}
