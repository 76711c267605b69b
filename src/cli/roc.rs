//! `hepae roc MODEL --background B.npy --signal S.npy`: ROC curve, AUC and the signal
//! efficiency at background rates 1e-2 … 1e-5 (the LHC anomaly challenge works at 1e-5), with
//! bootstrap errors. `--both --a A.npy --b B.npy` trains (or takes `--model-a/--model-b`) a
//! model on each sample and reports both directions: autoencoders are known to fail one way
//! (simpler jets rebuild better whatever the training sample), so a physicist must see both.
//! The background test jets are the model's validation split when the background file is its
//! training data, so no training jet is scored.

use super::evaluate::select_rows;
use super::train::{schedule_for, TrainOptions};
use crate::anomaly::{check_score, score_dataset, summarize, RocSummary, ScoreKind, ScoreOptions};
use crate::atomic::write_atomic;
use crate::data::npy::Dataset;
use crate::error::{Error, Result};
use crate::model_io::SavedModel;
use crate::models::ae::ModelKind;
use crate::train::{train_autoencoder, Progress};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug, Clone)]
#[command(mut_arg("latent", |a| a.default_value("8").help("With --both, training: latent (bottleneck) width.")))]
#[command(mut_arg("seed", |a| a.help("Seed of the bootstrap, the VAE draws and (with --both) the training.")))]
pub struct RocArgs {
    /// Model trained on background jets (not needed with --both).
    pub model: Option<PathBuf>,
    /// Background (ordinary) jets, f32 NPY; its validation split when it is the model's training file.
    #[arg(long)]
    pub background: Option<PathBuf>,
    /// Signal (anomalous) jets, f32 NPY.
    #[arg(long)]
    pub signal: Option<PathBuf>,
    /// Both directions: a model on each of --a and --b, each sample the other's signal.
    #[arg(long)]
    pub both: bool,
    /// With --both: the first sample (f32 NPY).
    #[arg(long)]
    pub a: Option<PathBuf>,
    /// With --both: the second sample (f32 NPY).
    #[arg(long)]
    pub b: Option<PathBuf>,
    /// With --both: a model already trained on A (else one is trained).
    #[arg(long)]
    pub model_a: Option<PathBuf>,
    /// With --both: a model already trained on B (else one is trained).
    #[arg(long)]
    pub model_b: Option<PathBuf>,
    /// Scores to report (comma-separated): mse, mae, mse-norm, mse-log, per-variable, vae-recon-prob,
    /// vae-elbo, latent-norm.
    #[arg(long, default_value = "mse")]
    pub score: String,
    /// Bootstrap replicas for the errors (10–100 000).
    #[arg(long, default_value_t = 200)]
    #[arg(value_parser = super::values::bootstrap)]
    pub bootstrap: usize,
    /// vae-recon-prob: draws of z per jet.
    #[arg(long, default_value_t = 16)]
    #[arg(value_parser = super::values::at_least_one)]
    pub samples: usize,
    /// With --both, training: model family (ae, vae, sparse-l1, sparse-kl, aae, denoising, pca, ae+pca).
    #[arg(long, default_value = "ae")]
    pub train_model: ModelKind,
    /// With --both, training: the options of `hepae train` (the automatic schedule by default;
    /// --seed also seeds the bootstrap and the VAE draws).
    #[command(flatten)]
    pub train: TrainOptions,
    /// Write every summary (with the thinned curves) as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Draw the ROC curves (log FPR down to 1/N background jets) as PNG and SVG into this directory.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// No training progress (with --both).
    #[arg(long, short)]
    pub quiet: bool,
}

/// One direction's figures for one score.
#[derive(Clone, Debug, Serialize)]
pub struct RocResult {
    pub direction: String,
    pub summary: RocSummary,
}

