//! `hepae compare DATA --configs ae:minmax:15,pca:minmax:15,…`: trains each (model,
//! normaliser, latent) configuration on one deterministic split and prints the table a
//! physicist picks a model from (the seed report's Tables 6.1–6.3): latent dimension,
//! configuration, MSE, RMSE and mean |residual| on the validation split, the robust width
//! (central-68 % half-width) of the relative residual of pT and mass and of the absolute
//! residual Δη, Δφ, the epochs run and the training time. Configurations run one after
//! another, each on all threads; a line per configuration on stderr says how it went (and a
//! bar shows its epochs on a terminal).

use super::progress::EpochBar;
use super::train::{schedule_for, TrainOptions};
use crate::atomic::write_atomic;
use crate::data::normalize::{momentum_component, NormKind};
use crate::data::npy::Dataset;
use crate::error::{Error, Result};
use crate::metrics::evaluate;
use crate::model_io::SavedModel;
use crate::models::ae::ModelKind;
use crate::train::{split_rows, train_autoencoder, Progress, TrainConfig};
use serde::Serialize;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug, Clone)]
pub struct CompareArgs {
    /// Dataset (f32 NPY); every configuration trains and validates on the same split.
    pub data: PathBuf,
    /// Comma-separated `model[:norm[:latent]]` entries; norm and latent default to --norm and --latent.
    #[arg(long, default_value = "ae,vae,sparse-l1,sparse-kl,aae,denoising,pca,ae+pca")]
    pub configs: String,
    #[command(flatten)]
    pub train: TrainOptions,
    /// Write the table as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the table as CSV here.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Keep each trained model in this directory.
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// No progress lines or bar (the table is still printed).
    #[arg(long, short)]
    pub quiet: bool,
}

/// One row of the comparison table.
#[derive(Clone, Debug, Serialize)]
pub struct CompareRow {
    pub latent: usize,
    pub model: String,
    pub norm: String,
    pub mse: f64,
    pub rmse: f64,
    pub mean_abs_residual: f64,
    /// Central-68 % half-width of (out − in)/in for pt and mass (None if absent).
    pub rel_width_pt: Option<f64>,
    /// Central-68 % half-width of out − in for η and φ (absolute: they sit around zero).
    pub abs_width_eta: Option<f64>,
    pub abs_width_phi: Option<f64>,
    pub rel_width_mass: Option<f64>,
    pub train_seconds: f64,
    /// Epochs actually run (an automatic schedule stops early).
    pub epochs: usize,
    pub note: Option<String>,
}

fn parse_config(entry: &str, args: &CompareArgs) -> Result<(ModelKind, NormKind, usize)> {
    let mut parts = entry.split(':');
    let kind: ModelKind = parts.next().unwrap_or("").trim().parse()?;
    let norm = match parts.next() {
        Some(n) if !n.is_empty() => n.parse()?,
        _ => args.train.norm,
    };
    let latent = match parts.next() {
        Some(l) => l
            .trim()
            .parse()
            .map_err(|_| Error::config(format!("--configs: latent '{l}' in '{entry}' is not a number")))?,
        None => args.train.latent_for(kind),
    };
    if parts.next().is_some() {
        return Err(Error::config(format!("--configs: '{entry}' has more than model:norm:latent")));
    }
    Ok((kind, norm, latent))
}

