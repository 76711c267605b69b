//! `hepae generate MODEL -n N -o OUT.npy [--like DATA.npy]`: synthetic jets from a VAE or
//! AAE: draws from the latent prior, decoded and de-normalised, streamed to an NPY. With
//! `--like`, compares the generated marginals with the real ones (mean, σ, quantiles per
//! variable), printed and written as plot-ready JSON.

use crate::analysis::stats::quantile_sorted;
use crate::data::npy::{Dataset, NpyWriter};
use crate::encoder::Decoder;
use crate::error::{Error, Result};
use crate::formats::model_file::SavedModel;
use crate::io::atomic::write_atomic;
use crate::models::ae::{ModelKind, Prior};
use rand::SeedableRng;
use serde::Serialize;
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct GenerateArgs {
    /// Trained VAE or AAE model (safetensors).
    pub model: PathBuf,
    /// Number of jets to generate.
    #[arg(short = 'n', long)]
    #[arg(value_parser = super::values::rows)]
    pub rows: u64,
    /// Output dataset (.npy); OUT.columns is written beside it.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Random seed of the prior draws.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Real jets to compare the generated marginals with (e.g. the training data).
    #[arg(long)]
    pub like: Option<PathBuf>,
    /// Write the marginal comparison (with 50-bin histograms) as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// With --like: draw generated against real marginals (PNG and SVG) into this directory.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

/// Summary of one variable's distribution, with a histogram over a shared range.
#[derive(Clone, Debug, Serialize)]
pub struct Marginal {
    pub mean: f64,
    pub std: f64,
    pub q01: f64,
    pub q16: f64,
    pub q50: f64,
    pub q84: f64,
    pub q99: f64,
    pub counts: Vec<u64>,
}

/// Generated against real, per variable.
#[derive(Clone, Debug, Serialize)]
pub struct MarginalComparison {
    pub variable: String,
    pub lo: f64,
    pub hi: f64,
    pub generated: Marginal,
    pub real: Marginal,
}

const SAMPLE: usize = 200_000;

fn marginal(values: &mut [f64], lo: f64, hi: f64) -> Marginal {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
    values.sort_by(f64::total_cmp);
    let mut counts = vec![0u64; 50];
    for &v in values.iter() {
        if v >= lo && v <= hi && hi > lo {
            counts[(((v - lo) / (hi - lo) * 50.0) as usize).min(49)] += 1;
        }
    }
    let q = |p| quantile_sorted(values, p);
    Marginal { mean, std, q01: q(0.01), q16: q(0.16), q50: q(0.5), q84: q(0.84), q99: q(0.99), counts }
}

pub fn run(args: &GenerateArgs) -> Result<()> {
    crate::io::outputs::Guard::new()
        .model(args.model.as_path())
        .data(args.like.as_deref())
        .rows("-o", args.output.as_path())
        .text("--json", args.json.as_deref())
        .dir("--plot", args.plot.as_deref())
        .check()?;
    let model = SavedModel::load(&args.model)?;
    let prior = match model.meta.kind {
        ModelKind::Vae => Prior::Normal,
        ModelKind::Aae => model.meta.training.as_ref().map_or(Prior::Normal, |t| t.config.prior),
        k => {
            return Err(Error::model(
                &args.model,
                format!(
                "generate needs a vae or aae model (this one is {k}): only they shape their latent space after a prior"
            ),
            ))
        }
    };
    if args.rows == 0 {
        return Err(Error::config("-n must be at least 1"));
    }
    let like = args.like.as_ref().map(|p| Dataset::open(p)).transpose()?;
    if let Some(l) = &like {
        model.check_data(l, &args.model)?;
    }
    let d = model.meta.columns.len();
    let lat = model.ae.shape.latent;
    let batch = 4096usize;
    let mut dec = Decoder::new(&model, batch);
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let mut z = vec![0.0f32; batch * lat];
    let mut x = vec![0.0f32; batch * d];
    let stride = (args.rows as usize).div_ceil(SAMPLE).max(1);
    let mut kept: Vec<Vec<f64>> = vec![Vec::new(); d];
    let mut writer = NpyWriter::create(&args.output, &model.meta.columns)?;
    let mut done = 0u64;
    while done < args.rows {
        let n = (batch as u64).min(args.rows - done) as usize;
        prior.sample(&mut z[..n * lat], &mut rng);
        dec.decode(&z[..n * lat], n, &mut x[..n * d]);
        for r in 0..n {
            if (done as usize + r).is_multiple_of(stride) {
                for (k, &v) in kept.iter_mut().zip(&x[r * d..(r + 1) * d]) {
                    k.push(v as f64);
                }
            }
        }
        writer.write_rows(&x[..n * d])?;
        done += n as u64;
    }
    writer.finish()?;
    eprintln!(
        "wrote {} ({} generated jets from the {} prior of {}; synthetic, not real data)",
        args.output.display(),
        args.rows,
        format!("{prior:?}").to_lowercase(),
        model.meta.kind
    );
    if let Some(real) = &like {
        let rstride = real.rows().div_ceil(SAMPLE).max(1);
        let mut out = Vec::with_capacity(d);
        outln!(
            "{:<22} {:>11} {:>11} | {:>11} {:>11} | {:>11} {:>11}",
            "variable",
            "gen mean",
            "real mean",
            "gen σ",
            "real σ",
            "gen median",
            "real median"
        )?;
        for (c, gv) in kept.iter_mut().enumerate() {
            let mut rv: Vec<f64> = (0..real.rows()).step_by(rstride).map(|r| real.row(r)[c] as f64).collect();
            let lo = rv.iter().chain(gv.iter()).fold(f64::INFINITY, |a, &b| a.min(b));
            let hi = rv.iter().chain(gv.iter()).fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            if let Some(dir) = &args.plot {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                let name = &model.meta.columns[c];
                // Equal counts, so the two histograms compare as shapes (ratio panel near 1).
                let step = (gv.len() / rv.len().max(1)).max(1);
                let g_eq: Vec<f64> = gv.iter().step_by(step).copied().collect();
                let unit = if model.meta.training.as_ref().is_some_and(|t| t.config.momentum_to_gev < 1.0) {
                    "MeV"
                } else {
                    "GeV"
                };
                crate::plot::marginals(
                    dir,
                    &format!("marginal_{c:02}_{name}"),
                    name,
                    &crate::plot::axis_label(name, unit),
                    &rv,
                    &g_eq,
                )?;
            }
            let (g, r) = (marginal(gv, lo, hi), marginal(&mut rv, lo, hi));
            outln!(
                "{:<22} {:>11.4e} {:>11.4e} | {:>11.4e} {:>11.4e} | {:>11.4e} {:>11.4e}",
                model.meta.columns[c],
                g.mean,
                r.mean,
                g.std,
                r.std,
                g.q50,
                r.q50
            )?;
            out.push(MarginalComparison { variable: model.meta.columns[c].clone(), lo, hi, generated: g, real: r });
        }
        if let Some(j) = &args.json {
            let s = serde_json::to_string_pretty(&out).map_err(|e| Error::config(e.to_string()))?;
            write_atomic(j, s.as_bytes())?;
        }
    }
    Ok(())
}
