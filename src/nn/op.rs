//! What an op is: a forward and a backward side by side, with its output shape, its parameter
//! tensors and its workspace needs. A [`crate::net::Net`] is a sequence of ops; it only ever
//! calls them through this trait, so a new op (conv2d, pooling, upsampling) is one new file
//! under `nn/` plus its registration in `nn/mod.rs` (its `mod` line and its line in the
//! [`ops!`](crate::ops) list).

use crate::engine::gemm::Gemm;
use crate::engine::tensor::{Shape, Tensor, TensorMut};

/// What an op's forward and backward see besides tensors and parameters.
#[derive(Clone, Copy, Debug)]
pub struct Ctx<'a> {
    /// GEMM backend and row split (parallelism is passed down, never global).
    pub gemm: Gemm,
    /// The op's packed copy of its weights for small batches ([`Op::packed_len`]), present in
    /// inference plans that were packed ([`crate::net::Net::pack`]).
    pub packed: Option<&'a [f32]>,
}

/// One parameter tensor of an op: its name suffix (`weight`, `bias`) and PyTorch shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamShape {
    pub name: &'static str,
    pub shape: Vec<usize>,
}

/// An op of a net. `inp` is the per-row input shape; tensors hold N such rows.
pub trait Op {
    /// The per-row output shape for per-row input `inp`.
    fn out_shape(&self, inp: Shape) -> Shape;
    /// Parameter tensors, laid out one after another in this order in the op's slice of the
    /// flat parameter buffer.
    fn params(&self, inp: Shape) -> Vec<ParamShape>;
    /// PyTorch's default initialisation of the op's parameters, drawn from `rng`.
    fn init(&self, inp: Shape, params: &mut [f32], rng: &mut rand::rngs::StdRng);
    /// Values of the op's packed weights in an inference plan (0: none).
    fn packed_len(&self, _inp: Shape) -> usize {
        0
    }
    /// Fills `packed` from `params` (called once when an inference plan is packed).
    fn pack(&self, _inp: Shape, _params: &[f32], _packed: &mut [f32]) {}
    /// Whether the op accepts per-row input `inp` (a spec read from a file is checked before
    /// it is built: a convolution needs an image at least as large as its kernel, a reshape
    /// the same number of values). The error names what does not fit.
    fn check(&self, _inp: Shape) -> Result<(), String> {
        Ok(())
    }
    /// Scratch values the op needs for a batch of `batch` rows of `inp`, in forward or
    /// backward (im2col columns): the plan holds one scratch buffer, as large as its largest
    /// op asks, and hands it to every op in turn (nothing survives from forward to backward).
    fn work_len(&self, _inp: Shape, _batch: usize) -> usize {
        0
    }
    /// out = f(inp; θ). `work` is the scratch of [`Op::work_len`] values.
    fn forward(&self, cx: &Ctx<'_>, params: &[f32], inp: Tensor<'_>, out: TensorMut<'_>, work: &mut [f32]);
    /// From dL/d(out) in `dout` (which the op may overwrite with an intermediate gradient):
    /// dL/dθ *added* into `dparams` if given (parameter gradients), dL/d(inp) *written* into
    /// `dinp` if given (input gradients; every element is written): either, or both (an energy model's ∂E/∂x leaves the
    /// weights alone; a frozen stage passes gradients through). `out` is what the forward wrote.
    fn backward(
        &self,
        cx: &Ctx<'_>,
        dparams: Option<&mut [f32]>,
        dinp: Option<&mut [f32]>,
        dout: &mut [f32],
        out: Tensor<'_>,
        inp: Tensor<'_>,
        params: &[f32],
        work: &mut [f32],
    );
}

/// The registry: every op a net spec can name, each as `Variant(type)`. The spec's JSON is
/// `{"op": "variant_in_snake_case", …the op's fields}`.
#[macro_export]
macro_rules! ops {
    ($($name:ident($ty:ty)),* $(,)?) => {
        /// One op of a net spec (serialisable).
        #[non_exhaustive]
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "op", rename_all = "snake_case")]
        pub enum OpSpec {
            $($name($ty)),*
        }
        impl OpSpec {
            /// The op's name in the registry (for messages).
            pub fn name(&self) -> &'static str {
                match self {
                    $(OpSpec::$name(_) => stringify!($name)),*
                }
            }
            /// The op behind this spec.
            pub fn op(&self) -> &dyn $crate::nn::op::Op {
                match self {
                    $(OpSpec::$name(o) => o),*
                }
            }
            /// [`Op::forward`] of the op behind this spec, dispatched by a `match` (static, so
            /// the op's forward can be inlined into the net's loop: the batch-1 path is a few
            /// hundred nanoseconds, where a dynamic call per layer shows).
            ///
            /// [`Op::forward`]: $crate::nn::op::Op::forward
            #[inline]
            pub fn forward(
                &self,
                cx: &$crate::nn::op::Ctx<'_>,
                params: &[f32],
                inp: $crate::engine::tensor::Tensor<'_>,
                out: $crate::engine::tensor::TensorMut<'_>,
                work: &mut [f32],
            ) {
                match self {
                    $(OpSpec::$name(o) => $crate::nn::op::Op::forward(o, cx, params, inp, out, work)),*
                }
            }
        }
    };
}

pub use super::OpSpec;
