//! The standard autoencoder of the seed study: D → hidden… → latent → …hidden → D, LeakyReLU
//! after every layer (the bottleneck included), and a linear or LeakyReLU output layer.

use super::mlp::Mlp;
use super::params::ParamStore;
use crate::nn::init::init_linear;
use crate::nn::loss::mse_forward_backward;
use crate::plan::MlpBuffers;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// What follows the decoder's last dense layer.
///
/// The default is `Linear`: normalised targets can be negative (standard and custom4
/// normalisers, and η/φ in every scheme), which a LeakyReLU output can reach only through its
/// 0.01 slope, and it is PyTorch reference harness's default. `Leaky` reproduces the seed
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
            _ => Err(crate::Error::config(format!(
                "unknown output activation '{s}' (choose linear or leaky)"
            ))),
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
    pub output_activation: OutputActivation,
}

impl AeShape {
    /// Encoder widths D, h1, …, latent.
    pub fn encoder_dims(&self) -> Vec<usize> {
        let mut d = vec![self.input];
        d.extend(&self.hidden);
        d.push(self.latent);
        d
    }
    /// Decoder widths latent, …, h1, D.
    pub fn decoder_dims(&self) -> Vec<usize> {
        let mut d = vec![self.latent];
        d.extend(self.hidden.iter().rev());
        d.push(self.input);
        d
    }
    /// Every layer width end to end, D … latent … D.
    pub fn layer_dims(&self) -> Vec<usize> {
        let mut d = self.encoder_dims();
        d.extend(&self.decoder_dims()[1..]);
        d
    }
}

/// An autoencoder: encoder and decoder MLPs over one parameter store.
#[derive(Clone, Debug, PartialEq)]
pub struct Autoencoder {
    pub shape: AeShape,
    pub params: ParamStore,
    pub encoder: Mlp,
    pub decoder: Mlp,
}

/// Planned buffers for one forward/backward of an [`Autoencoder`] at a batch size.
#[derive(Clone, Debug)]
pub struct AeBuffers {
    pub enc: MlpBuffers,
    pub dec: MlpBuffers,
}

impl Autoencoder {
    /// A model with all parameters zero (call [`Autoencoder::init`], or load weights).
    pub fn new(shape: AeShape) -> Self {
        let mut params = ParamStore::default();
        let enc_dims = shape.encoder_dims();
        let dec_dims = shape.decoder_dims();
        let enc_slopes = vec![shape.slope; enc_dims.len() - 1];
        let mut dec_slopes = vec![shape.slope; dec_dims.len() - 1];
        if shape.output_activation == OutputActivation::Linear {
            *dec_slopes.last_mut().expect("decoder has layers") = 1.0;
        }
        let encoder = Mlp::new(&mut params, "encoder", &enc_dims, &enc_slopes);
        let decoder = Mlp::new(&mut params, "decoder", &dec_dims, &dec_slopes);
        Autoencoder {
            shape,
            params,
            encoder,
            decoder,
        }
    }

    /// PyTorch `nn.Linear` default initialisation, layer by layer in order, from `seed`.
    pub fn init(&mut self, seed: u64) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        for layer in self.encoder.layers.iter().chain(&self.decoder.layers) {
            let (w, b) = self.params.data.split_at_mut(layer.b);
            init_linear(
                &mut w[layer.w..layer.w + layer.out * layer.inp],
                &mut b[..layer.out],
                layer.inp,
                &mut rng,
            );
        }
    }

    /// Buffers for batches of up to `batch` rows; `with_grads` for training.
    pub fn plan(&self, batch: usize, with_grads: bool) -> AeBuffers {
        AeBuffers {
            enc: MlpBuffers::plan(&self.encoder, batch, with_grads),
            dec: MlpBuffers::plan(&self.decoder, batch, with_grads),
        }
    }

    /// Reconstruction of the first `n` rows of normalised `x` [N×D]; returns the output rows.
    pub fn forward<'b>(&self, x: &[f32], buf: &'b mut AeBuffers, n: usize) -> &'b [f32] {
        let p = &self.params.data;
        self.encoder.forward(p, x, &mut buf.enc, n);
        self.decoder.forward(p, buf.enc.output(n), &mut buf.dec, n);
        buf.dec.output(n)
    }

    /// Latent codes of the first `n` rows of normalised `x`; returns N×latent.
    pub fn encode<'b>(&self, x: &[f32], buf: &'b mut AeBuffers, n: usize) -> &'b [f32] {
        self.encoder.forward(&self.params.data, x, &mut buf.enc, n);
        buf.enc.output(n)
    }

    /// Reconstruction from latent codes z [N×latent].
    pub fn decode<'b>(&self, z: &[f32], buf: &'b mut AeBuffers, n: usize) -> &'b [f32] {
        self.decoder.forward(&self.params.data, z, &mut buf.dec, n);
        buf.dec.output(n)
    }

    /// Forward, MSE against the input, backward, for `n` rows of one shard of a batch of
    /// `batch_elems` elements in all. Adds parameter gradients into `grads` and returns the
    /// shard's sum of squared errors.
    pub fn train_shard(
        &self,
        grads: &mut [f32],
        x: &[f32],
        buf: &mut AeBuffers,
        n: usize,
        batch_elems: usize,
    ) -> f64 {
        let d = self.shape.input;
        let p = &self.params.data;
        self.encoder.forward(p, x, &mut buf.enc, n);
        self.decoder.forward(p, buf.enc.output(n), &mut buf.dec, n);
        let last = buf.dec.dacts.len() - 1;
        let sse = mse_forward_backward(
            &mut buf.dec.dacts[last][..n * d],
            &buf.dec.acts[last][..n * d],
            &x[..n * d],
            batch_elems,
        );
        let last_enc = buf.enc.acts.len() - 1;
        let z = &buf.enc.acts[last_enc][..n * self.shape.latent];
        let dz = &mut buf.enc.dacts[last_enc][..];
        self.decoder
            .backward(p, grads, z, &mut buf.dec, Some(dz), n);
        self.encoder.backward(p, grads, x, &mut buf.enc, None, n);
        sse
    }
}
