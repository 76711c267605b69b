//! The fused conv encoder (direct convolutions, channels-last, then the dense chain kernel)
//! gives the latents of the net's per-op forward (`without_fusion()`) to float rounding on
//! every kernel set this CPU has, at batch 1, 3 and 70: the reference CNN AE of issue 15,
//! ragged architectures (odd sizes, several input channels, widths that are no multiple of
//! the vector width), LeakyReLU and PReLU (shared and per channel, a PReLU latent), the VAE's
//! μ head and a non-affine (√) normaliser. Pooling keeps the per-op path; NaN pixels are
//! refused at the same row and column as before. (Random weights; synthetic images.)

use hepae::data::normalize::{ColumnTransform, Normalizer};
use hepae::encoder::{BadInput, Encoder};
use hepae::engine::tensor::Shape;
use hepae::models::ae::{AeShape, Autoencoder, ModelKind, OutputActivation};
use hepae::models::conv_ae::ConvOptions;
use hepae::models::{HiddenActivation, LatentActivation};
use hepae::nn::op::OpSpec;
use hepae::SavedModel;
use hepae_kernels::available_isas;
use rand::{Rng, SeedableRng};

struct Arch {
    name: &'static str,
    image: [usize; 3],
    channels: Vec<usize>,
    kernel: usize,
    latent: usize,
    activation: HiddenActivation,
    variational: bool,
    latent_act: LatentActivation,
}

fn arch(name: &'static str, image: [usize; 3], channels: &[usize], latent: usize) -> Arch {
    Arch {
        name,
        image,
        channels: channels.to_vec(),
        kernel: 3,
        latent,
        activation: HiddenActivation::Leaky,
        variational: false,
        latent_act: LatentActivation::Linear,
    }
}

/// A conv model of `a` with PyTorch's initialisation (seeded) and PReLU slopes drawn in
/// (−0.3, 0.6), an identity (or √) normaliser.
fn model(a: &Arch, down: &str, sqrt: bool, seed: u64) -> SavedModel {
    let [c, h, w] = a.image;
    let opts = ConvOptions {
        channels: a.channels.clone(),
        kernel: a.kernel,
        down: down.parse().unwrap(),
        ..Default::default()
    };
    let mut shape = AeShape::standard(c * h * w, Vec::new(), a.latent, 0.01, OutputActivation::Linear);
    shape.conv = Some(opts.resolve(Shape::Image { c, h, w }).unwrap());
    shape.activation = a.activation;
    shape.variational = a.variational;
    shape.latent_activation = a.latent_act;
    let mut ae = Autoencoder::new(shape);
    ae.init(seed);
    let mut r = rand::rngs::StdRng::seed_from_u64(seed + 1);
    for l in ae.encoder.layers.clone() {
        if matches!(l.op, OpSpec::Prelu(_)) {
            for v in &mut ae.params.data[l.params.clone()] {
                *v = r.random_range(-0.3f32..0.6);
            }
        }
    }
    let columns: Vec<String> = (0..c * h * w).map(|i| format!("p{i}")).collect();
    let mut norm = Normalizer::identity(&columns);
    if sqrt {
        norm.transforms = vec![ColumnTransform::Sqrt; c * h * w];
    }
    let kind = if a.variational { ModelKind::Vae } else { ModelKind::ConvAe };
    SavedModel::new(kind, ae, columns, norm)
}

/// `rows` synthetic images, pixels in [0, 2).
fn images(rows: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut r = rand::rngs::StdRng::seed_from_u64(seed);
    (0..rows * d).map(|_| r.random_range(0.0f32..2.0)).collect()
}

fn encode(enc: &mut Encoder, x: &[f32], rows: usize) -> Vec<f32> {
    let mut z = vec![f32::NAN; rows * enc.latent_dim()];
    enc.encode(x, rows, &mut z).expect("finite images");
    z
}

/// Each latent within 1e-5 of the per-op value, relative to the larger of that value and
/// the row's largest latent (a latent near 0 is a sum that cancelled: its error is that of
/// the row's sums).
fn assert_close(got: &[f32], want: &[f32], l: usize, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (r, (g, w)) in got.chunks_exact(l).zip(want.chunks_exact(l)).enumerate() {
        let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (i, (a, b)) in g.iter().zip(w).enumerate() {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(scale), "{what}: row {r} latent {i}: {a} vs {b}");
        }
    }
}

