//! The library's one error type. Every variant renders as a single line that names the file,
//! and where it applies the row (1-based data row, or line) and the column, so the CLI can print
//! it once and exit.

use std::fmt;
use std::path::{Path, PathBuf};

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where in an input a problem sits: file, then optionally row/line and column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Location {
    pub path: PathBuf,
    /// 1-based data row (CSV: the line number in the file, header = line 1).
    pub row: Option<u64>,
    /// Column name (or 1-based index when the file has no names).
    pub column: Option<String>,
    /// Whether `row` counts text lines (CSV) rather than data rows (NPY).
    pub row_is_line: bool,
}

impl Location {
    pub fn file(path: &Path) -> Self {
        Location { path: path.to_path_buf(), ..Default::default() }
    }
    pub fn row(mut self, row: u64) -> Self {
        self.row = Some(row);
        self
    }
    pub fn line(mut self, line: u64) -> Self {
        self.row = Some(line);
        self.row_is_line = true;
        self
    }
    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(r) = self.row {
            write!(f, ", {} {}", if self.row_is_line { "line" } else { "row" }, r)?;
        }
        if let Some(c) = &self.column {
            write!(f, ", column {c}")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong in hepae, typed by layer.
#[derive(Debug)]
pub enum Error {
    /// The operating system refused a read or write.
    Io { path: PathBuf, source: std::io::Error },
    /// Input data is malformed or not representable (NaN/Inf, ragged rows, bad NPY header, …).
    Data { at: Location, msg: String },
    /// A model file is missing, corrupt, or does not fit the data it is used with.
    Model { path: PathBuf, msg: String },
    /// An archive is corrupt, truncated, of an unknown version, or for another model.
    Archive { path: PathBuf, msg: String },
    /// A user-supplied option is invalid (bad list, out-of-range value, unknown name).
    Config(String),
    /// Training diverged or a numeric transform produced a non-finite value.
    Numeric(String),
    /// An output path is refused before any work: it is an input (or an input's sidecar) of the
    /// same command, another output of it, a directory, or in a directory that cannot be written.
    /// `option` is how the user named it (`-o`, `--json`, …), `path` exactly as typed.
    Output { option: String, path: PathBuf, msg: String },
}

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), source }
    }
    pub fn data(at: Location, msg: impl Into<String>) -> Self {
        Error::Data { at, msg: msg.into() }
    }
    pub fn model(path: &Path, msg: impl Into<String>) -> Self {
        Error::Model { path: path.to_path_buf(), msg: msg.into() }
    }
    pub fn archive(path: &Path, msg: impl Into<String>) -> Self {
        Error::Archive { path: path.to_path_buf(), msg: msg.into() }
    }
    pub fn config(msg: impl Into<String>) -> Self {
        Error::Config(msg.into())
    }
    pub fn output(option: &str, path: &Path, msg: impl Into<String>) -> Self {
        Error::Output { option: option.to_string(), path: path.to_path_buf(), msg: msg.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {}", path.display(), source),
            Error::Data { at, msg } => write!(f, "{at}: {msg}"),
            Error::Model { path, msg } => write!(f, "{}: model: {msg}", path.display()),
            Error::Archive { path, msg } => write!(f, "{}: archive: {msg}", path.display()),
            Error::Config(msg) => write!(f, "{msg}"),
            Error::Numeric(msg) => write!(f, "{msg}"),
            Error::Output { option, path, msg } => write!(f, "{option} {}: {msg}", path.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
