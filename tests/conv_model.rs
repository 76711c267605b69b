//! The conv autoencoder as a user meets it: the default architecture is issue 15's reference
//! net (ops, parameter count, 6.0 MFLOP per forward); the other architectures (pooling,
//! nearest/bilinear upsampling, odd sizes) give back the input's shape or are refused with a
//! reason; conv-ae and the families on the conv backbone train, save, load back bit-identically,
//! evaluate and encode; training is deterministic; PReLU nets (`--activation prelu`, dense too)
//! start at slope 0.25, train their slopes and round-trip; and bad input on the command line gets one
//! line and exit 1 with nothing written.

use hepae::analysis::metrics::evaluate;
use hepae::data::npy::Dataset;
use hepae::engine::tensor::Shape;
use hepae::model_io::SavedModel;
use hepae::models::ae::{AeShape, Autoencoder, ModelKind, OutputActivation};
use hepae::models::conv_ae::{forward_flops, ConvOptions, Down, Up};
use hepae::models::HiddenActivation;
use hepae::nn::op::OpSpec;
use hepae::train::{train_autoencoder, Backbone, TrainConfig};
use std::path::{Path, PathBuf};
use std::process::Command;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hepae-convm-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `n` synthetic (c, h, w) images, one Gaussian blob each at a seeded place and width, as a
/// table of c·h·w columns (synthetic data).
fn images(dir: &Path, n: usize, [c, h, w]: [usize; 3]) -> PathBuf {
    let mut x = vec![0.0f32; n * c * h * w];
    for r in 0..n {
        let (cy, cx, s) = ((r * 7 % h) as f32, (r * 5 % w) as f32, 1.0 + (r % 3) as f32);
        for ch in 0..c {
            for y in 0..h {
                for xx in 0..w {
                    let d2 = (y as f32 - cy).powi(2) + (xx as f32 - cx).powi(2);
                    x[((r * c + ch) * h + y) * w + xx] = (ch + 1) as f32 * (-d2 / (2.0 * s * s)).exp();
                }
            }
        }
    }
    let path = dir.join("images.npy");
    hepae::data::npy::write_npy(&path, c * h * w, &x, None).unwrap();
    path
}

fn conv_shape(opts: &ConvOptions, image: [usize; 3], latent: usize) -> AeShape {
    let [c, h, w] = image;
    let mut shape = AeShape::standard(c * h * w, Vec::new(), latent, 0.01, OutputActivation::Linear);
    shape.conv = Some(opts.resolve(Shape::Image { c, h, w }).unwrap());
    shape
}

#[test]
fn the_default_architecture_is_the_issues_reference_net() {
    let model = Autoencoder::new(conv_shape(&ConvOptions::default(), [1, 40, 40], 32));
    let names: Vec<_> =
        model.encoder.layers.iter().chain(&model.decoder.layers).map(|l| (l.op.name(), l.out)).collect();
    assert_eq!(
        names,
        [
            ("Conv2d", 8 * 1600),
            ("Conv2d", 16 * 400),
            ("Conv2d", 32 * 100),
            ("Dense", 32),
            ("Dense", 3200),
            ("Reshape", 3200),
            ("ConvTranspose2d", 16 * 400),
            ("ConvTranspose2d", 8 * 1600),
            ("Conv2d", 1600)
        ]
    );
    for l in model.decoder.layers.iter().filter(|l| l.op.name() == "ConvTranspose2d") {
        let OpSpec::ConvTranspose2d(t) = &l.op else { unreachable!() };
        assert_eq!((t.kernel, t.stride, t.pad, t.out_pad), (4, 2, 1, 0), "4×4 stride-2 transposed convs");
    }
    assert_eq!(model.params.len(), 224_257);
    let flops = forward_flops(&model.encoder.spec) + forward_flops(&model.decoder.spec);
    assert_eq!(flops, 5_990_400, "6.0 MFLOP per image forward");
}

