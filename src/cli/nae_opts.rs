//! The NAE's options (`--model nae`), declared once for every command that trains. Each
//! defaults to the reference recipe's value ([`NaeOptions::default`]), so no number is
//! written twice.

use crate::error::{Error, Result};
use crate::models::nae::langevin::{Chain, MhRule};
use crate::models::nae::NaeOptions;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct NaeArgs {
    /// NAE: epochs of the NAE phase after the autoencoder pre-training (--epochs, default 100)
    /// [default: 50].
    #[arg(long)]
    pub nae_epochs: Option<usize>,
    /// NAE: Adam learning rate of the NAE phase [default: 1e-5].
    #[arg(long)]
    pub nae_lr: Option<f32>,
    /// NAE: weight γ of the squared negative energies [default: 1].
    #[arg(long)]
    pub nae_gamma: Option<f32>,
    /// NAE: also regularise the squared positive energies with γ.
    #[arg(long)]
    pub nae_gamma_positive: bool,
    /// NAE: temperature T of p(x) ∝ exp(−E(x)/T) [default: 1].
    #[arg(long)]
    pub nae_temperature: Option<f32>,
    /// NAE: weight of Σθ² over encoder and decoder weights [default: 1e-8].
    #[arg(long)]
    pub nae_l2: Option<f32>,
    /// NAE: a plain (not spherical) latent.
    #[arg(long)]
    pub nae_flat_latent: bool,
    /// NAE: replay buffer rows per thread (0: no replay) [default: 10000].
    #[arg(long)]
    pub nae_buffer: Option<usize>,
    /// NAE: probability that a latent chain restarts from the replay buffer [default: 0.95].
    #[arg(long)]
    pub nae_replay_ratio: Option<f32>,
    /// NAE: latent chain steps [default: 30].
    #[arg(long)]
    pub nae_z_steps: Option<usize>,
    /// NAE: latent chain step size λ [default: 100].
    #[arg(long)]
    pub nae_z_step_size: Option<f32>,
    /// NAE: latent chain noise σ [default: 0.01].
    #[arg(long)]
    pub nae_z_noise: Option<f32>,
    /// NAE: latent chain per-row gradient-norm clip (0: none) [default: 0.01].
    #[arg(long)]
    pub nae_z_clip_grad: Option<f32>,
    /// NAE: data-space chain steps [default: 30].
    #[arg(long)]
    pub nae_x_steps: Option<usize>,
    /// NAE: data-space chain step size λ [default: 50].
    #[arg(long)]
    pub nae_x_step_size: Option<f32>,
    /// NAE: data-space chain noise σ (annealed as σ/k) [default: 1e-4].
    #[arg(long)]
    pub nae_x_noise: Option<f32>,
    /// NAE: data-space chain per-row gradient-norm clip (0: none) [default: 0.01].
    #[arg(long)]
    pub nae_x_clip_grad: Option<f32>,
    /// NAE: clamp data-space samples to LO,HI (normalised units; e.g. 0,1 with minmax).
    #[arg(long)]
    pub nae_x_bound: Option<String>,
    /// NAE: Metropolis–Hastings correction in both chains (off by default, as the reference runs).
    #[arg(long)]
    pub nae_mh: bool,
    /// NAE: Metropolis–Hastings rule: langevin (the reference's) or exact [default: langevin].
    #[arg(long)]
    pub nae_mh_rule: Option<MhRule>,
}

fn clip(v: Option<f32>, default: Option<f32>) -> Option<f32> {
    match v {
        Some(0.0) => None,
        Some(c) => Some(c),
        None => default,
    }
}

impl NaeArgs {
    /// The options these flags give (unset flags: the reference's values).
    pub fn options(&self) -> Result<NaeOptions> {
        let d = NaeOptions::default();
        let bound = match &self.nae_x_bound {
            None => None,
            Some(s) => {
                let v: Vec<f32> = s
                    .split(',')
                    .map(|p| p.trim().parse::<f32>())
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|_| Error::config(format!("--nae-x-bound '{s}' is not two numbers LO,HI")))?;
                match v[..] {
                    [lo, hi] => Some([lo, hi]),
                    _ => return Err(Error::config(format!("--nae-x-bound '{s}' is not two numbers LO,HI"))),
                }
            }
        };
        let rule = self.nae_mh_rule.unwrap_or(d.z.mh_rule);
        let z = Chain {
            steps: self.nae_z_steps.unwrap_or(d.z.steps),
            step_size: self.nae_z_step_size.unwrap_or(d.z.step_size),
            noise: self.nae_z_noise.unwrap_or(d.z.noise),
            clip_grad: clip(self.nae_z_clip_grad, d.z.clip_grad),
            mh: d.z.mh || self.nae_mh,
            mh_rule: rule,
            spherical: !self.nae_flat_latent,
            ..d.z
        };
        let x = Chain {
            steps: self.nae_x_steps.unwrap_or(d.x.steps),
            step_size: self.nae_x_step_size.unwrap_or(d.x.step_size),
            noise: self.nae_x_noise.unwrap_or(d.x.noise),
            clip_grad: clip(self.nae_x_clip_grad, d.x.clip_grad),
            mh: d.x.mh || self.nae_mh,
            mh_rule: rule,
            bound,
            ..d.x
        };
        let l2 = self.nae_l2.unwrap_or(d.l2_encoder);
        Ok(NaeOptions {
            epochs: self.nae_epochs.unwrap_or(d.epochs),
            lr: self.nae_lr.unwrap_or(d.lr),
            gamma: self.nae_gamma.unwrap_or(d.gamma),
            gamma_positive: self.nae_gamma_positive,
            temperature: self.nae_temperature.unwrap_or(d.temperature),
            l2_encoder: l2,
            l2_decoder: self.nae_l2.unwrap_or(d.l2_decoder),
            spherical: !self.nae_flat_latent,
            buffer: self.nae_buffer.unwrap_or(d.buffer),
            replay_ratio: self.nae_replay_ratio.unwrap_or(d.replay_ratio),
            z,
            x,
        })
    }
}
