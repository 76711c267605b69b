//! Where rows of jets go: a streaming NPY (with its .columns) or an atomically written CSV,
//! chosen by the output's extension. Nothing appears at the target unless `finish` succeeds.

use crate::data::npy::NpyWriter;
use crate::error::{Error, Result};
use crate::io::atomic::AtomicFile;
use std::io::Write;
use std::path::Path;

/// Where reconstructed rows go: a streaming NPY or an atomically written CSV.
pub enum RowSink {
    Npy(NpyWriter),
    Csv { file: AtomicFile, cols: usize, line: String },
}

impl RowSink {
    /// Chooses the format from the extension.
    pub fn create(path: &Path, columns: &[String]) -> Result<Self> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("npy") => Ok(RowSink::Npy(NpyWriter::create(path, columns)?)),
            Some("csv") => {
                let mut file = AtomicFile::create(path)?;
                file.write_all(format!("{}\n", columns.join(",")).as_bytes())?;
                Ok(RowSink::Csv { file, cols: columns.len(), line: String::new() })
            }
            _ => Err(Error::config(format!("{}: output must end in .npy or .csv", path.display()))),
        }
    }

    pub fn write_rows(&mut self, rows: &[f32]) -> Result<()> {
        match self {
            RowSink::Npy(w) => w.write_rows(rows),
            RowSink::Csv { file, cols, line } => {
                use std::fmt::Write as _;
                for row in rows.chunks_exact(*cols) {
                    line.clear();
                    for (j, v) in row.iter().enumerate() {
                        if j > 0 {
                            line.push(',');
                        }
                        let _ = write!(line, "{v}");
                    }
                    line.push('\n');
                    let target = file.target().to_path_buf();
                    file.writer().write_all(line.as_bytes()).map_err(|e| Error::io(&target, e))?;
                }
                Ok(())
            }
        }
    }

    pub fn finish(self) -> Result<()> {
        match self {
            RowSink::Npy(w) => w.finish(),
            RowSink::Csv { file, .. } => file.commit(),
        }
    }
}
