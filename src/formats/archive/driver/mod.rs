//! Compress and decompress: the model, the codecs and the container put together, streaming
//! one block of rows at a time in both directions (rows from the memory map, blocks from a
//! buffered file), so memory stays bounded by the block size whatever the number of jets.
//!
//! Error-bounded mode stores, per value, the quantised difference between the jet and the
//! decoder's prediction *from the stored latents* (exactly what decompression computes), so
//! that |decompressed − original| ≤ bound holds for every value; values whose bound cannot
//! be met that way (a zero under a relative bound, a prediction too far off) are stored raw.
//!
//! Decompression checks, besides the container's CRCs, sequence and counts: the model's
//! identity, that every latent block is followed by its residual block (error-bounded mode),
//! the row count, and the SHA-256 of the decoded latents and rows against the trailer. The
//! output is committed only after all of it passed; a failure leaves no output file.
//!
//! * [`compress`]: rows to blocks; [`decompress`]: blocks to rows, and the archive's header,
//!   embedded model and trailer on their own.

mod compress;
mod decompress;

pub use compress::{compress, compress_observed, compress_plain, compress_with};
pub use decompress::{decompress, decompress_with, embedded_model, read_header, read_report};

use super::codec::{Bound, LatentDtype};
use super::container::VERSION;
use sha2::{Digest, Sha256};
use std::path::Path;

/// How to compress.
#[derive(Clone, Debug)]
pub struct CompressOptions {
    pub latent_dtype: LatentDtype,
    pub truncate_bits: u32,
    pub bounds: Option<Vec<Bound>>,
    pub embed_model: bool,
    /// Jets per block, 1 to `MAX_BLOCK_ROWS`.
    pub block_rows: usize,
    pub zstd_level: i32,
    /// The archive's 128-bit id; `None` draws a random one (the usual case).
    pub archive_id: Option<[u8; 16]>,
    /// Error-bounded mode: whether the coder may code values against the decoder's predictions.
    pub learned: Learned,
    /// Archive format to write: [`VERSION`] (4), 3 (coded blocks without predictions), or 2 (latent and residual blocks; kept so
    /// that format-2 readers and their tests have archives to read).
    pub format: u16,
}

impl Default for CompressOptions {
    fn default() -> Self {
        CompressOptions {
            latent_dtype: LatentDtype::F32,
            truncate_bits: 0,
            bounds: None,
            embed_model: false,
            block_rows: 65_536,
            zstd_level: 9,
            archive_id: None,
            learned: Learned::Auto,
            format: VERSION,
        }
    }
}

/// Whether error-bounded blocks are coded against the decoder's predictions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Learned {
    /// Never: every column plainly coded, the archive decodes without any model.
    Off,
    /// Per block, where the latents and (once) the decoder cost less than they save.
    Auto,
    /// Every column the predictions make cheaper, whatever the latents cost (measurements).
    Force,
}

/// This process's decoder arithmetic: kernel set and GEMM backend.
pub fn decoder_arithmetic() -> String {
    format!("kernels={} gemm={}", hepae_kernels::kernels().isa.name(), crate::gemm::gemm_backend().name())
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_digest(h: Sha256) -> String {
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Feeds f32 values to a hash as little-endian bytes.
fn hash_f32(h: &mut Sha256, v: &[f32]) {
    if cfg!(target_endian = "little") {
        h.update(bytemuck::cast_slice::<f32, u8>(v));
    } else {
        v.iter().for_each(|x| h.update(x.to_le_bytes()));
    }
}

/// Whether `a` and `b` name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
