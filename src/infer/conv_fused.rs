//! The fused image encoder: where a model's encoder is convolutions (each with its LeakyReLU,
//! identity or PReLU) then a flatten then dense layers, [`ConvFused`] runs it one image at a
//! time through the direct-convolution kernel ([`hepae_kernels::Kernels::conv_enc`]) and then
//! the dense layers (below), with every weight packed and every buffer sized once when the
//! encoder is built: an encode allocates nothing.
//!
//! Layout: each convolution reads its input zero-padded and channels-last (HWC) and writes its
//! output straight into the next one's padded input (the border stays zero), so no copy or
//! transpose runs between layers; the first one's padded input is filled from the CHW image.
//! The last convolution's output is HWC where PyTorch's flatten is CHW, so the first dense
//! weight's columns are permuted once at build time to read it as it lies. The last
//! convolution writes row t of a block of [`DENSE_ROWS`] flattened images; a full block (or
//! the last one of a call, from [`TILED_MIN_ROWS`] rows) goes through the dense chain in row
//! tiles ([`hepae_kernels::Kernels::mlp_batch`], which reads each weight once per tile), a
//! smaller one row by row: a single dense layer (the conv autoencoder's) as a 1×1
//! convolution of a 1×1 image of I channels through the same convolution kernel, whose
//! one-pixel tile keeps four partial sums (the dense chain kernel's two accumulators wait on
//! the FMA latency over 3 200 inputs); a longer chain through
//! [`hepae_kernels::Kernels::mlp_forward`].
//!
//! Numerics: the products are those of the net's forward, summed in another order (window
//! then channel, one FMA each), so the latents agree with the per-op path to float rounding
//! (tests/encode_conv.rs: 1e-5 relative), not bit for bit.

use super::encoder::TILED_MIN_ROWS;
use crate::engine::tensor::Shape;
use crate::models::Autoencoder;
use crate::net::Layer;
use crate::nn::activation::Activation;
use crate::nn::op::OpSpec;
use hepae_kernels::conv_enc::{ConvAct, ConvEncPack, ConvEncSpec};
use hepae_kernels::mlp::{MlpLayerSpec, MlpPack};
use hepae_kernels::mlp_batch::{MlpBatchPack, MAX_TILE_ROWS};
use hepae_kernels::{Isa, Kernels};

/// An encoder of convolutions, flatten, dense layers, packed (see the module doc).
#[derive(Clone, Debug)]
pub struct ConvFused {
    convs: Vec<ConvEncPack>,
    /// `bufs[0]`: the first convolution's padded HWC input; `bufs[j + 1]`: convolution j's
    /// output, padded for convolution j + 1 (the last one: [`DENSE_ROWS`] unpadded rows, the
    /// dense chain's input).
    bufs: Vec<Vec<f32>>,
    dense: MlpPack,
    /// A single dense layer as a 1×1 convolution of a 1×1 image (row by row).
    dense_1x1: Option<ConvEncPack>,
    scratch: Vec<f32>,
    /// The chain packed for row tiles (keeping the latent: μ of a VAE), off on the scalar set.
    tiled: Option<(MlpBatchPack, Vec<f32>)>,
    /// The dense chain's output row where it is not the latent (a VAE's [μ | log σ²]).
    head: Vec<f32>,
    /// Values of one input image (C·H·W).
    image: usize,
}

/// Flattened images per block of the dense chain: one row tile of the widest set.
pub const DENSE_ROWS: usize = MAX_TILE_ROWS;

/// A convolution with the activation that follows it.
struct ConvStage<'a> {
    layer: &'a Layer,
    conv: crate::nn::conv2d::Conv2d,
    act: ConvAct<'a>,
}

/// A dense layer with its negative slope (1: linear).
struct DenseStage<'a> {
    layer: &'a Layer,
    slope: f32,
}

/// The slope of an element-wise op after a linear layer: a shared PReLU's or a standalone
/// LeakyReLU's; None for any other op.
fn slope_after<'a>(next: Option<&'a Layer>, p: &'a [f32]) -> Option<Option<ConvAct<'a>>> {
    match next.map(|l| (&l.op, l)) {
        Some((OpSpec::Prelu(pr), l)) => {
            let a = &p[l.params.clone()];
            Some(Some(if pr.per_channel { ConvAct::PreluChannel(a) } else { ConvAct::PreluShared(a[0]) }))
        }
        Some((OpSpec::Act(act), _)) => match act.act {
            Activation::Leaky { slope } => Some(Some(ConvAct::Leaky(slope))),
            Activation::Linear => Some(Some(ConvAct::Identity)),
            Activation::Sigmoid => Some(None),
        },
        _ => None,
    }
}

