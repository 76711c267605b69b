//! Data-parallel training across ranks, proved in one process: the ranks are threads that
//! meet in the same collectives an MPI job uses (`hepae::train::ranks::ThreadRanks`), so the
//! rank split, the rank-ordered gradient sum, the merged normaliser fit and the agreement on
//! failures are checked in every build, with or without MPI (tests/mpi_run.rs runs the same
//! under `mpirun`).
//!
//! Float tolerance between 1 rank × 1 thread and 2 ranks × 1 thread: the two sum each batch's
//! gradient in a different grouping ((a+b)+c… against (a+…)+(…+c)), a relative difference of
//! about 1e-7 per step that Adam carries on; after 3 epochs (18 steps) of the reference net on
//! 188 real CMS jets every parameter agrees within 1e-5 + 1e-4·|p| (measured: largest difference 3e-8 with minmax,
//! 1.4e-7 with standard), and the final losses within
//! 1e-4 relative.

use hepae::data::normalize::NormKind;
use hepae::data::npy::{write_npy, Dataset};
use hepae::models::shape::ModelKind;
use hepae::train::ranks::ThreadRanks;
use hepae::train::{train_autoencoder_in, TrainConfig, TrainOutcome, World};
use std::path::{Path, PathBuf};

fn real_jets() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dy_nano_v6.npy"))
}

