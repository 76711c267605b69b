//! File formats hepae writes and reads beside the NPY datasets: the model file
//! (`model_file`: net specs, normaliser, metadata, checksum) and the compressed archive (an
//! archive names its model by `SavedModel::identity_sha256`).

#[cfg(feature = "archive")]
pub mod archive;
pub mod model_file;
pub mod model_file_quant;
