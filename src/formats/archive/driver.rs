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

use super::codec::{
    decode_residuals, encode_residuals, pack_latents, prediction_crc, unpack_latents, Bound, LatentDtype,
};
use super::coded::{decode_block, encode_block, quantize_latents, BlockInput, BlockStats, LatentSide};
use super::container::{
    ArchiveHeader, ContainerReader, ContainerWriter, Frame, SizeReport, MAX_BLOCK_ROWS, TAG_CODED, TAG_LATENT,
    TAG_MODEL, TAG_RESIDUAL, TRAILER_FRAME, VERSION,
};
use crate::data::npy::Dataset;
use crate::data::sink::RowSink;
use crate::encoder::{Decoder, Encoder};
use crate::error::{Error, Location, Result};
use crate::formats::model_file::SavedModel;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Largest embedded model (uncompressed) a reader accepts.
const MAX_MODEL_BYTES: usize = 1 << 30;

/// How to compress.
#[derive(Clone, Debug)]
pub struct CompressOptions {
    pub latent_dtype: LatentDtype,
    pub truncate_bits: u32,
    pub bounds: Option<Vec<Bound>>,
    pub embed_model: bool,
    /// Jets per block, 1 to [`MAX_BLOCK_ROWS`].
    pub block_rows: usize,
    pub zstd_level: i32,
    /// The archive's 128-bit id; `None` draws a random one (the usual case).
    pub archive_id: Option<[u8; 16]>,
    /// Error-bounded mode: whether the coder may code values against the decoder's predictions.
    pub learned: Learned,
    /// Archive format to write: [`VERSION`] (3), or 2 (latent and residual blocks; kept so
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

/// Compresses every row of `data` with `model` into `out`; returns the size report.
/// `model_bytes` is the model file (embedded with `embed_model`).
pub fn compress(
    model: &SavedModel,
    model_bytes: &[u8],
    data: &Dataset,
    out: &Path,
    opt: &CompressOptions,
) -> Result<SizeReport> {
    compress_with(model, model_bytes, data, out, opt, &mut |_| {})
}

/// [`compress`], calling `on_rows(rows done)` once per block written.
pub fn compress_with(
    model: &SavedModel,
    model_bytes: &[u8],
    data: &Dataset,
    out: &Path,
    opt: &CompressOptions,
    on_rows: &mut dyn FnMut(u64),
) -> Result<SizeReport> {
    compress_observed(model, model_bytes, data, out, opt, on_rows, &mut |_| {})
}

/// [`compress_with`], also calling `on_block` with what each coded block (format 3,
/// error-bounded) chose.
pub fn compress_observed(
    model: &SavedModel,
    model_bytes: &[u8],
    data: &Dataset,
    out: &Path,
    opt: &CompressOptions,
    on_rows: &mut dyn FnMut(u64),
    on_block: &mut dyn FnMut(&BlockStats),
) -> Result<SizeReport> {
    let (d, l) = (data.cols(), model.ae.shape.latent);
    if model.meta.columns.as_slice() != data.columns() {
        return Err(Error::data(
            Location::file(data.path()),
            format!(
                "columns differ from the model's ({} columns: {})",
                model.meta.columns.len(),
                model.meta.columns.join(",")
            ),
        ));
    }
    if let Some(b) = &opt.bounds {
        if b.len() != d {
            return Err(Error::config(format!("{} bounds for {d} columns", b.len())));
        }
    }
    if !(1..=MAX_BLOCK_ROWS).contains(&opt.block_rows) {
        return Err(Error::config(format!("--block-rows {} is outside 1..={MAX_BLOCK_ROWS}", opt.block_rows)));
    }
    if same_file(out, data.path()) {
        return Err(Error::config(format!("{}: refusing to overwrite the input", out.display())));
    }
    let mut header = ArchiveHeader {
        format: "hepz".into(),
        version: opt.format,
        archive_id: String::new(),
        columns: data.columns().to_vec(),
        rows: data.rows() as u64,
        model_kind: model.meta.kind.name().into(),
        latent_dim: l,
        latent_dtype: opt.latent_dtype,
        truncate_bits: opt.truncate_bits.min(opt.latent_dtype.mantissa_bits()),
        model_identity: model.identity_sha256(),
        model_sha256: String::new(),
        normalizer: model.meta.normalizer.clone(),
        block_rows: opt.block_rows,
        bounds: opt.bounds.clone(),
        embedded_model: opt.embed_model,
        zstd_level: opt.zstd_level,
        created_by: format!("hepae {}", env!("CARGO_PKG_VERSION")),
        decoder_arithmetic: decoder_arithmetic(),
    };
    let id = opt.archive_id.unwrap_or_else(rand::random);
    let mut w = ContainerWriter::create(out, &mut header, id)?;
    let zerr = |e: std::io::Error| Error::archive(out, format!("zstd: {e}"));
    let mut zc = zstd::bulk::Compressor::new(opt.zstd_level).map_err(zerr)?;
    if opt.embed_model {
        let z = zc.compress(model_bytes).map_err(zerr)?;
        w.block(TAG_MODEL, 0, model_bytes.len(), &z)?;
    }
    let br = header.block_rows.min(data.rows().max(1));
    let mut enc = Encoder::new(model, 4096);
    let mut dec = Decoder::new(model, 4096);
    let (mut z, mut zq) = (vec![0.0f32; br * l], Vec::with_capacity(br * l));
    let (mut p, mut decoded) = (vec![0.0f32; br * d], Vec::new());
    let (mut scratch, mut packed, mut resid) = (Vec::new(), Vec::new(), Vec::new());
    let (mut latent_bytes, mut residual_bytes, mut raw_values) = (0u64, 0u64, 0u64);
    let (mut latents_hash, mut rows_hash) = (Sha256::new(), Sha256::new());
    // Error-bounded mode: integer columns (integer grid, identities), the latents' mantissa
    // width, and the decoder's bytes, charged to the first block that uses the decoder.
    let integer = if opt.bounds.is_some() { super::codec::integer_columns(data) } else { Vec::new() };
    let latent_bits = opt.latent_dtype.mantissa_bits().saturating_sub(header.truncate_bits);
    let decoder_params = 4 * model.ae.decoder.layers.iter().map(|la| (la.inp + 1) * la.out).sum::<usize>() as u64;
    let mut decoder_paid = opt.embed_model;
    let mut learned_blocks = 0u64;
    for start in (0..data.rows()).step_by(br) {
        let n = br.min(data.rows() - start);
        let x = &data.as_slice()[start * d..(start + n) * d];
        enc.encode(x, n, &mut z[..n * l]).map_err(|b| {
            Error::data(
                Location::file(data.path())
                    .row((data.first_row() + start + b.row) as u64 + 1)
                    .column(data.columns()[b.col].clone()),
                "value cannot be encoded (not finite after normalisation)",
            )
        })?;
        if let Some(bounds) = opt.bounds.as_ref().filter(|_| opt.format >= 3) {
            zq.resize(n * l, 0.0);
            quantize_latents(&z[..n * l], latent_bits, &mut zq);
            dec.decode(&zq, n, &mut p[..n * d]);
            let side = LatentSide { latent_dim: l, zq: &zq, preds: &p[..n * d], crc: prediction_crc(&p[..n * d]) };
            let inp = BlockInput {
                x,
                bounds,
                integer: &integer,
                learned: (opt.learned != Learned::Off).then_some(side),
                decoder_bits: if decoder_paid { 0.0 } else { 8.0 * decoder_params as f64 },
                force_learned: opt.learned == Learned::Force,
            };
            resid.clear();
            let stats = encode_block(&inp, &mut resid)?;
            if stats.learned {
                decoder_paid = true;
                learned_blocks += 1;
            }
            raw_values += stats.escapes;
            on_block(&stats);
            // Decoded back here, as decompression will, and every value checked against its
            // bound: the hash is of what a reader gets, and a coder bug cannot ship.
            let mut predict = |_: &[f32], out: &mut [f32]| -> std::result::Result<(), String> {
                out.copy_from_slice(&p[..n * d]);
                Ok(())
            };
            decode_block(&resid, n, d, l, &mut predict, &mut decoded)
                .map_err(|e| Error::archive(out, format!("internal error: a coded block does not decode ({e})")))?;
            if let Some(i) = (0..n * d).find(|&i| !super::codec::within(bounds[i % d], x[i], decoded[i])) {
                return Err(Error::archive(
                    out,
                    format!(
                        "internal error: row {} column {} decodes outside its bound",
                        start + i / d + 1,
                        data.columns()[i % d]
                    ),
                ));
            }
            hash_f32(&mut rows_hash, &decoded);
            residual_bytes += w.block(TAG_CODED, n as u32, resid.len(), &resid)?;
            data.release_rows(start, start + n);
            on_rows((start + n) as u64);
            continue;
        }
        pack_latents(&z[..n * l], opt.latent_dtype, header.truncate_bits, &mut scratch, &mut packed);
        latent_bytes += w.block(TAG_LATENT, n as u32, packed.len(), &zc.compress(&packed).map_err(zerr)?)?;
        // Everything below works from the latents exactly as stored, as decompression will.
        unpack_latents(&packed, opt.latent_dtype, &mut scratch, &mut zq);
        hash_f32(&mut latents_hash, &zq);
        if let Some(bounds) = &opt.bounds {
            // Format 2: the residual stream starts with the CRC of the predictions it is
            // relative to.
            dec.decode(&zq, n, &mut p[..n * d]);
            resid.clear();
            resid.extend_from_slice(&prediction_crc(&p[..n * d]).to_le_bytes());
            decoded.resize(n * d, 0.0);
            raw_values += encode_residuals(x, &p[..n * d], bounds, &mut resid, &mut decoded[..n * d]);
            hash_f32(&mut rows_hash, &decoded[..n * d]);
            residual_bytes += w.block(TAG_RESIDUAL, n as u32, resid.len(), &zc.compress(&resid).map_err(zerr)?)?;
        }
        data.release_rows(start, start + n);
        on_rows((start + n) as u64);
    }
    let original = (data.rows() * d * 4) as u64;
    let model_file = model_bytes.len() as u64;
    // Float32 weights and biases of the encoder (the decoder's are `decoder_params`).
    let encoder_bytes = 4 * model.ae.encoder.layers.iter().map(|la| (la.inp + 1) * la.out).sum::<usize>() as u64;
    let mut report = SizeReport {
        rows: data.rows() as u64,
        blocks: w.blocks(),
        original_bytes: original,
        latent_bytes,
        residual_bytes,
        // An error-bounded archive that never used its decoder needs none.
        decoder_bytes: if opt.embed_model || (opt.bounds.is_some() && opt.format >= 3 && learned_blocks == 0) {
            0
        } else {
            decoder_params
        },
        learned_blocks,
        encoder_bytes,
        raw_values,
        latents_sha256: hex_digest(latents_hash),
        rows_sha256: opt.bounds.is_some().then(|| hex_digest(rows_hash)),
        ..Default::default()
    };
    // The trailer's own size enters the archive size: grow its padded length until it holds.
    let mut tl = 0usize;
    let tjson = loop {
        report.archive_bytes = w.written() + TRAILER_FRAME + tl as u64;
        let a = report.archive_bytes as f64;
        report.ratio = original as f64 / a;
        report.ratio_with_decoder = original as f64 / (a + report.decoder_bytes as f64);
        report.ratio_with_model = original as f64 / (a + if opt.embed_model { 0.0 } else { model_file as f64 });
        let mut j = serde_json::to_vec(&report).map_err(|e| Error::config(e.to_string()))?;
        if j.len() <= tl {
            j.resize(tl, b' ');
            break j;
        }
        tl = j.len();
    };
    let size = w.finish(&tjson)?;
    debug_assert_eq!(size, report.archive_bytes);
    Ok(report)
}

/// The model an archive needs: the one given, else the embedded one; checked against the
/// header's identity (format 2) or the model file's SHA-256 (format 1).
fn resolve_model(
    archive: &Path,
    header: &ArchiveHeader,
    model_path: Option<&Path>,
    embedded: Option<Vec<u8>>,
) -> Result<SavedModel> {
    let (bytes, source) = match (model_path, embedded) {
        (Some(p), _) => (std::fs::read(p).map_err(|e| Error::io(p, e))?, p),
        (None, Some(b)) => (b, archive),
        (None, None) => {
            return Err(Error::archive(archive, "this archive has no embedded decoder: give --model MODEL"))
        }
    };
    let model = SavedModel::from_bytes(&bytes, source)?;
    let (want, got) = if header.version >= 2 {
        (&header.model_identity, model.identity_sha256())
    } else {
        (&header.model_sha256, sha256_hex(&bytes))
    };
    if *want != got {
        return Err(Error::archive(
            archive,
            format!(
                "was written with another model ({} {}…, {} gives {}…)",
                if header.version >= 2 { "identity" } else { "SHA-256" },
                &want[..12],
                model_path.map_or("the embedded one".into(), |p| p.display().to_string()),
                &got[..12]
            ),
        ));
    }
    if model.meta.columns != header.columns || model.ae.shape.latent != header.latent_dim {
        return Err(Error::archive(archive, "header and model disagree on columns or latent size"));
    }
    Ok(model)
}

/// Decompresses a verified block payload of `raw_len` bytes into `raw`.
fn unzstd(z: &mut zstd::bulk::Decompressor, payload: &[u8], raw_len: usize, raw: &mut Vec<u8>) -> Option<()> {
    raw.clear();
    raw.reserve(raw_len);
    let n = z.decompress_to_buffer(payload, raw).ok()?;
    (n == raw_len && raw.len() == raw_len).then_some(())
}

/// Decompresses `archive` into `out` (.npy or .csv), streaming block by block, and commits
/// `out` only when every check (see the module docs) passed. Returns the header and the rows.
pub fn decompress(archive: &Path, model_path: Option<&Path>, out: &Path) -> Result<(ArchiveHeader, u64)> {
    decompress_with(archive, model_path, out, &mut |_| {})
}

/// [`decompress`], calling `on_rows(rows written)` once per block of rows (the total is the
/// header's `rows`, from [`read_header`]).
pub fn decompress_with(
    archive: &Path,
    model_path: Option<&Path>,
    out: &Path,
    on_rows: &mut dyn FnMut(u64),
) -> Result<(ArchiveHeader, u64)> {
    if same_file(out, archive) || model_path.is_some_and(|m| same_file(out, m)) {
        return Err(Error::config(format!("{}: refusing to overwrite an input", out.display())));
    }
    let (header, mut rd) = ContainerReader::open(archive)?;
    let bad = |msg: String| Error::archive(archive, msg);
    let mut zd = zstd::bulk::Decompressor::new().map_err(|e| Error::io(archive, e))?;
    let mut raw = Vec::new();
    let mut frame = rd.next()?;
    let mut embedded = None;
    if header.embedded_model {
        match frame {
            Frame::Block { tag: TAG_MODEL, seq, raw_len, .. } => {
                if model_path.is_none() {
                    if raw_len > MAX_MODEL_BYTES {
                        return Err(bad(format!("block {seq}: the embedded model declares {raw_len} bytes")));
                    }
                    unzstd(&mut zd, rd.payload(), raw_len, &mut raw)
                        .ok_or_else(|| bad(format!("block {seq}: the embedded model does not decompress")))?;
                    embedded = Some(std::mem::take(&mut raw));
                }
                frame = rd.next()?;
            }
            _ => return Err(bad("block 1: the embedded model block is missing".into())),
        }
    }
    // Format 3 needs the model only for blocks coded against its predictions (and says so
    // at the first); earlier formats need it for every block.
    let need_now = header.version < 3 || header.bounds.is_none() || model_path.is_some() || embedded.is_some();
    let model = if need_now { Some(resolve_model(archive, &header, model_path, embedded)?) } else { None };
    let (d, l) = (header.columns.len(), header.latent_dim);
    let mut sink = RowSink::create(out, &header.columns)?;
    let mut dec = model.as_ref().map(|m| Decoder::new(m, 4096));
    let (mut scratch, mut z, mut p, mut x) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut latents_hash, mut rows_hash) = (Sha256::new(), Sha256::new());
    let mut rows = 0u64;
    // Error-bounded mode: (block number, rows) of a latent block still waiting for its residuals.
    let mut pending: Option<(u32, usize)> = None;
    let report = loop {
        let (tag, seq, n, raw_len) = match frame {
            Frame::Trailer(report) => break report,
            Frame::Block { tag, seq, rows, raw_len } => (tag, seq, rows, raw_len),
        };
        match tag {
            TAG_LATENT => {
                if let Some((prev, _)) = pending {
                    return Err(bad(format!("block {seq}: the latent block {prev} before it has no residual block")));
                }
                if n == 0 || n > header.block_rows || raw_len != n * l * header.latent_dtype.bytes() {
                    return Err(bad(format!("block {seq}: latent block has an inconsistent size")));
                }
                if rows + n as u64 > header.rows {
                    return Err(bad(format!("block {seq}: holds more rows than the header's {}", header.rows)));
                }
                unzstd(&mut zd, rd.payload(), raw_len, &mut raw)
                    .ok_or_else(|| bad(format!("block {seq}: latent block does not decompress")))?;
                unpack_latents(&raw, header.latent_dtype, &mut scratch, &mut z);
                hash_f32(&mut latents_hash, &z);
                p.resize(n * d, 0.0);
                dec.as_mut().expect("formats 1 and 2 resolve the model first").decode(&z, n, &mut p);
                rows += n as u64;
                if header.bounds.is_some() {
                    pending = Some((seq, n));
                } else {
                    sink.write_rows(&p)?;
                    on_rows(rows);
                }
            }
            TAG_RESIDUAL => {
                let (bounds, m) = match (&header.bounds, pending.take()) {
                    (Some(b), Some((_, m))) if m == n => (b, m),
                    (Some(_), Some((prev, m))) => {
                        return Err(bad(format!("block {seq}: residuals of {n} rows for the {m} rows of block {prev}")))
                    }
                    _ => return Err(bad(format!("block {seq}: residual block without its latent block"))),
                };
                if raw_len > 4 + m * d * super::codec::MAX_RESIDUAL_BYTES_PER_VALUE {
                    return Err(bad(format!("block {seq}: residual block has an inconsistent size")));
                }
                unzstd(&mut zd, rd.payload(), raw_len, &mut raw)
                    .ok_or_else(|| bad(format!("block {seq}: residual block does not decompress")))?;
                if raw.len() < 4 {
                    return Err(bad(format!("block {seq}: residual block is corrupt")));
                }
                if u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) != prediction_crc(&p[..m * d]) {
                    return Err(bad(format!(
                        "block {seq}: this machine's decoder arithmetic ({}) does not reproduce the predictions the bounds were computed against ({}); decompress where the latter holds (HEPAE_ISA / HEPAE_GEMM force it)",
                        decoder_arithmetic(),
                        header.decoder_arithmetic
                    )));
                }
                x.resize(m * d, 0.0);
                decode_residuals(&raw[4..], &p[..m * d], bounds, &mut x)
                    .ok_or_else(|| bad(format!("block {seq}: residual block is corrupt")))?;
                hash_f32(&mut rows_hash, &x);
                sink.write_rows(&x)?;
                on_rows(rows);
            }
            TAG_CODED if header.version >= 3 => {
                let Some(bounds) = &header.bounds else {
                    return Err(bad(format!("block {seq}: a coded block in an archive without bounds")));
                };
                if n == 0 || n > header.block_rows || rows + n as u64 > header.rows || raw_len != rd.payload().len() {
                    return Err(bad(format!("block {seq}: coded block has an inconsistent size")));
                }
                let mut predict = |z: &[f32], preds: &mut [f32]| -> std::result::Result<(), String> {
                    let dec = dec.as_mut().ok_or("its values are coded against the decoder's predictions and it embeds no decoder: give --model MODEL")?;
                    dec.decode(z, n, preds);
                    Ok(())
                };
                decode_block(rd.payload(), n, d, l, &mut predict, &mut x).map_err(|e| {
                    if e == "PREDICTION_MISMATCH" {
                        bad(format!(
                            "block {seq}: the decoder's predictions differ from those the values were coded against: the block's latents are corrupt, or this machine's decoder arithmetic ({}) differs from the compressing one's ({}; HEPAE_ISA / HEPAE_GEMM force it)",
                            decoder_arithmetic(),
                            header.decoder_arithmetic
                        ))
                    } else {
                        bad(format!("block {seq}: {e}"))
                    }
                })?;
                let _ = bounds;
                rows += n as u64;
                hash_f32(&mut rows_hash, &x);
                sink.write_rows(&x)?;
                on_rows(rows);
            }
            _ => return Err(bad(format!("block {seq}: a model block where rows were expected"))),
        }
        frame = rd.next()?;
    };
    if let Some((prev, _)) = pending {
        return Err(bad(format!("the last latent block ({prev}) has no residual block")));
    }
    if rows != header.rows || report.rows != header.rows {
        return Err(bad(format!(
            "holds {rows} rows but its header says {} and its trailer {}",
            header.rows, report.rows
        )));
    }
    if header.version >= 2 {
        if !(header.version >= 3 && header.bounds.is_some()) && report.latents_sha256 != hex_digest(latents_hash) {
            return Err(bad("the decoded latents do not match the trailer's SHA-256".into()));
        }
        if header.bounds.is_some() && report.rows_sha256.as_deref() != Some(hex_digest(rows_hash).as_str()) {
            return Err(bad("the decompressed rows do not match the trailer's SHA-256".into()));
        }
    }
    sink.finish()?;
    Ok((header, rows))
}

