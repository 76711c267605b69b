//! A dense layer or convolution with no activation, followed by a shared PReLU of positive
//! slope, runs as one op (`hepae::net`'s module doc). Against the same net with a
//! pass-through op between the two (which keeps them apart; the parameters are the same), the
//! fused pair gives the same output bits and the same bits of every input and weight
//! gradient, and the slope's gradient to f32 rounding; the linear op's own output is not
//! written. A slope that is not positive or is too small, or one slope per channel, runs on
//! its own: the same bits throughout.

use hepae::engine::gemm::Gemm;
use hepae::engine::tensor::Shape;
use hepae::models::params::ParamStore;
use hepae::net::{Net, NetSpec};
use hepae::nn::act::Act;
use hepae::nn::activation::Activation;
use hepae::nn::conv2d::Conv2d;
use hepae::nn::conv_transpose2d::ConvTranspose2d;
use hepae::nn::dense::Dense;
use hepae::nn::op::OpSpec;
use hepae::nn::prelu::{Prelu, FUSED_SLOPES};
use rand::Rng;

mod common;
use common::rng;

const LIN: Activation = Activation::Linear;

fn img(c: usize, h: usize, w: usize) -> Shape {
    Shape::Image { c, h, w }
}

/// What a forward and backward of `n` rows give: the output, the parameter gradients and the
/// input gradient (a full backward), the same from a backward for the input gradient alone and
/// for the parameter gradients alone, and whether op 1's own output buffer was written.
struct Run {
    out: Vec<f32>,
    grads: Vec<f32>,
    dx: Vec<f32>,
    dx_alone: Vec<f32>,
    grads_alone: Vec<f32>,
    op1_written: bool,
}

