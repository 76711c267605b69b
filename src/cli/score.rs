//! `hepae score MODEL DATA -o SCORES.npy [--score …]`: one anomaly score per jet (larger =
//! more anomalous); with a threshold stored in the model (`hepae threshold`), a second column
//! holds pass (1) / fail (0) against it.

use crate::analysis::anomaly::{check_score, score_dataset_with, score_width, ScoreKind, ScoreOptions};
use crate::cli::progress::Progress;
use crate::cli::reconstruct::RowSink;
use crate::data::npy::Dataset;
use crate::error::Result;
use crate::formats::model_file::SavedModel;
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct ScoreArgs {
    /// Trained model (safetensors).
    pub model: PathBuf,
    /// Dataset (f32 NPY) to score.
    pub data: PathBuf,
    /// Output: .npy or .csv.
    #[arg(short, long)]
    pub output: PathBuf,
    /// mse, mae, mse-norm (MSE / Σx², images), mse-log (MSE of log-pixels), per-variable,
    /// vae-recon-prob, vae-elbo or latent-norm (default: the model's
    /// threshold score if it has one, else mse).
    #[arg(long)]
    pub score: Option<ScoreKind>,
    /// vae-recon-prob: draws of z per jet.
    #[arg(long, default_value_t = 16)]
    #[arg(value_parser = super::values::at_least_one)]
    pub samples: usize,
    /// Random seed of the VAE draws.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// No progress lines.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: &ScoreArgs) -> Result<()> {
    crate::io::outputs::Guard::new()
        .model(args.model.as_path())
        .data(args.data.as_path())
        .rows("-o", args.output.as_path())
        .check()?;
    let model = SavedModel::load(&args.model)?;
    let data = Dataset::open(&args.data)?;
    model.check_data(&data, &args.model)?;
    data.check_finite()?;
    let kind = args
        .score
        .unwrap_or_else(|| model.meta.threshold.as_ref().and_then(|t| t.score.parse().ok()).unwrap_or_default());
    check_score(&model, kind, &args.model)?;
    // Refuses non-finite scores (naming row, column and count) before anything is written.
    let opt = ScoreOptions { samples: args.samples, seed: args.seed };
    let mut progress = Progress::new("score", "jets", data.rows() as u64, args.quiet)?;
    let scores = score_dataset_with(&model, &data, None, kind, &opt, &mut |r| progress.set(r))?;
    progress.finish();
    let width = score_width(kind, data.cols());
    let thr = model.meta.threshold.as_ref().filter(|t| t.score == kind.name() && width == 1);
    let mut columns: Vec<String> = if width == 1 {
        vec![format!("score_{}", kind.name().replace('-', "_"))]
    } else {
        data.columns().iter().map(|c| format!("sqerr_{c}")).collect()
    };
    let mut rows = scores.clone();
    if let Some(t) = thr {
        columns.push("pass".into());
        rows = scores.iter().flat_map(|&s| [s, if (s as f64) >= t.value { 1.0 } else { 0.0 }]).collect();
    }
    let mut sink = RowSink::create(&args.output, &columns)?;
    sink.write_rows(&rows)?;
    sink.finish()?;
    let flagged = thr.map(|t| scores.iter().filter(|&&s| s as f64 >= t.value).count());
    eprintln!(
        "wrote {} ({} jets, score {}{})",
        args.output.display(),
        data.rows(),
        kind.name(),
        flagged.map_or(String::new(), |f| format!("; {f} pass the stored threshold"))
    );
    Ok(())
}
