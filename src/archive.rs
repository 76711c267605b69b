//! The compressed-jet archive (`.hepz`): what a trigger stores instead of the jets.
//!
//! Layout (all integers little-endian):
//! ```text
//! "HEPZ" | version u16 | 0u16 | header_len u32 | header JSON | crc32(header) u32
//! block*  : tag u8 | rows u32 | raw_len u32 | stored_len u32 | payload | crc32(tag..payload) u32
//! trailer : tag 0xFF | len u32 | trailer JSON | crc32(tag..JSON) u32
//! ```
//! Blocks: `1` latents of up to `block_rows` jets (dtype-converted, mantissa-truncated,
//! byte-shuffled, zstd), `2` the residuals of the same rows in error-bounded mode, `3` the
//! embedded model (zstd). Every byte is covered by a checksum or checked by value, so a
//! flipped bit anywhere is detected; a file that ends before the trailer is truncated.
//!
//! Error-bounded mode stores, per value, the quantised difference between the jet and the
//! decoder's prediction *from the stored latents* (exactly what decompression computes), so
//! that |decompressed − original| ≤ bound holds for every value; values whose bound cannot
//! be met that way (a zero under a relative bound, a prediction too far off) are stored raw.

use crate::atomic::AtomicFile;
use crate::data::normalize::{momentum_component, Momentum, Normalizer};
use crate::data::npy::Dataset;
use crate::data::sink::RowSink;
use crate::encoder::{Decoder, Encoder};
use crate::error::{Error, Location, Result};
use crate::model_io::SavedModel;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

pub const MAGIC: &[u8; 4] = b"HEPZ";
pub const VERSION: u16 = 1;
const TAG_LATENT: u8 = 1;
const TAG_RESIDUAL: u8 = 2;
const TAG_MODEL: u8 = 3;
const TAG_TRAILER: u8 = 0xFF;

/// Storage type of the latent values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LatentDtype {
    #[default]
    F32,
    F16,
    Bf16,
}

impl LatentDtype {
    fn bytes(self) -> usize {
        match self {
            LatentDtype::F32 => 4,
            _ => 2,
        }
    }
    fn mantissa_bits(self) -> u32 {
        match self {
            LatentDtype::F32 => 23,
            LatentDtype::F16 => 10,
            LatentDtype::Bf16 => 7,
        }
    }
}

impl std::str::FromStr for LatentDtype {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "f32" => Ok(LatentDtype::F32),
            "f16" => Ok(LatentDtype::F16),
            "bf16" => Ok(LatentDtype::Bf16),
            _ => Err(Error::config(format!("--latent-dtype '{s}' is not f32, f16 or bf16"))),
        }
    }
}

/// The guarantee for one column in error-bounded mode.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Bound {
    /// |out − in| ≤ value·|in|.
    Rel { value: f64 },
    /// |out − in| ≤ value.
    Abs { value: f64 },
    /// out = in (integer-valued columns: multiplicities, flags).
    Exact,
}

/// The archive's self-description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArchiveHeader {
    pub format: String,
    pub version: u16,
    pub columns: Vec<String>,
    pub rows: u64,
    pub model_kind: String,
    pub latent_dim: usize,
    pub latent_dtype: LatentDtype,
    pub truncate_bits: u32,
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

/// Sizes, written last (the trailer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SizeReport {
    pub rows: u64,
    pub blocks: u64,
    /// The jets as raw float32 rows.
    pub original_bytes: u64,
    pub latent_bytes: u64,
    pub residual_bytes: u64,
    /// The whole archive file.
    pub archive_bytes: u64,
    /// Bytes a reader needs beside the archive to decode: the model file (0 if embedded).
    pub decoder_bytes: u64,
    /// The encoder's share of the model file (weights and biases as float32).
    pub encoder_bytes: u64,
    pub ratio: f64,
    pub ratio_with_decoder: f64,
    pub ratio_with_model: f64,
    /// Values stored raw because their bound could not be met by quantisation.
    pub raw_values: u64,
}

