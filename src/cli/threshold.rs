//! `hepae threshold MODEL B.npy --fpr 1e-3 [--score …]`: the score cut that lets through at
//! most the target fraction of background jets, stored in the model (rewritten atomically)
//! so that a trigger can apply it and `hepae score` reports pass/fail. Jets with score ≥ the
//! cut are flagged as anomalous (they pass the trigger: `pass` = 1 in `hepae score`).
//!
//! When B is the model's training data (known by content), the cut is measured on its held-out
//! split, as `roc` does ([`select_rows`]): training jets rebuild better than unseen ones, so a
//! cut on them flags more unseen background than the target. The model's identity
//! ([`SavedModel::identity_sha256`]), which archives depend on, is unchanged.

use super::evaluate::select_rows;
use crate::analysis::anomaly::{check_score, score_dataset, tpr_at_fpr, ScoreKind, ScoreOptions};
use crate::data::npy::Dataset;
use crate::error::{Error, Result};
use crate::formats::model_file::{SavedModel, ThresholdMeta};
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
    crate::io::outputs::Guard::new().data(args.background.as_path()).file("MODEL", args.model.as_path()).check()?;
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
    let (rows, subset) = select_rows(&model, &args.model, &data, "auto")?;
    let opt = ScoreOptions { samples: args.samples, seed: args.seed };
    let scores = score_dataset(&model, &data, rows.as_deref(), args.score, &opt)?;
    let (value, _) = tpr_at_fpr(&scores, &[], args.fpr).ok_or_else(|| {
        Error::data(
            crate::Location::file(&args.background),
            format!(
                "{} background jets ({subset}) cannot resolve a rate of {:e} (needs ≥ {})",
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
        background_rows: Some(subset.clone()),
    });
    model.save(&args.model)?;
    eprintln!(
        "{}: jets with {} score ≥ {value:.6e} are flagged as anomalous (pass the trigger; pass = 1 in `hepae score`); \
         background rate {achieved:.3e} on {} jets ({subset} of {}), target {:e}; stored in the model",
        args.model.display(),
        args.score.name(),
        scores.len(),
        args.background.display(),
        args.fpr
    );
    Ok(())
}
