//! The op/net layer: a net's backward asked for input gradients only (weights untouched, as
//! an energy model's ∂E/∂x needs), for parameter gradients only, or for both, against central
//! differences of an f64 reference at ragged shapes; the batch-1 path inside the dense op
//! against the GEMM path; the per-row losses against their totals; the latent ops' helpers;
//! and the net spec's JSON form.

use hepae::engine::gemm::Gemm;
use hepae::engine::tensor::Shape;
use hepae::models::params::ParamStore;
use hepae::net::{Net, NetSpec};
use hepae::nn::activation::Activation;
use hepae::nn::dense::Dense;
use hepae::nn::latent::{join_heads, kl_normal, kl_normal_rows, mean_backward, split_heads};
use hepae::nn::loss::{
    bce_with_logits_forward_backward, bce_with_logits_rows, gaussian_nll_forward_backward, gaussian_nll_rows,
    mse_forward_backward, mse_rows,
};
use hepae::nn::op::OpSpec;
use rand::Rng;

mod common;
use common::*;

fn spec(input: usize, layers: &[(usize, Activation)]) -> NetSpec {
    NetSpec {
        input: Shape::Features(input),
        ops: layers.iter().map(|&(out, act)| OpSpec::Dense(Dense { out, act })).collect(),
    }
}

/// f64 forward of a dense net.
fn net64(net: &Net, p: &[f64], x: &[f64], n: usize) -> Vec<f64> {
    let mut h = x.to_vec();
    for l in &net.layers {
        let act = l.dense().unwrap().act;
        let mut out = vec![0.0; n * l.out];
        for r in 0..n {
            for j in 0..l.out {
                let pre = p[l.b() + j] + (0..l.inp).map(|q| h[r * l.inp + q] * p[l.w() + j * l.inp + q]).sum::<f64>();
                out[r * l.out + j] = act64(act, pre);
            }
        }
        h = out;
    }
    h
}

fn random_net(r: &mut impl Rng, input: usize, layers: &[(usize, Activation)]) -> (Net, Vec<f32>) {
    let mut store = ParamStore::default();
    let net = Net::new(&mut store, "net", spec(input, layers));
    let params: Vec<f32> = (0..store.len()).map(|_| r.random_range(-0.7f32..0.7)).collect();
    (net, params)
}

#[test]
fn net_backward_gives_input_gradients_alone_parameter_gradients_alone_or_both() {
    let mut r = rng(41);
    let leaky = Activation::Leaky { slope: 0.1 };
    for (input, layers, n) in [
        (5, vec![(7, leaky), (3, Activation::Linear)], 3),
        (9, vec![(4, Activation::Sigmoid), (11, leaky), (2, Activation::Linear)], 5),
        (17, vec![(1, leaky)], 1),
    ] {
        let (net, params) = random_net(&mut r, input, &layers);
        let x: Vec<f32> = (0..n * input).map(|_| r.random_range(-1.0f32..1.0)).collect();
        let c: Vec<f64> = (0..n * net.out_dim()).map(|_| r.random_range(-1.0..1.0)).collect();
        // L = Σ c ⊙ net(x).
        let run = |grads: Option<&mut [f32]>, dx: Option<&mut [f32]>| {
            let mut plan = net.plan(n, true, Gemm::detect());
            net.forward(&params, &x, &mut plan, n);
            for (g, &cv) in plan.out_grad_mut().iter_mut().zip(&c) {
                *g = cv as f32;
            }
            net.backward(&params, grads, &x, &mut plan, dx, n);
        };
        let (mut g_both, mut dx_both) = (vec![0.0f32; params.len()], vec![f32::NAN; n * input]);
        run(Some(&mut g_both), Some(&mut dx_both));
        let mut dx_only = vec![f32::NAN; n * input];
        run(None, Some(&mut dx_only));
        let mut g_only = vec![0.0f32; params.len()];
        run(Some(&mut g_only), None);
        assert_eq!(dx_only, dx_both, "input gradients do not depend on whether weights are asked for");
        assert_eq!(g_only, g_both, "parameter gradients do not depend on whether dx is asked for");

        let p64: Vec<f64> = params.iter().map(|&v| v as f64).collect();
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let loss = |p: &[f64], x: &[f64]| net64(&net, p, x, n).iter().zip(&c).map(|(a, b)| a * b).sum::<f64>();
        let want_dx = grad_all(&x64, &|x| loss(&p64, x));
        assert_close(&dx_only, &want_dx, 1e-5, 1e-3, &format!("dL/dx input={input} n={n}"));
        let want_dp = grad_all(&p64, &|p| loss(p, &x64));
        assert_close(&g_only, &want_dp, 1e-5, 1e-3, &format!("dL/dθ input={input} n={n}"));
    }
}

