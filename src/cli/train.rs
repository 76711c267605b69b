//! `hepae train DATA.npy -o MODEL.safetensors`: the reference autoencoder by default.

use super::{parse_usize_list, sidecar};
use crate::data::normalize::NormKind;
use crate::data::npy::Dataset;
use crate::error::Result;
use crate::formats::model_file::SavedModel;
use crate::io::atomic::write_atomic;
use crate::models::ae::{ModelKind, OutputActivation, Prior};
use crate::train::schedule::{LrSchedule, ResolvedSchedule};
use crate::train::{train_autoencoder_in, EpochRecord, Progress, TrainConfig, World};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// Dataset (f32 NPY from `hepae import`).
    pub data: PathBuf,
    /// Model family: ae, vae, sparse-l1, sparse-kl, aae, denoising, pca, ae+pca, conv-ae, nae.
    #[arg(long, default_value = "ae")]
    pub model: ModelKind,
    /// Model file to write (safetensors).
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub train: TrainOptions,
    /// Train a model meant for `hepae compress` (dense ae only): latent 8 and custom4
    /// normalisation unless given (the best measured for compression), and a rate-aware loss:
    /// the L1 of the reconstruction in units of the archive's grid at --compression-bound, plus
    /// the latents' rate (L1, weight --rate-weight). The model file records it.
    #[arg(long)]
    pub for_compression: bool,
    /// With --for-compression: the relative bound the model is trained for.
    #[arg(long, default_value_t = 1e-3, requires = "for_compression")]
    pub compression_bound: f64,
    /// With --for-compression: weight of the latents' rate (their L1 norm) against the
    /// residuals' (the L1 in grid units, averaged over the columns). Default 0, the best
    /// measured (benches/README: any weight > 0 made the archives larger).
    #[arg(long, default_value_t = 0.0, requires = "for_compression")]
    #[arg(value_parser = super::values::non_negative)]
    pub rate_weight: f32,
    /// Loss history CSV (default: MODEL.history.csv beside the model).
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// No progress bar or per-epoch lines.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The options that decide a training run, declared once for `train`, `compare` and `demo`.
#[derive(clap::Args, Debug, Clone)]
pub struct TrainOptions {
    /// Encoder hidden widths; the decoder mirrors them.
    #[arg(long, default_value = "200,100,50")]
    pub hidden: String,
    /// Latent (bottleneck) width. Default: 15 (dense), 32 (conv backbone).
    #[arg(long)]
    #[arg(value_parser = super::values::latent)]
    pub latent: Option<usize>,
    /// Exactly this many epochs (constant lr, no early stop unless asked). Default: automatic,
    /// 50 epochs raised to reach 10 000 optimiser steps on small samples and lowered to at most
    /// 30 000 on large ones, with early stopping on the validation loss (best epoch kept).
    #[arg(long)]
    #[arg(value_parser = super::values::epochs)]
    pub epochs: Option<usize>,
    /// Rows per optimiser step. Default: training rows/16 as a power of two in [32, 512].
    #[arg(long)]
    #[arg(value_parser = super::values::batch)]
    pub batch: Option<usize>,
    /// Adam learning rate (the peak of a cosine schedule).
    #[arg(long, default_value_t = 1e-3)]
    #[arg(value_parser = super::values::positive)]
    pub lr: f32,
    /// Learning rate over the run: constant or cosine (to lr/100). Default: cosine with
    /// automatic epochs, constant with --epochs.
    #[arg(long)]
    pub lr_schedule: Option<LrSchedule>,
    /// Stop after this many epochs without a better validation loss and keep the best epoch
    /// (0: off). Default: max(10, epochs/10) with automatic epochs, off with --epochs.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Normaliser: minmax, standard or custom4 (log pT, log m, η/5, φ/3; min-max for the rest);
    /// for images (also as --image-norm) pixel (min-max per pixel), total (each image / its
    /// total intensity), log (ln(1 + x/s), s fitted), sqrt (√x per pixel, decoded as y²) or none.
    #[arg(long, default_value = "minmax", alias = "image-norm")]
    pub norm: NormKind,
    /// Seed of the split, the shuffling and the initialisation.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Worker threads (results are identical for the same seed and thread count). Default: all cores.
    #[arg(long)]
    #[arg(value_parser = super::values::threads)]
    pub threads: Option<usize>,
    /// Fraction of rows held out for validation.
    #[arg(long, default_value_t = 0.15)]
    #[arg(value_parser = super::values::fraction)]
    pub val_fraction: f64,
    /// Output layer activation: linear (default; reaches negative normalised values) or leaky (the seed study's).
    #[arg(long, default_value = "linear")]
    pub output_activation: OutputActivation,
    /// LeakyReLU negative slope.
    #[arg(long, default_value_t = 0.01)]
    #[arg(value_parser = super::values::positive)]
    pub slope: f32,
    /// Hidden-layer activation: leaky (LeakyReLU of --slope), prelu (PyTorch's nn.PReLU(): one
    /// learned slope per layer, initially 0.25) or prelu-channel (one learned slope per channel).
    #[arg(long, default_value = "leaky")]
    pub activation: crate::models::shape::HiddenActivation,
    /// Unit of pT and mass in the data (custom4 is defined in GeV): gev or mev.
    #[arg(long, default_value = "gev")]
    pub momentum_unit: String,
    /// VAE: weight β of the KL term (the loss is (Σ squared error + β·Σ KL)/(N·D)).
    #[arg(long, default_value_t = 1.0)]
    #[arg(value_parser = super::values::non_negative)]
    pub beta: f32,
    /// VAE: epochs over which β rises linearly from 0.
    #[arg(long, default_value_t = 0)]
    pub kl_warmup: usize,
    /// VAE: Gaussian decoder that also predicts log σ² per variable (NLL loss; needed for the
    /// reconstruction-probability anomaly score).
    #[arg(long)]
    pub gaussian_decoder: bool,
    /// Sparse AEs: penalty weight λ.
    #[arg(long, default_value_t = 1e-3)]
    #[arg(value_parser = super::values::non_negative)]
    pub lambda: f32,
    /// Sparse-KL: target mean activation ρ of the sigmoid latent.
    #[arg(long, default_value_t = 0.05)]
    #[arg(value_parser = super::values::open_fraction_f32)]
    pub rho: f32,
    /// Denoising: σ of Gaussian noise added to the normalised input.
    #[arg(long, default_value_t = 0.05)]
    #[arg(value_parser = super::values::non_negative)]
    pub noise: f32,
    /// Denoising: probability that an input value is zeroed (masking noise).
    #[arg(long, default_value_t = 0.0)]
    #[arg(value_parser = super::values::fraction_f32)]
    pub mask: f32,
    /// AAE: prior matched by the latent (normal or uniform).
    #[arg(long, default_value = "normal")]
    pub prior: Prior,
    /// AAE: discriminator hidden widths.
    #[arg(long, default_value = "64,64")]
    pub disc_hidden: String,
    /// How threads share a step: batch (split the batch; default) or gemm (split each GEMM's rows).
    #[arg(long, default_value = "batch")]
    pub parallel: crate::train::Parallel,
    /// Spectral families: k of the k-nearest-neighbour graph.
    #[arg(long, default_value_t = 10)]
    #[arg(value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1000))]
    pub spectral_neighbours: usize,
    /// Spectral families: edge weights (heat: self-tuning heat kernel; binary).
    #[arg(long, default_value = "heat")]
    pub spectral_weights: crate::manifold::graph::Weights,
    /// Spectral families: training rows the graph is built on at most (the others are placed
    /// by the Nyström extension).
    #[arg(long, default_value_t = 20_000)]
    #[arg(value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(16..=10_000_000))]
    pub spectral_graph_rows: usize,
    /// ae+spectral: weight α of the latent's pull towards the spectral coordinates.
    #[arg(long, default_value_t = 1.0)]
    #[arg(value_parser = super::values::non_negative)]
    pub spectral_alpha: f32,
    /// What the nets are made of: dense (--hidden) or conv (the --conv-* options; --model
    /// conv-ae always is). The conv backbone runs ae, vae, sparse-l1, sparse-kl, denoising, aae.
    #[arg(long, default_value = "dense")]
    pub backbone: crate::train::Backbone,
    /// Conv backbone: the image shape of a row, CxHxW (e.g. 1x40x40), for a table of C·H·W columns.
    #[arg(long)]
    pub image_shape: Option<String>,
    /// Conv backbone: channels per level; each level after the first halves the image.
    #[arg(long, default_value = "8,16,32")]
    pub conv_channels: String,
    /// Conv backbone: kernel of the convolutions (odd; "same" padding).
    #[arg(long, default_value_t = 3)]
    pub conv_kernel: usize,
    /// Conv backbone: how a level halves the image: stride (a stride-2 conv) or pool (conv, then 2×2 max pool).
    #[arg(long, default_value = "stride")]
    pub conv_down: crate::models::conv_ae::Down,
    /// Conv backbone: how the decoder doubles it: transpose (stride-2 transposed conv), nearest or bilinear (upsampling, then a conv).
    #[arg(long, default_value = "transpose")]
    pub conv_up: crate::models::conv_ae::Up,
    /// Conv backbone: kernel of the transposed convolutions.
    #[arg(long, default_value_t = 4)]
    pub conv_up_kernel: usize,
    #[command(flatten)]
    pub nae: super::nae_opts::NaeArgs,
}