/// The fused activation of a layer whose own activation is `own`, followed by `next`: the
/// element-wise op folded in where the layer is linear, and how many layers that consumed.
fn fused_act<'a>(own: Activation, next: Option<&'a Layer>, p: &'a [f32]) -> Option<(ConvAct<'a>, usize)> {
    let mine = match own {
        Activation::Linear => ConvAct::Identity,
        Activation::Leaky { slope } => ConvAct::Leaky(slope),
        Activation::Sigmoid => return None,
    };
    match slope_after(next, p) {
        Some(after) if mine == ConvAct::Identity => Some((after?, 2)),
        Some(_) => None, // an activation after an activation: the per-op path
        None => Some((mine, 1)),
    }
}

/// The encoder's stages if it is convolutions, an optional flatten, then dense layers (each
/// with a fusable activation), its output the latent or a VAE's [μ | log σ²].
fn stages(ae: &Autoencoder) -> Option<(Vec<ConvStage<'_>>, Vec<DenseStage<'_>>)> {
    if ae.quant.is_some() || ae.whiten.is_some() {
        return None;
    }
    let p = &ae.params.data;
    let layers = &ae.encoder.layers;
    let (mut convs, mut dense) = (Vec::new(), Vec::new());
    let mut j = 0;
    while j < layers.len() {
        let l = &layers[j];
        match &l.op {
            OpSpec::Conv2d(c) if dense.is_empty() => {
                let (act, used) = fused_act(c.act, layers.get(j + 1), p)?;
                convs.push(ConvStage { layer: l, conv: *c, act });
                j += used;
            }
            OpSpec::Reshape(r) if dense.is_empty() && !convs.is_empty() && matches!(r.to, Shape::Features(_)) => j += 1,
            OpSpec::Dense(d) if !convs.is_empty() => {
                let (act, used) = fused_act(d.act, layers.get(j + 1), p)?;
                let slope = match act {
                    ConvAct::Identity => 1.0,
                    ConvAct::Leaky(a) | ConvAct::PreluShared(a) => a,
                    ConvAct::PreluChannel(_) => return None,
                };
                dense.push(DenseStage { layer: l, slope });
                j += used;
            }
            _ => return None,
        }
    }
    let width = dense.last()?.layer.out;
    let (lat, vae) = (ae.shape.latent, ae.shape.variational);
    (width == lat || (vae && width == 2 * lat)).then_some((convs, dense))
}

/// w [out × C·H·W] with its columns from CHW to HWC order: column (y·W + x)·C + c of the
/// result is column c·H·W + y·W + x of `w`.
fn hwc_columns(w: &[f32], out: usize, (c, h, wd): (usize, usize, usize)) -> Vec<f32> {
    let n = c * h * wd;
    let mut p = vec![0.0f32; out * n];
    for (dst, src) in p.chunks_exact_mut(n).zip(w.chunks_exact(n)).take(out) {
        for ch in 0..c {
            for pix in 0..h * wd {
                dst[pix * c + ch] = src[ch * h * wd + pix];
            }
        }
    }
    p
}

