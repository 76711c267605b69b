//! What a model is made of: its family ([`ModelKind`]), its shape ([`AeShape`]: widths,
//! activations, the optional heads and stages a family adds) and the net specs that shape
//! gives ([`AeShape::net_specs`]). Format-version-1 model files store only the shape; newer
//! ones store the specs too.

use crate::engine::tensor::Shape;
use crate::net::NetSpec;
use crate::nn::activation::Activation;
use crate::nn::dense::Dense;
use crate::nn::op::OpSpec;
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// Model families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ModelKind {
    #[default]
    #[serde(rename = "ae")]
    Ae,
    #[serde(rename = "vae")]
    Vae,
    #[serde(rename = "sparse-l1")]
    SparseL1,
    #[serde(rename = "sparse-kl")]
    SparseKl,
    #[serde(rename = "aae")]
    Aae,
    #[serde(rename = "denoising")]
    Denoising,
    #[serde(rename = "pca")]
    Pca,
    #[serde(rename = "ae+pca")]
    AePca,
    /// The normalized autoencoder ([`crate::models::nae`]).
    #[serde(rename = "nae")]
    Nae,
    #[serde(rename = "spectral")]
    Spectral,
    #[serde(rename = "ae+spectral")]
    AeSpectral,
    #[serde(rename = "conv-ae")]
    ConvAe,
}

impl ModelKind {
    pub const ALL: [ModelKind; 12] = [
        ModelKind::Ae,
        ModelKind::Vae,
        ModelKind::SparseL1,
        ModelKind::SparseKl,
        ModelKind::Aae,
        ModelKind::Denoising,
        ModelKind::Pca,
        ModelKind::AePca,
        ModelKind::Spectral,
        ModelKind::AeSpectral,
        ModelKind::ConvAe,
        ModelKind::Nae,
    ];
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Ae => "ae",
            ModelKind::Vae => "vae",
            ModelKind::SparseL1 => "sparse-l1",
            ModelKind::SparseKl => "sparse-kl",
            ModelKind::Aae => "aae",
            ModelKind::Denoising => "denoising",
            ModelKind::Pca => "pca",
            ModelKind::AePca => "ae+pca",
            ModelKind::Spectral => "spectral",
            ModelKind::AeSpectral => "ae+spectral",
            ModelKind::ConvAe => "conv-ae",
            ModelKind::Nae => "nae",
        }
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ModelKind {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        ModelKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            crate::Error::config(format!(
                "unknown model '{s}' (choose {})",
                ModelKind::ALL.map(|k| k.name()).join(", ")
            ))
        })
    }
}

/// What follows the decoder's last dense layer.
///
/// The default is `Linear`: normalised targets can be negative (standard and custom4
/// normalisers, and η/φ in every scheme), which a LeakyReLU output can reach only through its
/// 0.01 slope, and it is the PyTorch reference harness's default. `Leaky` reproduces the seed
/// study's network exactly (LeakyReLU after every layer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OutputActivation {
    #[default]
    Linear,
    Leaky,
}

impl std::str::FromStr for OutputActivation {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "linear" => Ok(OutputActivation::Linear),
            "leaky" => Ok(OutputActivation::Leaky),
            _ => Err(crate::Error::config(format!("unknown output activation '{s}' (choose linear or leaky)"))),
        }
    }
}

/// What follows every hidden layer of the encoder and decoder (and the latent and output where
/// those are LeakyReLU): LeakyReLU of the fixed `--slope`, or PReLU (`nn.PReLU()`: a learned
/// slope per layer, initially 0.25; [`crate::nn::prelu`]), shared or one per channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum HiddenActivation {
    #[default]
    Leaky,
    /// One learned slope per layer (issue 15's reference CNN autoencoder).
    Prelu,
    /// One learned slope per channel (per feature of a dense layer).
    PreluChannel,
}

impl HiddenActivation {
    pub fn name(self) -> &'static str {
        match self {
            HiddenActivation::Leaky => "leaky",
            HiddenActivation::Prelu => "prelu",
            HiddenActivation::PreluChannel => "prelu-channel",
        }
    }
    fn is_leaky(&self) -> bool {
        *self == HiddenActivation::Leaky
    }
}

impl std::str::FromStr for HiddenActivation {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        [HiddenActivation::Leaky, HiddenActivation::Prelu, HiddenActivation::PreluChannel]
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| crate::Error::config(format!("--activation '{s}' is not leaky, prelu or prelu-channel")))
    }
}

