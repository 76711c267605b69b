//! The archive's framing: header, numbered blocks and trailer, each under a CRC32, written
//! through an [`AtomicFile`] and read back as a stream (one block in memory at a time).
//!
//! Format 3 is format 2's framing with one more block kind: tag 4, a range-coded block of rows
//! ([`super::coded`]; stored as written, `raw_len = stored_len`), which replaces the latent +
//! residual pair in error-bounded mode. Format 4 is format 3's framing; its coded blocks may
//! predict columns from earlier ones (flag bit 1 in the block's payload, see
//! [`super::coded`]). Formats 3, 2 and 1 are still read.
//!
//! Format 2 (all integers little-endian; `id` is the header's 128-bit `archive_id`):
//! ```text
//! "HEPZ" | version u16 = 2 | flags u16 (0; format 3: 1 = header zstd) | header_len u32 | header JSON | crc32(header JSON) u32
//! block  : tag u8 | seq u32 | rows u32 | raw_len u32 | stored_len u32 | payload
//!          | crc32(id ‖ tag … payload) u32
//! trailer: tag 0xFF | seq u32 | len u32 | trailer JSON | crc32(id ‖ tag … JSON) u32 | EOF
//! ```
//! Blocks are numbered 1, 2, … in file order and the trailer carries the next number, so a
//! block that is swapped, duplicated or dropped breaks the sequence, and one spliced in from
//! another archive fails its CRC (another id). The trailer's counts (blocks, bytes per kind,
//! archive bytes) are checked against what was read.
//!
//! Format 1 (read only): no sequence numbers and no id, blocks are
//! `tag | rows | raw_len | stored_len | payload | crc32(tag … payload)`, the trailer
//! `0xFF | len | JSON | crc32(0xFF … JSON)`; its counts are checked, its content is not hashed.

use crate::error::{Error, Result};
use crate::io::atomic::AtomicFile;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};

use super::codec::{Bound, LatentDtype, MAX_RESIDUAL_BYTES_PER_VALUE};
use crate::data::normalize::Normalizer;

pub const MAGIC: &[u8; 4] = b"HEPZ";
/// The format this hepae writes (4: format 3's entropy-coded blocks, tag 4, with predictions
/// from earlier columns; 3 is still written on request and read).
pub const VERSION: u16 = 4;
/// The oldest format this hepae reads.
pub const OLDEST_VERSION: u16 = 1;
pub(crate) const TAG_LATENT: u8 = 1;
pub(crate) const TAG_RESIDUAL: u8 = 2;
pub(crate) const TAG_MODEL: u8 = 3;
/// Format 3: one block of rows, every value on its grid, range-coded ([`super::coded`]).
pub(crate) const TAG_CODED: u8 = 4;
pub(crate) const TAG_TRAILER: u8 = 0xFF;
/// Format 3 header flag: the header JSON is zstd-compressed.
const HEADER_ZSTD: u16 = 1;
/// Largest `block_rows` written or read (bounds every buffer of a block).
pub const MAX_BLOCK_ROWS: usize = 1 << 20;
/// Largest number of values (rows × columns) in one block.
const MAX_BLOCK_VALUES: usize = 1 << 28;
const MAX_HEADER_BYTES: usize = 16 << 20;
const MAX_TRAILER_BYTES: usize = 1 << 20;
/// Bytes of a format-2 trailer beside its JSON: tag, seq, length, CRC.
pub(crate) const TRAILER_FRAME: u64 = 13;

/// The archive's self-description (the header JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArchiveHeader {
    pub format: String,
    pub version: u16,
    /// 128 bits, hex: bound into every block's CRC (format 2).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub archive_id: String,
    pub columns: Vec<String>,
    pub rows: u64,
    pub model_kind: String,
    pub latent_dim: usize,
    pub latent_dtype: LatentDtype,
    pub truncate_bits: u32,
    /// The model's identity (`SavedModel::identity_sha256`: weights, normaliser, columns and
    /// shape; not its threshold or training record). Format 2.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub model_identity: String,
    /// Format 1: SHA-256 of the whole model file.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub model_sha256: String,
    pub normalizer: Normalizer,
    pub block_rows: usize,
    /// Per-column guarantees in error-bounded mode (None: latents only, lossy).
    pub bounds: Option<Vec<Bound>>,
    pub embedded_model: bool,
    pub zstd_level: i32,
    pub created_by: String,
    /// Kernel set and GEMM backend of the compressing machine: error-bounded residuals are
    /// relative to *its* decoder arithmetic, which another kernel set may round differently.
    #[serde(default)]
    pub decoder_arithmetic: String,
}