/// How to compress.
#[derive(Clone, Debug)]
pub struct CompressOptions {
    pub latent_dtype: LatentDtype,
    pub truncate_bits: u32,
    pub bounds: Option<Vec<Bound>>,
    pub embed_model: bool,
    pub block_rows: usize,
    pub zstd_level: i32,
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
        }
    }
}

/// The default bound policy for a relative bound `rel`: η and φ (which cross zero) get the
/// same value as an absolute bound in their own units, integer-valued columns are exact,
/// every other column gets the relative bound. `abs` overrides name → absolute bound.
pub fn default_bounds(data: &Dataset, rel: Option<f64>, abs: &[(String, f64)], abs_all: Option<f64>) -> Vec<Bound> {
    let integer = integer_columns(data);
    data.columns()
        .iter()
        .enumerate()
        .map(|(c, name)| {
            if let Some((_, v)) = abs.iter().find(|(n, _)| n == name) {
                return Bound::Abs { value: *v };
            }
            if integer[c] {
                return Bound::Exact;
            }
            if let Some(v) = abs_all {
                return Bound::Abs { value: v };
            }
            match (momentum_component(name), rel) {
                (Some(Momentum::Eta) | Some(Momentum::Phi), Some(r)) => Bound::Abs { value: r },
                (_, Some(r)) => Bound::Rel { value: r },
                (_, None) => Bound::Exact,
            }
        })
        .collect()
}

/// Columns whose every value is an integer of magnitude < 2²⁴ (scanned once, in blocks).
pub fn integer_columns(data: &Dataset) -> Vec<bool> {
    let d = data.cols();
    let mut int = vec![true; d];
    let all = data.as_slice();
    let block = crate::data::npy::RELEASE_BLOCK_ROWS;
    for start in (0..data.rows()).step_by(block) {
        let end = (start + block).min(data.rows());
        for row in all[start * d..end * d].chunks_exact(d) {
            for (flag, v) in int.iter_mut().zip(row) {
                if *flag && (v.fract() != 0.0 || v.abs() >= 16_777_216.0) {
                    *flag = false;
                }
            }
        }
        data.release_rows(start, end);
        if !int.contains(&true) {
            break;
        }
    }
    int
}

/// This process's decoder arithmetic: kernel set and GEMM backend.
pub fn decoder_arithmetic() -> String {
    format!("kernels={} gemm={}", hepae_kernels::kernels().isa.name(), crate::gemm::gemm_backend().name())
}

