//! `hepae bench MODEL [--threads 1,2] [--batch 1,64,4096] [--isa all] [--json F]`: what
//! encoding (the trigger's cost), decoding and training cost on this CPU, per jet and per core.
//!
//! Encode runs once per instruction set asked for (`--isa all`: every one the CPU offers,
//! scalar, AVX2, AVX-512) and per precision the model can be encoded in ([`precisions`]), each
//! on its own `Encoder` built for that set ([`Encoder::with_isa`]: no process-wide switch); at
//! batch 1 it also times every call on one thread, for the p50 and p99 latency a trigger
//! budgets. Decode and training run on the process's kernel set. Encode/decode run
//! `Encoder`/`Decoder` (one per thread, disjoint rows, no shared state) on
//! jets drawn uniformly in the model's normalised space and mapped back to physical units.
//! Training runs one real epoch of `train_autoencoder` (shuffle, gather, normalise, forward,
//! backward, Adam) of the model's architecture on such jets written to a temporary NPY.
//! Every figure is the median of several timed repetitions after a warm-up.

use super::parse_usize_list;
use crate::data::npy::{write_npy, Dataset};
use crate::encoder::{Decoder, Encoder};
use crate::error::{Error, Result};
use crate::formats::model_file::SavedModel;
use crate::infer::quantized::CalibrationRecord;
use crate::infer::quantized_calibrate::{quantize_normalized, QuantOptions};
use crate::infer::quantized_precision::{parse_precisions as parse_quant_precisions, Granularity};
use crate::io::atomic::write_atomic;
use crate::train::{train_autoencoder, TrainConfig};
use hepae_kernels::{available_isas, Isa};
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Trained model (safetensors) whose architecture is measured.
    pub model: PathBuf,
    /// Thread counts to measure.
    #[arg(long, default_value = "1,2")]
    pub threads: String,
    /// Encode/decode batch sizes.
    #[arg(long, default_value = "1,64,4096")]
    pub batch: String,
    /// Instruction sets to encode with: `auto` (the one this process dispatches to), `all`
    /// (every one this CPU offers), or a list of scalar, avx2, avx512.
    #[arg(long, default_value = "auto")]
    pub isa: String,
    /// Precisions to encode in: `auto` (the model's own), `all` (every one the model offers) or
    /// a list of f32, bf16, bf16-act, f16, int8, fixed<16,6> (each quantised in memory,
    /// calibrated on the bench's jets); a quantised model offers only its own.
    #[arg(long, default_value = "auto")]
    pub precision: String,
    /// Training batch size.
    #[arg(long, default_value_t = 512)]
    #[arg(value_parser = super::values::batch)]
    pub train_batch: usize,
    /// Jets per timed repetition (encode/decode) and rows of the training epoch.
    #[arg(long, default_value_t = 102_400)]
    #[arg(value_parser = super::values::bench_rows)]
    pub rows: usize,
    /// Timed repetitions (the median is reported).
    #[arg(long, default_value_t = 5)]
    #[arg(value_parser = super::values::at_least_one)]
    pub reps: usize,
    /// Skip the training measurement.
    #[arg(long)]
    pub no_train: bool,
    /// Write the measurements as JSON here (`-` for standard output).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Draw the encode/decode cost per jet as bars (PNG and SVG) into this directory.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

