//! [`TrainConfig`]: everything that decides a training run, its defaults (the seed study's
//! reference net) and the checks of the options a user can get wrong.

use super::schedule::LrSchedule;
use crate::data::normalize::NormKind;
use crate::error::{Error, Result};
use crate::models::shape::{HiddenActivation, ModelKind, OutputActivation, Prior};
use serde::{Deserialize, Serialize};

/// Everything that decides a training run. The defaults are the seed study's reference net.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Trained for compression (`hepae train --for-compression`): a rate-aware loss in place
    /// of the squared error; recorded in the model file. Absent in other models' files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<crate::models::rate::RateLoss>,
    pub hidden: Vec<usize>,
    pub latent: usize,
    /// Epochs; `None`: automatic (a budget sized by the sample, early stopping, cosine lr;
    /// see [`super::schedule`]). `Some(n)`: exactly n epochs.
    pub epochs: Option<usize>,
    /// Rows per optimiser step; `None`: automatic (grows with the sample, at most 512).
    pub batch: Option<usize>,
    /// Rows per forward and backward pass within a shard for a family whose terms are per row
    /// (`Family::micro_batch`); `None`: the family's choice. Not a CLI option: the same
    /// gradient in another summation order (tests compare the two).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub micro_batch: Option<usize>,
    /// Adam learning rate (the peak of a cosine schedule).
    pub lr: f32,
    /// `None`: cosine with automatic epochs, constant with explicit ones.
    #[serde(default)]
    pub lr_schedule: Option<LrSchedule>,
    /// Early-stopping patience in epochs (0: off); `None`: automatic with automatic epochs, off
    /// with explicit ones.
    #[serde(default)]
    pub patience: Option<usize>,
    pub norm: NormKind,
    pub seed: u64,
    pub threads: usize,
    pub val_fraction: f64,
    pub output_activation: OutputActivation,
    pub slope: f32,
    /// LeakyReLU (of `slope`) or PReLU after the hidden layers.
    #[serde(default)]
    pub activation: HiddenActivation,
    /// Multiplies pT and mass before the custom4 log transforms: 1 for GeV data, 1e-3 for MeV.
    pub momentum_to_gev: f32,
    /// Rows per shuffling window; `None` shuffles the whole training split each epoch.
    /// Large datasets use windows so that only a window's pages of the memory map are
    /// resident at a time (see `auto_shuffle_window`).
    pub shuffle_window: Option<usize>,
    /// Model family.
    #[serde(default)]
    pub model: ModelKind,
    /// VAE: weight β of the KL term.
    #[serde(default = "default_beta")]
    pub beta: f32,
    /// VAE: epochs over which β rises linearly from 0 (0 = no warm-up).
    #[serde(default)]
    pub kl_warmup: usize,
    /// VAE: Gaussian decoder that also predicts log σ²ₓ (per-variable NLL loss).
    #[serde(default)]
    pub gaussian_decoder: bool,
    /// Sparse AEs: penalty weight λ.
    #[serde(default = "default_lambda")]
    pub lambda: f32,
    /// Sparse-KL: target mean activation ρ.
    #[serde(default = "default_rho")]
    pub rho: f32,
    /// Denoising: σ of the Gaussian noise on the normalised input.
    #[serde(default = "default_noise")]
    pub noise: f32,
    /// Denoising: masking probability.
    #[serde(default)]
    pub mask: f32,
    /// AAE: the prior the latent is matched to.
    #[serde(default)]
    pub prior: Prior,
    /// AAE: discriminator hidden widths.
    #[serde(default = "default_disc")]
    pub disc_hidden: Vec<usize>,
    /// How threads share a step: split the batch (default), or split each GEMM's rows
    /// (kept to measure the difference; see benches/README.md).
    #[serde(default)]
    pub parallel: Parallel,
    /// Spectral families: the embedding's graph and the latent's pull.
    #[serde(default)]
    pub spectral: crate::models::spectral::SpectralConfig,
    /// The nets' kind: dense layers, or the conv backbone (`--model conv-ae` always is).
    #[serde(default)]
    pub backbone: Backbone,
    /// The conv backbone's architecture (used when the backbone is conv).
    #[serde(default)]
    pub conv: crate::models::conv_ae::ConvOptions,
    /// NAE: every knob of the sampler and the NAE phase (the reference recipe's values).
    #[serde(default)]
    pub nae: crate::models::nae::NaeOptions,
}

/// What the encoder and decoder are made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Backbone {
    /// Dense layers of `--hidden` widths.
    #[default]
    Dense,
    /// Convolutions over an image ([`crate::models::conv_ae`]).
    Conv,
}

