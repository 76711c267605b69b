#![cfg(feature = "plot")]
//! Figures and the HTML report: every file is written, PNGs have the stated pixel size,
//! SVGs are complete, and awkward data (pT over five decades, a constant column, a column
//! that is zero in 95 % of rows, empty inputs) draws without error.

use hepae::cli::plot::plot_files;
use hepae::cli::report::write_report;
use hepae::cli::train::train_to_file;
use hepae::data::import::{import_file, ImportOptions};
use hepae::data::npy::write_npy;
use hepae::plot::{self, Bar, Figure, RatioPoint, RocCurve};
use hepae::train::TrainConfig;
use std::path::{Path, PathBuf};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hepae-plots-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn tiny() -> TrainConfig {
    TrainConfig { hidden: vec![16], latent: 4, epochs: Some(3), batch: Some(64), threads: 1, ..TrainConfig::default() }
}

/// Width and height from the IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert!(b.len() > 33, "{} is too short", path.display());
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "{} signature", path.display());
    assert_eq!(&b[12..16], b"IHDR", "{} first chunk", path.display());
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

fn check_figure(f: &Figure) {
    assert_eq!(png_size(&f.png), f.size, "{}", f.png.display());
    let svg = std::fs::read_to_string(&f.svg).unwrap();
    let t = svg.trim();
    assert!(t.starts_with("<svg") || t.starts_with("<?xml"), "{} starts {:?}", f.svg.display(), &t[..t.len().min(40)]);
    assert!(t.ends_with("</svg>"), "{} is not closed", f.svg.display());
    assert!(svg.contains(&format!("width=\"{}\"", f.size.0)), "{}", f.svg.display());
    assert!(!f.title.is_empty());
}

#[test]
fn real_jets_every_figure_and_the_report() {
    let dir = tmpdir("real");
    let data = dir.join("jets.npy");
    let opts = ImportOptions { first_columns: Some(8), ..ImportOptions::default() };
    import_file(Path::new("datasets/ttbar_nano_v15.csv"), &data, &opts).unwrap();
    let model = dir.join("ae.safetensors");
    train_to_file(&data, &model, None, &tiny(), true).unwrap();

    let figs = dir.join("figs");
    let set = plot_files(&model, &data, &figs, "auto", 200_000).unwrap();
    assert_eq!(set.subset, "validation split");
    assert!(set.notes.is_empty(), "{:?}", set.notes);
    // 8 × (reconstruction + residual) + loss + latent + correlation.
    assert_eq!(set.figures.len(), 8 * 2 + 3);
    for name in
        ["recon_00_pt", "resid_01_eta", "resid_02_phi", "recon_03_mass", "loss", "latent", "residual_correlation"]
    {
        assert!(set.figures.iter().any(|f| f.name == name), "missing {name}");
    }
    for f in &set.figures {
        check_figure(f);
        assert!(f.png.starts_with(&figs));
    }
    // Axis labels with units reach the SVG as text.
    let pt = std::fs::read_to_string(figs.join("recon_00_pt.svg")).unwrap();
    assert!(pt.contains("pt [GeV]"));
    let phi = std::fs::read_to_string(figs.join("resid_02_phi.svg")).unwrap();
    assert!(phi.contains("[rad]") && phi.contains("68% half-width"));

    let page = write_report(&model, &data, &dir.join("out/index.html"), "auto", 200_000).unwrap();
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"));
    assert!(html.contains("validation split") && html.contains("training.config.epochs"));
    let mut refs = 0;
    for part in html.split("src=\"").skip(1) {
        let rel = &part[..part.find('"').unwrap()];
        assert!(!rel.starts_with('/'), "absolute path {rel}");
        assert!(dir.join("out").join(rel).is_file(), "{rel} missing");
        refs += 1;
    }
    assert_eq!(refs, 19);
    assert!(html.contains("figures/latent.svg"));
}

