//! Model files: safetensors with PyTorch `nn.Linear` names and layout (`encoder.0.weight` is
//! [out, in]) plus JSON metadata under `__metadata__["hepae"]`, so that
//! `safetensors.torch.load_file` and a matching `nn.Sequential` reproduce our outputs.
//!
//! The writer is ours (a sorted JSON header, tensors laid out in name order) so the same model
//! always gives the same bytes; the reader is the `safetensors` crate, which validates offsets.
//!
//! Files are self-checking: `__metadata__["hepae_sha256"]` holds a SHA-256 over the metadata and
//! every tensor ([`file_checksum`]), verified at load; files written before it load without one.
//! At load the metadata must also agree with the tensors (kind, shapes, the set of tensors,
//! columns, normaliser), so a corrupt or edited file is refused naming the file and the tensor.
//! [`SavedModel::identity_sha256`] names the model itself (what an archive depends on): it
//! leaves out the threshold and the training record, so `hepae threshold` keeps it.

use super::model_file_quant::{load_quant, quant_names, quant_tensors, StoredTensor};
use crate::data::normalize::Normalizer;
use crate::data::npy::Dataset;
use crate::error::{Error, Result};
use crate::io::atomic::write_atomic;
use crate::models::shape::{AeShape, ModelKind, NetSpecs};
use crate::models::Autoencoder;
use crate::train::{TrainConfig, TrainOutcome};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// Version of the metadata layout; readers refuse newer ones. Version 2 adds the net specs
/// (`nets`); version-1 files (no specs) load with the nets their `shape` describes.
pub const FORMAT_VERSION: u32 = 2;

/// Key of the file checksum in `__metadata__`, beside `hepae`.
pub const CHECKSUM_KEY: &str = "hepae_sha256";

/// Identifies the dataset a model was trained on by its content (to pick the validation split
/// on evaluate, roc, threshold): a renamed copy is recognised, another file of that name is not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataFingerprint {
    /// The file's name at training time (for people; [`DataFingerprint::matches`] ignores it).
    pub file_name: String,
    pub rows: usize,
    pub cols: usize,
    /// FNV-1a over the shape and 64 evenly spaced rows, hex (all that files written before
    /// `content_sha256` hold).
    pub sample_hash: String,
    /// SHA-256 over the shape, the data's byte length and its bytes: all of them up to
    /// [`CONTENT_SAMPLE_BYTES`], else that many in evenly spaced chunks, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_sha256: Option<String>,
}

/// Data bytes the content hash reads at most (4 MiB: a few ms, however large the file).
pub const CONTENT_SAMPLE_BYTES: usize = CONTENT_CHUNKS * CONTENT_CHUNK_BYTES;
const CONTENT_CHUNKS: usize = 256;
const CONTENT_CHUNK_BYTES: usize = 16 * 1024;