/// Scores `background` (its model's validation split when it is the training file) and
/// `signal` (all rows) and summarises each requested score.
pub fn roc_for(
    model: &SavedModel,
    model_path: &Path,
    background: &Path,
    signal: &Path,
    scores: &[ScoreKind],
    args: &RocArgs,
    direction: &str,
) -> Result<Vec<RocResult>> {
    let bg = Dataset::open(background)?;
    let sg = Dataset::open(signal)?;
    model.check_data(&bg, model_path)?;
    model.check_data(&sg, model_path)?;
    bg.check_finite()?;
    sg.check_finite()?;
    let (rows, _) = select_rows(model, model_path, &bg, "auto")?;
    let n_bg = rows.as_ref().map_or(bg.rows(), Vec::len);
    if n_bg < MIN_BACKGROUND {
        return Err(Error::data(
            crate::Location::file(background),
            format!("{n_bg} background jets to score; a ROC needs at least {MIN_BACKGROUND}"),
        ));
    }
    if sg.rows() == 0 {
        return Err(Error::data(crate::Location::file(signal), "no signal jets to score"));
    }
    let opt = ScoreOptions { samples: args.samples, seed: args.train.seed };
    let mut out = Vec::new();
    for &k in scores {
        check_score(model, k, model_path)?;
        if k == ScoreKind::PerVariable {
            return Err(Error::config("roc needs one score per jet (not per-variable)"));
        }
        let b = score_dataset(model, &bg, rows.as_deref(), k, &opt)?;
        let s = score_dataset(model, &sg, None, k, &opt)?;
        out.push(RocResult {
            direction: direction.into(),
            summary: summarize(&b, &s, k.name(), args.bootstrap, args.train.seed),
        });
    }
    Ok(out)
}

/// Fewer background jets than this give no meaningful ROC (the smallest rate is 1/N).
const MIN_BACKGROUND: usize = 10;

fn train_on(path: &Path, args: &RocArgs, out: &Path) -> Result<()> {
    let data = Dataset::open(path)?;
    let cfg = args.train.config(args.train_model)?;
    super::values::check_latent("--latent", cfg.latent, cfg.model, &data)?;
    super::values::check_widths("--hidden", &cfg.hidden)?;
    super::values::check_widths("--disc-hidden", &cfg.disc_hidden)?;
    super::values::check_training_memory(cfg.batch.unwrap_or(512), data.rows(), data.cols(), &cfg.hidden, cfg.latent)?;
    if !args.quiet {
        eprintln!("training {} on {}", args.train_model, path.display());
    }
    let say = (!args.quiet && cfg.model != ModelKind::Pca).then(|| schedule_for(&cfg, data.rows()).summary());
    let bar = super::progress::EpochBar::new(args.quiet);
    let outcome = train_autoencoder(&data, &cfg, &mut |p| {
        if let (Progress::Start { .. }, Some(line)) = (&p, &say) {
            eprintln!("{line}");
        }
        bar.update(&p)
    })?;
    bar.finish();
    if let Some(why) = &outcome.stopped {
        eprintln!("warning: {why}");
    }
    if let (false, Some(line)) = (args.quiet, super::train::early_stop_line(&outcome)) {
        eprintln!("{line}");
    }
    SavedModel::from_training(&outcome, &cfg, &data).save(out)
}

/// Formats the results as a table.
pub fn format_results(results: &[RocResult]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<28} {:<15} {:>7} {:>7} {:>16} | {:>15} {:>15} {:>15} {:>15}",
        "direction", "score", "bkg", "sig", "AUC", "TPR@1e-2", "TPR@1e-3", "TPR@1e-4", "TPR@1e-5"
    );
    for r in results {
        let m = &r.summary;
        let wps: Vec<String> = m
            .working_points
            .iter()
            .map(|w| match (w.tpr, w.tpr_err) {
                (Some(t), Some(e)) => format!("{t:.3}±{e:.3}"),
                _ => "unreachable".into(),
            })
            .collect();
        let _ = writeln!(
            s,
            "{:<28} {:<15} {:>7} {:>7} {:>8.4}±{:<7.4} | {:>15} {:>15} {:>15} {:>15}",
            r.direction, m.score, m.background_jets, m.signal_jets, m.auc, m.auc_err, wps[0], wps[1], wps[2], wps[3]
        );
    }
    let notes: Vec<&String> =
        results.iter().flat_map(|r| r.summary.working_points.iter().filter_map(|w| w.note.as_ref())).collect();
    if let Some(n) = notes.first() {
        let _ = writeln!(s, "note: {n}");
    }
    s
}

