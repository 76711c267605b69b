//! The normalized autoencoder trains as the loop's phases say: plain-autoencoder epochs
//! first, then NAE epochs whose history carries positive and negative energies and the
//! chains' acceptance; the run is deterministic for a seed and thread count; every knob is
//! stored in the model file, the spherical latent survives a reload, and the energy is what
//! `score` gives. Real jets: 188 CMS Drell-Yan NanoAOD jets × 37 variables.

use hepae::anomaly::{score_dataset, ScoreKind, ScoreOptions};
use hepae::data::npy::Dataset;
use hepae::model_io::SavedModel;
use hepae::models::nae::langevin::Chain;
use hepae::models::nae::NaeOptions;
use hepae::models::ModelKind;
use hepae::nn::op::OpSpec;
use hepae::train::{train_autoencoder, TrainConfig};
use rand::SeedableRng;

fn data() -> Dataset {
    Dataset::open(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dy_nano_v6.npy").as_ref()).unwrap()
}

/// 4 pre-training epochs and 3 NAE epochs with short chains (the test stays fast).
fn cfg(threads: usize) -> TrainConfig {
    let d = NaeOptions::default();
    TrainConfig {
        model: ModelKind::Nae,
        hidden: vec![32, 16],
        latent: 4,
        epochs: Some(4),
        batch: Some(32),
        threads,
        nae: NaeOptions { epochs: 3, lr: 1e-4, z: Chain { steps: 5, ..d.z }, x: Chain { steps: 5, ..d.x }, ..d },
        ..Default::default()
    }
}

#[test]
fn pre_training_then_nae_epochs_with_energies_in_the_history() {
    let data = data();
    let out = train_autoencoder(&data, &cfg(1), &mut |_| {}).unwrap();
    assert!(out.stopped.is_none(), "{:?}", out.stopped);
    assert_eq!(out.history.len(), 7, "4 autoencoder epochs + 3 NAE epochs");
    for h in &out.history[..4] {
        assert!(h.energies.is_none(), "epoch {}: pre-training has no negative samples", h.epoch);
    }
    for h in &out.history[4..] {
        let e = h.energies.expect("NAE epochs record energies");
        assert!(e.pos.is_finite() && e.pos > 0.0 && e.neg.is_finite() && e.neg >= 0.0, "epoch {}: {e:?}", h.epoch);
        assert!((0.0..=1.0).contains(&e.z_accept) && (0.0..=1.0).contains(&e.x_accept), "{e:?}");
        // The training loss of an NAE epoch is the NAE loss: E+ − E− + γ·E−² (+ L2).
        let want = e.pos - e.neg + e.neg * e.neg;
        assert!(
            (h.train_loss - want).abs() < 0.05 * want.abs().max(1e-3),
            "epoch {}: loss {} vs {want}",
            h.epoch,
            h.train_loss
        );
    }
    // The pre-training lowered the reconstruction error.
    assert!(out.history[3].train_loss < out.history[0].train_loss);
    // The model has the spherical latent: every code lies on the unit sphere.
    let enc = &out.model.encoder;
    assert!(matches!(enc.spec.ops.last(), Some(OpSpec::Sphere(_))), "the encoder ends in the sphere projection");
    let x: Vec<f32> = vec![0.5; 3 * data.cols()];
    let mut buf = out.model.plan(3, false);
    for z in out.model.encode(&x, &mut buf, 3).chunks(4) {
        assert!((z.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn nae_training_is_deterministic_for_a_seed_and_thread_count() {
    let data = data();
    for threads in [1, 2] {
        let a = train_autoencoder(&data, &cfg(threads), &mut |_| {}).unwrap();
        let b = train_autoencoder(&data, &cfg(threads), &mut |_| {}).unwrap();
        assert_eq!(a.model.params.data, b.model.params.data, "{threads} threads: same bits");
        assert_eq!(
            a.history.iter().map(|h| h.energies).collect::<Vec<_>>(),
            b.history.iter().map(|h| h.energies).collect::<Vec<_>>()
        );
    }
    let other = TrainConfig { seed: 2, ..cfg(1) };
    let a = train_autoencoder(&data, &cfg(1), &mut |_| {}).unwrap();
    let c = train_autoencoder(&data, &other, &mut |_| {}).unwrap();
    assert_ne!(a.model.params.data, c.model.params.data, "another seed, another model");
}

#[test]
fn the_model_file_keeps_every_knob_and_scores_the_energy() {
    let data = data();
    let mut cfg = cfg(1);
    cfg.nae.x.bound = Some([-0.5, 1.5]);
    cfg.nae.gamma = 0.5;
    let out = train_autoencoder(&data, &cfg, &mut |_| {}).unwrap();
    let saved = SavedModel::from_training(&out, &cfg, &data);
    let dir = std::env::temp_dir().join(format!("hepae-nae-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("nae.safetensors");
    saved.save(&path).unwrap();
    let back = SavedModel::load(&path).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(back.meta.kind, ModelKind::Nae);
    assert_eq!(back.meta.training.as_ref().unwrap().config.nae, cfg.nae, "every NAE knob is stored");
    assert!(back.ae.shape.spherical);
    assert_eq!(back.ae.params.data, out.model.params.data);
    // The anomaly score `mse` of an NAE is its energy E(x) = ‖x − x̂‖²/D (normalised space).
    let opt = ScoreOptions { samples: 1, seed: 1 };
    let scores = score_dataset(&back, &data, None, ScoreKind::Mse, &opt).unwrap();
    let energy = score_dataset(&back, &data, None, ScoreKind::Energy, &opt).unwrap();
    assert_eq!(scores.len(), data.rows());
    let n = 10;
    let mut x = vec![0.0f32; n * data.cols()];
    data.gather(&(0..n as u32).collect::<Vec<_>>(), &mut x);
    back.meta.normalizer.normalize_rows(&mut x).unwrap();
    let mut w = hepae::models::nae::energy::EnergyWork::new(&back.ae, n, hepae::engine::gemm::Gemm::detect());
    let mut e = vec![0.0f32; n];
    hepae::models::nae::energy::energies(&back.ae, &mut w, &x, n, &mut e);
    for r in 0..n {
        assert!(
            (scores[r] - e[r]).abs() <= 1e-6 + 1e-5 * e[r].abs(),
            "row {r}: score {} vs energy {}",
            scores[r],
            e[r]
        );
        // T = 1 by default: the energy score E/T is the same number.
        assert!(
            (energy[r] - e[r]).abs() <= 1e-6 + 1e-5 * e[r].abs(),
            "row {r}: energy score {} vs {}",
            energy[r],
            e[r]
        );
    }
}

#[test]
fn bad_nae_options_are_refused_before_training() {
    let data = data();
    let mut c = cfg(1);
    c.nae.replay_ratio = 1.5;
    let e = train_autoencoder(&data, &c, &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("--nae-replay-ratio"), "{e}");
    let mut c = cfg(1);
    c.nae.x.mh = true;
    c.nae.x.mh_rule = hepae::models::nae::langevin::MhRule::Exact;
    c.nae.x.noise = 0.0;
    let e = train_autoencoder(&data, &c, &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("--nae-x") && e.contains("noise"), "{e}");
}

/// `n` synthetic 1×12×10 images, one Gaussian blob each at a seeded place and width (synthetic).
fn blob_images(path: &std::path::Path, n: usize) -> Dataset {
    let (h, w) = (12usize, 10usize);
    let mut x = vec![0.0f32; n * h * w];
    for r in 0..n {
        let (cy, cx, s) = ((r * 7 % h) as f32, (r * 5 % w) as f32, 1.0 + (r % 3) as f32);
        for y in 0..h {
            for xx in 0..w {
                let d2 = (y as f32 - cy).powi(2) + (xx as f32 - cx).powi(2);
                x[(r * h + y) * w + xx] = (-d2 / (2.0 * s * s)).exp();
            }
        }
    }
    hepae::data::npy::write_npy(path, h * w, &x, None).unwrap();
    Dataset::open(path).unwrap()
}

#[test]
fn the_nae_runs_on_the_conv_backbone_with_the_same_energy() {
    use hepae::models::nae::energy::{DataEnergy, EnergyWork};
    use hepae::models::nae::langevin::Energy;
    let dir = std::env::temp_dir().join(format!("hepae-nae-conv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = blob_images(&dir.join("img.npy"), 64);
    let cfg = TrainConfig {
        backbone: hepae::train::Backbone::Conv,
        conv: hepae::models::conv_ae::ConvOptions {
            image: Some([1, 12, 10]),
            channels: vec![3, 6],
            ..Default::default()
        },
        epochs: Some(2),
        batch: Some(16),
        val_fraction: 0.2,
        nae: NaeOptions { epochs: 2, ..cfg(1).nae },
        ..cfg(2)
    };
    let a = train_autoencoder(&data, &cfg, &mut |_| {}).unwrap();
    let b = train_autoencoder(&data, &cfg, &mut |_| {}).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(a.model.params.data, b.model.params.data, "deterministic on the conv backbone too");
    let ops: Vec<&str> = a.model.encoder.layers.iter().map(|l| l.op.name()).collect();
    assert!(ops.contains(&"Conv2d") && ops.last() == Some(&"Sphere"), "a conv encoder ending on the sphere: {ops:?}");
    assert_eq!(a.history.len(), 4);
    let e = a.history[3].energies.expect("NAE epochs record energies");
    assert!(e.pos.is_finite() && e.neg.is_finite() && e.pos > 0.0, "{e:?}");
    // ∂E/∂x of the conv model against a central difference along random directions (f32, so a
    // directional check with a loose tolerance; the ops' own gradients are checked in f64).
    let m = &a.model;
    let (n, d) = (4, 120);
    let x: Vec<f32> = data.as_slice()[..n * d].to_vec();
    let mut w = EnergyWork::new(m, n, hepae::engine::gemm::Gemm::detect());
    let (mut en, mut g) = (vec![0.0; n], vec![0.0; n * d]);
    DataEnergy { model: m, work: &mut w }.energy_grad(&x, n, &mut en, &mut g);
    let mut r = rand::rngs::StdRng::seed_from_u64(4);
    for _ in 0..3 {
        let v: Vec<f32> = (0..n * d).map(|_| rand::Rng::random_range(&mut r, -1.0f32..1.0)).collect();
        let h = 1e-2f32;
        let at = |s: f32, w: &mut EnergyWork| {
            let xs: Vec<f32> = x.iter().zip(&v).map(|(a, b)| a + s * b).collect();
            let mut e = vec![0.0; n];
            hepae::models::nae::energy::energies(m, w, &xs, n, &mut e);
            e.iter().map(|&v| v as f64).sum::<f64>()
        };
        let numeric = (at(h, &mut w) - at(-h, &mut w)) / (2.0 * h as f64);
        let analytic: f64 = g.iter().zip(&v).map(|(a, b)| (a * b) as f64).sum();
        assert!(
            (numeric - analytic).abs() <= 0.05 * numeric.abs() + 1e-5,
            "directional derivative {analytic} vs {numeric}"
        );
    }
}
