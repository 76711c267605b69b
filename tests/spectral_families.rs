//! The spectral-embedding families on real jets (CMS NanoAOD v15 tt̄, the first 24 variables):
//! `spectral` learns an encoder that reproduces the Laplacian-eigenmap coordinates of the
//! training jets and a decoder that rebuilds jets from them; `ae+spectral` keeps an
//! autoencoder's reconstruction while its latent follows the coordinates.

use hepae::analysis::metrics::evaluate;
use hepae::data::import::csv::{import_file, ImportOptions};
use hepae::data::normalize::Normalizer;
use hepae::data::npy::Dataset;
use hepae::model_io::SavedModel;
use hepae::models::ae::ModelKind;
use hepae::models::family::Fit;
use hepae::models::spectral::fit_targets;
use hepae::train::{split_rows, train_autoencoder, TrainConfig};

fn jets(name: &str) -> (std::path::PathBuf, Dataset) {
    let dir = std::env::temp_dir().join(format!("hepae-spectral-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("jets.npy");
    let opts = ImportOptions { first_columns: Some(24), ..Default::default() };
    import_file(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/ttbar_nano_v15.csv")), &out, &opts)
        .unwrap();
    (dir, Dataset::open(&out).unwrap())
}

/// Mean over latent dimensions of the Pearson correlation of codes and targets.
fn mean_correlation(z: &[f32], y: &[f32], l: usize) -> f64 {
    let n = z.len() / l;
    (0..l)
        .map(|j| {
            let (a, b): (Vec<f64>, Vec<f64>) = (0..n).map(|r| (z[r * l + j] as f64, y[r * l + j] as f64)).unzip();
            let (ma, mb) = (a.iter().sum::<f64>() / n as f64, b.iter().sum::<f64>() / n as f64);
            let cov: f64 = a.iter().zip(&b).map(|(x, y)| (x - ma) * (y - mb)).sum();
            let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
            let vb: f64 = b.iter().map(|x| (x - mb).powi(2)).sum();
            cov / (va * vb).sqrt()
        })
        .sum::<f64>()
        / l as f64
}

/// The training rows' codes from a trained model, and their spectral targets recomputed from
/// the same split, normaliser and seed.
fn codes_and_targets(data: &Dataset, cfg: &TrainConfig, model: &SavedModel) -> (Vec<f32>, Vec<f32>) {
    let split = split_rows(data.rows(), cfg.val_fraction, cfg.seed);
    let norm = Normalizer::fit(cfg.norm, data, &split.train, cfg.momentum_to_gev).unwrap();
    let fit = Fit { data, normalizer: &norm, rows: &split.train };
    let t = fit_targets(&fit, cfg.latent, &cfg.spectral, cfg.seed).unwrap();
    assert_eq!(t.laplacian.len(), cfg.latent);
    assert!(t.laplacian.iter().all(|&l| l > 0.0 && l < 1.0), "λ = {:?}", t.laplacian);
    let l = cfg.latent;
    let mut enc = hepae::encoder::Encoder::new(model, 256);
    let mut z = vec![0.0f32; split.train.len() * l];
    let mut y = vec![0.0f32; split.train.len() * l];
    let mut x = vec![0.0f32; data.cols()];
    for (i, &r) in split.train.iter().enumerate() {
        data.gather(&[r], &mut x);
        enc.encode(&x, 1, &mut z[i * l..(i + 1) * l]).unwrap();
        y[i * l..(i + 1) * l].copy_from_slice(&t.coords[r as usize * l..(r as usize + 1) * l]);
    }
    (z, y)
}

#[test]
fn spectral_encoder_reproduces_the_embedding_and_the_decoder_rebuilds_jets() {
    let (dir, data) = jets("spec");
    let base = TrainConfig { latent: 4, epochs: Some(60), batch: Some(128), threads: 1, ..Default::default() };
    let cfg = TrainConfig { model: ModelKind::Spectral, ..base.clone() };
    let out = train_autoencoder(&data, &cfg, &mut |_| {}).unwrap();
    let model = SavedModel::from_training(&out, &cfg, &data);
    let path = dir.join("spectral.safetensors");
    model.save(&path).unwrap();
    let back = SavedModel::load(&path).unwrap();
    assert!(back.ae == model.ae && back.meta.kind == ModelKind::Spectral);
    let (z, y) = codes_and_targets(&data, &cfg, &back);
    let rho = mean_correlation(&z, &y, 4);
    eprintln!("spectral: mean correlation of encoder codes with the eigenmap coordinates {rho:.3}");
    assert!(rho > 0.8, "the encoder must regress the spectral coordinates: ρ = {rho}");
    // The decoder rebuilds the jets far better than their mean would.
    let ev = evaluate(&back, &data, None, "all rows").unwrap();
    let mean_only = TrainConfig { model: ModelKind::Pca, latent: 1, ..base.clone() };
    let pca1 = train_autoencoder(&data, &mean_only, &mut |_| {}).unwrap();
    let pca1 = evaluate(&SavedModel::from_training(&pca1, &mean_only, &data), &data, None, "all rows").unwrap();
    eprintln!("spectral MSE {:.3e}, PCA k=1 MSE {:.3e}", ev.mse, pca1.mse);
    assert!(ev.mse < pca1.mse, "4 spectral coordinates must rebuild better than 1 principal component");
}

#[test]
fn ae_spectral_latent_follows_the_embedding_where_a_plain_ae_does_not() {
    let (_dir, data) = jets("aes");
    let base = TrainConfig { latent: 3, epochs: Some(40), batch: Some(128), threads: 1, ..Default::default() };
    let cfg = TrainConfig { model: ModelKind::AeSpectral, ..base.clone() };
    let out = train_autoencoder(&data, &cfg, &mut |_| {}).unwrap();
    let aes = SavedModel::from_training(&out, &cfg, &data);
    let plain_cfg = TrainConfig { model: ModelKind::Ae, ..base.clone() };
    let plain =
        SavedModel::from_training(&train_autoencoder(&data, &plain_cfg, &mut |_| {}).unwrap(), &plain_cfg, &data);
    let (z, y) = codes_and_targets(&data, &cfg, &aes);
    let (zp, _) = codes_and_targets(&data, &cfg, &plain);
    let (rho, rho_plain) = (mean_correlation(&z, &y, 3), mean_correlation(&zp, &y, 3).abs());
    eprintln!("ae+spectral latent–coordinate correlation {rho:.3}, plain AE {rho_plain:.3}");
    assert!(rho > 0.8 && rho > rho_plain + 0.1, "ρ = {rho}, plain AE {rho_plain}");
    let (ev, evp) =
        (evaluate(&aes, &data, None, "all rows").unwrap(), evaluate(&plain, &data, None, "all rows").unwrap());
    eprintln!("MSE ae+spectral {:.3e}, ae {:.3e}", ev.mse, evp.mse);
    assert!(ev.mse.is_finite() && ev.mse < 10.0 * evp.mse);
}
