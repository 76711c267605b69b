//! `hepae baseline DATA [--model AE] [--bounds 1e-2,1e-3,1e-4] [--pca-latent K]`: where the
//! autoencoder wins and where it does not. The same jets through
//! - float truncation (keep ⌈log2 1/ε⌉ mantissa bits) + byte-shuffle + zstd;
//! - the per-column log-quantiser + byte-shuffle + zstd-19 and lossless shuffle + zstd-19
//!   ([`super::baseline_peers`]; the Python peers' rows), under compress's bound rule;
//! - PCA (fitted here on the training split) in the error-bounded archive;
//! - the given AE: f32/f16/bf16 latents (lossy) and error-bounded;
//!
//! each at the same point-wise relative bounds, applied uniformly to every column here (zeros
//! stay exact) so the rows compare like with like — except the quantiser rows, which use
//! compress's rule (integer columns exact; η, φ absolute; marked so) to stand beside
//! `hepae compress --max-rel-error ε` and `compress_peers.py`. Ratios with and without the
//! decoder's bytes; max and mean relative error measured by decompressing, over non-zero
//! values; `outside_bound` counts the values outside their row's bound (every value checked).

use super::baseline_peers;
use crate::archive::{compress, decompress, default_bounds, shuffle, Bound, CompressOptions, LatentDtype};
use crate::data::normalize::{NormKind, Normalizer};
use crate::data::npy::Dataset;
use crate::error::{Error, Result};
use crate::formats::model_file::SavedModel;
use crate::models::pca::fit_pca;
use crate::train::split_rows;
use serde::Serialize;
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct BaselineArgs {
    /// Dataset (f32 NPY) to compress every way.
    pub data: PathBuf,
    /// A trained autoencoder to include.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Relative error bounds.
    #[arg(long, default_value = "1e-2,1e-3,1e-4")]
    pub bounds: String,
    /// PCA components (default: the model's latent size, else a third of the variables).
    #[arg(long)]
    #[arg(value_parser = super::values::latent)]
    pub pca_latent: Option<usize>,
    /// zstd level of the truncation and archive rows (1–22); the quantiser and lossless rows
    /// use 19, as `compress_peers.py` does.
    #[arg(long, default_value_t = 9)]
    #[arg(value_parser = super::values::zstd_level)]
    pub level: i32,
    /// Write the table as JSON here (`-` for standard output).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Draw compression ratio against max relative error (PNG and SVG) into this directory.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

/// One row of the table.
#[derive(Clone, Debug, Serialize)]
pub struct BaselineRow {
    pub method: String,
    pub bound: Option<f64>,
    pub ratio: f64,
    pub ratio_with_decoder: f64,
    pub max_rel_error: f64,
    pub mean_rel_error: f64,
    /// Values outside the row's bound after decoding (`None`: not checked value by value).
    pub outside_bound: Option<u64>,
}

fn rel_errors(orig: &[f32], got: &[f32]) -> (f64, f64) {
    let (mut max, mut sum, mut n) = (0.0f64, 0.0f64, 0u64);
    for (&x, &y) in orig.iter().zip(got) {
        if x != 0.0 {
            let e = ((x - y) as f64 / x as f64).abs();
            max = max.max(e);
            sum += e;
            n += 1;
        }
    }
    (max, sum / n.max(1) as f64)
}

/// Float truncation keeping `keep` mantissa bits, then shuffle + zstd: (bytes, rebuilt values).
fn truncate_and_pack(x: &[f32], keep: u32, level: i32) -> Result<(usize, Vec<f32>)> {
    let mask = !((1u32 << (23 - keep.min(23))) - 1);
    let t: Vec<f32> = x.iter().map(|v| f32::from_bits(v.to_bits() & mask)).collect();
    let raw: Vec<u8> = t.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut sh = Vec::new();
    shuffle(&raw, 4, &mut sh);
    let z = zstd::bulk::compress(&sh, level).map_err(|e| Error::config(format!("zstd: {e}")))?;
    Ok((z.len(), t))
}

pub fn run(args: &BaselineArgs) -> Result<()> {
    crate::io::outputs::Guard::new()
        .data(args.data.as_path())
        .model(args.model.as_deref())
        .text("--json", args.json.as_deref())
        .dir("--plot", args.plot.as_deref())
        .check()?;
    let data = Dataset::open(&args.data)?;
    data.check_finite()?;
    let bounds: Vec<f64> = args
        .bounds
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| *v > 0.0 && *v < 1.0)
                .ok_or_else(|| Error::config(format!("--bounds: '{s}' is not in (0, 1)")))
        })
        .collect::<Result<_>>()?;
    let d = data.cols();
    let x = data.as_slice();
    let original = (x.len() * 4) as f64;
    // Removed on every exit, so a failing run leaves no archive or model copy behind.
    let scratch = crate::io::outputs::Scratch::new("baseline")?;
    let tmp = scratch.path().to_path_buf();
    let mut rows = Vec::new();
    let uniform = |eps: f64| Some(vec![Bound::Rel { value: eps }; d]);
    // The archive path for a model (AE or PCA), measured by decompressing.
    let via_archive =
        |name: &str, model: &SavedModel, bytes: &[u8], dtype: LatentDtype, bound: Option<f64>| -> Result<BaselineRow> {
            let arch = tmp.join("a.hepz");
            let out = tmp.join("out.npy");
            let model_path = tmp.join("m.safetensors");
            std::fs::write(&model_path, bytes).map_err(|e| Error::io(&model_path, e))?;
            let opt = CompressOptions {
                latent_dtype: dtype,
                bounds: bound.and_then(uniform),
                zstd_level: args.level,
                ..Default::default()
            };
            let rep = compress(model, bytes, &data, &arch, &opt)?;
            decompress(&arch, Some(&model_path), &out)?;
            let got = Dataset::open(&out)?;
            let (max, mean) = rel_errors(x, got.as_slice());
            Ok(BaselineRow {
                method: name.into(),
                bound,
                ratio: rep.ratio,
                ratio_with_decoder: rep.ratio_with_decoder,
                max_rel_error: max,
                mean_rel_error: mean,
                outside_bound: None,
            })
        };
    for &eps in &bounds {
        let keep = (1.0 / eps).log2().ceil() as u32;
        let (bytes, t) = truncate_and_pack(x, keep, args.level)?;
        let (max, mean) = rel_errors(x, &t);
        rows.push(BaselineRow {
            method: format!("float truncation + zstd, {keep} mantissa bits"),
            bound: Some(eps),
            ratio: original / bytes as f64,
            ratio_with_decoder: original / bytes as f64,
            max_rel_error: max,
            mean_rel_error: mean,
            outside_bound: None,
        });
    }
    // The Python peers' rows, natively: compress's bound rule, decoded from their bytes and
    // checked value by value (a miss is an internal error, never a row).
    for &eps in &bounds {
        let rule = default_bounds(&data, Some(eps), &[], None);
        let t = baseline_peers::quantise(x, &rule)?;
        let got = baseline_peers::dequantise(&t, &rule)?;
        let miss = baseline_peers::outside(x, &got, &rule);
        if miss > 0 {
            return Err(Error::config(format!("internal error: the quantiser at {eps:e} misses {miss} values")));
        }
        let (max, mean) = rel_errors(x, &got);
        rows.push(BaselineRow {
            method: "log-quantiser + shuffle + zstd-19 †".into(),
            bound: Some(eps),
            ratio: original / t.bytes() as f64,
            ratio_with_decoder: original / t.bytes() as f64,
            max_rel_error: max,
            mean_rel_error: mean,
            outside_bound: Some(0),
        });
    }
    let (lossless, got) = baseline_peers::lossless(x)?;
    let miss = x.iter().zip(&got).filter(|(a, b)| a.to_bits() != b.to_bits()).count() as u64;
    if miss > 0 {
        return Err(Error::config(format!("internal error: lossless zstd changes {miss} values")));
    }
    rows.push(BaselineRow {
        method: "lossless (shuffle + zstd-19)".into(),
        bound: None,
        ratio: original / lossless as f64,
        ratio_with_decoder: original / lossless as f64,
        max_rel_error: 0.0,
        mean_rel_error: 0.0,
        outside_bound: Some(0),
    });
    let model = args.model.as_ref().map(|p| -> Result<(SavedModel, Vec<u8>)> {
        let bytes = std::fs::read(p).map_err(|e| Error::io(p, e))?;
        let m = SavedModel::from_bytes(&bytes, p)?;
        m.check_data(&data, p)?;
        Ok((m, bytes))
    });
    let model = model.transpose()?;
    if let Some((m, bytes)) = &model {
        for dtype in [LatentDtype::F32, LatentDtype::F16, LatentDtype::Bf16] {
            rows.push(via_archive(
                &format!("{} latents {dtype:?}", m.meta.kind).to_lowercase(),
                m,
                bytes,
                dtype,
                None,
            )?);
        }
        for &eps in &bounds {
            rows.push(via_archive(&format!("{} error-bounded", m.meta.kind), m, bytes, LatentDtype::F32, Some(eps))?);
        }
    }
    let k = args.pca_latent.or(model.as_ref().map(|(m, _)| m.ae.shape.latent)).unwrap_or((d / 3).max(1));
    let split = split_rows(data.rows(), 0.15, 1);
    let norm = model
        .as_ref()
        .map(|(m, _)| m.meta.normalizer.clone())
        .map_or_else(|| Normalizer::fit(NormKind::Minmax, &data, &split.train, 1.0), Ok)?;
    let (pca, _) = fit_pca(&data, &norm, &split.train, k)?;
    let pca_model = SavedModel::new(crate::models::ae::ModelKind::Pca, pca, data.columns().to_vec(), norm);
    let pca_bytes = pca_model.to_bytes()?;
    for &eps in &bounds {
        rows.push(via_archive(
            &format!("pca k={k} error-bounded"),
            &pca_model,
            &pca_bytes,
            LatentDtype::F32,
            Some(eps),
        )?);
    }
    drop(scratch);
    outln!(
        "{} ({} jets × {} variables, {:.3} MB as float32); relative errors over non-zero values",
        data.path().display(),
        data.rows(),
        d,
        original / 1e6
    )?;
    outln!(
        "{:<44} {:>8} {:>9} {:>12} {:>12} {:>12}",
        "method",
        "bound",
        "ratio",
        "ratio+dec",
        "max rel err",
        "mean rel err"
    )?;
    outln!("† compress's bound rule (integer columns exact; eta, phi |Δ| ≤ ε; others |Δ| ≤ ε·|x|), every value decoded and checked")?;
    for r in &rows {
        outln!(
            "{:<44} {:>8} {:>9.2} {:>12.2} {:>12.3e} {:>12.3e}",
            r.method,
            r.bound.map_or("-".into(), |b| format!("{b:.0e}")),
            r.ratio,
            r.ratio_with_decoder,
            r.max_rel_error,
            r.mean_rel_error
        )?;
    }
    if let Some(dir) = &args.plot {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let points: Vec<crate::plot::RatioPoint> = rows
            .iter()
            .filter(|r| r.bound.is_some())
            .map(|r| crate::plot::RatioPoint {
                label: format!("{} ({:.0e})", r.method.split(',').next().unwrap_or(&r.method), r.bound.unwrap_or(0.0)),
                ratio: r.ratio,
                error: r.max_rel_error,
            })
            .collect();
        let f = crate::plot::ratio_vs_error(
            dir,
            "ratio_vs_error",
            "Compression ratio vs error",
            "max relative error",
            &points,
        )?;
        eprintln!("wrote {} and {}", f.png.display(), f.svg.display());
    }
    if let Some(j) = &args.json {
        let s = serde_json::to_string_pretty(&rows).map_err(|e| Error::config(e.to_string()))?;
        crate::io::atomic::write_atomic(j, s.as_bytes())?;
    }
    Ok(())
}
