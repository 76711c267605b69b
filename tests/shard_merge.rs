//! Sharded batch jobs and `hepae merge`, through the binary as a batch farm runs them: several
//! input files (or `--shard i/n` of one) each compressed, scored or reconstructed by its own job,
//! then joined in order. Real data: 188 CMS NanoAOD jets (tests/data/dy_nano_v6.npy).

use hepae::data::npy::{write_npy, Dataset};
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_hepae");

fn real_jets() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dy_nano_v6.npy"))
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hepae_shard_{name}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Runs hepae; returns (success, stderr).
fn hepae(args: &[&str]) -> (bool, String) {
    let o = Command::new(BIN).args(args).output().unwrap();
    (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn ok(args: &[&str]) {
    let (good, err) = hepae(args);
    assert!(good, "hepae {}: {err}", args.join(" "));
}

/// A small model trained on the real jets.
fn model(dir: &Path) -> PathBuf {
    let m = dir.join("m.safetensors");
    ok(&["train", p(&real_jets()), "-o", p(&m), "--epochs", "2", "--hidden", "32", "--latent", "6", "-q"]);
    m
}

fn values(path: &Path) -> Vec<f32> {
    Dataset::open(path).unwrap().as_slice().to_vec()
}

/// The real jets cut into files of `sizes` rows.
fn input_files(dir: &Path, sizes: &[usize]) -> Vec<PathBuf> {
    let all = Dataset::open(&real_jets()).unwrap();
    let d = all.cols();
    let mut start = 0;
    sizes
        .iter()
        .enumerate()
        .map(|(k, &n)| {
            let f = dir.join(format!("in{k}.npy"));
            write_npy(&f, d, &all.as_slice()[start * d..(start + n) * d], Some(all.columns())).unwrap();
            start += n;
            f
        })
        .collect()
}

#[test]
fn sharded_compress_of_several_inputs_merged_decompresses_to_exactly_their_rows() {
    let dir = scratch("several");
    let m = model(&dir);
    let inputs = input_files(&dir, &[70, 70, 48]);
    let mut archives = Vec::new();
    let mut each = Vec::new();
    for (k, f) in inputs.iter().enumerate() {
        let a = dir.join(format!("job{k}.hepz"));
        ok(&["compress", p(&m), p(f), "-o", p(&a), "--max-rel-error", "1e-3", "-q"]);
        let back = dir.join(format!("back{k}.npy"));
        ok(&["decompress", p(&a), "--model", p(&m), "-o", p(&back), "-q"]);
        each.extend(values(&back));
        archives.push(a);
    }
    let set = dir.join("set.json");
    let mut args = vec!["merge"];
    args.extend(archives.iter().map(|a| p(a)));
    args.extend(["-o", p(&set)]);
    ok(&args);
    let listed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&set).unwrap()).unwrap();
    assert_eq!(listed["archives"][2]["path"], "job2.hepz", "members beside the set are named relative to it");
    assert_eq!(listed["rows"], 188);
    let all = dir.join("all.npy");
    ok(&["decompress", p(&set), "--model", p(&m), "-o", p(&all), "-q"]);
    let got = values(&all);
    assert_eq!(got, each, "the set decompresses to its archives' rows, in order, bit for bit");
    let want = values(&real_jets());
    assert_eq!(got.len(), want.len(), "every input row is there");
    for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
        // 1e-3 relative; η and φ take the bound as absolute; integer columns are exact.
        assert!((g - w).abs() <= 1e-3 * w.abs() + 1e-3, "value {i}: {g} for {w}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("all.columns")).unwrap(),
        std::fs::read_to_string(inputs[0].with_extension("columns")).unwrap()
    );

    // A set refuses an archive that changed after the merge, and writes nothing.
    let mut bytes = std::fs::read(&archives[1]).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&archives[1], bytes).unwrap();
    let bad = dir.join("bad.npy");
    let (good, err) = hepae(&["decompress", p(&set), "--model", p(&m), "-o", p(&bad), "-q"]);
    assert!(!good && err.contains("job1.hepz") && err.contains("not the ones the set"), "{err}");
    assert!(!bad.exists() && !dir.join("bad.columns").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shards_of_one_file_scored_and_reconstructed_merge_to_the_whole_run() {
    let dir = scratch("one");
    let m = model(&dir);
    let data = real_jets();
    for (cmd, ext) in [("score", "npy"), ("reconstruct", "npy"), ("reconstruct", "csv")] {
        let whole = dir.join(format!("{cmd}_whole.{ext}"));
        ok(&[cmd, p(&m), p(&data), "-o", p(&whole), "-q"]);
        let parts: Vec<PathBuf> = (0..3).map(|i| dir.join(format!("{cmd}_{i}.{ext}"))).collect();
        for (i, part) in parts.iter().enumerate() {
            ok(&[cmd, p(&m), p(&data), "-o", p(part), "--shard", &format!("{i}/3"), "-q"]);
        }
        let merged = dir.join(format!("{cmd}_merged.{ext}"));
        let mut args = vec!["merge"];
        args.extend(parts.iter().map(|x| p(x)));
        args.extend(["-o", p(&merged)]);
        ok(&args);
        if ext == "npy" {
            assert_eq!(values(&merged), values(&whole), "{cmd}: 3 shards merged = the whole file's run");
        } else {
            let (a, b) = (std::fs::read_to_string(&merged).unwrap(), std::fs::read_to_string(&whole).unwrap());
            assert_eq!(a.lines().count(), 189, "one header and 188 rows");
            assert_eq!(a, b, "{cmd} csv: 3 shards merged = the whole file's run");
        }
    }
    // compress --shard: each job's archive holds its rows; the set holds them all.
    let archives: Vec<PathBuf> = (0..2).map(|i| dir.join(format!("s{i}.hepz"))).collect();
    for (i, a) in archives.iter().enumerate() {
        ok(&["compress", p(&m), p(&data), "-o", p(a), "--shard", &format!("{i}/2"), "--max-abs-error", "0.01", "-q"]);
    }
    let set = dir.join("s.json");
    ok(&["merge", p(&archives[0]), p(&archives[1]), "-o", p(&set)]);
    let text = std::fs::read_to_string(&set).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["rows"], 188);
    assert_eq!(v["archives"][0]["rows"], 94);
    let back = dir.join("s.npy");
    ok(&["decompress", p(&set), "--model", p(&m), "-o", p(&back), "-q"]);
    for (&g, &w) in values(&back).iter().zip(&values(&data)) {
        assert!((g - w).abs() <= 0.01 + 1e-6 * w.abs(), "{g} for {w}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_merge_refuses_parts_that_do_not_belong_together_and_writes_nothing() {
    let dir = scratch("refuse");
    let m = model(&dir);
    let other = dir.join("other.safetensors");
    ok(&[
        "train",
        p(&real_jets()),
        "-o",
        p(&other),
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--latent",
        "3",
        "-q",
        "--seed",
        "9",
    ]);
    let (a, b) = (dir.join("a.hepz"), dir.join("b.hepz"));
    ok(&["compress", p(&m), p(&real_jets()), "-o", p(&a), "--shard", "0/2", "-q"]);
    ok(&["compress", p(&other), p(&real_jets()), "-o", p(&b), "--shard", "1/2", "-q"]);
    let set = dir.join("set.json");
    let (good, err) = hepae(&["merge", p(&a), p(&b), "-o", p(&set)]);
    assert!(!good && err.contains("b.hepz") && err.contains("another model"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!set.exists());

    // NPY parts with other columns.
    let x = dir.join("x.npy");
    write_npy(&x, 2, &[1.0, 2.0], Some(&["u".into(), "v".into()])).unwrap();
    let joined = dir.join("j.npy");
    let (good, err) = hepae(&["merge", p(&real_jets()), p(&x), "-o", p(&joined)]);
    assert!(!good && err.contains("x.npy") && err.contains("differ from the first part's"), "{err}");
    assert!(!joined.exists() && !dir.join("j.columns").exists());

    // More shards than rows, and a shard index out of range.
    let (good, err) = hepae(&["score", p(&m), p(&real_jets()), "-o", p(&dir.join("s.npy")), "--shard", "199/200"]);
    assert!(!good && err.contains("no rows") && !dir.join("s.npy").exists(), "{err}");
    let (good, err) = hepae(&["score", p(&m), p(&real_jets()), "-o", p(&dir.join("s.npy")), "--shard", "2/2"]);
    assert!(!good && err.contains("--shard"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_shard_names_the_files_rows_in_its_errors() {
    let dir = scratch("rows");
    let m = model(&dir);
    let all = Dataset::open(&real_jets()).unwrap();
    let mut v = all.as_slice().to_vec();
    v[150 * all.cols() + 2] = f32::INFINITY; // file row 151, in shard 1 of 2 (rows 95..188)
    let f = dir.join("inf.npy");
    write_npy(&f, all.cols(), &v, Some(all.columns())).unwrap();
    for cmd in ["score", "reconstruct", "compress"] {
        let out = dir.join(if cmd == "compress" { "o.hepz" } else { "o.npy" });
        let (good, err) = hepae(&[cmd, p(&m), p(&f), "-o", p(&out), "--shard", "1/2", "-q"]);
        assert!(!good && err.contains("row 151") && err.contains("phi"), "{cmd}: {err}");
        assert!(!out.exists(), "{cmd}: no output");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `import --shard i/n` of a CSV, an NPY and a ROOT file (per-jet rows), with a row cut: the n
/// job outputs merged are the unsharded import, byte for byte (data and column names); a shard
/// with no rows is refused and writes nothing.
#[test]
fn sharded_imports_merge_to_the_whole_import_bit_for_bit() {
    let dir = scratch("import");
    let tests_data = |f: &str| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data")).join(f);
    let (csv, npy) = (tests_data("dy_nano_v6.csv"), tests_data("dy_nano_v6.npy"));
    let mut inputs: Vec<(&str, PathBuf, Vec<&str>)> = vec![
        ("csv", csv, vec!["--first-columns", "6", "--filter", "pt>20"]),
        ("npy", npy, vec!["--drop-columns", "eta"]),
    ];
    if cfg!(feature = "root") {
        inputs.push(("root", tests_data("nano_dy.root"), vec!["--branches", "Jet_pt,Jet_eta,Jet_mass", "--event-idx"]));
    }
    for (tag, input, extra) in &inputs {
        let whole = dir.join(format!("{tag}_whole.npy"));
        let mut args = vec!["import", p(input), "-o", p(&whole), "-q"];
        args.extend(extra);
        ok(&args);
        for n in [2, 3, 7] {
            let parts: Vec<PathBuf> = (0..n).map(|i| dir.join(format!("{tag}_{i}of{n}.npy"))).collect();
            for (i, part) in parts.iter().enumerate() {
                let spec = format!("{i}/{n}");
                let mut args = vec!["import", p(input), "-o", p(part), "--shard", &spec, "-q"];
                args.extend(extra);
                ok(&args);
            }
            let rows: Vec<usize> = parts.iter().map(|f| Dataset::open(f).unwrap().rows()).collect();
            assert!(rows.iter().all(|&r| r > 0) && rows.len() == n, "{tag} {n} shards: {rows:?}");
            let merged = dir.join(format!("{tag}_merged{n}.npy"));
            let mut args = vec!["merge"];
            args.extend(parts.iter().map(|x| p(x)));
            args.extend(["-o", p(&merged)]);
            ok(&args);
            let bytes = |f: &Path| std::fs::read(f).unwrap();
            assert_eq!(bytes(&merged), bytes(&whole), "{tag}: {n} shards imported and merged = the whole import");
            let cols = |f: &Path| std::fs::read_to_string(hepae::data::npy::columns_path(f)).unwrap();
            assert_eq!(cols(&merged), cols(&whole), "{tag}: the merged column names");
        }
    }
    // The NPY's 188 rows in 189 shards: shard 188 has none; refused, nothing written.
    let out = dir.join("empty.npy");
    let (good, err) = hepae(&["import", p(&tests_data("dy_nano_v6.npy")), "-o", p(&out), "--shard", "188/189", "-q"]);
    assert!(!good && err.contains("--shard 188/189") && err.lines().count() == 1, "{err}");
    assert!(!out.exists() && !hepae::data::npy::columns_path(&out).exists());
}
