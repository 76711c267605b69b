//! Finite-difference gradient checks: every backward in `nn/` and the whole autoencoder step
//! against central differences of an f64 reference forward, at ragged shapes (not multiples
//! of 8 or 16), at points away from LeakyReLU's kink.

use hepae::gemm::Gemm;
use hepae::models::ae::{AeShape, Autoencoder, OutputActivation};
use hepae::nn::activation::{leaky_relu_backward, leaky_relu_forward, sigmoid_backward, sigmoid_forward, Activation};
use hepae::nn::dense::{dense_backward, dense_forward};
use hepae::nn::loss::mse_forward_backward;
use rand::Rng;

mod common;
use common::*;

fn uniform(r: &mut impl Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| r.random_range(lo..hi)).collect()
}

fn leaky64(u: f64, slope: f64) -> f64 {
    if u > 0.0 {
        u
    } else {
        slope * u
    }
}

/// f64 reference: out = act(inp·Wᵀ + b).
fn dense64(inp: &[f64], w: &[f64], b: &[f64], n: usize, i: usize, o: usize, slope: f64) -> Vec<f64> {
    let mut out = vec![0.0; n * o];
    for r in 0..n {
        for j in 0..o {
            let pre = b[j] + (0..i).map(|q| inp[r * i + q] * w[j * i + q]).sum::<f64>();
            out[r * o + j] = leaky64(pre, slope);
        }
    }
    out
}

fn min_abs_pre(inp: &[f32], w: &[f32], b: &[f32], n: usize, i: usize, o: usize) -> f64 {
    let to64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    let lin = dense64(&to64(inp), &to64(w), &to64(b), n, i, o, 1.0);
    lin.iter().fold(f64::INFINITY, |m, v| m.min(v.abs()))
}

#[test]
fn dense_backward_matches_finite_differences_at_ragged_shapes() {
    let mut r = rng(7);
    for &(n, i, o, slope) in
        &[(1, 1, 1, 0.01), (3, 5, 7, 0.01), (5, 17, 9, 0.2), (2, 33, 19, 1.0), (7, 24, 15, 0.01), (4, 9, 31, 0.3)]
    {
        // Resample until no pre-activation sits near the kink.
        let (inp, w, b) = loop {
            let inp = uniform(&mut r, n * i, -1.0, 1.0);
            let w = uniform(&mut r, o * i, -0.8, 0.8);
            let b = uniform(&mut r, o, -0.5, 0.5);
            if min_abs_pre(&inp, &w, &b, n, i, o) > 1e-3 {
                break (inp, w, b);
            }
        };
        // L = Σ c ⊙ out with fixed random c, so dL/dout = c.
        let c: Vec<f64> = (0..n * o).map(|_| r.random_range(-1.0..1.0)).collect();
        let mut out = vec![0.0f32; n * o];
        let act = if slope == 1.0 { Activation::Linear } else { Activation::Leaky { slope } };
        dense_forward(Gemm::detect(), &mut out, &inp, &w, &b, n, i, o, act);
        let mut dout: Vec<f32> = c.iter().map(|&v| v as f32).collect();
        let mut dinp = vec![f32::NAN; n * i];
        let mut dw = vec![0.0f32; o * i];
        let mut db = vec![0.0f32; o];
        dense_backward(
            Gemm::detect(),
            Some(&mut dinp),
            Some((&mut dw, &mut db)),
            &mut dout,
            &out,
            &inp,
            &w,
            n,
            i,
            o,
            act,
        );

        let s = slope as f64;
        let (inp64, w64, b64): (Vec<f64>, Vec<f64>, Vec<f64>) = (
            inp.iter().map(|&v| v as f64).collect(),
            w.iter().map(|&v| v as f64).collect(),
            b.iter().map(|&v| v as f64).collect(),
        );
        let loss = |x: &[f64], w: &[f64], b: &[f64]| -> f64 {
            dense64(x, w, b, n, i, o, s).iter().zip(&c).map(|(a, b)| a * b).sum()
        };
        let mut x = inp64.clone();
        let want_dx: Vec<f64> = (0..n * i).map(|k| numeric(&mut x, k, &|x| loss(x, &w64, &b64))).collect();
        let mut wv = w64.clone();
        let want_dw: Vec<f64> = (0..o * i).map(|k| numeric(&mut wv, k, &|w| loss(&inp64, w, &b64))).collect();
        let mut bv = b64.clone();
        let want_db: Vec<f64> = (0..o).map(|k| numeric(&mut bv, k, &|b| loss(&inp64, &w64, b))).collect();
        let what = format!("dense n={n} i={i} o={o} slope={slope}");
        assert_close(&dinp, &want_dx, 1e-4, 1e-3, &format!("{what} dinp"));
        assert_close(&dw, &want_dw, 1e-4, 1e-3, &format!("{what} dweight"));
        assert_close(&db, &want_db, 1e-4, 1e-3, &format!("{what} dbias"));
    }
}