pub fn run(args: &RocArgs) -> Result<()> {
    crate::outputs::Guard::new()
        .model(args.model.as_deref())
        .data(args.background.as_deref())
        .data(args.signal.as_deref())
        .data(args.a.as_deref())
        .data(args.b.as_deref())
        .model(args.model_a.as_deref())
        .model(args.model_b.as_deref())
        .text("--json", args.json.as_deref())
        .dir("--plot", args.plot.as_deref())
        .check()?;
    let scores: Vec<ScoreKind> =
        args.score.split(',').filter(|t| !t.trim().is_empty()).map(|t| t.trim().parse()).collect::<Result<_>>()?;
    let results = if args.both {
        let (a, b) = match (&args.a, &args.b) {
            (Some(a), Some(b)) => (a.clone(), b.clone()),
            _ => return Err(Error::config("--both needs --a A.npy and --b B.npy")),
        };
        // Before any training: each sample a model is trained on must fit the latent and leave
        // enough validation jets to be the other direction's background.
        for (p, given) in [(&a, &args.model_a), (&b, &args.model_b)] {
            if given.is_none() {
                let data = Dataset::open(p)?;
                super::values::check_latent(
                    "--latent",
                    args.train.latent_for(args.train_model),
                    args.train_model,
                    &data,
                )?;
                let val = crate::train::split_rows(data.rows(), args.train.val_fraction, args.train.seed).val;
                if val.len() < MIN_BACKGROUND {
                    return Err(Error::data(
                        crate::Location::file(p),
                        format!(
                            "{} rows leave {} validation jets as background; a ROC needs at least {MIN_BACKGROUND}",
                            data.rows(),
                            val.len()
                        ),
                    ));
                }
            }
        }
        let name = |p: &Path| p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        // Models trained here live in a scratch directory removed on every exit.
        let scratch = crate::outputs::Scratch::new("roc")?;
        let tmp = scratch.path();
        let ma = match &args.model_a {
            Some(m) => m.clone(),
            None => {
                let p = tmp.join(format!("hepae-roc-a-{}.safetensors", std::process::id()));
                train_on(&a, args, &p)?;
                p
            }
        };
        let mb = match &args.model_b {
            Some(m) => m.clone(),
            None => {
                let p = tmp.join(format!("hepae-roc-b-{}.safetensors", std::process::id()));
                train_on(&b, args, &p)?;
                p
            }
        };
        let mut r = roc_for(
            &SavedModel::load(&ma)?,
            &ma,
            &a,
            &b,
            &scores,
            args,
            &format!("{} in {} (trained on {})", name(&b), name(&a), name(&a)),
        )?;
        r.extend(roc_for(
            &SavedModel::load(&mb)?,
            &mb,
            &b,
            &a,
            &scores,
            args,
            &format!("{} in {} (trained on {})", name(&a), name(&b), name(&b)),
        )?);
        for (given, p) in [(&args.model_a, &ma), (&args.model_b, &mb)] {
            if given.is_none() {
                let _ = std::fs::remove_file(p);
            }
        }
        r
    } else {
        let model_path = args.model.as_ref().ok_or_else(|| Error::config("roc needs MODEL (or --both)"))?;
        let (bg, sg) = match (&args.background, &args.signal) {
            (Some(b), Some(s)) => (b, s),
            _ => return Err(Error::config("roc needs --background B.npy and --signal S.npy")),
        };
        let model = SavedModel::load(model_path)?;
        roc_for(&model, model_path, bg, sg, &scores, args, "signal in background")?
    };
    super::print_out(&format_results(&results))?;
    if let Some(dir) = &args.plot {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let curves: Vec<crate::plot::RocCurve> = results
            .iter()
            .map(|r| crate::plot::RocCurve {
                label: format!("{}: {}", r.direction, r.summary.score),
                points: r.summary.curve.iter().map(|p| (p.fpr, p.tpr)).collect(),
                background: r.summary.background_jets,
                auc: r.summary.auc,
            })
            .collect();
        let f = crate::plot::roc_curve(dir, "roc", "Anomaly detection: ROC", &curves)?;
        eprintln!("wrote {} and {}", f.png.display(), f.svg.display());
    }
    if let Some(j) = &args.json {
        let s = serde_json::to_string_pretty(&results).map_err(|e| Error::config(e.to_string()))?;
        write_atomic(j, s.as_bytes())?;
    }
    Ok(())
}
