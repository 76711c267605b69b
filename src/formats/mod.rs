//! File formats hepae writes and reads beside the NPY datasets: the compressed archive, and
//! the identity by which an archive names its model.

#[cfg(feature = "archive")]
pub mod archive;
#[cfg(feature = "archive")]
pub mod model_identity;
