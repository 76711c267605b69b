//! `hepae merge PART... -o OUT`: joins the outputs of sharded batch jobs, in the order given.
//!
//! * NPY parts (from `score`, `reconstruct`, `import`, `decompress`) → one NPY dataset: every
//!   part must have the same column names in the same order; rows are appended in order.
//! * CSV parts → one CSV: the same header line in every part; the rows in order.
//! * Archives (`.hepz` from `compress`) → an archive set (`OUT`, JSON): each archive's header is
//!   read and checked (its checksum, format), all must come from the same model (identity) with
//!   the same columns and normaliser, and the set records each archive's rows and the SHA-256 of
//!   its bytes. `hepae decompress SET -o OUT.npy|.csv` checks every archive against the set and
//!   rebuilds all their rows as one dataset, in order.
//!
//! The output is written atomically: a failure leaves no file, so the merge can be rerun.

use crate::archive::{decompress_with, read_header};
use crate::data::npy::{Dataset, NpyWriter};
use crate::error::{Error, Result};
use crate::io::atomic::AtomicFile;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug, Clone)]
pub struct MergeArgs {
    /// The shard outputs, in order: NPY, CSV or archives (.hepz), all of one kind.
    #[arg(required = true)]
    pub parts: Vec<PathBuf>,
    /// The joined output: .npy or .csv for tables; the archive set (.json) for archives.
    #[arg(short, long)]
    pub output: PathBuf,
}

/// The `format` of an archive set.
pub const SET_FORMAT: &str = "hepae-archive-set";

/// An archive set: archives of one model, in order, with what each must be.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArchiveSet {
    pub format: String,
    pub version: u32,
    pub columns: Vec<String>,
    /// Rows of all archives.
    pub rows: u64,
    /// The model's identity every archive was written with (or, format-1 archives, its SHA-256).
    pub model: String,
    pub archives: Vec<SetMember>,
}

/// One archive of a set: its path (relative to the set's directory when it lies there or
/// below, else absolute) and what it held when merged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetMember {
    pub path: PathBuf,
    pub rows: u64,
    pub sha256: String,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Npy,
    Csv,
    Archive,
}

fn kind_of(p: &Path) -> Result<Kind> {
    match p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("npy") => Ok(Kind::Npy),
        Some("csv") => Ok(Kind::Csv),
        Some("hepz") => Ok(Kind::Archive),
        _ => Err(Error::config(format!("{}: not a .npy, .csv or .hepz shard output", p.display()))),
    }
}

pub fn run(args: &MergeArgs) -> Result<()> {
    let kind = kind_of(&args.parts[0])?;
    for p in &args.parts[1..] {
        if kind_of(p)? != kind {
            return Err(Error::config(format!(
                "{}: every part must be of the first part's kind ({kind:?})",
                p.display()
            )));
        }
    }
    let mut guard = crate::io::outputs::Guard::new();
    for p in &args.parts {
        guard = if kind == Kind::Npy { guard.data(p.as_path()) } else { guard.input(p.as_path()) };
    }
    match kind {
        Kind::Npy => guard.rows("-o", args.output.as_path()).check()?,
        _ => guard.file("-o", args.output.as_path()).check()?,
    }
    let rows = match kind {
        Kind::Npy => merge_npy(&args.parts, &args.output)?,
        Kind::Csv => merge_csv(&args.parts, &args.output)?,
        Kind::Archive => {
            let set = archive_set(&args.parts, &args.output)?;
            let text = serde_json::to_string_pretty(&set).map_err(|e| Error::config(e.to_string()))?;
            crate::io::atomic::write_atomic(&args.output, format!("{text}\n").as_bytes())?;
            set.rows
        }
    };
    eprintln!("wrote {} ({rows} rows from {} parts)", args.output.display(), args.parts.len());
    Ok(())
}

/// Appends the rows of NPY `parts` (same columns) to one NPY at `out`; returns the row count.
pub fn merge_npy(parts: &[PathBuf], out: &Path) -> Result<u64> {
    let first = Dataset::open(&parts[0])?;
    let columns = first.columns().to_vec();
    drop(first);
    let mut w = NpyWriter::create(out, &columns)?;
    for p in parts {
        let d = Dataset::open(p)?;
        if d.columns() != columns.as_slice() {
            return Err(Error::data(
                crate::error::Location::file(p),
                format!("columns {} differ from the first part's ({})", d.columns().join(","), columns.join(",")),
            ));
        }
        for start in (0..d.rows()).step_by(crate::data::npy::RELEASE_BLOCK_ROWS) {
            let end = (start + crate::data::npy::RELEASE_BLOCK_ROWS).min(d.rows());
            w.write_rows(&d.as_slice()[start * d.cols()..end * d.cols()])?;
            d.release_rows(start, end);
        }
    }
    let rows = w.rows_written();
    w.finish()?;
    Ok(rows)
}

/// Appends the data lines of CSV `parts` (same header line) to one CSV at `out`.
pub fn merge_csv(parts: &[PathBuf], out: &Path) -> Result<u64> {
    let mut w = AtomicFile::create(out)?;
    let mut header: Option<String> = None;
    let mut rows = 0u64;
    for p in parts {
        let f = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
        let mut lines = BufReader::new(f).lines();
        let head = match lines.next() {
            Some(l) => l.map_err(|e| Error::io(p, e))?,
            None => return Err(Error::data(crate::error::Location::file(p), "empty CSV: no header line")),
        };
        match &header {
            None => {
                w.write_all(format!("{head}\n").as_bytes())?;
                header = Some(head);
            }
            Some(h) if *h != head => {
                return Err(Error::data(
                    crate::error::Location::file(p).line(1),
                    format!("header '{head}' differs from the first part's '{h}'"),
                ))
            }
            Some(_) => {}
        }
        for line in lines {
            let line = line.map_err(|e| Error::io(p, e))?;
            if line.is_empty() {
                continue;
            }
            w.write_all(line.as_bytes())?;
            w.write_all(b"\n")?;
            rows += 1;
        }
    }
    w.commit()?;
    Ok(rows)
}