impl std::str::FromStr for Backbone {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "dense" => Ok(Backbone::Dense),
            "conv" => Ok(Backbone::Conv),
            _ => Err(Error::config(format!("--backbone '{s}' is not dense or conv"))),
        }
    }
}

/// How a training step uses several threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Parallel {
    /// Each thread runs forward/backward on its share of the batch with its own buffers; one
    /// gradient reduction per step.
    #[default]
    Batch,
    /// One shard; every large GEMM splits its rows across the threads.
    Gemm,
}

impl std::str::FromStr for Parallel {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "batch" => Ok(Parallel::Batch),
            "gemm" => Ok(Parallel::Gemm),
            _ => Err(Error::config(format!("--parallel '{s}' is not batch or gemm"))),
        }
    }
}

fn default_beta() -> f32 {
    1.0
}
fn default_lambda() -> f32 {
    1e-3
}
fn default_rho() -> f32 {
    0.05
}
fn default_noise() -> f32 {
    0.05
}
fn default_disc() -> Vec<usize> {
    vec![64, 64]
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            hidden: vec![200, 100, 50],
            latent: 15,
            epochs: None,
            batch: None,
            micro_batch: None,
            lr: 1e-3,
            lr_schedule: None,
            patience: None,
            norm: NormKind::Minmax,
            seed: 1,
            threads: 1,
            val_fraction: 0.15,
            output_activation: OutputActivation::Linear,
            slope: crate::nn::activation::LEAKY_SLOPE,
            activation: HiddenActivation::Leaky,
            momentum_to_gev: 1.0,
            shuffle_window: None,
            model: ModelKind::Ae,
            beta: default_beta(),
            kl_warmup: 0,
            gaussian_decoder: false,
            lambda: default_lambda(),
            rho: default_rho(),
            noise: default_noise(),
            mask: 0.0,
            prior: Prior::Normal,
            disc_hidden: default_disc(),
            parallel: Parallel::Batch,
            nae: Default::default(),
            spectral: Default::default(),
            backbone: Backbone::Dense,
            conv: Default::default(),
            compression: None,
        }
    }
}

impl TrainConfig {
    /// Whether the model runs on the conv backbone.
    pub fn is_conv(&self) -> bool {
        self.model == ModelKind::ConvAe || self.backbone == Backbone::Conv
    }

    /// Checks the options a user can get wrong.
    pub fn validate(&self) -> Result<()> {
        if self.batch == Some(0) {
            return Err(Error::config("--batch must be at least 1"));
        }
        if self.latent == 0 || self.hidden.contains(&0) {
            return Err(Error::config("layer widths must be at least 1"));
        }
        if !(0.0..1.0).contains(&self.val_fraction) {
            return Err(Error::config(format!("--val-fraction {} must be in [0, 1)", self.val_fraction)));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::config(format!("--lr {} must be a positive number", self.lr)));
        }
        if self.threads == 0 {
            return Err(Error::config("--threads must be at least 1"));
        }
        if !(self.slope.is_finite() && self.slope > 0.0) {
            return Err(Error::config("the LeakyReLU slope must be positive"));
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return Err(Error::config(format!("--beta {} must be ≥ 0", self.beta)));
        }
        if !(self.lambda.is_finite() && self.lambda >= 0.0) {
            return Err(Error::config(format!("--lambda {} must be ≥ 0", self.lambda)));
        }
        if !(self.rho > 0.0 && self.rho < 1.0) {
            return Err(Error::config(format!("--rho {} must be in (0, 1)", self.rho)));
        }
        if !(self.noise.is_finite() && self.noise >= 0.0 && (0.0..1.0).contains(&self.mask)) {
            return Err(Error::config("--noise must be ≥ 0 and --mask in [0, 1)"));
        }
        if self.model == ModelKind::Aae && (self.disc_hidden.is_empty() || self.disc_hidden.contains(&0)) {
            return Err(Error::config("--disc-hidden needs at least one non-zero width"));
        }
        if self.gaussian_decoder && self.model != ModelKind::Vae {
            return Err(Error::config("--gaussian-decoder applies to --model vae only"));
        }
        if self.is_conv() && matches!(self.model, ModelKind::Pca | ModelKind::AePca) {
            return Err(Error::config(format!("--backbone conv does not apply to --model {}", self.model)));
        }
        if self.model == ModelKind::Nae {
            self.nae.validate()?;
        }
        Ok(())
    }
}