/// Sizes and content hashes, written last (the trailer JSON).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SizeReport {
    pub rows: u64,
    /// Every block, the embedded model's included.
    pub blocks: u64,
    /// The jets as raw float32 rows.
    pub original_bytes: u64,
    /// Latent blocks, framing included.
    pub latent_bytes: u64,
    /// Residual blocks, framing included.
    pub residual_bytes: u64,
    /// The whole archive file.
    pub archive_bytes: u64,
    /// Bytes a reader needs beside the archive to decode: the decoder's weights (0 if embedded).
    pub decoder_bytes: u64,
    /// The encoder's share of the model file (weights and biases as float32).
    pub encoder_bytes: u64,
    pub ratio: f64,
    pub ratio_with_decoder: f64,
    pub ratio_with_model: f64,
    /// Values stored raw because their bound could not be met by quantisation (format 3:
    /// values coded exactly as 32 bits, escapes from their grid).
    pub raw_values: u64,
    /// Format 3: blocks whose values are coded against the decoder's predictions (0: the
    /// archive decodes without any model).
    #[serde(default)]
    pub learned_blocks: u64,
    /// SHA-256 of the stored latents as decoded (f32 little-endian, row-major, in order).
    /// Format 2.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub latents_sha256: String,
    /// Error-bounded mode: SHA-256 of the decompressed rows (f32 little-endian, row-major).
    /// Lossy mode stores none: its rows depend on the decoding machine's float arithmetic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_sha256: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses a 32-digit hex archive id.
fn parse_id(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 || !s.is_ascii() {
        return None;
    }
    let mut id = [0u8; 16];
    for (i, b) in id.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(id)
}

/// Writes a format-2 archive: header, then blocks numbered from 1, then the trailer.
pub(crate) struct ContainerWriter {
    file: AtomicFile,
    id: [u8; 16],
    seq: u32,
    written: u64,
    head: Vec<u8>,
}

