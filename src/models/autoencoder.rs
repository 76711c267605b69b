//! The nets every family is built from, over one flat parameter buffer: encoder and decoder,
//! an optional discriminator on the latent (AAE), and optional frozen whitening and
//! un-whitening stages around them (AE+PCA). [`Autoencoder::encode`] / [`Autoencoder::decode`]
//! are the one place where the whitening stages run and a VAE's μ is sliced from its
//! [μ | log σ²] head and a Gaussian decoder's mean from its [x̂ | log σ²ₓ]: training,
//! validation, evaluation, scoring, [`crate::Encoder`]/[`crate::Decoder`] and the C ABI all go
//! through them.
//!
//! The families (one file each beside this one) compose the training pieces below
//! (`Autoencoder::decode_loss`, `Autoencoder::backward_to_code`,
//! `Autoencoder::backward_encoder`) with their own latent terms.

use super::params::ParamStore;
use super::shape::{AeShape, NetSpecs};
use crate::engine::gemm::Gemm;
use crate::engine::plan::Plan;
use crate::net::Net;
use crate::nn::latent::split_heads;
use crate::nn::loss::{gaussian_nll_forward_backward, mse_forward_backward, weighted_l1_forward_backward};
use rand::SeedableRng;

/// An autoencoder: its nets over one parameter store. Parameters `[0, trainable)` are
/// trained (encoder, decoder, then discriminator); frozen ones (whitening) follow.
#[derive(Clone, Debug, PartialEq)]
pub struct Autoencoder {
    pub shape: AeShape,
    pub params: ParamStore,
    pub encoder: Net,
    pub decoder: Net,
    pub discriminator: Option<Net>,
    pub whiten: Option<Net>,
    pub unwhiten: Option<Net>,
    /// End of the encoder's parameters.
    pub encoder_end: usize,
    /// End of the decoder's parameters (= start of the discriminator's).
    pub decoder_end: usize,
    /// End of the trained parameters.
    pub trainable: usize,
    /// A reduced-precision encoder that runs in place of `encoder` wherever the model encodes
    /// (`hepae quantize`; the encoder's parameters then hold its dequantised weights).
    pub quant: Option<crate::infer::quantized::QuantEncoder>,
}

/// Per-row latent work buffers of a step: N×latent each.
#[derive(Clone, Debug, PartialEq)]
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
}

/// Planned buffers for one forward/backward of an [`Autoencoder`] at a batch size: a plan per
/// net, and the latent work.
#[derive(Clone, Debug, PartialEq)]
pub struct AeBuffers {
    pub batch: usize,
    pub enc: Plan,
    pub dec: Plan,
    /// The discriminator on prior samples and on encoded jets (AAE).
    pub disc: Option<Plan>,
    pub disc_fake: Option<Plan>,
    pub whiten: Option<Plan>,
    pub unwhiten: Option<Plan>,
    /// The encoder's input when it differs from the clean rows (a corrupted copy).
    pub xin: Vec<f32>,
    /// The reconstruction in normalised space, N×D (mean head of a Gaussian decoder).
    pub recon: Vec<f32>,
    pub work: LatentWork,
    /// The quantised encoder's work buffers (empty without one).
    pub qscratch: crate::infer::quantized::QuantScratch,
}

/// Which rows the encoder saw in a training step (its backward reads them again).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncoderInput {
    /// The clean normalised rows.
    Clean,
    /// The corrupted copy in [`AeBuffers::xin`] (denoising).
    Corrupted,
}

impl Autoencoder {
    /// A model of this shape with all parameters zero (call [`Autoencoder::init`], or load
    /// weights).
    pub fn new(shape: AeShape) -> Self {
        let specs = shape.net_specs();
        Self::from_specs(shape, specs)
    }

