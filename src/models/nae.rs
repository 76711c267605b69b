//! The normalized autoencoder (NAE; Yoon, Noh & Park 2021; for jets Dillon et al. 2023): the
//! reconstruction error is the energy of a normalised density p(x) = exp(−E(x)/T)/Ω,
//! E(x) = ‖x − D(Enc(x))‖²/D per row ([`energy`]), trained so that what the model gives
//! probability to but the data does not gets its energy raised.
//!
//! Training: first `pre_epochs` epochs of the plain autoencoder (phase 0, the reconstruction),
//! then `epochs` NAE epochs (phase 1) whose step per shard is
//! 1. negative samples by on-manifold initialisation: latent chains ([`langevin`]) on
//!    H(z) = E(D(z)) from z ~ N(0, I) projected to the sphere, or from the replay buffer
//!    ([`replay`]) with probability `replay_ratio`; decoded; then data-space chains on E(x);
//! 2. the loss (1/N)·Σ [E(x₊)/T − E(x₋)/T + γ·E(x₋)²] (+ γ·E(x₊)² with `gamma_positive`)
//!    + λ_enc‖θ_enc‖² + λ_dec‖θ_dec‖², its gradient with the negatives held fixed.
//!
//! The defaults are the reference recipe (heidelberg-hepml/normalized-autoencoders,
//! `configs/jet_nae`; benches/compare/nae_reference.md lists them). Differences: the
//! temperature divides both energy terms (the reference NAE omits it unless T is trained; with
//! the default T = 1 they agree); the chains' gradient clip is on each row's norm (the
//! reference's is over the last axis: per 40-pixel image row, for images; the same for tables);
//! the pre-training has no gradient clip (the reference clips ‖∇θ‖ ≤ 0.1) and no early stop;
//! each shard (thread) keeps its own chains and replay buffer, so results depend on the seed and
//! the thread count only.
//!
//! The latent is spherical by default: the encoder ends in the sphere projection
//! ([`crate::nn::sphere`]), so scoring, evaluation and the C ABI see the same energy.

pub mod energy;
pub mod langevin;
pub mod replay;

use super::ae::{code_grad_to_encoder, reconstruction_backward};
use super::autoencoder::{Autoencoder, EncoderInput};
use super::family::{Family, Pass, Phase};
use super::shape::{AeShape, LatentActivation, ModelKind};
use crate::engine::gemm::Gemm;
use crate::error::{Error, Result};
use crate::train::schedule::{LrSchedule, ResolvedSchedule};
use energy::{decode, energies, DataEnergy, EnergyWork, LatentEnergy};
use langevin::{project_rows, run_chain, Chain, ChainStats, ChainWork, MhRule};
use rand::Rng;
use rand_distr::StandardNormal;
use replay::Replay;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// Pre-training epochs when `--epochs` is not given (the reference's `ae_epoch`).
pub const REFERENCE_AE_EPOCHS: usize = 100;

/// Every knob of the NAE, stored in the model file's training record. Defaults: the
/// reference's `configs/jet_nae/jet_test.yml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NaeOptions {
    /// NAE epochs after the pre-training (`nae_epoch`: 50).
    pub epochs: usize,
    /// Adam learning rate of the NAE phase (`nae_lr`: 1e-5); the pre-training uses `--lr`.
    pub lr: f32,
    /// γ of the squared-energy regulariser (`gamma`: 1).
    pub gamma: f32,
    /// Also regularise the positive energies (γ·E(x₊)², as the reference's plain EBM does).
    #[serde(default)]
    pub gamma_positive: bool,
    /// T (`temperature`: 1).
    pub temperature: f32,
    /// Weight of Σθ² over the encoder's parameters (`l2_norm_reg_en`: 1e-8).
    pub l2_encoder: f32,
    /// Weight of Σθ² over the decoder's parameters (`l2_norm_reg`: 1e-8).
    pub l2_decoder: f32,
    /// Spherical latent (`spherical`: true).
    pub spherical: bool,
    /// Replay buffer rows per shard (`buffer_size`: 10 000; 0: no replay).
    pub buffer: usize,
    /// Probability that a latent chain starts from the buffer (`replay_ratio`: 0.95).
    pub replay_ratio: f32,
    /// The latent chain (`z_step` 30, `z_stepsize` 100, `z_noise_std` 0.01,
    /// `z_clip_langevin_grad` 0.01, spherical; MH off, as the reference runs).
    pub z: Chain,
    /// The data-space chain (`x_step` 30, `x_stepsize` 50, `x_noise_std` 1e-4,
    /// `x_clip_langevin_grad` 0.01, `x_noise_anneal` 1, `x_bound` none; MH off).
    pub x: Chain,
}

