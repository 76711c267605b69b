//! The autoencoder every model family is built on: D → hidden… → latent → …hidden → D with
//! LeakyReLU, plus the optional parts the families need:
//! - `variational`: the encoder's last layer emits [μ | log σ²] (2·latent values, linear);
//! - `gaussian_decoder`: the decoder emits [x̂ | log σ²ₓ] (2·D values) for a Gaussian likelihood;
//! - `latent_activation`: LeakyReLU (standard), linear (VAE, AAE, PCA) or sigmoid (sparse-KL);
//! - `discriminator`: an MLP on the latent (adversarial AE);
//! - `whitening`: frozen PCA-whitening layers around the network (AE+PCA).
//!
//! The training step is split into [`Autoencoder::forward_train`] and
//! [`Autoencoder::backward_train`] so that a penalty needing the whole batch (sparse-KL's mean
//! activation ρ̂) can be reduced across threads between the two.

use super::mlp::Mlp;
use super::params::ParamStore;
use crate::nn::activation::Activation;
use crate::nn::init::init_linear;
use crate::nn::loss::{gaussian_nll_forward_backward, mse_forward_backward};
use crate::plan::MlpBuffers;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// Model families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ModelKind {
    #[default]
    #[serde(rename = "ae")]
    Ae,
    #[serde(rename = "vae")]
    Vae,
    #[serde(rename = "sparse-l1")]
    SparseL1,
    #[serde(rename = "sparse-kl")]
    SparseKl,
    #[serde(rename = "aae")]
    Aae,
    #[serde(rename = "denoising")]
    Denoising,
    #[serde(rename = "pca")]
    Pca,
    #[serde(rename = "ae+pca")]
    AePca,
}

impl ModelKind {
    pub const ALL: [ModelKind; 8] = [
        ModelKind::Ae,
        ModelKind::Vae,
        ModelKind::SparseL1,
        ModelKind::SparseKl,
        ModelKind::Aae,
        ModelKind::Denoising,
        ModelKind::Pca,
        ModelKind::AePca,
    ];
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Ae => "ae",
            ModelKind::Vae => "vae",
            ModelKind::SparseL1 => "sparse-l1",
            ModelKind::SparseKl => "sparse-kl",
            ModelKind::Aae => "aae",
            ModelKind::Denoising => "denoising",
            ModelKind::Pca => "pca",
            ModelKind::AePca => "ae+pca",
        }
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ModelKind {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        ModelKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            crate::Error::config(format!(
                "unknown model '{s}' (choose {})",
                ModelKind::ALL.map(|k| k.name()).join(", ")
            ))
        })
    }
}

/// What follows the decoder's last dense layer.
///
/// The default is `Linear`: normalised targets can be negative (standard and custom4
/// normalisers, and η/φ in every scheme), which a LeakyReLU output can reach only through its
/// 0.01 slope, and it is the PyTorch reference harness's default. `Leaky` reproduces the seed
/// study's network exactly (LeakyReLU after every layer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OutputActivation {
    #[default]
    Linear,
    Leaky,
}

impl std::str::FromStr for OutputActivation {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "linear" => Ok(OutputActivation::Linear),
            "leaky" => Ok(OutputActivation::Leaky),
            _ => Err(crate::Error::config(format!("unknown output activation '{s}' (choose linear or leaky)"))),
        }
    }
}

/// What follows the encoder's last layer (the latent code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LatentActivation {
    /// LeakyReLU, as every other layer (the seed study's network).
    #[default]
    Leaky,
    /// Linear: VAE heads, AAE (to match a symmetric prior), PCA.
    Linear,
    /// σ(·): sparse-KL, whose penalty needs activations in (0, 1).
    Sigmoid,
}

/// The prior an AAE matches and `generate` samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Prior {
    /// N(0, I).
    #[default]
    Normal,
    /// U(−1, 1) per dimension.
    Uniform,
}

impl std::str::FromStr for Prior {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "normal" => Ok(Prior::Normal),
            "uniform" => Ok(Prior::Uniform),
            _ => Err(crate::Error::config(format!("unknown prior '{s}' (choose normal or uniform)"))),
        }
    }
}

impl Prior {
    /// Fills `z` with independent draws.
    pub fn sample<R: Rng>(self, z: &mut [f32], rng: &mut R) {
        for v in z.iter_mut() {
            *v = match self {
                Prior::Normal => rng.sample(StandardNormal),
                Prior::Uniform => rng.random_range(-1.0f32..1.0),
            };
        }
    }
}

