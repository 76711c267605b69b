//! The model families as a user meets them: the PCA eigensolver against known
//! decompositions, PCA at k = D reproducing the data, and every family trained, written,
//! read back and evaluated.

use hepae::analysis::metrics::evaluate;
use hepae::data::import::csv::{import_file, ImportOptions};
use hepae::data::npy::Dataset;
use hepae::model_io::SavedModel;
use hepae::models::ae::ModelKind;
use hepae::models::pca::symmetric_eigen;
use hepae::train::{train_autoencoder, TrainConfig};
use std::path::PathBuf;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hepae-fam-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn jets(dir: &std::path::Path, first: usize) -> Dataset {
    let out = dir.join("jets.npy");
    let opts = ImportOptions { first_columns: Some(first), ..Default::default() };
    import_file(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/ttbar_nano_v15.csv")), &out, &opts)
        .unwrap();
    Dataset::open(&out).unwrap()
}

#[test]
fn eigensolver_agrees_with_known_decompositions() {
    // [[2,1],[1,2]]: eigenvalues 3 and 1, eigenvectors (1,1)/√2 and (1,−1)/√2.
    let (vals, vecs) = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
    assert!((vals[0] - 3.0).abs() < 1e-12 && (vals[1] - 1.0).abs() < 1e-12, "{vals:?}");
    let s = std::f64::consts::FRAC_1_SQRT_2;
    assert!((vecs[0].abs() - s).abs() < 1e-12 && (vecs[1].abs() - s).abs() < 1e-12 && vecs[0] * vecs[1] > 0.0);
    assert!((vecs[2].abs() - s).abs() < 1e-12 && vecs[2] * vecs[3] < 0.0);
    // Diagonal: the diagonal, sorted.
    let (vals, _) = symmetric_eigen(&[1.0, 0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0, 3.0], 3);
    assert_eq!(vals, vec![5.0, 3.0, 1.0]);
    // A random symmetric 9×9: A·v = λ·v, V orthonormal, trace preserved.
    let d = 9;
    let mut a = vec![0.0f64; d * d];
    let mut seed = 12345u64;
    for i in 0..d {
        for j in i..d {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let v = ((seed >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0;
            a[i * d + j] = v;
            a[j * d + i] = v;
        }
    }
    let (vals, vecs) = symmetric_eigen(&a, d);
    for k in 0..d {
        let v = &vecs[k * d..(k + 1) * d];
        for i in 0..d {
            let av: f64 = (0..d).map(|j| a[i * d + j] * v[j]).sum();
            assert!((av - vals[k] * v[i]).abs() < 1e-10, "A·v ≠ λ·v for eigenpair {k}");
        }
        for m in 0..d {
            let dot: f64 = (0..d).map(|i| v[i] * vecs[m * d + i]).sum();
            assert!((dot - if m == k { 1.0 } else { 0.0 }).abs() < 1e-10, "V not orthonormal");
        }
    }
    let trace: f64 = (0..d).map(|i| a[i * d + i]).sum();
    assert!((vals.iter().sum::<f64>() - trace).abs() < 1e-10);
    assert!(vals.windows(2).all(|w| w[0] >= w[1]), "sorted largest first");
}

#[test]
fn pca_with_every_component_reproduces_the_data() {
    let dir = tmpdir("pca");
    let data = jets(&dir, 24);
    let cfg = TrainConfig { model: ModelKind::Pca, latent: 24, val_fraction: 0.0, threads: 1, ..Default::default() };
    let out = train_autoencoder(&data, &cfg, &mut |_| {}).unwrap();
    let ev = evaluate(&SavedModel::from_training(&out, &cfg, &data), &data, None, "all rows").unwrap();
    assert!(ev.mse < 1e-11, "PCA at k = D must be exact to f32 round-off, MSE {}", ev.mse);
    assert!((out.explained_variance.unwrap() - 1.0).abs() < 1e-9);
    // Fewer components lose information monotonically.
    let mut last = 0.0;
    for k in [20, 12, 6, 2] {
        let cfg = TrainConfig { model: ModelKind::Pca, latent: k, val_fraction: 0.0, threads: 1, ..Default::default() };
        let out = train_autoencoder(&data, &cfg, &mut |_| {}).unwrap();
        let mse = out.history[0].train_loss;
        assert!(mse > last, "k = {k}: MSE {mse} should exceed {last}");
        last = mse;
    }
}

#[test]
fn every_family_round_trips_through_the_model_file_and_evaluate() {
    let dir = tmpdir("rt");
    let data = jets(&dir, 24);
    // (conv-ae needs image rows: tests/conv_model.rs.)
    for kind in ModelKind::ALL.into_iter().filter(|&k| k != ModelKind::ConvAe) {
        let cfg = TrainConfig {
            model: kind,
            hidden: vec![16, 8],
            latent: 4,
            epochs: Some(3),
            batch: Some(128),
            threads: 2,
            gaussian_decoder: kind == ModelKind::Vae,
            ..Default::default()
        };
        let out = train_autoencoder(&data, &cfg, &mut |_| {}).unwrap();
        assert!(out.stopped.is_none(), "{kind}: {:?}", out.stopped);
        let saved = SavedModel::from_training(&out, &cfg, &data);
        let path = dir.join(format!("{}.safetensors", kind.name().replace('+', "_")));
        saved.save(&path).unwrap();
        let back = SavedModel::load(&path).unwrap();
        assert!(back.ae == saved.ae, "{kind}: weights and shape must come back unchanged");
        assert!(back.meta == saved.meta, "{kind}: metadata must come back unchanged");
        assert_eq!(back.meta.kind, kind);
        let ev = evaluate(&back, &data, None, "all rows").unwrap();
        assert!(ev.mse.is_finite() && ev.mse < 0.5, "{kind}: MSE {}", ev.mse);
        let mut enc = hepae::encoder::Encoder::new(&back, 64);
        assert_eq!(enc.latent_dim(), 4, "{kind}: latent width (μ for a VAE)");
        let mut z = vec![0.0; 10 * 4];
        enc.encode(&data.as_slice()[..10 * 24], 10, &mut z).unwrap();
        assert!(z.iter().all(|v| v.is_finite()));
    }
}