fn archs() -> Vec<Arch> {
    let mut v = vec![
        arch("the reference CNN AE (1×40×40, 8/16/32, latent 32)", [1, 40, 40], &[8, 16, 32], 32),
        arch("odd sizes, 3 channels, ragged widths", [3, 11, 9], &[5, 19], 7),
        arch("two levels down, 33 channels", [2, 13, 13], &[17, 9, 33], 10),
        Arch { kernel: 5, ..arch("5×5 kernels", [1, 15, 15], &[8, 16], 6) },
        Arch { activation: HiddenActivation::Prelu, ..arch("PReLU (shared)", [1, 40, 40], &[8, 16, 32], 32) },
        Arch { activation: HiddenActivation::PreluChannel, ..arch("PReLU per channel", [3, 11, 9], &[5, 19], 7) },
        Arch { variational: true, ..arch("VAE μ head", [1, 20, 20], &[8, 16, 32], 12) },
    ];
    v.push(Arch {
        activation: HiddenActivation::Prelu,
        latent_act: LatentActivation::Leaky,
        ..arch("PReLU latent", [1, 12, 12], &[4, 8], 5)
    });
    v
}

#[test]
fn the_fused_conv_encoder_gives_the_per_op_latents_on_every_kernel_set() {
    for (n, a) in archs().iter().enumerate() {
        let m = model(a, "stride", n == 1, 10 + n as u64);
        let d = a.image.iter().product::<usize>();
        let x = images(70, d, n as u64);
        for isa in available_isas() {
            let mut per_op = Encoder::with_isa(&m, 70, isa).expect("available").without_fusion();
            assert!(!per_op.is_conv_fused());
            let want = encode(&mut per_op, &x, 70);
            for max_batch in [1usize, 3, 70] {
                let mut fused = Encoder::with_isa(&m, max_batch, isa).expect("available");
                assert!(fused.is_conv_fused() && fused.is_fused(), "{}: fused", a.name);
                for rows in [1usize, 3, 70] {
                    let got = encode(&mut fused, &x[..rows * d], rows);
                    let what = format!("{} on {isa:?}, batch {rows} (steps of {max_batch})", a.name);
                    assert_close(&got, &want[..rows * a.latent], a.latent, &what);
                }
            }
        }
    }
}

#[test]
fn pooling_keeps_the_per_op_path() {
    let a = arch("pool", [1, 16, 16], &[8, 16], 6);
    let m = model(&a, "pool", false, 3);
    let enc = Encoder::new(&m, 8);
    assert!(!enc.is_conv_fused() && !enc.is_fused());
}

#[test]
fn nan_pixels_are_refused_at_the_same_row_and_column_as_the_per_op_path() {
    let a = arch("reference", [1, 40, 40], &[8, 16, 32], 32);
    for sqrt in [false, true] {
        let m = model(&a, "stride", sqrt, 5);
        let mut x = images(5, 1600, 7);
        x[3 * 1600 + 411] = f32::NAN;
        if sqrt {
            x[1600 + 17] = -1.0; // √ of a negative pixel: refused where the normaliser sees it
        }
        for max_batch in [1usize, 8] {
            let mut z = vec![0.0; 5 * 32];
            let mut fused = Encoder::new(&m, max_batch);
            assert!(fused.is_conv_fused());
            let got = fused.encode(&x, 5, &mut z);
            let want = Encoder::new(&m, max_batch).without_fusion().encode(&x, 5, &mut z);
            assert_eq!(got, want, "√ normaliser {sqrt}, steps of {max_batch}");
            // Steps of one image meet the negative pixel first; one step of 5 checks every value
            // for finiteness before normalising.
            let first =
                if sqrt && max_batch == 1 { BadInput { row: 1, col: 17 } } else { BadInput { row: 3, col: 411 } };
            assert_eq!(got, Err(first), "√ normaliser {sqrt}, steps of {max_batch}");
        }
    }
}

