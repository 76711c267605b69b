//! The command-line tool: one file per subcommand, each with its `Args` and `run`.
//! Errors travel up as [`crate::Error`] and are printed once, by `main`.

pub mod demo;
pub mod evaluate;
pub mod import;
pub mod plot;
pub mod progress;
pub mod reconstruct;
pub mod report;
pub mod split;
pub mod synth;
pub mod train;

use clap::{Parser, Subcommand};

/// hepae: train and run deep autoencoders that compress and score particle-physics jets.
#[derive(Parser, Debug)]
#[command(name = "hepae", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Convert CSV or NPY into a native dataset (f32 NPY + .columns), with column selection and cuts.
    Import(import::ImportArgs),
    /// Train an autoencoder on a dataset and write the model (safetensors).
    Train(train::TrainArgs),
    /// Per-variable figures of merit of a model on a dataset.
    Evaluate(evaluate::EvaluateArgs),
    /// Run jets through a model and write the reconstruction in physical units.
    Reconstruct(reconstruct::ReconstructArgs),
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

/// Parses the command line and runs the subcommand.
pub fn run(cli: Cli) -> crate::Result<()> {
    match cli.command {
        Command::Import(a) => import::run(&a),
        Command::Train(a) => train::run(&a),
        Command::Evaluate(a) => evaluate::run(&a),
        Command::Reconstruct(a) => reconstruct::run(&a),
        Command::Split(a) => split::run(&a),
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
        .map(|t| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| format!("'{t}' is not a whole number"))
        })
        .collect()
}

/// The path beside `model` with a new extension suffix: `m.safetensors` → `m.history.csv`.
pub fn sidecar(model: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let stem = model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    model.with_file_name(format!("{stem}.{suffix}"))
}
