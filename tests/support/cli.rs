//! Running the `hepae` binary from a test: its output, a command that must succeed, one that
//! must fail with exactly one `error:` line, and a fresh scratch directory. Included by the
//! CLI test files with `#[path = "support/cli.rs"] mod cli;`.
#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn hepae(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hepae")).args(args).output().expect("run hepae")
}

/// Runs a command that must succeed; returns its stdout.
pub fn ok(args: &[&str]) -> String {
    let out = hepae(args);
    assert!(out.status.success(), "hepae {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command that must fail; returns its single error line.
pub fn fails(args: &[&str]) -> String {
    let out = hepae(args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "hepae {args:?} should fail cleanly, stderr:\n{err}");
    assert!(!err.contains("panicked"), "hepae {args:?} panicked:\n{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one error line expected, got:\n{err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    lines[0].to_string()
}

/// An empty directory `hepae-{suite}-{name}-{pid}` under the system's temporary directory.
pub fn scratch(suite: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hepae-{suite}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