/// "CxHxW" → [C, H, W], each at least 1.
fn parse_image_shape(s: &str) -> Result<[usize; 3]> {
    let bad = || crate::Error::config(format!("--image-shape '{s}' is not CxHxW (e.g. 1x40x40)"));
    let v: Vec<usize> =
        s.split(['x', 'X', ',']).map(|p| p.trim().parse::<usize>().map_err(|_| bad())).collect::<Result<_>>()?;
    match v[..] {
        [c, h, w] if c > 0 && h > 0 && w > 0 => Ok([c, h, w]),
        _ => Err(bad()),
    }
}

impl TrainOptions {
    /// The latent width for family `model`: `--latent`, else 15 for a dense model and 32 (the
    /// reference CNN autoencoder's) on the conv backbone.
    pub fn latent_for(&self, model: ModelKind) -> usize {
        let conv = model == ModelKind::ConvAe || self.backbone == crate::train::Backbone::Conv;
        self.latent.unwrap_or(if conv { 32 } else { 15 })
    }

    /// The configuration for a model of family `model` (`--gaussian-decoder` applies to a VAE only,
    /// so that `compare` can ask for it beside other families).
    pub fn config(&self, model: ModelKind) -> Result<TrainConfig> {
        let momentum_to_gev = match self.momentum_unit.to_ascii_lowercase().as_str() {
            "gev" => 1.0,
            "mev" => 1e-3,
            u => return Err(crate::Error::config(format!("--momentum-unit '{u}' is not gev or mev"))),
        };
        Ok(TrainConfig {
            hidden: parse_usize_list(&self.hidden).map_err(|e| crate::Error::config(format!("--hidden: {e}")))?,
            latent: self.latent_for(model),
            epochs: self.epochs,
            batch: self.batch,
            micro_batch: None,
            lr: self.lr,
            lr_schedule: self.lr_schedule,
            patience: self.patience,
            norm: self.norm,
            seed: self.seed,
            threads: self.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            val_fraction: self.val_fraction,
            output_activation: self.output_activation,
            slope: self.slope,
            activation: self.activation,
            momentum_to_gev,
            shuffle_window: None,
            model,
            beta: self.beta,
            kl_warmup: self.kl_warmup,
            gaussian_decoder: self.gaussian_decoder && model == ModelKind::Vae,
            lambda: self.lambda,
            rho: self.rho,
            noise: self.noise,
            mask: self.mask,
            prior: self.prior,
            parallel: self.parallel,
            spectral: crate::models::spectral::SpectralConfig {
                neighbours: self.spectral_neighbours,
                weights: self.spectral_weights,
                max_graph_rows: self.spectral_graph_rows,
                alpha: self.spectral_alpha,
            },
            disc_hidden: parse_usize_list(&self.disc_hidden)
                .map_err(|e| crate::Error::config(format!("--disc-hidden: {e}")))?,
            nae: self.nae.options()?,
            backbone: self.backbone,
            conv: crate::models::conv_ae::ConvOptions {
                image: self.image_shape.as_deref().map(parse_image_shape).transpose()?,
                channels: parse_usize_list(&self.conv_channels)
                    .map_err(|e| crate::Error::config(format!("--conv-channels: {e}")))?,
                kernel: self.conv_kernel,
                down: self.conv_down,
                up: self.conv_up,
                up_kernel: self.conv_up_kernel,
            },
            compression: None,
        })
    }
}

