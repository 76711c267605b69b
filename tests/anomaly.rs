//! Anomaly scores and their figures of merit, as specifications: AUC of known score sets,
//! efficiency at a fixed background rate with ties, seeded bootstraps, the VAE scores on a
//! trained model, and the threshold stored in the model file (measured on the held-out split
//! of the training file).

use hepae::analysis::anomaly::{
    auc, bootstrap, roc_curve, score_dataset, summarize, tpr_at_fpr, ScoreKind, ScoreOptions,
};
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn auc_of_known_score_sets() {
    let bg = [0.1f32, 0.2, 0.3, 0.4];
    assert_eq!(auc(&bg, &[0.5, 0.6, 0.7]), 1.0, "perfect separation");
    assert_eq!(auc(&bg, &[0.0, 0.05]), 0.0, "inverted");
    assert_eq!(auc(&[0.3; 5], &[0.3; 7]), 0.5, "all tied");
    // Hand-worked with ties: signal {0.2, 0.3}, background {0.1, 0.2, 0.4}.
    // 0.2 beats 0.1, ties 0.2 → 1.5; 0.3 beats 0.1, 0.2 → 2; U = 3.5 of 6.
    assert!((auc(&[0.1, 0.2, 0.4], &[0.2, 0.3]) - 3.5 / 6.0).abs() < 1e-12);
    // Random scores from one distribution: AUC ≈ 0.5.
    let mut r = rand::rngs::StdRng::seed_from_u64(1);
    let a: Vec<f32> = (0..20000).map(|_| r.random()).collect();
    let b: Vec<f32> = (0..20000).map(|_| r.random()).collect();
    assert!((auc(&a, &b) - 0.5).abs() < 0.01);
    // The ROC goes from (0, 0) to (1, 1), with ties in one step.
    let c = roc_curve(&[0.1, 0.2, 0.2], &[0.2, 0.3]);
    assert_eq!((c[0].fpr, c[0].tpr), (0.0, 0.0));
    assert_eq!((c.last().unwrap().fpr, c.last().unwrap().tpr), (1.0, 1.0));
    assert_eq!(c.len(), 4, "thresholds 0.3, 0.2 (tie block), 0.1, plus the origin");
}

#[test]
fn tpr_at_a_fixed_background_rate_respects_ties() {
    // 100 background jets: 98 at 0.0, two tied at 1.0. At FPR 1e-2 one jet may pass, but the
    // two tied ones move together, so the cut must exclude both.
    let mut bg = vec![0.0f32; 98];
    bg.extend([1.0, 1.0]);
    let sig = [0.5f32, 1.0, 2.0, 3.0];
    let (thr, tpr) = tpr_at_fpr(&bg, &sig, 1e-2).unwrap();
    assert!(thr > 1.0, "threshold {thr} must sit above the tie block at 1.0");
    assert_eq!(bg.iter().filter(|&&b| b as f64 >= thr).count(), 0, "no more background than the target");
    assert_eq!(tpr, 0.5, "2.0 and 3.0 pass");
    // Distinct scores: exactly one background jet passes at 1e-2.
    let bg: Vec<f32> = (0..100).map(|i| i as f32).collect();
    let (thr, tpr) = tpr_at_fpr(&bg, &[97.5, 99.0, 99.5, 200.0], 1e-2).unwrap();
    assert_eq!(bg.iter().filter(|&&b| b as f64 >= thr).count(), 1);
    assert_eq!(tpr, 0.75);
    // Too few background jets for the rate: unreachable, not a made-up number.
    assert!(tpr_at_fpr(&bg, &[1.0], 1e-3).is_none());
    let s = summarize(&bg, &[1.0, 150.0], "mse", 20, 1);
    assert!(
        s.working_points[1].tpr.is_none() && s.working_points[1].note.as_ref().unwrap().contains("100 background jets")
    );
}

