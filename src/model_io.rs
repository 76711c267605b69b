//! Model files: safetensors with PyTorch `nn.Linear` names and layout (`encoder.0.weight` is
//! [out, in]) plus JSON metadata under `__metadata__["hepae"]`, so that
//! `safetensors.torch.load_file` and a matching `nn.Sequential` reproduce our outputs.
//!
//! The writer is ours (a sorted JSON header, tensors laid out in name order) so the same model
//! always gives the same bytes; the reader is the `safetensors` crate, which validates offsets.

use crate::atomic::write_atomic;
use crate::data::normalize::Normalizer;
use crate::data::npy::Dataset;
use crate::error::{Error, Result};
use crate::models::ae::{AeShape, Autoencoder, ModelKind};
use crate::train::{TrainConfig, TrainOutcome};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Version of the metadata layout; readers refuse newer ones.
pub const FORMAT_VERSION: u32 = 1;

/// Identifies the dataset a model was trained on (to pick the validation split on evaluate).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataFingerprint {
    pub file_name: String,
    pub rows: usize,
    pub cols: usize,
    /// FNV-1a over the shape and 64 evenly spaced rows, hex.
    pub sample_hash: String,
}

impl DataFingerprint {
    pub fn of(data: &Dataset) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h ^= b as u64;
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        eat(&(data.rows() as u64).to_le_bytes());
        eat(&(data.cols() as u64).to_le_bytes());
        let step = (data.rows() / 64).max(1);
        for r in (0..data.rows()).step_by(step).take(64) {
            eat(bytemuck::cast_slice(data.row(r)));
        }
        DataFingerprint {
            file_name: data.path().file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
            rows: data.rows(),
            cols: data.cols(),
            sample_hash: format!("{h:016x}"),
        }
    }
}

/// How the model was trained (no wall-clock figures: the same run gives the same bytes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    pub config: TrainConfig,
    pub data: DataFingerprint,
    pub train_rows: usize,
    pub val_rows: usize,
    pub epochs_completed: usize,
    pub final_train_loss: Option<f64>,
    pub final_val_loss: Option<f64>,
    pub stopped: Option<String>,
    /// PCA: fraction of the normalised variance the components explain.
    #[serde(default)]
    pub explained_variance: Option<f64>,
    /// The schedule followed (batch, epochs, lr, early stopping); absent in older files.
    #[serde(default)]
    pub schedule: Option<crate::train_schedule::ResolvedSchedule>,
    /// With early stopping: the epoch whose parameters were kept (the final losses are its).
    #[serde(default)]
    pub best_epoch: Option<usize>,
}

/// The JSON stored in `__metadata__["hepae"]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    pub format: String,
    pub format_version: u32,
    /// Model family.
    pub kind: ModelKind,
    pub shape: AeShape,
    /// Every layer width, input to output.
    pub layer_dims: Vec<usize>,
    pub activation: String,
    pub columns: Vec<String>,
    pub normalizer: Normalizer,
    pub training: Option<TrainingRecord>,
    /// An anomaly threshold set by `hepae threshold`, for a trigger to apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<ThresholdMeta>,
}

/// A score cut for a target background rate, measured on a background sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdMeta {
    /// Score kind (`hepae score --score`).
    pub score: String,
    /// Jets with score ≥ this value are flagged.
    pub value: f64,
    /// Target background rate.
    pub fpr: f64,
    /// Rate achieved on the background sample.
    pub achieved_fpr: f64,
    pub background_jets: usize,
    pub background_file: String,
}

/// A model with everything needed to use it on physical data.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedModel {
    pub meta: ModelMeta,
    pub ae: Autoencoder,
}

impl SavedModel {
    /// A model without a training record (a PCA fitted on the side, a test or bench fixture):
    /// `columns` are the input variables in order, `normalizer` is fitted on them.
    pub fn new(kind: ModelKind, ae: Autoencoder, columns: Vec<String>, normalizer: Normalizer) -> Self {
        let activation = if kind == ModelKind::Pca { "linear" } else { "leaky_relu" };
        let meta = ModelMeta {
            format: "hepae-model".into(),
            format_version: FORMAT_VERSION,
            kind,
            shape: ae.shape.clone(),
            layer_dims: ae.shape.layer_dims(),
            activation: activation.into(),
            columns,
            normalizer,
            training: None,
            threshold: None,
        };
        SavedModel { meta, ae }
    }

    /// Wraps a training outcome.
    pub fn from_training(out: &TrainOutcome, cfg: &TrainConfig, data: &Dataset) -> Self {
        let mut model = Self::new(out.kind, out.model.clone(), data.columns().to_vec(), out.normalizer.clone());
        model.meta.training = Some(TrainingRecord {
            config: cfg.clone(),
            data: DataFingerprint::of(data),
            train_rows: out.train_rows,
            val_rows: out.val_rows,
            epochs_completed: out.history.len(),
            final_train_loss: out.kept_record().map(|h| h.train_loss),
            final_val_loss: out.kept_record().and_then(|h| h.val_loss),
            stopped: out.stopped.clone(),
            explained_variance: out.explained_variance,
            schedule: Some(out.schedule.clone()),
            best_epoch: out.best_epoch,
        });
        model
    }

