//! The convolutional autoencoder (`--model conv-ae`), and the conv backbone other families
//! run on (`--backbone conv`: VAE, sparse-L1/KL, denoising, AAE).
//!
//! Architecture from [`ConvArch`], for an image of (C, H, W) and channels c₀ … c_m:
//! - encoder: conv k×k c₀ (stride 1, "same" padding k/2), then per level i = 1 … m a conv k×k
//!   cᵢ that halves the image: stride 2 (`--conv-down stride`), or stride 1 followed by a 2×2
//!   max pool (`--conv-down pool`); then a dense layer from the last level's c_m·h_m·w_m
//!   values to the latent (2·latent for a VAE's [μ | log σ²]).
//! - decoder: dense latent → c_m·h_m·w_m, reshape to (c_m, h_m, w_m), per level i = m−1 … 0 a
//!   step up to the encoder's size at level i with cᵢ channels: a transposed conv (kernel
//!   `up_kernel`, stride 2, padding and output padding solved for the size;
//!   `--conv-up transpose`), or a 2× nearest/bilinear upsampling followed by a k×k "same"
//!   conv (`--conv-up nearest|bilinear`); then a k×k "same" conv to C channels (2·C for a
//!   Gaussian decoder's [x̂ | log σ²ₓ], which in C order is the mean image then the
//!   log-variance image). LeakyReLU after every layer but the latent's (the family decides)
//!   and the output's (`--output-activation`); with `--activation prelu` each of those is a
//!   linear layer followed by a PReLU op (one learned slope, [`crate::nn::prelu`]).
//!
//! The default is issue 15's reference net on 1×40×40: conv 3×3 1→8, conv 3×3 s2 8→16, conv
//! 3×3 s2 16→32, dense 3200→32, dense 32→3200, transposed conv 4×4 s2 32→16 and 16→8, conv
//! 3×3 8→1 (6.0 MFLOP per image forward).
//!
//! The input shape is chosen in one place, [`input_shape`]: `--image-shape` if given, else the
//! dataset's own row shape when it is an image.

use super::family::Family;
use super::shape::{AeShape, ModelKind};
use crate::data::npy::Dataset;
use crate::engine::tensor::Shape;
use crate::error::{Error, Location, Result};
use crate::net::NetSpec;
use crate::nn::activation::Activation;
use crate::nn::conv2d::Conv2d;
use crate::nn::conv_transpose2d::ConvTranspose2d;
use crate::nn::dense::Dense;
use crate::nn::op::OpSpec;
use crate::nn::pool::{Pool2d, PoolMode};
use crate::nn::reshape::Reshape;
use crate::nn::upsample::{Upsample, UpsampleMode};
use serde::{Deserialize, Serialize};

/// How the encoder halves the image at each level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Down {
    /// A stride-2 convolution.
    #[default]
    Stride,
    /// A stride-1 convolution, then a 2×2 max pool.
    Pool,
}

/// How the decoder doubles the image at each level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Up {
    /// A stride-2 transposed convolution.
    #[default]
    Transpose,
    /// Nearest-neighbour upsampling, then a convolution.
    Nearest,
    /// Bilinear upsampling (align_corners = false), then a convolution.
    Bilinear,
}

impl std::str::FromStr for Down {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "stride" => Ok(Down::Stride),
            "pool" => Ok(Down::Pool),
            _ => Err(Error::config(format!("--conv-down '{s}' is not stride or pool"))),
        }
    }
}

impl std::str::FromStr for Up {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "transpose" => Ok(Up::Transpose),
            "nearest" => Ok(Up::Nearest),
            "bilinear" => Ok(Up::Bilinear),
            _ => Err(Error::config(format!("--conv-up '{s}' is not transpose, nearest or bilinear"))),
        }
    }
}

/// The conv backbone's options as configured (the image shape comes from the data).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConvOptions {
    /// (C, H, W) of a row, when the dataset is a plain table of C·H·W columns.
    #[serde(default)]
    pub image: Option<[usize; 3]>,
    pub channels: Vec<usize>,
    pub kernel: usize,
    pub down: Down,
    pub up: Up,
    pub up_kernel: usize,
}

impl Default for ConvOptions {
    fn default() -> Self {
        ConvOptions {
            image: None,
            channels: vec![8, 16, 32],
            kernel: 3,
            down: Down::Stride,
            up: Up::Transpose,
            up_kernel: 4,
        }
    }
}

/// A conv autoencoder's architecture: the options with the image shape resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConvArch {
    /// (C, H, W) of the input.
    pub image: [usize; 3],
    pub channels: Vec<usize>,
    pub kernel: usize,
    pub down: Down,
    pub up: Up,
    pub up_kernel: usize,
}

