//! hepae against a fixture written by PyTorch (tests/data/make_torch_fixture.py): the same
//! weights and batch must give PyTorch's output, loss, gradients, and parameters after three
//! Adam steps.

use hepae::models::ae::{AeShape, Autoencoder, OutputActivation};
use hepae::nn::adam::Adam;
use rand::SeedableRng;
use serde_json::Value;

fn fixture() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/torch_fixture.json"))
        .expect("fixture present");
    serde_json::from_str(&text).expect("fixture is JSON")
}

mod common;
use common::run_phase;
use hepae::models::ae::Ae;

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number") as f32).collect()
}

fn close(got: &[f32], want: &[f32], atol: f32, rtol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= atol + rtol * w.abs(), "{what}[{i}]: hepae {g} vs PyTorch {w}");
    }
}

fn model_from(f: &Value) -> Autoencoder {
    let dims = &f["dims"];
    let shape = AeShape::standard(
        dims["input"].as_u64().unwrap() as usize,
        dims["hidden"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect(),
        dims["latent"].as_u64().unwrap() as usize,
        f["slope"].as_f64().unwrap() as f32,
        OutputActivation::Linear,
    );
    let mut model = Autoencoder::new(shape);
    for spec in model.params.tensors.clone() {
        let w = floats(&f["params"][&spec.name]);
        model.params.data[spec.range()].copy_from_slice(&w);
    }
    model
}

#[test]
fn forward_loss_and_gradients_match_pytorch() {
    let f = fixture();
    let model = model_from(&f);
    let x = floats(&f["x"]);
    let n = f["dims"]["batch"].as_u64().unwrap() as usize;
    let mut buf = model.plan(n, true);
    let out = model.forward(&x, &mut buf, n).to_vec();
    close(&out, &floats(&f["output"]), 1e-6, 1e-5, "output");
    let mut grads = vec![0.0f32; model.params.len()];
    let sse = run_phase(&mut Ae, 0, &model, &mut buf, &mut grads, &x, n, &mut rand::rngs::StdRng::seed_from_u64(0)).0;
    let loss = f["loss"].as_f64().unwrap();
    assert!((sse / x.len() as f64 - loss).abs() <= 1e-6 * loss, "loss {} vs PyTorch {loss}", sse / x.len() as f64);
    for spec in &model.params.tensors {
        close(&grads[spec.range()], &floats(&f["grads"][&spec.name]), 1e-6, 1e-4, &spec.name);
    }
}

#[test]
fn three_adam_steps_match_pytorch() {
    let f = fixture();
    let mut model = model_from(&f);
    let x = floats(&f["x"]);
    let n = f["dims"]["batch"].as_u64().unwrap() as usize;
    let mut buf = model.plan(n, true);
    let mut adam = Adam::new(model.params.len(), f["lr"].as_f64().unwrap() as f32);
    let mut grads = vec![0.0f32; model.params.len()];
    for _ in 0..3 {
        grads.fill(0.0);
        run_phase(&mut Ae, 0, &model, &mut buf, &mut grads, &x, n, &mut rand::rngs::StdRng::seed_from_u64(0));
        adam.step(&mut model.params.data, &grads);
    }
    for spec in &model.params.tensors {
        close(
            &model.params.data[spec.range()],
            &floats(&f["params_after_3_adam_steps"][&spec.name]),
            1e-6,
            1e-5,
            &spec.name,
        );
    }
}

/// Two steps worked by hand from the update rule (lr 0.1, β1 0.9, β2 0.999, ε 1e-8):
/// step 1, g = 0.5:  m = 0.05, v = 2.5e-4, m̂ = 0.5, v̂ = 0.25 → p = 1 − 0.1·0.5/(0.5 + 1e-8) = 0.900000002
/// step 2, g = −1:   m = −0.055, v = 1.24975e-3, m̂ = −0.055/0.19 = −0.289473684,
///                   v̂ = 1.24975e-3/1.999e-3 = 0.625187594, √v̂ = 0.790688051
///                   → p = 0.900000002 + 0.1·0.289473684/0.790688051 = 0.936610354
#[test]
fn adam_matches_hand_computed_steps() {
    let mut adam = Adam::new(1, 0.1);
    let mut p = [1.0f32];
    adam.step(&mut p, &[0.5]);
    assert!((p[0] as f64 - 0.900000002).abs() < 1e-7, "after step 1: {}", p[0]);
    adam.step(&mut p, &[-1.0]);
    assert!((p[0] as f64 - 0.936610354).abs() < 2e-7, "after step 2: {}", p[0]);
    let (m, v) = adam.moments();
    assert!((m[0] + 0.055).abs() < 1e-7, "m = {}", m[0]);
    assert!((v[0] - 1.24975e-3).abs() < 1e-9, "v = {}", v[0]);
}