/// The shape of an autoencoder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AeShape {
    /// Variables per jet, D.
    pub input: usize,
    /// Encoder hidden widths, e.g. [200, 100, 50]; the decoder mirrors them.
    pub hidden: Vec<usize>,
    /// Latent (bottleneck) width.
    pub latent: usize,
    /// LeakyReLU negative slope.
    pub slope: f32,
    pub output_activation: OutputActivation,
    #[serde(default)]
    pub latent_activation: LatentActivation,
    #[serde(default)]
    pub variational: bool,
    #[serde(default)]
    pub gaussian_decoder: bool,
    /// Hidden widths of the AAE discriminator (empty: none).
    #[serde(default)]
    pub discriminator: Vec<usize>,
    #[serde(default)]
    pub whitening: bool,
}

impl AeShape {
    /// A standard autoencoder of this size.
    pub fn standard(
        input: usize,
        hidden: Vec<usize>,
        latent: usize,
        slope: f32,
        output_activation: OutputActivation,
    ) -> Self {
        AeShape {
            input,
            hidden,
            latent,
            slope,
            output_activation,
            latent_activation: LatentActivation::Leaky,
            variational: false,
            gaussian_decoder: false,
            discriminator: Vec::new(),
            whitening: false,
        }
    }
    /// Encoder widths D, h1, …, latent (2·latent when variational).
    pub fn encoder_dims(&self) -> Vec<usize> {
        let mut d = vec![self.input];
        d.extend(&self.hidden);
        d.push(if self.variational { 2 * self.latent } else { self.latent });
        d
    }
    /// Decoder widths latent, …, h1, D (2·D with a Gaussian decoder).
    pub fn decoder_dims(&self) -> Vec<usize> {
        let mut d = vec![self.latent];
        d.extend(self.hidden.iter().rev());
        d.push(if self.gaussian_decoder { 2 * self.input } else { self.input });
        d
    }
    /// Every layer width end to end, D … latent … D (as the reference net is written).
    pub fn layer_dims(&self) -> Vec<usize> {
        let mut d = vec![self.input];
        d.extend(&self.hidden);
        d.push(self.latent);
        d.extend(self.hidden.iter().rev());
        d.push(self.input);
        d
    }
    fn leaky(&self) -> Activation {
        Activation::Leaky { slope: self.slope }
    }
    fn encoder_acts(&self) -> Vec<Activation> {
        let mut a = vec![self.leaky(); self.hidden.len()];
        a.push(match (self.variational, self.latent_activation) {
            (true, _) | (false, LatentActivation::Linear) => Activation::Linear,
            (false, LatentActivation::Leaky) => self.leaky(),
            (false, LatentActivation::Sigmoid) => Activation::Sigmoid,
        });
        a
    }
    fn decoder_acts(&self) -> Vec<Activation> {
        let mut a = vec![self.leaky(); self.hidden.len()];
        a.push(if self.output_activation == OutputActivation::Leaky && !self.gaussian_decoder {
            self.leaky()
        } else {
            Activation::Linear
        });
        a
    }
}

/// An autoencoder: its MLPs over one parameter store. Parameters `[0, trainable)` are
/// trained (encoder, decoder, then discriminator); frozen ones (whitening) follow.
#[derive(Clone, Debug, PartialEq)]
pub struct Autoencoder {
    pub shape: AeShape,
    pub params: ParamStore,
    pub encoder: Mlp,
    pub decoder: Mlp,
    pub discriminator: Option<Mlp>,
    pub whiten: Option<Mlp>,
    pub unwhiten: Option<Mlp>,
    /// End of the encoder's parameters.
    pub encoder_end: usize,
    /// End of the decoder's parameters (= start of the discriminator's).
    pub decoder_end: usize,
    /// End of the trained parameters.
    pub trainable: usize,
}

/// Per-row latent work buffers of a VAE or AAE step: N×latent each.
#[derive(Clone, Debug)]
pub struct LatentWork {
    pub mu: Vec<f32>,
    pub logvar: Vec<f32>,
    pub eps: Vec<f32>,
    pub z: Vec<f32>,
    pub dmu: Vec<f32>,
    pub dlogvar: Vec<f32>,
    pub dz: Vec<f32>,
    /// Σ over this shard's rows of each latent activation (sparse-KL's ρ̂ numerator).
    pub col_sums: Vec<f32>,
    /// One logit per row (discriminator output gradient).
    pub dlogit: Vec<f32>,
}