/// CRC32 of a block's predictions, to check that decompression reproduces them bit for bit.
fn prediction_crc(p: &[f32]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for v in p {
        h.update(&v.to_bits().to_le_bytes());
    }
    h.finalize()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Latent f32 values → stored bytes (dtype, truncation), byte-shuffled.
fn pack_latents(z: &[f32], dtype: LatentDtype, truncate: u32, out: &mut Vec<u8>) {
    let s = dtype.bytes();
    let mut raw = Vec::with_capacity(z.len() * s);
    for &v in z {
        match dtype {
            LatentDtype::F32 => raw.extend_from_slice(&(v.to_bits() & !((1u32 << truncate.min(23)) - 1)).to_le_bytes()),
            LatentDtype::F16 => raw.extend_from_slice(
                &(half::f16::from_f32(v).to_bits() & !((1u16 << truncate.min(10)) - 1)).to_le_bytes(),
            ),
            LatentDtype::Bf16 => raw.extend_from_slice(
                &(half::bf16::from_f32(v).to_bits() & !((1u16 << truncate.min(7)) - 1)).to_le_bytes(),
            ),
        }
    }
    shuffle(&raw, s, out);
}

/// Stored bytes → latent f32 values.
fn unpack_latents(bytes: &[u8], dtype: LatentDtype, out: &mut Vec<f32>) {
    let s = dtype.bytes();
    let mut raw = Vec::with_capacity(bytes.len());
    unshuffle(bytes, s, &mut raw);
    out.clear();
    for c in raw.chunks_exact(s) {
        out.push(match dtype {
            LatentDtype::F32 => f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
            LatentDtype::F16 => half::f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32(),
            LatentDtype::Bf16 => half::bf16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32(),
        });
    }
}

/// Byte-shuffle: byte b of every element together (helps the lossless stage on floats).
pub fn shuffle(raw: &[u8], size: usize, out: &mut Vec<u8>) {
    let n = raw.len() / size;
    out.clear();
    out.resize(raw.len(), 0);
    for i in 0..n {
        for b in 0..size {
            out[b * n + i] = raw[i * size + b];
        }
    }
}

pub fn unshuffle(sh: &[u8], size: usize, out: &mut Vec<u8>) {
    let n = sh.len() / size;
    out.clear();
    out.resize(n * size, 0);
    for i in 0..n {
        for b in 0..size {
            out[i * size + b] = sh[b * n + i];
        }
    }
}

fn zigzag(q: i64) -> u64 {
    ((q << 1) ^ (q >> 63)) as u64
}
fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}
fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}
fn get_varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= ((byte & 0x7f) as u64) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Quantisation step of a value under a bound, from the prediction `p` only (the
/// decompressor knows p, not the original).
fn step_for(bound: Bound, p: f32) -> f32 {
    match bound {
        // 2·ε·|p|/(1 + ε) keeps |x − x̂| ≤ ε·|x| when x is near p; verified per value anyway.
        Bound::Rel { value } => (2.0 * value * (p.abs() as f64) / (1.0 + value)) as f32,
        Bound::Abs { value } => (2.0 * value) as f32,
        Bound::Exact => 1.0,
    }
}

/// The value a decompressor rebuilds from prediction p and quantum q.
fn rebuild(bound: Bound, p: f32, q: i64) -> f32 {
    match bound {
        Bound::Exact => p.round() + q as f32,
        _ => p + (q as f32) * step_for(bound, p),
    }
}

fn within(bound: Bound, x: f32, y: f32) -> bool {
    let e = (x as f64 - y as f64).abs();
    match bound {
        Bound::Rel { value } => e <= value * (x as f64).abs(),
        Bound::Abs { value } => e <= value,
        Bound::Exact => x.to_bits() == y.to_bits() || x == y,
    }
}

/// Residual stream of one block: per value varint(zigzag(q) + 2); 1 for an exact zero (common
/// in jet data: empty energy fractions, which a relative bound can only store exactly); or 0
/// followed by the raw f32 bits.
fn encode_residuals(x: &[f32], p: &[f32], bounds: &[Bound], out: &mut Vec<u8>) -> u64 {
    let d = bounds.len();
    let mut raw = 0;
    out.clear();
    for (i, (&xv, &pv)) in x.iter().zip(p).enumerate() {
        let b = bounds[i % d];
        let st = step_for(b, pv);
        let q = if b == Bound::Exact {
            (xv as f64 - pv.round() as f64).round()
        } else {
            ((xv as f64 - pv as f64) / st as f64).round()
        };
        let ok = q.is_finite()
            && q.abs() < 1e15
            && pv.is_finite()
            && st.is_finite()
            && (st > 0.0)
            && within(b, xv, rebuild(b, pv, q as i64));
        if xv == 0.0 && xv.is_sign_positive() {
            out.push(1);
        } else if ok {
            put_varint(zigzag(q as i64) + 2, out);
        } else {
            out.push(0);
            out.extend_from_slice(&xv.to_bits().to_le_bytes());
            raw += 1;
        }
    }
    raw
}

fn decode_residuals(bytes: &[u8], p: &[f32], bounds: &[Bound], out: &mut [f32]) -> Option<()> {
    let d = bounds.len();
    let mut pos = 0;
    for (i, o) in out.iter_mut().enumerate() {
        let v = get_varint(bytes, &mut pos)?;
        *o = match v {
            0 => {
                let b = bytes.get(pos..pos + 4)?;
                pos += 4;
                f32::from_bits(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            1 => 0.0,
            _ => rebuild(bounds[i % d], p[i], unzigzag(v - 2)),
        };
    }
    (pos == bytes.len()).then_some(())
}

fn write_block(f: &mut AtomicFile, tag: u8, rows: u32, raw_len: usize, payload: &[u8]) -> Result<u64> {
    let mut head = Vec::with_capacity(13);
    head.push(tag);
    head.extend_from_slice(&rows.to_le_bytes());
    head.extend_from_slice(&(raw_len as u32).to_le_bytes());
    head.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head);
    crc.update(payload);
    f.write_all(&head)?;
    f.write_all(payload)?;
    f.write_all(&crc.finalize().to_le_bytes())?;
    Ok((head.len() + payload.len() + 4) as u64)
}

/// Compresses every row of `data` with `model` into `out`; returns the size report.
pub fn compress(
    model: &SavedModel,
    model_bytes: &[u8],
    data: &Dataset,
    out: &Path,
    opt: &CompressOptions,
) -> Result<SizeReport> {
    let (d, l) = (data.cols(), model.ae.shape.latent);
    if let Some(b) = &opt.bounds {
        if b.len() != d {
            return Err(Error::config(format!("{} bounds for {d} columns", b.len())));
        }
    }
    let header = ArchiveHeader {
        format: "hepz".into(),
        version: VERSION,
        columns: data.columns().to_vec(),
        rows: data.rows() as u64,
        model_kind: model.meta.kind.name().into(),
        latent_dim: l,
        latent_dtype: opt.latent_dtype,
        truncate_bits: opt.truncate_bits.min(opt.latent_dtype.mantissa_bits()),
        model_sha256: sha256_hex(model_bytes),
        normalizer: model.meta.normalizer.clone(),
        block_rows: opt.block_rows.max(1),
        bounds: opt.bounds.clone(),
        embedded_model: opt.embed_model,
        zstd_level: opt.zstd_level,
        created_by: format!("hepae {}", env!("CARGO_PKG_VERSION")),
        decoder_arithmetic: decoder_arithmetic(),
    };
    let hjson = serde_json::to_vec(&header).map_err(|e| Error::config(e.to_string()))?;
    let mut f = AtomicFile::create(out)?;
    f.write_all(MAGIC)?;
    f.write_all(&VERSION.to_le_bytes())?;
    f.write_all(&0u16.to_le_bytes())?;
    f.write_all(&(hjson.len() as u32).to_le_bytes())?;
    f.write_all(&hjson)?;
    f.write_all(&crc32fast::hash(&hjson).to_le_bytes())?;
    let mut written = (12 + hjson.len() + 4) as u64;
    let zerr = |e: std::io::Error| Error::archive(out, format!("zstd: {e}"));
    let mut blocks = 0u64;
    if opt.embed_model {
        let z = zstd::bulk::compress(model_bytes, opt.zstd_level).map_err(zerr)?;
        written += write_block(&mut f, TAG_MODEL, 0, model_bytes.len(), &z)?;
        blocks += 1;
    }
    let br = header.block_rows;
    let mut enc = Encoder::new(model, 4096);
    let mut dec = Decoder::new(model, 4096);
    let (mut z, mut zq, mut p) = (vec![0.0f32; br * l], Vec::with_capacity(br * l), vec![0.0f32; br * d]);
    let (mut packed, mut resid) = (Vec::new(), Vec::new());
    let (mut latent_bytes, mut residual_bytes, mut raw_values) = (0u64, 0u64, 0u64);
    for start in (0..data.rows()).step_by(br) {
        let n = br.min(data.rows() - start);
        let x = &data.as_slice()[start * d..(start + n) * d];
        enc.encode(x, n, &mut z[..n * l]).map_err(|b| {
            Error::data(
                Location::file(data.path()).row((start + b.row) as u64 + 1).column(data.columns()[b.col].clone()),
                "value cannot be encoded (not finite after normalisation)",
            )
        })?;
        pack_latents(&z[..n * l], opt.latent_dtype, header.truncate_bits, &mut packed);
        let zc = zstd::bulk::compress(&packed, opt.zstd_level).map_err(zerr)?;
        let w = write_block(&mut f, TAG_LATENT, n as u32, packed.len(), &zc)?;
        latent_bytes += w;
        written += w;
        blocks += 1;
        if let Some(bounds) = &opt.bounds {
            // Predict from the latents exactly as stored, as decompression will.
            unpack_latents(&packed, opt.latent_dtype, &mut zq);
            dec.decode(&zq, n, &mut p[..n * d]);
            raw_values += encode_residuals(x, &p[..n * d], bounds, &mut resid);
            // The block starts with the CRC of the predictions it is relative to.
            resid.splice(0..0, prediction_crc(&p[..n * d]).to_le_bytes());
            let rc = zstd::bulk::compress(&resid, opt.zstd_level).map_err(zerr)?;
            let w = write_block(&mut f, TAG_RESIDUAL, n as u32, resid.len(), &rc)?;
            residual_bytes += w;
            written += w;
            blocks += 1;
        }
        data.release_rows(start, start + n);
    }
    let original = (data.rows() * d * 4) as u64;
    let model_file = model_bytes.len() as u64;
    let decoder_params = 4 * model.ae.decoder.layers.iter().map(|la| (la.inp + 1) * la.out).sum::<usize>() as u64;
    let encoder_bytes = 4 * model.ae.encoder.layers.iter().map(|la| (la.inp + 1) * la.out).sum::<usize>() as u64;
    let mut report = SizeReport {
        rows: data.rows() as u64,
        blocks,
        original_bytes: original,
        latent_bytes,
        residual_bytes,
        archive_bytes: 0,
        decoder_bytes: if opt.embed_model { 0 } else { decoder_params },
        encoder_bytes,
        ratio: 0.0,
        ratio_with_decoder: 0.0,
        ratio_with_model: 0.0,
        raw_values,
    };
    // The trailer's own size enters the archive size: settle it with a fixed-width draft.
    let mut tjson = Vec::new();
    for _ in 0..3 {
        report.archive_bytes = written + 1 + 4 + tjson.len() as u64 + 4;
        report.ratio = original as f64 / report.archive_bytes as f64;
        report.ratio_with_decoder = original as f64 / (report.archive_bytes + report.decoder_bytes) as f64;
        report.ratio_with_model =
            original as f64 / (report.archive_bytes + if opt.embed_model { 0 } else { model_file }) as f64;
        tjson = serde_json::to_vec(&report).map_err(|e| Error::config(e.to_string()))?;
        while (tjson.len() as u64) < report.archive_bytes - written - 9 {
            tjson.push(b' ');
        }
    }
    let mut t = vec![TAG_TRAILER];
    t.extend_from_slice(&(tjson.len() as u32).to_le_bytes());
    t.extend_from_slice(&tjson);
    let crc = crc32fast::hash(&t);
    f.write_all(&t)?;
    f.write_all(&crc.to_le_bytes())?;
    f.commit()?;
    report.archive_bytes = written + t.len() as u64 + 4;
    Ok(report)
}

/// A parsed archive in memory-friendly pieces (blocks are read one at a time).
struct Reader<'a> {
    path: &'a Path,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn bad(&self, msg: impl Into<String>) -> Error {
        Error::archive(self.path, msg)
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| self.bad(format!("truncated: the file ends inside the {what}")))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Reads the header (checking magic, version, header checksum).
pub fn read_header(bytes: &[u8], path: &Path) -> Result<(ArchiveHeader, usize)> {
    let mut r = Reader { path, bytes, pos: 0 };
    let magic = r.take(4, "magic")?;
    if magic != MAGIC {
        return Err(r.bad("not a hepae archive (bad magic)"));
    }
    let v = r.take(4, "version")?;
    let version = u16::from_le_bytes([v[0], v[1]]);
    if version != VERSION || v[2] != 0 || v[3] != 0 {
        return Err(r.bad(format!("unknown archive version {version} (this hepae reads version {VERSION})")));
    }
    let hl = r.u32("header length")? as usize;
    if hl > 64 << 20 {
        return Err(r.bad("header length is corrupt"));
    }
    let h = r.take(hl, "header")?;
    let crc = r.u32("header checksum")?;
    if crc32fast::hash(h) != crc {
        return Err(r.bad("header checksum mismatch (the file is corrupt)"));
    }
    let header: ArchiveHeader = serde_json::from_slice(h).map_err(|e| r.bad(format!("header is not valid ({e})")))?;
    if header.latent_dim == 0 || header.columns.is_empty() || header.block_rows == 0 {
        return Err(r.bad("header describes an empty layout"));
    }
    Ok((header, r.pos))
}

/// The model bytes embedded in an archive, if any.
pub fn embedded_model(bytes: &[u8], path: &Path) -> Result<Option<Vec<u8>>> {
    let (header, pos) = read_header(bytes, path)?;
    if !header.embedded_model {
        return Ok(None);
    }
    let mut r = Reader { path, bytes, pos };
    let (tag, _, raw_len, payload) = next_block(&mut r)?;
    if tag != TAG_MODEL {
        return Err(r.bad("embedded model block missing"));
    }
    Ok(Some(
        zstd::bulk::decompress(payload, raw_len)
            .map_err(|e| r.bad(format!("embedded model does not decompress ({e})")))?,
    ))
}

fn next_block<'a>(r: &mut Reader<'a>) -> Result<(u8, u32, usize, &'a [u8])> {
    let start = r.pos;
    let tag = r.take(1, "block tag")?[0];
    if tag == TAG_TRAILER {
        r.pos = start;
        return Ok((tag, 0, 0, &[]));
    }
    let rows = r.u32("block header")?;
    let raw_len = r.u32("block header")? as usize;
    let stored = r.u32("block header")? as usize;
    let payload = r.take(stored, "block data")?;
    let crc = r.u32("block checksum")?;
    if crc32fast::hash(&r.bytes[start..start + 13 + stored]) != crc {
        return Err(r.bad(format!("checksum mismatch in the block at byte {start} (the file is corrupt)")));
    }
    if raw_len > 1 << 31 {
        return Err(r.bad(format!("block at byte {start} declares an impossible size")));
    }
    Ok((tag, rows, raw_len, payload))
}