/// One measured configuration.
#[derive(Clone, Debug, Serialize)]
pub struct BenchRow {
    pub what: String,
    /// Kernel set (instruction set) it ran on.
    pub isa: String,
    /// Weight precision (f32 for decode and training).
    pub precision: String,
    pub threads: usize,
    pub batch: usize,
    /// Wall-clock microseconds per jet (all threads together).
    pub us_per_jet: f64,
    /// Jets (or training samples) per second, all threads.
    pub jets_per_s: f64,
    pub jets_per_s_per_core: f64,
    /// Encode at batch 1: quantiles of single-call latency in µs (one thread, every call
    /// timed; includes `timer_overhead_ns`). None elsewhere.
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
    /// Encode: the path the encoder takes at this batch ([`Encoder::path_at`]: fused-conv,
    /// fused-dense, row-tiled, per-op, quantized). None elsewhere.
    pub path: Option<String>,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub cpu: String,
    /// The process's kernel set (decode, training).
    pub isa: String,
    /// Every kernel set this CPU offers, and the ones encode was measured on.
    pub isas_available: Vec<String>,
    pub isas_measured: Vec<String>,
    /// Precisions encode was measured in.
    pub precisions: Vec<String>,
    /// Median cost of reading the clock once (ns), included in each per-call latency.
    pub timer_overhead_ns: f64,
    pub gemm: String,
    pub model: String,
    pub layer_dims: Vec<usize>,
    pub rows: Vec<BenchRow>,
}

/// The CPU's model name (from /proc/cpuinfo), or the architecture.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// The median of the timed repetitions (interpolated between the middle two when even).
fn median(v: Vec<f64>) -> f64 {
    crate::analysis::stats::quantiles(&v, &[0.5])[0]
}

/// Jets in physical units whose normalised values are uniform in [0, 1), and those
/// normalised values.
fn sample_jets(model: &SavedModel, rows: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let d = model.meta.columns.len();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let norm: Vec<f32> = (0..rows * d).map(|_| rng.random_range(0.0f32..1.0)).collect();
    let mut x = norm.clone();
    model.meta.normalizer.denormalize_rows(&mut x);
    (x, norm)
}

/// Seconds for `threads` workers to each run `work` over their share of `rows` jets.
fn time_parallel(threads: usize, rows: usize, work: &(dyn Fn(std::ops::Range<usize>) + Sync)) -> f64 {
    let per = rows.div_ceil(threads);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let r = (t * per).min(rows)..((t + 1) * per).min(rows);
            s.spawn(move || work(r));
        }
    });
    t0.elapsed().as_secs_f64()
}

/// The reduced precisions every f32 model is measured in besides f32 (`hepae quantize`'s).
pub const REDUCED: [&str; 5] = ["bf16", "bf16-act", "f16", "int8", "fixed<16,6>"];

/// The precisions `model` can be encoded in, in the order measured: f32 and every
/// [`REDUCED`] one for an f32 model; an already quantised model only as it is stored.
pub fn precisions(model: &SavedModel) -> Vec<String> {
    match &model.ae.quant {
        Some(q) => vec![q.describe()],
        None => std::iter::once("f32").chain(REDUCED).map(String::from).collect(),
    }
}

/// `model` in `precision` (one of [`precisions`]): itself for f32 or its stored one, else
/// quantised in memory as `hepae quantize` does (per-channel int8 scales), calibrated on
/// `calib` (rows of the model's normalised inputs: the bench's own jets).
pub fn model_in(model: &SavedModel, path: &std::path::Path, precision: &str, calib: &[f32]) -> Result<SavedModel> {
    if precision == "f32" || model.ae.quant.is_some() {
        return Ok(model.clone());
    }
    let opts = QuantOptions {
        layers: parse_quant_precisions(precision)?,
        granularity: Granularity::PerChannel,
        calib_rows: calib.len() / model.ae.shape.input,
    };
    let record = CalibrationRecord { file: "hepae bench jets (synthetic)".into(), rows: opts.calib_rows };
    quantize_normalized(model, path, &opts, calib, record)
}

/// An encoder for `model` (already in its precision, [`model_in`]) on `isa`'s kernels, at up
/// to `batch` rows; None if this CPU lacks the set.
pub fn encoder_for(model: &SavedModel, isa: Isa, batch: usize) -> Option<Encoder> {
    Encoder::with_isa(model, batch, isa)
}

