//! The encode and decode paths for use outside training: trigger code, compression, scoring.
//!
//! [`Encoder`] takes jets in physical units, applies the model's normaliser and runs the
//! model's [`Autoencoder::encode`]; [`Decoder`] runs [`Autoencoder::decode`] and inverts the
//! normaliser: the same nets and the same forward as training and evaluation. Both plan their
//! buffers once for up to `max_batch` rows, with the nets' packed weights, so that small
//! batches (≤ [`SMALL_BATCH`] rows, batch 1 in a trigger) take the dense op's small-batch
//! path, which neither allocates nor touches rayon; larger batches use the blocked GEMM.

use crate::data::normalize::Normalizer;
use crate::formats::model_file::SavedModel;
use crate::models::{AeBuffers, Autoencoder};

pub use crate::nn::dense::SMALL_BATCH;

/// Why a row could not be encoded: its (row, column) normalised to a non-finite value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadInput {
    /// 0-based row within the call's input.
    pub row: usize,
    /// 0-based column.
    pub col: usize,
}

/// Physical-unit jets → latent codes (μ for a VAE).
#[derive(Clone, Debug)]
pub struct Encoder {
    normalizer: Normalizer,
    model: Autoencoder,
    buf: AeBuffers,
    x: Vec<f32>,
    max_batch: usize,
}

impl Encoder {
    /// An encoder for `model` processing up to `max_batch` rows per internal step.
    pub fn new(model: &SavedModel, max_batch: usize) -> Self {
        let max_batch = max_batch.max(1);
        Encoder {
            normalizer: model.meta.normalizer.clone(),
            x: vec![0.0; max_batch * model.ae.shape.input],
            buf: model.ae.plan_packed(max_batch),
            model: model.ae.clone(),
            max_batch,
        }
    }

    /// Variables per jet.
    pub fn input_dim(&self) -> usize {
        self.model.shape.input
    }

    /// Latent values per jet.
    pub fn latent_dim(&self) -> usize {
        self.model.shape.latent
    }

    /// Encodes `rows` jets from `input` [rows × D] (physical units) into `out`
    /// [rows × latent]. Allocates nothing.
    ///
    /// ```
    /// # use hepae::{Dataset, Model, TrainConfig, Trainer};
    /// # let data = Dataset::open("tests/data/dy_nano_v6.npy".as_ref())?;
    /// # let cfg = TrainConfig { hidden: vec![16], latent: 4, epochs: Some(1), ..TrainConfig::default() };
    /// # let path = std::env::temp_dir().join(format!("hepae-doc-{}-{}.safetensors", std::process::id(), line!()));
    /// # Trainer::new(cfg).fit(&data)?.save(&path)?;
    /// use hepae::Encoder;
    /// let model = Model::load(&path)?;
    /// let mut enc = Encoder::new(&model, 1); // planned for batch 1, as in a trigger
    /// let mut z = vec![0f32; enc.latent_dim()];
    /// for i in 0..data.rows() {
    ///     enc.encode(data.row(i), 1, &mut z).expect("finite jet");
    /// }
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), hepae::Error>(())
    /// ```
    pub fn encode(&mut self, input: &[f32], rows: usize, out: &mut [f32]) -> Result<(), BadInput> {
        let (d, l) = (self.input_dim(), self.latent_dim());
        assert!(input.len() >= rows * d && out.len() >= rows * l, "encode: buffers too small");
        let mut done = 0;
        while done < rows {
            let n = self.max_batch.min(rows - done);
            let x = &mut self.x[..n * d];
            x.copy_from_slice(&input[done * d..(done + n) * d]);
            if let Some(i) = x.iter().position(|v| !v.is_finite()) {
                return Err(BadInput { row: done + i / d, col: i % d });
            }
            self.normalizer.normalize_rows(x).map_err(|b| BadInput { row: done + b.row, col: b.col })?;
            let z = self.model.encode(&self.x, &mut self.buf, n);
            out[done * l..(done + n) * l].copy_from_slice(z);
            done += n;
        }
        Ok(())
    }
}

/// Latent codes → physical-unit jets (the mean of a Gaussian decoder).
#[derive(Clone, Debug)]
pub struct Decoder {
    normalizer: Normalizer,
    model: Autoencoder,
    buf: AeBuffers,
    max_batch: usize,
}

impl Decoder {
    /// A decoder for `model` processing up to `max_batch` rows per internal step.
    pub fn new(model: &SavedModel, max_batch: usize) -> Self {
        let max_batch = max_batch.max(1);
        Decoder {
            normalizer: model.meta.normalizer.clone(),
            buf: model.ae.plan_packed(max_batch),
            model: model.ae.clone(),
            max_batch,
        }
    }

    pub fn latent_dim(&self) -> usize {
        self.model.shape.latent
    }

    pub fn output_dim(&self) -> usize {
        self.model.shape.input
    }

    /// Decodes `rows` latent codes [rows × latent] into `out` [rows × D], physical units.
    /// Allocates nothing.
    pub fn decode(&mut self, latent: &[f32], rows: usize, out: &mut [f32]) {
        let (l, d) = (self.latent_dim(), self.output_dim());
        assert!(latent.len() >= rows * l && out.len() >= rows * d, "decode: buffers too small");
        let mut done = 0;
        while done < rows {
            let n = self.max_batch.min(rows - done);
            let dst = &mut out[done * d..(done + n) * d];
            dst.copy_from_slice(self.model.decode(&latent[done * l..(done + n) * l], &mut self.buf, n));
            self.normalizer.denormalize_rows(dst);
            done += n;
        }
    }
}
