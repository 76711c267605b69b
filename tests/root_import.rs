//! ROOT input against the shared exports of the same jets: `import FILE.root` must give the
//! NPY export's float32 values exactly (max |Δ| = 0), and the CSV export's values after
//! rounding to the 7 significant digits the CSV was written with.
#![cfg(feature = "root")]

use hepae::data::import::npy::read_npy_any;
use hepae::data::import::root::{read_root, RootSelect};
use hepae::data::import::{import_root, ImportOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hepae-root-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// `Jet_<col>` for each column of a CSV export's header, except the trailing `event_idx`.
fn jet_branches(csv: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(csv).unwrap();
    let header = text.lines().next().unwrap().trim();
    header.split(',').filter(|c| *c != "event_idx").map(|c| format!("Jet_{c}")).collect()
}

fn all_jets(branches: Vec<String>) -> RootSelect {
    RootSelect { tree: "Events".into(), branches, collection: None, event_idx: true }
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn nanoaod_v6_matches_the_npy_export_exactly() {
    let sel = all_jets(jet_branches(&data("dy_nano_v6.csv")));
    let t = read_root(&data("nano_dy.root"), &sel).unwrap();
    let (rows, cols, want) = read_npy_any(&data("dy_nano_v6.npy")).unwrap();
    assert_eq!((t.rows, t.columns.len(), t.events), (rows, cols, 40));
    assert_eq!(t.columns[..4], ["pt", "eta", "phi", "mass"]);
    assert_eq!(t.columns.last().unwrap(), "event_idx");
    assert_eq!(max_abs_diff(&t.data, &want), 0.0);
    assert!(t.data.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()));
}

/// The CSV export holds `%.7g` text: equal once our float32 values are rounded the same way.
#[test]
fn nanoaod_v6_matches_the_csv_export_to_seven_digits() {
    let sel = all_jets(jet_branches(&data("dy_nano_v6.csv")));
    let t = read_root(&data("nano_dy.root"), &sel).unwrap();
    let text = std::fs::read_to_string(data("dy_nano_v6.csv")).unwrap();
    let mut n = 0;
    for (r, line) in text.lines().skip(1).enumerate() {
        for (c, field) in line.trim().split(',').enumerate() {
            let csv: f64 = field.parse().unwrap();
            let ours = t.data[r * t.columns.len() + c] as f64;
            let rounded: f64 = format!("{ours:.6e}").parse().unwrap();
            assert_eq!(rounded, csv, "row {r} column {}", t.columns[c]);
            n += 1;
        }
    }
    assert_eq!(n, t.data.len());
}

/// NanoAOD 2015 (uint8 multiplicities, uint32 nJet): oxyroot 0.1.25 returns this file's jagged
/// baskets as one entry; the reader regroups by nJet, so event_idx and every value match.
#[test]
fn nanoaod_2015_is_regrouped_by_its_count_branch() {
    let csv_cols = ["pt", "eta", "phi", "mass", "nConstituents", "jetId", "hadronFlavour"];
    let sel = all_jets(csv_cols.iter().map(|c| format!("Jet_{c}")).collect());
    let t = read_root(&data("nanoAOD_2015_CMS_Open_Data_ttbar.root"), &sel).unwrap();
    let (rows, cols, want) = read_npy_any(&data("wjets_nano_2015_opendata.npy")).unwrap();
    assert_eq!((t.rows, t.events), (rows, 200));
    // The export's column order: its CSV header (shared/data/wjets_nano_2015_opendata.csv).
    let export_cols = export_columns_2015();
    assert_eq!(export_cols.len(), cols);
    for (j, name) in t.columns.iter().enumerate() {
        let k = export_cols.iter().position(|c| c == name).unwrap();
        for r in 0..rows {
            assert_eq!(
                t.data[r * t.columns.len() + j].to_bits(),
                want[r * cols + k].to_bits(),
                "row {r} column {name}"
            );
        }
    }
}

fn export_columns_2015() -> Vec<String> {
    std::fs::read_to_string(data("wjets_nano_2015_opendata.columns")).unwrap().lines().map(str::to_string).collect()
}

#[test]
fn row_cuts_and_column_selection_work_on_root_input() {
    let out = tmp("b.npy");
    let sel = RootSelect {
        tree: "Events".into(),
        branches: ["Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass", "Jet_jetId"].map(String::from).to_vec(),
        collection: None,
        event_idx: true,
    };
    let opts = ImportOptions {
        columns: Some(["pt", "eta", "event_idx"].map(String::from).to_vec()),
        filter: Some("pt>30".into()),
        where_: Some("jetId>=2".into()),
        ..ImportOptions::default()
    };
    let r = import_root(&data("nano_dy.root"), &out, &sel, &opts).unwrap();
    assert_eq!(r.rows_read, 188);
    assert!(r.rows_kept > 0 && r.rows_kept < 188, "{r:?}");
    assert_eq!(r.columns, ["pt", "eta", "event_idx"]);
    let (rows, cols, v) = read_npy_any(&out).unwrap();
    assert_eq!((rows as u64, cols), (r.rows_kept, 3));
    assert!(v.chunks(3).all(|row| row[0] > 30.0));
}

fn err(branches: &[&str], tree: &str) -> String {
    let sel = RootSelect {
        tree: tree.into(),
        branches: branches.iter().map(|s| s.to_string()).collect(),
        collection: None,
        event_idx: false,
    };
    read_root(&data("nano_dy.root"), &sel).unwrap_err().to_string()
}

#[test]
fn bad_selections_fail_with_one_line_naming_file_tree_and_branch() {
    let e = err(&["Jet_pt", "Jet_nope"], "Events");
    assert!(e.contains("nano_dy.root") && e.contains("Events/Jet_nope") && e.contains("no such branch"), "{e}");
    let e = err(&["Jet_pt", "FatJet_pt"], "Events");
    assert!(e.contains("Events/FatJet_pt") && e.contains("event 0"), "ragged: {e}");
    let e = err(&["Jet_pt"], "Nope");
    assert!(e.contains("no tree 'Nope'") && e.contains("Events"), "{e}");
    let e = err(&[], "Events");
    assert!(e.contains("--branches"), "{e}");
    for e in [err(&["Jet_pt", "Jet_nope"], "Events"), err(&["Jet_pt", "FatJet_pt"], "Events")] {
        assert_eq!(e.lines().count(), 1, "{e}");
    }
    // Not a ROOT file.
    let sel = all_jets(vec!["Jet_pt".into()]);
    let e = read_root(&data("dy_nano_v6.npy"), &sel).unwrap_err().to_string();
    assert!(e.contains("dy_nano_v6.npy"), "{e}");
}

/// Flat branches alone give one row per event; mixed with jets they repeat on every jet.
#[test]
fn flat_branches_give_events_or_repeat_per_jet() {
    let sel = RootSelect {
        tree: "Events".into(),
        branches: vec!["nJet".into(), "run".into()],
        collection: None,
        event_idx: false,
    };
    let t = read_root(&data("nano_dy.root"), &sel).unwrap();
    assert_eq!((t.rows, t.columns.clone()), (40, vec!["nJet".into(), "run".into()]));
    let njet_total: f32 = t.data.chunks(2).map(|r| r[0]).sum();
    let sel = RootSelect {
        tree: "Events".into(),
        branches: vec!["Jet_pt".into(), "nJet".into()],
        collection: None,
        event_idx: true,
    };
    let t = read_root(&data("nano_dy.root"), &sel).unwrap();
    assert_eq!(t.rows as f32, njet_total);
    assert_eq!(t.columns, ["Jet_pt", "nJet", "event_idx"]);
}

#[test]
fn cli_imports_root() {
    let out = tmp("cli.npy");
    let o = Command::new(env!("CARGO_BIN_EXE_hepae"))
        .arg("import")
        .arg(data("nano_dy.root"))
        .args(["-o", out.to_str().unwrap()])
        .args(["--branches", "Jet_pt,Jet_eta,Jet_phi,Jet_mass", "--event-idx"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cols = std::fs::read_to_string(out.with_extension("columns")).unwrap();
    assert_eq!(cols.split_whitespace().collect::<Vec<_>>(), ["pt", "eta", "phi", "mass", "event_idx"]);
    let o = Command::new(env!("CARGO_BIN_EXE_hepae"))
        .arg("import")
        .arg(data("nano_dy.root"))
        .args(["-o", out.to_str().unwrap(), "--branches", "Jet_pt,Jet_bogus"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(e.starts_with("error: ") && e.contains("Events/Jet_bogus") && e.lines().count() == 1, "{e}");
}

/// A corrupt compressed basket makes oxyroot panic inside; the import still fails with one
/// `error:` line naming the file and tree, and no panic message.
#[test]
fn corrupt_basket_is_one_error_line() {
    let mut bytes = std::fs::read(data("nano_dy.root")).unwrap();
    bytes[60_000..60_008].copy_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1]);
    let bad = tmp("corrupt.root");
    std::fs::write(&bad, &bytes).unwrap();
    let out = tmp("corrupt.npy");
    let o = Command::new(env!("CARGO_BIN_EXE_hepae"))
        .arg("import")
        .arg(&bad)
        .args(["-o", out.to_str().unwrap()])
        .args(["--branches", "Jet_pt,Jet_eta,Jet_mass,Jet_phi,Jet_area,Jet_qgl,Jet_jetId"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(!e.contains("panicked"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.starts_with("error: ") && e.contains("corrupt.root") && e.contains("Events/Jet_"), "{e}");
    assert!(e.contains("corrupt or truncated ROOT file"), "{e}");
    assert!(!out.exists());
}

/// `--collection Jet`: all numeric `Jet_*` branches, in tree order; the same jets and values as
/// the export, whose columns are a permutation of them.
#[test]
fn collection_reads_every_jet_branch() {
    let sel = RootSelect { tree: "Events".into(), branches: vec![], collection: Some("Jet".into()), event_idx: true };
    let t = read_root(&data("nano_dy.root"), &sel).unwrap();
    let (rows, cols, want) = read_npy_any(&data("dy_nano_v6.npy")).unwrap();
    assert_eq!((t.rows, t.columns.len()), (rows, cols));
    let export = std::fs::read_to_string(data("dy_nano_v6.columns")).unwrap();
    let export: Vec<&str> = export.lines().collect();
    for (j, name) in t.columns.iter().enumerate() {
        let k = export.iter().position(|c| c == name).unwrap();
        for r in 0..rows {
            assert_eq!(t.data[r * cols + j].to_bits(), want[r * cols + k].to_bits());
        }
    }
    let sel = RootSelect { collection: Some("Nope".into()), ..sel };
    let e = read_root(&data("nano_dy.root"), &sel).unwrap_err().to_string();
    assert!(e.contains("no numeric branch Nope_*"), "{e}");
}