impl Default for NaeOptions {
    fn default() -> Self {
        let chain = |steps, step_size, noise, noise_anneal, spherical| Chain {
            steps,
            step_size,
            noise,
            clip_grad: Some(0.01),
            // The reference's configs set `mh: true` under `training:`, which never reaches the
            // sampler (`get_nae` passes only `model.nae`): its runs have MH off.
            mh: false,
            mh_rule: MhRule::Langevin,
            noise_anneal,
            bound: None,
            spherical,
        };
        NaeOptions {
            epochs: 50,
            lr: 1e-5,
            gamma: 1.0,
            gamma_positive: false,
            temperature: 1.0,
            l2_encoder: 1e-8,
            l2_decoder: 1e-8,
            spherical: true,
            buffer: 10_000,
            replay_ratio: 0.95,
            z: chain(30, 100.0, 0.01, false, true),
            x: chain(30, 50.0, 1e-4, true, false),
        }
    }
}

impl NaeOptions {
    pub fn validate(&self) -> Result<()> {
        let pos = |v: f32| v.is_finite() && v > 0.0;
        let nonneg = |v: f32| v.is_finite() && v >= 0.0;
        if !pos(self.lr) {
            return Err(Error::config(format!("--nae-lr {} must be a positive number", self.lr)));
        }
        if !pos(self.temperature) {
            return Err(Error::config(format!("--nae-temperature {} must be a positive number", self.temperature)));
        }
        if !(nonneg(self.gamma) && nonneg(self.l2_encoder) && nonneg(self.l2_decoder)) {
            return Err(Error::config("--nae-gamma and --nae-l2 must be ≥ 0"));
        }
        if !(0.0..=1.0).contains(&self.replay_ratio) {
            return Err(Error::config(format!("--nae-replay-ratio {} must be in [0, 1]", self.replay_ratio)));
        }
        self.z.validate("--nae-z")?;
        self.x.validate("--nae-x")
    }
}

/// Positive and negative energies of one NAE epoch (means over its steps' rows), the energy
/// where the data-space chains started (the decoded latent samples), and the chains'
/// Metropolis–Hastings acceptance.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochEnergies {
    pub pos: f64,
    pub neg: f64,
    pub neg_start: f64,
    pub z_accept: f64,
    pub x_accept: f64,
}

/// Negative energies below this fraction of the positive ones: collapsed (the chains find
/// states the model rates far likelier than the data).
pub const COLLAPSE_RATIO: f64 = 1e-2;
/// Negative energies above this multiple of the positive ones (or not finite): diverged.
pub const DIVERGE_RATIO: f64 = 1e3;

impl EpochEnergies {
    /// A warning when the negative energies collapse or diverge.
    pub fn warning(&self) -> Option<String> {
        let what = if !self.neg.is_finite() || !self.pos.is_finite() {
            "are not finite"
        } else if self.neg < COLLAPSE_RATIO * self.pos {
            "collapsed far below the positive energy"
        } else if self.neg > DIVERGE_RATIO * self.pos {
            "diverge far above the positive energy"
        } else {
            return None;
        };
        Some(format!(
            "NAE negative energies {what} (E- {:.3e}, E+ {:.3e}); try smaller --nae-x-step-size/--nae-z-step-size or a lower --nae-lr",
            self.neg, self.pos
        ))
    }
}