    /// The safetensors bytes: 8-byte little-endian header length, JSON header (keys sorted,
    /// padded with spaces to a multiple of 8), then the tensors in name order.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let meta_json = serde_json::to_string(&self.meta)
            .map_err(|e| Error::config(format!("cannot encode model metadata: {e}")))?;
        let mut tensors: Vec<_> = self.ae.params.tensors.iter().collect();
        tensors.sort_by(|a, b| a.name.cmp(&b.name));
        let mut header = serde_json::Map::new();
        let mut md = serde_json::Map::new();
        md.insert("hepae".into(), serde_json::Value::String(meta_json));
        header.insert("__metadata__".into(), serde_json::Value::Object(md));
        let mut offset = 0usize;
        for t in &tensors {
            let bytes = 4 * t.len();
            header.insert(
                t.name.clone(),
                serde_json::json!({"dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + bytes]}),
            );
            offset += bytes;
        }
        let mut h =
            serde_json::to_string(&serde_json::Value::Object(header)).map_err(|e| Error::config(e.to_string()))?;
        while h.len() % 8 != 0 {
            h.push(' ');
        }
        let mut out = Vec::with_capacity(8 + h.len() + offset);
        out.extend_from_slice(&(h.len() as u64).to_le_bytes());
        out.extend_from_slice(h.as_bytes());
        for t in &tensors {
            for v in &self.ae.params.data[t.range()] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        Ok(out)
    }

    /// Writes the model atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_bytes()?)
    }

    /// Reads and validates a model file (also available as `hepae::Model::load`).
    ///
    /// ```
    /// # use hepae::{Dataset, Model, TrainConfig, Trainer};
    /// # let data = Dataset::open("tests/data/dy_nano_v6.npy".as_ref())?;
    /// # let cfg = TrainConfig { hidden: vec![16], latent: 4, epochs: Some(1), ..TrainConfig::default() };
    /// # let path = std::env::temp_dir().join(format!("hepae-doc-{}-{}.safetensors", std::process::id(), line!()));
    /// # Trainer::new(cfg).fit(&data)?.save(&path)?;
    /// let model = Model::load(&path)?;
    /// assert_eq!(model.meta.columns[..4], ["pt", "eta", "phi", "mass"]);
    /// println!("{} inputs -> {} latents", model.meta.columns.len(), model.meta.shape.latent);
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), hepae::Error>(())
    /// ```
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses model bytes; `path` names the source in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |msg: String| Error::model(path, msg);
        let (_, md) = safetensors::SafeTensors::read_metadata(bytes)
            .map_err(|e| bad(format!("not a safetensors model file ({e})")))?;
        let json = md
            .metadata()
            .as_ref()
            .and_then(|m| m.get("hepae"))
            .ok_or_else(|| bad("no hepae metadata in the safetensors header".into()))?;
        let probe: serde_json::Value =
            serde_json::from_str(json).map_err(|e| bad(format!("metadata is not JSON ({e})")))?;
        let version = probe.get("format_version").and_then(|v| v.as_u64()).unwrap_or(0);
        if version == 0 || version > FORMAT_VERSION as u64 {
            return Err(bad(format!(
                "model format version {version} is not supported (this hepae reads 1..={FORMAT_VERSION})"
            )));
        }
        let meta: ModelMeta = serde_json::from_value(probe)
            .map_err(|e| bad(format!("metadata does not match format {version} ({e})")))?;
        if meta.shape.discriminator.contains(&0) {
            return Err(bad("metadata has a zero-width discriminator layer".into()));
        }
        if meta.shape.input != meta.columns.len() || meta.normalizer.transforms.len() != meta.columns.len() {
            return Err(bad("metadata is inconsistent: input width, columns and normaliser disagree".into()));
        }
        if meta.shape.latent == 0 || meta.shape.hidden.contains(&0) || meta.shape.input == 0 {
            return Err(bad("metadata has a zero-width layer".into()));
        }
        let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| bad(format!("corrupt tensor data ({e})")))?;
        let mut ae = Autoencoder::new(meta.shape.clone());
        for spec in ae.params.tensors.clone() {
            let view = st.tensor(&spec.name).map_err(|_| bad(format!("tensor {} is missing", spec.name)))?;
            if view.dtype() != safetensors::Dtype::F32 {
                return Err(bad(format!("tensor {} is {:?}, expected F32", spec.name, view.dtype())));
            }
            if view.shape() != spec.shape.as_slice() {
                return Err(bad(format!(
                    "tensor {} has shape {:?}, expected {:?}",
                    spec.name,
                    view.shape(),
                    spec.shape
                )));
            }
            let dst = &mut ae.params.data[spec.range()];
            for (d, c) in dst.iter_mut().zip(view.data().chunks_exact(4)) {
                *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
        }
        if ae.params.data.iter().any(|v| !v.is_finite()) {
            return Err(bad("weights contain NaN or Inf".into()));
        }
        Ok(SavedModel { meta, ae })
    }

    /// Checks that `data` has the columns this model was trained on, in order.
    pub fn check_data(&self, data: &Dataset, model_path: &Path) -> Result<()> {
        if data.cols() != self.meta.columns.len() {
            return Err(Error::model(
                model_path,
                format!(
                    "model expects {} columns ({}) but {} has {}",
                    self.meta.columns.len(),
                    self.meta.columns.join(","),
                    data.path().display(),
                    data.cols()
                ),
            ));
        }
        if let Some((i, (m, d))) = self.meta.columns.iter().zip(data.columns()).enumerate().find(|(_, (m, d))| m != d) {
            return Err(Error::model(
                model_path,
                format!("column {} is '{m}' in the model but '{d}' in {}", i + 1, data.path().display()),
            ));
        }
        Ok(())
    }
}
