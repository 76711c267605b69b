//! Buffers planned once per (network, batch size): every activation and activation-gradient
//! a forward/backward pass writes. A training step only ever indexes into these; it never
//! allocates. A smaller final batch uses a prefix of the same buffers.

use crate::models::mlp::Mlp;

/// Activations `acts[l]` (output of layer l, N×O_l) and their gradients `dacts[l]`.
#[derive(Clone, Debug)]
pub struct MlpBuffers {
    pub batch: usize,
    pub acts: Vec<Vec<f32>>,
    pub dacts: Vec<Vec<f32>>,
}

impl MlpBuffers {
    /// Plans buffers for `mlp` at up to `batch` rows. `with_grads = false` plans a
    /// forward-only workspace (inference).
    pub fn plan(mlp: &Mlp, batch: usize, with_grads: bool) -> Self {
        let acts = mlp.layers.iter().map(|l| vec![0.0; batch * l.out]).collect();
        let dacts = if with_grads { mlp.layers.iter().map(|l| vec![0.0; batch * l.out]).collect() } else { Vec::new() };
        MlpBuffers { batch, acts, dacts }
    }

    /// The network's output for the first `n` rows after a forward pass.
    pub fn output(&self, n: usize) -> &[f32] {
        let last = self.acts.last().expect("an MLP has at least one layer");
        &last[..n * (last.len() / self.batch.max(1))]
    }

    /// Bytes held by this plan.
    pub fn bytes(&self) -> usize {
        4 * (self.acts.iter().map(Vec::len).sum::<usize>() + self.dacts.iter().map(Vec::len).sum::<usize>())
    }
}