impl ContainerWriter {
    /// Creates the (temporary) output and writes the header (format `header.version`, 2 or 3);
    /// `header.archive_id` is set to `id`.
    pub fn create(out: &Path, header: &mut ArchiveHeader, id: [u8; 16]) -> Result<Self> {
        header.archive_id = hex(&id);
        if !(2..=VERSION).contains(&header.version) {
            return Err(Error::config(format!("archive format {} is not written (2 or {VERSION})", header.version)));
        }
        let json = serde_json::to_vec(header).map_err(|e| Error::config(e.to_string()))?;
        // Format 3: the header JSON is stored zstd-compressed (flag 1): its column names,
        // bounds and normaliser are a tenth of a small archive as text.
        let (hjson, flags) = if header.version >= 3 {
            (zstd::bulk::compress(&json, 19).map_err(|e| Error::archive(out, format!("zstd: {e}")))?, HEADER_ZSTD)
        } else {
            (json, 0)
        };
        let mut file = AtomicFile::create(out)?;
        file.write_all(MAGIC)?;
        file.write_all(&header.version.to_le_bytes())?;
        file.write_all(&flags.to_le_bytes())?;
        file.write_all(&(hjson.len() as u32).to_le_bytes())?;
        file.write_all(&hjson)?;
        file.write_all(&crc32fast::hash(&hjson).to_le_bytes())?;
        let written = (12 + hjson.len() + 4) as u64;
        Ok(ContainerWriter { file, id, seq: 1, written, head: Vec::with_capacity(17) })
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Number of blocks written so far.
    pub fn blocks(&self) -> u64 {
        (self.seq - 1) as u64
    }

    /// Appends block number `blocks() + 1`; returns its size on disk.
    pub fn block(&mut self, tag: u8, rows: u32, raw_len: usize, payload: &[u8]) -> Result<u64> {
        let too_big = |what: &str| Error::archive(self.file.target(), format!("{what} does not fit a block (4 GiB)"));
        let raw_len = u32::try_from(raw_len).map_err(|_| too_big("the uncompressed block"))?;
        let stored = u32::try_from(payload.len()).map_err(|_| too_big("the compressed block"))?;
        self.head.clear();
        self.head.push(tag);
        self.head.extend_from_slice(&self.seq.to_le_bytes());
        self.head.extend_from_slice(&rows.to_le_bytes());
        self.head.extend_from_slice(&raw_len.to_le_bytes());
        self.head.extend_from_slice(&stored.to_le_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&self.id);
        crc.update(&self.head);
        crc.update(payload);
        self.file.write_all(&self.head)?;
        self.file.write_all(payload)?;
        self.file.write_all(&crc.finalize().to_le_bytes())?;
        self.seq += 1;
        let n = (self.head.len() + payload.len() + 4) as u64;
        self.written += n;
        Ok(n)
    }

    /// Writes the trailer (`json`, whose size the caller settled with [`TRAILER_FRAME`]) and
    /// commits the file to its target. Returns the archive's size.
    pub fn finish(mut self, json: &[u8]) -> Result<u64> {
        let mut t = vec![TAG_TRAILER];
        t.extend_from_slice(&self.seq.to_le_bytes());
        t.extend_from_slice(&(json.len() as u32).to_le_bytes());
        t.extend_from_slice(json);
        let mut crc = crc32fast::Hasher::new();
        crc.update(&self.id);
        crc.update(&t);
        self.file.write_all(&t)?;
        self.file.write_all(&crc.finalize().to_le_bytes())?;
        self.written += t.len() as u64 + 4;
        self.file.commit()?;
        Ok(self.written)
    }
}

/// One frame read from an archive.
pub(crate) enum Frame {
    /// A verified block; its payload is [`ContainerReader::payload`].
    Block { tag: u8, seq: u32, rows: usize, raw_len: usize },
    /// The verified trailer, the last thing in the file (its counts checked).
    Trailer(SizeReport),
}

/// Reads an archive frame by frame from a buffered file, checking every CRC, the block
/// sequence and the trailer's counts; holds one block's payload at a time.
pub(crate) struct ContainerReader {
    path: PathBuf,
    r: BufReader<File>,
    /// Bytes consumed.
    pos: u64,
    /// File length (declared sizes are checked against what remains).
    len: u64,
    pub version: u16,
    id: [u8; 16],
    /// Number of the next block.
    seq: u32,
    /// Largest `raw_len` a latent / residual / coded block of this archive can declare.
    max_raw: [usize; 3],
    latent_bytes: u64,
    residual_bytes: u64,
    payload: Vec<u8>,
}

impl ContainerReader {
    /// Opens `path` and reads its header (magic, version, CRC, a layout that bounds every block).
    pub fn open(path: &Path) -> Result<(ArchiveHeader, ContainerReader)> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut rd = ContainerReader {
            path: path.to_path_buf(),
            r: BufReader::with_capacity(1 << 20, file),
            pos: 0,
            len,
            version: 0,
            id: [0; 16],
            seq: 1,
            max_raw: [0; 3],
            latent_bytes: 0,
            residual_bytes: 0,
            payload: Vec::new(),
        };
        let header = rd.read_header()?;
        Ok((header, rd))
    }

    fn bad(&self, msg: impl Into<String>) -> Error {
        Error::archive(&self.path, msg)
    }

    /// The payload of the block last returned by [`ContainerReader::next`].
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Reads exactly `buf.len()` bytes; `what` names the place in a truncation error.
    fn fill(&mut self, buf: &mut [u8], what: &dyn Fn() -> String) -> Result<()> {
        match self.r.read_exact(buf) {
            Ok(()) => {
                self.pos += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                Err(self.bad(format!("truncated: the file ends inside {}", what())))
            }
            Err(e) => Err(Error::io(&self.path, e)),
        }
    }

