//! Hostile use of the real binary (issue 13 items 1, 2, 6b, 7, 11a): outputs aimed at inputs,
//! outputs that cannot be written, NPY headers that disagree with the file size, options out of
//! range, and help text. Every refusal must exit 1 with ONE `error:` line naming the path or
//! option, leave every input byte-identical and leave no stray (temporary or partial) file.
//! The data are 200 synthetic rows × 6 columns and a model trained for one epoch.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const BIN: &str = env!("CARGO_BIN_EXE_hepae");

fn hepae(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run hepae")
}

fn ok(args: &[&str]) -> Output {
    let out = hepae(args);
    assert!(out.status.success(), "hepae {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The single error line of a run that must fail with exit 1 (and not a panic or abort).
fn one_line(out: &Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{what} should exit 1, stderr:\n{err}");
    // Progress lines (`evaluate: 30 jets in 0.00 s (29.9 k jets/s)`) may come before the error
    // of a failure that can only show once the work is done (a full device); nothing else may.
    let progress = |l: &str| !l.starts_with("error") && l.contains(": ") && l.ends_with("/s)");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty() && !progress(l)).collect();
    assert_eq!(lines.len(), 1, "{what}: one error line expected, got:\n{err}");
    assert!(lines[0].starts_with("error: "), "{what}: {err}");
    assert!(!err.contains(".tmp-"), "{what}: the error names a temporary file: {err}");
    lines[0].to_string()
}

/// Runs `args` in `dir`; it must fail with one line containing every needle, and leave `dir`
/// exactly as it was (same names, same bytes).
fn refused(dir: &Path, args: &[&str], needles: &[&str]) -> String {
    let before = snapshot(dir);
    let line = one_line(&hepae(args), &format!("hepae {args:?}"));
    for n in needles {
        assert!(line.contains(n), "'{n}' missing from: {line}");
    }
    let after = snapshot(dir);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "hepae {args:?} added or removed files"
    );
    for (k, v) in &before {
        assert!(after[k] == *v, "hepae {args:?} changed {k}");
    }
    line
}

/// Every file under `dir` (relative name → bytes), recursively.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            let name = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                out.insert(format!("{name}/"), Vec::new());
                walk(root, &p, out);
            } else if meta.file_type().is_symlink() {
                out.insert(name, std::fs::read_link(&p).unwrap().to_string_lossy().as_bytes().to_vec());
            } else {
                out.insert(name, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// 200 deterministic rows × 6 columns (pt, eta, phi, mass, a, b), a model trained on them for
/// one epoch, and its history: made once per test binary, copied into each test's directory.
fn fixture() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("hepae-hostile-fixture-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let rows = 200;
        let x: Vec<f32> = (0..rows * 6)
            .map(|i| {
                let (r, c) = ((i / 6) as f32, i % 6);
                match c {
                    0 => 30.0 + (r * 7.3) % 200.0,
                    1 => ((r * 0.37) % 4.8) - 2.4,
                    2 => ((r * 1.13) % 6.2) - 3.1,
                    3 => 2.0 + (r * 3.1) % 40.0,
                    4 => (r * 0.11).sin(),
                    _ => (r % 7.0) + 0.5,
                }
            })
            .collect();
        let names: Vec<String> = ["pt", "eta", "phi", "mass", "a", "b"].iter().map(|s| s.to_string()).collect();
        hepae::data::npy::write_npy(&d.join("d.npy"), 6, &x, Some(&names)).unwrap();
        let m = d.join("m.safetensors");
        ok(&[
            "train",
            s(&d.join("d.npy")),
            "-o",
            s(&m),
            "--hidden",
            "8",
            "--latent",
            "3",
            "--epochs",
            "1",
            "--batch",
            "64",
            "--threads",
            "1",
            "--quiet",
        ]);
        d
    })
}

/// A fresh directory holding a copy of the fixture (d.npy, d.columns, m.safetensors, m.history.csv).
fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hepae-hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    for f in ["d.npy", "d.columns", "m.safetensors", "m.history.csv"] {
        std::fs::copy(fixture().join(f), d.join(f)).unwrap();
    }
    d
}