/// SHA-256 (hex) of a dataset's content as [`DataFingerprint::content_sha256`] defines it.
fn content_sha256(data: &Dataset) -> String {
    let bytes: &[u8] = bytemuck::cast_slice(data.as_slice());
    let mut h = Sha256::new();
    h.update(b"hepae-data-content-v1");
    for n in [data.rows(), data.cols(), bytes.len()] {
        h.update((n as u64).to_le_bytes());
    }
    if bytes.len() <= CONTENT_SAMPLE_BYTES {
        h.update(bytes);
    } else {
        // Chunk i starts at i/(n−1) of the way through: the first and the last bytes are read.
        let span = (bytes.len() - CONTENT_CHUNK_BYTES) as u128;
        for i in 0..CONTENT_CHUNKS {
            let start = (span * i as u128 / (CONTENT_CHUNKS - 1) as u128) as usize;
            h.update(&bytes[start..start + CONTENT_CHUNK_BYTES]);
        }
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
            content_sha256: Some(content_sha256(data)),
        }
    }

    /// Whether `data` has the content this fingerprint was taken of, whatever its file name:
    /// same shape and same content hash (the sampled-row hash for fingerprints without one).
    pub fn matches(&self, data: &Dataset) -> bool {
        if self.rows != data.rows() || self.cols != data.cols() {
            return false;
        }
        let now = DataFingerprint::of(data);
        match &self.content_sha256 {
            Some(h) => now.content_sha256.as_ref() == Some(h),
            None => now.sample_hash == self.sample_hash,
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
    pub schedule: Option<crate::train::schedule::ResolvedSchedule>,
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
    /// The nets (ops in order, with their options); absent in format-version-1 files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nets: Option<NetSpecs>,
    /// Every layer width, input to output.
    pub layer_dims: Vec<usize>,
    pub activation: String,
    pub columns: Vec<String>,
    pub normalizer: Normalizer,
    pub training: Option<TrainingRecord>,
    /// An anomaly threshold set by `hepae threshold`, for a trigger to apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<ThresholdMeta>,
    /// A reduced-precision encoder (`hepae quantize`): its layers' formats; the tensors are in
    /// those formats ([`super::model_file_quant`]). Absent for f32 models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quant: Option<crate::infer::quantized::QuantMeta>,
}

/// A score cut for a target background rate, measured on a background sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdMeta {
    /// Score kind (`hepae score --score`).
    pub score: String,
    /// Jets with score ≥ this value are flagged as anomalous (pass the trigger).
    pub value: f64,
    /// Target background rate.
    pub fpr: f64,
    /// Rate achieved on the background sample.
    pub achieved_fpr: f64,
    pub background_jets: usize,
    pub background_file: String,
    /// Which rows of the background file: "validation split" when it is the training data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_rows: Option<String>,
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
            nets: Some(ae.net_specs()),
            layer_dims: ae.shape.layer_dims(),
            activation: activation.into(),
            columns,
            normalizer,
            training: None,
            threshold: None,
            quant: None,
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
    /// padded with spaces to a multiple of 8), then the tensors in name order. The header's
    /// `__metadata__` holds the metadata JSON and its checksum ([`file_checksum`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let meta_json = serde_json::to_string(&self.meta)
            .map_err(|e| Error::config(format!("cannot encode model metadata: {e}")))?;
        let tensors = self.tensors_in_store_order();
        let checksum = file_checksum(
            &meta_json,
            tensors.iter().map(|t| (t.name.as_str(), t.dtype, t.shape.as_slice(), t.bytes.as_slice())),
        );
        let mut header = serde_json::Map::new();
        let mut md = serde_json::Map::new();
        md.insert("hepae".into(), serde_json::Value::String(meta_json));
        md.insert(CHECKSUM_KEY.into(), serde_json::Value::String(checksum));
        header.insert("__metadata__".into(), serde_json::Value::Object(md));
        let mut offset = 0usize;
        for t in &tensors {
            header.insert(
                t.name.clone(),
                serde_json::json!({"dtype": t.dtype, "shape": t.shape, "data_offsets": [offset, offset + t.bytes.len()]}),
            );
            offset += t.bytes.len();
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
            out.extend_from_slice(&t.bytes);
        }
        Ok(out)
    }

    /// Every tensor as stored, in name order: the parameters in little-endian f32, except
    /// those a quantised encoder stores in its own formats (and the ones it adds).
    fn tensors_in_store_order(&self) -> Vec<StoredTensor> {
        let quant = quant_tensors(&self.ae);
        let replaced: Vec<String> = quant.iter().map(|q| q.name.clone()).collect();
        let mut tensors: Vec<StoredTensor> = self
            .ae
            .params
            .tensors
            .iter()
            .filter(|t| !replaced.contains(&t.name))
            .map(|t| StoredTensor {
                name: t.name.clone(),
                dtype: "F32",
                shape: t.shape.clone(),
                bytes: self.ae.params.data[t.range()].iter().flat_map(|v| v.to_le_bytes()).collect(),
            })
            .chain(quant)
            .collect();
        tensors.sort_by(|a, b| a.name.cmp(&b.name));
        tensors
    }

    /// SHA-256 (hex) of what this model computes: its tensors (name, shape, bytes, in store
    /// order) and its metadata without the training record, the threshold and the container's
    /// format fields, i.e. kind, architecture, columns and normaliser. Saving, loading and
    /// `hepae threshold` keep it; an archive names its model by it.
    pub fn identity_sha256(&self) -> String {
        // A derived Serialize over strings, numbers, enums and vectors cannot fail.
        let mut meta = serde_json::to_value(&self.meta).expect("model metadata serialises to JSON");
        if let Some(m) = meta.as_object_mut() {
            for key in ["training", "threshold", "format", "format_version"] {
                m.remove(key);
            }
        }
        let mut h = Sha256::new();
        put(&mut h, b"hepae-model-identity-v1");
        put(&mut h, meta.to_string().as_bytes());
        for t in self.tensors_in_store_order() {
            put_tensor(&mut h, &t.name, t.dtype, &t.shape, &t.bytes);
        }
        hex(&h.finalize())
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

    /// Parses model bytes; `path` names the source in errors. The checksum (when the file has
    /// one) is verified first, then the metadata against the tensors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |msg: String| Error::model(path, msg);
        let (_, md) = safetensors::SafeTensors::read_metadata(bytes)
            .map_err(|e| bad(format!("not a safetensors model file ({e})")))?;
        let json = md
            .metadata()
            .as_ref()
            .and_then(|m| m.get("hepae"))
            .ok_or_else(|| bad("no hepae metadata in the safetensors header".into()))?;
        let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| bad(format!("corrupt tensor data ({e})")))?;
        if let Some(stored) = md.metadata().as_ref().and_then(|m| m.get(CHECKSUM_KEY)) {
            verify_checksum(json, &st, stored).map_err(bad)?;
        }
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
        if meta.shape.latent == 0 || meta.shape.hidden.contains(&0) || meta.shape.input == 0 {
            return Err(bad("metadata has a zero-width layer".into()));
        }
        check_meta(&meta).map_err(bad)?;
        let mut ae = model_nets(&meta).map_err(bad)?;
        let (quantised, added) = quant_names(&meta);
        if let Some(extra) = st
            .names()
            .into_iter()
            .find(|n| !ae.params.tensors.iter().any(|t| t.name == **n) && !added.iter().any(|a| a == *n))
        {
            return Err(bad(format!(
                "tensor {extra} is not part of the model the metadata describes (kind {}, layers {:?})",
                meta.kind,
                meta.shape.layer_dims()
            )));
        }
        for spec in ae.params.tensors.clone().into_iter().filter(|t| !quantised.contains(&t.name)) {
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
        load_quant(&meta, &mut ae, &st).map_err(bad)?;
        if let Some(t) = ae.params.tensors.iter().find(|t| ae.params.data[t.range()].iter().any(|v| !v.is_finite())) {
            return Err(bad(format!("tensor {} contains NaN or Inf", t.name)));
        }
        Ok(SavedModel { meta, ae })
    }

    /// Checks that `data` has the columns this model was trained on, in order; for a model
    /// trained on images (pixel column names), that `data` holds images of the same C×H×W (or
    /// the same pixels flattened into a table).
    pub fn check_data(&self, data: &Dataset, model_path: &Path) -> Result<()> {
        use crate::data::npy::{describe_shape, shape_of_columns};
        use crate::engine::tensor::Shape;
        let cols = &self.meta.columns;
        let model_shape = shape_of_columns(cols).unwrap_or(Shape::Features(cols.len()));
        let image_involved = data.is_image() || matches!(model_shape, Shape::Image { .. });
        let shapes_differ = match (model_shape, data.shape()) {
            (Shape::Image { .. }, d @ Shape::Image { .. }) => d != model_shape,
            _ => data.cols() != cols.len(),
        };
        if image_involved && shapes_differ {
            let what = |s: Shape| match s {
                Shape::Features(_) => format!("tables of {}", describe_shape(s)),
                Shape::Image { .. } => describe_shape(s),
            };
            return Err(Error::model(
                model_path,
                format!(
                    "model expects {} but {} holds {} ({} values per row, the model {})",
                    what(model_shape),
                    data.path().display(),
                    what(data.shape()),
                    data.cols(),
                    cols.len()
                ),
            ));
        }
        if data.cols() != cols.len() {
            return Err(Error::model(
                model_path,
                format!(
                    "model expects {} columns ({}) but {} has {}",
                    cols.len(),
                    cols.join(","),
                    data.path().display(),
                    data.cols()
                ),
            ));
        }
        if let Some((i, (m, d))) = cols.iter().zip(data.columns()).enumerate().find(|(_, (m, d))| m != d) {
            return Err(Error::model(
                model_path,
                format!("column {} is '{m}' in the model but '{d}' in {}", i + 1, data.path().display()),
            ));
        }
        Ok(())
    }
}