/// The latent width `--for-compression` uses unless given (latent 8 in bf16 coded the
/// smallest learned archives measured; benches/README).
pub const COMPRESSION_LATENT: usize = 8;

impl TrainArgs {
    pub fn config(&self) -> Result<TrainConfig> {
        if self.train.gaussian_decoder && self.model != ModelKind::Vae {
            return Err(crate::Error::config("--gaussian-decoder applies to --model vae only"));
        }
        let mut cfg = self.train.config(self.model)?;
        if self.for_compression {
            if self.model != ModelKind::Ae || cfg.is_conv() {
                return Err(crate::Error::config("--for-compression trains a dense --model ae only"));
            }
            if !(self.compression_bound > 0.0 && self.compression_bound < 1.0) {
                return Err(crate::Error::config(format!(
                    "--compression-bound {} must be in (0, 1)",
                    self.compression_bound
                )));
            }
            cfg.latent = self.train.latent.unwrap_or(COMPRESSION_LATENT);
            if cfg.norm == NormKind::Minmax {
                cfg.norm = NormKind::Custom4;
            }
            cfg.compression =
                Some(crate::models::rate::RateLoss { bound: self.compression_bound, rate_weight: self.rate_weight });
        }
        Ok(cfg)
    }
}

/// The schedule `cfg` resolves to on a dataset of `rows` rows (the split's training rows).
pub fn schedule_for(cfg: &TrainConfig, rows: usize) -> ResolvedSchedule {
    let n_train = crate::train::schedule::train_rows(rows, cfg.val_fraction);
    let mut s = ResolvedSchedule::resolve(cfg, n_train, rows - n_train);
    crate::models::family_for(cfg).schedule(&mut s);
    s
}

