//! A stack of dense layers with fused LeakyReLU (or linear) activations, reading its weights
//! from a flat parameter buffer and its activations from a planned [`MlpBuffers`].

use super::params::ParamStore;
use crate::nn::activation::Activation;
use crate::nn::dense::{dense_backward, dense_forward};
use crate::plan::MlpBuffers;

/// One dense layer: `inp → out`, its activation, offsets of its weight [out×inp] and bias
/// [out] in the parameter buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub inp: usize,
    pub out: usize,
    pub act: Activation,
    pub w: usize,
    pub b: usize,
}

/// A multilayer perceptron.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    pub layers: Vec<Layer>,
}

impl Mlp {
    /// Adds the layers `dims[0] → dims[1] → …` to `store` under PyTorch `nn.Sequential`
    /// names: `{prefix}.{2j}.weight` / `.bias` for layer j (the activations take the odd
    /// indices, so an activation-interleaved Sequential has the same state-dict keys).
    pub fn new(store: &mut ParamStore, prefix: &str, dims: &[usize], acts: &[Activation]) -> Self {
        assert_eq!(acts.len() + 1, dims.len());
        let layers = dims
            .windows(2)
            .zip(acts)
            .enumerate()
            .map(|(j, (d, &act))| {
                let w = store.add(format!("{prefix}.{}.weight", 2 * j), vec![d[1], d[0]]);
                let b = store.add(format!("{prefix}.{}.bias", 2 * j), vec![d[1]]);
                Layer { inp: d[0], out: d[1], act, w, b }
            })
            .collect();
        Mlp { layers }
    }

    pub fn in_dim(&self) -> usize {
        self.layers[0].inp
    }
    pub fn out_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].out
    }

    /// Forward over the first `n` rows of `x` [N×in]; layer l's output lands in `buf.acts[l]`.
    pub fn forward(&self, params: &[f32], x: &[f32], buf: &mut MlpBuffers, n: usize) {
        debug_assert!(n <= buf.batch);
        for (l, layer) in self.layers.iter().enumerate() {
            let (before, rest) = buf.acts.split_at_mut(l);
            let inp: &[f32] = if l == 0 { x } else { &before[l - 1] };
            dense_forward(
                &mut rest[0],
                &inp[..n * layer.inp],
                &params[layer.w..layer.w + layer.out * layer.inp],
                &params[layer.b..layer.b + layer.out],
                n,
                layer.inp,
                layer.out,
                layer.act,
            );
        }
    }

    /// Backward after [`Mlp::forward`]. On entry `buf.dacts[last]` holds dL/d(output).
    /// Parameter gradients are added into `grads` (same layout as the parameters); if `dx` is
    /// given, dL/dx [N×in] is written there.
    pub fn backward(
        &self,
        params: &[f32],
        grads: &mut [f32],
        x: &[f32],
        buf: &mut MlpBuffers,
        dx: Option<&mut [f32]>,
        n: usize,
    ) {
        let mut dx = dx;
        for (l, layer) in self.layers.iter().enumerate().rev() {
            let (dbefore, drest) = buf.dacts.split_at_mut(l);
            let inp: &[f32] = if l == 0 { x } else { &buf.acts[l - 1] };
            let dinp: Option<&mut [f32]> = if l == 0 { dx.as_deref_mut() } else { Some(&mut dbefore[l - 1][..]) };
            let (gw, gb) = grads.split_at_mut(layer.b);
            dense_backward(
                dinp,
                &mut gw[layer.w..layer.w + layer.out * layer.inp],
                &mut gb[..layer.out],
                &mut drest[0],
                &buf.acts[l],
                &inp[..n * layer.inp],
                &params[layer.w..layer.w + layer.out * layer.inp],
                n,
                layer.inp,
                layer.out,
                layer.act,
            );
        }
    }
}