pub fn run(args: &CompareArgs) -> Result<()> {
    let data = Dataset::open(&args.data)?;
    let configs: Vec<_> = args
        .configs
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|e| parse_config(e.trim(), args))
        .collect::<Result<_>>()?;
    if configs.is_empty() {
        return Err(Error::config("--configs: no configuration given (e.g. --configs ae,pca)"));
    }
    let model_files: Vec<PathBuf> = match &args.models {
        Some(dir) => configs
            .iter()
            .map(|(kind, norm, latent)| {
                dir.join(format!("{}_{:?}_{latent}.safetensors", kind.name().replace('+', "_"), norm).to_lowercase())
            })
            .collect(),
        None => Vec::new(),
    };
    let mut guard = crate::outputs::Guard::new()
        .data(args.data.as_path())
        .text("--json", args.json.as_deref())
        .text("--csv", args.csv.as_deref())
        .dir("--models", args.models.as_deref());
    for f in &model_files {
        guard = guard.file_in_new_dir("--models", f.as_path());
    }
    guard.check()?;
    for (kind, _, latent) in &configs {
        super::values::check_latent(&format!("--configs {kind}: latent"), *latent, *kind, &data)?;
    }
    let base = args.train.config(ModelKind::Ae)?;
    super::values::check_widths("--hidden", &base.hidden)?;
    for (_, _, latent) in &configs {
        super::values::check_training_memory(
            base.batch.unwrap_or(512),
            data.rows(),
            data.cols(),
            &base.hidden,
            *latent,
        )?;
    }
    let split = split_rows(data.rows(), base.val_fraction, base.seed);
    let (rows, subset) =
        if split.val.is_empty() { (None, "all rows") } else { (Some(split.val.as_slice()), "validation split") };
    if let Some(dir) = &args.models {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    // Said once, when the first trained (not fitted) configuration starts.
    let mut say = Some(schedule_for(&base, data.rows()).summary());
    let mut table = Vec::new();
    for (i, (kind, norm, latent)) in configs.iter().enumerate() {
        let name = format!("{}/{} {kind}:{}:{latent}", i + 1, configs.len(), format!("{norm:?}").to_lowercase());
        if !args.quiet {
            eprintln!("compare: {name} …");
        }
        let cfg = TrainConfig { norm: *norm, latent: *latent, ..args.train.config(*kind)? };
        // The epoch bar on a terminal only: in a log the line per configuration says enough.
        let bar = (!args.quiet && std::io::stderr().is_terminal()).then(|| EpochBar::new(false));
        let t0 = Instant::now();
        let out = train_autoencoder(&data, &cfg, &mut |p| {
            if matches!(p, Progress::Start { .. }) && *kind != ModelKind::Pca && !args.quiet {
                if let Some(line) = say.take() {
                    eprintln!("{line}");
                }
            }
            if let Some(bar) = &bar {
                bar.update(&p);
            }
        })?;
        if let Some(bar) = &bar {
            bar.finish();
        }
        let seconds = t0.elapsed().as_secs_f64();
        let model = SavedModel::from_training(&out, &cfg, &data);
        if let Some(dir) = &args.models {
            model.save(
                &dir.join(format!("{}_{:?}_{latent}.safetensors", kind.name().replace('+', "_"), norm).to_lowercase()),
            )?;
        }
        let ev = evaluate(&model, &data, rows, subset)?;
        let var = |which| ev.variables.iter().find(|v| momentum_component(&v.name) == Some(which));
        let width = |which| var(which).and_then(|v| v.relative.as_ref().map(|r| r.half_width_68));
        let abs_width = |which| var(which).and_then(|v| v.absolute.as_ref().map(|r| r.half_width_68));
        if !args.quiet {
            let how = match (*kind, out.early_stopped, out.best_epoch) {
                (ModelKind::Pca, ..) => "fitted".to_string(),
                (_, Some(e), Some(b)) => format!("{e} epochs (stopped early, best {b})"),
                _ => format!("{} epochs", out.history.len()),
            };
            eprintln!(
                "compare: {name} {subset} MSE {:.3e}, {how} in {}{}",
                ev.mse,
                super::progress::fmt_duration(seconds),
                out.stopped.as_ref().map_or(String::new(), |n| format!(" ({n})"))
            );
        }
        use crate::data::normalize::Momentum;
        table.push(CompareRow {
            latent: *latent,
            model: kind.name().into(),
            norm: format!("{norm:?}").to_lowercase(),
            mse: ev.mse,
            rmse: ev.rmse,
            mean_abs_residual: ev.mean_abs_residual,
            rel_width_pt: width(Momentum::Pt),
            abs_width_eta: abs_width(Momentum::Eta),
            abs_width_phi: abs_width(Momentum::Phi),
            rel_width_mass: width(Momentum::Mass),
            train_seconds: seconds,
            epochs: out.history.len(),
            note: out.stopped.clone(),
        });
    }
    super::print_out(&format_table(&table, &data, subset))?;
    if let Some(p) = &args.json {
        let s = serde_json::to_string_pretty(&table).map_err(|e| Error::config(e.to_string()))?;
        write_atomic(p, s.as_bytes())?;
    }
    if let Some(p) = &args.csv {
        let mut s = String::from("latent,model,norm,mse,rmse,mean_abs_residual,rel68_pt,abs68_eta,abs68_phi,rel68_mass,train_seconds,epochs\n");
        let o = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6e}"));
        for r in &table {
            s.push_str(&format!(
                "{},{},{},{:.6e},{:.6e},{:.6e},{},{},{},{},{:.3},{}\n",
                r.latent,
                r.model,
                r.norm,
                r.mse,
                r.rmse,
                r.mean_abs_residual,
                o(r.rel_width_pt),
                o(r.abs_width_eta),
                o(r.abs_width_phi),
                o(r.rel_width_mass),
                r.train_seconds,
                r.epochs
            ));
        }
        write_atomic(p, s.as_bytes())?;
    }
    Ok(())
}

/// The table as text.
pub fn format_table(table: &[CompareRow], data: &Dataset, subset: &str) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "{} ({} variables), {subset}; MSE/RMSE/mean|res| in each normaliser's space; pT/m 68 % = central-68 % half-width of (out−in)/in, Δη/Δφ 68 % = that of out−in", data.path().display(), data.cols());
    let _ = writeln!(
        s,
        "{:>4}  {:<18} {:>10} {:>10} {:>10} | {:>9} {:>9} {:>9} {:>9} | {:>6} {:>8}",
        "dim",
        "configuration",
        "MSE",
        "RMSE",
        "mean|res|",
        "pT 68 %",
        "Δη 68 %",
        "Δφ 68 %",
        "m 68 %",
        "epochs",
        "train s"
    );
    let o = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3e}"));
    for r in table {
        let _ = writeln!(
            s,
            "{:>4}  {:<18} {:>10.3e} {:>10.3e} {:>10.3e} | {:>9} {:>9} {:>9} {:>9} | {:>6} {:>8.1}{}",
            r.latent,
            format!("{} {}", r.model, r.norm),
            r.mse,
            r.rmse,
            r.mean_abs_residual,
            o(r.rel_width_pt),
            o(r.abs_width_eta),
            o(r.abs_width_phi),
            o(r.rel_width_mass),
            r.epochs,
            r.train_seconds,
            r.note.as_ref().map_or(String::new(), |n| format!("  ({n})"))
        );
    }
    s
}
