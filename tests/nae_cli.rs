//! `hepae train --model nae` from the command line: the history CSV carries the energies,
//! `hepae plot` draws the energy curves and the negative samples beside the data, and a bad
//! NAE option is one line naming it, exit 1, nothing written. Real jets: 188 CMS Drell-Yan
//! NanoAOD jets × 37 variables.

use std::process::{Command, Output};

fn hepae(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hepae")).args(args).output().expect("run hepae")
}

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dy_nano_v6.npy");

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("hepae-nae-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn train_writes_energy_columns_and_plot_draws_energies_and_negatives() {
    let dir = tmp("ok");
    let model = dir.join("nae.safetensors");
    let m = model.to_str().unwrap();
    let quick = [
        "--hidden",
        "16",
        "--latent",
        "3",
        "--epochs",
        "2",
        "--nae-epochs",
        "2",
        "--batch",
        "64",
        "--threads",
        "1",
        "--nae-z-steps",
        "3",
        "--nae-x-steps",
        "3",
    ];
    let mut args = vec!["train", DATA, "-o", m, "--model", "nae", "-q"];
    args.extend(quick);
    let out = hepae(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let hist = std::fs::read_to_string(dir.join("nae.history.csv")).unwrap();
    let mut lines = hist.lines();
    assert_eq!(
        lines.next().unwrap(),
        "epoch,train_loss,val_loss,seconds,pos_energy,neg_energy,neg_start_energy,z_accept,x_accept"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4);
    assert!(rows[..2].iter().all(|r| r[4].is_empty()), "pre-training epochs have no energies");
    assert!(rows[2..].iter().all(|r| r[4].parse::<f64>().unwrap() > 0.0 && r[5].parse::<f64>().is_ok()));
    let figs = dir.join("figs");
    let out = hepae(&["plot", m, DATA, "-o", figs.to_str().unwrap(), "-q", "--max-vars", "2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["nae_energy.png", "nae_energy.svg", "negatives_00_pt.png", "negatives_01_eta.png"] {
        assert!(figs.join(f).is_file(), "{f} missing");
    }
    // The energy is a score.
    let scores = dir.join("e.csv");
    let out = hepae(&["score", m, DATA, "-o", scores.to_str().unwrap(), "--score", "energy", "-q"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read_to_string(&scores).unwrap().starts_with("score_energy"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_bad_nae_option_is_one_line_and_nothing_is_written() {
    let dir = tmp("bad");
    let model = dir.join("nae.safetensors");
    for (flag, value, names) in [
        ("--nae-replay-ratio", "1.5", "--nae-replay-ratio"),
        ("--nae-x-bound", "1,0", "--nae-x-bound"),
        ("--nae-x-bound", "0,a", "--nae-x-bound"),
        ("--nae-temperature", "0", "--nae-temperature"),
    ] {
        let out = hepae(&["train", DATA, "-o", model.to_str().unwrap(), "--model", "nae", flag, value, "-q"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{flag} {value}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{flag} {value}: one line: {err}");
        assert!(err.contains(names), "{flag} {value}: {err}");
        assert!(!model.exists() && !dir.join("nae.history.csv").exists(), "nothing written");
    }
    std::fs::remove_dir_all(&dir).ok();
}
