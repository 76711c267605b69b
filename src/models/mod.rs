//! Model families as objectives over encoder and decoder nets, one file each: [`ae`]
//! (standard), [`vae`], [`sparse`] (L1 and KL), [`adversarial`], [`denoising`], [`pca`] (a
//! linear autoencoder fitted in closed form), [`whitening`] (AE+PCA: an autoencoder on
//! PCA-whitened inputs), [`spectral`] (spectral embedding with an autoencoder), [`conv_ae`]
//! (the convolutional autoencoder and the conv backbone) and [`nae`] (the normalized
//! autoencoder: an energy model trained with Langevin negative samples). Each implements
//! [`family::Family`]; [`family_for`] is the one place
//! that maps a configured [`ModelKind`] to its family. The nets they share live in
//! [`autoencoder`]; parameters live in one flat buffer ([`params::ParamStore`]) so that Adam
//! updates a phase's parameters in one kernel call.

pub mod adversarial;
pub mod ae;
pub mod autoencoder;
pub mod conv_ae;
pub mod denoising;
pub mod family;
pub mod nae;
pub mod params;
pub mod pca;
pub mod rate;
pub mod shape;
pub mod sparse;
pub mod spectral;
pub mod vae;
pub mod whitening;

pub use autoencoder::{AeBuffers, Autoencoder};
pub use family::Family;
pub use shape::{AeShape, HiddenActivation, LatentActivation, ModelKind, NetSpecs, OutputActivation, Prior};

/// The family a training configuration asks for, with its options.
pub fn family_for(cfg: &crate::train::TrainConfig) -> Box<dyn Family> {
    if let (Some(rate), ModelKind::Ae) = (cfg.compression, cfg.model) {
        return Box::new(rate::RateAware::new(rate));
    }
    match cfg.model {
        ModelKind::Ae => Box::new(ae::Ae),
        ModelKind::Vae => Box::new(vae::Vae::new(cfg.beta, cfg.kl_warmup, cfg.gaussian_decoder)),
        ModelKind::SparseL1 => Box::new(sparse::SparseL1 { lambda: cfg.lambda }),
        ModelKind::SparseKl => Box::new(sparse::SparseKl::new(cfg.lambda, cfg.rho, cfg.latent)),
        ModelKind::Aae => Box::new(adversarial::Adversarial { prior: cfg.prior, disc_hidden: cfg.disc_hidden.clone() }),
        ModelKind::Denoising => Box::new(denoising::Denoising { noise: cfg.noise, mask: cfg.mask }),
        ModelKind::Pca => Box::new(pca::Pca),
        ModelKind::AePca => Box::new(whitening::Whitening),
        ModelKind::Spectral => Box::new(spectral::Spectral::new(cfg.spectral.clone(), cfg.seed)),
        ModelKind::AeSpectral => Box::new(spectral::AeSpectral::new(cfg.spectral.clone(), cfg.seed)),
        ModelKind::ConvAe => Box::new(conv_ae::ConvAe),
        ModelKind::Nae => {
            Box::new(nae::Nae::new(cfg.nae.clone(), cfg.epochs.unwrap_or(nae::REFERENCE_AE_EPOCHS), cfg.lr))
        }
    }
}
