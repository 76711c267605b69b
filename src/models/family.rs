//! What a model family is to the training loop: an objective over the encoder and decoder
//! nets ([`Family`]): the shape it needs, what it fits before training, its training phases
//! (each with the parameters it updates), and per phase the forward with its loss terms and
//! the backward. The loop runs the phases a family gives it and knows nothing else about it.

use super::ae::{reconstruction_backward, reconstruction_forward};
use super::autoencoder::{AeBuffers, Autoencoder, EncoderInput};
use super::nae::EpochEnergies;
use super::shape::{AeShape, ModelKind};
use crate::data::normalize::Normalizer;
use crate::data::npy::Dataset;
use crate::error::Result;
use crate::train::schedule::ResolvedSchedule;
use std::ops::Range;

/// One step's batch, as a family's loss terms need it.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    /// 1-based epoch.
    pub epoch: usize,
    /// N: rows of the whole batch (all shards).
    pub batch_rows: usize,
    /// N·D: values of the whole batch (all shards).
    pub batch_elems: usize,
}

/// One shard of a step as a family's forward and backward see it: the model, the shard's
/// workspace, its `n` normalised rows `x` (N×D), and the batch they belong to.
pub struct Pass<'a> {
    pub model: &'a Autoencoder,
    pub buf: &'a mut AeBuffers,
    pub x: &'a [f32],
    pub n: usize,
    /// The dataset rows `x` holds, in order (a family with per-row targets looks them up).
    pub rows: &'a [u32],
    pub step: Step,
    /// The shard's index (0 for a single shard) and its first row in the batch.
    pub shard: usize,
    pub first: usize,
}

/// A training phase: a forward and a backward on every shard, a gradient reduction, and an
/// Adam step (with the phase's own moments) on `params`.
#[derive(Clone, Debug, PartialEq)]
pub struct Phase {
    pub name: &'static str,
    /// The parameters this phase updates.
    pub params: Range<usize>,
    /// Whether its loss is the training loss (summed into the epoch's, checked for NaN/Inf
    /// before any update of the step).
    pub is_loss: bool,
    /// Whether the shards meet between forward and backward ([`Family::combine`]), for a
    /// term over the whole batch (sparse-KL's batch-mean activation).
    pub batch_stats: bool,
}

impl Phase {
    /// The reconstruction phase over every trained parameter.
    pub fn reconstruction(model: &Autoencoder) -> Phase {
        Phase { name: "reconstruction", params: 0..model.trainable, is_loss: true, batch_stats: false }
    }
}

/// The rows a family fits closed-form parts on (the normalised training split).
#[derive(Clone, Copy)]
pub struct Fit<'a> {
    pub data: &'a Dataset,
    pub normalizer: &'a Normalizer,
    pub rows: &'a [u32],
}

/// A model family as an objective. Implementations: one file each in `models/`.
pub trait Family: Send + Sync {
    fn kind(&self) -> ModelKind;
    /// The model's shape from the configured one (`base`: widths, slope, output activation).
    fn shape(&self, base: AeShape) -> AeShape {
        base
    }
    /// A model fitted in closed form (PCA) and its explained-variance fraction; the loop
    /// then runs no steps.
    fn closed_form(&self, _fit: &Fit<'_>, _latent: usize) -> Option<Result<(Autoencoder, f64)>> {
        None
    }
    /// Fits the parts of an initialised model that are not trained (whitening).
    fn prepare(&self, _model: &mut Autoencoder, _fit: &Fit<'_>) -> Result<()> {
        Ok(())
    }
    /// The phases of one training step, in order.
    fn phases(&self, model: &Autoencoder) -> Vec<Phase> {
        vec![Phase::reconstruction(model)]
    }
    /// Called before each epoch (a VAE's KL warm-up).
    fn begin_epoch(&mut self, _epoch: usize) {}
    /// Adjusts the resolved schedule (a family with its own epoch structure: the NAE's
    /// pre-training and NAE epochs).
    fn schedule(&self, _s: &mut ResolvedSchedule) {}
    /// Preallocates the family's own per-shard work (the NAE's chains) for `shards` shards of
    /// up to `rows` rows each, once before training.
    fn plan(&mut self, _model: &Autoencoder, _rows: usize, _shards: usize) {}
    /// Whether phase `phase` runs in epoch `epoch` (1-based); an inactive phase neither
    /// computes nor steps its Adam.
    fn active(&self, _phase: usize, _epoch: usize) -> bool {
        true
    }
    /// The phase's learning rate as a multiple of the schedule's.
    fn lr_scale(&self, _phase: usize) -> f64 {
        1.0
    }
    /// After each epoch: the NAE's positive and negative energies of the epoch, if it ran any
    /// NAE step.
    fn end_epoch(&mut self) -> Option<EpochEnergies> {
        None
    }
    /// Rows per forward and backward pass of phase `phase` within a shard, if its terms are
    /// per row (a sum over rows, normalised by the whole batch): the shard then runs passes
    /// of at most that many rows and adds up their gradients, which is the same gradient
    /// summed in another order, with each pass's activations small enough to stay in the
    /// caches. None (the default): one pass over the shard's rows.
    fn micro_batch(&self, _phase: usize) -> Option<usize> {
        None
    }
    /// Phase `phase`'s forward on one shard: returns its loss sum (the reconstruction's, in
    /// units of Σ squared error) and leaves the gradient of the loss with respect to the nets'
    /// outputs in their plans. By default the standard autoencoder's reconstruction
    /// ([`super::ae`]).
    fn forward(&self, _phase: usize, s: &mut Pass<'_>, _rng: &mut rand::rngs::StdRng) -> f64 {
        reconstruction_forward(s, EncoderInput::Clean)
    }
    /// Between forward and backward of a `batch_stats` phase: the batch-wide term from every
    /// shard that ran; returns its loss (scaled like the forward's).
    fn combine(&mut self, _phase: usize, _shards: &mut dyn Iterator<Item = &AeBuffers>, _step: &Step) -> f64 {
        0.0
    }
    /// Phase `phase`'s backward on the same shard: adds parameter gradients into `grads` and
    /// returns the shard's penalty terms (scaled like the forward's loss). By default the
    /// standard autoencoder's.
    fn backward(&self, _phase: usize, s: &mut Pass<'_>, grads: &mut [f32]) -> f64 {
        reconstruction_backward(s, grads, EncoderInput::Clean);
        0.0
    }
}
