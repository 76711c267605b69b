//! `hepae report MODEL DATA -o DIR/index.html`: one static HTML page (no JavaScript, no
//! network) with the `evaluate` table, the model's training configuration and the figures of
//! `hepae plot`, written to `DIR/figures/` and referenced by relative path.

use super::plot::{plot_files_with, PlotOptions};
use crate::analysis::metrics::evaluate;
use crate::error::{Error, Result};
use crate::formats::model_file::SavedModel;
use crate::io::atomic::write_atomic;
use crate::plot::report::{flatten_json, html, ReportInput};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    /// Trained model (safetensors).
    pub model: PathBuf,
    /// Dataset (f32 NPY) to evaluate and plot.
    pub data: PathBuf,
    /// The HTML file to write; figures go to `figures/` beside it.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Rows to use: auto (the validation split if DATA is the training file, else all), val, all.
    #[arg(long, default_value = "auto")]
    pub subset: String,
    /// At most this many jets are plotted (the table uses every chosen row).
    #[arg(long, default_value_t = 200_000)]
    #[arg(value_parser = super::values::at_least_one)]
    pub max_rows: usize,
    /// No progress lines.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Model facts and training configuration as table rows.
fn model_info(model: &SavedModel) -> Vec<(String, String)> {
    let m = &model.meta;
    let mut rows = vec![
        ("kind".to_string(), m.kind.name().to_string()),
        ("layers".to_string(), m.layer_dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("-")),
        ("activation".to_string(), m.activation.clone()),
        ("columns".to_string(), format!("{}: {}", m.columns.len(), m.columns.join(", "))),
        (
            "normaliser".to_string(),
            serde_json::to_value(m.normalizer.kind)
                .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
                .unwrap_or_default(),
        ),
    ];
    match &m.training {
        Some(t) => match serde_json::to_value(t) {
            Ok(v) => flatten_json("training", &v, &mut rows),
            Err(e) => rows.push(("training".into(), format!("unreadable: {e}"))),
        },
        None => rows.push(("training".into(), "no record in the model file".into())),
    }
    rows
}

/// Writes the figures and the page; returns the page's path.
pub fn write_report(model_path: &Path, data_path: &Path, out: &Path, subset: &str, max_rows: usize) -> Result<PathBuf> {
    write_report_with(model_path, data_path, out, &PlotOptions::new(subset, max_rows))
}

/// [`write_report`] with every figure option (and progress unless `opt.quiet`).
pub fn write_report_with(model_path: &Path, data_path: &Path, out: &Path, opt: &PlotOptions) -> Result<PathBuf> {
    let subset = opt.subset.as_str();
    let base = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&base).map_err(|e| Error::io(&base, e))?;
    let set = plot_files_with(model_path, data_path, &base.join("figures"), opt)?;
    let model = SavedModel::load(model_path)?;
    let data = crate::data::npy::Dataset::open(data_path)?;
    let (rows, label) = super::evaluate::select_rows(&model, model_path, &data, subset)?;
    let ev = evaluate(&model, &data, rows.as_deref(), &label)?;
    let mut notes = set.notes.clone();
    if set.rows_plotted < set.rows_selected {
        notes.push(format!(
            "Figures show an evenly strided sample of {} of the {} jets; the table uses all of them.",
            set.rows_plotted, set.rows_selected
        ));
    }
    let info = model_info(&model);
    let page = html(&ReportInput {
        title: &format!("hepae report: {}", model_path.file_name().unwrap_or_default().to_string_lossy()),
        model_path: &model_path.display().to_string(),
        evaluation: &ev,
        model_info: &info,
        figures: &set.figures,
        base: &base,
        notes: &notes,
    });
    write_atomic(out, page.as_bytes())?;
    Ok(out.to_path_buf())
}

pub fn run(args: &ReportArgs) -> Result<()> {
    let figures = match args.output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join("figures"),
        _ => PathBuf::from("figures"),
    };
    crate::io::outputs::Guard::new()
        .model(args.model.as_path())
        .data(args.data.as_path())
        .file_in_new_dir("-o", args.output.as_path())
        .dir("-o (its figures)", figures.as_path())
        .check()?;
    let opt = PlotOptions { quiet: args.quiet, ..PlotOptions::new(&args.subset, args.max_rows) };
    let p = write_report_with(&args.model, &args.data, &args.output, &opt)?;
    eprintln!("wrote {}", p.display());
    Ok(())
}
