//! The encode and decode paths for use outside training: trigger code, compression, scoring.
//!
//! [`Encoder`] takes jets in physical units, applies the model's normaliser and runs the
//! model's [`Autoencoder::encode`]; [`Decoder`] runs [`Autoencoder::decode`] and inverts the
//! normaliser: the same nets and the same forward as training and evaluation. Both plan their
//! buffers once for up to `max_batch` rows, with the nets' packed weights, so that small
//! batches (≤ [`SMALL_BATCH`] rows, batch 1 in a trigger) take the dense op's small-batch
//! path, which neither allocates nor touches rayon; larger batches use the blocked GEMM.
//!
//! The trigger's path: where the encoder (with its whitening stage, if any) is a chain of
//! dense layers with LeakyReLU or linear outputs, small batches run the whole chain in one
//! kernel call ([`hepae_kernels::Kernels::mlp_forward`], weights packed once into one aligned
//! stream), with the same bits as the net's forward (tested); batches of [`TILED_MIN_ROWS`]
//! rows or more run the whole chain in row tiles ([`hepae_kernels::Kernels::mlp_batch`]), with the bits of the net's
//! GEMM forward (tested); and where every column's normaliser is affine, copying, checking
//! and normalising the jets is one pass (inside `mlp_batch` for large batches).
//!
//! The image models' path: where the encoder is convolutions, a flatten and dense layers (the
//! conv autoencoder and its VAE with stride-2 downsampling), every batch runs one image at a
//! time through the fused direct-convolution encoder ([`super::conv_fused`]), after the same
//! normaliser; latents agree with the net's forward to float rounding (tested).

use super::conv_fused::ConvFused;
use crate::data::normalize::{ColumnTransform, Normalizer};
use crate::engine::gemm::GemmBackend;
use crate::formats::model_file::SavedModel;
use crate::models::{AeBuffers, Autoencoder};
use crate::net::Net;
use hepae_kernels::mlp::{MlpLayerSpec, MlpPack};
use hepae_kernels::mlp_batch::{Affine, MlpBatchPack};
use hepae_kernels::{Isa, Kernels};

pub use crate::nn::dense::SMALL_BATCH;

/// Rows per internal step of a large encode: one step's activations (256 rows of 365 floats,
/// 365 KB for the reference net) stay in L2 from layer to layer, where 4096 rows would stream
/// the first layer's 3.2 MB output through L3 (benches/README.md).
pub const STEP_ROWS: usize = 256;

/// Steps of at least this many rows run the row-tiled kernel (`mlp_batch`); from
/// [`SMALL_BATCH`] + 1 up to here the GEMM path, with the same bits, is as fast or faster
/// (a 16-row tile for 5 rows: benches/README.md).
pub const TILED_MIN_ROWS: usize = 8;

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
    /// Per column (shift, scale) when every column's transform is affine.
    affine: Option<(Vec<f32>, Vec<f32>)>,
    model: Autoencoder,
    buf: AeBuffers,
    x: Vec<f32>,
    max_batch: usize,
    kernels: &'static Kernels,
    fused: Option<Fused>,
    batch: Option<FusedBatch>,
    conv: Option<ConvFused>,
}

/// The whole encoder chain packed for the row-tiled kernel (steps of [`TILED_MIN_ROWS`] rows or more).
#[derive(Clone, Debug)]
struct FusedBatch {
    pack: MlpBatchPack,
    scratch: Vec<f32>,
}

/// The whole encoder chain packed for one kernel call, and its buffers.
#[derive(Clone, Debug)]
struct Fused {
    pack: MlpPack,
    scratch: Vec<f32>,
    /// The chain's output rows (SMALL_BATCH × its width) where that is not the latent
    /// (a VAE's [μ | log σ²]).
    head: Vec<f32>,
}

impl Encoder {
    /// An encoder for `model` processing up to `max_batch` rows per internal step (at most
    /// [`STEP_ROWS`]; a call may pass any number of rows), on the process's kernel set.
    pub fn new(model: &SavedModel, max_batch: usize) -> Self {
        Self::build(model, max_batch, hepae_kernels::kernels())
    }

    /// [`Encoder::new`] on the kernels of `isa` (every product of this encoder, small
    /// batches and GEMMs), or None if this CPU lacks them: `hepae bench` measures each ISA in
    /// one run this way, with no process-wide setting.
    pub fn with_isa(model: &SavedModel, max_batch: usize, isa: Isa) -> Option<Self> {
        hepae_kernels::kernels_for(isa).map(|k| Self::build(model, max_batch, k))
    }