/// "stopped early after epoch E …; kept epoch B" when early stopping ended the run or kept an
/// earlier epoch than the last.
pub fn early_stop_line(out: &crate::train::TrainOutcome) -> Option<String> {
    let best = out.best_epoch?;
    let rec = out.kept_record()?;
    let val = rec.val_loss.map_or("-".into(), |v| format!("{v:.4e}"));
    match out.early_stopped {
        Some(e) => Some(format!(
            "stopped early after epoch {e} ({} epochs without improvement); kept epoch {best} (validation MSE {val})",
            e - best
        )),
        None if best != out.history.len() => {
            Some(format!("kept epoch {best} of {} (validation MSE {val})", out.history.len()))
        }
        None => None,
    }
}

/// The loss history as CSV: epoch,train_loss,val_loss,seconds; a NAE's history adds
/// pos_energy,neg_energy,neg_start_energy,z_accept,x_accept (empty in pre-training epochs).
pub fn history_csv(history: &[EpochRecord]) -> String {
    let nae = history.iter().any(|h| h.energies.is_some());
    let mut s = String::from("epoch,train_loss,val_loss,seconds");
    s.push_str(if nae { ",pos_energy,neg_energy,neg_start_energy,z_accept,x_accept\n" } else { "\n" });
    for h in history {
        let val = h.val_loss.map_or(String::new(), |v| format!("{v:.9e}"));
        s.push_str(&format!("{},{:.9e},{},{:.4}", h.epoch, h.train_loss, val, h.seconds));
        match (&h.energies, nae) {
            (Some(e), _) => s.push_str(&format!(
                ",{:.9e},{:.9e},{:.9e},{:.4},{:.4}",
                e.pos, e.neg, e.neg_start, e.z_accept, e.x_accept
            )),
            (None, true) => s.push_str(",,,,,"),
            (None, false) => {}
        }
        s.push('\n');
    }
    s
}

/// MODEL.history.csv beside the model, or none when the model goes to a device or pipe
/// (`-o /dev/null` must not create `/dev/null.history.csv`).
fn default_history(model: &Path) -> Option<PathBuf> {
    (!crate::io::atomic::is_direct(model)).then(|| sidecar(model, "history.csv"))
}

/// Trains and writes model + history; returns the saved model. Shared by `train` and `demo`.
pub fn train_to_file(
    data_path: &Path,
    out: &Path,
    history: Option<&Path>,
    cfg: &TrainConfig,
    quiet: bool,
) -> Result<SavedModel> {
    train_to_file_in(data_path, out, history, cfg, quiet, World::single())
}

