//! `hepae plot MODEL DATA -o DIR`: PNG and SVG figures of a model on a dataset: per variable
//! input vs reconstruction and the residual; the loss history; the latent space; the
//! correlation of residuals. Uses the model's validation split when DATA is its training file.

use super::evaluate::select_rows;
use super::sidecar;
use crate::analysis::metrics::{absolute_only, is_phi, relative_residuals};
use crate::cli::progress::Progress;
use crate::data::npy::Dataset;
use crate::encoder::{Decoder, Encoder};
use crate::error::{Error, Location, Result};
use crate::formats::model_file::SavedModel;
use crate::plot::{self, axis_label, var_kind, Figure, VarKind};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug, Clone)]
pub struct PlotArgs {
    /// Trained model (safetensors); its loss history is read from MODEL.history.csv.
    pub model: PathBuf,
    /// Dataset (f32 NPY) to plot.
    pub data: PathBuf,
    /// Directory for the figures (created if missing).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Rows to use: auto (the validation split if DATA is the training file, else all), val, all.
    #[arg(long, default_value = "auto")]
    pub subset: String,
    /// At most this many jets are plotted (an evenly strided sample of the chosen rows).
    #[arg(long, default_value_t = 200_000)]
    #[arg(value_parser = super::values::at_least_one)]
    pub max_rows: usize,
    /// At most this many variables get per-variable figures and a row in the correlation
    /// matrix (the first ones; a table with thousands of columns would draw for minutes).
    #[arg(long, default_value_t = DEFAULT_MAX_VARS)]
    pub max_vars: usize,
    /// No progress lines.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Negative samples an NAE's figures draw from its chains.
pub const NAE_SAMPLES: usize = 2000;

/// Variables drawn per run unless `--max-vars` says otherwise.
pub const DEFAULT_MAX_VARS: usize = 64;

/// What to draw and how loudly.
#[derive(Clone, Debug)]
pub struct PlotOptions {
    /// auto, val or all (see [`PlotArgs::subset`]).
    pub subset: String,
    pub max_rows: usize,
    pub max_vars: usize,
    pub quiet: bool,
}

impl PlotOptions {
    /// `subset` and `max_rows` with the default variable cap and no progress output.
    pub fn new(subset: &str, max_rows: usize) -> Self {
        PlotOptions { subset: subset.to_string(), max_rows, max_vars: DEFAULT_MAX_VARS, quiet: true }
    }
}

/// What `plot_files` drew.
#[derive(Clone, Debug)]
pub struct PlotSet {
    pub figures: Vec<Figure>,
    /// "validation split" or "all rows".
    pub subset: String,
    /// Jets in the chosen subset, and how many of them were plotted.
    pub rows_selected: usize,
    pub rows_plotted: usize,
    /// Figures that could not be drawn and why (e.g. no history file).
    pub notes: Vec<String>,
}

/// A file-name-safe version of a column name.
fn safe(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

/// Momentum unit of the model's data: MeV when it was trained with a MeV→GeV factor.
fn momentum_unit(model: &SavedModel) -> &'static str {
    match &model.meta.training {
        Some(t) if t.config.momentum_to_gev < 0.1 => "MeV",
        _ => "GeV",
    }
}

/// Loads, checks, runs the model and draws every figure into `dir` (quietly, at most
/// [`DEFAULT_MAX_VARS`] variables).
pub fn plot_files(model_path: &Path, data_path: &Path, dir: &Path, subset: &str, max_rows: usize) -> Result<PlotSet> {
    plot_files_with(model_path, data_path, dir, &PlotOptions::new(subset, max_rows))
}

/// [`plot_files`] with every option.
pub fn plot_files_with(model_path: &Path, data_path: &Path, dir: &Path, opt: &PlotOptions) -> Result<PlotSet> {
    let (subset, max_rows) = (opt.subset.as_str(), opt.max_rows);
    if max_rows == 0 {
        return Err(Error::config("--max-rows must be at least 1"));
    }
    if opt.max_vars == 0 {
        return Err(Error::config("--max-vars must be at least 1"));
    }
    let model = SavedModel::load(model_path)?;
    let data = Dataset::open(data_path)?;
    model.check_data(&data, model_path)?;
    data.check_finite()?;
    let (rows, label) = select_rows(&model, model_path, &data, subset)?;
    let selected: Vec<u32> = rows.unwrap_or_else(|| (0..data.rows() as u32).collect());
    if selected.is_empty() {
        return Err(Error::data(Location::file(data.path()), "no rows to plot"));
    }
    let stride = selected.len().div_ceil(max_rows.max(1)).max(1);
    let picked: Vec<u32> = selected.iter().step_by(stride).copied().collect();
    let n = picked.len();
    let d = data.cols();
    let columns = model.meta.columns.clone();
    if let Some(shape @ crate::engine::tensor::Shape::Image { .. }) = crate::data::npy::shape_of_columns(&columns) {
        return super::plot_images::plot_images(
            &model,
            model_path,
            &data,
            shape,
            &picked,
            selected.len(),
            label,
            dir,
            opt,
        );
    }

    let batch = 4096usize;
    let mut enc = Encoder::new(&model, batch);
    let mut dec = Decoder::new(&model, batch);
    let k = enc.latent_dim();
    let mut x = vec![0f32; batch * d];
    let mut z = vec![0f32; batch * k];
    let mut y = vec![0f32; batch * d];
    let mut input: Vec<Vec<f64>> = vec![Vec::with_capacity(n); d];
    let mut output: Vec<Vec<f64>> = vec![Vec::with_capacity(n); d];
    let mut latent: Vec<f32> = Vec::with_capacity(n * k);
    let mut progress = Progress::new("plot (model)", "jets", n as u64, opt.quiet)?;
    for chunk in picked.chunks(batch) {
        let m = chunk.len();
        data.gather(chunk, &mut x[..m * d]);
        enc.encode(&x[..m * d], m, &mut z[..m * k]).map_err(|b| {
            Error::data(
                Location::file(data.path()).row(chunk[b.row] as u64 + 1).column(columns[b.col].clone()),
                "value is outside the domain of the model's normaliser",
            )
        })?;
        dec.decode(&z[..m * k], m, &mut y[..m * d]);
        latent.extend_from_slice(&z[..m * k]);
        for r in 0..m {
            for c in 0..d {
                input[c].push(x[r * d + c] as f64);
                output[c].push(y[r * d + c] as f64);
            }
        }
        progress.inc(m as u64);
    }
    progress.finish();

    let unit = momentum_unit(&model);
    let mut figures = Vec::new();
    let mut notes = Vec::new();
    let shown = d.min(opt.max_vars);
    if shown < d {
        notes.push(format!("{d} variables: figures for the first {shown} only (--max-vars {d} draws them all)"));
    }
    let pi = std::f64::consts::PI;
    let mut progress = Progress::new("plot", "figures", (2 * shown + 3) as u64, opt.quiet)?;
    // Residuals out − in per jet (Δφ wrapped), row-major for the correlation matrix.
    let mut resid = vec![0f64; n * shown];
    for (c, name) in columns.iter().enumerate().take(shown) {
        let stem = format!("{c:02}_{}", safe(name));
        let xl = axis_label(name, unit);
        figures.push(plot::input_vs_output(dir, &format!("recon_{stem}"), name, &xl, &input[c], &output[c])?);
        let abs: Vec<f64> = input[c]
            .iter()
            .zip(&output[c])
            .map(|(&i, &o)| {
                let dlt = o - i;
                if is_phi(name) {
                    (dlt + pi).rem_euclid(2.0 * pi) - pi
                } else {
                    dlt
                }
            })
            .collect();
        for (r, v) in abs.iter().enumerate() {
            resid[r * shown + c] = *v;
        }
        // The same rule as `evaluate`: η and φ absolute only; others relative over |in| > floor.
        let (rel, method) = relative_residuals(&input[c], &output[c]);
        let kind = var_kind(name);
        let use_abs = absolute_only(name) || matches!(kind, VarKind::Eta | VarKind::Phi) || rel.is_empty();
        let fig = if use_abs {
            let sym = match kind {
                VarKind::Eta => format!("Δ{name}"),
                VarKind::Phi => format!("Δ{name} (wrapped into (−π, π])"),
                _ => format!("Δ{name}"),
            };
            let unit_s = match kind {
                VarKind::Phi => " [rad]".to_string(),
                VarKind::Momentum => format!(" [{unit}]"),
                _ => String::new(),
            };
            plot::residual_hist(
                dir,
                &format!("resid_{stem}"),
                &format!("{name}: absolute residual, {n} jets"),
                &format!("{sym} = out − in{unit_s}"),
                &abs,
            )?
        } else {
            let title = if rel.len() < n {
                let floor = match kind {
                    VarKind::Momentum => format!("{} {unit}", plot::fmt_num(method.floor)),
                    _ => plot::fmt_num(method.floor),
                };
                format!(
                    "{name}: relative residual over {} of {n} jets ({:.0} % with |{name}| > {floor})",
                    rel.len(),
                    100.0 * method.fraction
                )
            } else {
                format!("{name}: relative residual, {} jets", rel.len())
            };
            plot::residual_hist(
                dir,
                &format!("resid_{stem}"),
                &title,
                &format!("({name}_out − {name}_in) / {name}_in"),
                &rel,
            )?
        };
        figures.push(fig);
        progress.inc(2);
    }

    // NAE: samples of the model (its negative chains) beside the data, per variable.
    if model.meta.kind == crate::models::ModelKind::Nae {
        let nae_opt = model.meta.training.as_ref().map(|t| t.config.nae.clone()).unwrap_or_default();
        let m = n.min(NAE_SAMPLES);
        let mut neg = crate::models::nae::sample_negatives(&model.ae, &nae_opt, m, 1);
        model.meta.normalizer.denormalize_rows(&mut neg);
        for (c, name) in columns.iter().enumerate().take(shown) {
            let col: Vec<f64> = neg.iter().skip(c).step_by(d).map(|&v| v as f64).collect();
            let stem = format!("negatives_{c:02}_{}", safe(name));
            figures.push(plot::marginals(dir, &stem, name, &axis_label(name, unit), &input[c], &col)?);
        }
        notes.push(format!(
            "NAE: negatives_* figures compare {m} samples of the model's Langevin chains (\"generated\") with the data"
        ));
    }

    loss_figure(model_path, dir, &mut figures, &mut notes)?;
    progress.inc(1);
    figures.push(plot::latent_pairs(dir, "latent", &latent, k, 6)?);
    progress.inc(1);
    let corr = plot::correlation(&resid, shown);
    figures.push(plot::correlation_matrix(
        dir,
        "residual_correlation",
        &format!("Correlation of residuals out − in ({n} jets, {label})"),
        &columns[..shown],
        &corr,
    )?);
    progress.inc(1);
    progress.finish();
    Ok(PlotSet { figures, subset: label, rows_selected: selected.len(), rows_plotted: n, notes })
}

/// The loss curves from MODEL.history.csv, or a note saying why there are none.
pub fn loss_figure(model_path: &Path, dir: &Path, figures: &mut Vec<Figure>, notes: &mut Vec<String>) -> Result<()> {
    let hist_path = sidecar(model_path, "history.csv");
    match std::fs::read_to_string(&hist_path) {
        Ok(text) => {
            let h = plot::parse_history(&hist_path, &text)?;
            if h.is_empty() {
                notes.push(format!("{} has no epochs", hist_path.display()));
            } else {
                figures.push(plot::loss_curves(dir, "loss", &h)?);
            }
            // NAE: positive and negative energies per epoch.
            let e = plot::parse_energies(&hist_path, &text)?;
            if !e.is_empty() {
                figures.push(plot::energy_curves(dir, "nae_energy", &e)?);
            }
        }
        Err(e) => notes.push(format!("no loss curves: cannot read {}: {e}", hist_path.display())),
    }
    Ok(())
}

pub fn run(args: &PlotArgs) -> Result<()> {
    crate::io::outputs::Guard::new()
        .model(args.model.as_path())
        .data(args.data.as_path())
        .dir("-o", args.output.as_path())
        .check()?;
    let opt = PlotOptions {
        subset: args.subset.clone(),
        max_rows: args.max_rows,
        max_vars: args.max_vars,
        quiet: args.quiet,
    };
    let set = plot_files_with(&args.model, &args.data, &args.output, &opt)?;
    for note in &set.notes {
        eprintln!("note: {note}");
    }
    eprintln!(
        "wrote {} figures (PNG + SVG) to {} ({}, {} of {} jets)",
        set.figures.len(),
        args.output.display(),
        set.subset,
        set.rows_plotted,
        set.rows_selected
    );
    Ok(())
}