/// Planned buffers for one forward/backward of an [`Autoencoder`] at a batch size.
#[derive(Clone, Debug)]
pub struct AeBuffers {
    pub batch: usize,
    pub enc: MlpBuffers,
    pub dec: MlpBuffers,
    pub disc: Option<MlpBuffers>,
    pub whiten: Option<MlpBuffers>,
    pub unwhiten: Option<MlpBuffers>,
    /// The encoder's input when it differs from the clean rows (corrupted, or whitened copy).
    pub xin: Vec<f32>,
    /// The reconstruction in normalised space, N×D (mean head of a Gaussian decoder).
    pub recon: Vec<f32>,
    pub work: LatentWork,
}

/// What a training step needs to know beyond the data.
#[derive(Clone, Copy, Debug)]
pub struct StepOptions {
    pub kind: ModelKind,
    /// Weight of the VAE's KL term (after warm-up).
    pub beta: f32,
    /// Weight of the sparsity penalty.
    pub lambda: f32,
    /// Denoising: σ of Gaussian noise on the normalised input.
    pub noise: f32,
    /// Denoising: probability that an input value is set to 0.
    pub mask: f32,
}

/// A step's loss terms (sums over the shard's rows; divided by the batch size by the caller).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepLoss {
    /// Σ squared error (or Gaussian NLL) of the reconstruction.
    pub recon: f64,
    /// Σ of the weighted penalty terms already scaled like `recon` (β·KL, λ·|z|).
    pub penalty: f64,
}

impl Autoencoder {
    /// A model with all parameters zero (call [`Autoencoder::init`], or load weights).
    pub fn new(shape: AeShape) -> Self {
        let mut params = ParamStore::default();
        let encoder = Mlp::new(&mut params, "encoder", &shape.encoder_dims(), &shape.encoder_acts());
        let encoder_end = params.len();
        let decoder = Mlp::new(&mut params, "decoder", &shape.decoder_dims(), &shape.decoder_acts());
        let decoder_end = params.len();
        let discriminator = (!shape.discriminator.is_empty()).then(|| {
            let mut dims = vec![shape.latent];
            dims.extend(&shape.discriminator);
            dims.push(1);
            let mut acts = vec![Activation::Leaky { slope: 0.2 }; shape.discriminator.len()];
            acts.push(Activation::Linear);
            Mlp::new(&mut params, "discriminator", &dims, &acts)
        });
        let trainable = params.len();
        let (whiten, unwhiten) = if shape.whitening {
            let d = shape.input;
            (
                Some(Mlp::new(&mut params, "whiten", &[d, d], &[Activation::Linear])),
                Some(Mlp::new(&mut params, "unwhiten", &[d, d], &[Activation::Linear])),
            )
        } else {
            (None, None)
        };
        Autoencoder {
            shape,
            params,
            encoder,
            decoder,
            discriminator,
            whiten,
            unwhiten,
            encoder_end,
            decoder_end,
            trainable,
        }
    }

