//! `hepae import INPUT -o OUT.npy`: CSV or NPY in, a 2-D `<f4` C-order NPY (plus `OUT.columns`)
//! out, written atomically. Row cuts (`--filter`, `--where`) apply to the full input row before
//! the columns are selected, so a label column can choose rows without becoming an input.

use crate::data::csv::{import_file, ImportOptions};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// Input table: a .csv with a header row, or a numeric .npy (names from NAME.columns if present).
    pub input: PathBuf,
    /// Output dataset (.npy); OUT.columns is written beside it.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Select and order these columns (comma separated).
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["first_columns", "drop_columns"])]
    pub columns: Option<Vec<String>>,
    /// Keep only the first N columns.
    #[arg(long)]
    pub first_columns: Option<usize>,
    /// Remove these columns (comma separated).
    #[arg(long, value_delimiter = ',')]
    pub drop_columns: Vec<String>,
    /// Row cuts on the full input row, ANDed: e.g. 'pt<8000,mass<800' (ops < <= > >= == !=).
    #[arg(long)]
    pub filter: Option<String>,
    /// More row cuts, ANDed with --filter: e.g. 'hadronFlavour==5'.
    #[arg(long = "where")]
    pub where_: Option<String>,
}

pub fn run(args: &ImportArgs) -> crate::Result<()> {
    let opts = ImportOptions {
        columns: args.columns.clone(),
        first_columns: args.first_columns,
        drop_columns: args.drop_columns.clone(),
        filter: args.filter.clone(),
        where_: args.where_.clone(),
    };
    let r = import_file(&args.input, &args.output, &opts)?;
    println!(
        "imported {}: {} rows read, {} kept, {} columns -> {}",
        args.input.display(),
        r.rows_read,
        r.rows_kept,
        r.columns.len(),
        args.output.display()
    );
    Ok(())
}