#[test]
fn an_output_never_replaces_an_input_or_its_sidecar() {
    let w = workdir("inputs");
    let (d, m) = (w.join("d.npy"), w.join("m.safetensors"));
    let (d, m) = (s(&d), s(&m));
    let p = |n: &str| w.join(n).to_string_lossy().into_owned();
    std::os::unix::fs::symlink(w.join("d.npy"), w.join("link.npy")).unwrap();
    std::fs::create_dir(w.join("sub")).unwrap();
    let small = ["--hidden", "8", "--latent", "3", "--epochs", "1", "--threads", "1", "--quiet"];
    let train = |out: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["train".into(), d.into()];
        v.extend(out.iter().map(|s| s.to_string()));
        v.extend(small.iter().map(|s| s.to_string()));
        v
    };
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (train(&["-o", d]), vec!["-o", "d.npy", "the input"]),
        (train(&["-o", &p("link.npy")]), vec!["-o", "link.npy", "the input"]),
        (train(&["-o", &p("sub/../d.npy")]), vec!["-o", "sub/../d.npy"]),
        (train(&["-o", &p("d.columns")]), vec!["column names of the input"]),
        (train(&["-o", &p("new.safetensors"), "--history", d]), vec!["--history", "d.npy"]),
        (train(&["-o", &p("d.safetensors"), "--history", &p("d.columns")]), vec!["--history", "d.columns"]),
    ];
    for (args, needles) in &cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&w, &a, needles);
    }
    refused(&w, &["compress", m, d, "-o", m], &["-o", "m.safetensors", "the input"]);
    refused(&w, &["compress", m, d, "-o", d], &["-o", "d.npy"]);
    refused(&w, &["evaluate", m, d, "--json", m], &["--json", "m.safetensors"]);
    refused(&w, &["evaluate", m, d, "--json", d], &["--json", "d.npy"]);
    refused(&w, &["evaluate", m, d, "--json", &p("m.history.csv")], &["--json", "loss history"]);
    refused(&w, &["reconstruct", m, d, "-o", d], &["-o", "d.npy"]);
    refused(&w, &["score", m, d, "-o", &p("link.npy")], &["-o", "link.npy"]);
    refused(&w, &["import", d, "-o", d], &["-o", "d.npy"]);
    refused(&w, &["synth", "--like", d, "--rows", "10", "-o", d], &["-o", "d.npy"]);
    refused(&w, &["threshold", m, m, "--fpr", "0.1"], &["MODEL", "m.safetensors"]);
    refused(&w, &["roc", m, "--background", d, "--signal", d, "--json", d], &["--json", "d.npy"]);
    refused(&w, &["plot", m, d, "-o", d], &["-o", "d.npy", "the input"]);
    refused(&w, &["compare", d, "--configs", "pca", "--latent", "2", "--csv", d], &["--csv", "d.npy"]);
    // Two outputs of one command at one path.
    let j = p("t.json");
    refused(&w, &["compare", d, "--configs", "pca", "--latent", "2", "--json", &j, "--csv", &j], &["--csv", "--json"]);
    // split writes DIR/train.npy: not over an input of that name.
    std::fs::copy(w.join("d.npy"), w.join("train.npy")).unwrap();
    refused(&w, &["split", &p("train.npy"), "-o", s(&w)], &["train.npy", "the input"]);
    // decompress: an archive made here, then aimed at itself and at the dataset.
    let a = p("a.hepz");
    ok(&["compress", m, d, "-o", &a]);
    refused(&w, &["decompress", &a, "--model", m, "-o", &a], &["-o", "a.hepz", "the input"]);
    refused(&w, &["decompress", &a, "--model", m, "-o", &p("m.history.csv")], &["-o", "loss history"]);
    let _ = std::fs::remove_dir_all(&w);
}

