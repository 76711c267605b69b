//! A net: a sequence of ops ([`NetSpec`], serialisable) over a slice of a model's flat
//! parameter buffer. [`Net::forward`] is the one forward pass of the engine: training,
//! validation, evaluation, [`crate::Encoder`]/[`crate::Decoder`] and the C ABI all run it; the
//! batch-1 fast path is inside the dense op, taken where the plan holds packed weights.
//! [`Net::backward`] gives parameter gradients, input gradients, or both.
//!
//! A dense layer or convolution with no activation followed by a shared PReLU of positive
//! slope (2⁻⁶⁴ to 2⁶⁴; `--activation prelu`) runs as one op, forward and backward: the layer's epilogue
//! applies the slope ([`crate::nn::prelu`]'s module doc), so the pre-activation is neither
//! written nor read again; that layer's own output buffer in the plan is left as it was.

use crate::engine::gemm::Gemm;
use crate::engine::plan::Plan;
use crate::engine::tensor::{Shape, Tensor, TensorMut};
use crate::models::params::ParamStore;
use crate::nn::activation::Activation;
use crate::nn::op::{Ctx, OpSpec};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// What a net is: its per-row input shape and its ops in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetSpec {
    pub input: Shape,
    pub ops: Vec<OpSpec>,
}

/// One op of a built net, with its shapes and where its parameters live.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub op: OpSpec,
    pub in_shape: Shape,
    pub out_shape: Shape,
    /// Values per row in and out.
    pub inp: usize,
    pub out: usize,
    /// The op's parameters in the model's flat buffer (its tensors one after another).
    pub params: Range<usize>,
}

impl Layer {
    /// The dense op's spec, for a dense layer.
    pub fn dense(&self) -> Option<&crate::nn::dense::Dense> {
        match &self.op {
            OpSpec::Dense(d) => Some(d),
            _ => None,
        }
    }
    /// Offset of a dense layer's weight [O×I] in the parameter buffer.
    pub fn w(&self) -> usize {
        self.params.start
    }
    /// Offset of a dense layer's bias \[O] in the parameter buffer.
    pub fn b(&self) -> usize {
        self.params.start + self.inp * self.out
    }
}

/// A net built from its spec over a [`ParamStore`].
#[derive(Clone, Debug, PartialEq)]
pub struct Net {
    pub spec: NetSpec,
    pub layers: Vec<Layer>,
}

impl NetSpec {
    /// Whether every op accepts the shape the one before it gives (a spec read from a file is
    /// checked before it is built); the error names the op.
    pub fn check(&self) -> Result<(), String> {
        let mut shape = self.input;
        if shape.is_empty() {
            return Err("the net's input has no values".into());
        }
        for (j, op) in self.ops.iter().enumerate() {
            op.op().check(shape).map_err(|e| format!("op {j} ({}): {e}", op.name()))?;
            shape = op.op().out_shape(shape);
            if shape.is_empty() {
                return Err(format!("op {j} ({}) gives an empty output", op.name()));
            }
        }
        Ok(())
    }
}

impl Net {
    /// Adds the ops' parameters to `store` under PyTorch `nn.Sequential` names:
    /// `{prefix}.{2j}.{weight,bias}` for op j (activations take the odd indices of an
    /// activation-interleaved Sequential, so its state-dict keys are the same).
    pub fn new(store: &mut ParamStore, prefix: &str, spec: NetSpec) -> Self {
        let mut shape = spec.input;
        let mut layers = Vec::with_capacity(spec.ops.len());
        for (j, op) in spec.ops.iter().enumerate() {
            let out_shape = op.op().out_shape(shape);
            let start = store.len();
            for p in op.op().params(shape) {
                store.add(format!("{prefix}.{}.{}", 2 * j, p.name), p.shape);
            }
            layers.push(Layer {
                op: op.clone(),
                in_shape: shape,
                out_shape,
                inp: shape.len(),
                out: out_shape.len(),
                params: start..store.len(),
            });
            shape = out_shape;
        }
        Net { spec, layers }
    }

    pub fn in_dim(&self) -> usize {
        self.spec.input.len()
    }
    pub fn out_dim(&self) -> usize {
        self.layers.last().map_or(self.in_dim(), |l| l.out)
    }
    /// Parameters of the whole net.
    pub fn param_count(&self) -> usize {
        self.layers.iter().map(|l| l.params.len()).sum()
    }

    /// PyTorch's default initialisation of every op, in order, from one generator.
    pub fn init(&self, params: &mut [f32], rng: &mut rand::rngs::StdRng) {
        for l in &self.layers {
            l.op.op().init(l.in_shape, &mut params[l.params.clone()], rng);
        }
    }

    /// Scratch values the ops need at `batch` rows (the largest single op's need).
    fn work_len(&self, batch: usize) -> usize {
        self.layers.iter().map(|l| l.op.op().work_len(l.in_shape, batch)).max().unwrap_or(0)
    }

    /// A workspace for batches of up to `batch` rows (`with_grads` for training).
    pub fn plan(&self, batch: usize, with_grads: bool, gemm: Gemm) -> Plan {
        let rows: Vec<usize> = self.layers.iter().map(|l| l.out).collect();
        Plan::new(batch, &rows, with_grads, &vec![0; rows.len()], self.work_len(batch), gemm)
    }

    /// An inference workspace with the ops' packed weights taken from `params` now, so that
    /// batches of a few rows take the ops' small-batch paths. The packed copy is a snapshot:
    /// pack again after the parameters change.
    pub fn plan_packed(&self, batch: usize, params: &[f32], gemm: Gemm) -> Plan {
        let rows: Vec<usize> = self.layers.iter().map(|l| l.out).collect();
        let packed: Vec<usize> = self.layers.iter().map(|l| l.op.op().packed_len(l.in_shape)).collect();
        let mut plan = Plan::new(batch, &rows, false, &packed, self.work_len(batch), gemm);
        self.pack(params, &mut plan);
        plan
    }

