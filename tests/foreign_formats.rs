//! Foreign input formats fail clearly (issue 13, item 8). A corrupt ROOT file, of any of the
//! corpus's kinds (truncated; bytes flipped or randomised at many offsets; a 4 KiB block
//! zeroed; basket headers with absurd sizes; wrong tree or branch names), either imports
//! exactly what the intact file gives (the damage missed every byte read) or fails with ONE
//! line naming the file (and the tree and branch where it can), with none of the ROOT
//! reader's internals, no panic text, no abort, and no output left behind; through the
//! library entry point and the `hepae` binary. A CSV without a header row says so; ragged
//! rows, NaN/Inf and non-numeric cells name the line and the column.

use hepae::data::import::csv::{import_file, ImportOptions};
use std::path::{Path, PathBuf};

/// A fresh, empty directory for one case.
fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hepae-foreign-{}", std::process::id())).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The file names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// Text that belongs to a reader's or the runtime's internals, never to a user's error line.
const INTERNALS: [&str; 14] = [
    "panicked",
    "assertion",
    "left == right",
    "capacity overflow",
    "not implemented",
    "unwrap",
    "out of range for slice",
    "IO/Root",
    "RCompress",
    "Custom {",
    "oxyroot",
    "stack backtrace",
    "RUST_BACKTRACE",
    "memory allocation",
];

/// An error is one line, names `input`, and shows no internals.
fn assert_clear(what: &str, err: &str, input: &Path) {
    assert_eq!(err.trim_end().lines().count(), 1, "{what}: not one line: {err:?}");
    assert!(err.contains(input.to_str().unwrap()), "{what}: does not name the file: {err:?}");
    for bad in INTERNALS {
        assert!(!err.contains(bad), "{what}: shows internals ({bad}): {err:?}");
    }
}

// ------------------------------------------------------------------------------------------------
// CSV
// ------------------------------------------------------------------------------------------------

/// Imports `content` as `in.csv`; returns the error, after checking that it is clear and that
/// the directory holds only the unchanged input.
fn csv_error(name: &str, content: &str) -> String {
    let dir = tmpdir(name);
    let input = dir.join("in.csv");
    std::fs::write(&input, content).unwrap();
    let err = import_file(&input, &dir.join("out.npy"), &ImportOptions::default()).expect_err(name).to_string();
    assert_clear(name, &err, &input);
    assert_eq!(listing(&dir), ["in.csv"], "{name}: output left behind");
    assert_eq!(std::fs::read_to_string(&input).unwrap(), content, "{name}: input changed");
    err
}

#[test]
fn a_csv_without_a_header_row_says_so() {
    let e = csv_error("no_header", "1.5,2,3\n4,5,6\n");
    assert!(e.contains("in.csv: line 1 looks like data, not a header row ("), "{e}");
    assert!(e.contains("1.5, 2, 3"), "the message shows the fields: {e}");
    // Leading blank lines: the first non-blank line is named.
    let e = csv_error("no_header_blank", "\n1,2\n3,4\n");
    assert!(e.contains("line 2 looks like data, not a header row"), "{e}");
    // NaN and scientific notation are numbers too; long rows are abbreviated.
    let e = csv_error("no_header_nan", "nan,1e5,-3,4,5\n1,2,3,4,5\n");
    assert!(e.contains("line 1 looks like data") && e.contains("nan, 1e5, -3, …"), "{e}");
    // A header whose names merely contain digits is a header.
    let dir = tmpdir("digits_header");
    let input = dir.join("in.csv");
    std::fs::write(&input, "pt1,eta2\n1,2\n").unwrap();
    import_file(&input, &dir.join("out.npy"), &ImportOptions::default()).unwrap();
}

