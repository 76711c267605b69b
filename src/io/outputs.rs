//! Output paths, checked before any work starts. Every subcommand lists its inputs and outputs
//! in one [`Guard`] and calls [`Guard::check`] first; a refusal is one [`Error::Output`] line that
//! names the option and the path as the user typed it. Refused:
//! - an output that is an input of the same command (same device and inode, so symlinks, `..`
//!   and hard links are seen through), or an input's sidecar: `NAME.columns` beside a dataset,
//!   `NAME.history.csv` beside a model;
//! - two outputs of one command that are the same file (including an NPY output's `.columns`);
//! - an existing directory where a file is written, or an existing file where a directory is;
//! - an output in a directory that does not exist or cannot be written (a probe file is
//!   created and removed there), and `-` for an output that is not a text report.
//!
//! Devices, pipes and standard output (`-` for a text report, `/dev/stdout`) are written
//! straight through by [`crate::io::atomic::AtomicFile`], so they are not probed. Stale temporaries
//! of killed runs beside each output are removed here too ([`crate::io::atomic::remove_stale_temps`]).

use crate::error::{Error, Result};
use crate::io::atomic::{is_direct, remove_stale_temps};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What an output is, which decides what is allowed at its path.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// A file; its directory must exist.
    File,
    /// A file whose directory the command creates if missing.
    FileInNewDir,
    /// A text report: `-` means standard output.
    Text,
    /// A directory (created if missing).
    Dir,
}

#[derive(Clone, Debug)]
struct Out {
    option: String,
    path: PathBuf,
    kind: Kind,
}

/// A path an output must not replace, and what it is (for the message).
#[derive(Clone, Debug)]
struct Protected {
    path: PathBuf,
    what: String,
}

/// The inputs and outputs of one command; see the module docs.
#[derive(Clone, Debug, Default)]
pub struct Guard {
    outputs: Vec<Out>,
    inputs: Vec<Protected>,
}

/// `m.safetensors` → `m.history.csv` (the CLI's sidecar rule).
fn history_of(model: &Path) -> PathBuf {
    let stem = model.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    model.with_file_name(format!("{stem}.history.csv"))
}

