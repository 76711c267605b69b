//! `hepae evaluate MODEL DATA [--json F]`: per-variable figures of merit.

use crate::analysis::metrics::{evaluate_with, Evaluation};
use crate::cli::progress::Progress;
use crate::data::npy::Dataset;
use crate::error::{Error, Result};
use crate::formats::model_file::SavedModel;
use crate::io::atomic::write_atomic;
use crate::train::split_rows;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug, Clone)]
pub struct EvaluateArgs {
    /// Trained model (safetensors).
    pub model: PathBuf,
    /// Dataset (f32 NPY) to evaluate on.
    pub data: PathBuf,
    /// Write the full figures (with residual histograms) as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Rows to use: auto (the validation split if DATA is the training file, else all), val, all.
    #[arg(long, default_value = "auto")]
    pub subset: String,
    /// No progress lines.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Picks the rows: the model's own validation split when `data` is its training data, known by
/// content ([`crate::formats::model_file::DataFingerprint::matches`]), not by name. The one split decision
/// of evaluate, roc, threshold, plot and report.
pub fn select_rows(
    model: &SavedModel,
    model_path: &Path,
    data: &Dataset,
    subset: &str,
) -> Result<(Option<Vec<u32>>, String)> {
    let training = model.meta.training.as_ref();
    let same_file = training.is_some_and(|t| t.data.matches(data));
    let val = |t: &crate::formats::model_file::TrainingRecord| {
        split_rows(data.rows(), t.config.val_fraction, t.config.seed).val
    };
    match (subset, training) {
        ("all", _) => Ok((None, "all rows".into())),
        ("auto", Some(t)) if same_file && t.val_rows > 0 => Ok((Some(val(t)), "validation split".into())),
        ("auto", _) => Ok((None, "all rows".into())),
        ("val", Some(t)) if same_file => Ok((Some(val(t)), "validation split".into())),
        ("val", _) => Err(Error::model(
            model_path,
            format!("--subset val needs the model's training data, and {} is not it", data.path().display()),
        )),
        (s, _) => Err(Error::config(format!("--subset '{s}' is not auto, val or all"))),
    }
}

/// Loads, checks and evaluates; shared by `evaluate` and `demo`.
pub fn evaluate_files(model_path: &Path, data_path: &Path, subset: &str) -> Result<Evaluation> {
    evaluate_files_with(model_path, data_path, subset, true)
}

/// [`evaluate_files`] with progress on stderr unless `quiet`.
pub fn evaluate_files_with(model_path: &Path, data_path: &Path, subset: &str, quiet: bool) -> Result<Evaluation> {
    let model = SavedModel::load(model_path)?;
    let data = Dataset::open(data_path)?;
    model.check_data(&data, model_path)?;
    data.check_finite()?;
    let (rows, label) = select_rows(&model, model_path, &data, subset)?;
    let n = rows.as_ref().map_or(data.rows(), Vec::len) as u64;
    let mut progress = Progress::new("evaluate", "jets", n, quiet)?;
    let ev = evaluate_with(&model, &data, rows.as_deref(), &label, &mut |r| progress.set(r))?;
    progress.finish();
    Ok(ev)
}

pub fn run(args: &EvaluateArgs) -> Result<()> {
    crate::io::outputs::Guard::new()
        .model(args.model.as_path())
        .data(args.data.as_path())
        .text("--json", args.json.as_deref())
        .check()?;
    let ev = evaluate_files_with(&args.model, &args.data, &args.subset, args.quiet)?;
    super::print_out(&ev.table())?;
    if let Some(j) = &args.json {
        let s = serde_json::to_string_pretty(&ev).map_err(|e| Error::config(e.to_string()))?;
        write_atomic(j, s.as_bytes())?;
        eprintln!("wrote {}", j.display());
    }
    Ok(())
}
