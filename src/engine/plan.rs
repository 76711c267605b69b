//! The workspace of one net at one batch size, planned once: one arena holding every op's
//! output (N × its row length) and, for training, every output's gradient; an inference plan
//! may also hold the ops' packed weights for the small-batch path, and one scratch buffer the
//! ops take in turn (im2col columns; sized for the op that needs most). A step only ever
//! indexes into these; it never allocates. A smaller final batch uses a prefix of each buffer.

use crate::engine::gemm::Gemm;
use std::ops::Range;

/// Floats per alignment unit of a plan's buffers (64 bytes).
const ALIGN: usize = 16;

/// Buffers of a [`crate::net::Net`] for batches of up to `batch` rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub batch: usize,
    /// How this plan's GEMMs run.
    pub gemm: Gemm,
    arena: Vec<f32>,
    /// Per op: its output's range in `arena`, then (training plans) its gradient's.
    acts: Vec<Range<usize>>,
    dacts: Vec<Range<usize>>,
    /// End of the activations (start of the gradients) in `arena`.
    acts_end: usize,
    /// Per op: its packed weights' range in `packed` (empty: none).
    packed_at: Vec<Range<usize>>,
    packed: Vec<f32>,
    /// Whether `packed` holds the weights (see [`crate::net::Net::pack`]).
    pub is_packed: bool,
    /// Scratch shared by the ops in turn ([`crate::nn::op::Op::work_len`]).
    work: Vec<f32>,
}

impl Plan {
    /// Plans `row_lens[l]` values per row for op l's output, at up to `batch` rows;
    /// `with_grads` adds a gradient buffer per output; `packed_lens[l]` values of packed
    /// weights per op (all 0 for a training plan); `work_len` values of scratch.
    pub fn new(
        batch: usize,
        row_lens: &[usize],
        with_grads: bool,
        packed_lens: &[usize],
        work_len: usize,
        gemm: Gemm,
    ) -> Self {
        let mut at = 0;
        // Every buffer starts on a 64-byte boundary of the arena (16 floats), so that the
        // kernels' vector loads and stores of one row do not straddle cache lines more than
        // the data itself makes them.
        let mut take = |len: usize| {
            let r = at..at + len;
            at += len.next_multiple_of(ALIGN);
            r
        };
        let acts: Vec<_> = row_lens.iter().map(|&w| take(batch * w)).collect();
        let acts_end = acts.last().map_or(0, |r| r.end);
        let dacts: Vec<_> = if with_grads { row_lens.iter().map(|&w| take(batch * w)).collect() } else { Vec::new() };
        let arena = vec![0.0; dacts.last().map_or(acts_end, |r| r.end)];
        let mut p = 0;
        let packed_at: Vec<_> = packed_lens
            .iter()
            .map(|&len| {
                let r = p..p + len;
                p += len.next_multiple_of(ALIGN);
                r
            })
            .collect();
        Plan {
            batch,
            gemm,
            arena,
            acts,
            dacts,
            acts_end,
            packed_at,
            packed: vec![0.0; p],
            is_packed: false,
            work: vec![0.0; work_len],
        }
    }

    /// Ops planned for.
    pub fn len(&self) -> usize {
        self.acts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.acts.is_empty()
    }
    /// Whether gradient buffers were planned.
    pub fn has_grads(&self) -> bool {
        !self.dacts.is_empty()
    }

    /// Op l's whole output buffer.
    pub fn act(&self, l: usize) -> &[f32] {
        &self.arena[self.acts[l].clone()]
    }
    /// Op l's whole output-gradient buffer.
    pub fn dact_mut(&mut self, l: usize) -> &mut [f32] {
        let r = self.dacts[l].clone();
        &mut self.arena[r]
    }
    /// The last op's output for the first `n` rows after a forward pass.
    pub fn output(&self, n: usize) -> &[f32] {
        let last = self.acts.len() - 1;
        &self.act(last)[..n * (self.acts[last].len() / self.batch.max(1))]
    }
    /// The last op's output-gradient buffer (where a loss writes dL/d(output)).
    pub fn out_grad_mut(&mut self) -> &mut [f32] {
        let last = self.dacts.len() - 1;
        self.dact_mut(last)
    }
    /// The last op's output (whole buffer) and its gradient buffer, together.
    pub fn output_and_grad_mut(&mut self) -> (&[f32], &mut [f32]) {
        let last = self.acts.len() - 1;
        let (a, d) = self.arena.split_at_mut(self.acts_end);
        (
            &a[self.acts[last].clone()],
            &mut d[self.dacts[last].start - self.acts_end..self.dacts[last].end - self.acts_end],
        )
    }

    /// For op l's forward: its input (op l−1's output, or None for the first op), its output
    /// buffer, its packed weights if the plan is packed, and the scratch.
    #[allow(clippy::type_complexity)]
    pub(crate) fn forward_bufs(&mut self, l: usize) -> (Option<&[f32]>, &mut [f32], Option<&[f32]>, &mut [f32]) {
        self.span_forward_bufs(l, l)
    }

    /// [`Plan::forward_bufs`] for ops `first..=last` run as one (a fused pair): the input of
    /// `first`, the output buffer of `last`, the packed weights of `first`, the scratch.
    #[allow(clippy::type_complexity)]
    pub(crate) fn span_forward_bufs(
        &mut self,
        first: usize,
        last: usize,
    ) -> (Option<&[f32]>, &mut [f32], Option<&[f32]>, &mut [f32]) {
        debug_assert!(first <= last);
        let (before, rest) = self.arena.split_at_mut(self.acts[last].start);
        let out = &mut rest[..self.acts[last].len()];
        let inp = if first == 0 { None } else { Some(&before[self.acts[first - 1].clone()]) };
        let packed = self.is_packed.then(|| &self.packed[self.packed_at[first].clone()]);
        (inp, out, packed, &mut self.work)
    }

    /// For the backward of ops `first..=last` run as one (`first == last`: one op; otherwise a
    /// fused pair): (the input of `first`, or None for the first op; the output of `last`;
    /// its output's gradient; the input gradient of `first`, or None for the first op; the
    /// scratch).
    #[allow(clippy::type_complexity)]
    pub(crate) fn span_backward_bufs(
        &mut self,
        first: usize,
        last: usize,
    ) -> (Option<&[f32]>, &[f32], &mut [f32], Option<&mut [f32]>, &mut [f32]) {
        debug_assert!(first <= last);
        let (a, d) = self.arena.split_at_mut(self.acts_end);
        let a: &[f32] = a;
        let off = self.acts_end;
        let dl = self.dacts[last].clone();
        let (dbefore, drest) = d.split_at_mut(dl.start - off);
        let dout = &mut drest[..dl.len()];
        let (inp, dinp) = if first == 0 {
            (None, None)
        } else {
            let r = self.dacts[first - 1].clone();
            (Some(&a[self.acts[first - 1].clone()]), Some(&mut dbefore[r.start - off..r.end - off]))
        };
        (inp, &a[self.acts[last].clone()], dout, dinp, &mut self.work)
    }

    /// Op l's packed-weight buffer, for filling.
    pub(crate) fn packed_mut(&mut self, l: usize) -> &mut [f32] {
        let r = self.packed_at[l].clone();
        &mut self.packed[r]
    }

    /// Bytes held by this plan.
    pub fn bytes(&self) -> usize {
        4 * (self.arena.len() + self.packed.len() + self.work.len())
    }
}