    /// Copies the ops' packed weights from `params` into `plan`.
    pub fn pack(&self, params: &[f32], plan: &mut Plan) {
        for (j, l) in self.layers.iter().enumerate() {
            l.op.op().pack(l.in_shape, &params[l.params.clone()], plan.packed_mut(j));
        }
        plan.is_packed = true;
    }

    /// The slope of the PReLU after op j when the two run fused (module doc): op j a dense
    /// layer or convolution with no activation, op j + 1 a shared PReLU whose slope (in
    /// `params`) is within [`crate::nn::prelu::FUSED_SLOPES`].
    fn fused_slope(&self, params: &[f32], j: usize) -> Option<f32> {
        let next = self.layers.get(j + 1)?;
        let OpSpec::Prelu(prelu) = &next.op else { return None };
        let linear = match &self.layers[j].op {
            OpSpec::Dense(d) => d.act == Activation::Linear,
            OpSpec::Conv2d(c) => c.act == Activation::Linear,
            OpSpec::ConvTranspose2d(c) => c.act == Activation::Linear,
            _ => false,
        };
        if !linear {
            return None;
        }
        crate::nn::prelu::fused_slope(prelu, &params[next.params.clone()])
    }

    /// Forward over the first `n` rows of `x` (N × in); op l's output lands in `plan.act(l)`
    /// (except the first op of a fused pair's), the net's in [`Plan::output`].
    pub fn forward(&self, params: &[f32], x: &[f32], plan: &mut Plan, n: usize) {
        debug_assert!(n <= plan.batch);
        let mut j = 0;
        while j < self.layers.len() {
            let l = &self.layers[j];
            let slope = self.fused_slope(params, j);
            let last = if slope.is_some() { j + 1 } else { j };
            let gemm = plan.gemm;
            let (inp, out, packed, work) = plan.span_forward_bufs(j, last);
            let cx = Ctx { gemm, packed };
            let inp = Tensor::new(inp.unwrap_or(x), n, l.in_shape);
            let out = TensorMut::new(out, n, l.out_shape);
            match slope.map(|a| with_slope(&l.op, a)) {
                Some(op) => op.forward(&cx, &params[l.params.clone()], inp, out, work),
                None => l.op.forward(&cx, &params[l.params.clone()], inp, out, work),
            }
            j = last + 1;
        }
    }

    /// Backward after [`Net::forward`] on the same rows. On entry the plan's output gradient
    /// ([`Plan::out_grad_mut`]) holds dL/d(output). Parameter gradients are added into `grads`
    /// (same layout as the parameters) if given; dL/dx (N × in) is written into `dx` if given.
    /// With neither for the first op, its backward is skipped. `params` must be those of the
    /// forward (a fused pair is chosen from its PReLU's slope, in both), and the output
    /// gradient may be overwritten (a net ending in a fused PReLU takes its input's in place).
    pub fn backward(
        &self,
        params: &[f32],
        grads: Option<&mut [f32]>,
        x: &[f32],
        plan: &mut Plan,
        dx: Option<&mut [f32]>,
        n: usize,
    ) {
        let mut grads = grads;
        let mut dx = dx;
        let mut last = self.layers.len();
        while last > 0 {
            last -= 1;
            // Op j alone, or a fused pair (j, end): the PReLU's backward in place over its
            // output gradient, then the linear op's from there.
            let end = last;
            let slope = end.checked_sub(1).and_then(|j| self.fused_slope(params, j));
            let j = if slope.is_some() { end - 1 } else { end };
            last = j;
            let l = &self.layers[j];
            if j == 0 && dx.is_none() && grads.is_none() {
                continue;
            }
            let gemm = plan.gemm;
            let (inp, out, dout, dinp, work) = plan.span_backward_bufs(j, end);
            if let Some(a) = slope {
                let len = n * l.out;
                let da = grads.as_deref_mut().map(|g| &mut g[self.layers[end].params.clone()]);
                crate::nn::prelu::fused_backward(gemm.kernels(), da, &mut dout[..len], &out[..len], a);
            }
            let inp = inp.unwrap_or(x);
            let dinp = if j == 0 { dx.as_deref_mut() } else { dinp };
            let dparams = grads.as_deref_mut().map(|g| &mut g[l.params.clone()]);
            if dinp.is_none() && dparams.is_none() {
                continue;
            }
            let cx = Ctx { gemm, packed: None };
            l.op.op().backward(
                &cx,
                dparams,
                dinp.map(|d| &mut d[..n * l.inp]),
                dout,
                Tensor::new(out, n, l.out_shape),
                Tensor::new(inp, n, l.in_shape),
                &params[l.params.clone()],
                work,
            );
        }
    }
}

/// A linear op (dense, conv2d, transposed conv2d) with LeakyReLU of slope `a` as its
/// activation: the forward of a fused pair ([`Net::fused_slope`]).
fn with_slope(op: &OpSpec, a: f32) -> OpSpec {
    let act = Activation::Leaky { slope: a };
    match op {
        OpSpec::Dense(d) => OpSpec::Dense(crate::nn::dense::Dense { act, ..*d }),
        OpSpec::Conv2d(c) => OpSpec::Conv2d(crate::nn::conv2d::Conv2d { act, ..*c }),
        OpSpec::ConvTranspose2d(c) => {
            OpSpec::ConvTranspose2d(crate::nn::conv_transpose2d::ConvTranspose2d { act, ..*c })
        }
        other => other.clone(),
    }
}