/// The `--isa` list: `auto`, `all`, or names, each one this CPU offers.
fn parse_isas(s: &str) -> Result<Vec<Isa>> {
    let have = available_isas();
    match s.trim() {
        "auto" => return Ok(vec![hepae_kernels::kernels().isa]),
        "all" => return Ok(have),
        _ => {}
    }
    let mut out = Vec::new();
    for name in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let isa = Isa::parse(name).ok_or_else(|| {
            Error::config(format!(
                "--isa: unknown instruction set '{name}'; choose auto, all, or a list of scalar, avx2, avx512"
            ))
        })?;
        if !have.contains(&isa) {
            let names: Vec<&str> = have.iter().map(|i| i.name()).collect();
            return Err(Error::config(format!("--isa: this CPU has no {name} (it offers {})", names.join(", "))));
        }
        if !out.contains(&isa) {
            out.push(isa);
        }
    }
    if out.is_empty() {
        return Err(Error::config("--isa: no instruction set named"));
    }
    Ok(out)
}

/// The `--precision` list: `auto` (the model's own: f32, or a quantised model's stored one),
/// `all`, or names the model offers.
fn parse_precisions(s: &str, model: &SavedModel) -> Result<Vec<String>> {
    let have = precisions(model);
    match s.trim() {
        "all" => return Ok(have),
        "auto" => return Ok(have[..1].to_vec()),
        _ => {}
    }
    let mut out = Vec::new();
    for name in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let p = have.iter().find(|p| p.eq_ignore_ascii_case(name)).ok_or_else(|| {
            Error::config(format!("--precision: the model offers no '{name}' (it offers {})", have.join(", ")))
        })?;
        if !out.contains(p) {
            out.push(p.clone());
        }
    }
    if out.is_empty() {
        return Err(Error::config("--precision: no precision named"));
    }
    Ok(out)
}

/// Median ns of one `Instant::now()` pair, the floor under every per-call latency.
fn timer_overhead_ns() -> f64 {
    let v: Vec<f64> = (0..2001)
        .map(|_| {
            let t0 = Instant::now();
            t0.elapsed().as_nanos() as f64
        })
        .collect();
    median(v)
}

/// p50 and p99 (µs) of `calls` single-jet encodes on this thread, each timed, cycling `jets`.
fn batch1_latency(enc: &mut Encoder, jets: &[f32], calls: usize) -> (f64, f64) {
    let (d, l) = (enc.input_dim(), enc.latent_dim());
    let rows = jets.len() / d;
    let mut z = vec![0.0f32; l];
    let mut ns = Vec::with_capacity(calls);
    for i in 0..calls + calls / 10 {
        let x = &jets[(i % rows) * d..(i % rows + 1) * d];
        let t0 = Instant::now();
        let ok = enc.encode(x, 1, &mut z).is_ok();
        let dt = t0.elapsed().as_nanos() as f64;
        if ok && i >= calls / 10 {
            ns.push(dt / 1000.0); // the first tenth warms caches and is not kept
        }
    }
    let q = crate::analysis::stats::quantiles(&ns, &[0.5, 0.99]);
    (q[0], q[1])
}