    /// The next byte, or `None` at the end of the file.
    fn read_byte(&mut self) -> Result<Option<u8>> {
        let mut b = [0u8; 1];
        loop {
            match self.r.read(&mut b) {
                Ok(0) => return Ok(None),
                Ok(_) => {
                    self.pos += 1;
                    return Ok(Some(b[0]));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(&self.path, e)),
            }
        }
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32> {
        let mut b = [0u8; 4];
        self.fill(&mut b, what)?;
        Ok(u32::from_le_bytes(b))
    }

    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn read_header(&mut self) -> Result<ArchiveHeader> {
        let mut fixed = [0u8; 8];
        self.fill(&mut fixed[..4], &|| "the magic number".into())?;
        if &fixed[..4] != MAGIC {
            return Err(self.bad("not a hepae archive (bad magic)"));
        }
        self.fill(&mut fixed[4..], &|| "the version".into())?;
        let version = u16::from_le_bytes([fixed[4], fixed[5]]);
        let flags = u16::from_le_bytes([fixed[6], fixed[7]]);
        if !(OLDEST_VERSION..=VERSION).contains(&version) || flags > (version >= 3) as u16 {
            return Err(self.bad(format!(
                "unknown archive version {version} (this hepae reads versions {OLDEST_VERSION} to {VERSION})"
            )));
        }
        self.version = version;
        let hl = self.u32(&|| "the header length".into())? as usize;
        if hl > MAX_HEADER_BYTES || hl as u64 > self.remaining() {
            return Err(self.bad("header length is corrupt"));
        }
        let mut h = vec![0u8; hl];
        self.fill(&mut h, &|| "the header".into())?;
        let crc = self.u32(&|| "the header checksum".into())?;
        if crc32fast::hash(&h) != crc {
            return Err(self.bad("header checksum mismatch (the file is corrupt)"));
        }
        if flags & HEADER_ZSTD != 0 {
            h = zstd::bulk::decompress(&h, MAX_HEADER_BYTES).map_err(|_| self.bad("header does not decompress"))?;
        }
        let header: ArchiveHeader =
            serde_json::from_slice(&h).map_err(|e| self.bad(format!("header is not valid ({e})")))?;
        let (d, l) = (header.columns.len(), header.latent_dim);
        if header.version != version {
            return Err(self.bad(format!("header says version {} inside a version {version} file", header.version)));
        }
        // No latents: only a model-free error-bounded archive (format 3 on, model kind none).
        let model_free = l == 0 && version >= 3 && header.bounds.is_some() && header.model_kind == "none";
        if (l == 0 && !model_free) || d == 0 || header.block_rows == 0 {
            return Err(self.bad("header describes an empty layout"));
        }
        if header.block_rows > MAX_BLOCK_ROWS || header.block_rows.saturating_mul(d.max(l)) > MAX_BLOCK_VALUES {
            return Err(
                self.bad(format!("header declares blocks of {} rows, more than hepae writes", header.block_rows))
            );
        }
        if header.bounds.as_ref().is_some_and(|b| b.len() != d) {
            return Err(self.bad("header has a bound count that differs from its column count"));
        }
        let sha256_hex = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if version >= 2 {
            self.id = parse_id(&header.archive_id).ok_or_else(|| self.bad("header has no valid archive id"))?;
            let identity_ok = sha256_hex(&header.model_identity) || (model_free && header.model_identity.is_empty());
            if !identity_ok {
                return Err(self.bad("header has no valid model identity"));
            }
        } else if !sha256_hex(&header.model_sha256) {
            return Err(self.bad("header has no valid model SHA-256"));
        }
        self.max_raw = [
            header.block_rows * l * header.latent_dtype.bytes(),
            4 + header.block_rows * d * MAX_RESIDUAL_BYTES_PER_VALUE,
            if version >= 3 {
                64 + (d + l) * (64 + 5 * super::entropy::MAX_ALPHABET) + header.block_rows * (d + l) * 8
            } else {
                0
            },
        ];
        Ok(header)
    }

    /// Reads the next frame: a block (CRC and sequence number checked, payload in
    /// [`ContainerReader::payload`]) or the trailer (CRC, counts and end of file checked).
    pub fn next(&mut self) -> Result<Frame> {
        let seq = self.seq;
        let start = self.pos;
        let Some(tag) = self.read_byte()? else {
            return Err(self.bad(format!("truncated: the file ends after block {} without its trailer", seq - 1)));
        };
        let v2 = self.version >= 2;
        let mut head = [0u8; 17];
        head[0] = tag;
        // Frame head: tag, [seq], then (trailer) len or (block) rows, raw_len, stored_len.
        let head_len = match (tag == TAG_TRAILER, v2) {
            (true, true) => 9,
            (true, false) => 5,
            (false, true) => 17,
            (false, false) => 13,
        };
        let what = if tag == TAG_TRAILER { "the trailer".to_string() } else { format!("block {seq}") };
        self.fill(&mut head[1..head_len], &|| what.clone())?;
        let word = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        let (stored_seq, fields) = if v2 { (word(1), 5) } else { (seq, 1) };
        if tag == TAG_TRAILER {
            return self.read_trailer(start, &head[..head_len], stored_seq, word(fields) as usize);
        }
        let (rows, raw_len, stored) = (word(fields) as usize, word(fields + 4) as usize, word(fields + 8) as usize);
        let at = format!("block {seq} (byte {start})");
        let max_raw = match tag {
            TAG_LATENT => self.max_raw[0],
            TAG_RESIDUAL => self.max_raw[1],
            TAG_CODED if self.version >= 3 => self.max_raw[2],
            TAG_MODEL => usize::MAX,
            t => return Err(self.bad(format!("{at}: unknown block type {t} (the file is corrupt)"))),
        };
        // Sizes are checked before anything is allocated: a corrupt length cannot ask for more
        // memory than the file holds, or than a block of this archive can need.
        if raw_len > max_raw
            || stored as u64 + 4 > self.remaining()
            || stored > zstd::zstd_safe::compress_bound(raw_len)
        {
            return Err(if stored as u64 + 4 > self.remaining() && raw_len <= max_raw {
                self.bad(format!("truncated: the file ends inside block {seq}"))
            } else {
                self.bad(format!("{at}: declares an impossible size (the file is corrupt)"))
            });
        }
        self.payload.resize(stored, 0);
        let mut payload = std::mem::take(&mut self.payload);
        let filled = self.fill(&mut payload, &|| what.clone());
        self.payload = payload;
        filled?;
        let crc = self.u32(&|| what.clone())?;
        let mut h = crc32fast::Hasher::new();
        if v2 {
            h.update(&self.id);
        }
        h.update(&head[..head_len]);
        h.update(&self.payload);
        if h.finalize() != crc {
            return Err(self.bad(format!(
                "{at}: checksum mismatch (the block is corrupt{})",
                if v2 { ", or comes from another archive" } else { "" }
            )));
        }
        self.check_seq(stored_seq, &at)?;
        let size = self.pos - start;
        match tag {
            TAG_LATENT => self.latent_bytes += size,
            TAG_RESIDUAL | TAG_CODED => self.residual_bytes += size,
            _ => {}
        }
        self.seq += 1;
        Ok(Frame::Block { tag, seq, rows, raw_len })
    }

    fn check_seq(&self, stored: u32, at: &str) -> Result<()> {
        let seq = self.seq;
        if stored == seq {
            Ok(())
        } else if stored < seq {
            Err(self.bad(format!("{at}: holds block {stored} again (blocks are duplicated or out of order)")))
        } else {
            Err(self.bad(format!(
                "{at}: holds block {stored}, so block{} {seq}{} missing (dropped or out of order)",
                if stored > seq + 1 { "s" } else { "" },
                if stored > seq + 1 { format!("–{} are", stored - 1) } else { " is".into() }
            )))
        }
    }

    fn read_trailer(&mut self, start: u64, head: &[u8], stored_seq: u32, tl: usize) -> Result<Frame> {
        if tl > MAX_TRAILER_BYTES || tl as u64 + 4 > self.remaining() {
            return Err(if tl as u64 + 4 > self.remaining() {
                self.bad("truncated: the file ends inside the trailer")
            } else {
                self.bad("trailer length is corrupt")
            });
        }
        let mut t = vec![0u8; tl];
        self.fill(&mut t, &|| "the trailer".into())?;
        let crc = self.u32(&|| "the trailer checksum".into())?;
        let mut h = crc32fast::Hasher::new();
        if self.version >= 2 {
            h.update(&self.id);
        }
        h.update(head);
        h.update(&t);
        if h.finalize() != crc {
            return Err(self.bad(format!("trailer (byte {start}): checksum mismatch (the file is corrupt)")));
        }
        if stored_seq != self.seq {
            return Err(self.bad(format!(
                "trailer (byte {start}): written after {} blocks, but the file holds {} (blocks dropped or duplicated)",
                stored_seq.wrapping_sub(1),
                self.seq - 1
            )));
        }
        let report: SizeReport =
            serde_json::from_slice(&t).map_err(|e| self.bad(format!("trailer is not valid ({e})")))?;
        if self.read_byte()?.is_some() {
            return Err(self.bad(format!("{} unexpected bytes after the trailer", self.len - self.pos + 1)));
        }
        let blocks = (self.seq - 1) as u64;
        let counts = [
            ("blocks", report.blocks, blocks),
            ("archive bytes", report.archive_bytes, self.pos),
            ("latent block bytes", report.latent_bytes, self.latent_bytes),
            ("residual block bytes", report.residual_bytes, self.residual_bytes),
        ];
        if let Some((what, said, got)) = counts.iter().find(|(_, said, got)| said != got) {
            return Err(self.bad(format!("the trailer counts {said} {what} but the file holds {got}")));
        }
        Ok(Frame::Trailer(report))
    }
}