    /// PyTorch `nn.Linear` default initialisation of the trained layers, in order, from `seed`.
    pub fn init(&mut self, seed: u64) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let layers: Vec<_> = self
            .encoder
            .layers
            .iter()
            .chain(&self.decoder.layers)
            .chain(self.discriminator.iter().flat_map(|d| &d.layers))
            .cloned()
            .collect();
        for layer in layers {
            let (w, b) = self.params.data.split_at_mut(layer.b);
            init_linear(&mut w[layer.w..layer.w + layer.out * layer.inp], &mut b[..layer.out], layer.inp, &mut rng);
        }
    }

    /// Buffers for batches of up to `batch` rows; `with_grads` for training.
    pub fn plan(&self, batch: usize, with_grads: bool) -> AeBuffers {
        let (d, l) = (self.shape.input, self.shape.latent);
        let lat = |n: usize| vec![0.0f32; n];
        AeBuffers {
            batch,
            enc: MlpBuffers::plan(&self.encoder, batch, with_grads),
            dec: MlpBuffers::plan(&self.decoder, batch, with_grads),
            disc: self.discriminator.as_ref().map(|m| MlpBuffers::plan(m, batch, with_grads)),
            whiten: self.whiten.as_ref().map(|m| MlpBuffers::plan(m, batch, false)),
            unwhiten: self.unwhiten.as_ref().map(|m| MlpBuffers::plan(m, batch, with_grads)),
            xin: vec![0.0; batch * d],
            recon: vec![0.0; batch * d],
            work: LatentWork {
                mu: lat(batch * l),
                logvar: lat(batch * l),
                eps: lat(batch * l),
                z: lat(batch * l),
                dmu: lat(batch * l),
                dlogvar: lat(batch * l),
                dz: lat(batch * l),
                col_sums: lat(l),
                dlogit: lat(batch),
            },
        }
    }

    /// Runs the encoder on `n` rows of `input` (already corrupted if denoising); for a VAE
    /// splits its output into `work.mu` / `work.logvar`. Returns the latent code rows (μ for a
    /// VAE), N×latent.
    fn run_encoder<'b>(&self, input: &[f32], buf: &'b mut AeBuffers, n: usize) -> &'b [f32] {
        let p = &self.params.data;
        let l = self.shape.latent;
        let enc_in: &[f32] = match (&self.whiten, &mut buf.whiten) {
            (Some(w), Some(wb)) => {
                w.forward(p, input, wb, n);
                wb.output(n)
            }
            _ => input,
        };
        self.encoder.forward(p, enc_in, &mut buf.enc, n);
        let out = buf.enc.output(n);
        if self.shape.variational {
            for r in 0..n {
                buf.work.mu[r * l..(r + 1) * l].copy_from_slice(&out[r * 2 * l..r * 2 * l + l]);
                buf.work.logvar[r * l..(r + 1) * l].copy_from_slice(&out[r * 2 * l + l..(r + 1) * 2 * l]);
            }
            &buf.work.mu[..n * l]
        } else {
            out
        }
    }

    /// Runs the decoder from `n` latent rows in `z` and leaves the reconstruction (normalised
    /// space, N×D) in `buf.recon`.
    fn run_decoder(
        &self,
        z: &[f32],
        dec: &mut MlpBuffers,
        unwhiten: Option<&mut MlpBuffers>,
        recon: &mut [f32],
        n: usize,
    ) {
        let p = &self.params.data;
        let d = self.shape.input;
        self.decoder.forward(p, z, dec, n);
        let out = dec.output(n);
        match (&self.unwhiten, unwhiten) {
            (Some(u), Some(ub)) => {
                u.forward(p, out, ub, n);
                recon[..n * d].copy_from_slice(ub.output(n));
            }
            _ if self.shape.gaussian_decoder => {
                for r in 0..n {
                    recon[r * d..(r + 1) * d].copy_from_slice(&out[r * 2 * d..r * 2 * d + d]);
                }
            }
            _ => recon[..n * d].copy_from_slice(out),
        }
    }

    /// Deterministic reconstruction (μ for a VAE, the mean head of a Gaussian decoder) of the
    /// first `n` rows of normalised `x` [N×D]; returns the output rows.
    pub fn forward<'b>(&self, x: &[f32], buf: &'b mut AeBuffers, n: usize) -> &'b [f32] {
        self.run_encoder(x, buf, n);
        let l = self.shape.latent;
        let z: &[f32] = if self.shape.variational { &buf.work.mu[..n * l] } else { buf.enc.output(n) };
        self.run_decoder(z, &mut buf.dec, buf.unwhiten.as_mut(), &mut buf.recon, n);
        &buf.recon[..n * self.shape.input]
    }

    /// Latent codes of the first `n` rows of normalised `x` (μ for a VAE); returns N×latent.
    pub fn encode<'b>(&self, x: &[f32], buf: &'b mut AeBuffers, n: usize) -> &'b [f32] {
        self.run_encoder(x, buf, n)
    }

    /// Reconstruction (normalised space) from latent codes z [N×latent].
    pub fn decode<'b>(&self, z: &[f32], buf: &'b mut AeBuffers, n: usize) -> &'b [f32] {
        self.run_decoder(z, &mut buf.dec, buf.unwhiten.as_mut(), &mut buf.recon, n);
        &buf.recon[..n * self.shape.input]
    }

    /// The decoder's log σ²ₓ head for the last decode (Gaussian decoder only), N×D.
    pub fn decoder_logvar(&self, buf: &AeBuffers, n: usize, out: &mut [f32]) {
        let d = self.shape.input;
        let dec = buf.dec.output(n);
        for r in 0..n {
            out[r * d..(r + 1) * d].copy_from_slice(&dec[r * 2 * d + d..(r + 1) * 2 * d]);
        }
    }

    /// First half of a training step on `n` rows of normalised, clean `x`: corruption
    /// (denoising), encoder, reparameterisation (VAE, with ε from `rng`), decoder, and the
    /// reconstruction loss with its gradient in the decoder's output-gradient buffer.
    /// `batch_elems` is N·D of the whole batch (all shards). Also leaves Σ_rows of each latent
    /// activation in `buf.work.col_sums`. Returns Σ squared error (or Gaussian NLL).
    pub fn forward_train<R: Rng>(
        &self,
        x: &[f32],
        buf: &mut AeBuffers,
        n: usize,
        batch_elems: usize,
        opt: &StepOptions,
        rng: &mut R,
    ) -> f64 {
        let (d, l) = (self.shape.input, self.shape.latent);
        let k = hepae_kernels::kernels();
        let corrupt = opt.kind == ModelKind::Denoising && (opt.noise > 0.0 || opt.mask > 0.0);
        if corrupt {
            super::denoising::corrupt(&mut buf.xin[..n * d], &x[..n * d], opt.noise, opt.mask, rng);
        }
        // The encoder reads `xin` when corrupted; borrow it out to keep `buf` free.
        let xin = std::mem::take(&mut buf.xin);
        let input: &[f32] = if corrupt { &xin } else { x };
        self.run_encoder(input, buf, n);
        buf.xin = xin;
        if self.shape.variational {
            let w = &mut buf.work;
            for e in w.eps[..n * l].iter_mut() {
                *e = rng.sample(StandardNormal);
            }
            (k.reparam_forward)(&mut w.z[..n * l], &w.mu[..n * l], &w.logvar[..n * l], &w.eps[..n * l]);
        } else {
            buf.work.z[..n * l].copy_from_slice(buf.enc.output(n));
        }
        buf.work.col_sums.fill(0.0);
        (k.col_sums_add)(&mut buf.work.col_sums, &buf.work.z[..n * l]);
        self.run_decoder(&buf.work.z[..n * l], &mut buf.dec, buf.unwhiten.as_mut(), &mut buf.recon, n);
        // Reconstruction loss and its gradient w.r.t. the last stage's output.
        if self.shape.gaussian_decoder {
            let last = buf.dec.acts.len() - 1;
            let (acts, dacts) = (&buf.dec.acts[last], &mut buf.dec.dacts[last]);
            let mut sum = 0.0;
            for r in 0..n {
                let (o, g) = (&acts[r * 2 * d..(r + 1) * 2 * d], &mut dacts[r * 2 * d..(r + 1) * 2 * d]);
                let (gm, gv) = g.split_at_mut(d);
                sum += gaussian_nll_forward_backward(gm, gv, &o[..d], &o[d..], &x[r * d..(r + 1) * d], batch_elems);
            }
            sum
        } else if let Some(ub) = buf.unwhiten.as_mut() {
            let last = ub.dacts.len() - 1;
            mse_forward_backward(&mut ub.dacts[last][..n * d], &buf.recon[..n * d], &x[..n * d], batch_elems)
        } else {
            let last = buf.dec.dacts.len() - 1;
            mse_forward_backward(&mut buf.dec.dacts[last][..n * d], &buf.recon[..n * d], &x[..n * d], batch_elems)
        }
    }

    /// Second half of a training step: decoder backward, the family's latent terms (VAE KL
    /// through the reparameterisation; L1 on the code; sparse-KL from `drho`, the gradient
    /// w.r.t. the batch-mean activation ρ̂), encoder backward. Adds parameter gradients into
    /// `grads`. Returns the shard's penalty (scaled like the reconstruction sum).
    pub fn backward_train(
        &self,
        grads: &mut [f32],
        x: &[f32],
        buf: &mut AeBuffers,
        n: usize,
        batch_elems: usize,
        batch_rows: usize,
        opt: &StepOptions,
        drho: Option<&[f32]>,
    ) -> f64 {
        let (d, l) = (self.shape.input, self.shape.latent);
        let p = &self.params.data;
        let k = hepae_kernels::kernels();
        // Decoder (and the frozen un-whitening stage) backward → dL/dz in work.dz.
        if let (Some(u), Some(ub)) = (&self.unwhiten, buf.unwhiten.as_mut()) {
            let last = buf.dec.dacts.len() - 1;
            let dec_out = &buf.dec.acts[last][..n * d];
            u.backward(p, grads, dec_out, ub, Some(&mut buf.dec.dacts[last][..]), n);
        }
        self.decoder.backward(p, grads, &buf.work.z[..n * l], &mut buf.dec, Some(&mut buf.work.dz[..]), n);
        let w = &mut buf.work;
        let mut penalty = 0.0;
        let enc_last = buf.enc.dacts.len() - 1;
        match opt.kind {
            ModelKind::Vae => {
                // loss += β·Σ KL / (N·D): the ELBO per sample, scaled by 1/D like the MSE.
                w.dmu[..n * l].fill(0.0);
                w.dlogvar[..n * l].fill(0.0);
                let scale = opt.beta / batch_elems as f32;
                let kl = (k.kl_normal)(
                    &mut w.dmu[..n * l],
                    &mut w.dlogvar[..n * l],
                    &w.mu[..n * l],
                    &w.logvar[..n * l],
                    scale,
                );
                penalty = opt.beta as f64 * kl;
                (k.reparam_backward)(
                    &mut w.dmu[..n * l],
                    &mut w.dlogvar[..n * l],
                    &w.dz[..n * l],
                    &w.logvar[..n * l],
                    &w.eps[..n * l],
                );
                let g = &mut buf.enc.dacts[enc_last];
                for r in 0..n {
                    g[r * 2 * l..r * 2 * l + l].copy_from_slice(&w.dmu[r * l..(r + 1) * l]);
                    g[r * 2 * l + l..(r + 1) * 2 * l].copy_from_slice(&w.dlogvar[r * l..(r + 1) * l]);
                }
            }
            ModelKind::SparseL1 => {
                // loss += λ·(1/N)·Σ|z|, expressed in units of the reconstruction sum (×D·N/… ).
                let scale = opt.lambda / batch_rows as f32;
                let l1 = (k.l1_penalty)(&mut w.dz[..n * l], &w.z[..n * l], scale);
                penalty = opt.lambda as f64 * l1 * (batch_elems as f64 / batch_rows as f64);
                buf.enc.dacts[enc_last][..n * l].copy_from_slice(&w.dz[..n * l]);
            }
            ModelKind::SparseKl => {
                // ρ̂_j = (1/N)·Σ_n z_nj, so dL/dz_nj = dL/dρ̂_j / N.
                if let Some(drho) = drho {
                    let inv_n = 1.0 / batch_rows as f32;
                    for row in w.dz[..n * l].chunks_exact_mut(l) {
                        for (g, &dr) in row.iter_mut().zip(drho) {
                            *g += dr * inv_n;
                        }
                    }
                }
                buf.enc.dacts[enc_last][..n * l].copy_from_slice(&w.dz[..n * l]);
            }
            _ => buf.enc.dacts[enc_last][..n * l].copy_from_slice(&w.dz[..n * l]),
        }
        // Encoder backward, from the input it saw.
        let corrupt = opt.kind == ModelKind::Denoising && (opt.noise > 0.0 || opt.mask > 0.0);
        match (&self.whiten, &buf.whiten) {
            (Some(_), Some(wb)) => self.encoder.backward(p, grads, wb.output(n), &mut buf.enc, None, n),
            _ => {
                let input: &[f32] = if corrupt { &buf.xin } else { x };
                self.encoder.backward(p, grads, input, &mut buf.enc, None, n)
            }
        }
        penalty
    }

    /// One full step (forward, loss, backward) for families that need no batch-wide
    /// reduction; returns the loss terms.
    pub fn train_shard<R: Rng>(
        &self,
        grads: &mut [f32],
        x: &[f32],
        buf: &mut AeBuffers,
        n: usize,
        batch_elems: usize,
        batch_rows: usize,
        opt: &StepOptions,
        rng: &mut R,
    ) -> StepLoss {
        let recon = self.forward_train(x, buf, n, batch_elems, opt, rng);
        let penalty = self.backward_train(grads, x, buf, n, batch_elems, batch_rows, opt, None);
        StepLoss { recon, penalty }
    }
}