pub fn run(args: &BenchArgs) -> Result<()> {
    crate::io::outputs::Guard::new()
        .model(args.model.as_path())
        .text("--json", args.json.as_deref())
        .dir("--plot", args.plot.as_deref())
        .check()?;
    let model = SavedModel::load(&args.model)?;
    let threads = parse_usize_list(&args.threads).map_err(|e| Error::config(format!("--threads: {e}")))?;
    let batches = parse_usize_list(&args.batch).map_err(|e| Error::config(format!("--batch: {e}")))?;
    if threads.contains(&0) || batches.contains(&0) || args.rows == 0 || args.reps == 0 {
        return Err(Error::config("--threads, --batch, --rows and --reps must be positive"));
    }
    if let Some(b) = batches.iter().find(|&&b| b > 1 << 20) {
        return Err(Error::config(format!("--batch {b} is out of range: each must be in 1..=1048576")));
    }
    if let Some(t) = threads.iter().find(|&&t| t > 1024) {
        return Err(Error::config(format!("--threads {t} is out of range: each must be in 1..=1024")));
    }
    let isas = parse_isas(&args.isa)?;
    let precs = parse_precisions(&args.precision, &model)?;
    let d = model.meta.columns.len();
    let l = model.ae.shape.latent;
    let (jets, norm) = sample_jets(&model, args.rows, 7);
    let calib = &norm[..args.rows.min(20_000) * d];
    let models: Vec<(String, SavedModel)> =
        precs.iter().map(|p| Ok((p.clone(), model_in(&model, &args.model, p, calib)?))).collect::<Result<_>>()?;
    let mut latent = vec![0.0f32; args.rows * l];
    Encoder::new(&model, 4096)
        .encode(&jets, args.rows, &mut latent)
        .map_err(|b| Error::config(format!("benchmark jets do not normalise (row {}, column {})", b.row, b.col)))?;
    let report_head = BenchReport {
        cpu: cpu_model(),
        isa: hepae_kernels::kernels().isa.name().into(),
        isas_available: available_isas().iter().map(|i| i.name().to_string()).collect(),
        isas_measured: isas.iter().map(|i| i.name().to_string()).collect(),
        precisions: precs.clone(),
        timer_overhead_ns: timer_overhead_ns(),
        gemm: crate::gemm::gemm_backend().name().into(),
        model: args.model.display().to_string(),
        layer_dims: model.meta.layer_dims.clone(),
        rows: Vec::new(),
    };
    outln!("CPU: {}   kernels: {}   GEMM: {}", report_head.cpu, report_head.isa, report_head.gemm)?;
    outln!(
        "model: {} {} ({})",
        model.meta.kind,
        args.model.display(),
        model.meta.layer_dims.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("-")
    )?;
    outln!(
        "{:<8} {:>7} {:>11} {:>7} {:>6} {:>12} {:>14} {:>16} {:>9} {:>9}  {}",
        "what",
        "isa",
        "precision",
        "threads",
        "batch",
        "µs/jet",
        "jets/s",
        "jets/s per core",
        "p50 µs",
        "p99 µs",
        "path"
    )?;
    let mut rows = Vec::new();
    let process_isa = report_head.isa.clone();
    let push = |rows: &mut Vec<BenchRow>, what: &str, kind: (&str, &str), t: usize, b: usize, secs: f64, n: usize| {
        let row = BenchRow {
            what: what.into(),
            isa: kind.0.into(),
            precision: kind.1.into(),
            threads: t,
            batch: b,
            us_per_jet: secs / n as f64 * 1e6,
            jets_per_s: n as f64 / secs,
            jets_per_s_per_core: n as f64 / secs / t as f64,
            p50_us: None,
            p99_us: None,
            path: None,
        };
        rows.push(row);
    };
    let print = |row: &BenchRow| -> Result<()> {
        let q = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.3}"));
        outln!(
            "{:<8} {:>7} {:>11} {:>7} {:>6} {:>12.4} {:>14.0} {:>16.0} {:>9} {:>9}  {}",
            row.what,
            row.isa,
            row.precision,
            row.threads,
            row.batch,
            row.us_per_jet,
            row.jets_per_s,
            row.jets_per_s_per_core,
            q(row.p50_us),
            q(row.p99_us),
            row.path.as_deref().unwrap_or("-")
        )
    };
    for &t in &threads {
        for &b in &batches {
            // Batch 1 is latency-bound: fewer jets keep the run short.
            let n = if b == 1 { args.rows.min(20_000) } else { args.rows };
            for &isa in &isas {
                for (prec, pmodel) in &models {
                    let Some(proto) = encoder_for(pmodel, isa, b) else { continue };
                    let enc = |r: std::ops::Range<usize>| {
                        let mut e = proto.clone();
                        let mut z = vec![0.0f32; b * l];
                        for start in r.clone().step_by(b) {
                            let m = b.min(r.end - start);
                            if e.encode(&jets[start * d..(start + m) * d], m, &mut z).is_err() {
                                return;
                            }
                        }
                    };
                    time_parallel(t, n, &enc);
                    let secs = median((0..args.reps).map(|_| time_parallel(t, n, &enc)).collect());
                    push(&mut rows, "encode", (isa.name(), prec.as_str()), t, b, secs, n);
                    rows.last_mut().expect("pushed above").path = Some(proto.path_at(b).into());
                    if b == 1 {
                        let (p50, p99) = batch1_latency(&mut proto.clone(), &jets, n);
                        let last = rows.last_mut().expect("pushed above");
                        (last.p50_us, last.p99_us) = (Some(p50), Some(p99));
                    }
                    print(rows.last().expect("pushed above"))?;
                }
            }
            let dec = |r: std::ops::Range<usize>| {
                let mut dd = Decoder::new(&model, b);
                let mut x = vec![0.0f32; b * d];
                for start in r.clone().step_by(b) {
                    let m = b.min(r.end - start);
                    dd.decode(&latent[start * l..(start + m) * l], m, &mut x);
                }
            };
            time_parallel(t, n, &dec);
            let secs = median((0..args.reps).map(|_| time_parallel(t, n, &dec)).collect());
            push(&mut rows, "decode", (&process_isa, "f32"), t, b, secs, n);
            print(rows.last().expect("pushed above"))?;
        }
        if !args.no_train {
            let secs = train_epoch_seconds(&model, args, t)?;
            push(&mut rows, "train", (&process_isa, "f32"), t, args.train_batch, secs, args.rows);
            print(rows.last().expect("pushed above"))?;
        }
    }
    let report = BenchReport { rows, ..report_head };
    if let Some(dir) = &args.plot {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let bars: Vec<crate::plot::Bar> = report
            .rows
            .iter()
            .filter(|r| r.what != "train")
            .map(|r| crate::plot::Bar {
                label: format!("{} {} {} batch {} × {} thr", r.what, r.isa, r.precision, r.batch, r.threads),
                value: r.us_per_jet * r.threads as f64,
                err: None,
            })
            .collect();
        let f = crate::plot::encode_cost_bars(
            dir,
            "encode_cost",
            &format!("Cost per jet per thread ({})", report.cpu),
            "µs per jet",
            &bars,
        )?;
        eprintln!("wrote {} and {}", f.png.display(), f.svg.display());
    }
    if let Some(j) = &args.json {
        let s = serde_json::to_string_pretty(&report).map_err(|e| Error::config(e.to_string()))?;
        write_atomic(j, s.as_bytes())?;
    }
    Ok(())
}

