//! A model's identity: what an archive depends on to decode, and nothing else.
//!
//! SHA-256 over, in order: the tensors in name order (each as name, shape and little-endian
//! f32 data), then the JSON of the model kind, the net shape, the layer widths, the activation,
//! the column names and the normaliser. The threshold (`hepae threshold`) and the training
//! record are left out, so adding a threshold to a model does not orphan its archives.
//! (Stand-in for the model-file work, which defines the same method in `model_io.rs`; keep one.)

use crate::model_io::SavedModel;
use sha2::{Digest, Sha256};

impl SavedModel {
    /// Hex SHA-256 of the weights, normaliser, columns and net shape (see the module docs).
    pub fn identity_sha256(&self) -> String {
        let mut h = Sha256::new();
        let mut tensors: Vec<_> = self.ae.params.tensors.iter().collect();
        tensors.sort_by(|a, b| a.name.cmp(&b.name));
        for t in tensors {
            h.update((t.name.len() as u64).to_le_bytes());
            h.update(t.name.as_bytes());
            h.update((t.shape.len() as u64).to_le_bytes());
            for &s in &t.shape {
                h.update((s as u64).to_le_bytes());
            }
            for v in &self.ae.params.data[t.range()] {
                h.update(v.to_le_bytes());
            }
        }
        let m = &self.meta;
        let described = serde_json::json!({
            "kind": m.kind,
            "shape": m.shape,
            "layer_dims": m.layer_dims,
            "activation": m.activation,
            "columns": m.columns,
            "normalizer": m.normalizer,
        });
        h.update(described.to_string().as_bytes());
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}
