//! `hepae threshold MODEL B.npy --fpr 1e-3 [--score …]`: the score cut that lets through at
//! most the target fraction of background jets, stored in the model (rewritten atomically)
//! so that a trigger can apply it and `hepae score` reports pass/fail.

use crate::anomaly::{check_score, score_dataset, tpr_at_fpr, ScoreKind, ScoreOptions};
use crate::data::npy::Dataset;
use crate::error::{Error, Result};
use crate::model_io::{SavedModel, ThresholdMeta};
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct ThresholdArgs {
    /// Trained model (safetensors); the threshold is stored in it.
    pub model: PathBuf,
    /// Background (ordinary) jets.
    pub background: PathBuf,
    /// Target background rate.
    #[arg(long)]
    #[arg(value_parser = super::values::open_fraction)]
    pub fpr: f64,
    /// Score to cut on: mse, mae, vae-recon-prob, vae-elbo or latent-norm.
    #[arg(long, default_value = "mse")]
    pub score: ScoreKind,
    /// vae-recon-prob: draws of z per jet.
    #[arg(long, default_value_t = 16)]
    #[arg(value_parser = super::values::at_least_one)]
    pub samples: usize,
    /// Random seed of the VAE draws.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub fn run(args: &ThresholdArgs) -> Result<()> {
    // MODEL is rewritten in place on purpose; it must not be the background file.
    crate::outputs::Guard::new().data(args.background.as_path()).file("MODEL", args.model.as_path()).check()?;
    if !(args.fpr > 0.0 && args.fpr < 1.0) {
        return Err(Error::config(format!("--fpr {} must be in (0, 1)", args.fpr)));
    }
    let mut model = SavedModel::load(&args.model)?;
    let data = Dataset::open(&args.background)?;
    model.check_data(&data, &args.model)?;
    data.check_finite()?;
    check_score(&model, args.score, &args.model)?;
    if args.score == ScoreKind::PerVariable {
        return Err(Error::config("a threshold needs a single score per jet (not per-variable)"));
    }
    let scores =
        score_dataset(&model, &data, None, args.score, &ScoreOptions { samples: args.samples, seed: args.seed })?;
    let (value, _) = tpr_at_fpr(&scores, &[], args.fpr).ok_or_else(|| {
        Error::data(
            crate::Location::file(&args.background),
            format!(
                "{} background jets cannot resolve a rate of {:e} (needs ≥ {})",
                scores.len(),
                args.fpr,
                (1.0 / args.fpr).ceil() as u64
            ),
        )
    })?;
    let passing = scores.iter().filter(|&&s| s as f64 >= value).count();
    let achieved = passing as f64 / scores.len() as f64;
    model.meta.threshold = Some(ThresholdMeta {
        score: args.score.name().into(),
        value,
        fpr: args.fpr,
        achieved_fpr: achieved,
        background_jets: scores.len(),
        background_file: args.background.display().to_string(),
    });
    model.save(&args.model)?;
    eprintln!(
        "{}: threshold {value:.6e} on {} (background rate {achieved:.3e} on {} jets, target {:e}); stored in the model",
        args.model.display(),
        args.score.name(),
        scores.len(),
        args.fpr
    );
    Ok(())
}