#[test]
fn outputs_that_cannot_be_written_are_refused_before_the_work() {
    let w = workdir("before");
    let (d, m) = (w.join("d.npy"), w.join("m.safetensors"));
    let (d, m) = (s(&d), s(&m));
    let missing = w.join("no/such/m.safetensors");
    let line = refused(&w, &["train", d, "-o", s(&missing), "--epochs", "1", "--quiet"], &["does not exist"]);
    assert!(line.contains(s(&missing)), "names the path as typed: {line}");
    refused(&w, &["train", d, "-o", s(&w), "--epochs", "1", "--quiet"], &["is a directory"]);
    refused(&w, &["compress", m, d, "-o", s(&missing)], &["-o", "does not exist"]);
    refused(&w, &["evaluate", m, d, "--json", s(&w.join("nodir/e.json"))], &["--json", "nodir/e.json"]);
    refused(&w, &["reconstruct", m, d, "-o", s(&w.join("nodir/r.npy"))], &["-o", "nodir/r.npy"]);
    refused(&w, &["train", d, "-o", "-", "--quiet"], &["-o -", "standard output"]);
    refused(&w, &["plot", m, d, "-o", s(&w.join("d.npy/x"))], &["-o"]);

    // A read-only output directory: chmod where that binds (not root), else a read-only mount.
    let ro = w.join("ro");
    std::fs::create_dir(&ro).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::File::create(ro.join("probe")).is_err() {
        let line = refused(&w, &["train", d, "-o", s(&ro.join("m.safetensors")), "--quiet"], &["cannot write"]);
        assert!(line.contains("ro/m.safetensors"), "{line}");
    } else {
        let _ = std::fs::remove_file(ro.join("probe"));
        let script = r#"mount -t tmpfs -o size=1m,ro t "$1" && exec "$2" train "$3" -o "$1/m.safetensors" --quiet"#;
        match in_namespace(script, &[s(&ro), BIN, d]) {
            Some(out) => {
                let line = one_line(&out, "train into a read-only mount");
                assert!(line.contains("ro/m.safetensors") && line.contains("Read-only"), "{line}");
            }
            None => eprintln!("SKIPPED read-only mount case: no user namespaces here"),
        }
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    let _ = std::fs::remove_dir_all(&w);
}

/// Runs `sh -c script` with `args` as `$1…` in a private mount namespace (`unshare -rm`), or
/// `None` where user namespaces are not available.
fn in_namespace(script: &str, args: &[&str]) -> Option<Output> {
    let probe = Command::new("unshare").args(["-rm", "true"]).output().ok()?;
    if !probe.status.success() {
        return None;
    }
    Some(Command::new("unshare").args(["-rm", "sh", "-c", script, "sh"]).args(args).output().expect("unshare"))
}

#[test]
fn a_full_disk_leaves_no_temporary_and_names_the_output() {
    let w = workdir("full");
    let (d, m) = (w.join("d.npy"), w.join("m.safetensors"));
    // /dev/full: written straight through, ENOSPC reported on the user's path.
    refused(&w, &["evaluate", s(&m), s(&d), "--json", "/dev/full"], &["/dev/full", "No space left"]);
    // A 4 KiB tmpfs: none of these outputs fits; nothing may remain in it afterwards.
    let t = w.join("tiny");
    std::fs::create_dir(&t).unwrap();
    let script = r#"mount -t tmpfs -o size=4k t "$1" || exit 99
out="$1/$2"; shift 2; "$@" -o "$out"; rc=$?; ls -A "$(dirname "$out")"; exit $rc"#;
    let cases: [(&str, &[&str]); 3] = [
        ("r.csv", &["reconstruct", s(&m), s(&d)]),
        ("r.npy", &["reconstruct", s(&m), s(&d)]),
        ("a.hepz", &["compress", s(&m), s(&d), "--embed-decoder", "--max-rel-error", "1e-6"]),
    ];
    for (name, cmd) in cases {
        let mut args = vec![s(&t), name, BIN];
        args.extend(cmd);
        let Some(out) = in_namespace(script, &args) else {
            eprintln!("SKIPPED tmpfs ENOSPC cases: no user namespaces here");
            break;
        };
        assert_ne!(out.status.code(), Some(99), "mount failed: {}", String::from_utf8_lossy(&out.stderr));
        let line = one_line(&out, &format!("{name} onto a full disk"));
        assert!(line.contains(&format!("tiny/{name}")) && line.contains("No space left"), "{line}");
        let left = String::from_utf8_lossy(&out.stdout);
        assert!(left.trim().is_empty(), "{name}: files left on the full disk: {left}");
    }
    let _ = std::fs::remove_dir_all(&w);
}

#[test]
fn devices_pipes_and_stdout_are_written_through() {
    let w = workdir("devices");
    let (d, m) = (w.join("d.npy"), w.join("m.safetensors"));
    let (d, m) = (s(&d), s(&m));
    let before = snapshot(&w);
    for target in ["-", "/dev/stdout"] {
        let out = ok(&["evaluate", m, d, "--json", target]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("\"variables\""), "the JSON went to the pipe for {target}:\n{text}");
    }
    use std::os::unix::fs::FileTypeExt;
    let null_is_device = std::fs::metadata("/dev/null").is_ok_and(|m| m.file_type().is_char_device());
    ok(&["evaluate", m, d, "--json", "/dev/null"]);
    if null_is_device {
        // A model thrown away: no /dev/null.history.csv beside it either.
        ok(&["train", d, "-o", "/dev/null", "--hidden", "8", "--latent", "3", "--epochs", "1", "--quiet"]);
        let after = std::fs::metadata("/dev/null").unwrap();
        assert!(after.file_type().is_char_device(), "/dev/null was replaced by a regular file");
        assert!(!Path::new("/dev/null.history.csv").exists());
    }
    assert_eq!(snapshot(&w), before, "no file named '-' or other output appeared");
    let _ = std::fs::remove_dir_all(&w);
}

/// A PID with no process now.
fn dead_pid() -> u32 {
    (1_000_000..4_000_000u32).rev().find(|p| !Path::new(&format!("/proc/{p}")).exists()).unwrap()
}

#[test]
fn temporaries_of_killed_runs_are_removed_once_their_process_is_gone() {
    let w = workdir("stale");
    let (d, m) = (w.join("d.npy"), w.join("m.safetensors"));
    let dead = format!(".e.json.tmp-{}-0", dead_pid());
    let live = format!(".e.json.tmp-{}-0", std::process::id());
    std::fs::write(w.join(&dead), vec![0u8; 1000]).unwrap();
    std::fs::write(w.join(&live), vec![0u8; 1000]).unwrap();
    ok(&["evaluate", s(&m), s(&d), "--json", s(&w.join("e.json"))]);
    assert!(!w.join(&dead).exists(), "the dead run's temporary survived");
    assert!(w.join(&live).exists(), "a running process's temporary was removed");
    assert!(w.join("e.json").exists());
    let _ = std::fs::remove_dir_all(&w);
}

#[test]
fn a_killed_write_leaves_only_a_temporary_that_the_next_run_removes() {
    let w = workdir("killed");
    let (d, big) = (w.join("d.npy"), w.join("big.npy"));
    let mut child = Command::new(BIN)
        .args(["synth", "--like", s(&d), "--rows", "20000000", "-o", s(&big)])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let temp = format!(".big.npy.tmp-{}-", child.id());
    let t0 = std::time::Instant::now();
    let seen = loop {
        let names: Vec<String> =
            std::fs::read_dir(&w).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        if let Some(n) = names.iter().find(|n| n.starts_with(&temp)) {
            break Some(n.clone());
        }
        if t0.elapsed().as_secs() > 20 || child.try_wait().unwrap().is_some() {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    child.kill().unwrap();
    let status = child.wait().unwrap();
    let Some(name) = seen else {
        eprintln!("SKIPPED: synth finished before it could be killed ({status})");
        let _ = std::fs::remove_dir_all(&w);
        return;
    };
    if status.success() {
        eprintln!("SKIPPED: synth finished before the kill");
        let _ = std::fs::remove_dir_all(&w);
        return;
    }
    assert!(w.join(&name).exists() && !big.exists(), "a kill -9 leaves the temporary, never a partial big.npy");
    ok(&["synth", "--like", s(&d), "--rows", "10", "-o", s(&big)]);
    assert!(!w.join(&name).exists(), "the next run of the same output removed {name}");
    assert_eq!(hepae::Dataset::open(&big).unwrap().rows(), 10);
    let _ = std::fs::remove_dir_all(&w);
}

/// A raw NPY: header dict `dict` then `data`.
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

#[test]
fn npy_whose_header_disagrees_with_the_file_size_is_refused_by_every_reader() {
    let w = workdir("npysize");
    let m = w.join("m.safetensors");
    let floats = |n: usize| vec![0x3fu8; n * 4];
    let dict = |rows: usize| format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, 6), }}");
    // (name, header rows, data bytes, the numbers the message must give)
    let cases: [(&str, usize, Vec<u8>, [&str; 2]); 3] = [
        ("more_rows.npy", 50, floats(40 * 6), ["1200", "960"]),
        ("fewer_rows.npy", 30, floats(40 * 6), ["720", "960"]),
        ("trailing.npy", 40, [floats(40 * 6), vec![1, 2, 3]].concat(), ["960", "963"]),
    ];
    for (name, rows, data, numbers) in &cases {
        let p = w.join(name);
        raw_npy(&p, &dict(*rows), data);
        std::fs::copy(w.join("d.columns"), p.with_extension("columns")).unwrap();
        let mut needles = vec![*name];
        needles.extend(numbers);
        refused(&w, &["train", s(&p), "-o", s(&w.join("x.safetensors")), "--quiet"], &needles);
        refused(&w, &["evaluate", s(&m), s(&p)], &needles);
        refused(&w, &["import", s(&p), "-o", s(&w.join("x.npy"))], &needles);
        refused(&w, &["compress", s(&m), s(&p), "-o", s(&w.join("x.hepz"))], &needles);
    }
    let _ = std::fs::remove_dir_all(&w);
}