#[test]
fn bad_csv_cells_name_line_and_column() {
    let cases: [(&str, &str, &[&str]); 8] = [
        ("short_row", "pt,eta,mass\n1,2,3\n4,5\n", &["line 3", "column mass", "has 2 fields, header has 3"]),
        ("long_row", "pt,eta,mass\n1,2,3,9\n", &["line 2", "column #4", "has 4 fields, header has 3"]),
        ("nan", "pt,eta\n1,2\nNaN,3\n", &["line 3", "column pt", "'NaN' is not finite"]),
        ("inf", "pt,eta\n1,inf\n", &["line 2", "column eta", "'inf' is not finite"]),
        ("neg_inf", "pt,eta\n1,-Infinity\n", &["line 2", "column eta", "not finite"]),
        ("overflow", "pt,eta\n1,3e39\n", &["line 2", "column eta", "out of float32 range"]),
        ("text", "pt,eta\n1,2\n3,b-jet\n", &["line 3", "column eta", "'b-jet' is not a number"]),
        ("empty_cell", "pt,eta\n,2\n", &["line 2", "column pt", "empty value"]),
    ];
    for (name, content, needles) in cases {
        let e = csv_error(name, content);
        for n in needles {
            assert!(e.contains(n), "{name}: {e:?} lacks {n:?}");
        }
    }
}

#[cfg(feature = "cli")]
#[test]
fn the_binary_reports_a_headerless_csv_in_one_line_with_exit_1() {
    let dir = tmpdir("cli_no_header");
    let input = dir.join("in.csv");
    std::fs::write(&input, "1,2\n3,4\n").unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_hepae"))
        .arg("import")
        .arg(&input)
        .arg("-o")
        .arg(dir.join("out.npy"))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert_clear("cli no header", &e, &input);
    assert!(e.starts_with("error: ") && e.contains("looks like data, not a header row"), "{e}");
    assert_eq!(listing(&dir), ["in.csv"]);
}

// ------------------------------------------------------------------------------------------------
// ROOT
// ------------------------------------------------------------------------------------------------

