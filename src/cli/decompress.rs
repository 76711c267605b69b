//! `hepae decompress OUT.hepz [--model MODEL] -o OUT.npy|.csv`: streamed block by block; every
//! checksum, the block sequence, the model's identity, the trailer's counts and the SHA-256 of
//! the decoded content are checked; nothing is written unless all of it is right.

use super::progress::Progress;
use crate::archive::{decompress_with, read_header};
use crate::error::Result;
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct DecompressArgs {
    /// Archive to read (.hepz from `hepae compress`), or an archive set (from `hepae merge`).
    pub archive: PathBuf,
    /// The model the archive was written with (not needed if it embeds its decoder).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Output: .npy (f32 + .columns) or .csv (header row).
    #[arg(short, long)]
    pub output: PathBuf,
    /// No progress lines.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: &DecompressArgs) -> Result<()> {
    if super::merge::is_archive_set(&args.archive) {
        let rows = super::merge::decompress_set(&args.archive, args.model.as_deref(), &args.output, args.quiet)?;
        eprintln!("wrote {} ({rows} jets from the archive set {})", args.output.display(), args.archive.display());
        return Ok(());
    }
    crate::outputs::Guard::new()
        .input(args.archive.as_path())
        .model(args.model.as_deref())
        .rows("-o", args.output.as_path())
        .check()?;
    let total = read_header(&args.archive)?.rows;
    let mut progress = Progress::new("decompress", "jets", total, args.quiet)?;
    let (h, rows) = decompress_with(&args.archive, args.model.as_deref(), &args.output, &mut |r| progress.set(r))?;
    progress.finish();
    eprintln!(
        "wrote {} ({rows} jets, {} columns{})",
        args.output.display(),
        h.columns.len(),
        if h.bounds.is_some() { ", every value within its stored bound" } else { ", reconstructed from the latents" }
    );
    if h.version < 2 {
        eprintln!("  (a format-{} archive: its blocks were checked one by one, not as a whole)", h.version);
    }
    Ok(())
}
