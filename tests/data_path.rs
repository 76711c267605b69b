//! The data path as specifications: NPY round trips, CSV import equal to numpy's export bit for
//! bit, one-line errors that name file + row/line + column and leave nothing behind, normalisers,
//! row filters, and the synthetic-jet generator.

use hepae::data::filter::RowFilter;
use hepae::data::import::csv::{read_csv, CsvReader};
use hepae::data::import::npy::read_npy_any;
use hepae::data::import::{import_file, ImportOptions};
use hepae::data::normalize::{BadValue, ColumnTransform, NormKind, Normalizer};
use hepae::data::npy::{columns_path, write_npy, Dataset, NpyWriter};
use hepae::data::synth::synth_like;
use std::path::{Path, PathBuf};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data");

fn tmpdir(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let d = std::env::temp_dir().join(format!(
        "hepae-data-{name}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Sorted file names in `dir`.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

fn shared(name: &str) -> Option<PathBuf> {
    let p = Path::new(SHARED).join(name);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("note: {} not found; skipping", p.display());
        None
    }
}

/// A raw NPY file with any header dict and data bytes.
fn raw_npy(path: &Path, dict: &str, data: &[u8]) {
    let mut h = dict.to_string();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(h.len() as u16).to_le_bytes());
    b.extend_from_slice(h.as_bytes());
    b.extend_from_slice(data);
    std::fs::write(path, b).unwrap();
}

// ------------------------------------------------------------------------------------------------
// NPY
// ------------------------------------------------------------------------------------------------

#[test]
fn npy_round_trip_and_numpy_header() {
    let dir = tmpdir("rt");
    let p = dir.join("a.npy");
    let data: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 1.0).collect();
    write_npy(&p, 4, &data, Some(&names(&["pt", "eta", "phi", "mass"]))).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    assert!(bytes.starts_with(b"\x93NUMPY"));
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + hlen) % 64, 0, "data offset must be a multiple of 64");
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).unwrap();
    assert!(header.contains("'descr': '<f4', 'fortran_order': False, 'shape': (3, 4)"), "{header}");
    assert!(header.ends_with('\n'));
    let ds = Dataset::open(&p).unwrap();
    assert_eq!((ds.rows(), ds.cols()), (3, 4));
    assert_eq!(ds.as_slice(), &data[..]);
    assert_eq!(ds.row(1), &data[4..8]);
    assert_eq!(ds.columns(), &names(&["pt", "eta", "phi", "mass"])[..]);
    assert_eq!(ds.column_index("phi").unwrap(), 2);
    let e = ds.column_index("nope").unwrap_err().to_string();
    assert!(e.contains("nope") && e.contains("pt, eta, phi, mass"), "{e}");
    let mut out = vec![0f32; 8];
    ds.gather(&[2, 0], &mut out);
    assert_eq!(&out[..4], &data[8..12]);
    assert_eq!(&out[4..], &data[..4]);
    ds.check_finite().unwrap();
    assert_eq!(std::fs::read_to_string(columns_path(&p)).unwrap(), "pt\neta\nphi\nmass\n");
    // Without names: c0, c1, …
    let q = dir.join("b.npy");
    write_npy(&q, 2, &[1.0, 2.0], None).unwrap();
    assert_eq!(Dataset::open(&q).unwrap().columns(), &names(&["c0", "c1"])[..]);
    // read_npy_any reads it too.
    assert_eq!(read_npy_any(&p).unwrap(), (3, 4, data));
}

#[test]
fn npy_writer_streams_chunks() {
    let dir = tmpdir("stream");
    let p = dir.join("s.npy");
    let cols = names(&["a", "b", "c"]);
    let mut w = NpyWriter::create(&p, &cols).unwrap();
    let mut all = Vec::new();
    for k in 0..3 {
        let chunk: Vec<f32> = (0..(3 * (k + 2))).map(|i| (i + 100 * k) as f32).collect();
        w.write_rows(&chunk).unwrap();
        all.extend(chunk);
    }
    assert_eq!(w.rows_written(), 9);
    assert!(!p.exists(), "nothing at the target before finish");
    w.finish().unwrap();
    let ds = Dataset::open(&p).unwrap();
    assert_eq!((ds.rows(), ds.cols()), (9, 3));
    assert_eq!(ds.as_slice(), &all[..]);
    let bytes = std::fs::read(&p).unwrap();
    let header = String::from_utf8_lossy(&bytes[10..128]);
    assert!(header.contains("'shape': (9, 3)"), "{header}");
    // A writer dropped without finish leaves nothing.
    let q = dir.join("dropped.npy");
    let mut w = NpyWriter::create(&q, &cols).unwrap();
    w.write_rows(&[1.0, 2.0, 3.0]).unwrap();
    drop(w);
    assert_eq!(listing(&dir), names(&["s.columns", "s.npy"]));
}

