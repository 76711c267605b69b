//! Import of foreign formats into `<f4` NPY: one file per input format.

pub mod csv;
#[cfg(feature = "root")]
pub mod root;