/// Trains `cfg` on `path` as every rank of an in-process world of `size` ranks (each rank
/// opens the dataset itself, as a process would); outcomes in rank order.
fn train_on_ranks(size: usize, path: &Path, cfgs: Vec<TrainConfig>) -> Vec<Result<TrainOutcome, String>> {
    assert_eq!(cfgs.len(), size);
    let handles: Vec<_> = ThreadRanks::world(size)
        .into_iter()
        .zip(cfgs)
        .map(|(ranks, cfg)| {
            let path = path.to_path_buf();
            std::thread::spawn(move || {
                let data = Dataset::open(&path).map_err(|e| e.to_string())?;
                train_autoencoder_in(&data, &cfg, World::new(Box::new(ranks)), &mut |_| {}).map_err(|e| e.to_string())
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().expect("rank thread")).collect()
}

fn one_rank(path: &Path, cfg: &TrainConfig) -> TrainOutcome {
    let data = Dataset::open(path).unwrap();
    train_autoencoder_in(&data, cfg, World::single(), &mut |_| {}).unwrap()
}

fn config(model: ModelKind, threads: usize) -> TrainConfig {
    TrainConfig {
        model,
        epochs: Some(3),
        batch: Some(27), // 160 training rows: 6 batches, the last ragged; 27 splits 14 + 13
        threads,
        seed: 11,
        gaussian_decoder: model == ModelKind::Vae,
        ..Default::default()
    }
}

fn bits(o: &TrainOutcome) -> Vec<u32> {
    o.model.params.data.iter().map(|p| p.to_bits()).collect()
}

#[test]
fn two_ranks_of_one_thread_give_the_bits_of_one_rank_of_two_threads() {
    // Same rows per shard, same summation order, same per-shard generators (noise, sampling).
    for model in [ModelKind::Ae, ModelKind::Vae, ModelKind::Denoising, ModelKind::Aae, ModelKind::SparseL1] {
        let threads2 = one_rank(&real_jets(), &config(model, 2));
        let ranks = train_on_ranks(2, &real_jets(), vec![config(model, 1), config(model, 1)]);
        for (r, out) in ranks.iter().enumerate() {
            let out = out.as_ref().unwrap();
            assert_eq!(bits(out), bits(&threads2), "{model}: rank {r}'s parameters");
            assert_eq!(out.history.len(), 3);
            for (a, b) in out.history.iter().zip(&threads2.history) {
                assert_eq!(a.train_loss.to_bits(), b.train_loss.to_bits(), "{model}: train loss of epoch {}", a.epoch);
                assert_eq!(a.val_loss.map(f64::to_bits), b.val_loss.map(f64::to_bits), "{model}: validation loss");
            }
            assert_eq!(out.normalizer, threads2.normalizer, "{model}: the normaliser is fitted over all ranks' rows");
        }
    }
}

#[test]
fn two_ranks_match_one_rank_of_one_thread_within_the_float_reduction_tolerance() {
    for norm in [NormKind::Minmax, NormKind::Standard] {
        let cfg = TrainConfig { norm, ..config(ModelKind::Ae, 1) };
        let one = one_rank(&real_jets(), &cfg);
        let two = train_on_ranks(2, &real_jets(), vec![cfg.clone(), cfg.clone()]);
        let two = two[0].as_ref().unwrap();
        let (a, b) = (&one.model.params.data, &two.model.params.data);
        let mut worst = 0.0f64;
        for (i, (&p, &q)) in a.iter().zip(b).enumerate() {
            let err = (p as f64 - q as f64).abs();
            worst = worst.max(err);
            assert!(err <= 1e-5 + 1e-4 * (p as f64).abs(), "{norm}: parameter {i}: {p} on 1 rank, {q} on 2");
        }
        let (l1, l2) = (one.history[2].train_loss, two.history[2].train_loss);
        assert!((l1 - l2).abs() <= 1e-4 * l1, "{norm}: final train loss {l1} vs {l2}");
        eprintln!("{norm}: largest parameter difference between 1 and 2 ranks after 3 epochs: {worst:e}");
        // Minmax: min and max merge exactly; standard: Σx and Σ(x−mean)² are summed per rank.
        for (t1, t2) in one.normalizer.transforms.iter().zip(&two.normalizer.transforms) {
            let (s1, s2) = (serde_json::to_value(t1).unwrap(), serde_json::to_value(t2).unwrap());
            if norm == NormKind::Minmax {
                assert_eq!(s1, s2);
            } else {
                let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap();
                for k in ["shift", "scale"] {
                    assert!((f(&s1, k) - f(&s2, k)).abs() <= 1e-6 * f(&s1, k).abs().max(1e-3), "{k}: {s1} vs {s2}");
                }
            }
        }
    }
}

#[test]
fn two_runs_on_two_ranks_are_bit_identical_and_every_rank_holds_the_same_model() {
    let cfg = config(ModelKind::Ae, 1);
    let a = train_on_ranks(2, &real_jets(), vec![cfg.clone(), cfg.clone()]);
    let b = train_on_ranks(2, &real_jets(), vec![cfg.clone(), cfg.clone()]);
    let first = bits(a[0].as_ref().unwrap());
    for out in a.iter().chain(&b) {
        assert_eq!(bits(out.as_ref().unwrap()), first);
    }
    // Three ranks (batch rows 9 + 9 + 9; the ragged last batch 25 → 9 + 9 + 7) also agree.
    let three = train_on_ranks(3, &real_jets(), vec![cfg.clone(), cfg.clone(), cfg]);
    let t0 = bits(three[0].as_ref().unwrap());
    assert!(three.iter().all(|o| bits(o.as_ref().unwrap()) == t0));
}

#[test]
fn a_rank_with_other_options_stops_every_rank_before_training() {
    let mut other = config(ModelKind::Ae, 1);
    other.seed += 1;
    let out = train_on_ranks(2, &real_jets(), vec![config(ModelKind::Ae, 1), other]);
    for (r, res) in out.iter().enumerate() {
        let e = res.as_ref().err().unwrap_or_else(|| panic!("rank {r} trained"));
        assert_eq!(e, &format!("rank {r} stops: rank 1's options or data differ from rank 0's (every rank must run the same command on the same dataset)"));
    }
}

#[test]
fn a_bad_value_in_one_ranks_rows_stops_every_rank_with_one_line_each() {
    let dir = std::env::temp_dir().join(format!("hepae_mpi_ranks_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("nan.npy");
    let (rows, cols) = (40, 3);
    let mut v: Vec<f32> = (0..rows * cols).map(|i| (i % 13) as f32 * 0.5).collect();
    v[33 * cols + 1] = f32::NAN; // row 34 (1-based), in rank 1's half
    write_npy(&path, cols, &v, Some(&["a".into(), "b".into(), "c".into()])).unwrap();
    let cfg = TrainConfig { hidden: vec![4], latent: 2, ..config(ModelKind::Ae, 1) };
    let out = train_on_ranks(2, &path, vec![cfg.clone(), cfg]);
    let e0 = out[0].as_ref().err().unwrap();
    let e1 = out[1].as_ref().err().unwrap();
    assert_eq!(e0, "rank 0 stops: rank 1 of 2 failed while starting (its error is in its output)");
    assert!(e1.contains("nan.npy") && e1.contains("row 34") && e1.contains("not finite"), "{e1}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn families_that_need_the_whole_batch_in_one_process_are_refused_across_ranks() {
    for model in [ModelKind::Pca, ModelKind::AePca, ModelKind::SparseKl] {
        let out = train_on_ranks(2, &real_jets(), vec![config(model, 1), config(model, 1)]);
        for res in &out {
            let e = res.as_ref().err().unwrap();
            assert!(e.starts_with(&format!("--model {model} is not supported across several ranks")), "{e}");
        }
    }
}
