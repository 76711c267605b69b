//! The adversarial autoencoder (Makhzani et al. 2016): a discriminator on the (linear) latent
//! and three phases per step, each with its own Adam state:
//! 0. reconstruction: encoder and decoder, MSE;
//! 1. discriminator: tell prior samples (label 1) from encoded jets (label 0),
//!    L_D = ½·[mean BCE(D(z_prior), 1) + mean BCE(D(z_enc), 0)];
//! 2. generator: the encoder learns to make the discriminator call its codes prior samples,
//!    L_G = mean BCE(D(z_enc), 1), through the discriminator's input gradient only.
//!
//! BCE on logits, written stably ([`crate::nn::loss::bce_with_logits_forward_backward`]).

use super::ae::{code_grad_to_encoder, reconstruction_backward, reconstruction_forward};
use super::autoencoder::{Autoencoder, EncoderInput};
use super::family::{Family, Pass, Phase};
use super::shape::{AeShape, LatentActivation, ModelKind, Prior};
use crate::nn::loss::bce_with_logits_forward_backward;

/// The family: the prior and the discriminator's hidden widths.
#[derive(Clone, Debug)]
pub struct Adversarial {
    pub prior: Prior,
    pub disc_hidden: Vec<usize>,
}

const RECONSTRUCTION: usize = 0;
const DISCRIMINATOR: usize = 1;

impl Family for Adversarial {
    fn kind(&self) -> ModelKind {
        ModelKind::Aae
    }
    fn shape(&self, base: AeShape) -> AeShape {
        AeShape { latent_activation: LatentActivation::Linear, discriminator: self.disc_hidden.clone(), ..base }
    }
    fn phases(&self, model: &Autoencoder) -> Vec<Phase> {
        vec![
            Phase { params: 0..model.decoder_end, ..Phase::reconstruction(model) },
            Phase {
                name: "discriminator",
                params: model.decoder_end..model.trainable,
                is_loss: false,
                batch_stats: false,
            },
            Phase { name: "generator", params: 0..model.encoder_end, is_loss: false, batch_stats: false },
        ]
    }
    fn forward(&self, phase: usize, s: &mut Pass<'_>, rng: &mut rand::rngs::StdRng) -> f64 {
        if phase == RECONSTRUCTION {
            return reconstruction_forward(s, EncoderInput::Clean);
        }
        let (model, n) = (s.model, s.n);
        let disc = model.discriminator.as_ref().expect("an AAE has a discriminator");
        let (nl, p) = (n * model.shape.latent, &model.params.data);
        model.encode_train(s.x, s.buf, n, EncoderInput::Clean);
        let w = &mut s.buf.work;
        let real = s.buf.disc.as_mut().expect("planned with a discriminator");
        if phase == DISCRIMINATOR {
            self.prior.sample(&mut w.eps[..nl], rng);
            let scale = 0.5 / s.step.batch_rows as f32;
            let fake = s.buf.disc_fake.as_mut().expect("planned with a discriminator");
            let mut sum = 0.0;
            for (z, target, plan) in [(&w.eps, 1.0f32, real), (&w.z, 0.0f32, fake)] {
                disc.forward(p, &z[..nl], plan, n);
                let (logit, dlogit) = plan.output_and_grad_mut();
                sum += bce_with_logits_forward_backward(&mut dlogit[..n], &logit[..n], target, scale);
            }
            sum
        } else {
            disc.forward(p, &w.z[..nl], real, n);
            let (logit, dlogit) = real.output_and_grad_mut();
            bce_with_logits_forward_backward(&mut dlogit[..n], &logit[..n], 1.0, 1.0 / s.step.batch_rows as f32)
        }
    }
    fn backward(&self, phase: usize, s: &mut Pass<'_>, grads: &mut [f32]) -> f64 {
        if phase == RECONSTRUCTION {
            reconstruction_backward(s, grads, EncoderInput::Clean);
            return 0.0;
        }
        let (model, n) = (s.model, s.n);
        let disc = model.discriminator.as_ref().expect("an AAE has a discriminator");
        let (nl, p) = (n * model.shape.latent, &model.params.data);
        let w = &mut s.buf.work;
        let real = s.buf.disc.as_mut().expect("planned with a discriminator");
        if phase == DISCRIMINATOR {
            let fake = s.buf.disc_fake.as_mut().expect("planned with a discriminator");
            disc.backward(p, Some(&mut *grads), &w.eps[..nl], real, None, n);
            disc.backward(p, Some(grads), &w.z[..nl], fake, None, n);
        } else {
            // dL_G/dz through the discriminator, its weights untouched; then the encoder.
            disc.backward(p, None, &w.z[..nl], real, Some(&mut w.dz[..]), n);
            code_grad_to_encoder(s);
            model.backward_encoder(grads, s.x, s.buf, n, EncoderInput::Clean);
        }
        0.0
    }
}
