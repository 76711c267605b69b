//! Compression: rows from the memory map, one block at a time, each coded block decoded
//! back and checked value by value before it is written.

use super::{decoder_arithmetic, hash_f32, hex_digest, same_file, CompressOptions, Learned};
use crate::data::normalize::Normalizer;
use crate::data::npy::Dataset;
use crate::encoder::{Decoder, Encoder};
use crate::error::{Error, Location, Result};
use crate::formats::archive::codec::{encode_residuals, pack_latents, prediction_crc, unpack_latents};
use crate::formats::archive::coded::{
    decode_block, encode_block, quantize_latents, BlockInput, BlockStats, LatentSide,
};
use crate::formats::archive::container::{
    ArchiveHeader, ContainerWriter, SizeReport, MAX_BLOCK_ROWS, TAG_CODED, TAG_LATENT, TAG_MODEL, TAG_RESIDUAL,
    TRAILER_FRAME,
};
use crate::formats::model_file::SavedModel;
use sha2::{Digest, Sha256};
use std::path::Path;

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
    compress_inner(Some((model, model_bytes)), data, out, opt, on_rows, on_block)
}

/// An error-bounded archive (format 3 or later) coded without any model: every column on its
/// own or predicted from columns decoded earlier in the row. It decodes with no model file
/// (header: model kind `none`, no latents, no model identity). Fails when `opt` has no bounds,
/// asks for format 1 or 2, or embeds or forces a model.
pub fn compress_plain(
    data: &Dataset,
    out: &Path,
    opt: &CompressOptions,
    on_rows: &mut dyn FnMut(u64),
    on_block: &mut dyn FnMut(&BlockStats),
) -> Result<SizeReport> {
    if opt.bounds.is_none() || opt.format < 3 {
        return Err(Error::config(
            "an archive without a model needs an error bound (--max-rel-error or --max-abs-error)",
        ));
    }
    if opt.embed_model || opt.learned == Learned::Force {
        return Err(Error::config("--embed-decoder and --learned need a model"));
    }
    compress_inner(None, data, out, opt, on_rows, on_block)
}

fn compress_inner(
    model: Option<(&SavedModel, &[u8])>,
    data: &Dataset,
    out: &Path,
    opt: &CompressOptions,
    on_rows: &mut dyn FnMut(u64),
    on_block: &mut dyn FnMut(&BlockStats),
) -> Result<SizeReport> {
    let model_bytes: &[u8] = model.map_or(&[], |m| m.1);
    let model = model.map(|m| m.0);
    let (d, l) = (data.cols(), model.map_or(0, |m| m.ae.shape.latent));
    if let Some(model) = model.filter(|m| m.meta.columns.as_slice() != data.columns()) {
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
        model_kind: model.map_or("none".into(), |m| m.meta.kind.name().into()),
        latent_dim: l,
        latent_dtype: opt.latent_dtype,
        truncate_bits: opt.truncate_bits.min(opt.latent_dtype.mantissa_bits()),
        model_identity: model.map_or(String::new(), |m| m.identity_sha256()),
        model_sha256: String::new(),
        normalizer: model.map_or_else(|| Normalizer::identity(data.columns()), |m| m.meta.normalizer.clone()),
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
    let mut enc = model.map(|m| Encoder::new(m, 4096));
    let mut dec = model.map(|m| Decoder::new(m, 4096));
    let (mut z, mut zq) = (vec![0.0f32; br * l], Vec::with_capacity(br * l));
    let (mut p, mut decoded) = (vec![0.0f32; br * d], Vec::new());
    let (mut scratch, mut packed, mut resid) = (Vec::new(), Vec::new(), Vec::new());
    let (mut latent_bytes, mut residual_bytes, mut raw_values) = (0u64, 0u64, 0u64);
    let (mut latents_hash, mut rows_hash) = (Sha256::new(), Sha256::new());
    // Error-bounded mode: integer columns (integer grid, identities), the latents' mantissa
    // width, and the decoder's bytes, charged to the first block that uses the decoder.
    let integer = if opt.bounds.is_some() { crate::formats::archive::codec::integer_columns(data) } else { Vec::new() };
    let latent_bits = opt.latent_dtype.mantissa_bits().saturating_sub(header.truncate_bits);
    let params = |net: &crate::net::Net| 4 * net.layers.iter().map(|la| (la.inp + 1) * la.out).sum::<usize>() as u64;
    let decoder_params = model.map_or(0, |m| params(&m.ae.decoder));
    let mut decoder_paid = opt.embed_model;
    let mut learned_blocks = 0u64;
    for start in (0..data.rows()).step_by(br) {
        let n = br.min(data.rows() - start);
        let x = &data.as_slice()[start * d..(start + n) * d];
        if let Some(enc) = enc.as_mut() {
            enc.encode(x, n, &mut z[..n * l]).map_err(|b| {
                Error::data(
                    Location::file(data.path())
                        .row((data.first_row() + start + b.row) as u64 + 1)
                        .column(data.columns()[b.col].clone()),
                    "value cannot be encoded (not finite after normalisation)",
                )
            })?;
        }
        if let Some(bounds) = opt.bounds.as_ref().filter(|_| opt.format >= 3) {
            zq.resize(n * l, 0.0);
            quantize_latents(&z[..n * l], latent_bits, &mut zq);
            if let Some(dec) = dec.as_mut() {
                dec.decode(&zq, n, &mut p[..n * d]);
            }
            let side = LatentSide { latent_dim: l, zq: &zq, preds: &p[..n * d], crc: prediction_crc(&p[..n * d]) };
            let inp = BlockInput {
                x,
                bounds,
                integer: &integer,
                learned: (opt.learned != Learned::Off && dec.is_some()).then_some(side),
                decoder_bits: if decoder_paid { 0.0 } else { 8.0 * decoder_params as f64 },
                force_learned: opt.learned == Learned::Force,
                v4: opt.format >= 4,
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
            if let Some(i) =
                (0..n * d).find(|&i| !crate::formats::archive::codec::within(bounds[i % d], x[i], decoded[i]))
            {
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
            dec.as_mut().expect("formats 1 and 2 need a model").decode(&zq, n, &mut p[..n * d]);
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
    let encoder_bytes = model.map_or(0, |m| params(&m.ae.encoder));
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