/// pT from 1 GeV to 100 TeV, a constant column, a column that is zero in 95 % of rows.
#[test]
fn extreme_values_draw() {
    let dir = tmpdir("extreme");
    let rows = 600usize;
    let names: Vec<String> =
        ["pt", "eta", "phi", "mass", "const", "mostly_zero"].iter().map(|s| s.to_string()).collect();
    let mut x = Vec::with_capacity(rows * names.len());
    for r in 0..rows {
        let t = r as f64 / (rows - 1) as f64;
        x.push(10f64.powf(5.0 * t) as f32); // 1 GeV … 100 TeV
        x.push((((r * 37) % 100) as f32 / 100.0 - 0.5) * 5.0);
        x.push((((r * 53) % 100) as f32 / 100.0 - 0.5) * std::f32::consts::TAU);
        x.push(1.0 + (r % 50) as f32);
        x.push(3.0);
        x.push(if r % 20 == 0 { 0.5 + (r % 7) as f32 } else { 0.0 });
    }
    let data = dir.join("extreme.npy");
    write_npy(&data, names.len(), &x, Some(&names)).unwrap();
    let model = dir.join("ae.safetensors");
    train_to_file(&data, &model, None, &tiny(), true).unwrap();
    let set = plot_files(&model, &data, &dir.join("figs"), "auto", 200_000).unwrap();
    for f in &set.figures {
        check_figure(f);
    }
    // Another file than the training file: all rows.
    let other = dir.join("other.npy");
    write_npy(&other, names.len(), &x[..100 * names.len()], Some(&names)).unwrap();
    let set = plot_files(&model, &other, &dir.join("figs2"), "auto", 50).unwrap();
    assert_eq!(set.subset, "all rows");
    assert_eq!((set.rows_selected, set.rows_plotted), (100, 50));
    assert_eq!(set.figures.len(), names.len() * 2 + 3);

    // The same data straight into the figure functions: the five-decade pT gets log bins.
    let pt: Vec<f64> = (0..rows).map(|r| x[r * names.len()] as f64).collect();
    assert!(plot::Binning::shared(&pt, &pt, 40).log);
    let f = plot::input_vs_output(&dir, "pt", "pt", "pt [GeV]", &pt, &pt).unwrap();
    check_figure(&f);
    assert!(std::fs::read_to_string(&f.svg).unwrap().contains("log scale"));
    let c = vec![3.0; rows];
    check_figure(&plot::input_vs_output(&dir, "c", "const", "const", &c, &c).unwrap());
    check_figure(&plot::residual_hist(&dir, "rc", "const", "Δ", &vec![0.0; rows]).unwrap());
    check_figure(&plot::input_vs_output(&dir, "e", "empty", "empty", &[], &[]).unwrap());
    check_figure(&plot::residual_hist(&dir, "re", "empty", "Δ", &[]).unwrap());
    check_figure(&plot::latent_pairs(&dir, "l1", &[0.5; 10], 1, 6).unwrap());
    check_figure(&plot::correlation_matrix(&dir, "cm0", "none", &[], &[]).unwrap());

    // mass (1 … 50) is integral: integer-aligned bins; every ratio panel states its errors.
    let mass: Vec<f64> = (0..rows).map(|r| x[r * names.len() + 3] as f64).collect();
    let b = plot::Binning::shared(&mass, &mass, 60);
    assert_eq!((b.edges[0], b.edges.len()), (0.5, 51));
    let svg = std::fs::read_to_string(dir.join("figs/recon_03_mass.svg")).unwrap();
    assert!(svg.contains("ratio: Poisson errors"), "ratio panel without its error note");
    // A reconstruction that misses a region: the empty bins are named, not drawn as 0 or ∞.
    let shifted: Vec<f64> = mass.iter().map(|m| m + 20.0).collect();
    let f = plot::input_vs_output(&dir, "gap", "mass", "mass [GeV]", &mass, &shifted).unwrap();
    assert!(std::fs::read_to_string(&f.svg).unwrap().contains("grey: bin empty in one sample"));
    // The latent colour key is labelled at both ends with numbers, not "max".
    let latent = std::fs::read_to_string(dir.join("figs/latent.svg")).unwrap();
    assert!(latent.contains("jets per cell") && latent.contains(" jets\n</text>") && !latent.contains("\nmax\n"));

    // η and φ: absolute residual only; the mostly-zero column: relative over its 5 % of
    // non-zero rows, said so, with a σ that stays sane.
    let ev = hepae::analysis::metrics::evaluate(
        &hepae::SavedModel::load(&model).unwrap(),
        &hepae::Dataset::open(&data).unwrap(),
        None,
        "all rows",
    )
    .unwrap();
    let var = |n: &str| ev.variables.iter().find(|v| v.name == n).unwrap();
    for n in ["eta", "phi"] {
        assert!(var(n).relative.is_none() && var(n).relative_method.is_none() && var(n).absolute.is_some(), "{n}");
    }
    let z = var("mostly_zero");
    let m = z.relative_method.as_ref().unwrap();
    assert!((m.fraction - 0.05).abs() < 1e-9, "{m:?}");
    assert!(z.relative.as_ref().unwrap().n == 30 && z.relative.as_ref().unwrap().std < 10.0, "{z:?}");
    let table = ev.table();
    assert!(table.contains("eta, phi: absolute residual") && table.contains("mostly_zero 5 %"), "{table}");
    let json = serde_json::to_string(&ev).unwrap();
    assert!(json.contains("\"relative_method\"") && json.contains("\"fraction\""));
    let resid = std::fs::read_to_string(dir.join("figs/resid_05_mostly_zero.svg")).unwrap();
    // The figures use the validation split (90 jets): the title names the rows above the floor.
    assert!(resid.contains("mostly_zero: relative residual over ") && resid.contains("% with |mostly_zero| &gt; "));

    // A table wider than --max-vars: figures for the first ones only, and a note saying so.
    let opt = hepae::cli::plot::PlotOptions { max_vars: 3, ..hepae::cli::plot::PlotOptions::new("auto", 1000) };
    let set = hepae::cli::plot::plot_files_with(&model, &data, &dir.join("figs3"), &opt).unwrap();
    assert_eq!(set.figures.len(), 3 * 2 + 3);
    assert!(set.notes.iter().any(|n| n.contains("first 3")), "{:?}", set.notes);
}

