//! Decompression: blocks from a buffered file, one at a time, into a row sink committed only
//! when every check passed; and the header, embedded model and trailer read on their own.

use super::{decoder_arithmetic, hash_f32, hex_digest, same_file, sha256_hex};
use crate::data::sink::RowSink;
use crate::encoder::Decoder;
use crate::error::{Error, Result};
use crate::formats::archive::codec::{decode_residuals, prediction_crc, unpack_latents};
use crate::formats::archive::coded::decode_block;
use crate::formats::archive::container::{
    ArchiveHeader, ContainerReader, Frame, SizeReport, TAG_CODED, TAG_LATENT, TAG_MODEL, TAG_RESIDUAL,
};
use crate::formats::model_file::SavedModel;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Largest embedded model (uncompressed) a reader accepts.
const MAX_MODEL_BYTES: usize = 1 << 30;

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
    // An archive written without a model (no latents) needs none: a model given is not read.
    let need_now = header.latent_dim > 0
        && (header.version < 3 || header.bounds.is_none() || model_path.is_some() || embedded.is_some());
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
                if raw_len > 4 + m * d * crate::formats::archive::codec::MAX_RESIDUAL_BYTES_PER_VALUE {
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