#[test]
fn the_small_batch_path_inside_the_dense_op_matches_the_gemm_path() {
    let mut r = rng(42);
    let leaky = Activation::Leaky { slope: 0.01 };
    let (net, params) = random_net(&mut r, 24, &[(200, leaky), (50, Activation::Sigmoid), (15, Activation::Linear)]);
    for n in 1..=6 {
        let x: Vec<f32> = (0..n * 24).map(|_| r.random_range(-1.0f32..1.0)).collect();
        let mut gemm_plan = net.plan(8, false, Gemm::detect());
        net.forward(&params, &x, &mut gemm_plan, n);
        let mut packed = net.plan_packed(8, &params, Gemm::detect());
        assert!(packed.is_packed);
        net.forward(&params, &x, &mut packed, n);
        for (a, b) in packed.output(n).iter().zip(gemm_plan.output(n)) {
            assert!((a - b).abs() <= 1e-5 + 1e-5 * b.abs(), "n={n}: small path {a} vs GEMM {b}");
        }
    }
}

#[test]
fn per_row_losses_sum_to_the_batch_losses() {
    let mut r = rng(43);
    let (n, d) = (7, 5);
    let y: Vec<f32> = (0..n * d).map(|_| r.random_range(-1.0f32..1.0)).collect();
    let t: Vec<f32> = (0..n * d).map(|_| r.random_range(-1.0f32..1.0)).collect();
    let lv: Vec<f32> = (0..n * d).map(|_| r.random_range(-2.0f32..1.0)).collect();
    let mut rows = vec![0.0f64; n];
    mse_rows(&mut rows, &y, &t, d);
    let total = mse_forward_backward(&mut vec![0.0; n * d], &y, &t, n * d);
    assert!((rows.iter().sum::<f64>() - total).abs() <= 1e-9 * total.max(1.0), "MSE rows");
    for (r_, row) in rows.iter().enumerate() {
        let want: f64 = (0..d).map(|c| ((y[r_ * d + c] - t[r_ * d + c]) as f64).powi(2)).sum();
        assert!((row - want).abs() <= 1e-6 * want.max(1e-6), "MSE row {r_}");
    }
    gaussian_nll_rows(&mut rows, &y, &lv, &t, d);
    let total = gaussian_nll_forward_backward(&mut vec![0.0; n * d], &mut vec![0.0; n * d], &y, &lv, &t, n * d);
    assert!((rows.iter().sum::<f64>() - total).abs() <= 1e-5 * total.abs().max(1.0), "Gaussian NLL rows");
    let logits = &y[..n];
    let mut rows = vec![0.0f64; n];
    bce_with_logits_rows(&mut rows, logits, 1.0);
    let total = bce_with_logits_forward_backward(&mut vec![0.0; n], logits, 1.0, 1.0);
    assert!((rows.iter().sum::<f64>() - total).abs() <= 1e-9 * total.max(1.0), "BCE rows");
}

#[test]
fn latent_helpers_split_join_and_average_as_their_forwards_say() {
    let mut r = rng(44);
    let (n, l) = (3, 5);
    let ab: Vec<f32> = (0..n * 2 * l).map(|_| r.random_range(-1.0f32..1.0)).collect();
    let (mut a, mut b) = (vec![0.0; n * l], vec![0.0; n * l]);
    split_heads(&mut a, &mut b, &ab, n, l);
    assert_eq!(a[l..2 * l], ab[2 * l..3 * l], "row 1's first head");
    let mut back = vec![0.0; n * 2 * l];
    join_heads(&mut back, &a, &b, n, l);
    assert_eq!(back, ab);
    // KL per row sums to the batch KL.
    let mut rows = vec![0.0; n];
    kl_normal_rows(&mut rows, &a, &b, l);
    let kl = kl_normal(&mut vec![0.0; n * l], &mut vec![0.0; n * l], &a, &b, 0.0);
    assert!((rows.iter().sum::<f64>() - kl).abs() <= 1e-5 * kl.max(1.0));
    // ρ̂_j = mean over rows of z_nj: L = Σ_j c_j ρ̂_j, dL/dz_nj = c_j / N.
    let c: Vec<f32> = (0..l).map(|_| r.random_range(-1.0f32..1.0)).collect();
    let z64: Vec<f64> = a.iter().map(|&v| v as f64).collect();
    let f = |z: &[f64]| (0..l).map(|j| c[j] as f64 * (0..n).map(|r| z[r * l + j]).sum::<f64>() / n as f64).sum::<f64>();
    let mut dz = vec![0.0f32; n * l];
    mean_backward(&mut dz, &c, n);
    assert_close(&dz, &grad_all(&z64, &f), 1e-7, 1e-5, "batch-mean backward");
}

#[test]
fn a_net_spec_is_json_and_builds_the_same_net() {
    let s = spec(6, &[(4, Activation::Leaky { slope: 0.2 }), (2, Activation::Sigmoid)]);
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains(r#""op":"dense""#) && json.contains(r#""features":6"#), "{json}");
    let back: NetSpec = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    let (mut a, mut b) = (ParamStore::default(), ParamStore::default());
    assert_eq!(Net::new(&mut a, "encoder", s), Net::new(&mut b, "encoder", back));
    let names: Vec<_> = a.tensors.iter().map(|t| (t.name.as_str(), t.shape.clone())).collect();
    assert_eq!(
        names,
        [
            ("encoder.0.weight", vec![4, 6]),
            ("encoder.0.bias", vec![4]),
            ("encoder.2.weight", vec![2, 4]),
            ("encoder.2.bias", vec![2])
        ]
    );
}