/// SHA-256 (hex) over the metadata JSON exactly as stored and every tensor in name order
/// (name, dtype, shape, bytes), each part length-prefixed: the checksum under [`CHECKSUM_KEY`].
pub fn file_checksum<'a>(
    meta_json: &str,
    tensors: impl Iterator<Item = (&'a str, &'a str, &'a [usize], &'a [u8])>,
) -> String {
    let mut h = Sha256::new();
    put(&mut h, b"hepae-model-file-v1");
    put(&mut h, meta_json.as_bytes());
    for (name, dtype, shape, bytes) in tensors {
        put_tensor(&mut h, name, dtype, shape, bytes);
    }
    hex(&h.finalize())
}

/// Feeds `bytes` with its length in front, so that parts cannot shift into each other.
fn put(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

fn put_tensor(h: &mut Sha256, name: &str, dtype: &str, shape: &[usize], bytes: &[u8]) {
    put(h, name.as_bytes());
    put(h, dtype.as_bytes());
    h.update((shape.len() as u64).to_le_bytes());
    for &d in shape {
        h.update((d as u64).to_le_bytes());
    }
    put(h, bytes);
}

/// Recomputes the checksum of a parsed file and compares it with the stored one.
fn verify_checksum(
    meta_json: &str,
    st: &safetensors::SafeTensors<'_>,
    stored: &str,
) -> std::result::Result<(), String> {
    let mut tensors = st.tensors();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let dtypes: Vec<String> = tensors.iter().map(|(_, v)| format!("{:?}", v.dtype())).collect();
    let got = file_checksum(
        meta_json,
        tensors.iter().zip(&dtypes).map(|((n, v), d)| (n.as_str(), d.as_str(), v.shape(), v.data())),
    );
    if got == stored {
        Ok(())
    } else {
        Err(format!(
            "checksum mismatch: the file is corrupt or was edited (stored SHA-256 {}…, contents give {}…)",
            stored.get(..12).unwrap_or(stored),
            &got[..12]
        ))
    }
}

/// Checks that the metadata agrees with itself: kind and architecture, layer widths, columns
/// and input width, and a normaliser with one valid transform per column.
fn check_meta(meta: &ModelMeta) -> std::result::Result<(), String> {
    let s = &meta.shape;
    let kind = meta.kind;
    let fits = |has: bool, needs: bool, what: &str| -> std::result::Result<(), String> {
        match (has, needs) {
            (false, true) => Err(format!("metadata says kind {kind} but the architecture has no {what}")),
            (true, false) => Err(format!("metadata says kind {kind} but the architecture has a {what}")),
            _ => Ok(()),
        }
    };
    fits(s.variational, kind == ModelKind::Vae, "variational encoder (μ, log σ²)")?;
    fits(!s.discriminator.is_empty(), kind == ModelKind::Aae, "discriminator")?;
    fits(s.whitening, kind == ModelKind::AePca, "whitening layers")?;
    if s.spherical && kind != ModelKind::Nae {
        return Err(format!("metadata says kind {kind} with a spherical latent, which only an NAE has"));
    }
    if s.gaussian_decoder && !s.variational {
        return Err(format!("metadata says kind {kind} with a Gaussian decoder, which only a VAE has"));
    }
    if kind == ModelKind::ConvAe && s.conv.is_none() {
        return Err("metadata says kind conv-ae but the architecture has no conv backbone".into());
    }
    if kind == ModelKind::Pca && !s.hidden.is_empty() {
        return Err(format!("metadata says kind pca but the architecture has hidden layers {:?}", s.hidden));
    }
    if meta.layer_dims != s.layer_dims() {
        return Err(format!("metadata lists layers {:?} but its shape gives {:?}", meta.layer_dims, s.layer_dims()));
    }
    if s.input != meta.columns.len() {
        return Err(format!("metadata names {} columns but the input width is {}", meta.columns.len(), s.input));
    }
    let n = &meta.normalizer;
    if n.transforms.len() != meta.columns.len() || n.columns.len() != meta.columns.len() {
        return Err(format!(
            "the normaliser has {} transforms for {} columns but the model has {} columns",
            n.transforms.len(),
            n.columns.len(),
            meta.columns.len()
        ));
    }
    n.validate().map_err(|e| format!("the stored normaliser is invalid: {e}"))
}

/// The model the metadata describes: from its net specs (format 2), or from its shape
/// (format 1). Refuses specs whose widths contradict the shape.
fn model_nets(meta: &ModelMeta) -> std::result::Result<Autoencoder, String> {
    let Some(nets) = meta.nets.clone() else { return Ok(Autoencoder::new(meta.shape.clone())) };
    let specs = [Some(&nets.encoder), Some(&nets.decoder), nets.discriminator.as_ref(), nets.whiten.as_ref()];
    for spec in specs.into_iter().chain([nets.unwhiten.as_ref()]).flatten() {
        spec.check().map_err(|e| format!("metadata has a net that cannot be built: {e}"))?;
    }
    let ae = Autoencoder::from_specs(meta.shape.clone(), nets);
    let s = &meta.shape;
    let enc_out = if s.variational { 2 * s.latent } else { s.latent };
    let dec_out = if s.gaussian_decoder { 2 * s.input } else { s.input };
    let widths_ok = ae.encoder.in_dim() == s.input
        && ae.encoder.out_dim() == enc_out
        && ae.decoder.in_dim() == s.latent
        && ae.decoder.out_dim() == dec_out
        && ae.discriminator.is_some() != s.discriminator.is_empty()
        && ae.whiten.is_some() == s.whitening
        && ae.unwhiten.is_some() == s.whitening
        && [&ae.encoder, &ae.decoder].into_iter().chain(&ae.discriminator).all(|n| n.layers.iter().all(|l| l.out > 0));
    if !widths_ok {
        return Err(format!(
            "metadata is inconsistent: the net specs (encoder {} → {}, decoder {} → {}) disagree with \
             the model shape (encoder {} → {enc_out}, decoder {} → {dec_out})",
            ae.encoder.in_dim(),
            ae.encoder.out_dim(),
            ae.decoder.in_dim(),
            ae.decoder.out_dim(),
            s.input,
            s.latent
        ));
    }
    Ok(ae)
}
