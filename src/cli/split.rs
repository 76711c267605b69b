//! `hepae split DATA -o DIR`: the seeded train/validation split `train` uses, as two datasets,
//! so a peer tool (e.g. the PyTorch comparison) trains and validates on exactly the same rows.

use crate::data::npy::{write_npy, Dataset};
use crate::error::{Error, Result};
use crate::train::split_rows;
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct SplitArgs {
    /// Dataset (f32 NPY) to split.
    pub data: PathBuf,
    /// Directory for train.npy and val.npy (created if missing).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Random seed of the split (the same as `hepae train --seed`).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Fraction of rows in val.npy, in (0, 1).
    #[arg(long, default_value_t = 0.15)]
    #[arg(value_parser = super::values::open_fraction)]
    pub val_fraction: f64,
}

pub fn run(args: &SplitArgs) -> Result<()> {
    let mut guard = crate::io::outputs::Guard::new().data(args.data.as_path()).dir("-o", args.output.as_path());
    for f in ["train.npy", "train.columns", "val.npy", "val.columns"] {
        guard = guard.file_in_new_dir("-o", args.output.join(f).as_path());
    }
    guard.check()?;
    if !(0.0..1.0).contains(&args.val_fraction) {
        return Err(Error::config(format!("--val-fraction {} must be in [0, 1)", args.val_fraction)));
    }
    let data = Dataset::open(&args.data)?;
    let split = split_rows(data.rows(), args.val_fraction, args.seed);
    std::fs::create_dir_all(&args.output).map_err(|e| Error::io(&args.output, e))?;
    for (name, rows) in [("train", &split.train), ("val", &split.val)] {
        let mut buf = vec![0.0f32; rows.len() * data.cols()];
        data.gather(rows, &mut buf);
        write_npy(&args.output.join(format!("{name}.npy")), data.cols(), &buf, Some(data.columns()))?;
    }
    eprintln!(
        "wrote {} ({} rows) and {} ({} rows)",
        args.output.join("train.npy").display(),
        split.train.len(),
        args.output.join("val.npy").display(),
        split.val.len()
    );
    Ok(())
}