/// Median seconds of one training epoch (no validation split) over `args.rows` synthetic
/// normalised jets, with the model's architecture, at `threads` threads.
fn train_epoch_seconds(model: &SavedModel, args: &BenchArgs, threads: usize) -> Result<f64> {
    let d = model.meta.columns.len();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let data: Vec<f32> = (0..args.rows * d).map(|_| rng.random_range(0.0f32..1.0)).collect();
    let path = std::env::temp_dir().join(format!("hepae-bench-{}.npy", std::process::id()));
    write_npy(&path, d, &data, None)?;
    let result = (|| {
        let ds = Dataset::open(&path)?;
        let shape = &model.ae.shape;
        let cfg = TrainConfig {
            hidden: shape.hidden.clone(),
            latent: shape.latent,
            epochs: Some(1),
            batch: Some(args.train_batch),
            threads,
            val_fraction: 0.0,
            slope: shape.slope,
            activation: shape.activation,
            output_activation: shape.output_activation,
            // A conv model trains as conv-ae with its own architecture.
            model: if shape.conv.is_some() { crate::models::ModelKind::ConvAe } else { Default::default() },
            conv: shape.conv.as_ref().map(crate::models::conv_ae::ConvOptions::from).unwrap_or_default(),
            ..TrainConfig::default()
        };
        let mut times = Vec::new();
        for rep in 0..=args.reps.min(3) {
            let out = train_autoencoder(&ds, &TrainConfig { seed: rep as u64, ..cfg.clone() }, &mut |_| {})?;
            if rep > 0 {
                times.push(out.history[0].seconds);
            }
        }
        Ok(median(times))
    })();
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(crate::data::npy::columns_path(&path));
    result
}