    fn build(model: &SavedModel, max_batch: usize, kernels: &'static Kernels) -> Self {
        let max_batch = max_batch.clamp(1, STEP_ROWS);
        let conv = ConvFused::new(&model.ae, kernels.isa);
        // The fused conv encoder never runs the net: its plan (tens of MB at 256 rows of
        // images, copied with every clone) is made for one row until `without_fusion`.
        let buf = plan(&model.ae, if conv.is_some() { 1 } else { max_batch }, kernels);
        let affine = affine_columns(&model.meta.normalizer);
        // The batch kernel gives the packed GEMM's bits; another backend keeps its own. The
        // scalar set keeps its portable GEMM too (same bits): both are bound by the libm
        // `mul_add` of every product, and its tiles index less (77 against 92 µs/jet).
        let packed_gemm = buf.enc.gemm.backend == GemmBackend::Packed && kernels.isa != Isa::Scalar;
        let chain = dense_chain(&model.ae);
        Encoder {
            normalizer: model.meta.normalizer.clone(),
            affine,
            x: vec![0.0; max_batch * model.ae.shape.input],
            buf,
            fused: chain.as_ref().map(|specs| fuse(specs, kernels.isa)),
            batch: chain
                .as_ref()
                .filter(|_| packed_gemm)
                .map(|specs| fuse_batch(specs, kernels.isa, model.ae.shape.latent)),
            conv,
            model: model.ae.clone(),
            max_batch,
            kernels,
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

    /// The kernel set this encoder runs on.
    pub fn isa(&self) -> Isa {
        self.kernels.isa
    }

    /// Whether batches of up to [`SMALL_BATCH`] rows run a fused path: the whole dense encoder
    /// in one kernel call, or the fused conv encoder ([`Encoder::is_conv_fused`]).
    pub fn is_fused(&self) -> bool {
        self.fused.is_some() || self.conv.is_some()
    }

    /// Whether every batch runs the fused conv encoder (direct convolutions, then the dense
    /// chain kernel; [`super::conv_fused`]).
    pub fn is_conv_fused(&self) -> bool {
        self.conv.is_some()
    }

    /// Whether batches of [`TILED_MIN_ROWS`] rows or more run the whole encoder in row tiles
    /// in one kernel call.
    pub fn is_batch_fused(&self) -> bool {
        self.batch.is_some()
    }

    /// The path a call of `batch` rows takes: `fused-conv` ([`Encoder::is_conv_fused`]),
    /// `fused-dense` (the chain in one kernel call), `row-tiled` (the chain in row tiles),
    /// `quantized` (a reduced-precision encoder's kernels) or `per-op` (the net's forward).
    pub fn path_at(&self, batch: usize) -> &'static str {
        let step = batch.clamp(1, self.max_batch);
        if self.conv.is_some() {
            "fused-conv"
        } else if self.model.quant.is_some() {
            "quantized"
        } else if step >= TILED_MIN_ROWS && self.batch.is_some() {
            "row-tiled"
        } else if step <= SMALL_BATCH && self.fused.is_some() {
            "fused-dense"
        } else {
            "per-op"
        }
    }

    /// This encoder on the net's per-op path at every batch size instead of the fused
    /// chains (same bits: the tests compare the two, benches can time both).
    pub fn without_fusion(mut self) -> Self {
        self.fused = None;
        self.batch = None;
        if self.conv.take().is_some() {
            self.buf = plan(&self.model, self.max_batch, self.kernels);
        }
        self
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
            let src = &input[done * d..(done + n) * d];
            let dst = &mut out[done * l..(done + n) * l];
            if n >= TILED_MIN_ROWS {
                if let Some(b) = &mut self.batch {
                    // Normalised inside the kernel where the map is affine, else here first.
                    let ok = match &self.affine {
                        Some((shift, scale)) => (self.kernels.mlp_batch)(
                            dst,
                            src,
                            n,
                            &b.pack,
                            Some(Affine { shift, scale }),
                            &mut b.scratch,
                        ),
                        None => {
                            normalize_into(&mut self.x, src, d, None, &self.normalizer)
                                .map_err(|b| BadInput { row: done + b.row, ..b })?;
                            (self.kernels.mlp_batch)(dst, &self.x[..n * d], n, &b.pack, None, &mut b.scratch)
                        }
                    };
                    if ok {
                        done += n;
                        continue;
                    }
                    // A value is not finite: the general pass finds it and reports it as
                    // before (and were it to find none, the net's path encodes the rows).
                }
            }
            self.normalize(src).map_err(|b| BadInput { row: done + b.row, ..b })?;
            if let Some(c) = &mut self.conv {
                c.encode(self.kernels, &self.x[..n * d], n, dst, l);
                done += n;
                continue;
            }
            match &mut self.fused {
                Some(f) if n <= SMALL_BATCH => {
                    let x = &self.x[..n * d];
                    let w = f.pack.out_dim();
                    if w == l {
                        (self.kernels.mlp_forward)(dst, x, n, &f.pack, &mut f.scratch);
                    } else {
                        let head = &mut f.head[..n * w];
                        (self.kernels.mlp_forward)(head, x, n, &f.pack, &mut f.scratch);
                        for (z, h) in dst.chunks_exact_mut(l).zip(head.chunks_exact(w)) {
                            z.copy_from_slice(&h[..l]); // μ of [μ | log σ²]
                        }
                    }
                }
                _ => dst.copy_from_slice(self.model.encode(&self.x, &mut self.buf, n)),
            }
            done += n;
        }
        Ok(())
    }

