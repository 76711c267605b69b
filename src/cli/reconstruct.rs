//! `hepae reconstruct MODEL DATA -o OUT.npy|.csv`: jets through encoder and decoder, written
//! back in physical units, streamed in batches (memory does not grow with the file).

use crate::atomic::AtomicFile;
use crate::data::npy::{Dataset, NpyWriter};
use crate::error::{Error, Location, Result};
use crate::model_io::SavedModel;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug, Clone)]
pub struct ReconstructArgs {
    pub model: PathBuf,
    pub data: PathBuf,
    /// Output: .npy (f32 + .columns) or .csv (header row).
    #[arg(short, long)]
    pub output: PathBuf,
}

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

/// Reconstructs every row of `data_path` into `out`; returns the row count.
pub fn reconstruct_file(model_path: &Path, data_path: &Path, out: &Path) -> Result<usize> {
    let model = SavedModel::load(model_path)?;
    let data = Dataset::open(data_path)?;
    model.check_data(&data, model_path)?;
    if out == data_path {
        return Err(Error::config(format!("{}: refusing to overwrite the input", out.display())));
    }
    let d = data.cols();
    let batch = 4096;
    let mut buf = model.ae.plan(batch, false);
    let mut x = vec![0.0f32; batch * d];
    let mut sink = RowSink::create(out, data.columns())?;
    for start in (0..data.rows()).step_by(batch) {
        let n = batch.min(data.rows() - start);
        let rows = &data.as_slice()[start * d..(start + n) * d];
        x[..n * d].copy_from_slice(rows);
        if let Some(i) = x[..n * d].iter().position(|v| !v.is_finite()) {
            return Err(Error::data(
                Location::file(data.path()).row((start + i / d) as u64 + 1).column(data.columns()[i % d].clone()),
                "value is not finite",
            ));
        }
        if let Err(b) = model.meta.normalizer.normalize_rows(&mut x[..n * d]) {
            return Err(Error::data(
                Location::file(data.path()).row((start + b.row) as u64 + 1).column(data.columns()[b.col].clone()),
                "value is outside the domain of the model's normaliser",
            ));
        }
        let out_rows = model.ae.forward(&x, &mut buf, n);
        x[..n * d].copy_from_slice(out_rows);
        model.meta.normalizer.denormalize_rows(&mut x[..n * d]);
        sink.write_rows(&x[..n * d])?;
        data.release_rows(start, start + n);
    }
    sink.finish()?;
    Ok(data.rows())
}

pub fn run(args: &ReconstructArgs) -> Result<()> {
    let n = reconstruct_file(&args.model, &args.data, &args.output)?;
    eprintln!("wrote {} ({n} reconstructed jets, physical units)", args.output.display());
    Ok(())
}