#[test]
fn options_out_of_range_are_refused_up_front_with_the_range() {
    let w = workdir("options");
    let (d, m) = (w.join("d.npy"), w.join("m.safetensors"));
    let (d, m) = (s(&d), s(&m));
    let o = w.join("o.safetensors");
    let o = s(&o);
    let a = w.join("a.hepz");
    let a = s(&a);
    let train = |extra: &[&str], needles: &[&str]| {
        let mut args = vec!["train", d, "-o", o, "--quiet"];
        args.extend(extra);
        refused(&w, &args, needles);
    };
    train(&["--epochs", "0"], &["--epochs", "1..=1000000"]);
    train(&["--latent", "0"], &["--latent", "1..="]);
    train(&["--latent", "6"], &["--latent 6", "6 variables", "1..=5"]);
    train(&["--lr", "-1"], &["--lr", "> 0"]);
    train(&["--batch", "0"], &["--batch", "1..="]);
    train(&["--threads", "0"], &["--threads", "1..=1024"]);
    train(&["--hidden", "8,0"], &["--hidden", "1..=65536"]);
    train(&["--hidden", "100000000"], &["--hidden", "1..=65536"]);
    train(&["--hidden", "65536,65536", "--latent", "3"], &["--hidden 65536,65536", "GB"]);
    train(&["--val-fraction", "1"], &["--val-fraction", "[0, 1)"]);
    train(&["--beta", "-0.5"], &["--beta", "≥ 0"]);
    train(&["--no-such-option"], &["--no-such-option"]);
    refused(&w, &["train", d, "--quiet"], &["--output"]);
    let compress = |extra: &[&str], needles: &[&str]| {
        let mut args = vec!["compress", m, d, "-o", a];
        args.extend(extra);
        refused(&w, &args, needles);
    };
    compress(&["--block-rows", "0"], &["--block-rows", "1..=4194304"]);
    compress(&["--block-rows", "6000000000000"], &["--block-rows", "1..=4194304"]);
    compress(&["--level", "0"], &["--level", "1..=22"]);
    compress(&["--level", "99"], &["--level", "1..=22"]);
    compress(&["--truncate-bits", "24"], &["--truncate-bits", "0..=23"]);
    compress(&["--truncate-bits", "11", "--latent-dtype", "f16"], &["--truncate-bits", "0..=10"]);
    refused(&w, &["roc", m, "--background", d, "--signal", d, "--bootstrap", "0"], &["--bootstrap", "10..="]);
    refused(&w, &["split", d, "-o", s(&w.join("sp")), "--val-fraction", "0"], &["--val-fraction", "(0, 1)"]);
    refused(&w, &["plot", m, d, "-o", s(&w.join("pl")), "--max-rows", "0"], &["--max-rows", "1..="]);
    refused(&w, &["compare", d, "--configs", ""], &["--configs", "no configuration"]);
    refused(&w, &["compare", d, "--configs", ",,"], &["--configs"]);
    refused(&w, &["compare", d, "--configs", "ae:minmax:7"], &["latent", "6 variables"]);
    refused(&w, &["synth", "--like", d, "--rows", "0", "-o", s(&w.join("s.npy"))], &["--rows", "1..="]);
    refused(&w, &["generate", m, "-n", "-5", "-o", s(&w.join("g.npy"))], &["--rows", "1..="]);
    refused(&w, &["threshold", m, d, "--fpr", "-0.1"], &["--fpr", "(0, 1)"]);

    // A ROC needs at least ~10 background jets.
    let few = w.join("few.npy");
    let x: Vec<f32> = (0..5 * 6).map(|i| 1.0 + i as f32).collect();
    let names: Vec<String> = ["pt", "eta", "phi", "mass", "a", "b"].iter().map(|s| s.to_string()).collect();
    hepae::data::npy::write_npy(&few, 6, &x, Some(&names)).unwrap();
    refused(&w, &["roc", m, "--background", s(&few), "--signal", d], &["few.npy", "5 background jets", "at least 10"]);
    // With --both the check comes before any training: 5 rows leave 1 validation jet.
    let both = ["roc", "--both", "--a", s(&few), "--b", d, "--latent", "2", "--epochs", "1"];
    refused(&w, &both, &["few.npy", "at least 10"]);
    refused(&w, &["bench", m, "--batch", "2000000", "--no-train"], &["--batch 2000000", "1..=1048576"]);
    let _ = std::fs::remove_dir_all(&w);
}