#[test]
fn dense_backward_adds_into_parameter_gradients() {
    let (n, i, o) = (3, 5, 4);
    let mut r = rng(3);
    let inp = uniform(&mut r, n * i, -1.0, 1.0);
    let w = uniform(&mut r, o * i, -1.0, 1.0);
    let b = uniform(&mut r, o, -1.0, 1.0);
    let mut out = vec![0.0; n * o];
    dense_forward(Gemm::detect(), &mut out, &inp, &w, &b, n, i, o, Activation::Linear);
    let run = |dw: &mut [f32], db: &mut [f32]| {
        let mut dout = vec![1.0f32; n * o];
        dense_backward(Gemm::detect(), None, Some((dw, db)), &mut dout, &out, &inp, &w, n, i, o, Activation::Linear);
    };
    let (mut dw1, mut db1) = (vec![0.0; o * i], vec![0.0; o]);
    run(&mut dw1, &mut db1);
    let (mut dw2, mut db2) = (dw1.clone(), db1.clone());
    run(&mut dw2, &mut db2);
    for (a, b) in dw1.iter().zip(&dw2).chain(db1.iter().zip(&db2)) {
        assert!((2.0 * a - b).abs() <= 1e-5 * b.abs().max(1.0), "second backward must add: {a} then {b}");
    }
}

#[test]
fn leaky_relu_backward_matches_finite_differences_and_the_fused_layer() {
    let mut r = rng(11);
    for &len in &[1usize, 7, 16, 17, 33, 67] {
        for &slope in &[0.01f32, 0.2] {
            let x: Vec<f32> =
                uniform(&mut r, len, -2.0, 2.0).into_iter().map(|v| if v.abs() < 1e-2 { 0.5 } else { v }).collect();
            let c: Vec<f64> = (0..len).map(|_| r.random_range(-1.0..1.0)).collect();
            let mut y = vec![0.0f32; len];
            leaky_relu_forward(&mut y, &x, slope);
            let dy: Vec<f32> = c.iter().map(|&v| v as f32).collect();
            let mut dx = vec![0.0f32; len];
            leaky_relu_backward(&mut dx, &dy, &y, slope);
            let mut x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            let f = |x: &[f64]| x.iter().zip(&c).map(|(&u, &c)| c * leaky64(u, slope as f64)).sum::<f64>();
            let want: Vec<f64> = (0..len).map(|k| numeric(&mut x64, k, &f)).collect();
            assert_close(&dx, &want, 1e-6, 1e-4, &format!("leaky len={len} slope={slope}"));
            // The fused kernel in the dense layer gives the same backward.
            let mut fused = dy.clone();
            (hepae_kernels::kernels().leaky_backward)(&mut fused, &y, slope);
            assert_eq!(fused, dx);
        }
    }
}