#[cfg(feature = "root")]
mod root {
    use super::*;
    use hepae::data::import::csv::import_root;
    use hepae::data::import::root::RootSelect;
    use rand::{Rng, SeedableRng};

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
    }

    /// One damaged copy of a file: its name and bytes.
    struct Variant {
        name: String,
        bytes: Vec<u8>,
    }

    fn truncations(src: &[u8]) -> Vec<Variant> {
        let n = src.len();
        [0, 3, 4, 20, 60, 100, 200, 1_000, 10_000, 100_000, n / 2, n - 5_000, n - 100, n - 1]
            .into_iter()
            .map(|len| Variant { name: format!("truncated to {len} bytes"), bytes: src[..len].to_vec() })
            .collect()
    }

    /// 4 bytes inverted at offsets every 32 bytes through the header, then at `steps` offsets
    /// through the rest.
    fn flips(src: &[u8], steps: usize) -> Vec<Variant> {
        let n = src.len();
        (0..1024).step_by(32).chain((1024..n).step_by(n / steps)).map(|o| flip(src, o)).collect()
    }

    fn flip(src: &[u8], at: usize) -> Variant {
        let mut bytes = src.to_vec();
        for b in bytes.iter_mut().skip(at).take(4) {
            *b ^= 0xff;
        }
        Variant { name: format!("4 bytes flipped at {at}"), bytes }
    }

    /// 1–8 bytes set to extreme or random values, at seeded offsets biased to the header and
    /// the file's tail (keys list, streamers, tree metadata).
    fn randomised(src: &[u8], count: usize, seed: u64) -> Vec<Variant> {
        let mut r = rand::rngs::StdRng::seed_from_u64(seed);
        let n = src.len();
        (0..count)
            .map(|_| {
                let at = match r.random_range(0..10) {
                    0..2 => r.random_range(0..1024),
                    2..7 => r.random_range(n * 4 / 5..n),
                    _ => r.random_range(0..n),
                };
                let w = [1, 2, 4, 8][r.random_range(0..4)];
                let mut bytes = src.to_vec();
                for b in bytes.iter_mut().skip(at).take(w) {
                    *b = [0u8, 0xff, 0x7f, 0x80, r.random()][r.random_range(0..5)];
                }
                Variant { name: format!("{w} bytes randomised at {at}"), bytes }
            })
            .collect()
    }

    /// A 4 KiB block (a basket or more) zeroed at `count` offsets.
    fn zeroed(src: &[u8], count: usize) -> Vec<Variant> {
        let n = src.len();
        (0..n)
            .step_by(n / count)
            .map(|at| {
                let mut bytes = src.to_vec();
                let end = (at + 4096).min(n);
                bytes[at..end].fill(0);
                Variant { name: format!("4 KiB zeroed at {at}"), bytes }
            })
            .collect()
    }

    /// The offsets of the first `count` basket records (TKey headers of class TBasket).
    fn basket_keys(src: &[u8], count: usize) -> Vec<usize> {
        let tag = b"\x07TBasket";
        // The class name follows the 26-byte header of a record with 8-byte offsets (version
        // 1004, as in both test files), so the header starts 34 bytes before its length byte.
        (0..src.len() - tag.len())
            .filter(|&i| &src[i..i + tag.len()] == tag && i >= 34)
            .map(|i| i - 34)
            .filter(|&k| i16::from_be_bytes([src[k + 4], src[k + 5]]) > 1000)
            .take(count)
            .collect()
    }

    /// A basket record's fNbytes (offset 0), fObjlen (4 + 2) or fKeylen (4 + 2 + 4 + 4) set to
    /// absurd values: what the reader allocates by.
    fn key_fields(src: &[u8], count: usize) -> Vec<Variant> {
        let mut v = Vec::new();
        for k in basket_keys(src, count) {
            for (field, at, value) in [
                ("fNbytes", 0, 0x7fff_fff0i32.to_be_bytes().to_vec()),
                ("fNbytes", 0, 0i32.to_be_bytes().to_vec()),
                ("fObjlen", 6, 0x7fff_fff0i32.to_be_bytes().to_vec()),
                ("fObjlen", 6, (-5i32).to_be_bytes().to_vec()),
                ("fObjlen", 6, 1_000i32.to_be_bytes().to_vec()),
                ("fKeylen", 14, (-30_000i16).to_be_bytes().to_vec()),
                ("fKeylen", 14, 5_000i16.to_be_bytes().to_vec()),
            ] {
                let mut bytes = src.to_vec();
                bytes[k + at..k + at + value.len()].copy_from_slice(&value);
                v.push(Variant { name: format!("basket at {k}: {field} = {value:?}"), bytes });
            }
        }
        v
    }

    fn jets(branches: &[&str]) -> RootSelect {
        RootSelect {
            tree: "Events".into(),
            branches: branches.iter().map(|b| b.to_string()).collect(),
            collection: None,
            event_idx: true,
        }
    }

    fn collection() -> RootSelect {
        RootSelect { tree: "Events".into(), branches: vec![], collection: Some("Jet".into()), event_idx: true }
    }

    /// The intact file's import (NPY bytes and columns file).
    fn clean(tag: &str, file: &str, sel: &RootSelect) -> (Vec<u8>, Vec<u8>) {
        let dir = tmpdir(&format!("{tag}-clean-{file}"));
        let out = dir.join("out.npy");
        import_root(&data(file), &out, sel, &ImportOptions::default()).unwrap();
        (std::fs::read(&out).unwrap(), std::fs::read(dir.join("out.columns")).unwrap())
    }

    /// Every variant through the library: exactly the intact import, or one clear error and
    /// nothing written. Returns how many failed (the rest were untouched by the damage).
    /// (`tag` keeps each test's directories apart: tests run in parallel.)
    fn check_library(tag: &str, file: &str, sel: &RootSelect, variants: &[Variant]) -> usize {
        let want = clean(tag, file, sel);
        let dir = tmpdir(&format!("{tag}-{file}"));
        let (input, out) = (dir.join("in.root"), dir.join("out.npy"));
        let mut errors = 0;
        for v in variants {
            std::fs::write(&input, &v.bytes).unwrap();
            match import_root(&input, &out, sel, &ImportOptions::default()) {
                Ok(_) => {
                    let got = (std::fs::read(&out).unwrap(), std::fs::read(dir.join("out.columns")).unwrap());
                    assert!(got == want, "{file}, {}: imported with exit 0 but not what the intact file gives", v.name);
                    std::fs::remove_file(&out).unwrap();
                    std::fs::remove_file(dir.join("out.columns")).unwrap();
                }
                Err(e) => {
                    errors += 1;
                    assert_clear(&format!("{file}, {}", v.name), &e.to_string(), &input);
                    assert_eq!(listing(&dir), ["in.root"], "{file}, {}: output left behind", v.name);
                }
            }
            assert_eq!(std::fs::read(&input).unwrap(), v.bytes, "{file}, {}: input changed", v.name);
        }
        errors
    }

    #[test]
    fn every_truncation_is_refused_in_one_line() {
        for (file, sel) in [("nano_dy.root", collection()), ("nanoAOD_2015_CMS_Open_Data_ttbar.root", collection())] {
            let src = std::fs::read(data(file)).unwrap();
            let v = truncations(&src);
            assert_eq!(check_library("trunc", file, &sel, &v), v.len(), "{file}: a truncated file imported");
        }
        // The message says what is wrong, in the user's terms.
        let src = std::fs::read(data("nano_dy.root")).unwrap();
        let dir = tmpdir("truncation-message");
        let input = dir.join("cut.root");
        std::fs::write(&input, &src[..src.len() - 100]).unwrap();
        let e = import_root(&input, &dir.join("o.npy"), &collection(), &ImportOptions::default()).unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains(&format!(
                "truncated ROOT file: its header says {} bytes, the file has {}",
                src.len(),
                src.len() - 100
            )),
            "{e}"
        );
    }

    #[test]
    fn flipped_bytes_give_the_intact_result_or_one_clear_line() {
        let src = std::fs::read(data("nano_dy.root")).unwrap();
        let v = flips(&src, 120);
        let errors = check_library("flip", "nano_dy.root", &collection(), &v);
        assert!(errors >= 20, "the corpus must hit what the reader reads ({errors} of {} failed)", v.len());
        let sel = jets(&["Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass", "Jet_nConstituents", "Jet_jetId"]);
        let src = std::fs::read(data("nanoAOD_2015_CMS_Open_Data_ttbar.root")).unwrap();
        check_library("flip", "nanoAOD_2015_CMS_Open_Data_ttbar.root", &sel, &flips(&src, 60));
    }

    #[test]
    fn randomised_and_zeroed_blocks_give_the_intact_result_or_one_clear_line() {
        let src = std::fs::read(data("nano_dy.root")).unwrap();
        let mut v = randomised(&src, 120, 13);
        v.extend(zeroed(&src, 40));
        let errors = check_library("random", "nano_dy.root", &collection(), &v);
        assert!(errors >= 20, "the corpus must hit what the reader reads ({errors} of {} failed)", v.len());
    }

    /// A basket header claiming 2 GiB (or a negative or inconsistent size) is refused by
    /// the record check, before the reader allocates by it: such an allocation aborts the
    /// process where memory is limited (batch farms), and an abort cannot be caught.
    #[test]
    fn absurd_basket_sizes_are_refused_before_the_reader_allocates() {
        let src = std::fs::read(data("nano_dy.root")).unwrap();
        let v = key_fields(&src, 30);
        assert!(v.len() >= 7 * 30, "found only {} basket variants", v.len());
        assert_eq!(check_library("keys", "nano_dy.root", &collection(), &v), v.len(), "a damaged basket imported");
        let dir = tmpdir("key-message");
        let input = dir.join("in.root");
        let k = basket_keys(&src, 1)[0];
        let mut bytes = src.clone();
        bytes[k + 6..k + 10].copy_from_slice(&0x7fff_fff0i32.to_be_bytes());
        std::fs::write(&input, bytes).unwrap();
        let e = import_root(&input, &dir.join("o.npy"), &collection(), &ImportOptions::default()).unwrap_err();
        let e = e.to_string();
        assert!(e.contains(&format!("the record at byte {k} says it holds 2147483632 bytes")), "{e}");
    }

    #[test]
    fn a_corrupt_basket_names_its_branch() {
        // Inside Jet_* baskets of the DY file: the error names tree and branch.
        let src = std::fs::read(data("nano_dy.root")).unwrap();
        let dir = tmpdir("basket");
        let input = dir.join("in.root");
        let mut named = 0;
        for at in (50_000..70_000).step_by(2_000) {
            std::fs::write(&input, flip(&src, at).bytes).unwrap();
            if let Err(e) = import_root(&input, &dir.join("o.npy"), &collection(), &ImportOptions::default()) {
                let e = e.to_string();
                if e.contains("Events/Jet_") {
                    assert!(e.contains("corrupt or truncated ROOT file"), "{e}");
                    named += 1;
                }
            }
        }
        assert!(named > 0, "no flip in 50–70 kB hit a Jet basket");
    }

    #[test]
    fn wrong_tree_and_branch_names_are_named() {
        let file = data("nano_dy.root");
        let opts = ImportOptions::default();
        let dir = tmpdir("names");
        let out = dir.join("o.npy");
        let err = |sel: RootSelect| import_root(&file, &out, &sel, &opts).unwrap_err().to_string();
        let e = err(RootSelect { tree: "Nope".into(), ..jets(&["Jet_pt"]) });
        assert!(e.contains("no tree 'Nope'") && e.contains("Events"), "{e}");
        assert_clear("tree", &e, &file);
        let e = err(jets(&["Jet_pt", "Jet_nope"]));
        assert!(e.contains("Events/Jet_nope") && e.contains("no such branch"), "{e}");
        assert_clear("branch", &e, &file);
        let e = err(RootSelect { collection: Some("Nope".into()), ..collection() });
        assert!(e.contains("no numeric branch Nope_*"), "{e}");
        assert_clear("collection", &e, &file);
        // Not a ROOT file at all.
        let npy = data("dy_nano_v6.npy");
        let dir = tmpdir("not-root");
        let input = dir.join("in.root");
        std::fs::copy(&npy, &input).unwrap();
        let e = import_root(&input, &dir.join("o.npy"), &collection(), &opts).unwrap_err().to_string();
        assert!(e.contains("not a ROOT file"), "{e}");
        assert_clear("not root", &e, &input);
        assert_eq!(listing(&dir), ["in.root"]);
    }

    /// The binary on part of the corpus, as a child process under a memory limit: exit 1 (a
    /// signal such as SIGABRT gives no exit code) or exit 0 with the intact result, one
    /// `error:` line, nothing left.
    #[cfg(all(feature = "cli", target_os = "linux"))]
    #[test]
    fn the_binary_never_aborts_or_panics_on_the_corpus() {
        use std::process::{Command, Stdio};
        use std::time::{Duration, Instant};
        let src = std::fs::read(data("nano_dy.root")).unwrap();
        let mut v = truncations(&src);
        v.extend(flips(&src, 120).into_iter().step_by(3));
        v.extend(randomised(&src, 40, 29));
        v.extend(zeroed(&src, 12));
        v.extend(key_fields(&src, 2));
        let want = clean("cli", "nano_dy.root", &collection()).0;
        let dir = tmpdir("cli-corpus");
        let (input, out) = (dir.join("in.root"), dir.join("out.npy"));
        let mut errors = 0;
        for v in &v {
            std::fs::write(&input, &v.bytes).unwrap();
            // Under a 1.5 GB address-space limit, as on a batch farm: a 2 GiB allocation by
            // the reader would abort here.
            let mut child = Command::new("sh")
                .args(["-c", "ulimit -v 1500000 && exec \"$0\" \"$@\"", env!("CARGO_BIN_EXE_hepae")])
                .arg("import")
                .arg(&input)
                .arg("-o")
                .arg(&out)
                .args(["--collection", "Jet", "--event-idx"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let start = Instant::now();
            let status = loop {
                if let Some(s) = child.try_wait().unwrap() {
                    break s;
                }
                if start.elapsed() > Duration::from_secs(60) {
                    child.kill().unwrap();
                    panic!("{}: hepae import hung", v.name);
                }
                std::thread::sleep(Duration::from_millis(5));
            };
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            match status.code() {
                Some(0) => {
                    assert_eq!(std::fs::read(&out).unwrap(), want, "{}: exit 0 with a different result", v.name);
                    std::fs::remove_file(&out).unwrap();
                    std::fs::remove_file(dir.join("out.columns")).unwrap();
                }
                Some(1) => {
                    errors += 1;
                    assert!(err.starts_with("error: "), "{}: {err:?}", v.name);
                    assert_clear(&v.name, &err, &input);
                    assert_eq!(listing(&dir), ["in.root"], "{}: output left behind", v.name);
                }
                code => panic!("{}: hepae import ended with {code:?} (a signal or a bug), stderr {err:?}", v.name),
            }
        }
        assert!(errors >= v.len() / 4, "the corpus must hit what the reader reads ({errors} of {} failed)", v.len());
    }
}