/// Identity of an existing file: (device, inode).
fn identity(p: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

/// The absolute path `p` names, with symlinks and `..` resolved as far as the path exists.
fn resolved(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = std::fs::canonicalize(p) {
        return Some(c);
    }
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(resolved(parent)?.join(p.file_name()?))
}

fn same(a: &Path, b: &Path) -> bool {
    match (identity(a), identity(b)) {
        (Some(x), Some(y)) => x == y,
        _ => resolved(a).is_some_and(|ra| resolved(b).is_some_and(|rb| ra == rb)),
    }
}

/// The directory that holds `p` (`.` for a bare name).
fn parent_of(p: &Path) -> &Path {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Creates and removes a probe file in `dir`: the cheapest proof that an output can be made there.
fn probe(dir: &Path) -> std::io::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let p = dir.join(format!(".hepae-probe-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    std::fs::File::create_new(&p)?;
    std::fs::remove_file(&p)
}

impl Guard {
    pub fn new() -> Self {
        Guard::default()
    }

    fn protect(mut self, path: PathBuf, what: String) -> Self {
        self.inputs.push(Protected { path, what });
        self
    }

    /// A dataset input; its `NAME.columns` is protected too.
    pub fn data<'a>(self, p: impl Into<Option<&'a Path>>) -> Self {
        let Some(p) = p.into() else { return self };
        let cols = crate::data::npy::columns_path(p);
        self.protect(p.to_path_buf(), format!("the input {}", p.display()))
            .protect(cols, format!("the column names of the input {}", p.display()))
    }

    /// A model input; its `NAME.history.csv` is protected too.
    pub fn model<'a>(self, p: impl Into<Option<&'a Path>>) -> Self {
        let Some(p) = p.into() else { return self };
        self.protect(p.to_path_buf(), format!("the input {}", p.display()))
            .protect(history_of(p), format!("the loss history of the input {}", p.display()))
    }

    /// Any other input file (an archive, a CSV, a ROOT file).
    pub fn input<'a>(self, p: impl Into<Option<&'a Path>>) -> Self {
        let Some(p) = p.into() else { return self };
        self.protect(p.to_path_buf(), format!("the input {}", p.display()))
    }

    fn out(mut self, option: &str, p: Option<&Path>, kind: Kind) -> Self {
        if let Some(p) = p {
            self.outputs.push(Out { option: option.to_string(), path: p.to_path_buf(), kind });
        }
        self
    }

    /// An output file whose directory must exist.
    pub fn file<'a>(self, option: &str, p: impl Into<Option<&'a Path>>) -> Self {
        self.out(option, p.into(), Kind::File)
    }

    /// An output file whose directory the command creates when it is missing.
    pub fn file_in_new_dir<'a>(self, option: &str, p: impl Into<Option<&'a Path>>) -> Self {
        self.out(option, p.into(), Kind::FileInNewDir)
    }

    /// A rows output (`.npy` or `.csv`): an `.npy` also writes `NAME.columns` beside it.
    pub fn rows<'a>(self, option: &str, p: impl Into<Option<&'a Path>>) -> Self {
        let Some(p) = p.into() else { return self };
        let g = self.file(option, p);
        if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy")) && !is_direct(p) {
            let o = format!("{option} (its column names)");
            return g.out(&o, Some(&crate::data::npy::columns_path(p)), Kind::File);
        }
        g
    }

    /// A text report: `-` writes to standard output.
    pub fn text<'a>(self, option: &str, p: impl Into<Option<&'a Path>>) -> Self {
        self.out(option, p.into(), Kind::Text)
    }

    /// An output directory, created by the command when missing.
    pub fn dir<'a>(self, option: &str, p: impl Into<Option<&'a Path>>) -> Self {
        self.out(option, p.into(), Kind::Dir)
    }

    /// Refuses, before any work, every output that would destroy an input, collide with
    /// another output or cannot be written; see the module docs.
    pub fn check(&self) -> Result<()> {
        for (i, o) in self.outputs.iter().enumerate() {
            let err = |msg: String| Error::output(&o.option, &o.path, msg);
            if o.path.as_os_str() == "-" {
                if o.kind == Kind::Text {
                    continue;
                }
                return Err(err("this output cannot go to standard output; name a file".into()));
            }
            if o.kind != Kind::Dir && is_direct(&o.path) {
                continue;
            }
            for inp in &self.inputs {
                if same(&o.path, &inp.path) {
                    return Err(err(format!("is {}; refusing to replace it", inp.what)));
                }
            }
            for prev in &self.outputs[..i] {
                if prev.path.as_os_str() != "-" && same(&o.path, &prev.path) {
                    return Err(err(format!("is also the output of {} {}", prev.option, prev.path.display())));
                }
            }
            self.writable(o)?;
        }
        Ok(())
    }

    /// The preflight: the path's type and its directory's existence and permissions.
    fn writable(&self, o: &Out) -> Result<()> {
        let err = |msg: String| Error::output(&o.option, &o.path, msg);
        let meta = std::fs::metadata(&o.path).ok();
        let dir: PathBuf = match o.kind {
            Kind::Dir => {
                if meta.as_ref().is_some_and(|m| !m.is_dir()) {
                    return Err(err("exists and is not a directory".into()));
                }
                if meta.is_some() {
                    o.path.clone()
                } else {
                    nearest_existing(&o.path).ok_or_else(|| err("no part of this path exists".into()))?
                }
            }
            _ => {
                if meta.as_ref().is_some_and(|m| m.is_dir()) {
                    return Err(err("is a directory; name a file".into()));
                }
                // A symlink to an existing file is written beside the file it points to.
                let real = std::fs::symlink_metadata(&o.path)
                    .is_ok_and(|m| m.file_type().is_symlink())
                    .then(|| std::fs::canonicalize(&o.path).ok())
                    .flatten();
                let parent = real.as_deref().map_or_else(|| parent_of(&o.path), parent_of);
                match std::fs::metadata(parent) {
                    Ok(m) if m.is_dir() => parent.to_path_buf(),
                    Ok(_) => return Err(err(format!("{} is not a directory", parent.display()))),
                    Err(_) if o.kind == Kind::FileInNewDir => nearest_existing(parent)
                        .ok_or_else(|| err(format!("directory {} does not exist", parent.display())))?,
                    Err(_) => return Err(err(format!("directory {} does not exist", parent.display()))),
                }
            }
        };
        if !std::fs::metadata(&dir).is_ok_and(|m| m.is_dir()) {
            return Err(err(format!("{} is not a directory", dir.display())));
        }
        probe(&dir).map_err(|e| err(format!("cannot write in {}: {}", dir.display(), io_reason(&e))))?;
        if o.kind != Kind::Dir {
            remove_stale_temps(&o.path);
        }
        Ok(())
    }
}