    /// `src` (n rows, physical units) normalised into `self.x[..src.len()]`; the first value
    /// that is not finite before or after normalising is an error (row within `src`).
    fn normalize(&mut self, src: &[f32]) -> Result<(), BadInput> {
        let d = self.input_dim();
        normalize_into(&mut self.x, src, d, self.affine.as_ref(), &self.normalizer)
    }
}

/// The net's buffers for `max_batch` rows with packed weights, every product on `kernels`.
fn plan(ae: &Autoencoder, max_batch: usize, kernels: &Kernels) -> AeBuffers {
    let mut buf = ae.plan_packed(max_batch);
    for plan in [Some(&mut buf.enc), buf.whiten.as_mut()].into_iter().flatten() {
        plan.gemm = plan.gemm.on_isa(kernels.isa).unwrap_or(plan.gemm);
    }
    buf.qscratch.on_isa(kernels.isa);
    buf
}

/// `src` (rows of `d` values, physical units) normalised into `x[..src.len()]`, in one pass
/// where `affine` is given; the first value that is not finite before or after normalising
/// is an error (row within `src`).
fn normalize_into(
    x: &mut [f32],
    src: &[f32],
    d: usize,
    affine: Option<&(Vec<f32>, Vec<f32>)>,
    normalizer: &Normalizer,
) -> Result<(), BadInput> {
    let x = &mut x[..src.len()];
    if let Some((shift, scale)) = affine {
        if affine_into(x, src, shift, scale) {
            return Ok(());
        }
        // Something is not finite: find it exactly as the general path reports it.
    }
    x.copy_from_slice(src);
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(BadInput { row: i / d, col: i % d });
    }
    normalizer.normalize_rows(x).map_err(|b| BadInput { row: b.row, col: b.col })
}

/// Every column's (shift, scale) if the normaliser is affine throughout.
fn affine_columns(n: &Normalizer) -> Option<(Vec<f32>, Vec<f32>)> {
    n.transforms
        .iter()
        .map(|t| match *t {
            ColumnTransform::Affine { shift, scale } => Some((shift, scale)),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .filter(|v| !v.is_empty())
        .map(|v| v.into_iter().unzip())
}

/// dst = (src − shift) / scale per column (as [`ColumnTransform::forward`] computes it), in one
/// pass; whether every result is finite.
fn affine_into(dst: &mut [f32], src: &[f32], shift: &[f32], scale: &[f32]) -> bool {
    let d = shift.len();
    let mut ok = true;
    for (drow, srow) in dst.chunks_exact_mut(d).zip(src.chunks_exact(d)) {
        for (((y, &x), &s), &c) in drow.iter_mut().zip(srow).zip(shift).zip(scale) {
            *y = (x - s) / c;
            ok &= y.is_finite();
        }
    }
    ok
}

/// The encoder (after its whitening stage, if any) as one dense chain, if every op is dense
/// with a LeakyReLU or linear output (a sigmoid, or any other op, keeps the net's path) and
/// its output is the latent or a VAE's [μ | log σ²].
fn dense_chain(ae: &Autoencoder) -> Option<Vec<MlpLayerSpec<'_>>> {
    if ae.quant.is_some() {
        return None; // a quantised encoder runs its own kernels at every batch size
    }
    let p = &ae.params.data;
    let nets: Vec<&Net> = ae.whiten.iter().chain([&ae.encoder]).collect();
    let mut specs = Vec::new();
    for net in nets {
        for l in &net.layers {
            let dense = l.dense()?;
            let slope = match dense.act {
                crate::nn::activation::Activation::Leaky { slope } => slope,
                crate::nn::activation::Activation::Linear => 1.0,
                crate::nn::activation::Activation::Sigmoid => return None,
            };
            specs.push(MlpLayerSpec {
                inp: l.inp,
                out: l.out,
                weight: &p[l.w()..l.w() + l.inp * l.out],
                bias: &p[l.b()..l.b() + l.out],
                slope,
            });
        }
    }
    // The chain's output is the latent, or a VAE's [μ | log σ²] whose μ the encode slices.
    let width = specs.last()?.out;
    let (l, vae) = (ae.shape.latent, ae.shape.variational);
    if width != l && !(vae && width == 2 * l) {
        return None;
    }
    Some(specs)
}

/// The chain packed for `mlp_forward` (small batches).
fn fuse(specs: &[MlpLayerSpec<'_>], isa: Isa) -> Fused {
    let pack = MlpPack::new(isa, specs);
    Fused { scratch: vec![0.0; pack.scratch_len()], head: vec![0.0; SMALL_BATCH * pack.out_dim()], pack }
}

/// The chain packed for `mlp_batch` (larger batches), keeping the `latent` outputs (μ of a
/// VAE's [μ | log σ²]: the log σ² head is not computed).
fn fuse_batch(specs: &[MlpLayerSpec<'_>], isa: Isa, latent: usize) -> FusedBatch {
    let pack = MlpBatchPack::new(isa, specs, latent);
    FusedBatch { scratch: vec![0.0; pack.scratch_len()], pack }
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
