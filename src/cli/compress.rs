//! `hepae compress [MODEL] DATA -o OUT.hepz`: with an error bound, code every value on its
//! bound's grid (the model, if given, used only where it pays); without one, store the model's
//! latents. Streamed in blocks with checksums; prints and stores the size accounting, with and
//! without the decoder's bytes. `hepae compress DATA -o X --max-rel-error ε` (no model) writes
//! the smallest archive measured (format 4, columns predicted from earlier columns).

use super::progress::Progress;
use crate::archive::{
    compress_observed, compress_plain, default_bounds, CompressOptions, LatentDtype, Learned, SizeReport,
};
use crate::error::{Error, Result};
use crate::model_io::SavedModel;
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct CompressArgs {
    /// `[MODEL] DATA`: the dataset (f32 NPY) to compress, after the trained model (safetensors)
    /// that encodes it. The model may be left out with an error bound: the archive is then
    /// coded without one (the best measured; it decodes with no model); it is needed for
    /// latents-only archives (no bound), --learned and --embed-decoder.
    #[arg(value_name = "MODEL|DATA")]
    pub first: PathBuf,
    /// The dataset, when the first positional is the model.
    #[arg(value_name = "DATA")]
    pub data: Option<PathBuf>,
    /// Archive to write (.hepz).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Stored precision of the latent values: f32, f16 or bf16 (default: f32 for latents
    /// only; bf16 with an error bound, the best measured).
    #[arg(long)]
    pub latent_dtype: Option<LatentDtype>,
    /// Zero this many low mantissa bits of each stored latent value.
    #[arg(long, default_value_t = 0)]
    #[arg(value_parser = super::values::truncate_bits)]
    pub truncate_bits: u32,
    /// Guarantee |out − in| ≤ R·|in| for every value (physical units); η and φ get R as an
    /// absolute bound, integer-valued columns are stored exactly.
    #[arg(long)]
    pub max_rel_error: Option<f64>,
    /// Absolute bounds: `X` for every column, or `eta=1e-3,phi=1e-3` per column.
    #[arg(long)]
    pub max_abs_error: Option<String>,
    /// Store the model in the archive so decompress needs nothing else.
    #[arg(long)]
    pub embed_decoder: bool,
    /// With an error bound: code every column on its own (no prediction from the model), so
    /// the archive decodes without any model. By default each block uses the model's
    /// predictions only where they make it smaller, the decoder's bytes counted.
    #[arg(long, conflicts_with = "learned")]
    pub plain: bool,
    /// With an error bound: code every column the model's predictions make cheaper against
    /// them, whatever the latents cost (to measure the learned model; the default weighs it).
    #[arg(long)]
    pub learned: bool,
    /// Jets per block.
    #[arg(long, default_value_t = 65_536)]
    #[arg(value_parser = super::values::block_rows)]
    pub block_rows: usize,
    /// zstd level of the lossless stage (1–22).
    #[arg(long, default_value_t = 9)]
    #[arg(value_parser = super::values::zstd_level)]
    pub level: i32,
    /// Only job i of n's share of DATA's rows (0-based; see `hepae merge`).
    #[arg(long)]
    pub shard: Option<super::shard::ShardSpec>,
    /// No progress lines.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print, per column, the grid and model each block chose and its share of the bytes.
    #[arg(long)]
    pub explain: bool,
}

/// Per-column absolute bounds, and one bound for every column.
pub type AbsBounds = (Vec<(String, f64)>, Option<f64>);

/// Parses `--max-abs-error`: one number for all columns, or name=value pairs.
pub fn parse_abs(spec: Option<&str>, columns: &[String]) -> Result<AbsBounds> {
    let Some(spec) = spec else { return Ok((Vec::new(), None)) };
    if let Ok(v) = spec.trim().parse::<f64>() {
        return if v > 0.0 && v.is_finite() {
            Ok((Vec::new(), Some(v)))
        } else {
            Err(Error::config("--max-abs-error must be positive"))
        };
    }
    let mut out = Vec::new();
    for part in spec.split(',').filter(|p| !p.trim().is_empty()) {
        let (name, val) = part
            .split_once('=')
            .ok_or_else(|| Error::config(format!("--max-abs-error: '{part}' is not NAME=VALUE")))?;
        let v: f64 =
            val.trim().parse().map_err(|_| Error::config(format!("--max-abs-error: '{val}' is not a number")))?;
        if !(v > 0.0 && v.is_finite()) {
            return Err(Error::config(format!("--max-abs-error: {name} bound must be positive")));
        }
        if !columns.iter().any(|c| c == name.trim()) {
            return Err(Error::config(format!(
                "--max-abs-error: no column '{}' (columns: {})",
                name.trim(),
                columns.join(", ")
            )));
        }
        out.push((name.trim().to_string(), v));
    }
    Ok((out, None))
}

