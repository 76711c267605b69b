//! hepae's image ops and its convolutional autoencoder against PyTorch
//! (tests/data/conv_fixture/make_conv_fixture.py, which wrote conv_fixture.safetensors):
//! nn.Conv2d, nn.ConvTranspose2d, nn.MaxPool2d, nn.AvgPool2d, nn.Upsample (nearest,
//! bilinear) and nn.PReLU (shared, per channel) at ragged shapes, forward and every gradient, to
//! float32 tolerance; and issue 15's reference CNN autoencoder, with LeakyReLU and with PReLU
//! (`--activation prelu`, toptag_torch.py's cnn-prelu), on the same weights: latent and
//! reconstruction to ≤ 1e-5 of the output's scale, the MSE, and its parameter gradients.

use hepae::engine::gemm::Gemm;
use hepae::engine::tensor::Shape;
use hepae::models::ae::{Ae, AeShape, Autoencoder, OutputActivation};
use hepae::models::conv_ae::ConvOptions;
use hepae::models::params::ParamStore;
use hepae::models::HiddenActivation;
use hepae::net::{Net, NetSpec};
use hepae::nn::activation::Activation;
use hepae::nn::conv2d::Conv2d;
use hepae::nn::conv_transpose2d::ConvTranspose2d;
use hepae::nn::op::OpSpec;
use hepae::nn::pool::{Pool2d, PoolMode};
use hepae::nn::prelu::Prelu;
use hepae::nn::upsample::{Upsample, UpsampleMode};
use serde_json::Value;

mod common;

struct Fixture {
    bytes: Vec<u8>,
}

impl Fixture {
    fn load() -> Self {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/conv_fixture/conv_fixture.safetensors");
        Fixture { bytes: std::fs::read(path).expect("fixture present") }
    }
    fn st(&self) -> safetensors::SafeTensors<'_> {
        safetensors::SafeTensors::deserialize(&self.bytes).expect("fixture is safetensors")
    }
    fn meta(&self, key: &str) -> Value {
        let (_, md) = safetensors::SafeTensors::read_metadata(&self.bytes).unwrap();
        serde_json::from_str(md.metadata().as_ref().unwrap().get(key).expect("metadata key")).unwrap()
    }
    fn get(&self, name: &str) -> Vec<f32> {
        let st = self.st();
        let t = st.tensor(name).unwrap_or_else(|_| panic!("tensor {name}"));
        t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    }
    fn has(&self, name: &str) -> bool {
        self.st().tensor(name).is_ok()
    }
}

/// |got − want| ≤ atol + rtol·|want| element-wise.
fn close(got: &[f32], want: &[f32], atol: f32, rtol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= atol + rtol * w.abs(), "{what}[{i}]: hepae {g} vs PyTorch {w}");
    }
}

/// max |got − want| / max |want|.
fn rel_err(got: &[f32], want: &[f32]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
    got.iter().zip(want).map(|(g, w)| (*g as f64 - *w as f64).abs()).fold(0.0, f64::max) / scale
}

fn op_of(case: &Value) -> OpSpec {
    let u = |k: &str| case[k].as_u64().unwrap_or_else(|| panic!("{k}")) as usize;
    match case["op"].as_str().unwrap() {
        "conv2d" => OpSpec::Conv2d(Conv2d {
            out: u("out"),
            kernel: u("kernel"),
            stride: u("stride"),
            pad: u("pad"),
            act: Activation::Linear,
        }),
        "conv_transpose2d" => OpSpec::ConvTranspose2d(ConvTranspose2d {
            out: u("out"),
            kernel: u("kernel"),
            stride: u("stride"),
            pad: u("pad"),
            out_pad: u("out_pad"),
            act: Activation::Linear,
        }),
        "pool2d" => OpSpec::Pool2d(Pool2d {
            mode: if case["mode"] == "max" { PoolMode::Max } else { PoolMode::Avg },
            kernel: u("kernel"),
            stride: u("stride"),
        }),
        "upsample" => OpSpec::Upsample(Upsample {
            mode: if case["mode"] == "nearest" { UpsampleMode::Nearest } else { UpsampleMode::Bilinear },
            scale: u("scale"),
        }),
        "prelu" => OpSpec::Prelu(Prelu { per_channel: case["per_channel"].as_bool().unwrap() }),
        other => panic!("unknown op {other}"),
    }
}