/// Decompresses `archive` into `out` (.npy or .csv), checking every checksum, the model's
/// SHA-256 and (in error-bounded mode) nothing else needs checking: the bound holds by
/// construction. Returns the header and the rows written.
pub fn decompress(archive: &Path, model_path: Option<&Path>, out: &Path) -> Result<(ArchiveHeader, u64)> {
    let mut bytes = Vec::new();
    std::fs::File::open(archive).and_then(|mut f| f.read_to_end(&mut bytes)).map_err(|e| Error::io(archive, e))?;
    let (header, pos) = read_header(&bytes, archive)?;
    let model_bytes = match (model_path, header.embedded_model) {
        (Some(p), _) => std::fs::read(p).map_err(|e| Error::io(p, e))?,
        (None, true) => {
            embedded_model(&bytes, archive)?.ok_or_else(|| Error::archive(archive, "embedded model missing"))?
        }
        (None, false) => {
            return Err(Error::archive(archive, "this archive has no embedded decoder: give --model MODEL"))
        }
    };
    if sha256_hex(&model_bytes) != header.model_sha256 {
        return Err(Error::archive(
            archive,
            format!(
                "was written with another model (SHA-256 {}…, {} gives {}…)",
                &header.model_sha256[..12],
                model_path.map_or("the embedded one".into(), |p| p.display().to_string()),
                &sha256_hex(&model_bytes)[..12]
            ),
        ));
    }
    let model = SavedModel::from_bytes(&model_bytes, model_path.unwrap_or(archive))?;
    let (d, l) = (header.columns.len(), header.latent_dim);
    if model.meta.columns != header.columns || model.ae.shape.latent != l {
        return Err(Error::archive(archive, "header and model disagree on columns or latent size"));
    }
    let mut dec = Decoder::new(&model, 4096);
    let mut sink = RowSink::create(out, &header.columns)?;
    let mut r = Reader { path: archive, bytes: &bytes, pos };
    let (mut z, mut p, mut x) = (Vec::new(), Vec::new(), Vec::new());
    let mut rows = 0u64;
    let mut pending: Option<usize> = None;
    loop {
        let (tag, n, raw_len, payload) = next_block(&mut r)?;
        let n = n as usize;
        match tag {
            TAG_MODEL => continue,
            TAG_LATENT => {
                if let Some(prev) = pending.take() {
                    sink.write_rows(&p[..prev * d])?;
                }
                if n == 0 || n > header.block_rows || raw_len != n * l * header.latent_dtype.bytes() {
                    return Err(r.bad("latent block has an inconsistent size"));
                }
                let raw = zstd::bulk::decompress(payload, raw_len)
                    .map_err(|e| r.bad(format!("latent block does not decompress ({e})")))?;
                if raw.len() != raw_len {
                    return Err(r.bad("latent block has an inconsistent size"));
                }
                unpack_latents(&raw, header.latent_dtype, &mut z);
                p.resize(n * d, 0.0);
                dec.decode(&z, n, &mut p);
                rows += n as u64;
                if header.bounds.is_some() {
                    pending = Some(n);
                } else {
                    sink.write_rows(&p[..n * d])?;
                }
            }
            TAG_RESIDUAL => {
                let (bounds, m) = match (&header.bounds, pending.take()) {
                    (Some(b), Some(m)) if m == n => (b, m),
                    _ => return Err(r.bad("residual block without its latent block")),
                };
                let raw = zstd::bulk::decompress(payload, raw_len)
                    .map_err(|e| r.bad(format!("residual block does not decompress ({e})")))?;
                if raw.len() < 4 {
                    return Err(r.bad("residual block is corrupt"));
                }
                if u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) != prediction_crc(&p[..m * d]) {
                    return Err(r.bad(format!(
                        "this machine's decoder arithmetic ({}) does not reproduce the predictions the bounds were computed against ({}); decompress where the latter holds (HEPAE_ISA / HEPAE_GEMM force it)",
                        decoder_arithmetic(),
                        header.decoder_arithmetic
                    )));
                }
                x.resize(m * d, 0.0);
                decode_residuals(&raw[4..], &p[..m * d], bounds, &mut x)
                    .ok_or_else(|| r.bad("residual block is corrupt"))?;
                sink.write_rows(&x)?;
            }
            TAG_TRAILER => {
                if pending.is_some() && header.bounds.is_some() {
                    return Err(r.bad("truncated: a residual block is missing"));
                }
                let start = r.pos;
                r.take(1, "trailer")?;
                let tl = r.u32("trailer")? as usize;
                let t = r.take(tl, "trailer")?;
                let crc = r.u32("trailer checksum")?;
                if crc32fast::hash(&bytes[start..start + 5 + tl]) != crc {
                    return Err(r.bad("trailer checksum mismatch (the file is corrupt)"));
                }
                let report: SizeReport =
                    serde_json::from_slice(t).map_err(|e| r.bad(format!("trailer is not valid ({e})")))?;
                if r.pos != bytes.len() {
                    return Err(r.bad(format!("{} unexpected bytes after the trailer", bytes.len() - r.pos)));
                }
                if rows != header.rows || report.rows != header.rows {
                    return Err(r.bad(format!("holds {rows} rows but its header says {}", header.rows)));
                }
                break;
            }
            t => return Err(r.bad(format!("unknown block type {t}"))),
        }
    }
    sink.finish()?;
    Ok((header, rows))
}

/// The size report stored in an archive's trailer (for `hepae compress` output and tests).
pub fn read_report(archive: &Path) -> Result<SizeReport> {
    let bytes = std::fs::read(archive).map_err(|e| Error::io(archive, e))?;
    let (_, mut pos) = read_header(&bytes, archive)?;
    let mut r = Reader { path: archive, bytes: &bytes, pos };
    loop {
        let (tag, ..) = next_block(&mut r)?;
        if tag == TAG_TRAILER {
            pos = r.pos;
            break;
        }
    }
    let mut r = Reader { path: archive, bytes: &bytes, pos: pos + 1 };
    let tl = r.u32("trailer")? as usize;
    let t = r.take(tl, "trailer")?;
    serde_json::from_slice(t).map_err(|e| Error::archive(archive, format!("trailer is not valid ({e})")))
}