#[test]
fn npy_any_dtypes_and_versions() {
    let dir = tmpdir("any");
    let p = dir.join("f8.npy");
    let vals = [1.5f64, -2.25, 3.0, 1e10];
    raw_npy(
        &p,
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
        &vals.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>(),
    );
    assert_eq!(read_npy_any(&p).unwrap(), (2, 2, vec![1.5, -2.25, 3.0, 1e10]));
    let p = dir.join("i4.npy");
    raw_npy(
        &p,
        "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }",
        &[-1i32, 0, 7].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>(),
    );
    assert_eq!(read_npy_any(&p).unwrap(), (3, 1, vec![-1.0, 0.0, 7.0]));
    let p = dir.join("u1.npy");
    raw_npy(&p, "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 3), }", &[0, 5, 255]);
    assert_eq!(read_npy_any(&p).unwrap(), (1, 3, vec![0.0, 5.0, 255.0]));
    let p = dir.join("b1.npy");
    raw_npy(&p, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", &[1, 0]);
    assert_eq!(read_npy_any(&p).unwrap(), (2, 1, vec![1.0, 0.0]));
    // v2.0 header is read by Dataset.
    let p = dir.join("v2.npy");
    let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }";
    let mut h = dict.to_string();
    while !(12 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY\x02\x00".to_vec();
    b.extend_from_slice(&(h.len() as u32).to_le_bytes());
    b.extend_from_slice(h.as_bytes());
    b.extend_from_slice(&1.0f32.to_le_bytes());
    b.extend_from_slice(&2.0f32.to_le_bytes());
    std::fs::write(&p, b).unwrap();
    assert_eq!(Dataset::open(&p).unwrap().as_slice(), &[1.0, 2.0]);
    // Importing a <f8 NPY gives a <f4 dataset.
    let src = dir.join("f8.npy");
    let out = dir.join("f8_as_f4.npy");
    let r = import_file(&src, &out, &ImportOptions::default()).unwrap();
    assert_eq!((r.rows_read, r.rows_kept), (2, 2));
    assert_eq!(Dataset::open(&out).unwrap().as_slice(), &[1.5, -2.25, 3.0, 1e10]);
}

// ------------------------------------------------------------------------------------------------
// CSV import against numpy's export
// ------------------------------------------------------------------------------------------------

/// Imports `TABLE.csv` and compares with `TABLE.npy` (numpy's export from the ROOT file).
/// `csv_digits`: `None` when the CSV carries full f32 precision (the import must be bit for bit
/// equal to the NPY); `Some(d)` when the CSV was written with `%.{d}g`, in which case the import
/// must be bit for bit equal to the NPY values rendered with `d` significant digits and parsed as
/// f32 (no precision beyond what the file holds is lost or invented).
fn csv_matches_npy(table: &str, csv_digits: Option<usize>) {
    let (Some(csv), Some(npy)) = (shared(&format!("{table}.csv")), shared(&format!("{table}.npy"))) else {
        return;
    };
    let dir = tmpdir(table);
    let out = dir.join(format!("{table}.npy"));
    let r = import_file(&csv, &out, &ImportOptions::default()).unwrap();
    let reference = Dataset::open(&npy).unwrap();
    let got = Dataset::open(&out).unwrap();
    assert_eq!((got.rows(), got.cols()), (reference.rows(), reference.cols()));
    assert_eq!(r.rows_read as usize, reference.rows());
    let header = std::fs::read_to_string(&csv).unwrap().lines().next().unwrap().to_string();
    assert_eq!(got.columns().join(","), header);
    got.check_finite().unwrap();
    match csv_digits {
        None => {
            let max_diff =
                got.as_slice().iter().zip(reference.as_slice()).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert_eq!(max_diff, 0.0, "{table}: CSV import differs from the NPY export");
            for (a, b) in got.as_slice().iter().zip(reference.as_slice()) {
                assert_eq!(a.to_bits(), b.to_bits());
            }
        }
        Some(d) => {
            for (k, (a, b)) in got.as_slice().iter().zip(reference.as_slice()).enumerate() {
                let rendered: f32 = format!("{:.*e}", d - 1, *b as f64).parse().unwrap();
                assert_eq!(a.to_bits(), rendered.to_bits(), "{table} value {k}: {a} vs npy {b}");
                assert!((a - b).abs() <= 6e-7 * b.abs().max(f32::MIN_POSITIVE), "{table} value {k}: {a} vs {b}");
            }
        }
    }
}

#[test]
fn csv_import_equals_npy_ttbar() {
    // The shared ttbar CSV was written with 7 significant digits (%.7g: "11.52344" for the f32
    // 11.5234375), so it cannot equal the NPY bit for bit; it must equal exactly what it holds.
    csv_matches_npy("ttbar_nano_v15", Some(7));
}

#[test]
fn csv_import_equals_npy_atlas() {
    // Written with full precision: bit for bit equal to the NPY.
    csv_matches_npy("atlas_physlite_jets", None);
}

#[test]
fn import_select_filter_and_where() {
    let Some(csv) = shared("ttbar_nano_v15.csv") else {
        return;
    };
    let dir = tmpdir("select");
    let out = dir.join("b.npy");
    let opts = ImportOptions {
        columns: Some(names(&["mass", "pt", "eta"])),
        filter: Some("pt<8000, mass<800".into()),
        where_: Some("hadronFlavour==5".into()),
        ..Default::default()
    };
    let r = import_file(&csv, &out, &opts).unwrap();
    assert_eq!(r.rows_read, 1636);
    assert_eq!(r.rows_kept, 348, "348 b jets per the data README");
    assert_eq!(r.columns, names(&["mass", "pt", "eta"]));
    let ds = Dataset::open(&out).unwrap();
    assert_eq!((ds.rows(), ds.cols()), (348, 3));
    // Same rows from the NPY, selected by hand.
    let (all, _, full) = read_csv(&csv).unwrap();
    let hf = all.iter().position(|c| c == "hadronFlavour").unwrap();
    let expect: Vec<f32> = full.chunks(all.len()).filter(|r| r[hf] == 5.0).flat_map(|r| [r[3], r[0], r[1]]).collect();
    assert_eq!(ds.as_slice(), &expect[..]);
    // --first-columns and --drop-columns.
    let out2 = dir.join("first.npy");
    let opts = ImportOptions { first_columns: Some(4), drop_columns: names(&["phi"]), ..Default::default() };
    let r = import_file(&csv, &out2, &opts).unwrap();
    assert_eq!(r.columns, names(&["pt", "eta", "mass"]));
    // NPY input (no .columns beside the shared file): names c0…; a <f4 NPY → same data.
    let out3 = dir.join("from_npy.npy");
    let r = import_file(
        &Path::new(SHARED).join("ttbar_nano_v15.npy"),
        &out3,
        &ImportOptions { where_: Some("c62==5".into()), ..Default::default() },
    )
    .unwrap();
    assert_eq!(r.rows_kept, 348);
}

// ------------------------------------------------------------------------------------------------
// Bad input: one line naming file + line/row + column, nothing left behind, no panic
// ------------------------------------------------------------------------------------------------

/// Imports `content` written as `in.csv`; expects an error containing every `needles` and a
/// directory holding only the input afterwards.
fn bad_csv(name: &str, content: &str, opts: &ImportOptions, needles: &[&str]) {
    let dir = tmpdir(name);
    let input = dir.join("in.csv");
    std::fs::write(&input, content).unwrap();
    let out = dir.join("out.npy");
    let err = import_file(&input, &out, opts).expect_err(name).to_string();
    assert!(!err.contains('\n'), "{name}: error is not one line: {err:?}");
    for n in needles {
        assert!(err.contains(n), "{name}: error {err:?} does not contain {n:?}");
    }
    assert_eq!(listing(&dir), names(&["in.csv"]), "{name}: output or temporary files left behind");
}

#[test]
fn bad_csv_inputs() {
    let none = ImportOptions::default();
    bad_csv(
        "nan",
        "pt,eta,mass\n1,2,3\n4,5,3\n7,8,nan\n",
        &none,
        &["in.csv", "line 4", "column mass", "'nan' is not finite"],
    );
    bad_csv("inf", "pt,eta,mass\n1,2,3\n4,-inf,3\n", &none, &["in.csv", "line 3", "column eta", "not finite"]);
    bad_csv("overflow", "pt,eta,mass\n1e39,2,3\n", &none, &["in.csv", "line 2", "column pt", "not finite"]);
    bad_csv(
        "ragged",
        "pt,eta,mass\n1,2,3\n4,5\n",
        &none,
        &["in.csv", "line 3", "has 2 fields, header has 3", "column mass"],
    );
    bad_csv("ragged_long", "pt,eta,mass\n1,2,3,4\n", &none, &["in.csv", "line 2", "has 4 fields, header has 3"]);
    bad_csv(
        "text",
        "pt,eta,mass\n1,2,3\n4,abc,6\n",
        &none,
        &["in.csv", "line 3", "column eta", "'abc' is not a number"],
    );
    bad_csv("emptycell", "pt,eta,mass\n1,,3\n", &none, &["in.csv", "line 2", "column eta", "empty"]);
    bad_csv("empty", "", &none, &["in.csv", "empty"]);
    bad_csv("header_only", "pt,eta,mass\n", &none, &["in.csv", "header", "no data rows"]);
    bad_csv("dup", "pt,eta,pt\n1,2,3\n", &none, &["in.csv", "line 1", "column pt", "duplicate"]);
    bad_csv("no_header", "1,2,3\n4,5,6\n", &none, &["in.csv", "line 1", "header"]);
    bad_csv("blank_middle", "pt,eta\n1,2\n\n3,4\n", &none, &["in.csv", "line 3", "blank"]);
    let cols = ImportOptions { columns: Some(names(&["pt", "nope"])), ..Default::default() };
    bad_csv("unknown_col", "pt,eta,mass\n1,2,3\n", &cols, &["nope", "pt, eta, mass"]);
    let filt = ImportOptions { filter: Some("pt<3,bogus>1".into()), ..Default::default() };
    bad_csv("unknown_filter", "pt,eta,mass\n1,2,3\n", &filt, &["bogus", "pt, eta, mass"]);
    let whr = ImportOptions { where_: Some("pt=3".into()), ..Default::default() };
    bad_csv("bad_op", "pt,eta,mass\n1,2,3\n", &whr, &["pt=3", "operator"]);
    let cut_all = ImportOptions { filter: Some("pt>100".into()), ..Default::default() };
    bad_csv("none_kept", "pt,eta,mass\n1,2,3\n", &cut_all, &["in.csv", "none of the 1 rows"]);
}

#[test]
fn good_csv_dialect() {
    let dir = tmpdir("dialect");
    let input = dir.join("in.csv");
    std::fs::write(&input, "\u{feff}\"pt\", \"eta\" ,mass\r\n 1.5 ,\"-2\",3e2\r\n4,5,+6\r\n\r\n\n").unwrap();
    let (cols, rows, data) = read_csv(&input).unwrap();
    assert_eq!(cols, names(&["pt", "eta", "mass"]));
    assert_eq!(rows, 2);
    assert_eq!(data, vec![1.5, -2.0, 300.0, 4.0, 5.0, 6.0]);
    let r = CsvReader::open(&input).unwrap();
    assert_eq!(r.columns().len(), 3);
}

#[test]
fn refuses_output_over_input() {
    let dir = tmpdir("overwrite");
    let p = dir.join("a.npy");
    write_npy(&p, 2, &[1.0, 2.0], None).unwrap();
    let err = import_file(&p, &p, &ImportOptions::default()).unwrap_err().to_string();
    assert!(err.contains("over the input"), "{err}");
    assert_eq!(Dataset::open(&p).unwrap().as_slice(), &[1.0, 2.0]);
}

/// Opens `content` as a Dataset (and imports it); both must fail with a one-line error
/// containing `needles`, leaving nothing behind.
fn bad_npy(name: &str, write: impl FnOnce(&Path), needles: &[&str], import_also_fails: bool) {
    let dir = tmpdir(name);
    let input = dir.join("in.npy");
    write(&input);
    let err = Dataset::open(&input).expect_err(name).to_string();
    assert!(!err.contains('\n'), "{name}: {err:?}");
    assert!(err.contains("in.npy"), "{name}: {err}");
    for n in needles {
        assert!(err.contains(n), "{name}: error {err:?} does not contain {n:?}");
    }
    let out = dir.join("out.npy");
    let imported = import_file(&input, &out, &ImportOptions::default());
    if import_also_fails {
        let e = imported.expect_err(name).to_string();
        assert!(!e.contains('\n') && e.contains("in.npy"), "{name}: {e}");
        assert_eq!(listing(&dir), names(&["in.npy"]), "{name}: leftovers");
    }
}

#[test]
fn bad_npy_inputs() {
    let f4 = |n: usize| (0..n).flat_map(|i| (i as f32).to_le_bytes()).collect::<Vec<u8>>();
    bad_npy(
        "truncated",
        |p| raw_npy(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (10, 3), }", &f4(25)),
        &["truncated", "row 9"],
        true,
    );
    bad_npy(
        "f8",
        |p| raw_npy(p, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", &[0u8; 32]),
        &["dtype <f8 is not float32; convert with `hepae import`"],
        false,
    );
    bad_npy("magic", |p| std::fs::write(p, b"PK\x03\x04 this is a zip file").unwrap(), &["bad magic"], true);
    bad_npy("empty", |p| std::fs::write(p, b"").unwrap(), &["empty"], true);
    bad_npy("short_header", |p| std::fs::write(p, b"\x93NUMPY\x01\x00\xff\x00{'descr'").unwrap(), &["truncated"], true);
    // 3-D and 4-D arrays are image datasets (tests/images.rs); 5-D is neither.
    bad_npy(
        "5d",
        |p| raw_npy(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 2, 2, 2), }", &f4(16)),
        &["5-D", "4-D (rows, C, H, W)"],
        true,
    );
    bad_npy(
        "fortran",
        |p| raw_npy(p, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", &f4(4)),
        &["fortran_order"],
        true,
    );
    bad_npy(
        "string",
        |p| raw_npy(p, "{'descr': '<U3', 'fortran_order': False, 'shape': (2, 2), }", &[0u8; 48]),
        &["dtype <U3"],
        true,
    );
    // Column names file with the wrong count.
    bad_npy(
        "colcount",
        |p| {
            raw_npy(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", &f4(4));
            std::fs::write(columns_path(p), "a\nb\nc\n").unwrap();
        },
        &["in.columns", "3 column names", "2 columns"],
        false,
    );
    // NaN in a dataset: check_finite names the row and column; import refuses it.
    let dir = tmpdir("npynan");
    let p = dir.join("in.npy");
    write_npy(&p, 3, &[1.0, 2.0, 3.0, 4.0, f32::NAN, 6.0], Some(&names(&["pt", "eta", "mass"]))).unwrap();
    let e = Dataset::open(&p).unwrap().check_finite().unwrap_err().to_string();
    assert!(e.contains("in.npy, row 2, column eta") && e.contains("not finite"), "{e}");
    let e = import_file(&p, &dir.join("out.npy"), &ImportOptions::default()).unwrap_err().to_string();
    assert!(e.contains("in.npy, row 2, column eta"), "{e}");
    assert_eq!(listing(&dir), names(&["in.columns", "in.npy"]));
}

// ------------------------------------------------------------------------------------------------
// Filters
// ------------------------------------------------------------------------------------------------

#[test]
fn row_filter() {
    let cols = names(&["pt", "mass", "hadronFlavour"]);
    let f = RowFilter::parse("pt<8000, mass <= 800", &cols).unwrap();
    assert!(f.keep(&[100.0, 800.0, 0.0]));
    assert!(!f.keep(&[8000.0, 1.0, 0.0]));
    assert!(!f.keep(&[1.0, 800.5, 0.0]));
    let g = RowFilter::parse("hadronFlavour==5", &cols).unwrap();
    assert!(g.keep(&[1.0, 1.0, 5.0]) && !g.keep(&[1.0, 1.0, 4.0]));
    let h = RowFilter::parse("hadronFlavour!=0,pt>=20,mass>-1", &cols).unwrap();
    assert!(h.keep(&[20.0, 0.0, 4.0]) && !h.keep(&[19.0, 0.0, 4.0]) && !h.keep(&[20.0, 0.0, 0.0]));
    let both = f.and(g);
    assert!(both.keep(&[1.0, 1.0, 5.0]) && !both.keep(&[1.0, 1.0, 0.0]));
    for (spec, needle) in [
        ("eta<2", "unknown column 'eta'"),
        ("pt~5", "operator"),
        ("pt=5", "operator"),
        ("pt<<5", "operator"),
        ("pt<abc", "not a number"),
        ("pt<5,", "empty"),
        ("", "empty"),
        ("<5", "no column"),
    ] {
        let e = RowFilter::parse(spec, &cols).expect_err(spec).to_string();
        assert!(e.contains(needle) && !e.contains('\n'), "{spec}: {e}");
    }
    let e = RowFilter::parse("eta<2", &cols).unwrap_err().to_string();
    assert!(e.contains("pt, mass, hadronFlavour"), "{e}");
}

// ------------------------------------------------------------------------------------------------
// Normalizer
// ------------------------------------------------------------------------------------------------

fn dataset(dir: &Path, cols: &[&str], data: &[f32]) -> Dataset {
    let p = dir.join("d.npy");
    write_npy(&p, cols.len(), data, Some(&names(cols))).unwrap();
    Dataset::open(&p).unwrap()
}

fn close(a: f32, b: f32, rtol: f32) -> bool {
    (a - b).abs() <= rtol * a.abs().max(b.abs()) + 1e-6
}

#[test]
fn minmax_and_standard() {
    let dir = tmpdir("norm");
    let data: Vec<f32> = (0..40).map(|i| ((i * 37) % 11) as f32 * 1.7 - 3.0 + (i % 4) as f32 * 100.0).collect();
    let ds = dataset(&dir, &["a", "b", "c", "k"], &data);
    let train: Vec<u32> = (0..7).collect();
    let n = Normalizer::fit(NormKind::Minmax, &ds, &train, 1.0).unwrap();
    let mut x = vec![0f32; train.len() * 4];
    ds.gather(&train, &mut x);
    let orig = x.clone();
    n.normalize_rows(&mut x).unwrap();
    assert!(x.iter().all(|v| (-1e-6..=1.0 + 1e-6).contains(v)), "{x:?}");
    for c in 0..4 {
        let col: Vec<f32> = x.iter().skip(c).step_by(4).copied().collect();
        assert!(col.contains(&0.0) && col.iter().any(|v| (v - 1.0).abs() < 1e-6));
    }
    n.denormalize_rows(&mut x);
    for (a, b) in x.iter().zip(&orig) {
        assert!(close(*a, *b, 1e-5), "{a} vs {b}");
    }
    let s = Normalizer::fit(NormKind::Standard, &ds, &train, 1.0).unwrap();
    let mut y = orig.clone();
    s.normalize_rows(&mut y).unwrap();
    for c in 0..4 {
        let col: Vec<f64> = y.iter().skip(c).step_by(4).map(|&v| v as f64).collect();
        let mean = col.iter().sum::<f64>() / col.len() as f64;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / col.len() as f64;
        assert!(mean.abs() < 1e-5 && (var.sqrt() - 1.0).abs() < 1e-4, "col {c}: mean {mean} sd {}", var.sqrt());
    }
    s.denormalize_rows(&mut y);
    for (a, b) in y.iter().zip(&orig) {
        assert!(close(*a, *b, 1e-5), "{a} vs {b}");
    }
    // Constant columns get scale 1.
    let dir2 = tmpdir("const");
    let ds = dataset(&dir2, &["k", "v"], &[2.0, 1.0, 2.0, 3.0]);
    for kind in [NormKind::Minmax, NormKind::Standard] {
        let n = Normalizer::fit(kind, &ds, &[0, 1], 1.0).unwrap();
        assert!(matches!(n.transforms[0], ColumnTransform::Affine { scale, .. } if scale == 1.0));
    }
    // Identity.
    let id = Normalizer::identity(&names(&["a", "b"]));
    assert!(id.is_identity());
    let mut z = vec![3.0, -4.0];
    id.normalize_rows(&mut z).unwrap();
    assert_eq!(z, vec![3.0, -4.0]);
    assert!(!n_is_identity_after_fit(&ds));
    // Kinds parse; the error lists the choices.
    assert_eq!("custom4".parse::<NormKind>().unwrap(), NormKind::Custom4);
    assert_eq!("Standard".parse::<NormKind>().unwrap(), NormKind::Standard);
    let e = "zscore".parse::<NormKind>().unwrap_err().to_string();
    assert!(e.contains("minmax, standard, custom4"), "{e}");
}

fn n_is_identity_after_fit(ds: &Dataset) -> bool {
    Normalizer::fit(NormKind::Minmax, ds, &[0, 1], 1.0).unwrap().is_identity()
}

#[test]
fn custom4_on_ttbar_columns() {
    let dir = tmpdir("c4");
    // pt, eta, phi, mass, area, hadronFlavour (as in ttbar_nano_v15)
    let cols = ["Jet_pt", "eta", "phi", "mass", "area", "hadronFlavour"];
    let data = [
        100.0, 2.5, 3.0, 9.0, 0.5, 5.0, //
        20.0, -1.0, -1.5, -1e-5, 0.4, 0.0, //
        400.0, 0.0, 0.0, 99.0, 0.6, 4.0,
    ];
    let ds = dataset(&dir, &cols, &data);
    let n = Normalizer::fit(NormKind::Custom4, &ds, &[0, 1, 2], 1.0).unwrap();
    assert_eq!(n.transforms[0], ColumnTransform::Log10Pt { to_gev: 1.0 });
    assert_eq!(n.transforms[3], ColumnTransform::Log10Mass { to_gev: 1.0 });
    let mut x = data.to_vec();
    n.normalize_rows(&mut x).unwrap();
    assert!((x[0] - (2.0 - 1.3) / 1.2).abs() < 1e-6, "pt=100 → {}", x[0]);
    assert!((x[1] - 0.5).abs() < 1e-7 && (x[2] - 1.0).abs() < 1e-7);
    assert!((x[3] - 1.0 / 1.8).abs() < 1e-6, "mass 9 → {}", x[3]);
    assert!((x[4] - 0.5).abs() < 1e-6, "area min-max");
    assert!((x[5] - 1.0).abs() < 1e-7, "hadronFlavour min-max");
    assert!(x[9].is_finite(), "mass −1e-5 accepted");
    let mut back = x.clone();
    n.denormalize_rows(&mut back);
    for (a, b) in back.iter().zip(&data) {
        assert!(close(*a, *b, 1e-5), "{a} vs {b}");
    }
    // ATLAS MeV: to_gev = 1e-3 gives the same normalised values.
    let dir2 = tmpdir("c4mev");
    let mev: Vec<f32> = data.chunks(6).flat_map(|r| [r[0] * 1000.0, r[1], r[2], r[3] * 1000.0, r[4], r[5]]).collect();
    let atlas = dataset(
        &dir2,
        &[
            "AnalysisJetsAuxDyn.pt",
            "AnalysisJetsAuxDyn.eta",
            "AnalysisJetsAuxDyn.phi",
            "AnalysisJetsAuxDyn.m",
            "area",
            "f",
        ],
        &mev,
    );
    let m = Normalizer::fit(NormKind::Custom4, &atlas, &[0, 1, 2], 1e-3).unwrap();
    assert_eq!(m.transforms[3], ColumnTransform::Log10Mass { to_gev: 1e-3 });
    let mut y = mev.clone();
    m.normalize_rows(&mut y).unwrap();
    for (a, b) in y.iter().zip(&x) {
        assert!(close(*a, *b, 1e-5), "{a} vs {b}");
    }
    // Serde JSON round trip.
    let json = serde_json::to_string(&m).unwrap();
    assert!(json.contains("\"kind\":\"custom4\"") && json.contains("\"transform\":\"log10_pt\""), "{json}");
    let back: Normalizer = serde_json::from_str(&json).unwrap();
    assert_eq!(back, m);
    assert!(back.validate().is_ok());
}

#[test]
fn custom4_errors_and_bad_values() {
    let dir = tmpdir("c4bad");
    let data = [100.0, 1.0, 50.0, 2.0, -3.0, 1.0, 10.0, -2.0];
    let ds = dataset(&dir, &["pt", "mass"], &data);
    // Row 3 (1-based) has pt = −3.
    let e = Normalizer::fit(NormKind::Custom4, &ds, &[0, 1, 2, 3], 1.0).unwrap_err().to_string();
    assert!(
        e.contains("d.npy, row 3, column pt") && e.contains("value -3 is not > 0, required by the log10 pT transform"),
        "{e}"
    );
    assert!(!e.contains('\n'));
    // Row 4 has mass = −2 GeV.
    let e = Normalizer::fit(NormKind::Custom4, &ds, &[0, 1, 3], 1.0).unwrap_err().to_string();
    assert!(e.contains("row 4, column mass") && e.contains("log10 mass"), "{e}");
    // Fit on the good rows; unseen rows give BadValue.
    let n = Normalizer::fit(NormKind::Custom4, &ds, &[0, 1], 1.0).unwrap();
    let mut x = data[4..].to_vec();
    let bad = n.normalize_rows(&mut x).unwrap_err();
    assert_eq!(bad, BadValue { row: 0, col: 0 });
    assert_eq!(x[0], -3.0, "the bad value is left in place");
    let e = n.bad_value_error(ds.path(), 2, bad, x[0]).to_string();
    assert!(e.contains("row 3, column pt"), "{e}");
    let mut z = vec![5.0, 1.0, 0.0, 1.0];
    assert_eq!(n.normalize_rows(&mut z).unwrap_err(), BadValue { row: 1, col: 0 });
    // NaN in the training rows is refused with row and column.
    let dir2 = tmpdir("fitnan");
    let ds = dataset(&dir2, &["a", "b"], &[1.0, 2.0, 3.0, f32::INFINITY]);
    let e = Normalizer::fit(NormKind::Minmax, &ds, &[0, 1], 1.0).unwrap_err().to_string();
    assert!(e.contains("row 2, column b") && e.contains("not finite"), "{e}");
}

// ------------------------------------------------------------------------------------------------
// Synth
// ------------------------------------------------------------------------------------------------

#[test]
fn synth_like_ttbar() {
    let Some(csv) = shared("ttbar_nano_v15.csv") else {
        return;
    };
    let dir = tmpdir("synth");
    let real_p = dir.join("ttbar.npy");
    import_file(&csv, &real_p, &ImportOptions::default()).unwrap();
    let real = Dataset::open(&real_p).unwrap();
    let out = dir.join("synth.npy");
    let n = synth_like(&real, 10_000, 7, 0.02, &out).unwrap();
    assert_eq!(n, 10_000);
    let syn = Dataset::open(&out).unwrap();
    assert_eq!((syn.rows(), syn.cols()), (10_000, real.cols()));
    assert_eq!(syn.columns(), real.columns());
    syn.check_finite().unwrap();
    let mean = |d: &Dataset, c: usize| (0..d.rows()).map(|i| d.row(i)[c] as f64).sum::<f64>() / d.rows() as f64;
    for name in ["pt", "eta", "mass"] {
        let c = real.column_index(name).unwrap();
        let (a, b) = (mean(&real, c), mean(&syn, c));
        let sd =
            ((0..real.rows()).map(|i| (real.row(i)[c] as f64 - a).powi(2)).sum::<f64>() / real.rows() as f64).sqrt();
        // Within a few % (relative for pt/mass; eta's mean is ~0, so relative to its spread).
        let tol = if name == "eta" { 0.05 * sd } else { 0.05 * a.abs() };
        assert!((a - b).abs() <= tol, "{name}: real mean {a}, synthetic {b}");
    }
    // Integer-valued columns stay integer; φ stays in (−π, π]; fractions in their observed range.
    for (c, col) in real.columns().iter().enumerate() {
        let real_int = (0..real.rows()).all(|i| real.row(i)[c].fract() == 0.0);
        let (lo, hi) =
            (0..real.rows()).map(|i| real.row(i)[c]).fold((f32::MAX, f32::MIN), |(l, h), v| (l.min(v), h.max(v)));
        for i in 0..syn.rows() {
            let v = syn.row(i)[c];
            if real_int {
                assert_eq!(v.fract(), 0.0, "{col} row {i}: {v}");
            }
            if col == "phi" {
                assert!(v > -std::f32::consts::PI && v <= std::f32::consts::PI, "phi {v}");
            }
            if lo >= 0.0 && hi <= 1.5 {
                assert!(v >= lo && v <= hi, "{col}: {v} outside [{lo}, {hi}]");
            }
        }
    }
    // Deterministic in the seed.
    let out2 = dir.join("synth2.npy");
    synth_like(&real, 10_000, 7, 0.02, &out2).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&out2).unwrap());
    // Not a copy of the real rows: pt is jittered.
    let pc = real.column_index("pt").unwrap();
    let real_pts: std::collections::HashSet<u32> = (0..real.rows()).map(|i| real.row(i)[pc].to_bits()).collect();
    let copied = (0..syn.rows()).filter(|&i| real_pts.contains(&syn.row(i)[pc].to_bits())).count();
    assert!(copied < syn.rows() / 10, "{copied} pt values copied unchanged");
}

// ------------------------------------------------------------------------------------------------
// CLI arguments (the subcommands are wired into the Command enum elsewhere)
// ------------------------------------------------------------------------------------------------

#[cfg(feature = "cli")]
#[test]
fn cli_args_parse() {
    use clap::{CommandFactory, Parser};
    use hepae::cli::{import::ImportArgs, synth::SynthArgs};
    #[derive(Parser, Debug)]
    #[allow(clippy::large_enum_variant)] // a test harness, parsed once
    enum Cli {
        Import(ImportArgs),
        Synth(SynthArgs),
    }
    Cli::command().debug_assert();
    let Cli::Import(a) = Cli::try_parse_from([
        "hepae",
        "import",
        "in.csv",
        "-o",
        "out.npy",
        "--columns",
        "pt,eta",
        "--filter",
        "pt<8000,mass<800",
        "--where",
        "hadronFlavour==5",
    ])
    .unwrap() else {
        panic!("not import")
    };
    assert_eq!(a.columns, Some(names(&["pt", "eta"])));
    assert_eq!(a.where_.as_deref(), Some("hadronFlavour==5"));
    assert!(Cli::try_parse_from([
        "hepae",
        "import",
        "in.csv",
        "-o",
        "o.npy",
        "--columns",
        "pt",
        "--first-columns",
        "2"
    ])
    .is_err());
    let Cli::Synth(s) =
        Cli::try_parse_from(["hepae", "synth", "--like", "d.npy", "--rows", "10", "-o", "s.npy"]).unwrap()
    else {
        panic!("not synth")
    };
    assert_eq!((s.rows, s.seed, s.jitter), (10, 1, 0.02));
}
