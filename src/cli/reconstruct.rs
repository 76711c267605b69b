//! `hepae reconstruct MODEL DATA -o OUT.npy|.csv`: jets through encoder and decoder, written
//! back in physical units, streamed in batches (memory does not grow with the file).

use crate::analysis::metrics::NonFinite;
pub use crate::data::sink::RowSink;
use crate::error::{Error, Location, Result};
use crate::formats::model_file::SavedModel;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug, Clone)]
pub struct ReconstructArgs {
    /// Trained model (safetensors).
    pub model: PathBuf,
    /// Dataset (f32 NPY) to reconstruct.
    pub data: PathBuf,
    /// Output: .npy (f32 + .columns) or .csv (header row).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Only job i of n's share of DATA's rows (0-based; see `hepae merge`).
    #[arg(long)]
    pub shard: Option<super::shard::ShardSpec>,
    /// No progress lines.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Reconstructs every row of `data_path` into `out`; returns the row count. A reconstruction
/// that is not finite stops the writing: the rest is scanned to count the bad values, the error
/// names the first one's row and column, and `out` is not created.
pub fn reconstruct_file(model_path: &Path, data_path: &Path, out: &Path) -> Result<usize> {
    reconstruct_file_with(model_path, data_path, out, true)
}

/// [`reconstruct_file`] with progress on stderr unless `quiet`.
pub fn reconstruct_file_with(model_path: &Path, data_path: &Path, out: &Path, quiet: bool) -> Result<usize> {
    reconstruct_shard(model_path, data_path, None, out, quiet)
}

/// [`reconstruct_file_with`] on one shard of the data (all of it with `None`).
pub fn reconstruct_shard(
    model_path: &Path,
    data_path: &Path,
    shard: Option<super::shard::ShardSpec>,
    out: &Path,
    quiet: bool,
) -> Result<usize> {
    let model = SavedModel::load(model_path)?;
    let data = super::shard::open(data_path, shard)?;
    super::shard::check_not_empty(&data, shard)?;
    model.check_data(&data, model_path)?;
    if out == data_path {
        return Err(Error::config(format!("{}: refusing to overwrite the input", out.display())));
    }
    let d = data.cols();
    let batch = 4096;
    let mut buf = model.ae.plan(batch, false);
    let mut x = vec![0.0f32; batch * d];
    let mut sink = RowSink::create(out, data.columns())?;
    let mut bad = NonFinite::default();
    let mut progress = super::progress::Progress::new("reconstruct", "jets", data.rows() as u64, quiet)?;
    for start in (0..data.rows()).step_by(batch) {
        let n = batch.min(data.rows() - start);
        let rows = &data.as_slice()[start * d..(start + n) * d];
        x[..n * d].copy_from_slice(rows);
        if let Some(i) = x[..n * d].iter().position(|v| !v.is_finite()) {
            return Err(Error::data(
                Location::file(data.path())
                    .row((data.first_row() + start + i / d) as u64 + 1)
                    .column(data.columns()[i % d].clone()),
                "value is not finite",
            ));
        }
        if let Err(b) = model.meta.normalizer.normalize_rows(&mut x[..n * d]) {
            return Err(Error::data(
                Location::file(data.path())
                    .row((data.first_row() + start + b.row) as u64 + 1)
                    .column(data.columns()[b.col].clone()),
                "value is outside the domain of the model's normaliser",
            ));
        }
        let out_rows = model.ae.forward(&x, &mut buf, n);
        x[..n * d].copy_from_slice(out_rows);
        model.meta.normalizer.denormalize_rows(&mut x[..n * d]);
        bad.scan(out_rows, &x[..n * d], d, |r| start + r);
        if bad.count == 0 {
            sink.write_rows(&x[..n * d])?;
        }
        data.release_rows(start, start + n);
        progress.set((start + n) as u64);
    }
    // Dropping the sink unfinished removes its temporary file.
    bad.check(data.path(), "reconstruction", |c| data.columns()[c].clone())?;
    sink.finish()?;
    progress.finish();
    Ok(data.rows())
}

pub fn run(args: &ReconstructArgs) -> Result<()> {
    crate::io::outputs::Guard::new()
        .model(args.model.as_path())
        .data(args.data.as_path())
        .rows("-o", args.output.as_path())
        .check()?;
    let n = reconstruct_shard(&args.model, &args.data, args.shard, &args.output, args.quiet)?;
    eprintln!("wrote {} ({n} reconstructed jets, physical units)", args.output.display());
    Ok(())
}
