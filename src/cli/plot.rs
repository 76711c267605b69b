//! `hepae plot MODEL DATA -o DIR`: PNG and SVG figures of a model on a dataset: per variable
//! input vs reconstruction and the residual; the loss history; the latent space; the
//! correlation of residuals. Uses the model's validation split when DATA is its training file.

use super::evaluate::select_rows;
use super::sidecar;
use crate::data::npy::Dataset;
use crate::encoder::{Decoder, Encoder};
use crate::error::{Error, Location, Result};
use crate::metrics::is_phi;
use crate::model_io::SavedModel;
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

/// Loads, checks, runs the model and draws every figure into `dir`.
pub fn plot_files(model_path: &Path, data_path: &Path, dir: &Path, subset: &str, max_rows: usize) -> Result<PlotSet> {
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
    }

    let unit = momentum_unit(&model);
    let mut figures = Vec::new();
    let mut notes = Vec::new();
    let pi = std::f64::consts::PI;
    // Residuals out − in per jet (Δφ wrapped), row-major for the correlation matrix.
    let mut resid = vec![0f64; n * d];
    for (c, name) in columns.iter().enumerate() {
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
            resid[r * d + c] = *v;
        }
        let rel: Vec<f64> = input[c].iter().zip(&abs).filter(|(&i, _)| i != 0.0).map(|(&i, &a)| a / i).collect();
        let kind = var_kind(name);
        let use_abs = matches!(kind, VarKind::Eta | VarKind::Phi) || rel.is_empty();
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
            let skipped = n - rel.len();
            let title = if skipped > 0 {
                format!("{name}: relative residual, {} jets ({skipped} with input 0 left out)", rel.len())
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
    }

    let hist_path = sidecar(model_path, "history.csv");
    match std::fs::read_to_string(&hist_path) {
        Ok(text) => {
            let h = plot::parse_history(&hist_path, &text)?;
            if h.is_empty() {
                notes.push(format!("{} has no epochs", hist_path.display()));
            } else {
                figures.push(plot::loss_curves(dir, "loss", &h)?);
            }
        }
        Err(e) => notes.push(format!("no loss curves: cannot read {}: {e}", hist_path.display())),
    }
    figures.push(plot::latent_pairs(dir, "latent", &latent, k, 6)?);
    let corr = plot::correlation(&resid, d);
    figures.push(plot::correlation_matrix(
        dir,
        "residual_correlation",
        &format!("Correlation of residuals out − in ({n} jets, {label})"),
        &columns,
        &corr,
    )?);
    Ok(PlotSet { figures, subset: label, rows_selected: selected.len(), rows_plotted: n, notes })
}

pub fn run(args: &PlotArgs) -> Result<()> {
    crate::outputs::Guard::new()
        .model(args.model.as_path())
        .data(args.data.as_path())
        .dir("-o", args.output.as_path())
        .check()?;
    let set = plot_files(&args.model, &args.data, &args.output, &args.subset, args.max_rows)?;
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
