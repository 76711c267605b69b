//! `hepae synth --like DATA.npy --rows N -o OUT.npy`: SYNTHETIC jets for scale and speed tests,
//! resampled from a real sample with jitter (see `data::synth`). Not physics data.

use crate::cli::progress::Progress;
use crate::data::npy::Dataset;
use crate::data::synth::synth_like_with;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct SynthArgs {
    /// Real sample whose marginals and correlations the synthetic rows follow.
    #[arg(long)]
    pub like: PathBuf,
    /// Number of synthetic rows to write.
    #[arg(long)]
    #[arg(value_parser = super::values::rows)]
    pub rows: u64,
    /// Output dataset (.npy); OUT.columns is written beside it.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Random seed (the output depends only on it, not on the thread count).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Relative jitter applied to continuous columns.
    #[arg(long, default_value_t = 0.02)]
    #[arg(value_parser = super::values::non_negative)]
    pub jitter: f32,
    /// No progress lines.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: &SynthArgs) -> crate::Result<()> {
    crate::io::outputs::Guard::new().data(args.like.as_path()).rows("-o", args.output.as_path()).check()?;
    let like = Dataset::open(&args.like)?;
    if args.output.extension().is_none_or(|e| !e.eq_ignore_ascii_case("npy")) {
        return Err(crate::Error::config(format!("{}: the output must be a .npy file", args.output.display())));
    }
    let mut progress = Progress::new("synth", "rows", args.rows, args.quiet)?;
    let n = synth_like_with(&like, args.rows, args.seed, args.jitter, &args.output, &mut |r| progress.set(r))?;
    progress.finish();
    outln!(
        "wrote {n} SYNTHETIC rows x {} columns to {} (resampled from {} with jitter {}, seed {}; not real data)",
        like.cols(),
        args.output.display(),
        args.like.display(),
        args.jitter,
        args.seed
    )?;
    Ok(())
}