/// [`train_to_file`] as one rank of `world`: rank 0 alone shows progress and writes the model
/// and history; every rank returns the same model.
pub fn train_to_file_in(
    data_path: &Path,
    out: &Path,
    history: Option<&Path>,
    cfg: &TrainConfig,
    quiet: bool,
    world: World,
) -> Result<SavedModel> {
    let (root, ranks) = (world.is_root(), world.size());
    let quiet = quiet || !root;
    let data = Dataset::open(data_path)
        .map_err(|e| crate::infer::quantized::model_given_as_training_data(data_path).unwrap_or(e))?;
    super::values::check_latent("--latent", cfg.latent, cfg.model, &data)?;
    super::values::check_training_memory(cfg.batch.unwrap_or(512), data.rows(), data.cols(), &cfg.hidden, cfg.latent)?;
    let bar = super::progress::EpochBar::new(quiet);
    // The schedule line comes with the start of training, after every check of the input (so
    // that bad input still gives one error line).
    let say =
        (!quiet && cfg.model != crate::models::ae::ModelKind::Pca).then(|| schedule_for(cfg, data.rows()).summary());
    let outcome = train_autoencoder_in(&data, cfg, world, &mut |p| {
        if let (Progress::Start { .. }, Some(line)) = (&p, &say) {
            eprintln!("{line}");
        }
        // NAE: the negative energies' collapse or divergence, as it happens.
        if let Progress::Epoch(rec) = &p {
            if let Some(w) = rec.energies.as_ref().and_then(|e| e.warning()) {
                eprintln!("warning: epoch {}: {w}", rec.epoch);
            }
        }
        bar.update(&p)
    })?;
    bar.finish();
    let saved = SavedModel::from_training(&outcome, cfg, &data);
    if !root {
        return Ok(saved);
    }
    saved.save(out)?;
    let hist_path = history.map(Path::to_path_buf).or_else(|| default_history(out));
    if let Some(p) = &hist_path {
        write_atomic(p, history_csv(&outcome.history).as_bytes())?;
    }
    if let Some(why) = &outcome.stopped {
        eprintln!("warning: {why}");
    }
    if !quiet {
        if let Some(line) = early_stop_line(&outcome) {
            eprintln!("{line}");
        }
        let last = outcome.kept_record();
        eprintln!(
            "trained {} {} on {} ({} train / {} validation rows, {}{} threads): final train loss {}, validation MSE {}",
            saved.meta.kind,
            saved.meta.layer_dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("-"),
            data_path.display(),
            outcome.train_rows,
            outcome.val_rows,
            if ranks > 1 { format!("{ranks} ranks × ") } else { String::new() },
            cfg.threads,
            last.map_or("-".into(), |h| format!("{:.4e}", h.train_loss)),
            last.and_then(|h| h.val_loss).map_or("-".into(), |v| format!("{v:.4e}")),
        );
        match &hist_path {
            Some(h) => eprintln!("wrote {} and {}", out.display(), h.display()),
            None => eprintln!("wrote {}", out.display()),
        }
    }
    if let Some(r) = &cfg.compression {
        eprintln!(
            "trained for compression (rate-aware loss at bound {:e}, rate weight {}): use `hepae compress {} DATA -o OUT.hepz --max-rel-error {:e}` (blocks use it only where it pays)",
            r.bound,
            r.rate_weight,
            out.display(),
            r.bound
        );
    }
    Ok(saved)
}

pub fn run(args: &TrainArgs) -> Result<()> {
    match super::launch::launched_ranks() {
        Some(n) if n > 1 => super::launch::run_ranked(n, |world| run_in(args, world)),
        _ => run_in(args, World::single()),
    }
}

/// `train` as one rank of `world` (rank 0 checks the outputs; every rank learns the outcome).
fn run_in(args: &TrainArgs, mut world: World) -> Result<()> {
    let history = args.history.clone().or_else(|| default_history(&args.output));
    let hist_opt = if args.history.is_some() { "--history" } else { "-o (its loss history)" };
    let checked = if world.is_root() {
        crate::io::outputs::Guard::new()
            .data(args.data.as_path())
            .file("-o", args.output.as_path())
            .text(hist_opt, history.as_deref())
            .check()
    } else {
        Ok(())
    };
    world.agree(checked.map(|()| 0.0), "checking its outputs", |_| {})?;
    let cfg = args.config()?;
    super::values::check_widths("--hidden", &cfg.hidden)?;
    super::values::check_widths("--conv-channels", &cfg.conv.channels)?;
    super::values::check_widths("--disc-hidden", &cfg.disc_hidden)?;
    train_to_file_in(&args.data, &args.output, args.history.as_deref(), &cfg, args.quiet, world).map(|_| ())
}
