//! The command-line tool: one file per subcommand, each with its `Args` and `run`.
//! Errors travel up as [`crate::Error`] and are printed once, by `main`.
//! Tables and results go to stdout through [`print_out`] (and `outln!`), never `println!`,
//! which panics when the reader has gone (`hepae evaluate … | head -1`).

/// `println!` through [`print_out`]: a `Result` instead of a panic.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::print_out(&format!("{}\n", format_args!($($arg)*)))
    };
}

pub mod baseline;
pub mod baseline_peers;
pub mod bench;
pub mod compare;
pub mod compress;
pub mod decompress;
pub mod demo;
pub mod embed;
pub mod evaluate;
pub mod generate;
pub mod import;
pub mod launch;
pub mod merge;
pub mod nae_opts;
pub mod plot;
pub mod plot_images;
pub mod progress;
pub mod quantize;
pub mod reconstruct;
pub mod report;
pub mod roc;
pub mod score;
pub mod shard;
pub mod split;
pub mod synth;
pub mod threshold;
pub mod train;
pub mod values;

use clap::{CommandFactory, Parser, Subcommand};

/// hepae: train and run deep autoencoders that compress and score particle-physics jets.
/// Input: CSV, NPY or ROOT files (`hepae import`, ROOT with --tree and --branches), turned into
/// a float32 NPY dataset that every other subcommand reads.
#[derive(Parser, Debug)]
#[command(name = "hepae", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Convert CSV, NPY or ROOT into a native dataset (f32 NPY + .columns), with column selection and cuts.
    Import(import::ImportArgs),
    /// Train an autoencoder on a dataset and write the model (safetensors).
    Train(train::TrainArgs),
    /// Per-variable figures of merit of a model on a dataset.
    Evaluate(evaluate::EvaluateArgs),
    /// Run jets through a model and write the reconstruction in physical units.
    Reconstruct(reconstruct::ReconstructArgs),
    /// Encode/decode/training cost on this CPU: µs per jet and jets/s per core.
    Bench(bench::BenchArgs),
    /// Compress jets: with an error bound, no model needed (the smallest archive measured); else a model's latents.
    Compress(compress::CompressArgs),
    /// Rebuild jets from an archive (or an archive set from `merge`), checking every checksum and the model.
    Decompress(decompress::DecompressArgs),
    /// Reduced-precision encoder (bf16, f16, int8, fixed<W,I>) from a trained f32 model, calibrated on data.
    Quantize(quantize::QuantizeArgs),
    /// Join sharded jobs' outputs in order: NPY or CSV parts into one, archives into an archive set.
    Merge(merge::MergeArgs),
    /// Compression ratio vs error: float truncation + zstd, PCA and an AE at the same bounds.
    Baseline(baseline::BaselineArgs),
    /// Anomaly score per jet (reconstruction error, VAE reconstruction probability, …).
    Score(score::ScoreArgs),
    /// ROC, AUC and signal efficiency at fixed background rates, with bootstrap errors.
    Roc(roc::RocArgs),
    /// Score cut for a target background rate, stored in the model.
    Threshold(threshold::ThresholdArgs),
    /// Train several (model, normaliser, latent) configurations on one split and tabulate them.
    Compare(compare::CompareArgs),
    /// Synthetic jets from a VAE or AAE: sample the prior, decode, de-normalise.
    Generate(generate::GenerateArgs),
    /// Spectral-embedding (Laplacian eigenmap) coordinates of a dataset, with their cost.
    Embed(embed::EmbedArgs),
    /// Write the seeded train/validation split of a dataset (for peers that must use the same rows).
    Split(split::SplitArgs),
    /// Synthetic jets that follow a real sample's marginals and correlations (for scale tests).
    Synth(synth::SynthArgs),
    /// PNG and SVG figures of a model on a dataset (reconstruction, residuals, loss, latent space).
    Plot(plot::PlotArgs),
    /// One static HTML page with the evaluation table, the training configuration and the figures.
    Report(report::ReportArgs),
    /// Import → train → evaluate → reconstruct on the embedded real CMS jets.
    Demo(demo::DemoArgs),
}

/// The command tree the binary parses: [`Cli`] with every option that takes a value accepting a
/// negative number (`--lr -1` reaches the option's range check instead of a clap tip).
pub fn command() -> clap::Command {
    fn negatives(c: clap::Command) -> clap::Command {
        c.mut_args(|a| {
            if !a.is_positional() && matches!(a.get_action(), clap::ArgAction::Set | clap::ArgAction::Append) {
                a.allow_negative_numbers(true)
            } else {
                a
            }
        })
        .mut_subcommands(negatives)
    }
    negatives(Cli::command())
}

/// Parses the command line and runs the subcommand.
pub fn run(cli: Cli) -> crate::Result<()> {
    match cli.command {
        Command::Import(a) => import::run(&a),
        Command::Train(a) => train::run(&a),
        Command::Evaluate(a) => evaluate::run(&a),
        Command::Reconstruct(a) => reconstruct::run(&a),
        Command::Split(a) => split::run(&a),
        Command::Embed(a) => embed::run(&a),
        Command::Compare(a) => compare::run(&a),
        Command::Bench(a) => bench::run(&a),
        Command::Score(a) => score::run(&a),
        Command::Baseline(a) => baseline::run(&a),
        Command::Compress(a) => compress::run(&a),
        Command::Decompress(a) => decompress::run(&a),
        Command::Quantize(a) => quantize::run(&a),
        Command::Merge(a) => merge::run(&a),
        Command::Roc(a) => roc::run(&a),
        Command::Threshold(a) => threshold::run(&a),
        Command::Generate(a) => generate::run(&a),
        Command::Synth(a) => synth::run(&a),
        Command::Plot(a) => plot::run(&a),
        Command::Report(a) => report::run(&a),
        Command::Demo(a) => demo::run(&a),
    }
}

/// Parses "200,100,50" into widths.
pub fn parse_usize_list(s: &str) -> Result<Vec<usize>, String> {
    s.split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|t| t.trim().parse::<usize>().map_err(|_| format!("'{t}' is not a whole number")))
        .collect()
}

/// The path beside `model` with a new extension suffix: `m.safetensors` → `m.history.csv`.
pub fn sidecar(model: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let stem = model.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    model.with_file_name(format!("{stem}.{suffix}"))
}

/// Writes `text` to standard output. A reader that stopped reading (`| head -1`) is not a
/// failure: the rest of the text is dropped and the command still finishes its other outputs.
/// Any other failure (a full disk under `> table.txt`) is an error naming stdout.
pub fn print_out(text: &str) -> crate::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(crate::Error::io(std::path::Path::new("standard output"), e))
        }
        _ => Ok(()),
    }
}
