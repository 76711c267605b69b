//! The two families that combine an autoencoder with spectral embedding (Laplacian
//! eigenmaps, [`crate::manifold`]), the non-linear counterpart of PCA and AE+PCA:
//!
//! - [`Spectral`] (`spectral`): the code *is* the jet's spectral coordinates. Before training,
//!   the embedding of the normalised training rows is computed (on a graph of at most
//!   `max_graph_rows` of them; the rest are placed by the Nyström extension) and standardised.
//!   Two phases per step: the encoder regresses the coordinates, loss Σ‖E(x) − y‖²/(N·L)
//!   (the out-of-sample encoder a compressor needs: jets the graph never saw); the decoder
//!   rebuilds the jet from the encoder's code, loss Σ‖D(E(x)) − x‖²/(N·D) (the training loss).
//! - [`AeSpectral`] (`ae+spectral`): an autoencoder whose latent is pulled towards the spectral
//!   coordinates, loss Σ‖D(z) − x‖²/(N·D) + α·Σ‖z − y‖²/(N·L), one phase over every parameter.
//!
//! Both keep a linear latent (standardised coordinates are signed). The coordinates of the
//! training rows are looked up by dataset row ([`Pass::rows`]); they are fitted state of the
//! run, not of the model: the saved model is its encoder and decoder nets.

use super::ae::code_grad_to_encoder;
use super::autoencoder::{Autoencoder, EncoderInput};
use super::family::{Family, Fit, Pass, Phase};
use super::shape::{AeShape, LatentActivation, ModelKind};
use crate::error::{Error, Location, Result};
use crate::manifold::embed::{laplacian_eigenmaps, SpectralOptions};
use crate::manifold::graph::Weights;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// The spectral families' options (stored in the model's training record).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpectralConfig {
    /// k of the k-NN graph.
    pub neighbours: usize,
    pub weights: Weights,
    /// Training rows the graph is built on at most (a seeded sample; the others by Nyström).
    pub max_graph_rows: usize,
    /// `ae+spectral`: weight α of the latent's pull towards the coordinates.
    pub alpha: f32,
}

impl Default for SpectralConfig {
    fn default() -> Self {
        SpectralConfig { neighbours: 10, weights: Weights::Heat, max_graph_rows: 20_000, alpha: 1.0 }
    }
}

/// What the embedding of a run's training rows gave: per dataset row its standardised
/// coordinates (rows outside the training split hold 0), and the spectrum.
#[derive(Clone, Debug)]
pub struct Targets {
    pub coords: Vec<f32>,
    pub latent: usize,
    /// The normalised Laplacian's eigenvalues λ₁..λ_L.
    pub laplacian: Vec<f64>,
    pub graph_rows: usize,
    pub seconds: f64,
}

/// Embeds the normalised training rows of `fit` into `latent` coordinates.
pub fn fit_targets(fit: &Fit<'_>, latent: usize, cfg: &SpectralConfig, seed: u64) -> Result<Targets> {
    let t0 = std::time::Instant::now();
    let d = fit.data.cols();
    let mut rows = fit.rows.to_vec();
    let graph_rows = rows.len().min(cfg.max_graph_rows.max(latent + 2));
    if rows.len() < latent + 2 || cfg.neighbours >= graph_rows {
        return Err(Error::data(
            Location::file(fit.data.path()),
            format!(
                "spectral embedding: {} training rows for {latent} coordinates from a {}-neighbour graph",
                rows.len(),
                cfg.neighbours
            ),
        ));
    }
    rows.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed ^ 0x5bec_75a1));
    let (graph, rest) = rows.split_at(graph_rows);
    let gather = |r: &[u32]| -> Result<Vec<f32>> {
        let mut x = vec![0.0f32; r.len() * d];
        fit.normalizer.gather_normalized(fit.data, r, &mut x)?;
        Ok(x)
    };
    let opts = SpectralOptions { neighbours: cfg.neighbours, weights: cfg.weights, seed, ..SpectralOptions::default() };
    let emb = laplacian_eigenmaps(&gather(graph)?, d, latent, &opts, None)?;
    let mut coords = vec![0.0f32; fit.data.rows() * latent];
    let mut put = |r: &[u32], y: &[f32]| {
        for (&row, yr) in r.iter().zip(y.chunks_exact(latent)) {
            coords[row as usize * latent..(row as usize + 1) * latent].copy_from_slice(yr);
        }
    };
    put(graph, &emb.coords());
    for chunk in rest.chunks(16_384) {
        put(chunk, &emb.extend(&gather(chunk)?, None));
    }
    Ok(Targets { coords, latent, laplacian: emb.laplacian, graph_rows, seconds: t0.elapsed().as_secs_f64() })
}