#[test]
fn sigmoid_backward_matches_finite_differences() {
    let mut r = rng(12);
    let len = 37;
    let x = uniform(&mut r, len, -6.0, 6.0);
    let c: Vec<f64> = (0..len).map(|_| r.random_range(-1.0..1.0)).collect();
    let mut y = vec![0.0f32; len];
    sigmoid_forward(&mut y, &x);
    let dy: Vec<f32> = c.iter().map(|&v| v as f32).collect();
    let mut dx = vec![0.0f32; len];
    sigmoid_backward(&mut dx, &dy, &y);
    let mut x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let f = |x: &[f64]| x.iter().zip(&c).map(|(&u, &c)| c / (1.0 + (-u).exp())).sum::<f64>();
    let want: Vec<f64> = (0..len).map(|k| numeric(&mut x64, k, &f)).collect();
    assert_close(&dx, &want, 1e-6, 1e-4, "sigmoid");
}

#[test]
fn mse_gradient_matches_finite_differences_and_pytorch_mean_convention() {
    let mut r = rng(13);
    for &len in &[1usize, 5, 17, 64, 67] {
        let out = uniform(&mut r, len, -1.0, 2.0);
        let target = uniform(&mut r, len, 0.0, 1.0);
        let mut d = vec![0.0f32; len];
        let sse = mse_forward_backward(&mut d, &out, &target, len);
        let mut o64: Vec<f64> = out.iter().map(|&v| v as f64).collect();
        let t64: Vec<f64> = target.iter().map(|&v| v as f64).collect();
        let f = |o: &[f64]| o.iter().zip(&t64).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / len as f64;
        let want: Vec<f64> = (0..len).map(|k| numeric(&mut o64, k, &f)).collect();
        assert_close(&d, &want, 1e-6, 1e-4, &format!("mse len={len}"));
        let mean_ref = f(&out.iter().map(|&v| v as f64).collect::<Vec<_>>());
        assert!((sse / len as f64 - mean_ref).abs() <= 1e-6 * mean_ref.max(1e-12), "MSE value");
    }
}

/// f64 forward of a whole autoencoder from its (f32) parameters.
fn ae_loss64(model: &Autoencoder, params: &[f64], x: &[f64], n: usize) -> f64 {
    let mut h = x.to_vec();
    for layer in model.encoder.layers.iter().chain(&model.decoder.layers) {
        let w = &params[layer.w()..layer.w() + layer.out * layer.inp];
        let b = &params[layer.b()..layer.b() + layer.out];
        let slope = match layer.dense().expect("dense layers").act {
            Activation::Leaky { slope } => slope as f64,
            _ => 1.0,
        };
        h = dense64(&h, w, b, n, layer.inp, layer.out, slope);
    }
    h.iter().zip(x).map(|(o, t)| (o - t) * (o - t)).sum::<f64>() / x.len() as f64
}

#[test]
fn whole_autoencoder_gradient_matches_finite_differences() {
    for (seed, (d, hidden, latent, n, out_act)) in [
        (5, vec![7, 3], 2, 3, OutputActivation::Linear),
        (6, vec![9], 4, 5, OutputActivation::Leaky),
        (24, vec![17, 11], 5, 2, OutputActivation::Linear),
    ]
    .into_iter()
    .enumerate()
    {
        let shape = AeShape::standard(d, hidden, latent, 0.1, out_act);
        let mut model = Autoencoder::new(shape);
        model.init(seed as u64 + 100);
        let mut r = rng(seed as u64);
        let x = uniform(&mut r, n * d, 0.0, 1.0);
        let mut buf = model.plan(n, true);
        let mut grads = vec![0.0f32; model.params.len()];
        let sse = run_phase(&mut hepae::models::ae::Ae, 0, &model, &mut buf, &mut grads, &x, n, &mut rng(0)).0;
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let mut p64: Vec<f64> = model.params.data.iter().map(|&v| v as f64).collect();
        let base = ae_loss64(&model, &p64, &x64, n);
        assert!((sse / (n * d) as f64 - base).abs() <= 1e-5 * base, "loss value {sse} vs {base}");
        let want: Vec<f64> = (0..p64.len()).map(|k| numeric(&mut p64, k, &|p| ae_loss64(&model, p, &x64, n))).collect();
        // Parameters whose numeric derivative crosses a kink are rare; allow none.
        assert_close(&grads, &want, 2e-5, 2e-3, &format!("autoencoder d={d} n={n}"));
    }
}
