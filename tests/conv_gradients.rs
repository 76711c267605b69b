//! The image ops (conv2d, transposed conv2d, max/avg pooling, nearest/bilinear upsampling,
//! reshape, a standalone activation, PReLU) against an f64 reference written from their defining
//! sums (not from im2col): the f32 forward to float tolerance, and the backward's input and
//! parameter gradients against central differences of the reference, at ragged shapes (odd
//! H and W, channel counts that are not multiples of the SIMD width, stride 2 and 3 over odd
//! sizes, padding, output padding), one op alone and several in one net.

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
use hepae::nn::pool::{Pool2d, PoolMode};
use hepae::nn::prelu::Prelu;
use hepae::nn::reshape::Reshape;
use hepae::nn::upsample::{Upsample, UpsampleMode};
use rand::Rng;

mod common;
use common::*;

fn dims(s: Shape) -> (usize, usize, usize) {
    match s {
        Shape::Image { c, h, w } => (c, h, w),
        Shape::Features(f) => (f, 1, 1),
    }
}

/// Bilinear source (align_corners = false) in f64.
fn src64(o: usize, n: usize, s: usize) -> (usize, usize, f64) {
    let u = ((o as f64 + 0.5) / s as f64 - 0.5).max(0.0);
    let i0 = (u.floor() as usize).min(n - 1);
    let i1 = (i0 + 1).min(n - 1);
    (i0, i1, u - i0 as f64)
}