impl ConvFused {
    /// The fused encoder of `ae` with the dense chain packed for `isa`, or None where the
    /// encoder is not convolutions then dense layers (pooling, upsampling, a sigmoid, a
    /// per-channel PReLU after a dense layer, a whitening stage, a quantised encoder).
    pub fn new(ae: &Autoencoder, isa: Isa) -> Option<ConvFused> {
        let latent = ae.shape.latent;
        let (cs, ds) = stages(ae)?;
        let p = &ae.params.data;
        let mut convs = Vec::with_capacity(cs.len());
        for (n, s) in cs.iter().enumerate() {
            let Shape::Image { c, h, w } = s.layer.in_shape else { return None };
            let border = cs.get(n + 1).map_or(0, |next| next.conv.pad);
            let (o, k) = (s.conv.out, s.conv.kernel);
            let par = &p[s.layer.params.clone()];
            convs.push(ConvEncPack::new(&ConvEncSpec {
                c,
                h,
                w,
                out: o,
                kernel: k,
                stride: s.conv.stride,
                pad: s.conv.pad,
                weight: &par[..o * c * k * k],
                bias: &par[o * c * k * k..o * c * k * k + o],
                act: s.act,
                out_border: border,
            }));
        }
        let last = convs.last()?;
        let first = ds[0].layer;
        let permuted = hwc_columns(
            &p[first.w()..first.w() + first.inp * first.out],
            first.out,
            (last.out(), last.out_hw().0, last.out_hw().1),
        );
        let specs: Vec<MlpLayerSpec<'_>> = ds
            .iter()
            .enumerate()
            .map(|(n, d)| MlpLayerSpec {
                inp: d.layer.inp,
                out: d.layer.out,
                weight: if n == 0 { &permuted } else { &p[d.layer.w()..d.layer.w() + d.layer.inp * d.layer.out] },
                bias: &p[d.layer.b()..d.layer.b() + d.layer.out],
                slope: d.slope,
            })
            .collect();
        let dense = MlpPack::new(isa, &specs);
        let dense_1x1 = (specs.len() == 1).then(|| {
            let l = &specs[0];
            let spec = ConvEncSpec {
                c: l.inp,
                h: 1,
                w: 1,
                out: l.out,
                kernel: 1,
                stride: 1,
                pad: 0,
                weight: l.weight,
                bias: l.bias,
                act: ConvAct::Leaky(l.slope),
                out_border: 0,
            };
            ConvEncPack::new(&spec)
        });
        // As the dense encoder: the row-tiled kernel on the SIMD sets only.
        let tiled = (isa != Isa::Scalar).then(|| {
            let pack = MlpBatchPack::new(isa, &specs, latent);
            let scratch = vec![0.0; pack.scratch_len()];
            (pack, scratch)
        });
        let mut bufs = vec![vec![0.0f32; convs[0].in_len()]];
        let rows = |j: usize| if j + 1 == convs.len() { DENSE_ROWS } else { 1 };
        bufs.extend(convs.iter().enumerate().map(|(j, c)| vec![0.0f32; rows(j) * c.out_len()]));
        Some(ConvFused {
            dense_1x1,
            tiled,
            image: ae.encoder.in_dim(),
            scratch: vec![0.0; dense.scratch_len()],
            head: vec![0.0; dense.out_dim()],
            bufs,
            dense,
            convs,
        })
    }

    /// Encodes `n` normalised images from `x` [n × C·H·W] (CHW) into `out` [n × latent] on
    /// `kernels` (the set the dense chain was packed for). Allocates nothing.
    pub fn encode(&mut self, kernels: &Kernels, x: &[f32], n: usize, out: &mut [f32], latent: usize) {
        let (d, last) = (self.image, self.convs.len() - 1);
        let flat = self.convs[last].out_len();
        let mut done = 0;
        while done < n {
            let rows = DENSE_ROWS.min(n - done);
            for t in 0..rows {
                let img = &x[(done + t) * d..(done + t + 1) * d];
                self.convs[0].pad_input(img, &mut self.bufs[0]);
                for (j, pack) in self.convs.iter().enumerate() {
                    let (inp, rest) = self.bufs.split_at_mut(j + 1);
                    let dst = if j == last { &mut rest[0][t * flat..(t + 1) * flat] } else { &mut rest[0][..] };
                    (kernels.conv_enc)(dst, &inp[j], pack);
                }
            }
            self.dense_rows(kernels, rows, &mut out[done * latent..(done + rows) * latent], latent);
            done += rows;
        }
    }

    /// The dense chain on the first `rows` flattened images into `out` [rows × latent].
    fn dense_rows(&mut self, kernels: &Kernels, rows: usize, out: &mut [f32], latent: usize) {
        let flat = &self.bufs[self.convs.len()];
        let w = self.dense.in_dim();
        if let Some((pack, scratch)) = self.tiled.as_mut().filter(|_| rows >= TILED_MIN_ROWS) {
            if (kernels.mlp_batch)(out, &flat[..rows * w], rows, pack, None, scratch) {
                return;
            }
            // A convolution's output overflowed: the row kernel below gives what the net would.
        }
        for (z, f) in out.chunks_exact_mut(latent).zip(flat.chunks_exact(w)) {
            if let Some(p) = &self.dense_1x1 {
                if p.out() == latent {
                    (kernels.conv_enc)(z, f, p);
                } else {
                    (kernels.conv_enc)(&mut self.head, f, p);
                    z.copy_from_slice(&self.head[..latent]); // μ of [μ | log σ²]
                }
            } else if self.dense.out_dim() == latent {
                (kernels.mlp_forward)(z, f, 1, &self.dense, &mut self.scratch);
            } else {
                (kernels.mlp_forward)(&mut self.head, f, 1, &self.dense, &mut self.scratch);
                z.copy_from_slice(&self.head[..latent]); // μ of [μ | log σ²]
            }
        }
    }
}