/// One shard's chains, replay buffer, negatives and running sums.
#[derive(Clone, Debug, PartialEq)]
pub struct Sampler {
    energy: EnergyWork,
    zwork: ChainWork,
    xwork: ChainWork,
    z: Vec<f32>,
    /// The last step's negative samples (normalised space), N×D.
    pub neg: Vec<f32>,
    replay: Replay,
    e0: Vec<f32>,
    epos: Vec<f32>,
    rows: u64,
    sum_pos: f64,
    sum_neg: f64,
    sum_start: f64,
    zstats: ChainStats,
    xstats: ChainStats,
    /// Rows of `neg` filled by the last step.
    pub last_rows: usize,
}

impl Sampler {
    fn new(model: &Autoencoder, rows: usize, opt: &NaeOptions) -> Self {
        let (d, l) = (model.shape.input, model.shape.latent);
        Sampler {
            energy: EnergyWork::new(model, rows, Gemm::detect()),
            zwork: ChainWork::new(rows, l),
            xwork: ChainWork::new(rows, d),
            z: vec![0.0; rows * l],
            neg: vec![0.0; rows * d],
            replay: Replay::new(opt.buffer, l),
            e0: vec![0.0; rows],
            epos: vec![0.0; rows],
            rows: 0,
            sum_pos: 0.0,
            sum_neg: 0.0,
            sum_start: 0.0,
            zstats: ChainStats::default(),
            xstats: ChainStats::default(),
            last_rows: 0,
        }
    }

    /// Draws `n` negative samples into `neg` (latent chain, decode, data-space chain) with the
    /// model's current parameters; adds their energies to the running sums.
    pub fn sample<R: Rng>(&mut self, model: &Autoencoder, opt: &NaeOptions, n: usize, rng: &mut R) {
        let (d, l) = (model.shape.input, model.shape.latent);
        let t = opt.temperature;
        let ratio = if opt.buffer > 0 { opt.replay_ratio } else { 0.0 };
        self.replay.draw(&mut self.z, n, ratio, rng, &mut |row, rng| {
            row.iter_mut().for_each(|v| *v = rng.sample(StandardNormal));
        });
        if opt.spherical {
            project_rows(&mut self.z[..n * l], l);
        }
        let zs = run_chain(
            &opt.z,
            &mut LatentEnergy { model, work: &mut self.energy },
            &mut self.z,
            n,
            t,
            &mut self.zwork,
            rng,
        );
        self.replay.push(&self.z, n);
        decode(model, &mut self.energy, &self.z, &mut self.neg, n);
        if let Some([lo, hi]) = opt.x.bound {
            self.neg[..n * d].iter_mut().for_each(|v| *v = v.clamp(lo, hi));
        }
        energies(model, &mut self.energy, &self.neg, n, &mut self.e0);
        let xs = run_chain(
            &opt.x,
            &mut DataEnergy { model, work: &mut self.energy },
            &mut self.neg,
            n,
            t,
            &mut self.xwork,
            rng,
        );
        self.zstats.add(zs);
        self.xstats.add(xs);
        self.rows += n as u64;
        self.sum_start += self.e0[..n].iter().map(|&v| v as f64).sum::<f64>();
        self.sum_neg += self.xwork.ex[..n].iter().map(|&v| v as f64).sum::<f64>();
        self.last_rows = n;
    }
}

/// The family: its options, the pre-training epochs, the base learning rate, and each
/// shard's sampler (planned by [`Family::plan`]).
pub struct Nae {
    pub opt: NaeOptions,
    pub pre_epochs: usize,
    /// `--lr`, the pre-training's rate (the NAE phase's is `opt.lr`).
    pub base_lr: f32,
    samplers: Vec<Mutex<Sampler>>,
}

const RECONSTRUCTION: usize = 0;
const NAE: usize = 1;