fn sha256_file(p: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(p, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// How the set at `set_path` names `archive`: relative to the set's directory when the archive
/// lies in it or below, else by its absolute path (so that the set can be read from anywhere).
fn member_path(archive: &Path, set_path: &Path) -> Result<PathBuf> {
    let abs = std::fs::canonicalize(archive).map_err(|e| Error::io(archive, e))?;
    let dir = match set_path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let dir = std::fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
    Ok(abs.strip_prefix(&dir).map(Path::to_path_buf).unwrap_or(abs))
}

/// The set of `archives` to be written at `set_path`, checked: readable headers, one model, one
/// column list, one normaliser.
pub fn archive_set(archives: &[PathBuf], set_path: &Path) -> Result<ArchiveSet> {
    let mut set: Option<(ArchiveSet, crate::data::normalize::Normalizer)> = None;
    for p in archives {
        let h = read_header(p)?;
        let model = if h.model_identity.is_empty() { h.model_sha256.clone() } else { h.model_identity.clone() };
        let member = SetMember { path: member_path(p, set_path)?, rows: h.rows, sha256: sha256_file(p)? };
        match &mut set {
            None => {
                let s = ArchiveSet {
                    format: SET_FORMAT.into(),
                    version: 1,
                    columns: h.columns.clone(),
                    rows: h.rows,
                    model,
                    archives: vec![member],
                };
                set = Some((s, h.normalizer.clone()));
            }
            Some((s, norm)) => {
                let differs = if model != s.model {
                    Some("was written with another model")
                } else if h.columns != s.columns {
                    Some("has other columns")
                } else if h.normalizer != *norm {
                    Some("has another normaliser")
                } else {
                    None
                };
                if let Some(why) = differs {
                    return Err(Error::archive(p, format!("{why} than {}", archives[0].display())));
                }
                s.rows += h.rows;
                s.archives.push(member);
            }
        }
    }
    set.map(|(s, _)| s).ok_or_else(|| Error::config("merge needs at least one archive"))
}

/// Whether `path` is an archive set (a JSON file of [`SET_FORMAT`]) rather than an archive.
pub fn is_archive_set(path: &Path) -> bool {
    let Ok(f) = std::fs::File::open(path) else { return false };
    let mut head = [0u8; 256];
    let n = std::io::Read::read(&mut &f, &mut head).unwrap_or(0);
    let text = String::from_utf8_lossy(&head[..n]);
    text.trim_start().starts_with('{') && text.contains(SET_FORMAT)
}

/// Reads and checks an archive set: its format, and each member's bytes and rows against it.
/// Relative member paths are relative to the set's directory.
pub fn read_archive_set(path: &Path) -> Result<(ArchiveSet, Vec<PathBuf>)> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let set: ArchiveSet =
        serde_json::from_str(&text).map_err(|e| Error::archive(path, format!("not an archive set: {e}")))?;
    if set.format != SET_FORMAT || set.version != 1 {
        return Err(Error::archive(
            path,
            format!("format {} version {} is not {SET_FORMAT} 1", set.format, set.version),
        ));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut paths = Vec::with_capacity(set.archives.len());
    let mut total = 0;
    for m in &set.archives {
        let p = if m.path.is_relative() { base.join(&m.path) } else { m.path.clone() };
        if sha256_file(&p)? != m.sha256 {
            return Err(Error::archive(&p, format!("its bytes are not the ones the set {} recorded", path.display())));
        }
        total += m.rows;
        paths.push(p);
    }
    if total != set.rows {
        return Err(Error::archive(path, format!("its archives hold {total} rows, the set says {}", set.rows)));
    }
    Ok((set, paths))
}

/// `hepae decompress SET -o OUT`: every archive of the set decompressed (with all of
/// decompress's checks) into a scratch directory, then joined into `out` in order.
pub fn decompress_set(set_path: &Path, model: Option<&Path>, out: &Path, quiet: bool) -> Result<u64> {
    let (set, archives) = read_archive_set(set_path)?;
    let mut guard = crate::io::outputs::Guard::new().input(set_path).model(model);
    for a in &archives {
        guard = guard.input(a.as_path());
    }
    guard.rows("-o", out).check()?;
    let ext = match kind_of(out)? {
        Kind::Csv => "csv",
        _ => "npy",
    };
    let scratch = crate::io::outputs::Scratch::new("decompress-set")?;
    let mut parts = Vec::with_capacity(archives.len());
    for (k, a) in archives.iter().enumerate() {
        let part = scratch.path().join(format!("part{k}.{ext}"));
        let (_, rows) = decompress_with(a, model, &part, &mut |_| {})?;
        if rows != set.archives[k].rows {
            return Err(Error::archive(a, format!("decompressed {rows} rows, the set says {}", set.archives[k].rows)));
        }
        if !quiet {
            eprintln!("  {} : {rows} rows", a.display());
        }
        parts.push(part);
    }
    let rows = if ext == "csv" { merge_csv(&parts, out)? } else { merge_npy(&parts, out)? };
    Ok(rows)
}