/// Adds 2·scale·(z − y) for this shard's rows into `work.dz` (z = `work.z`, the code);
/// returns Σ(z − y)².
fn pull_to_targets(s: &mut Pass<'_>, targets: &Targets, scale: f32) -> f64 {
    let l = targets.latent;
    let mut sum = 0.0f64;
    let w = &mut s.buf.work;
    let (z, dz) = (&w.z, &mut w.dz);
    for (r, &row) in s.rows[..s.n].iter().enumerate() {
        let y = &targets.coords[row as usize * l..(row as usize + 1) * l];
        for j in 0..l {
            let e = z[r * l + j] - y[j];
            sum += (e as f64) * (e as f64);
            dz[r * l + j] += 2.0 * scale * e;
        }
    }
    sum
}

/// `spectral`: the code is the spectral coordinates (see the module doc).
#[derive(Debug, Default)]
pub struct Spectral {
    pub cfg: SpectralConfig,
    pub seed: u64,
    targets: OnceLock<Targets>,
}

impl Spectral {
    pub fn new(cfg: SpectralConfig, seed: u64) -> Self {
        Spectral { cfg, seed, targets: OnceLock::new() }
    }
    /// The fitted coordinates (after [`Family::prepare`]).
    pub fn targets(&self) -> Option<&Targets> {
        self.targets.get()
    }
}

fn linear_latent(base: AeShape) -> AeShape {
    AeShape { latent_activation: LatentActivation::Linear, ..base }
}

impl Family for Spectral {
    fn kind(&self) -> ModelKind {
        ModelKind::Spectral
    }
    fn shape(&self, base: AeShape) -> AeShape {
        linear_latent(base)
    }
    fn prepare(&self, model: &mut Autoencoder, fit: &Fit<'_>) -> Result<()> {
        let t = fit_targets(fit, model.shape.latent, &self.cfg, self.seed)?;
        let _ = self.targets.set(t);
        Ok(())
    }
    fn phases(&self, model: &Autoencoder) -> Vec<Phase> {
        vec![
            Phase { name: "regression", params: 0..model.encoder_end, is_loss: false, batch_stats: false },
            Phase {
                name: "reconstruction",
                params: model.encoder_end..model.decoder_end,
                is_loss: true,
                batch_stats: false,
            },
        ]
    }
    fn forward(&self, phase: usize, s: &mut Pass<'_>, _rng: &mut rand::rngs::StdRng) -> f64 {
        s.model.encode_train(s.x, s.buf, s.n, EncoderInput::Clean);
        if phase == 0 {
            0.0
        } else {
            s.model.decode_loss(s.x, s.buf, s.n, s.step.batch_elems)
        }
    }
    fn backward(&self, phase: usize, s: &mut Pass<'_>, grads: &mut [f32]) -> f64 {
        let Some(targets) = self.targets.get() else { return f64::NAN };
        if phase == 1 {
            // Decoder only: its parameter gradients (dL/dz is computed and left unused).
            s.model.backward_to_code(grads, s.buf, s.n);
            return 0.0;
        }
        let l = targets.latent;
        let nl = s.n * l;
        s.buf.work.dz[..nl].fill(0.0);
        let scale = 1.0 / (s.step.batch_rows * l) as f32;
        let sum = pull_to_targets(s, targets, scale);
        code_grad_to_encoder(s);
        s.model.backward_encoder(grads, s.x, s.buf, s.n, EncoderInput::Clean);
        sum
    }
}

/// `ae+spectral`: an autoencoder with its latent pulled towards the spectral coordinates.
#[derive(Debug, Default)]
pub struct AeSpectral {
    pub cfg: SpectralConfig,
    pub seed: u64,
    targets: OnceLock<Targets>,
}

impl AeSpectral {
    pub fn new(cfg: SpectralConfig, seed: u64) -> Self {
        AeSpectral { cfg, seed, targets: OnceLock::new() }
    }
}

impl Family for AeSpectral {
    fn kind(&self) -> ModelKind {
        ModelKind::AeSpectral
    }
    fn shape(&self, base: AeShape) -> AeShape {
        linear_latent(base)
    }
    fn prepare(&self, model: &mut Autoencoder, fit: &Fit<'_>) -> Result<()> {
        let t = fit_targets(fit, model.shape.latent, &self.cfg, self.seed)?;
        let _ = self.targets.set(t);
        Ok(())
    }
    fn backward(&self, _phase: usize, s: &mut Pass<'_>, grads: &mut [f32]) -> f64 {
        let Some(targets) = self.targets.get() else { return f64::NAN };
        s.model.backward_to_code(grads, s.buf, s.n);
        let (rows, elems, l) = (s.step.batch_rows, s.step.batch_elems, targets.latent);
        // α·Σ(z − y)²/(N·L), in the reconstruction's units (× N·D).
        let scale = self.cfg.alpha / (rows * l) as f32;
        let sum = pull_to_targets(s, targets, scale);
        code_grad_to_encoder(s);
        s.model.backward_encoder(grads, s.x, s.buf, s.n, EncoderInput::Clean);
        self.cfg.alpha as f64 * sum * (elems as f64 / (rows * l) as f64)
    }
}
