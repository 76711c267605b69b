//! Progress of long commands in a log: with stderr redirected (not a terminal) every long
//! command prints plain lines `LABEL: DONE / TOTAL UNIT (P %), RATE UNIT/s, ETA T` at most every
//! HEPAE_PROGRESS_INTERVAL_S seconds and one summary `LABEL: N UNIT in T (RATE UNIT/s)`;
//! import, which cannot know a CSV's length, prints `LABEL: DONE UNIT, RATE UNIT/s`;
//! training prints an epoch line at most that often, always the first and the last;
//! `--quiet` prints none of it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DEMO_CSV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/ttbar_nano_v15.csv");

/// Runs hepae with stderr captured (a pipe, so not a terminal) and the given interval.
fn hepae(interval: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hepae"))
        .args(args)
        .env("HEPAE_PROGRESS_INTERVAL_S", interval)
        .output()
        .expect("run hepae")
}

/// Runs a command that must succeed; returns its stderr.
fn ok(interval: &str, args: &[&str]) -> String {
    let out = hepae(interval, args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "hepae {args:?} failed:\n{err}");
    err
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hepae-progress-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A parsed plain progress line.
#[derive(Debug)]
struct Line {
    done: String,
    total: String,
    percent: f64,
}

/// Parses `LABEL: DONE / TOTAL UNIT (P %), RATE UNIT/s, ETA T`; None if `l` is not one.
fn parse_progress(l: &str, label: &str, unit: &str) -> Option<Line> {
    let rest = l.strip_prefix(&format!("{label}: "))?;
    let (done, rest) = rest.split_once(" / ")?;
    let (total, rest) = rest.split_once(&format!(" {unit} ("))?;
    let (pct, rest) = rest.split_once(" %), ")?;
    let (rate, eta) = rest.split_once(&format!(" {unit}/s, ETA "))?;
    let number = |t: &str| t.trim_end_matches([' ', 'k', 'M', 'G']).parse::<f64>().is_ok();
    if !(number(done) && number(total)) {
        return None;
    }
    assert!(number(rate), "rate in {l}");
    assert!(eta.ends_with(" s") || eta.contains("min") || eta.contains(" h "), "ETA in {l}");
    Some(Line { done: done.into(), total: total.into(), percent: pct.parse().ok()? })
}

fn progress_lines(err: &str, label: &str, unit: &str) -> Vec<Line> {
    err.lines().filter_map(|l| parse_progress(l, label, unit)).collect()
}

/// The summary `LABEL: N UNIT in T (RATE UNIT/s)`.
fn has_summary(err: &str, label: &str, unit: &str, n: &str) -> bool {
    let head = format!("{label}: {n} {unit} in ");
    err.lines().any(|l| l.starts_with(&head) && l.ends_with(&format!(" {unit}/s)")))
}

#[test]
fn long_commands_log_plain_progress_lines_and_a_summary() {
    let dir = tmpdir("lines");
    let real = dir.join("real.npy");
    // Import does not know a CSV's row count in advance: count and rate, then the summary.
    let err = ok("0", &["import", DEMO_CSV, "-o", s(&real), "--first-columns", "8"]);
    assert!(err.lines().any(|l| l.starts_with("import: 1024 rows, ") && l.ends_with(" rows/s")), "{err}");
    assert!(has_summary(&err, "import", "rows", "1636"), "{err}");
    // 40 000 synthetic rows: several batches for every loop.
    let data = dir.join("synth.npy");
    let err = ok("0", &["synth", "--like", s(&real), "--rows", "40000", "-o", s(&data)]);
    let lines = progress_lines(&err, "synth", "rows");
    assert!(!lines.is_empty(), "no synth progress in:\n{err}");
    assert!(lines.iter().all(|l| l.total == "40.0 k" && l.percent < 100.0), "{lines:?}");
    assert!(has_summary(&err, "synth", "rows", "40.0 k"), "{err}");

    // Training: with a 0 s interval every epoch has its line.
    let model = dir.join("ae.safetensors");
    let net = ["--hidden", "16", "--latent", "4", "--batch", "256", "--threads", "1"];
    let mut args = vec!["train", s(&real), "-o", s(&model), "--epochs", "3"];
    args.extend(net);
    let err = ok("0", &args);
    for e in 1..=3 {
        assert!(err.contains(&format!("epoch    {e}/3 ")), "epoch {e} missing:\n{err}");
    }

    let rows_done = |lines: &[Line]| lines.iter().map(|l| l.done.clone()).collect::<Vec<_>>();
    let err = ok("0", &["evaluate", s(&model), s(&data)]);
    let lines = progress_lines(&err, "evaluate", "jets");
    // Batches of 4 096 rows: 4096, 8192 → "4096", "8192", then "12.3 k", …
    assert!(lines.len() >= 5, "{err}");
    assert_eq!(lines[0].done, "4096", "{:?}", rows_done(&lines));
    assert!(lines.windows(2).all(|w| w[0].percent <= w[1].percent));
    assert!(has_summary(&err, "evaluate", "jets", "40.0 k"), "{err}");

    let scores = dir.join("scores.npy");
    let err = ok("0", &["score", s(&model), s(&data), "-o", s(&scores)]);
    assert!(progress_lines(&err, "score", "jets").len() >= 10, "{err}");
    assert!(has_summary(&err, "score", "jets", "40.0 k"), "{err}");

    let recon = dir.join("recon.npy");
    let err = ok("0", &["reconstruct", s(&model), s(&data), "-o", s(&recon)]);
    assert!(!progress_lines(&err, "reconstruct", "jets").is_empty(), "{err}");
    assert!(has_summary(&err, "reconstruct", "jets", "40.0 k"), "{err}");

    let figs = dir.join("figs");
    let err = ok("0", &["plot", s(&model), s(&data), "-o", s(&figs)]);
    // 8 variables × 2 + loss, latent, correlation = 19 figures.
    let lines = progress_lines(&err, "plot", "figures");
    assert!(!lines.is_empty() && lines.iter().all(|l| l.total == "19"), "{err}");
    assert!(has_summary(&err, "plot", "figures", "19"), "{err}");

    // Compress and decompress: one update per block of 4 096 jets, then the summary.
    let hepz = dir.join("jets.hepz");
    let err = ok("0", &["compress", s(&model), s(&data), "-o", s(&hepz), "--block-rows", "4096"]);
    let lines = progress_lines(&err, "compress", "jets");
    assert!(lines.len() >= 5 && lines[0].done == "4096", "{err}");
    assert!(lines.iter().all(|l| l.total == "40.0 k" && l.percent < 100.0), "{lines:?}");
    assert!(has_summary(&err, "compress", "jets", "40.0 k"), "{err}");
    let back = dir.join("back.npy");
    let err = ok("0", &["decompress", s(&hepz), "--model", s(&model), "-o", s(&back)]);
    let lines = progress_lines(&err, "decompress", "jets");
    assert!(lines.len() >= 5 && lines[0].done == "4096", "{err}");
    assert!(lines.windows(2).all(|w| w[0].percent <= w[1].percent), "{lines:?}");
    assert!(has_summary(&err, "decompress", "jets", "40.0 k"), "{err}");

    // The default 10 s interval on this small work: no plain lines, only the summary.
    let err = ok("10", &["evaluate", s(&model), s(&data)]);
    assert!(progress_lines(&err, "evaluate", "jets").is_empty(), "{err}");
    assert!(has_summary(&err, "evaluate", "jets", "40.0 k"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn training_logs_the_first_and_last_epoch_at_a_long_interval() {
    let dir = tmpdir("epochs");
    let real = dir.join("real.npy");
    ok("10", &["import", DEMO_CSV, "-o", s(&real), "--first-columns", "8"]);
    let model = dir.join("ae.safetensors");
    let err = ok(
        "3600",
        &[
            "train",
            s(&real),
            "-o",
            s(&model),
            "--epochs",
            "5",
            "--hidden",
            "16",
            "--latent",
            "4",
            "--batch",
            "256",
            "--threads",
            "1",
        ],
    );
    let epochs: Vec<&str> = err.lines().filter(|l| l.starts_with("epoch ")).collect();
    assert_eq!(epochs.len(), 2, "{err}");
    assert!(epochs[0].starts_with("epoch    1/5 ") && epochs[1].starts_with("epoch    5/5 "), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn quiet_prints_no_progress_and_a_bad_interval_is_one_error_line() {
    let dir = tmpdir("quiet");
    let real = dir.join("real.npy");
    ok("10", &["import", DEMO_CSV, "-o", s(&real), "--first-columns", "8"]);
    let data = dir.join("synth.npy");
    let err = ok("0", &["import", DEMO_CSV, "-o", s(&dir.join("again.npy")), "--quiet"]);
    assert!(err.trim().is_empty(), "import --quiet wrote:\n{err}");
    let err = ok("0", &["synth", "--like", s(&real), "--rows", "20000", "-o", s(&data), "--quiet"]);
    assert!(err.trim().is_empty(), "synth --quiet wrote:\n{err}");
    let model = dir.join("ae.safetensors");
    let err = ok(
        "0",
        &[
            "train",
            s(&real),
            "-o",
            s(&model),
            "--epochs",
            "2",
            "--hidden",
            "16",
            "--latent",
            "4",
            "--batch",
            "256",
            "--quiet",
        ],
    );
    assert!(!err.contains("epoch"), "{err}");
    let scores = dir.join("scores.npy");
    for args in [
        vec!["evaluate", s(&model), s(&data), "--quiet"],
        vec!["score", s(&model), s(&data), "-o", s(&scores), "--quiet"],
        vec!["reconstruct", s(&model), s(&data), "-o", s(&dir.join("r.npy")), "--quiet"],
        vec!["plot", s(&model), s(&data), "-o", s(&dir.join("figs")), "--quiet"],
        vec!["compress", s(&model), s(&data), "-o", s(&dir.join("q.hepz")), "--block-rows", "4096", "--quiet"],
        vec!["decompress", s(&dir.join("q.hepz")), "--model", s(&model), "-o", s(&dir.join("q.npy")), "--quiet"],
    ] {
        let err = ok("0", &args);
        assert!(
            !err.lines().any(|l| l.contains(" %), ") || l.contains("/s)")),
            "{} --quiet printed progress:\n{err}",
            args[0]
        );
    }

    // A malformed interval is refused with one line naming the variable; no output is written.
    let out = hepae("soon", &["score", s(&model), s(&data), "-o", s(&dir.join("never.npy"))]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].starts_with("error: ") && lines[0].contains("HEPAE_PROGRESS_INTERVAL_S"), "{err}");
    assert!(!dir.join("never.npy").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