#[test]
fn each_encoder_names_its_path_and_bench_reports_the_fused_conv_one() {
    let a = arch("reference", [1, 20, 20], &[8, 16, 32], 8);
    let m = model(&a, "stride", false, 21);
    let enc = Encoder::new(&m, 64);
    assert_eq!((enc.path_at(1), enc.path_at(64)), ("fused-conv", "fused-conv"));
    assert_eq!(Encoder::new(&m, 64).without_fusion().path_at(1), "per-op");
    let pooled = Encoder::new(&model(&a, "pool", false, 21), 64);
    assert_eq!(pooled.path_at(1), "per-op");

    let dir = std::env::temp_dir().join(format!("hepae-encode-conv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("conv.safetensors");
    m.save(&path).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hepae"))
        .args(["bench", path.to_str().unwrap(), "--no-train", "--threads", "1", "--batch", "1,16", "--rows", "32"])
        .args(["--reps", "1", "--json", "-"])
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(out.status.success(), "bench failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value = serde_json::from_str(&text[text.find('{').expect("a JSON report")..]).unwrap();
    let encodes: Vec<_> = json["rows"].as_array().unwrap().iter().filter(|r| r["what"] == "encode").collect();
    assert!(encodes.len() >= 2, "{encodes:?}");
    for r in encodes {
        assert_eq!(r["path"], "fused-conv", "{r}");
    }
}

/// An encoder no `--model` builds but a model file may hold: a linear conv with a standalone
/// LeakyReLU op, a stride-2 4×4 conv with a per-channel PReLU, an explicit flatten, then two
/// dense layers (a shared PReLU between them): the dense chain runs through `mlp_forward`.
fn hand_built(seed: u64) -> SavedModel {
    use hepae::nn::activation::Activation;
    use hepae::nn::{act::Act, conv2d::Conv2d, dense::Dense, prelu::Prelu, reshape::Reshape};
    let a = arch("hand-built", [2, 9, 9], &[6, 10], 7);
    let m = model(&a, "stride", false, seed);
    let mut specs = m.ae.net_specs();
    let conv = |out, kernel, stride| OpSpec::Conv2d(Conv2d { out, kernel, stride, pad: 1, act: Activation::Linear });
    specs.encoder.ops = vec![
        conv(6, 3, 1),
        OpSpec::Act(Act { act: Activation::Leaky { slope: 0.2 } }),
        conv(10, 4, 2),
        OpSpec::Prelu(Prelu { per_channel: true }),
        OpSpec::Reshape(Reshape { to: Shape::Features(160) }),
        OpSpec::Dense(Dense { out: 20, act: Activation::Linear }),
        OpSpec::Prelu(Prelu { per_channel: false }),
        OpSpec::Dense(Dense { out: 7, act: Activation::Leaky { slope: 0.01 } }),
    ];
    let mut ae = Autoencoder::from_specs(m.ae.shape.clone(), specs);
    ae.init(seed);
    let mut r = rand::rngs::StdRng::seed_from_u64(seed + 2);
    for l in ae.encoder.layers.clone() {
        if matches!(l.op, OpSpec::Prelu(_)) {
            for v in &mut ae.params.data[l.params.clone()] {
                *v = r.random_range(-0.3f32..0.6);
            }
        }
    }
    SavedModel::new(ModelKind::ConvAe, ae, m.meta.columns.clone(), m.meta.normalizer.clone())
}

#[test]
fn a_hand_built_encoder_with_standalone_activations_and_two_dense_layers_is_fused_too() {
    let m = hand_built(31);
    let x = images(70, 162, 4);
    for isa in available_isas() {
        let want = encode(&mut Encoder::with_isa(&m, 70, isa).unwrap().without_fusion(), &x, 70);
        for max_batch in [1usize, 70] {
            let mut fused = Encoder::with_isa(&m, max_batch, isa).unwrap();
            assert!(fused.is_conv_fused(), "{isa:?}");
            assert_close(
                &encode(&mut fused, &x, 70),
                &want,
                7,
                &format!("hand-built on {isa:?}, steps of {max_batch}"),
            );
        }
    }
}