/// A scratch directory under the system's temporary directory, removed with its contents when
/// dropped, so a command that fails half-way leaves none of its intermediate files behind.
pub struct Scratch(PathBuf);

impl Scratch {
    /// Creates `hepae-WHAT-PID` (emptied first if a previous run with this PID left one).
    pub fn new(what: &str) -> Result<Self> {
        let p = std::env::temp_dir().join(format!("hepae-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        Ok(Scratch(p))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The deepest existing ancestor of `p` (or `.` for a relative path with none).
fn nearest_existing(p: &Path) -> Option<PathBuf> {
    let mut cur = p;
    loop {
        if std::fs::metadata(cur).is_ok() {
            return Some(cur.to_path_buf());
        }
        match cur.parent() {
            Some(d) if !d.as_os_str().is_empty() => cur = d,
            _ => return if p.is_relative() { Some(PathBuf::from(".")) } else { None },
        }
    }
}

/// The OS's reason without the "(os error N)" tail.
fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hepae-outputs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn an_input_is_seen_through_dotdot_symlinks_and_hard_links() {
        let dir = tmpdir("same");
        let data = dir.join("jets.npy");
        std::fs::write(&data, b"x").unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        std::os::unix::fs::symlink(&data, dir.join("link.npy")).unwrap();
        std::fs::hard_link(&data, dir.join("hard.npy")).unwrap();
        for alias in [data.clone(), dir.join("sub/../jets.npy"), dir.join("link.npy"), dir.join("hard.npy")] {
            let e = Guard::new().data(data.as_path()).file("-o", alias.as_path()).check().unwrap_err().to_string();
            assert!(e.starts_with(&format!("-o {}:", alias.display())) && e.contains("the input"), "{e}");
        }
        // The dataset's column names, even before they exist, and a model's history.
        let e = Guard::new().data(data.as_path()).file("-o", dir.join("jets.columns").as_path()).check();
        assert!(e.unwrap_err().to_string().contains("column names of the input"));
        let m = dir.join("m.safetensors");
        let e = Guard::new().model(m.as_path()).text("--json", dir.join("m.history.csv").as_path()).check();
        assert!(e.unwrap_err().to_string().contains("loss history"));
        assert!(Guard::new().data(data.as_path()).file("-o", dir.join("other.npy").as_path()).check().is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn two_outputs_at_one_path_and_bad_places_are_refused() {
        let dir = tmpdir("places");
        let a = dir.join("a.json");
        let e = Guard::new().text("--json", a.as_path()).text("--csv", a.as_path()).check().unwrap_err().to_string();
        assert!(e.contains("--csv") && e.contains("also the output of --json"), "{e}");
        let e = Guard::new().file("-o", dir.as_path()).check().unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
        let missing = dir.join("nope/m.safetensors");
        let e = Guard::new().file("-o", missing.as_path()).check().unwrap_err().to_string();
        assert!(e.starts_with(&format!("-o {}:", missing.display())) && e.contains("does not exist"), "{e}");
        assert!(Guard::new().file_in_new_dir("-o", missing.as_path()).check().is_ok());
        assert!(Guard::new().dir("--plot", dir.join("new/deeper").as_path()).check().is_ok());
        let e = Guard::new().dir("--plot", a.as_path()).check();
        assert!(e.is_ok(), "a.json does not exist yet");
        std::fs::write(&a, b"{}").unwrap();
        let e = Guard::new().dir("--plot", a.as_path()).check().unwrap_err().to_string();
        assert!(e.contains("not a directory"), "{e}");
        let e = Guard::new().file("-o", Path::new("-")).check().unwrap_err().to_string();
        assert!(e.contains("standard output"), "{e}");
        assert!(Guard::new().text("--json", Path::new("-")).text("--csv", Path::new("-")).check().is_ok());
        let g = Guard::new().text("--json", Path::new("/dev/full")).data(Path::new("/dev/full")).check();
        assert!(g.is_ok(), "{g:?}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "the probes left files");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