#[test]
fn every_architecture_gives_back_the_input_shape_or_says_why_not() {
    for (image, down, up, channels) in [
        ([1, 16, 16], Down::Pool, Up::Nearest, vec![4, 8, 8]),
        ([2, 12, 8], Down::Stride, Up::Bilinear, vec![3, 5]),
        ([1, 33, 33], Down::Stride, Up::Transpose, vec![4, 8, 8]), // 33 → 17 → 9 and back
        ([3, 7, 7], Down::Stride, Up::Transpose, vec![5]),         // one level: no halving
    ] {
        let opts = ConvOptions { channels, down, up, ..Default::default() };
        let model = Autoencoder::new(conv_shape(&opts, image, 5));
        let [c, h, w] = image;
        assert_eq!(
            model.decoder.layers.last().unwrap().out_shape,
            Shape::Image { c, h, w },
            "{image:?} {down:?} {up:?}"
        );
        assert_eq!(model.encoder.out_dim(), 5);
    }
    for (image, down, up, why) in [
        ([1, 9, 9], Down::Pool, Up::Transpose, "cannot be halved and doubled back"),
        ([1, 10, 10], Down::Stride, Up::Nearest, "cannot be halved and doubled back"), // 10 → 5 → 3
        ([1, 33, 31], Down::Stride, Up::Transpose, "different paddings"),
        ([1, 2, 2], Down::Stride, Up::Transpose, "do not fit"),
    ] {
        let opts = ConvOptions { channels: vec![2, 4, 8], down, up, ..Default::default() };
        let err = opts.resolve(Shape::Image { c: image[0], h: image[1], w: image[2] }).unwrap_err().to_string();
        assert!(err.contains(why), "{image:?}: {err}");
    }
    let even = ConvOptions { kernel: 4, ..Default::default() };
    assert!(even.resolve(Shape::Image { c: 1, h: 8, w: 8 }).unwrap_err().to_string().contains("odd"));
}

fn small_cfg(model: ModelKind, image: [usize; 3]) -> TrainConfig {
    TrainConfig {
        model,
        backbone: Backbone::Conv,
        latent: 4,
        epochs: Some(3),
        batch: Some(16),
        threads: 2,
        val_fraction: 0.2,
        gaussian_decoder: model == ModelKind::Vae,
        conv: ConvOptions { image: Some(image), channels: vec![3, 6], ..Default::default() },
        ..Default::default()
    }
}