/// The per-row input shape of a conv model on `data`, chosen here only: `opts.image`
/// (`--image-shape`) when given, which must hold exactly the dataset's values per row and
/// agree with the file's own image shape if it has one; else the dataset's row shape when it
/// is an image (an N × H × W or N × C × H × W NPY); else an error asking for it.
pub fn input_shape(data: &Dataset, opts: &ConvOptions) -> Result<Shape> {
    let at = || Location::file(data.path());
    match (opts.image, data.shape()) {
        (Some([c, h, w]), file) => {
            if c * h * w != data.cols() {
                return Err(Error::data(
                    at(),
                    format!("--image-shape {c}x{h}x{w} holds {} values but each row has {}", c * h * w, data.cols()),
                ));
            }
            let given = Shape::Image { c, h, w };
            if matches!(file, Shape::Image { .. }) && file != given {
                return Err(Error::data(
                    at(),
                    format!(
                        "--image-shape {c}x{h}x{w} disagrees with the file's {}",
                        crate::data::npy::describe_shape(file)
                    ),
                ));
            }
            Ok(given)
        }
        // A 3-D or 4-D NPY carries its image shape.
        (None, file @ Shape::Image { .. }) => Ok(file),
        (None, _) => Err(Error::data(
            at(),
            format!("a conv model needs image rows: give --image-shape CxHxW ({} values per row)", data.cols()),
        )),
    }
}

impl ConvOptions {
    /// The architecture on input `shape` (an image), checked: every level's size reachable
    /// down and back up.
    pub fn resolve(&self, shape: Shape) -> Result<ConvArch> {
        let Shape::Image { c, h, w } = shape else {
            return Err(Error::config("a conv model needs an image input shape"));
        };
        let arch = ConvArch {
            image: [c, h, w],
            channels: self.channels.clone(),
            kernel: self.kernel,
            down: self.down,
            up: self.up,
            up_kernel: self.up_kernel,
        };
        arch.levels().map(|_| arch).map_err(Error::config)
    }
}

impl From<&ConvArch> for ConvOptions {
    /// The options that resolve to `arch` again.
    fn from(arch: &ConvArch) -> Self {
        ConvOptions {
            image: Some(arch.image),
            channels: arch.channels.clone(),
            kernel: arch.kernel,
            down: arch.down,
            up: arch.up,
            up_kernel: arch.up_kernel,
        }
    }
}

/// The padding and output padding of a stride-2 transposed conv with kernel k from n to
/// `target`: (n − 1)·2 − 2p + k + op = target with 0 ≤ op < 2.
fn up_padding(n: usize, target: usize, k: usize) -> Option<(usize, usize)> {
    let r = (2 * n + k).checked_sub(2 + target)?; // 2p − op
    let p = r.div_ceil(2);
    Some((p, 2 * p - r)).filter(|&(p, _)| p < k)
}

impl ConvArch {
    /// (h, w) of each level: the input's, then each halving.
    pub fn levels(&self) -> std::result::Result<Vec<(usize, usize)>, String> {
        let [c, h, w] = self.image;
        let k = self.kernel;
        if c == 0 || h == 0 || w == 0 {
            return Err(format!("image shape {c}x{h}x{w} has an empty side"));
        }
        if self.channels.is_empty() || self.channels.contains(&0) {
            return Err("--conv-channels needs at least one non-zero width".into());
        }
        if k == 0 || k.is_multiple_of(2) {
            return Err(format!("--conv-kernel {k} must be odd (a \"same\" convolution pads k/2 on each side)"));
        }
        if self.up == Up::Transpose && self.up_kernel < 2 {
            return Err(format!("--conv-up-kernel {} must be at least 2", self.up_kernel));
        }
        let mut levels = vec![(h, w)];
        for i in 1..self.channels.len() {
            let (lh, lw) = levels[i - 1];
            let next = match self.down {
                Down::Stride => ((lh - 1) / 2 + 1, (lw - 1) / 2 + 1),
                Down::Pool => (lh / 2, lw / 2),
            };
            if next.0 == 0 || next.1 == 0 || lh < 2 || lw < 2 {
                return Err(format!(
                    "{} levels of halving do not fit a {h}×{w} image (level {i} would be {lh}×{lw} halved)",
                    self.channels.len() - 1
                ));
            }
            let needs_even = self.down == Down::Pool || self.up != Up::Transpose;
            if needs_even && (!lh.is_multiple_of(2) || !lw.is_multiple_of(2)) {
                return Err(format!(
                    "level {i}: a {lh}×{lw} image cannot be halved and doubled back exactly with \
                     --conv-down {:?} --conv-up {:?}; use even sizes or --conv-down stride --conv-up transpose",
                    self.down, self.up
                )
                .to_lowercase());
            }
            if self.up == Up::Transpose {
                let (ph, pw) = (up_padding(next.0, lh, self.up_kernel), up_padding(next.1, lw, self.up_kernel));
                if ph.is_none() || pw.is_none() {
                    return Err(format!(
                        "level {i}: a {}×{} image cannot grow back to {lh}×{lw} with a {k}×{k} stride-2 transposed conv",
                        next.0,
                        next.1,
                        k = self.up_kernel
                    ));
                }
                if ph != pw {
                    return Err(format!(
                        "level {i}: a {}×{} image goes back to {lh}×{lw} only with different paddings per side",
                        next.0, next.1
                    ));
                }
            }
            levels.push(next);
        }
        Ok(levels)
    }

