//! Defaults that train well on any sample (the schedule of `src/train_schedule.rs`, end to end):
//! with no training option, `hepae compare --configs ae,pca --latent 8` ranks the autoencoder
//! ahead of PCA on the shipped real jets (24 and 15 variables); early stopping returns the
//! parameters of the epoch with the lowest validation loss; `--epochs N` runs exactly N epochs.

use hepae::analysis::metrics::evaluate;
use hepae::data::import::csv::{import_file, ImportOptions};
use hepae::train::schedule::LrSchedule;
use hepae::train::{split_rows, train_autoencoder, TrainConfig};
use hepae::{Dataset, SavedModel};
use std::path::{Path, PathBuf};
use std::process::Command;

const DEMO_CSV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/ttbar_nano_v15.csv");

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hepae-defaults-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The first `cols` variables of the 1 636 shipped real CMS jets.
fn real_jets(dir: &Path, cols: usize) -> PathBuf {
    let npy = dir.join(format!("real{cols}.npy"));
    let opts = ImportOptions { first_columns: Some(cols), ..ImportOptions::default() };
    import_file(Path::new(DEMO_CSV), &npy, &opts).unwrap();
    npy
}

/// (model, validation MSE) rows of `hepae compare --csv`.
fn compare_mse(csv: &Path) -> Vec<(String, f64)> {
    let text = std::fs::read_to_string(csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let (m, e) = (header.iter().position(|h| *h == "model").unwrap(), header.iter().position(|h| *h == "mse").unwrap());
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[m].to_string(), f[e].parse().unwrap())
        })
        .collect()
}

#[test]
fn default_compare_ranks_the_ae_ahead_of_pca_at_latent_8_on_24_and_15_real_variables() {
    let dir = tmpdir("compare");
    for cols in [24, 15] {
        let data = real_jets(&dir, cols);
        let csv = dir.join(format!("table{cols}.csv"));
        let out = Command::new(env!("CARGO_BIN_EXE_hepae"))
            .args(["compare", data.to_str().unwrap(), "--configs", "ae,pca", "--latent", "8"])
            .args(["--csv", csv.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        // 1 391 training rows: batch 64 and enough epochs for ≥ 10 000 steps, said up front.
        assert!(err.contains("schedule: batch 64, up to 455 epochs × 22 steps"), "{err}");
        let table = compare_mse(&csv);
        let mse = |name: &str| table.iter().find(|(m, _)| m == name).unwrap().1;
        let (ae, pca) = (mse("ae"), mse("pca"));
        // Measured: 1.69e-3 vs 4.08e-3 (24 variables), 1.99e-4 vs 1.19e-3 (15).
        assert!(ae < 0.75 * pca, "{cols} variables: AE validation MSE {ae:.3e} not clearly below PCA's {pca:.3e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn early_stopping_returns_the_model_of_the_epoch_with_the_lowest_validation_loss() {
    let dir = tmpdir("early");
    let data = Dataset::open(&real_jets(&dir, 24)).unwrap();
    // A small net at a high constant rate: the validation loss turns noisy and stops improving.
    let cfg = TrainConfig {
        hidden: vec![32, 16],
        latent: 6,
        epochs: Some(300),
        batch: Some(32),
        lr: 3e-3,
        patience: Some(5),
        threads: 1,
        ..TrainConfig::default()
    };
    let out = train_autoencoder(&data, &cfg, &mut |_| {}).unwrap();
    let stopped = out.early_stopped.expect("the patience must run out before 300 epochs");
    assert_eq!(out.history.len(), stopped, "no epoch runs after the stop");
    let (best_epoch, best_val) =
        out.history.iter().map(|h| (h.epoch, h.val_loss.unwrap())).min_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
    assert_eq!(out.best_epoch, Some(best_epoch));
    let last_val = out.history.last().unwrap().val_loss.unwrap();
    assert!(best_epoch < stopped && last_val > best_val, "the last epoch is not the best, so keeping matters");
    // The model file records the kept epoch's losses …
    let saved = SavedModel::from_training(&out, &cfg, &data);
    let rec = saved.meta.training.as_ref().unwrap();
    assert_eq!((rec.best_epoch, rec.final_val_loss, rec.epochs_completed), (Some(best_epoch), Some(best_val), stopped));
    // … and its weights are that epoch's: their validation MSE, recomputed, is the minimum.
    let split = split_rows(data.rows(), cfg.val_fraction, cfg.seed);
    let ev = evaluate(&saved, &data, Some(&split.val), "validation split").unwrap();
    assert!((ev.mse - best_val).abs() <= 1e-5 * best_val, "saved model's validation MSE {} vs best {best_val}", ev.mse);
    assert!((ev.mse - last_val).abs() > 1e-5 * best_val, "the last epoch's weights were kept");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn explicit_epochs_run_exactly_at_a_constant_rate_and_say_so() {
    let dir = tmpdir("exact");
    let data = real_jets(&dir, 24);
    let model = dir.join("m.safetensors");
    let out = Command::new(env!("CARGO_BIN_EXE_hepae"))
        .args(["train", data.to_str().unwrap(), "-o", model.to_str().unwrap()])
        .args(["--hidden", "32,16", "--latent", "6", "--epochs", "7", "--batch", "128", "--threads", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("schedule: batch 128, up to 7 epochs × 11 steps = 77 steps, lr 1e-3 constant, no early stop"),
        "{err}"
    );
    let saved = SavedModel::load(&model).unwrap();
    let rec = saved.meta.training.unwrap();
    assert_eq!((rec.epochs_completed, rec.best_epoch), (7, None));
    let s = rec.schedule.unwrap();
    assert_eq!((s.batch, s.max_epochs, s.lr_schedule, s.early_stop), (128, 7, LrSchedule::Constant, None));
    let history = std::fs::read_to_string(dir.join("m.history.csv")).unwrap();
    assert_eq!(history.lines().count(), 1 + 7, "a header and exactly 7 epochs");
    let _ = std::fs::remove_dir_all(&dir);
}