impl Nae {
    pub fn new(opt: NaeOptions, pre_epochs: usize, base_lr: f32) -> Self {
        Nae { opt, pre_epochs, base_lr, samplers: Vec::new() }
    }

    /// The shard samplers (their last negatives, for figures).
    pub fn samplers(&self) -> impl Iterator<Item = std::sync::MutexGuard<'_, Sampler>> {
        self.samplers.iter().map(|m| m.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// λ‖θ‖² over the encoder and decoder, its gradient added into `grads`; returns the value.
    fn l2(&self, model: &Autoencoder, grads: &mut [f32]) -> f64 {
        let p = &model.params.data;
        let mut sum = 0.0f64;
        for (range, lam) in
            [(0..model.encoder_end, self.opt.l2_encoder), (model.encoder_end..model.decoder_end, self.opt.l2_decoder)]
        {
            if lam == 0.0 {
                continue;
            }
            let mut s = 0.0f64;
            for i in range {
                s += p[i] as f64 * p[i] as f64;
                grads[i] += 2.0 * lam * p[i];
            }
            sum += lam as f64 * s;
        }
        sum
    }

    /// One side of the NAE loss on the shard's buffers: encode and decode `x` (n rows), set
    /// dL/dx̂ = c_r·2(x̂ − x)/D with c_r = `coef(E_r)`, and add the parameter gradients.
    fn energy_pass(&self, s: &mut Pass<'_>, x: &[f32], grads: &mut [f32], coef: &dyn Fn(f32) -> f32) {
        let (model, n) = (s.model, s.n);
        let (d, l) = (model.shape.input, model.shape.latent);
        model.encode_train(x, s.buf, n, EncoderInput::Clean);
        model.decoder.forward(&model.params.data, &s.buf.work.z[..n * l], &mut s.buf.dec, n);
        let (xh, dxh) = s.buf.dec.output_and_grad_mut();
        for r in 0..n {
            let row = r * d..(r + 1) * d;
            let e = x[row.clone()].iter().zip(&xh[row.clone()]).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>()
                / d as f64;
            let c = coef(e as f32) * 2.0 / d as f32;
            for i in row {
                dxh[i] = c * (xh[i] - x[i]);
            }
        }
        model.backward_to_code(grads, s.buf, n);
        code_grad_to_encoder(s);
        model.backward_encoder(grads, x, s.buf, n, EncoderInput::Clean);
    }
}

impl Family for Nae {
    fn kind(&self) -> ModelKind {
        ModelKind::Nae
    }
    fn shape(&self, base: AeShape) -> AeShape {
        AeShape { latent_activation: LatentActivation::Linear, spherical: self.opt.spherical, ..base }
    }
    fn phases(&self, model: &Autoencoder) -> Vec<Phase> {
        vec![
            Phase::reconstruction(model),
            Phase { name: "nae", params: 0..model.trainable, is_loss: true, batch_stats: false },
        ]
    }
    fn schedule(&self, s: &mut ResolvedSchedule) {
        s.max_epochs = self.pre_epochs + self.opt.epochs;
        s.lr_schedule = LrSchedule::Constant;
        s.early_stop = None;
        s.why = format!(
            "nae: {} autoencoder epochs at lr {:e}, then {} NAE epochs at lr {:e}; no early stop; batch: {}",
            self.pre_epochs, self.base_lr, self.opt.epochs, self.opt.lr, s.why
        );
    }
    fn plan(&mut self, model: &Autoencoder, rows: usize, shards: usize) {
        self.samplers = (0..shards).map(|_| Mutex::new(Sampler::new(model, rows, &self.opt))).collect();
    }
    fn active(&self, phase: usize, epoch: usize) -> bool {
        (phase == NAE) == (epoch > self.pre_epochs)
    }
    fn lr_scale(&self, phase: usize) -> f64 {
        if phase == NAE {
            self.opt.lr as f64 / self.base_lr as f64
        } else {
            1.0
        }
    }
    fn end_epoch(&mut self) -> Option<EpochEnergies> {
        let mut rows = 0u64;
        let (mut pos, mut neg, mut start) = (0.0, 0.0, 0.0);
        let (mut zs, mut xs) = (ChainStats::default(), ChainStats::default());
        for m in &self.samplers {
            let mut s = m.lock().unwrap_or_else(|e| e.into_inner());
            rows += s.rows;
            pos += s.sum_pos;
            neg += s.sum_neg;
            start += s.sum_start;
            zs.add(s.zstats);
            xs.add(s.xstats);
            (s.rows, s.sum_pos, s.sum_neg, s.sum_start) = (0, 0.0, 0.0, 0.0);
            (s.zstats, s.xstats) = (ChainStats::default(), ChainStats::default());
        }
        (rows > 0).then(|| {
            let r = rows as f64;
            EpochEnergies {
                pos: pos / r,
                neg: neg / r,
                neg_start: start / r,
                z_accept: zs.acceptance(),
                x_accept: xs.acceptance(),
            }
        })
    }
    fn forward(&self, phase: usize, s: &mut Pass<'_>, rng: &mut rand::rngs::StdRng) -> f64 {
        if phase == RECONSTRUCTION {
            return super::ae::reconstruction_forward(s, EncoderInput::Clean);
        }
        let (model, n) = (s.model, s.n);
        let mut guard = self.samplers[s.shard].lock().unwrap_or_else(|e| e.into_inner());
        let sm = &mut *guard;
        sm.sample(model, &self.opt, n, rng);
        energies(model, &mut sm.energy, s.x, n, &mut sm.epos);
        let (t, g, big_n) = (self.opt.temperature as f64, self.opt.gamma as f64, s.step.batch_rows as f64);
        let mut loss = 0.0;
        for r in 0..n {
            let (ep, en) = (sm.epos[r] as f64, sm.xwork.ex[r] as f64);
            loss += (ep - en) / t + g * en * en + if self.opt.gamma_positive { g * ep * ep } else { 0.0 };
        }
        sm.sum_pos += sm.epos[..n].iter().map(|&v| v as f64).sum::<f64>();
        // In the loop's units (× N·D, like a squared-error sum).
        loss / big_n * s.step.batch_elems as f64
    }
    /// Returns the weight penalty (shard 0 adds it, in the loop's units).
    fn backward(&self, phase: usize, s: &mut Pass<'_>, grads: &mut [f32]) -> f64 {
        let l2 = if s.first == 0 { self.l2(s.model, grads) * s.step.batch_elems as f64 } else { 0.0 };
        if phase == RECONSTRUCTION {
            reconstruction_backward(s, grads, EncoderInput::Clean);
            return l2;
        }
        let guard = self.samplers[s.shard].lock().unwrap_or_else(|e| e.into_inner());
        let (t, g, big_n) = (self.opt.temperature, self.opt.gamma, s.step.batch_rows as f32);
        let gp = self.opt.gamma_positive;
        let x = s.x;
        self.energy_pass(s, x, grads, &|e| 1.0 / (big_n * t) + if gp { 2.0 * g * e / big_n } else { 0.0 });
        self.energy_pass(s, &guard.neg, grads, &|e| -1.0 / (big_n * t) + 2.0 * g * e / big_n);
        l2
    }
}

/// `n` negative samples (normalised space, N×D) of a trained model with options `opt`: chains
/// started afresh (the replay buffer fills as batches of at most 512 go by), seeded.
pub fn sample_negatives(model: &Autoencoder, opt: &NaeOptions, n: usize, seed: u64) -> Vec<f32> {
    use rand::SeedableRng;
    let d = model.shape.input;
    let batch = n.clamp(1, 512);
    let mut s = Sampler::new(model, batch, opt);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n * d);
    while out.len() < n * d {
        let m = (n - out.len() / d).min(batch);
        s.sample(model, opt, m, &mut rng);
        out.extend_from_slice(&s.neg[..m * d]);
    }
    out
}