    /// Encoder and decoder specs: `latent_out` values out of the encoder (2·latent for a
    /// VAE) with activation `latent_act`, `out_channels` out of the decoder with `out_act`.
    pub fn nets(
        &self,
        latent: usize,
        latent_out: usize,
        latent_act: Activation,
        out_channels: usize,
        out_act: Activation,
        leaky: Activation,
    ) -> (NetSpec, NetSpec) {
        let levels = self.levels().expect("a resolved conv architecture");
        let [c, h, w] = self.image;
        let (k, ch) = (self.kernel, &self.channels);
        let same = |out: usize, act: Activation| OpSpec::Conv2d(Conv2d { out, kernel: k, stride: 1, pad: k / 2, act });
        let mut enc = vec![same(ch[0], leaky)];
        for &ci in &ch[1..] {
            match self.down {
                Down::Stride => {
                    enc.push(OpSpec::Conv2d(Conv2d { out: ci, kernel: k, stride: 2, pad: k / 2, act: leaky }))
                }
                Down::Pool => {
                    enc.push(same(ci, leaky));
                    enc.push(OpSpec::Pool2d(Pool2d { mode: PoolMode::Max, kernel: 2, stride: 2 }));
                }
            }
        }
        enc.push(OpSpec::Dense(Dense { out: latent_out, act: latent_act }));
        let m = ch.len() - 1;
        let (bh, bw) = levels[m];
        let mut dec = vec![
            OpSpec::Dense(Dense { out: ch[m] * bh * bw, act: leaky }),
            OpSpec::Reshape(Reshape { to: Shape::Image { c: ch[m], h: bh, w: bw } }),
        ];
        for i in (0..m).rev() {
            let (th, _) = levels[i];
            match self.up {
                Up::Transpose => {
                    let (pad, out_pad) = up_padding(levels[i + 1].0, th, self.up_kernel).expect("checked by levels()");
                    dec.push(OpSpec::ConvTranspose2d(ConvTranspose2d {
                        out: ch[i],
                        kernel: self.up_kernel,
                        stride: 2,
                        pad,
                        out_pad,
                        act: leaky,
                    }));
                }
                Up::Nearest | Up::Bilinear => {
                    let mode = if self.up == Up::Nearest { UpsampleMode::Nearest } else { UpsampleMode::Bilinear };
                    dec.push(OpSpec::Upsample(Upsample { mode, scale: 2 }));
                    dec.push(same(ch[i], leaky));
                }
            }
        }
        dec.push(same(out_channels, out_act));
        (NetSpec { input: Shape::Image { c, h, w }, ops: enc }, NetSpec { input: Shape::Features(latent), ops: dec })
    }
}

/// FLOPs of one forward pass of a net per row (2 per multiply-add of the convolutions and
/// dense layers; pooling, upsampling and activations not counted).
pub fn forward_flops(spec: &NetSpec) -> u64 {
    let mut shape = spec.input;
    let mut flops = 0u64;
    for op in &spec.ops {
        let out = op.op().out_shape(shape);
        flops += match op {
            OpSpec::Dense(d) => 2 * (shape.len() * d.out) as u64,
            OpSpec::Conv2d(cv) => {
                let (c, _, _) = crate::nn::conv2d::image_dims(shape);
                2 * (out.len() * c * cv.kernel * cv.kernel) as u64
            }
            OpSpec::ConvTranspose2d(cv) => 2 * (shape.len() * cv.out * cv.kernel * cv.kernel) as u64,
            _ => 0,
        };
        shape = out;
    }
    flops
}

/// The conv autoencoder: the standard autoencoder's objective ([`super::ae`]) on the conv
/// backbone (the session puts the resolved [`ConvArch`] into the shape).
#[derive(Clone, Copy, Debug, Default)]
pub struct ConvAe;

impl Family for ConvAe {
    fn kind(&self) -> ModelKind {
        ModelKind::ConvAe
    }
    fn shape(&self, base: AeShape) -> AeShape {
        AeShape { hidden: Vec::new(), ..base }
    }
    /// The reconstruction is a sum over images: passes of [`MICRO_BATCH`] images keep a
    /// pass's activations (≈ 50 K values per image for the reference net) in the caches.
    fn micro_batch(&self, _phase: usize) -> Option<usize> {
        Some(MICRO_BATCH)
    }
}

/// Images per forward and backward pass of a conv AE's training step ([`Family::micro_batch`]):
/// chosen by measurement on the reference net (benches/compare/conv_speed.sh's hepae run,
/// alternated builds, median of the pairs): 8 against 16 trained 1.04× as fast on 1 thread
/// and 1.15× on 2 (a pass's activations, ≈ 50 K values per image, are then 1.6 MB instead
/// of 3.2); 4 was 0.93× and 12 the same as 8.
pub const MICRO_BATCH: usize = 8;