    /// A model from stored net specs (the shape still names the family's options).
    pub fn from_specs(shape: AeShape, specs: NetSpecs) -> Self {
        let mut params = ParamStore::default();
        let encoder = Net::new(&mut params, "encoder", specs.encoder);
        let encoder_end = params.len();
        let decoder = Net::new(&mut params, "decoder", specs.decoder);
        let decoder_end = params.len();
        let discriminator = specs.discriminator.map(|s| Net::new(&mut params, "discriminator", s));
        let trainable = params.len();
        let whiten = specs.whiten.map(|s| Net::new(&mut params, "whiten", s));
        let unwhiten = specs.unwhiten.map(|s| Net::new(&mut params, "unwhiten", s));
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
            quant: None,
        }
    }

    /// The specs of this model's nets (what the model file stores).
    pub fn net_specs(&self) -> NetSpecs {
        NetSpecs {
            encoder: self.encoder.spec.clone(),
            decoder: self.decoder.spec.clone(),
            discriminator: self.discriminator.as_ref().map(|n| n.spec.clone()),
            whiten: self.whiten.as_ref().map(|n| n.spec.clone()),
            unwhiten: self.unwhiten.as_ref().map(|n| n.spec.clone()),
        }
    }

    /// PyTorch `nn.Linear` default initialisation of the trained nets, in order, from `seed`.
    pub fn init(&mut self, seed: u64) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let p = &mut self.params.data;
        for net in [Some(&self.encoder), Some(&self.decoder), self.discriminator.as_ref()].into_iter().flatten() {
            net.init(p, &mut rng);
        }
    }

    /// Buffers for batches of up to `batch` rows; `with_grads` for training.
    pub fn plan(&self, batch: usize, with_grads: bool) -> AeBuffers {
        self.plan_with(batch, with_grads, Gemm::detect())
    }

    /// [`Autoencoder::plan`] with the GEMMs run as `gemm` says (a row split for
    /// `--parallel gemm`).
    pub fn plan_with(&self, batch: usize, with_grads: bool, gemm: Gemm) -> AeBuffers {
        let plan = |net: &Net, grads: bool| net.plan(batch, grads, gemm);
        self.buffers(
            batch,
            plan(&self.encoder, with_grads),
            plan(&self.decoder, with_grads),
            self.discriminator.as_ref().map(|m| plan(m, with_grads)),
            self.whiten.as_ref().map(|m| plan(m, false)),
            self.unwhiten.as_ref().map(|m| plan(m, with_grads)),
        )
    }

    /// Inference buffers whose plans hold the nets' packed weights, so that batches of a few
    /// rows (a trigger's batch 1) take the small-batch path: no GEMM packing, no allocation, no
    /// thread pool. The packed weights are a snapshot of the parameters now.
    pub fn plan_packed(&self, batch: usize) -> AeBuffers {
        let gemm = Gemm::detect();
        let p = &self.params.data;
        let plan = |net: &Net| net.plan_packed(batch, p, gemm);
        self.buffers(
            batch,
            plan(&self.encoder),
            plan(&self.decoder),
            None,
            self.whiten.as_ref().map(plan),
            self.unwhiten.as_ref().map(plan),
        )
    }

    fn buffers(
        &self,
        batch: usize,
        enc: Plan,
        dec: Plan,
        disc: Option<Plan>,
        whiten: Option<Plan>,
        unwhiten: Option<Plan>,
    ) -> AeBuffers {
        let (d, l) = (self.shape.input, self.shape.latent);
        let lat = |n: usize| vec![0.0f32; n];
        AeBuffers {
            batch,
            enc,
            dec,
            disc_fake: disc.clone(),
            disc,
            whiten,
            unwhiten,
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
            },
            qscratch: self.quant.as_ref().map(|q| q.scratch(batch)).unwrap_or_default(),
        }
    }

    /// Runs the whitening stage (if any) and the encoder on `n` rows of `input`; for a VAE
    /// splits its output into `work.mu` / `work.logvar`. Returns the latent code rows (μ for a
    /// VAE), N×latent.
    pub(crate) fn run_encoder<'b>(&self, input: &[f32], buf: &'b mut AeBuffers, n: usize) -> &'b [f32] {
        let p = &self.params.data;
        let l = self.shape.latent;
        let enc_in: &[f32] = match (&self.whiten, &mut buf.whiten) {
            (Some(w), Some(wb)) => {
                w.forward(p, input, wb, n);
                wb.output(n)
            }
            _ => input,
        };
        match &self.quant {
            Some(q) => q.forward(enc_in, &mut buf.enc, &mut buf.qscratch, n),
            None => self.encoder.forward(p, enc_in, &mut buf.enc, n),
        }
        let out = buf.enc.output(n);
        if self.shape.variational {
            split_heads(&mut buf.work.mu, &mut buf.work.logvar, out, n, l);
            &buf.work.mu[..n * l]
        } else {
            out
        }
    }

    /// Runs the decoder (and the un-whitening stage) from `n` latent rows in `z` and leaves
    /// the reconstruction (normalised space, N×D; the mean of a Gaussian decoder) in `recon`.
    fn run_decoder(&self, z: &[f32], dec: &mut Plan, unwhiten: Option<&mut Plan>, recon: &mut [f32], n: usize) {
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

    // ---- Training pieces the families compose -------------------------------------------

    /// Encodes the step's input rows and copies the code (the encoder's output) into
    /// `work.z`; for a VAE leaves μ and log σ² in `work` (the family then samples z).
    pub(crate) fn encode_train(&self, x: &[f32], buf: &mut AeBuffers, n: usize, input: EncoderInput) {
        let xin = std::mem::take(&mut buf.xin);
        let rows = match input {
            EncoderInput::Clean => x,
            EncoderInput::Corrupted => &xin,
        };
        self.run_encoder(rows, buf, n);
        buf.xin = xin;
        if !self.shape.variational {
            let l = self.shape.latent;
            buf.work.z[..n * l].copy_from_slice(buf.enc.output(n));
        }
    }

    /// Decodes `work.z` and computes the reconstruction loss against the clean rows `x`:
    /// Σ squared error (or Σ Gaussian NLL), returned; its gradient (scaled by 1/`batch_elems`,
    /// N·D of the whole batch over all shards) lands in the last stage's output gradient.
    pub(crate) fn decode_loss(&self, x: &[f32], buf: &mut AeBuffers, n: usize, batch_elems: usize) -> f64 {
        let (d, l) = (self.shape.input, self.shape.latent);
        self.run_decoder(&buf.work.z[..n * l], &mut buf.dec, buf.unwhiten.as_mut(), &mut buf.recon, n);
        if self.shape.gaussian_decoder {
            let (acts, dacts) = buf.dec.output_and_grad_mut();
            let mut sum = 0.0;
            for r in 0..n {
                let (o, g) = (&acts[r * 2 * d..(r + 1) * 2 * d], &mut dacts[r * 2 * d..(r + 1) * 2 * d]);
                let (gm, gv) = g.split_at_mut(d);
                sum += gaussian_nll_forward_backward(gm, gv, &o[..d], &o[d..], &x[r * d..(r + 1) * d], batch_elems);
            }
            sum
        } else if let Some(ub) = buf.unwhiten.as_mut() {
            mse_forward_backward(&mut ub.out_grad_mut()[..n * d], &buf.recon[..n * d], &x[..n * d], batch_elems)
        } else {
            mse_forward_backward(&mut buf.dec.out_grad_mut()[..n * d], &buf.recon[..n * d], &x[..n * d], batch_elems)
        }
    }

    /// [`Self::decode_loss`] with a weighted L1 loss (rate-aware training; see
    /// [`crate::nn::loss::weighted_l1_forward_backward`]) instead of the squared error.
    pub(crate) fn decode_l1(
        &self,
        x: &[f32],
        buf: &mut AeBuffers,
        n: usize,
        batch_elems: usize,
        weight: &impl Fn(usize, f32) -> f32,
    ) -> f64 {
        let (d, l) = (self.shape.input, self.shape.latent);
        self.run_decoder(&buf.work.z[..n * l], &mut buf.dec, buf.unwhiten.as_mut(), &mut buf.recon, n);
        let grad = match buf.unwhiten.as_mut() {
            Some(ub) => &mut ub.out_grad_mut()[..n * d],
            None => &mut buf.dec.out_grad_mut()[..n * d],
        };
        weighted_l1_forward_backward(grad, &buf.recon[..n * d], &x[..n * d], d, batch_elems, weight)
    }

    /// Backward through the un-whitening stage (input gradient only: it is frozen) and the
    /// decoder (parameter gradients added into `grads`), leaving dL/dz in `work.dz`.
    pub(crate) fn backward_to_code(&self, grads: &mut [f32], buf: &mut AeBuffers, n: usize) {
        let (d, l) = (self.shape.input, self.shape.latent);
        let p = &self.params.data;
        if let (Some(u), Some(ub)) = (&self.unwhiten, buf.unwhiten.as_mut()) {
            let (dec_out, ddec) = buf.dec.output_and_grad_mut();
            u.backward(p, None, &dec_out[..n * d], ub, Some(ddec), n);
        }
        self.decoder.backward(p, Some(grads), &buf.work.z[..n * l], &mut buf.dec, Some(&mut buf.work.dz[..]), n);
    }

    /// Encoder backward from dL/d(encoder output) already in the encoder's output gradient,
    /// reading the input it saw (the whitened rows under AE+PCA). Adds into `grads`.
    pub(crate) fn backward_encoder(
        &self,
        grads: &mut [f32],
        x: &[f32],
        buf: &mut AeBuffers,
        n: usize,
        input: EncoderInput,
    ) {
        let p = &self.params.data;
        match (&self.whiten, &buf.whiten) {
            (Some(_), Some(wb)) => self.encoder.backward(p, Some(grads), wb.output(n), &mut buf.enc, None, n),
            _ => {
                let rows: &[f32] = match input {
                    EncoderInput::Clean => x,
                    EncoderInput::Corrupted => &buf.xin,
                };
                self.encoder.backward(p, Some(grads), rows, &mut buf.enc, None, n)
            }
        }
    }
}