/// What follows the encoder's last layer (the latent code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LatentActivation {
    /// LeakyReLU, as every other layer (the seed study's network).
    #[default]
    Leaky,
    /// Linear: VAE heads, AAE (to match a symmetric prior), PCA.
    Linear,
    /// σ(·): sparse-KL, whose penalty needs activations in (0, 1).
    Sigmoid,
}

/// The prior an AAE matches and `generate` samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Prior {
    /// N(0, I).
    #[default]
    Normal,
    /// U(−1, 1) per dimension.
    Uniform,
}

impl std::str::FromStr for Prior {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "normal" => Ok(Prior::Normal),
            "uniform" => Ok(Prior::Uniform),
            _ => Err(crate::Error::config(format!("unknown prior '{s}' (choose normal or uniform)"))),
        }
    }
}

impl Prior {
    /// Fills `z` with independent draws.
    pub fn sample<R: Rng>(self, z: &mut [f32], rng: &mut R) {
        for v in z.iter_mut() {
            *v = match self {
                Prior::Normal => rng.sample(StandardNormal),
                Prior::Uniform => rng.random_range(-1.0f32..1.0),
            };
        }
    }
}

/// The shape of an autoencoder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AeShape {
    /// Variables per jet, D.
    pub input: usize,
    /// Encoder hidden widths, e.g. [200, 100, 50]; the decoder mirrors them.
    pub hidden: Vec<usize>,
    /// Latent (bottleneck) width.
    pub latent: usize,
    /// LeakyReLU negative slope.
    pub slope: f32,
    /// LeakyReLU (of `slope`) or PReLU after the hidden layers.
    #[serde(default, skip_serializing_if = "HiddenActivation::is_leaky")]
    pub activation: HiddenActivation,
    pub output_activation: OutputActivation,
    #[serde(default)]
    pub latent_activation: LatentActivation,
    #[serde(default)]
    pub variational: bool,
    #[serde(default)]
    pub gaussian_decoder: bool,
    /// Hidden widths of the AAE discriminator (empty: none).
    #[serde(default)]
    pub discriminator: Vec<usize>,
    #[serde(default)]
    pub whitening: bool,
    /// The code is projected onto the unit sphere (z/‖z‖, after the latent activation): the
    /// normalized autoencoder's spherical latent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub spherical: bool,
    /// The conv backbone (conv-ae, or another family with `--backbone conv`); none: dense.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conv: Option<super::conv_ae::ConvArch>,
}