/// f64 forward of one op over n rows, straight from its definition.
fn op64(op: &OpSpec, inp: Shape, out: Shape, p: &[f64], x: &[f64], n: usize) -> Vec<f64> {
    let (c, h, w) = dims(inp);
    let (oc, oh, ow) = dims(out);
    let mut y = vec![0.0; n * out.len()];
    let at = |b: usize, ch: usize, yy: isize, xx: isize| -> f64 {
        if yy < 0 || xx < 0 || yy >= h as isize || xx >= w as isize {
            0.0
        } else {
            x[((b * c + ch) * h + yy as usize) * w + xx as usize]
        }
    };
    match op {
        OpSpec::Conv2d(cv) => {
            let (k, s, pd) = (cv.kernel, cv.stride as isize, cv.pad as isize);
            let bias = &p[oc * c * k * k..];
            for b in 0..n {
                for o in 0..oc {
                    for yy in 0..oh {
                        for xx in 0..ow {
                            let mut u = bias[o];
                            for ch in 0..c {
                                for i in 0..k {
                                    for j in 0..k {
                                        let wv = p[((o * c + ch) * k + i) * k + j];
                                        u += wv
                                            * at(
                                                b,
                                                ch,
                                                yy as isize * s - pd + i as isize,
                                                xx as isize * s - pd + j as isize,
                                            );
                                    }
                                }
                            }
                            y[((b * oc + o) * oh + yy) * ow + xx] = act64(cv.act, u);
                        }
                    }
                }
            }
        }
        OpSpec::ConvTranspose2d(cv) => {
            let (k, s, pd) = (cv.kernel, cv.stride, cv.pad as isize);
            let bias = &p[c * oc * k * k..];
            let mut pre = vec![0.0; n * out.len()];
            for b in 0..n {
                for ch in 0..c {
                    for yy in 0..h {
                        for xx in 0..w {
                            for o in 0..oc {
                                for i in 0..k {
                                    for j in 0..k {
                                        let (ty, tx) = ((yy * s + i) as isize - pd, (xx * s + j) as isize - pd);
                                        if ty >= 0 && tx >= 0 && (ty as usize) < oh && (tx as usize) < ow {
                                            pre[((b * oc + o) * oh + ty as usize) * ow + tx as usize] += p
                                                [((ch * oc + o) * k + i) * k + j]
                                                * x[((b * c + ch) * h + yy) * w + xx];
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            for (q, v) in pre.iter().enumerate() {
                y[q] = act64(cv.act, v + bias[(q / (oh * ow)) % oc]);
            }
        }
        OpSpec::Pool2d(pl) => {
            let (k, s) = (pl.kernel, pl.stride);
            for b in 0..n {
                for ch in 0..c {
                    for yy in 0..oh {
                        for xx in 0..ow {
                            let vals = (0..k).flat_map(|i| (0..k).map(move |j| (i, j)));
                            let v = vals.map(|(i, j)| at(b, ch, (yy * s + i) as isize, (xx * s + j) as isize));
                            y[((b * c + ch) * oh + yy) * ow + xx] = match pl.mode {
                                PoolMode::Max => v.fold(f64::NEG_INFINITY, f64::max),
                                PoolMode::Avg => v.sum::<f64>() / (k * k) as f64,
                            };
                        }
                    }
                }
            }
        }
        OpSpec::Upsample(up) => {
            let s = up.scale;
            for b in 0..n {
                for ch in 0..c {
                    for yy in 0..oh {
                        for xx in 0..ow {
                            let v = match up.mode {
                                UpsampleMode::Nearest => at(b, ch, (yy / s) as isize, (xx / s) as isize),
                                UpsampleMode::Bilinear => {
                                    let ((y0, y1, ly), (x0, x1, lx)) = (src64(yy, h, s), src64(xx, w, s));
                                    let g = |a: usize, bb: usize| at(b, ch, a as isize, bb as isize);
                                    (1.0 - ly) * ((1.0 - lx) * g(y0, x0) + lx * g(y0, x1))
                                        + ly * ((1.0 - lx) * g(y1, x0) + lx * g(y1, x1))
                                }
                            };
                            y[((b * c + ch) * oh + yy) * ow + xx] = v;
                        }
                    }
                }
            }
        }
        OpSpec::Reshape(_) => y.copy_from_slice(&x[..n * inp.len()]),
        OpSpec::Act(a) => {
            for (o, &v) in y.iter_mut().zip(x) {
                *o = act64(a.act, v);
            }
        }
        OpSpec::Dense(d) => {
            let (i, o) = (inp.len(), d.out);
            for b in 0..n {
                for j in 0..o {
                    let u = p[o * i + j] + (0..i).map(|q| p[j * i + q] * x[b * i + q]).sum::<f64>();
                    y[b * o + j] = act64(d.act, u);
                }
            }
        }
        OpSpec::Prelu(pr) => {
            // y = x if x > 0 else a·x, a = the slope of x's channel (the only one if shared).
            let (ch, hw) = (dims(inp).0, dims(inp).1 * dims(inp).2);
            for (q, (o, &v)) in y.iter_mut().zip(x).enumerate() {
                let a = if pr.per_channel { p[(q / hw) % ch] } else { p[0] };
                *o = if v > 0.0 { v } else { a * v };
            }
        }
        _ => unreachable!("no reference for {op:?}"),
    }
    y
}

/// f64 forward of a whole net.
fn net64(net: &Net, p: &[f64], x: &[f64], n: usize) -> Vec<f64> {
    let mut h = x.to_vec();
    for l in &net.layers {
        h = op64(&l.op, l.in_shape, l.out_shape, &p[l.params.clone()], &h, n);
    }
    h
}

/// Checks a net of `ops` over `n` rows of `input`: forward against the reference, then
/// L = Σ c ⊙ net(x): analytic dL/dθ and dL/dx against central differences.
fn check(input: Shape, ops: Vec<OpSpec>, n: usize, seed: u64, what: &str) {
    check_slopes(input, ops, n, seed, what, None)
}

/// [`check`], with every PReLU slope set to `prelu_slope` if given (after the draw, so the
/// other parameters are the same).
fn check_slopes(input: Shape, ops: Vec<OpSpec>, n: usize, seed: u64, what: &str, prelu_slope: Option<f32>) {
    let spec = NetSpec { input, ops };
    spec.check().unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut store = ParamStore::default();
    let net = Net::new(&mut store, "net", spec);
    let mut r = rng(seed);
    let mut params: Vec<f32> = (0..store.len()).map(|_| r.random_range(-0.7f32..0.7)).collect();
    if let Some(a) = prelu_slope {
        for l in net.layers.iter().filter(|l| matches!(l.op, OpSpec::Prelu(_))) {
            params[l.params.clone()].fill(a);
        }
    }
    let x: Vec<f32> = (0..n * input.len()).map(|_| r.random_range(-1.0f32..1.0)).collect();
    let c: Vec<f64> = (0..n * net.out_dim()).map(|_| r.random_range(-1.0..1.0)).collect();
    let p64: Vec<f64> = params.iter().map(|&v| v as f64).collect();
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();

    let mut plan = net.plan(n, true, Gemm::detect());
    net.forward(&params, &x, &mut plan, n);
    let want = net64(&net, &p64, &x64, n);
    assert_close(plan.output(n), &want, 1e-5, 1e-4, &format!("{what}: forward"));

    for (g, &cv) in plan.out_grad_mut().iter_mut().zip(&c) {
        *g = cv as f32;
    }
    let mut grads = vec![0.0f32; params.len()];
    let mut dx = vec![f32::NAN; n * input.len()];
    net.backward(&params, Some(&mut grads), &x, &mut plan, Some(&mut dx), n);

    let loss = |p: &[f64], xx: &[f64]| net64(&net, p, xx, n).iter().zip(&c).map(|(a, b)| a * b).sum::<f64>();
    let num_p = grad_all(&p64, &|p| loss(p, &x64));
    let num_x = grad_all(&x64, &|xx| loss(&p64, xx));
    assert_close(&grads, &num_p, 1e-4, 1e-3, &format!("{what}: dL/dθ"));
    assert_close(&dx, &num_x, 1e-4, 1e-3, &format!("{what}: dL/dx"));
    assert!(num_x.iter().any(|v| v.abs() > 1e-3), "{what}: the input gradient is not trivially zero");
}

fn img(c: usize, h: usize, w: usize) -> Shape {
    Shape::Image { c, h, w }
}

const LEAKY: Activation = Activation::Leaky { slope: 0.1 };

fn conv(out: usize, kernel: usize, stride: usize, pad: usize, act: Activation) -> OpSpec {
    OpSpec::Conv2d(Conv2d { out, kernel, stride, pad, act })
}

fn convt(out: usize, kernel: usize, stride: usize, pad: usize, out_pad: usize, act: Activation) -> OpSpec {
    OpSpec::ConvTranspose2d(ConvTranspose2d { out, kernel, stride, pad, out_pad, act })
}

#[test]
fn conv2d_gradients_at_ragged_shapes() {
    for (i, (input, op, n)) in [
        (img(3, 7, 5), conv(5, 3, 2, 1, LEAKY), 2),
        (img(1, 6, 9), conv(17, 3, 1, 1, Activation::Sigmoid), 2),
        (img(19, 3, 5), conv(3, 1, 1, 0, Activation::Linear), 3),
        (img(2, 11, 10), conv(9, 4, 3, 0, LEAKY), 1),
        (img(5, 5, 5), conv(4, 5, 1, 2, Activation::Linear), 2),
        // Few output channels: the direct path (stride 1) and the GEMV loops (stride 2).
        (img(5, 7, 6), conv(3, 3, 1, 1, LEAKY), 2),
        (img(2, 9, 9), conv(1, 5, 1, 2, Activation::Linear), 2),
        (img(3, 9, 7), conv(2, 3, 2, 1, LEAKY), 2),
        // The input gradient by output phase (stride ≥ 2) with kernels smaller than the
        // stride: pixels no window reads get 0.
        (img(2, 8, 7), conv(5, 2, 3, 0, LEAKY), 2),
        (img(3, 7, 6), conv(4, 1, 2, 0, Activation::Linear), 2),
    ]
    .into_iter()
    .enumerate()
    {
        check(input, vec![op], n, 100 + i as u64, &format!("conv2d case {i}"));
    }
}

#[test]
fn conv_transpose2d_gradients_at_ragged_shapes() {
    for (i, (input, op, n)) in [
        (img(3, 5, 4), convt(5, 4, 2, 1, 0, LEAKY), 2),
        (img(2, 3, 6), convt(17, 3, 2, 1, 1, Activation::Linear), 2),
        (img(9, 2, 3), convt(3, 2, 2, 0, 0, Activation::Sigmoid), 3),
        (img(1, 4, 3), convt(2, 5, 3, 2, 2, LEAKY), 1),
        (img(4, 3, 3), convt(3, 3, 1, 1, 0, Activation::Linear), 2),
        // The forward by output phase (stride ≥ 2): odd sizes, k 4 with output padding 1, C
        // and O not multiples of the SIMD width, a padding wider than a phase's taps, and
        // kernels smaller than the stride (phases without taps, which are the bias alone).
        (img(17, 5, 7), convt(6, 4, 2, 1, 1, LEAKY), 2),
        (img(2, 5, 3), convt(5, 4, 2, 2, 1, Activation::Linear), 2),
        (img(3, 4, 5), convt(2, 2, 3, 0, 2, LEAKY), 2),
        (img(2, 3, 3), convt(3, 1, 2, 0, 1, Activation::Linear), 2),
    ]
    .into_iter()
    .enumerate()
    {
        check(input, vec![op], n, 200 + i as u64, &format!("conv_transpose2d case {i}"));
    }
}

#[test]
fn pooling_gradients_at_odd_sizes() {
    for (i, (input, mode, kernel, stride)) in [
        (img(3, 7, 9), PoolMode::Max, 2, 2),
        (img(3, 7, 9), PoolMode::Avg, 2, 2),
        (img(17, 5, 5), PoolMode::Max, 3, 2),
        (img(2, 6, 7), PoolMode::Avg, 3, 1),
    ]
    .into_iter()
    .enumerate()
    {
        let op = OpSpec::Pool2d(Pool2d { mode, kernel, stride });
        check(input, vec![op], 2, 300 + i as u64, &format!("pool case {i} ({mode:?})"));
    }
}

#[test]
fn upsampling_gradients_nearest_and_bilinear() {
    for (i, (input, mode, scale)) in [
        (img(3, 5, 3), UpsampleMode::Nearest, 2),
        (img(3, 5, 3), UpsampleMode::Bilinear, 2),
        (img(2, 4, 7), UpsampleMode::Bilinear, 3),
        (img(1, 1, 2), UpsampleMode::Bilinear, 2),
        (img(5, 3, 4), UpsampleMode::Nearest, 3),
    ]
    .into_iter()
    .enumerate()
    {
        let op = OpSpec::Upsample(Upsample { mode, scale });
        check(input, vec![op], 2, 400 + i as u64, &format!("upsample case {i} ({mode:?})"));
    }
}

#[test]
fn reshape_and_activation_gradients() {
    let to = OpSpec::Reshape(Reshape { to: img(3, 2, 2) });
    check(Shape::Features(12), vec![to], 3, 501, "reshape features → image");
    let flat = OpSpec::Reshape(Reshape { to: Shape::Features(30) });
    check(img(2, 3, 5), vec![flat], 2, 502, "reshape image → features");
    for (i, act) in [LEAKY, Activation::Sigmoid, Activation::Linear].into_iter().enumerate() {
        check(img(3, 3, 1), vec![OpSpec::Act(Act { act })], 2, 510 + i as u64, &format!("act {act:?}"));
    }
}

#[test]
fn a_small_conv_autoencoder_net_gradients_end_to_end() {
    // conv s2 → max pool → dense (reads the image as features) → dense → reshape → nearest
    // upsample → transposed conv with output padding → conv, on an odd 9×7 image.
    let ops = vec![
        conv(5, 3, 2, 1, LEAKY),                                              // 9×7 → 5×4
        OpSpec::Pool2d(Pool2d { mode: PoolMode::Max, kernel: 2, stride: 2 }), // → 2×2
        OpSpec::Dense(Dense { out: 3, act: Activation::Linear }),
        OpSpec::Dense(Dense { out: 5 * 2 * 2, act: LEAKY }),
        OpSpec::Reshape(Reshape { to: img(5, 2, 2) }),
        OpSpec::Upsample(Upsample { mode: UpsampleMode::Bilinear, scale: 2 }), // → 4×4
        convt(3, 3, 2, 1, 1, LEAKY),                                           // → 8×8
        conv(2, 3, 1, 1, Activation::Linear),                                  // → 8×8
    ];
    check(img(2, 9, 7), ops, 2, 600, "conv net");
}

#[test]
fn specs_that_do_not_fit_their_input_are_refused_with_the_op_named() {
    let bad = [
        (img(1, 2, 2), conv(4, 5, 1, 0, LEAKY), "does not fit"),
        (Shape::Features(16), conv(4, 3, 1, 1, LEAKY), "needs an image"),
        (img(1, 4, 4), convt(4, 3, 2, 1, 2, LEAKY), "output padding"),
        (img(3, 4, 4), OpSpec::Reshape(Reshape { to: img(3, 4, 3) }), "cannot read"),
        (img(1, 3, 3), OpSpec::Pool2d(Pool2d { mode: PoolMode::Max, kernel: 4, stride: 2 }), "does not fit"),
        (img(1, 3, 3), conv(4, 3, 0, 1, LEAKY), "stride"),
        // A product's (channel, tap) offsets live on the stack: at most 4096 of them.
        (img(512, 9, 9), conv(4, 3, 1, 1, LEAKY), "4096 (channel, tap) pairs"),
        (img(2, 9, 9), conv(600, 3, 1, 1, LEAKY), "4096 (channel, tap) pairs"),
        (img(4, 5, 5), convt(460, 3, 2, 1, 0, LEAKY), "4096 (channel, tap) pairs"),
    ];
    for (input, op, why) in bad {
        let name = op.name();
        let err = NetSpec { input, ops: vec![op] }.check().unwrap_err();
        assert!(err.contains(why) && err.contains(name), "{err}");
    }
}

#[test]
fn prelu_gradients_shared_and_per_channel_slopes() {
    // The slopes are drawn in [−0.7, 0.7] like every parameter: negative slopes too, where the
    // output's sign is not the input's (the backward must read the input's).
    let shared = OpSpec::Prelu(Prelu { per_channel: false });
    let per_channel = OpSpec::Prelu(Prelu { per_channel: true });
    for (i, (input, op, n)) in [
        (img(3, 5, 7), shared.clone(), 2),
        (img(17, 3, 3), per_channel.clone(), 3),
        (Shape::Features(19), shared.clone(), 3),
        (Shape::Features(11), per_channel.clone(), 2),
        (img(1, 1, 1), per_channel.clone(), 1),
    ]
    .into_iter()
    .enumerate()
    {
        check(input, vec![op], n, 700 + i as u64, &format!("prelu case {i}"));
    }
    // In a net, as `--activation prelu` builds it: each conv's fused activation linear, a PReLU after.
    let lin = Activation::Linear;
    let ops = vec![
        conv(5, 3, 2, 1, lin),
        shared.clone(),
        OpSpec::Dense(Dense { out: 4, act: lin }),
        per_channel,
        OpSpec::Dense(Dense { out: 5 * 3 * 2, act: lin }),
        shared.clone(),
        OpSpec::Reshape(Reshape { to: img(5, 3, 2) }),
        convt(3, 4, 2, 1, 1, lin),
        shared,
        conv(2, 3, 1, 1, lin),
    ];
    check(img(2, 5, 3), ops.clone(), 2, 710, "prelu conv net");
    // Positive slopes: each linear layer and the shared PReLU after it run fused (the
    // PReLU's backward from its output), PyTorch's initial 0.25 and a slope above 1.
    for (a, seed) in [(0.25, 711), (1.6, 712)] {
        check_slopes(img(2, 5, 3), ops.clone(), 2, seed, &format!("fused prelu conv net, slopes {a}"), Some(a));
    }
}
