//! The adversarial autoencoder's two extra phases (Makhzani et al. 2016), after the
//! reconstruction phase that trains encoder and decoder:
//! 2. the discriminator learns to tell prior samples (label 1) from encoded jets (label 0);
//! 3. the encoder, as generator, learns to make the discriminator call its codes prior samples.
//!
//! Both use binary cross-entropy on logits, averaged over the batch.

use super::ae::{AeBuffers, Autoencoder, Prior};
use crate::nn::loss::bce_with_logits_forward_backward;
use rand::Rng;

impl Autoencoder {
    /// Encodes `n` rows of `x` and copies the codes into `buf.work.z`.
    fn encode_into_work(&self, x: &[f32], buf: &mut AeBuffers, n: usize) {
        let l = self.shape.latent;
        self.encode(x, buf, n);
        let last = buf.enc.acts.len() - 1;
        buf.work.z[..n * l].copy_from_slice(&buf.enc.acts[last][..n * l]);
    }

    /// Phase 2 on `n` rows of normalised `x`: adds the discriminator's gradients of
    /// L_D = ½·[mean BCE(D(z_prior), 1) + mean BCE(D(z_enc), 0)] into `grads`; returns the
    /// shard's Σ BCE (both halves), for L_D = Σ/(2·batch_rows).
    pub fn discriminator_shard<R: Rng>(
        &self,
        grads: &mut [f32],
        x: &[f32],
        buf: &mut AeBuffers,
        n: usize,
        batch_rows: usize,
        prior: Prior,
        rng: &mut R,
    ) -> f64 {
        let disc = self.discriminator.as_ref().expect("an AAE has a discriminator");
        let l = self.shape.latent;
        let p = &self.params.data;
        let scale = 0.5 / batch_rows as f32;
        self.encode_into_work(x, buf, n);
        prior.sample(&mut buf.work.eps[..n * l], rng);
        let db = buf.disc.as_mut().expect("planned with a discriminator");
        let last = db.dacts.len() - 1;
        let mut sum = 0.0;
        for (z, target) in [(&buf.work.eps, 1.0f32), (&buf.work.z, 0.0f32)] {
            disc.forward(p, &z[..n * l], db, n);
            sum += bce_with_logits_forward_backward(&mut db.dacts[last][..n], &db.acts[last][..n], target, scale);
            disc.backward(p, grads, &z[..n * l], db, None, n);
        }
        sum
    }

    /// Phase 3: the encoder's gradients of L_G = mean BCE(D(z_enc), 1) into `grads` (the
    /// discriminator's own gradients land there too and are not applied). Returns Σ BCE.
    pub fn generator_shard(
        &self,
        grads: &mut [f32],
        x: &[f32],
        buf: &mut AeBuffers,
        n: usize,
        batch_rows: usize,
    ) -> f64 {
        let disc = self.discriminator.as_ref().expect("an AAE has a discriminator");
        let l = self.shape.latent;
        let p = &self.params.data;
        self.encode_into_work(x, buf, n);
        let db = buf.disc.as_mut().expect("planned with a discriminator");
        let last = db.dacts.len() - 1;
        disc.forward(p, &buf.work.z[..n * l], db, n);
        let sum = bce_with_logits_forward_backward(
            &mut db.dacts[last][..n],
            &db.acts[last][..n],
            1.0,
            1.0 / batch_rows as f32,
        );
        disc.backward(p, grads, &buf.work.z[..n * l], db, Some(&mut buf.work.dz[..]), n);
        let enc_last = buf.enc.dacts.len() - 1;
        buf.enc.dacts[enc_last][..n * l].copy_from_slice(&buf.work.dz[..n * l]);
        self.encoder.backward(p, grads, x, &mut buf.enc, None, n);
        sum
    }
}
