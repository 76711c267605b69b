//! Model families, all built on [`ae::Autoencoder`]: standard, variational, sparse (L1 and
//! KL), adversarial, denoising, PCA (a linear autoencoder fitted in closed form) and AE+PCA
//! (an autoencoder on PCA-whitened inputs). Parameters live in one flat buffer
//! ([`params::ParamStore`]) so that Adam updates a family's trained part in one kernel call.

pub mod adversarial;
pub mod ae;
pub mod denoising;
pub mod mlp;
pub mod params;
pub mod pca;
