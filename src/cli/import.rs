//! TEMPORARY stub (replaced by the data branch).
use std::path::PathBuf;
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    pub input: PathBuf,
    #[arg(short, long)]
    pub output: PathBuf,
    #[arg(long)]
    pub first_columns: Option<usize>,
}
pub fn run(_a: &ImportArgs) -> crate::Result<()> {
    Err(crate::Error::config("stub"))
}