#[test]
fn a_failing_run_leaves_no_scratch_files() {
    let w = workdir("scratch");
    let d = w.join("d.npy");
    // baseline copies archives and models into a scratch directory; here the --model is not one.
    let child = Command::new(BIN)
        .args(["baseline", s(&d), "--model", s(&d), "--bounds", "1e-2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let line = one_line(&out, "baseline with a dataset as --model");
    assert!(line.contains("d.npy"), "{line}");
    let scratch = std::env::temp_dir().join(format!("hepae-baseline-{pid}"));
    assert!(!scratch.exists(), "{} survived the failure", scratch.display());
    let _ = std::fs::remove_dir_all(&w);
}

#[test]
fn every_argument_of_every_subcommand_has_a_description() {
    let mut cmd = hepae::cli::command();
    cmd.build();
    let mut missing = Vec::new();
    for sub in cmd.get_subcommands().filter(|c| c.get_name() != "help") {
        assert!(sub.get_about().is_some(), "subcommand {} has no description", sub.get_name());
        for arg in sub.get_arguments() {
            if arg.get_help().is_none_or(|h| h.to_string().trim().is_empty()) {
                missing.push(format!("{} {}", sub.get_name(), arg.get_id()));
            }
        }
    }
    assert!(missing.is_empty(), "arguments without a description: {missing:?}");
    let top = ok(&["--help"]);
    assert!(String::from_utf8_lossy(&top.stdout).contains("ROOT"), "the top-level help names ROOT input");
    for sub in cmd.get_subcommands().map(|c| c.get_name().to_string()).filter(|n| n != "help") {
        let out = ok(&[&sub, "--help"]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage:"), "{sub} --help");
    }
}