impl AeShape {
    /// A standard autoencoder of this size.
    pub fn standard(
        input: usize,
        hidden: Vec<usize>,
        latent: usize,
        slope: f32,
        output_activation: OutputActivation,
    ) -> Self {
        AeShape {
            input,
            hidden,
            latent,
            slope,
            activation: HiddenActivation::Leaky,
            output_activation,
            latent_activation: LatentActivation::Leaky,
            variational: false,
            gaussian_decoder: false,
            discriminator: Vec::new(),
            whitening: false,
            spherical: false,
            conv: None,
        }
    }
    /// Encoder widths D, h1, …, latent (2·latent when variational).
    pub fn encoder_dims(&self) -> Vec<usize> {
        let mut d = vec![self.input];
        d.extend(&self.hidden);
        d.push(if self.variational { 2 * self.latent } else { self.latent });
        d
    }
    /// Decoder widths latent, …, h1, D (2·D with a Gaussian decoder).
    pub fn decoder_dims(&self) -> Vec<usize> {
        let mut d = vec![self.latent];
        d.extend(self.hidden.iter().rev());
        d.push(if self.gaussian_decoder { 2 * self.input } else { self.input });
        d
    }
    /// Every layer width end to end, D … latent … D (as the reference net is written).
    pub fn layer_dims(&self) -> Vec<usize> {
        let mut d = vec![self.input];
        d.extend(&self.hidden);
        d.push(self.latent);
        d.extend(self.hidden.iter().rev());
        d.push(self.input);
        d
    }
    /// The nets this shape describes.
    pub fn net_specs(&self) -> NetSpecs {
        let dense = |dims: &[usize], acts: &[Activation]| NetSpec {
            input: Shape::Features(dims[0]),
            ops: dims[1..].iter().zip(acts).map(|(&out, &act)| OpSpec::Dense(Dense { out, act })).collect(),
        };
        let discriminator = (!self.discriminator.is_empty()).then(|| {
            let mut dims = vec![self.latent];
            dims.extend(&self.discriminator);
            dims.push(1);
            let mut acts = vec![Activation::Leaky { slope: 0.2 }; self.discriminator.len()];
            acts.push(Activation::Linear);
            dense(&dims, &acts)
        });
        let d = self.input;
        let frozen = || self.whitening.then(|| dense(&[d, d], &[Activation::Linear]));
        let sphere = |encoder: NetSpec| {
            let mut encoder = self.with_prelu(encoder);
            if self.spherical {
                encoder.ops.push(OpSpec::Sphere(crate::nn::sphere::Sphere {}));
            }
            encoder
        };
        if let Some(arch) = &self.conv {
            let enc_out = if self.variational { 2 * self.latent } else { self.latent };
            let out_c = if self.gaussian_decoder { 2 * arch.image[0] } else { arch.image[0] };
            let (encoder, decoder) =
                arch.nets(self.latent, enc_out, self.latent_act(), out_c, self.output_act(), self.leaky());
            let decoder = self.with_prelu(decoder);
            return NetSpecs { encoder: sphere(encoder), decoder, discriminator, whiten: frozen(), unwhiten: frozen() };
        }
        NetSpecs {
            encoder: sphere(dense(&self.encoder_dims(), &self.encoder_acts())),
            decoder: self.with_prelu(dense(&self.decoder_dims(), &self.decoder_acts())),
            discriminator,
            whiten: frozen(),
            unwhiten: frozen(),
        }
    }
    /// With `--activation prelu`: every op's fused LeakyReLU becomes linear, followed by a
    /// PReLU op (as `nn.Conv2d, nn.PReLU()` in PyTorch); with leaky, `spec` unchanged.
    fn with_prelu(&self, spec: NetSpec) -> NetSpec {
        let per_channel = match self.activation {
            HiddenActivation::Leaky => return spec,
            HiddenActivation::Prelu => false,
            HiddenActivation::PreluChannel => true,
        };
        let mut ops = Vec::with_capacity(2 * spec.ops.len());
        for mut op in spec.ops {
            let act = match &mut op {
                OpSpec::Dense(d) => Some(&mut d.act),
                OpSpec::Conv2d(c) => Some(&mut c.act),
                OpSpec::ConvTranspose2d(c) => Some(&mut c.act),
                _ => None,
            };
            let prelu = match act {
                Some(a) if matches!(a, Activation::Leaky { .. }) => {
                    *a = Activation::Linear;
                    true
                }
                _ => false,
            };
            ops.push(op);
            if prelu {
                ops.push(OpSpec::Prelu(crate::nn::prelu::Prelu { per_channel }));
            }
        }
        NetSpec { input: spec.input, ops }
    }
    fn leaky(&self) -> Activation {
        Activation::Leaky { slope: self.slope }
    }
    /// The encoder's last activation (the latent code's).
    fn latent_act(&self) -> Activation {
        match (self.variational, self.latent_activation) {
            (true, _) | (false, LatentActivation::Linear) => Activation::Linear,
            (false, LatentActivation::Leaky) => self.leaky(),
            (false, LatentActivation::Sigmoid) => Activation::Sigmoid,
        }
    }
    /// The decoder's last activation.
    fn output_act(&self) -> Activation {
        if self.output_activation == OutputActivation::Leaky && !self.gaussian_decoder {
            self.leaky()
        } else {
            Activation::Linear
        }
    }
    fn encoder_acts(&self) -> Vec<Activation> {
        let mut a = vec![self.leaky(); self.hidden.len()];
        a.push(self.latent_act());
        a
    }
    fn decoder_acts(&self) -> Vec<Activation> {
        let mut a = vec![self.leaky(); self.hidden.len()];
        a.push(self.output_act());
        a
    }
}

/// The nets of a model, as stored in the model file: encoder and decoder, and the optional
/// discriminator (AAE) and frozen whitening / un-whitening stages (AE+PCA).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetSpecs {
    pub encoder: NetSpec,
    pub decoder: NetSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discriminator: Option<NetSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whiten: Option<NetSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unwhiten: Option<NetSpec>,
}