/// The header of an archive (magic, version and checksum verified).
pub fn read_header(archive: &Path) -> Result<ArchiveHeader> {
    Ok(ContainerReader::open(archive)?.0)
}

/// The model file embedded in an archive, if any (its block's checksum verified).
pub fn embedded_model(archive: &Path) -> Result<Option<Vec<u8>>> {
    let (header, mut rd) = ContainerReader::open(archive)?;
    if !header.embedded_model {
        return Ok(None);
    }
    match rd.next()? {
        Frame::Block { tag: TAG_MODEL, raw_len, .. } if raw_len <= MAX_MODEL_BYTES => {
            let mut raw = Vec::new();
            let mut zd = zstd::bulk::Decompressor::new().map_err(|e| Error::io(archive, e))?;
            unzstd(&mut zd, rd.payload(), raw_len, &mut raw)
                .ok_or_else(|| Error::archive(archive, "block 1: the embedded model does not decompress"))?;
            Ok(Some(raw))
        }
        _ => Err(Error::archive(archive, "block 1: the embedded model block is missing")),
    }
}

/// The size report stored in an archive's trailer, after reading every block through the
/// container's checks (CRCs, sequence, counts; the content is not decoded).
pub fn read_report(archive: &Path) -> Result<SizeReport> {
    let (_, mut rd) = ContainerReader::open(archive)?;
    loop {
        if let Frame::Trailer(report) = rd.next()? {
            return Ok(report);
        }
    }
}