#[test]
fn every_image_op_matches_pytorch_forward_and_gradients() {
    let f = Fixture::load();
    let cases = f.meta("cases");
    let cases = cases.as_object().unwrap();
    assert_eq!(cases.len(), 13, "the fixture's cases");
    let mut kinds = std::collections::BTreeSet::new();
    for (name, case) in cases {
        let dims: Vec<usize> = case["input"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        let (n, input) = (dims[0], Shape::Image { c: dims[1], h: dims[2], w: dims[3] });
        let op = op_of(case);
        kinds.insert(format!("{}:{}", op.name(), case["mode"].as_str().unwrap_or("")));
        let spec = NetSpec { input, ops: vec![op] };
        spec.check().unwrap();
        let mut store = ParamStore::default();
        let net = Net::new(&mut store, "op", spec);
        let mut params = Vec::new();
        if f.has(&format!("{name}.weight")) {
            params.extend(f.get(&format!("{name}.weight")));
        }
        if f.has(&format!("{name}.bias")) {
            params.extend(f.get(&format!("{name}.bias")));
        }
        assert_eq!(params.len(), store.len(), "{name}: parameter count");
        let x = f.get(&format!("{name}.x"));
        let mut plan = net.plan(n, true, Gemm::detect());
        net.forward(&params, &x, &mut plan, n);
        close(plan.output(n), &f.get(&format!("{name}.y")), 1e-5, 1e-5, &format!("{name}: forward"));
        let dy = f.get(&format!("{name}.dy"));
        plan.out_grad_mut()[..dy.len()].copy_from_slice(&dy);
        let mut grads = vec![0.0f32; params.len()];
        let mut dx = vec![f32::NAN; x.len()];
        net.backward(&params, Some(&mut grads), &x, &mut plan, Some(&mut dx), n);
        close(&dx, &f.get(&format!("{name}.dx")), 1e-5, 1e-5, &format!("{name}: dx"));
        if f.has(&format!("{name}.dweight")) {
            let mut want = f.get(&format!("{name}.dweight"));
            if f.has(&format!("{name}.dbias")) {
                want.extend(f.get(&format!("{name}.dbias")));
            }
            close(&grads, &want, 2e-5, 1e-5, &format!("{name}: dweight, dbias"));
        }
    }
    let want =
        ["Conv2d:", "ConvTranspose2d:", "Pool2d:max", "Pool2d:avg", "Upsample:nearest", "Upsample:bilinear", "Prelu:"];
    assert_eq!(kinds, want.iter().map(|s| s.to_string()).collect(), "every op and mode is in the fixture");
}

/// The fixture's weight formula: element i of the t-th tensor, U(−1/√fan_in, 1/√fan_in) in
/// f64, rounded once to f32 (the script's `weight_value`).
fn weight_value(t: usize, i: usize, fan_in: usize) -> f32 {
    let q = ((i as u64 + 1) * 2_654_435_761 + t as u64 * 40_503) % 2001;
    ((q as f64 / 1000.0 - 1.0) / (fan_in as f64).sqrt()) as f32
}

/// Issue 15's reference CNN autoencoder (`--model conv-ae` defaults) with `activation`, its
/// weights from the fixture's formula; a PReLU's slopes are the fixture's `{prefix}.slope.NAME`.
fn reference_conv_ae(activation: HiddenActivation, f: &Fixture, prefix: &str) -> Autoencoder {
    let mut shape = AeShape::standard(1600, Vec::new(), 32, 0.01, OutputActivation::Linear);
    shape.conv = Some(ConvOptions::default().resolve(Shape::Image { c: 1, h: 40, w: 40 }).unwrap());
    shape.activation = activation;
    let mut model = Autoencoder::new(shape);
    let mut fan_in = 1;
    for (t, spec) in model.params.tensors.clone().iter().enumerate() {
        let slope = format!("{prefix}.slope.{}", spec.name);
        if f.has(&slope) {
            model.params.data[spec.range()].copy_from_slice(&f.get(&slope));
            continue;
        }
        if spec.shape.len() > 1 {
            fan_in = spec.shape[1..].iter().product();
        }
        for (i, v) in model.params.data[spec.range()].iter_mut().enumerate() {
            *v = weight_value(t, i, fan_in);
        }
    }
    model
}

#[test]
fn the_reference_conv_autoencoder_matches_pytorch_on_the_same_weights() {
    reference_ae_matches(HiddenActivation::Leaky, "ae", 224_257);
}

/// The cnn-prelu net (nn.PReLU() after every layer but the output): the same 224 257 weights
/// plus 7 slopes (4 in the encoder, the latent's included; 3 in the decoder).
#[test]
fn the_prelu_conv_autoencoder_matches_pytorch_on_the_same_weights() {
    reference_ae_matches(HiddenActivation::Prelu, "prelu_ae", 224_264);
}

fn reference_ae_matches(activation: HiddenActivation, prefix: &str, param_count: usize) {
    let f = Fixture::load();
    let meta = f.meta(prefix);
    let model = reference_conv_ae(activation, &f, prefix);
    let names: Vec<&str> = model.params.tensors.iter().map(|t| t.name.as_str()).collect();
    let want_names: Vec<&str> = meta["tensors"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(names, want_names, "hepae names its tensors as the fixture does, in the same order");
    assert_eq!(model.params.len(), param_count, "the reference net's parameter count");
    let n = meta["rows"].as_u64().unwrap() as usize;
    let x = f.get(&format!("{prefix}.x"));
    let mut buf = model.plan(n, true);
    let z = model.encode(&x, &mut buf, n).to_vec();
    let ez = rel_err(&z, &f.get(&format!("{prefix}.z")));
    assert!(ez <= 1e-5, "latent: relative error {ez:e}");
    let y = model.forward(&x, &mut buf, n).to_vec();
    let ey = rel_err(&y, &f.get(&format!("{prefix}.y")));
    assert!(ey <= 1e-5, "reconstruction: relative error {ey:e}");
    eprintln!("reference CNN AE ({prefix}) vs PyTorch: latent {ez:.2e}, reconstruction {ey:.2e} (max |Δ| / max |ref|)");

    // One training step's loss and gradients (the standard autoencoder's MSE, as PyTorch's).
    let mut grads = vec![0.0f32; model.params.len()];
    let mut rng = common::rng(1);
    let (sse, _) = common::run_phase(&mut Ae, 0, &model, &mut buf, &mut grads, &x, n, &mut rng);
    let loss = sse / (n * 1600) as f64;
    let want = f.get(&format!("{prefix}.loss"))[0] as f64;
    assert!((loss - want).abs() <= 1e-5 * want, "MSE {loss} vs PyTorch {want}");
    let every = meta["grad_every"].as_u64().unwrap() as usize;
    let mut worst = 0.0f64;
    for t in &model.params.tensors {
        let got: Vec<f32> = grads[t.range()].iter().step_by(every).copied().collect();
        let want = f.get(&format!("{prefix}.grad.{}", t.name));
        let e = rel_err(&got, &want);
        assert!(e <= 1e-4, "gradient of {}: relative error {e:e}", t.name);
        worst = worst.max(e);
    }
    eprintln!(
        "reference CNN AE ({prefix}) vs PyTorch: MSE {:.2e} relative, worst parameter gradient {worst:.2e}",
        (loss - want).abs() / want
    );
}