#[test]
fn conv_ae_and_the_families_on_the_conv_backbone_round_trip_and_evaluate() {
    let dir = tmpdir("rt");
    let image = [1, 12, 10];
    let data = Dataset::open(&images(&dir, 80, image)).unwrap();
    for kind in [
        ModelKind::ConvAe,
        ModelKind::Vae,
        ModelKind::SparseL1,
        ModelKind::SparseKl,
        ModelKind::Denoising,
        ModelKind::Aae,
        ModelKind::Ae,
    ] {
        let cfg = small_cfg(kind, image);
        let out = train_autoencoder(&data, &cfg, &mut |_| {}).unwrap();
        assert!(out.stopped.is_none(), "{kind}: {:?}", out.stopped);
        assert!(out.model.encoder.layers.iter().any(|l| l.op.name() == "Conv2d"), "{kind}: a conv encoder");
        if kind == ModelKind::ConvAe {
            let (first, last) = (out.history[0].train_loss, out.history.last().unwrap().train_loss);
            assert!(last < first, "conv-ae trains: {first} then {last}");
        }
        let saved = SavedModel::from_training(&out, &cfg, &data);
        let path = dir.join(format!("{kind}.safetensors"));
        saved.save(&path).unwrap();
        let back = SavedModel::load(&path).unwrap();
        assert!(back.ae == saved.ae, "{kind}: nets and weights come back bit-identical");
        assert!(back.meta == saved.meta, "{kind}: metadata comes back unchanged");
        let ev = evaluate(&back, &data, None, "all rows").unwrap();
        assert!(ev.mse.is_finite(), "{kind}: MSE {}", ev.mse);
        // The per-op encoder path is the model's own forward: the same codes as encoding
        // directly; the fused conv path (the default, where it applies) the same to rounding.
        let mut enc = hepae::encoder::Encoder::new(&back, 7).without_fusion();
        let mut z = vec![f32::NAN; 10 * 4];
        enc.encode(&data.as_slice()[..10 * 120], 10, &mut z).unwrap();
        let mut fused = hepae::encoder::Encoder::new(&back, 7);
        let mut zf = vec![f32::NAN; 10 * 4];
        fused.encode(&data.as_slice()[..10 * 120], 10, &mut zf).unwrap();
        let mut x = data.as_slice()[..10 * 120].to_vec();
        back.meta.normalizer.normalize_rows(&mut x).unwrap();
        let mut buf = back.ae.plan(10, false);
        let direct = back.ae.encode(&x, &mut buf, 10);
        // Rows 0..7 take the same GEMM path bit for bit; the last 3 the dense op's small-batch
        // path (another summation order).
        assert_eq!(&z[..7 * 4], &direct[..7 * 4], "{kind}: Encoder (batches of 7, packed plan) = Autoencoder::encode");
        for ((a, f), b) in z.iter().zip(&zf).zip(direct) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{kind}: small-batch rows {a} vs {b}");
            assert!((f - b).abs() <= 1e-5 * (1.0 + b.abs()), "{kind}: fused {f} vs {b}");
        }
        let mut dec = hepae::encoder::Decoder::new(&back, 4);
        let mut rec = vec![f32::NAN; 10 * 120];
        dec.decode(&z, 10, &mut rec);
        assert!(rec.iter().all(|v| v.is_finite()), "{kind}: decoded images are finite");
    }
    for kind in [ModelKind::Pca, ModelKind::AePca] {
        let err = train_autoencoder(&data, &small_cfg(kind, image), &mut |_| {}).unwrap_err().to_string();
        assert!(err.contains("--backbone conv does not apply"), "{kind}: {err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn conv_training_is_deterministic_for_a_seed_and_thread_count() {
    let dir = tmpdir("det");
    let image = [2, 8, 8];
    let data = Dataset::open(&images(&dir, 48, image)).unwrap();
    let cfg = TrainConfig { epochs: Some(2), ..small_cfg(ModelKind::ConvAe, image) };
    let a = train_autoencoder(&data, &cfg, &mut |_| {}).unwrap();
    let b = train_autoencoder(&data, &cfg, &mut |_| {}).unwrap();
    assert!(a.model.params.data == b.model.params.data, "same seed and threads: the same bits");
    let other = TrainConfig { seed: 2, ..cfg };
    let c = train_autoencoder(&data, &other, &mut |_| {}).unwrap();
    assert!(a.model.params.data != c.model.params.data, "another seed: other weights");
    std::fs::remove_dir_all(&dir).ok();
}

/// A conv AE's step runs its shard in passes of a few images (`Family::micro_batch`) and adds
/// their gradients: the same gradient as one pass over the shard, summed in another order, so
/// the trained weights agree to float rounding whatever the pass size (and each pass size is
/// itself deterministic).
#[test]
fn conv_training_in_passes_of_a_few_images_is_the_one_pass_gradient() {
    let dir = tmpdir("micro");
    let image = [2, 8, 8];
    let data = Dataset::open(&images(&dir, 48, image)).unwrap();
    let cfg = TrainConfig { epochs: Some(2), batch: Some(20), ..small_cfg(ModelKind::ConvAe, image) };
    let whole =
        train_autoencoder(&data, &TrainConfig { micro_batch: Some(usize::MAX), ..cfg.clone() }, &mut |_| {}).unwrap();
    for micro in [1, 3, 16] {
        let passes = TrainConfig { micro_batch: Some(micro), ..cfg.clone() };
        let got = train_autoencoder(&data, &passes, &mut |_| {}).unwrap();
        let (a, b) = (&got.model.params.data, &whole.model.params.data);
        let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs() / y.abs().max(1e-2)).fold(0.0f32, f32::max);
        assert!(worst < 1e-3, "passes of {micro}: weights {worst:e} from the one-pass run");
        // 20 rows over 2 threads: a pass of 10 or more is the one pass, bit for bit.
        assert_eq!(a == b, micro >= 10, "passes of {micro}: another order, unless one pass");
        let again = train_autoencoder(&data, &passes, &mut |_| {}).unwrap();
        assert!(again.model.params.data == got.model.params.data, "passes of {micro}: the same bits again");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The slopes of a net's PReLU ops, in order.
fn slopes(m: &Autoencoder) -> Vec<f32> {
    let layers = m.encoder.layers.iter().chain(&m.decoder.layers);
    layers.filter(|l| l.op.name() == "Prelu").flat_map(|l| m.params.data[l.params.clone()].to_vec()).collect()
}

#[test]
fn prelu_nets_start_at_a_quarter_train_their_slopes_and_round_trip() {
    let dir = tmpdir("prelu");
    let image = [1, 12, 10];
    let data = Dataset::open(&images(&dir, 80, image)).unwrap();
    // conv-ae: one slope per PReLU (after 2 convs and the latent; after the dense, 1 transposed conv).
    // Dense backbone on the flattened pixels, one slope per feature: 8 + 4 (latent) + 8.
    let dense = TrainConfig { backbone: Backbone::Dense, hidden: vec![8], ..small_cfg(ModelKind::Ae, image) };
    for (cfg, act, n_slopes) in
        [(small_cfg(ModelKind::ConvAe, image), HiddenActivation::Prelu, 5), (dense, HiddenActivation::PreluChannel, 20)]
    {
        let cfg = TrainConfig { activation: act, ..cfg };
        let start = slopes(&hepae::train::Session::new(&data, &cfg).unwrap().model);
        assert_eq!(start, vec![0.25; n_slopes], "{act:?}: PyTorch's initial slope, one per layer or channel");
        let out = train_autoencoder(&data, &cfg, &mut |_| {}).unwrap();
        let trained = slopes(&out.model);
        // A shared slope sees every negative input; a feature's own slope only its own (one
        // that was never negative keeps a zero gradient and stays at 0.25).
        let moved = trained.iter().filter(|&&a| a != 0.25).count();
        let want = if act == HiddenActivation::Prelu { n_slopes } else { n_slopes / 2 };
        assert!(moved >= want && trained.iter().all(|a| a.is_finite()), "{act:?}: Adam moved the slopes: {trained:?}");
        let saved = SavedModel::from_training(&out, &cfg, &data);
        let path = dir.join(format!("{act:?}.safetensors"));
        saved.save(&path).unwrap();
        let back = SavedModel::load(&path).unwrap();
        assert!(back.ae == saved.ae, "{act:?}: nets, slopes and weights come back bit-identical");
        assert_eq!(back.meta.shape.activation, act);
        assert!(evaluate(&back, &data, None, "all rows").unwrap().mse.is_finite());
        let again = train_autoencoder(&data, &cfg, &mut |_| {}).unwrap();
        assert!(again.model.params.data == out.model.params.data, "{act:?}: deterministic for a seed");
    }
    std::fs::remove_dir_all(&dir).ok();
}

fn hepae(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hepae")).args(args).output().expect("run hepae")
}

#[test]
fn bad_conv_input_gets_one_line_and_nothing_is_written() {
    let dir = tmpdir("cli");
    let data = images(&dir, 40, [1, 6, 6]);
    let model = dir.join("m.safetensors");
    let (d, m) = (data.to_str().unwrap(), model.to_str().unwrap());
    for (args, why) in [
        (vec!["--image-shape", "1x6x5"], "holds 30 values but each row has 36"),
        (vec![], "give --image-shape"),
        (vec!["--image-shape", "1x6"], "is not CxHxW"),
        (vec!["--image-shape", "1x6x6", "--conv-kernel", "2"], "must be odd"),
        (vec!["--image-shape", "1x6x6", "--conv-channels", "2,4,8,16,32"], "do not fit"),
        (vec!["--image-shape", "1x6x6", "--conv-down", "sideways"], "sideways"),
        (vec!["--image-shape", "1x6x6", "--activation", "prelux"], "is not leaky, prelu or prelu-channel"),
    ] {
        let mut all = vec!["train", d, "--model", "conv-ae", "-o", m, "--epochs", "1", "-q"];
        all.extend(args.iter().copied());
        let out = hepae(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(why), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line: {err}");
        assert!(!model.exists(), "{args:?}: no model written");
    }
    let ok = hepae(&[
        "train",
        d,
        "--model",
        "conv-ae",
        "--image-shape",
        "1x6x6",
        "--conv-channels",
        "2,4",
        "--activation",
        "prelu",
        "-o",
        m,
        "--epochs",
        "1",
        "-q",
    ]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let back = SavedModel::load(&model).unwrap();
    assert_eq!(back.meta.kind, ModelKind::ConvAe);
    assert_eq!(back.meta.shape.activation, HiddenActivation::Prelu, "--activation prelu is stored in the model");
    assert!(back.ae.encoder.layers.iter().any(|l| l.op.name() == "Prelu"), "and its nets have PReLU ops");
    assert_eq!(back.meta.shape.latent, 32, "conv-ae's default latent is the reference net's");
    std::fs::remove_dir_all(&dir).ok();
}
