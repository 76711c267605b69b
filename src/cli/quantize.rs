//! `hepae quantize MODEL --precision bf16|f16|int8|fixed<W,I>[,…] --calib DATA -o OUT`: a
//! reduced-precision encoder made from a trained f32 model, post-training (int8 input scales
//! calibrated on DATA), written as a model file that `Encoder`, the C ABI, `compress`,
//! `evaluate`, `score` and `roc` use as they use any model. Then prints what it costs against
//! the f32 model on `--eval` (default: DATA; its validation split when DATA is the training
//! file), optionally as JSON.

use crate::cli::evaluate::select_rows;
use crate::data::npy::Dataset;
use crate::error::{Error, Result};
use crate::formats::model_file::SavedModel;
use crate::infer::quantized::{parse_precisions, quantize, Granularity, QuantOptions};
use crate::infer::quantized_price::price;
use crate::io::atomic::write_atomic;
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct QuantizeArgs {
    /// Trained f32 model (safetensors).
    pub model: PathBuf,
    /// Encoder precision: bf16, bf16-act (activations too), f16, int8, fixed<W,I> (hls4ml
    /// ap_fixed: AP_TRN, AP_WRAP; fixed<W,I,RND_CONV,SAT> for other modes) or
    /// f32; one for every layer, or a comma-separated list with one per layer
    /// (e.g. "int8,int8,int8,f32").
    #[arg(long)]
    pub precision: String,
    /// Calibration data (f32 NPY with the model's columns; NaN/Inf refused).
    #[arg(long)]
    pub calib: PathBuf,
    /// Quantised model to write (safetensors).
    #[arg(short, long)]
    pub output: PathBuf,
    /// int8 weight scales: per-channel (one per output) or per-layer.
    #[arg(long, default_value = "per-channel")]
    pub granularity: Granularity,
    /// Calibration rows at most (evenly spaced over the file).
    #[arg(long, default_value_t = 20_000)]
    #[arg(value_parser = super::values::at_least_one)]
    pub calib_rows: usize,
    /// Data to measure the price on (default: --calib).
    #[arg(long)]
    pub eval: Option<PathBuf>,
    /// The price as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Only the one-line summary.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: &QuantizeArgs) -> Result<()> {
    crate::io::outputs::Guard::new()
        .model(args.model.as_path())
        .data(args.calib.as_path())
        .data(args.eval.as_deref())
        .file("-o", args.output.as_path())
        .text("--json", args.json.as_deref())
        .check()?;
    let layers = parse_precisions(&args.precision)?;
    let model = SavedModel::load(&args.model)?;
    let calib = Dataset::open(&args.calib)?;
    let opts = QuantOptions { layers, granularity: args.granularity, calib_rows: args.calib_rows };
    let q = quantize(&model, &args.model, &opts, &calib)?;
    let eval_data = match &args.eval {
        Some(p) => Dataset::open(p)?,
        None => Dataset::open(&args.calib)?,
    };
    model.check_data(&eval_data, &args.model)?;
    eval_data.check_finite()?;
    let (rows, subset) = select_rows(&model, &args.model, &eval_data, "auto")?;
    let cost = price(&model, &q, &eval_data, rows.as_deref())?;
    q.save(&args.output)?;
    if let Some(j) = &args.json {
        let text = serde_json::to_string_pretty(&cost).map_err(|e| Error::config(e.to_string()))?;
        write_atomic(j, format!("{text}\n").as_bytes())?;
    }
    let enc = q.ae.quant.as_ref().ok_or_else(|| Error::config("quantize produced no quantised encoder"))?;
    let f32_bytes: usize = enc.layers.iter().map(|l| 4 * (l.k + 1) * l.n).sum();
    let q_bytes: usize = enc.layers.iter().map(|l| l.weight_bytes() + 4 * l.n).sum();
    if !args.quiet {
        for (j, l) in enc.layers.iter().enumerate() {
            let scale = l.input_scale.map(|s| format!(", input scale {s:.4e}")).unwrap_or_default();
            outln!("encoder.{} {}→{} {}{scale}", 2 * j, l.k, l.n, l.precision.name())?;
        }
        outln!("price measured on {} ({subset}):", eval_data.path().display())?;
        super::print_out(&cost.table())?;
    }
    outln!(
        "wrote {} ({} encoder, weights {} → {} bytes); latent max |Δz| {:.3e}, MSE {:+.2} %",
        args.output.display(),
        enc.describe(),
        f32_bytes,
        q_bytes,
        cost.latent_max_abs_diff,
        100.0 * cost.mse_change()
    )?;
    Ok(())
}
