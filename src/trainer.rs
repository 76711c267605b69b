//! [`Trainer`]: the library entry point for training, a thin wrapper around
//! [`train_autoencoder`] that returns a ready-to-save [`SavedModel`].

use crate::data::npy::Dataset;
use crate::error::Result;
use crate::formats::model_file::SavedModel;
use crate::train::{train_autoencoder, Progress, TrainConfig};

/// Trains an autoencoder on a [`Dataset`] with a [`TrainConfig`].
///
/// ```
/// use hepae::{Dataset, Model, TrainConfig, Trainer};
/// # fn main() -> hepae::Result<()> {
/// // 188 real CMS NanoAOD jets × 37 variables (see tests/data/README.md).
/// let data = Dataset::open("tests/data/dy_nano_v6.npy".as_ref())?;
/// let config = TrainConfig {
///     hidden: vec![32, 16],
///     latent: 4,
///     epochs: Some(3),
///     batch: Some(64),
///     ..TrainConfig::default()
/// };
/// let model: Model = Trainer::new(config).fit(&data)?;
/// assert_eq!(model.meta.columns, data.columns());
/// let path = std::env::temp_dir().join(format!("hepae-doc-{}.safetensors", std::process::id()));
/// model.save(&path)?;
/// # std::fs::remove_file(&path).ok();
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Trainer {
    config: TrainConfig,
}

impl Trainer {
    /// A trainer with this configuration (the defaults are the seed study's reference net).
    pub fn new(config: TrainConfig) -> Self {
        Trainer { config }
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Trains on `data` (seeded split, shuffling and initialisation) and returns the model
    /// with its normaliser, column names and training record.
    pub fn fit(&self, data: &Dataset) -> Result<SavedModel> {
        self.fit_with_progress(data, &mut |_| {})
    }

    /// Like [`Trainer::fit`], reporting progress (epochs, batches) to `on`.
    pub fn fit_with_progress(&self, data: &Dataset, on: &mut dyn FnMut(Progress<'_>)) -> Result<SavedModel> {
        let out = train_autoencoder(data, &self.config, on)?;
        Ok(SavedModel::from_training(&out, &self.config, data))
    }
}