#[test]
fn bootstrap_is_deterministic_for_a_seed() {
    let mut r = rand::rngs::StdRng::seed_from_u64(2);
    let bg: Vec<f32> = (0..500).map(|_| r.random()).collect();
    let sg: Vec<f32> = (0..300).map(|_| r.random::<f32>() + 0.2).collect();
    let a = bootstrap(&bg, &sg, 100, 7, auc);
    let b = bootstrap(&bg, &sg, 100, 7, auc);
    let c = bootstrap(&bg, &sg, 100, 8, auc);
    assert_eq!(a, b, "same seed, same uncertainty");
    assert_ne!(a, c, "another seed, another resampling");
    assert!(a.1 > 0.0 && a.1 < 0.05, "σ(AUC) {} for 500 vs 300 jets", a.1);
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hepae-anom-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn hepae(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hepae")).args(args).output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const CSV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/ttbar_nano_v15.csv");

#[test]
fn vae_scores_latent_norm_and_the_stored_threshold_on_real_jets() {
    let dir = tmpdir("vae");
    let (light, b) = (dir.join("light.npy"), dir.join("b.npy"));
    assert!(hepae(&["import", CSV, "-o", s(&light), "--where", "hadronFlavour==0", "--first-columns", "24"])
        .status
        .success());
    assert!(hepae(&["import", CSV, "-o", s(&b), "--where", "hadronFlavour==5", "--first-columns", "24"])
        .status
        .success());
    let vae = dir.join("vae.safetensors");
    let out = hepae(&[
        "train",
        s(&light),
        "-o",
        s(&vae),
        "--model",
        "vae",
        "--gaussian-decoder",
        "--beta",
        "0.01",
        "--hidden",
        "32,16",
        "--latent",
        "4",
        "--epochs",
        "30",
        "--batch",
        "64",
        "--threads",
        "1",
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let model = hepae::model_io::SavedModel::load(&vae).unwrap();
    let data = hepae::data::npy::Dataset::open(&b).unwrap();
    for kind in [ScoreKind::VaeReconProb, ScoreKind::VaeElbo, ScoreKind::LatentNorm, ScoreKind::Mse] {
        let opt = ScoreOptions { samples: 8, seed: 3 };
        let a = score_dataset(&model, &data, None, kind, &opt).unwrap();
        assert_eq!(a.len(), data.rows());
        assert!(a.iter().all(|v| v.is_finite()), "{kind:?} gives finite scores");
        assert_eq!(a, score_dataset(&model, &data, None, kind, &opt).unwrap(), "{kind:?} is deterministic for a seed");
        if kind == ScoreKind::LatentNorm {
            assert!(a.iter().all(|&v| v >= 0.0));
        }
    }
    // A non-VAE model refuses the VAE scores, naming the file.
    let ae = dir.join("ae.safetensors");
    assert!(hepae(&[
        "train",
        s(&light),
        "-o",
        s(&ae),
        "--hidden",
        "16",
        "--latent",
        "4",
        "--epochs",
        "3",
        "--threads",
        "1",
        "--quiet"
    ])
    .status
    .success());
    let out = hepae(&["score", s(&ae), s(&b), "-o", s(&dir.join("x.npy")), "--score", "vae-recon-prob"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("ae.safetensors") && err.contains("vae-recon-prob"), "{err}");
    assert!(!dir.join("x.npy").exists());
    // Mismatched columns: a 4-variable sample against a 24-variable model.
    let four = dir.join("four.npy");
    assert!(hepae(&["import", CSV, "-o", s(&four), "--columns", "pt,eta,phi,mass"]).status.success());
    let err =
        String::from_utf8_lossy(&hepae(&["score", s(&ae), s(&four), "-o", s(&dir.join("y.npy"))]).stderr).to_string();
    assert!(err.contains("24 columns") && err.contains("four.npy"), "{err}");

    // The threshold goes into the model and `score` then flags jets against it. On the
    // training file it is measured on the held-out split (the jets the model never saw), as
    // `roc` does, so the target rate holds on unseen background.
    let light_copy = std::fs::read(&light).unwrap();
    let out = hepae(&["threshold", s(&ae), s(&light), "--fpr", "5e-2"]);
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{msg}");
    assert!(msg.contains("jets with mse score ≥") && msg.contains("flagged as anomalous (pass the trigger"), "{msg}");
    assert!(msg.contains("validation split"), "{msg}");
    assert_eq!(std::fs::read(&light).unwrap(), light_copy, "the background file is not touched");
    let model = hepae::model_io::SavedModel::load(&ae).unwrap();
    let t = model.meta.threshold.clone().unwrap();
    let rec = model.meta.training.as_ref().unwrap();
    let val = hepae::train::split_rows(1094, rec.config.val_fraction, rec.config.seed).val;
    assert_eq!(
        (t.score.as_str(), t.background_jets, t.background_rows.as_deref()),
        ("mse", 164, Some("validation split"))
    );
    assert_eq!(val.len(), 164);
    let light_ds = hepae::data::npy::Dataset::open(&light).unwrap();
    let held_out = score_dataset(&model, &light_ds, Some(&val), ScoreKind::Mse, &ScoreOptions::default()).unwrap();
    let flagged = held_out.iter().filter(|&&v| v as f64 >= t.value).count();
    let achieved = flagged as f64 / val.len() as f64;
    assert_eq!(achieved, t.achieved_fpr, "the stored rate is the held-out rate");
    assert!((5e-2 - 1.0 / 164.0..=5e-2).contains(&achieved), "held-out background rate {achieved} ≈ 5e-2");
    let scores = dir.join("scores.npy");
    assert!(hepae(&["score", s(&ae), s(&light), "-o", s(&scores)]).status.success());
    let sc = hepae::data::npy::Dataset::open(&scores).unwrap();
    assert_eq!(sc.columns(), ["score_mse", "pass"]);
    let passed = val.iter().filter(|&&r| sc.row(r as usize)[1] == 1.0).count();
    assert_eq!(passed, flagged, "`score` flags the same held-out jets");
    // A rate the sample cannot resolve is refused.
    let err = String::from_utf8_lossy(&hepae(&["threshold", s(&ae), s(&b), "--fpr", "1e-4"]).stderr).to_string();
    assert!(err.contains("348 background jets (all rows) cannot resolve"), "{err}");
}
