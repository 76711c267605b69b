//! The compressed-jet archive (`.hepz`): what a trigger stores instead of the jets.
//!
//! Blocks: `1` latents of up to `block_rows` jets (dtype-converted, mantissa-truncated,
//! byte-shuffled, zstd), `2` the residuals of the same rows in error-bounded mode, `3` the
//! embedded model (zstd). The archive is verified as a whole, not only block by block: every
//! block carries its sequence number and the archive's id inside its CRC, the trailer's counts
//! and a SHA-256 of the decoded content are checked, and a latent block without its residual
//! block is an error. Both directions stream one block at a time.
//!
//! Format 3 (written by default) replaces the latent + residual pair of error-bounded mode by
//! one block `4` per block of rows: every value on its bound's grid, range-coded per column.
//!
//! * [`container`]: framing, block numbering, CRCs, trailer (formats 3, 2 and 1);
//! * [`grid`]: the value grids (log, linear, mantissa, integer) and their bound checks;
//! * [`entropy`]: the fitted integer tables and the range coder (constriction);
//! * [`coded`]: one coded block: per-column choice of grid and model, identities, latents;
//! * [`codec`]: latent packing, bounds, format-2 residual quantisation;
//! * [`driver`]: compress and decompress.

pub mod codec;
pub mod coded;
pub mod container;
pub mod driver;
pub mod entropy;
pub mod grid;

pub use codec::{default_bounds, integer_columns, shuffle, unshuffle, within, Bound, LatentDtype};
pub use coded::{BlockStats, ColumnCode};
pub use container::{ArchiveHeader, SizeReport, MAGIC, MAX_BLOCK_ROWS, OLDEST_VERSION, VERSION};
pub use driver::{
    compress, compress_observed, compress_plain, compress_with, decoder_arithmetic, decompress, decompress_with,
    embedded_model, read_header, read_report, CompressOptions, Learned,
};