#[test]
fn hooks_for_later_commands() {
    let dir = tmpdir("hooks");
    // ROC: a good and a poor tagger, FPR from 1e-6 (below the axis) to 1.
    let curve = |power: f64| -> Vec<(f64, f64)> {
        (0..=60)
            .map(|i| {
                let fpr = 10f64.powf(-6.0 + 6.0 * i as f64 / 60.0);
                (fpr, fpr.powf(power))
            })
            .collect()
    };
    let curves = vec![
        RocCurve { label: "AE score".into(), points: curve(0.1), background: 1_000_000, auc: 0.9314 },
        RocCurve { label: "pT cut".into(), points: curve(0.6), background: 0, auc: f64::NAN },
    ];
    let f = plot::roc_curve(&dir, "roc", "ROC: ttbar vs QCD", &curves).unwrap();
    check_figure(&f);
    // The legend shows the AUC it is given (computed from the scores), and none when unknown.
    let svg = std::fs::read_to_string(&f.svg).unwrap();
    assert!(svg.contains("AE score (AUC = 0.9314"), "legend AUC missing");
    assert!(svg.contains("pT cut") && !svg.contains("pT cut (AUC"), "no AUC for an unknown one");
    // 1 000 000 background jets: the first curve stops at FPR 1e-6 and says so.
    assert!(std::fs::read_to_string(&f.svg).unwrap().contains("stops at 1/N_bkg = 1.00e-6"));
    check_figure(&plot::roc_curve(&dir, "roc0", "no curves", &[]).unwrap());

    let pts: Vec<RatioPoint> = [2usize, 4, 8, 15]
        .iter()
        .map(|&l| RatioPoint {
            label: format!("latent {l}"),
            ratio: 24.0 / l as f64,
            error: 1e-4 * (24.0 / l as f64).powi(2),
        })
        .collect();
    check_figure(&plot::ratio_vs_error(&dir, "ratio", "Compression", "validation MSE", &pts).unwrap());
    check_figure(&plot::ratio_vs_error(&dir, "ratio0", "none", "MSE", &[]).unwrap());

    let real: Vec<f64> = (0..2000).map(|i| ((i * 7919) % 1000) as f64 / 10.0).collect();
    let gen: Vec<f64> = real.iter().map(|v| v * 1.05 + 1.0).collect();
    check_figure(&plot::marginals(&dir, "marg", "mass", "mass [GeV]", &real, &gen).unwrap());

    let bars = vec![
        Bar { label: "scalar, batch 1".into(), value: 850.0, err: Some(20.0) },
        Bar { label: "AVX2+FMA, batch 1".into(), value: 240.0, err: Some(8.0) },
        Bar { label: "AVX-512, batch 4096".into(), value: 31.5, err: None },
        Bar { label: "broken".into(), value: f64::NAN, err: None },
    ];
    check_figure(&plot::encode_cost_bars(&dir, "bars", "Encode cost", "ns per jet", &bars).unwrap());
    check_figure(&plot::encode_cost_bars(&dir, "bars0", "none", "ns", &[]).unwrap());
}

#[test]
fn bad_history_names_the_line() {
    let e = plot::parse_history(Path::new("h.csv"), "epoch,train_loss,val_loss,seconds\n1,x,,0.1\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("h.csv") && e.contains("train_loss"), "{e}");
    let h = plot::parse_history(Path::new("h.csv"), "epoch,train_loss,val_loss,seconds\n1,0.5,,0.1\n2,0.25,0.3,0.1\n")
        .unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].val, None);
    assert_eq!(h[1].val, Some(0.3));
}
