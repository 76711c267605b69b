//! The encode and decode paths for use outside training: trigger code, compression, scoring.
//!
//! [`Encoder`] takes jets in physical units, applies the model's normaliser and runs the
//! encoder MLP; [`Decoder`] runs the decoder and inverts the normaliser. Both plan their
//! buffers once for up to `max_batch` rows. Small batches (≤ [`SMALL_BATCH`] rows, batch 1
//! in a trigger) go through the kernels crate's `dense_small`, which neither allocates nor
//! touches rayon; larger batches use the blocked GEMM.

use crate::data::normalize::Normalizer;
use crate::model_io::SavedModel;
use crate::models::mlp::Mlp;
use crate::plan::MlpBuffers;

/// Batches up to this many rows use the small-GEMM kernel (no packing, no allocation).
pub const SMALL_BATCH: usize = 4;

/// Why a row could not be encoded: its (row, column) normalised to a non-finite value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadInput {
    /// 0-based row within the call's input.
    pub row: usize,
    /// 0-based column.
    pub col: usize,
}

/// Runs one MLP over `n` rows of `x`, choosing the small kernel or the GEMM path.
fn run_mlp<'b>(
    mlp: &Mlp,
    params: &[f32],
    x: &[f32],
    buf: &'b mut MlpBuffers,
    n: usize,
) -> &'b [f32] {
    if n <= SMALL_BATCH {
        let k = hepae_kernels::kernels();
        for (l, layer) in mlp.layers.iter().enumerate() {
            let (before, rest) = buf.acts.split_at_mut(l);
            let inp: &[f32] = if l == 0 {
                &x[..n * layer.inp]
            } else {
                &before[l - 1][..n * layer.inp]
            };
            (k.dense_small)(
                &mut rest[0][..n * layer.out],
                inp,
                &params[layer.w..layer.w + layer.out * layer.inp],
                &params[layer.b..layer.b + layer.out],
                n,
                layer.inp,
                layer.out,
                layer.slope,
            );
        }
    } else {
        mlp.forward(params, x, buf, n);
    }
    buf.output(n)
}

/// Physical-unit jets → latent codes.
#[derive(Clone, Debug)]
pub struct Encoder {
    normalizer: Normalizer,
    mlp: Mlp,
    params: Vec<f32>,
    buf: MlpBuffers,
    x: Vec<f32>,
    max_batch: usize,
}

impl Encoder {
    /// An encoder for `model` processing up to `max_batch` rows per internal step.
    pub fn new(model: &SavedModel, max_batch: usize) -> Self {
        let max_batch = max_batch.max(1);
        let mlp = model.ae.encoder.clone();
        Encoder {
            normalizer: model.meta.normalizer.clone(),
            buf: MlpBuffers::plan(&mlp, max_batch, false),
            x: vec![0.0; max_batch * mlp.in_dim()],
            params: model.ae.params.data.clone(),
            mlp,
            max_batch,
        }
    }

    /// Variables per jet.
    pub fn input_dim(&self) -> usize {
        self.mlp.in_dim()
    }

    /// Latent values per jet.
    pub fn latent_dim(&self) -> usize {
        self.mlp.out_dim()
    }

    /// Encodes `rows` jets from `input` [rows × D] (physical units) into `out`
    /// [rows × latent]. Allocates nothing.
    ///
    /// ```
    /// # use hepae::{Dataset, Model, TrainConfig, Trainer};
    /// # let data = Dataset::open("tests/data/dy_nano_v6.npy".as_ref())?;
    /// # let cfg = TrainConfig { hidden: vec![16], latent: 4, epochs: 1, ..TrainConfig::default() };
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
        assert!(
            input.len() >= rows * d && out.len() >= rows * l,
            "encode: buffers too small"
        );
        let mut done = 0;
        while done < rows {
            let n = self.max_batch.min(rows - done);
            let x = &mut self.x[..n * d];
            x.copy_from_slice(&input[done * d..(done + n) * d]);
            if let Some(i) = x.iter().position(|v| !v.is_finite()) {
                return Err(BadInput {
                    row: done + i / d,
                    col: i % d,
                });
            }
            self.normalizer.normalize_rows(x).map_err(|b| BadInput {
                row: done + b.row,
                col: b.col,
            })?;
            let z = run_mlp(&self.mlp, &self.params, &self.x, &mut self.buf, n);
            out[done * l..(done + n) * l].copy_from_slice(z);
            done += n;
        }
        Ok(())
    }
}

/// Latent codes → physical-unit jets.
#[derive(Clone, Debug)]
pub struct Decoder {
    normalizer: Normalizer,
    mlp: Mlp,
    params: Vec<f32>,
    buf: MlpBuffers,
    max_batch: usize,
}

impl Decoder {
    /// A decoder for `model` processing up to `max_batch` rows per internal step.
    pub fn new(model: &SavedModel, max_batch: usize) -> Self {
        let max_batch = max_batch.max(1);
        let mlp = model.ae.decoder.clone();
        Decoder {
            normalizer: model.meta.normalizer.clone(),
            buf: MlpBuffers::plan(&mlp, max_batch, false),
            params: model.ae.params.data.clone(),
            mlp,
            max_batch,
        }
    }

    pub fn latent_dim(&self) -> usize {
        self.mlp.in_dim()
    }

    pub fn output_dim(&self) -> usize {
        self.mlp.out_dim()
    }

    /// Decodes `rows` latent codes [rows × latent] into `out` [rows × D], physical units.
    /// Allocates nothing.
    pub fn decode(&mut self, latent: &[f32], rows: usize, out: &mut [f32]) {
        let (l, d) = (self.latent_dim(), self.output_dim());
        assert!(
            latent.len() >= rows * l && out.len() >= rows * d,
            "decode: buffers too small"
        );
        let mut done = 0;
        while done < rows {
            let n = self.max_batch.min(rows - done);
            let y = run_mlp(
                &self.mlp,
                &self.params,
                &latent[done * l..(done + n) * l],
                &mut self.buf,
                n,
            );
            let dst = &mut out[done * d..(done + n) * d];
            dst.copy_from_slice(y);
            self.normalizer.denormalize_rows(dst);
            done += n;
        }
    }
}