/// Prints a size report.
pub fn print_report(r: &SizeReport, out: &std::path::Path) {
    let mb = |b: u64| b as f64 / 1e6;
    eprintln!("wrote {} ({} jets in {} blocks)", out.display(), r.rows, r.blocks);
    eprintln!(
        "  original {:.3} MB (float32 rows)  archive {:.3} MB  (latents {:.3} MB, residuals {:.3} MB{})",
        mb(r.original_bytes),
        mb(r.archive_bytes),
        mb(r.latent_bytes),
        mb(r.residual_bytes),
        if r.raw_values > 0 { format!(", {} values stored raw", r.raw_values) } else { String::new() }
    );
    if r.learned_blocks == 0 && r.residual_bytes > 0 && r.latent_bytes == 0 {
        eprintln!("  every block coded without the model: the archive decodes on its own");
    } else if r.learned_blocks > 0 {
        eprintln!("  {} of {} blocks coded against the decoder's predictions", r.learned_blocks, r.blocks);
    }
    if r.encoder_bytes == 0 && r.decoder_bytes == 0 && r.latent_bytes == 0 {
        eprintln!("  ratio {:.2} (no model: the archive is all that decoding needs)", r.ratio);
        return;
    }
    eprintln!(
        "  ratio {:.2}   with the decoder's bytes ({:.3} MB) {:.2}   with the whole model file {:.2}   (encoder {:.3} MB)",
        r.ratio,
        mb(r.decoder_bytes),
        r.ratio_with_decoder,
        r.ratio_with_model,
        mb(r.encoder_bytes)
    );
}

impl CompressArgs {
    /// The model (when two positionals are given) and the data.
    pub fn model_and_data(&self) -> (Option<&std::path::Path>, &std::path::Path) {
        match &self.data {
            Some(d) => (Some(self.first.as_path()), d.as_path()),
            None => (None, self.first.as_path()),
        }
    }
}

pub fn run(args: &CompressArgs) -> Result<()> {
    let (model_path, data_path) = args.model_and_data();
    let bounded = args.max_rel_error.is_some() || args.max_abs_error.is_some();
    if model_path.is_none() {
        let why = if !bounded {
            Some("without --max-rel-error or --max-abs-error the archive stores a model's latents")
        } else if args.learned {
            Some("--learned codes against a model's predictions")
        } else if args.embed_decoder {
            Some("--embed-decoder stores a model")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(Error::config(format!(
                "missing MODEL: {why}; give `hepae compress MODEL DATA` (or an error bound for an archive without a model)"
            )));
        }
    }
    crate::outputs::Guard::new().model(model_path).data(data_path).file("-o", args.output.as_path()).check()?;
    let latent_dtype = args.latent_dtype.unwrap_or(if bounded { LatentDtype::Bf16 } else { LatentDtype::F32 });
    let mantissa = match latent_dtype {
        LatentDtype::F32 => 23,
        LatentDtype::F16 => 10,
        LatentDtype::Bf16 => 7,
    };
    if args.truncate_bits > mantissa {
        return Err(Error::config(format!(
            "--truncate-bits {} is out of range: must be in 0..={mantissa} for --latent-dtype {:?}",
            args.truncate_bits, latent_dtype
        )));
    }
    let model = match model_path {
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|e| Error::io(p, e))?;
            Some((SavedModel::from_bytes(&bytes, p)?, bytes, p))
        }
        None => None,
    };
    let data = super::shard::open(data_path, args.shard)?;
    super::shard::check_not_empty(&data, args.shard)?;
    if let Some((m, _, p)) = &model {
        m.check_data(&data, p)?;
    }
    super::values::check_alloc(
        "--block-rows",
        args.block_rows,
        args.block_rows as u128 * data.cols() as u128,
        16,
        1 << 31,
    )?;
    data.check_finite()?;
    if args.output == data_path {
        return Err(Error::config(format!("{}: refusing to overwrite the input", args.output.display())));
    }
    if let Some(r) = args.max_rel_error {
        if !(r > 0.0 && r < 1.0) {
            return Err(Error::config(format!("--max-rel-error {r} must be in (0, 1)")));
        }
    }
    let (abs, abs_all) = parse_abs(args.max_abs_error.as_deref(), data.columns())?;
    let bounds = bounded.then(|| default_bounds(&data, args.max_rel_error, &abs, abs_all));
    let opt = CompressOptions {
        latent_dtype,
        truncate_bits: args.truncate_bits,
        bounds,
        embed_model: args.embed_decoder,
        block_rows: args.block_rows,
        zstd_level: args.level.clamp(1, 22),
        archive_id: None,
        learned: if args.plain {
            Learned::Off
        } else if args.learned {
            Learned::Force
        } else {
            Learned::Auto
        },
        format: crate::archive::VERSION,
    };
    let mut progress = Progress::new("compress", "jets", data.rows() as u64, args.quiet)?;
    let mut explained = Vec::new();
    let mut on_block = |s: &crate::archive::BlockStats| {
        if args.explain {
            explained.push(s.clone())
        }
    };
    let report = match &model {
        Some((m, bytes, _)) => {
            compress_observed(m, bytes, &data, &args.output, &opt, &mut |r| progress.set(r), &mut on_block)?
        }
        None => compress_plain(&data, &args.output, &opt, &mut |r| progress.set(r), &mut on_block)?,
    };
    progress.finish();
    print_report(&report, &args.output);
    for (b, s) in explained.iter().enumerate() {
        eprintln!(
            "  block {}: {}latents {:.0} B",
            b + 1,
            if s.learned { "learned, " } else { "plain, " },
            s.latent_bits / 8.0
        );
        for (c, (code, bits)) in s.columns.iter().enumerate() {
            eprintln!(
                "    {:<28} {:>9.0} B  {:?}{}",
                data.columns()[c],
                bits / 8.0,
                code.grid,
                code.note(data.columns())
            );
        }
    }
    Ok(())
}
