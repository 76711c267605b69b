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
use crate::nn::activation::{sigmoid_inplace, Activation};
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

/// An MLP's weights packed for the small-batch kernel: each layer's weight transposed to
/// input-major [in×out] once, so a batch-1 product accumulates whole output vectors in
/// registers.
#[derive(Clone, Debug)]
struct Packed {
    wt: Vec<f32>,
    offsets: Vec<usize>,
}

impl Packed {
    fn new(mlp: &Mlp, params: &[f32]) -> Self {
        let mut wt = Vec::new();
        let mut offsets = Vec::new();
        for l in &mlp.layers {
            offsets.push(wt.len());
            for q in 0..l.inp {
                for j in 0..l.out {
                    wt.push(params[l.w + j * l.inp + q]);
                }
            }
        }
        Packed { wt, offsets }
    }
}

/// Runs one MLP over `n` rows of `x`, choosing the small kernel or the GEMM path.
fn run_mlp<'b>(mlp: &Mlp, packed: &Packed, params: &[f32], x: &[f32], buf: &'b mut MlpBuffers, n: usize) -> &'b [f32] {
    if n <= SMALL_BATCH {
        let k = hepae_kernels::kernels();
        for (l, layer) in mlp.layers.iter().enumerate() {
            let (before, rest) = buf.acts.split_at_mut(l);
            let inp: &[f32] = if l == 0 { &x[..n * layer.inp] } else { &before[l - 1][..n * layer.inp] };
            let out = &mut rest[0][..n * layer.out];
            let off = packed.offsets[l];
            (k.dense_small)(
                out,
                inp,
                &packed.wt[off..off + layer.inp * layer.out],
                &params[layer.b..layer.b + layer.out],
                n,
                layer.inp,
                layer.out,
                layer.act.fused_slope(),
            );
            if layer.act == Activation::Sigmoid {
                sigmoid_inplace(out);
            }
        }
    } else {
        mlp.forward(params, x, buf, n);
    }
    buf.output(n)
}

/// A chain of MLPs run one after another (whitening, then encoder; or decoder, then
/// un-whitening), each with its planned buffers; the result is the first `width` columns of
/// the last stage's output (μ of a VAE's [μ | log σ²], the mean of a Gaussian decoder).
#[derive(Clone, Debug)]
struct Chain {
    stages: Vec<(Mlp, MlpBuffers, Packed)>,
    params: Vec<f32>,
    width: usize,
}

impl Chain {
    fn new(stages: Vec<Mlp>, params: &[f32], width: usize, max_batch: usize) -> Self {
        let stages = stages
            .into_iter()
            .map(|m| {
                let buf = MlpBuffers::plan(&m, max_batch, false);
                let packed = Packed::new(&m, params);
                (m, buf, packed)
            })
            .collect();
        Chain { stages, params: params.to_vec(), width }
    }
    fn in_dim(&self) -> usize {
        self.stages[0].0.in_dim()
    }
    /// Runs `n` rows of `x` through every stage and copies the first `width` columns of each
    /// output row into `out`.
    fn run(&mut self, x: &[f32], n: usize, out: &mut [f32]) {
        let w = self.width;
        let mut prev: Option<usize> = None;
        for s in 0..self.stages.len() {
            let (done, rest) = self.stages.split_at_mut(s);
            let input: &[f32] = match prev {
                None => x,
                Some(p) => done[p].1.output(n),
            };
            let (mlp, buf, packed) = &mut rest[0];
            run_mlp(mlp, packed, &self.params, input, buf, n);
            prev = Some(s);
        }
        let (mlp, buf, _) = self.stages.last().expect("a chain has a stage");
        let full = mlp.out_dim();
        let y = buf.output(n);
        for r in 0..n {
            out[r * w..(r + 1) * w].copy_from_slice(&y[r * full..r * full + w]);
        }
    }
}

/// Physical-unit jets → latent codes (μ for a VAE).
#[derive(Clone, Debug)]
pub struct Encoder {
    normalizer: Normalizer,
    chain: Chain,
    x: Vec<f32>,
    max_batch: usize,
}

impl Encoder {
    /// An encoder for `model` processing up to `max_batch` rows per internal step.
    pub fn new(model: &SavedModel, max_batch: usize) -> Self {
        let max_batch = max_batch.max(1);
        let ae = &model.ae;
        let stages: Vec<Mlp> = ae.whiten.iter().cloned().chain(std::iter::once(ae.encoder.clone())).collect();
        let chain = Chain::new(stages, &ae.params.data, ae.shape.latent, max_batch);
        Encoder {
            normalizer: model.meta.normalizer.clone(),
            x: vec![0.0; max_batch * chain.in_dim()],
            chain,
            max_batch,
        }
    }

    /// Variables per jet.
    pub fn input_dim(&self) -> usize {
        self.chain.in_dim()
    }

    /// Latent values per jet.
    pub fn latent_dim(&self) -> usize {
        self.chain.width
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
            self.chain.run(&self.x, n, &mut out[done * l..(done + n) * l]);
            done += n;
        }
        Ok(())
    }
}

/// Latent codes → physical-unit jets (the mean of a Gaussian decoder).
#[derive(Clone, Debug)]
pub struct Decoder {
    normalizer: Normalizer,
    chain: Chain,
    max_batch: usize,
}

impl Decoder {
    /// A decoder for `model` processing up to `max_batch` rows per internal step.
    pub fn new(model: &SavedModel, max_batch: usize) -> Self {
        let max_batch = max_batch.max(1);
        let ae = &model.ae;
        let stages: Vec<Mlp> = std::iter::once(ae.decoder.clone()).chain(ae.unwhiten.iter().cloned()).collect();
        let chain = Chain::new(stages, &ae.params.data, ae.shape.input, max_batch);
        Decoder { normalizer: model.meta.normalizer.clone(), chain, max_batch }
    }

    pub fn latent_dim(&self) -> usize {
        self.chain.in_dim()
    }

    pub fn output_dim(&self) -> usize {
        self.chain.width
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
            self.chain.run(&latent[done * l..(done + n) * l], n, dst);
            self.normalizer.denormalize_rows(dst);
            done += n;
        }
    }
}
