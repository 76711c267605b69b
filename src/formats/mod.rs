//! File formats hepae writes and reads beside the NPY datasets: the compressed archive (the
//! model file is `crate::model_io`; an archive names its model by
//! `SavedModel::identity_sha256`).

#[cfg(feature = "archive")]
pub mod archive;