fn run(input: Shape, ops: Vec<OpSpec>, params: &[f32], x: &[f32], c: &[f32], n: usize) -> Run {
    let mut store = ParamStore::default();
    let net = Net::new(&mut store, "net", NetSpec { input, ops });
    assert_eq!(store.len(), params.len());
    // A plan for more rows than run: the ops use prefixes of its buffers.
    let mut plan = net.plan(n + 3, true, Gemm::detect());
    let backward = |plan: &mut hepae::engine::plan::Plan, grads: Option<&mut [f32]>, dx: Option<&mut [f32]>| {
        net.forward(params, x, plan, n);
        plan.out_grad_mut()[..c.len()].copy_from_slice(c);
        net.backward(params, grads, x, plan, dx, n);
    };
    let mut grads = vec![0.0f32; params.len()];
    let mut dx = vec![f32::NAN; n * input.len()];
    backward(&mut plan, Some(&mut grads), Some(&mut dx));
    let out = plan.output(n).to_vec();
    let op1_written = plan.act(1).iter().any(|&v| v != 0.0);
    let mut dx_alone = vec![f32::NAN; n * input.len()];
    backward(&mut plan, None, Some(&mut dx_alone));
    let mut grads_alone = vec![0.0f32; params.len()];
    backward(&mut plan, Some(&mut grads_alone), None);
    Run { out, grads, dx, dx_alone, grads_alone, op1_written }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The cases: an input, a linear op, and what follows the PReLU.
fn cases() -> Vec<(Shape, OpSpec, Vec<OpSpec>)> {
    vec![
        (
            img(3, 9, 7),
            OpSpec::Conv2d(Conv2d { out: 5, kernel: 3, stride: 2, pad: 1, act: LIN }),
            vec![OpSpec::Conv2d(Conv2d { out: 2, kernel: 3, stride: 1, pad: 1, act: LIN })],
        ),
        (
            img(4, 5, 5),
            OpSpec::ConvTranspose2d(ConvTranspose2d { out: 3, kernel: 4, stride: 2, pad: 1, out_pad: 1, act: LIN }),
            vec![],
        ),
        (
            Shape::Features(23),
            OpSpec::Dense(Dense { out: 13, act: LIN }),
            vec![OpSpec::Dense(Dense { out: 7, act: LIN })],
        ),
    ]
}

#[test]
fn a_fused_pair_gives_the_unfused_bits_and_the_slope_gradient_to_rounding() {
    for (case, (input, linear, tail)) in cases().into_iter().enumerate() {
        // Fused: 0.25 (PyTorch's initial slope) and 1.75; on its own: a slope ≤ 0, one too
        // small to fuse (a·x would underflow), one slope per channel.
        for (slope, per_channel) in
            [(0.25f32, false), (1.75, false), (-0.3, false), (0.0, false), (1e-30, false), (0.25, true)]
        {
            let fuses = !per_channel && FUSED_SLOPES.contains(&slope);
            let prelu = OpSpec::Prelu(Prelu { per_channel });
            // The pair is ops 1 and 2, after an activation of its own (a pair inside a net).
            let first = OpSpec::Act(Act { act: Activation::Leaky { slope: 0.5 } });
            let fused: Vec<OpSpec> = [vec![first.clone(), linear.clone(), prelu.clone()], tail.clone()].concat();
            let apart: Vec<OpSpec> =
                [vec![first.clone(), linear.clone(), OpSpec::Act(Act { act: LIN }), prelu.clone()], tail.clone()]
                    .concat();
            let mut store = ParamStore::default();
            let net = Net::new(&mut store, "net", NetSpec { input, ops: fused.clone() });
            let mut r = rng(40 + case as u64);
            let mut params: Vec<f32> = (0..store.len()).map(|_| r.random_range(-0.7f32..0.7)).collect();
            let slopes = net.layers[2].params.clone();
            params[slopes.clone()].fill(slope);
            for n in [1, 5] {
                let x: Vec<f32> = (0..n * input.len()).map(|_| r.random_range(-1.0f32..1.0)).collect();
                let c: Vec<f32> = (0..n * net.out_dim()).map(|_| r.random_range(-1.0f32..1.0)).collect();
                let (a, b) =
                    (run(input, fused.clone(), &params, &x, &c, n), run(input, apart.clone(), &params, &x, &c, n));
                let what = format!("case {case}, slope {slope}, per channel {per_channel}, {n} rows");
                assert_eq!(a.op1_written, !fuses, "{what}: the linear op's own output is written only unfused");
                assert!(b.op1_written, "{what}: apart, the linear op writes its output");
                assert_eq!(bits(&a.out), bits(&b.out), "{what}: output");
                // A backward for one kind of gradient gives that kind's bits.
                assert_eq!(bits(&a.dx_alone), bits(&a.dx), "{what}: input gradient alone");
                assert_eq!(bits(&a.grads_alone), bits(&a.grads), "{what}: parameter gradients alone");
                assert_eq!(bits(&a.dx), bits(&b.dx), "{what}: input gradient");
                assert!(a.dx.iter().any(|&v| v != 0.0), "{what}: the input gradient is not trivially zero");
                for (k, (&g, &h)) in a.grads.iter().zip(&b.grads).enumerate() {
                    if slopes.contains(&k) && fuses {
                        assert!((g - h).abs() <= 1e-6 * h.abs().max(1e-3), "{what}: slope gradient {g} vs {h}");
                    } else {
                        assert_eq!(g.to_bits(), h.to_bits(), "{what}: gradient {k}, {g} vs {h}");
                    }
                }
                // Inference plans with packed weights (the small-batch paths) agree too.
                let infer = |ops: &[OpSpec]| {
                    let net = Net::new(&mut ParamStore::default(), "net", NetSpec { input, ops: ops.to_vec() });
                    let mut plan = net.plan_packed(n, &params, Gemm::detect());
                    net.forward(&params, &x, &mut plan, n);
                    bits(plan.output(n))
                };
                assert_eq!(infer(&fused), infer(&apart), "{what}: packed inference");
            }
        }
    }
}

#[test]
fn the_fused_slopes_are_two_to_the_minus_64_through_two_to_the_64() {
    assert_eq!(*FUSED_SLOPES.start(), 2f32.powi(-64));
    assert_eq!(*FUSED_SLOPES.end(), 2f32.powi(64));
}
