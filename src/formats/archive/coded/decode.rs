//! Decoding one block: the column codes read and checked against the row count, the
//! latents first when the block is learned, then every cell in the encoder's order.

use super::predict::{feature, Pred};
use super::refine::log_delta;
use super::{
    column_order, models_of, order_valid, ColumnCode, Models, F_LEARNED, F_V4, K_ESC, K_ID, K_NEG, K_POS, K_ZERO,
};
use crate::formats::archive::entropy::{get_varint, unzigzag, Reader};

/// What a decoded block needs from the caller when it is learned: the latents are decoded
/// first, then `predict(latents, rows, predictions)` must fill the predictions.
pub type Predict<'a> = dyn FnMut(&[f32], &mut [f32]) -> std::result::Result<(), String> + 'a;

/// Decodes one block of `n` rows × `d` columns into `x`; `latent_dim` sizes the latents of a
/// learned block. `None`-like failures come back as messages for the caller to place.
pub fn decode_block(
    payload: &[u8],
    n: usize,
    d: usize,
    latent_dim: usize,
    predict: &mut Predict,
    x: &mut Vec<f32>,
) -> std::result::Result<(), String> {
    let corrupt = || "coded block is corrupt".to_string();
    let mut pos = 0;
    let flags = *payload.first().ok_or_else(corrupt)?;
    if flags & !(F_LEARNED | F_V4) != 0 {
        return Err(corrupt());
    }
    let (learned, v4) = (flags & F_LEARNED != 0, flags & F_V4 != 0);
    pos += 1;
    let mut crc = None;
    let mut latent_codes = Vec::new();
    if learned {
        let b = payload.get(1..5).ok_or_else(corrupt)?;
        crc = Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        pos = 5;
        for _ in 0..latent_dim {
            latent_codes.push(ColumnCode::read(payload, &mut pos, 0).ok_or_else(corrupt)?);
        }
    }
    let mut codes = Vec::with_capacity(d);
    for _ in 0..d {
        let mut c = ColumnCode::read(payload, &mut pos, d).ok_or_else(corrupt)?;
        if v4 {
            c.read_ext(payload, &mut pos, d).ok_or_else(corrupt)?;
        }
        codes.push(c);
    }
    let order = if v4 {
        let o = (0..d).map(|_| get_varint(payload, &mut pos).map(|c| c as usize)).collect::<Option<Vec<_>>>();
        o.filter(|o| order_valid(o, &codes)).ok_or_else(corrupt)?
    } else {
        column_order(codes.iter())
    };
    // Every kind count adds up to the rows, and the value table to the rows of value kinds.
    let rows_in = |c: &ColumnCode| {
        c.kinds.iter().map(|&k| k as u64).sum::<u64>() == n as u64
            && c.hist.counts.iter().map(|&k| k as u64).sum::<u64>()
                == (c.kinds[K_POS] + c.kinds[K_NEG]).max((c.kinds[K_POS] + c.kinds[K_NEG] == 0) as u32) as u64
    };
    let latent_ok = latent_codes.iter().all(|c| !c.learned && !c.delta && c.sources.is_empty());
    if !latent_ok || !latent_codes.iter().chain(&codes).all(rows_in) || codes.iter().any(|c| c.learned && !learned) {
        return Err(corrupt());
    }
    // A source that is itself a target could not be decoded before it.
    if codes.iter().any(|c| c.sources.iter().any(|&s| !codes[s as usize].sources.is_empty())) {
        return Err(corrupt());
    }
    let mut rd = Reader::new(&payload[pos..]).ok_or_else(corrupt)?;
    let mut preds = Vec::new();
    if learned {
        let lm = models_of(latent_codes.iter()).map_err(|_| corrupt())?;
        let mut z = vec![0.0f32; n * latent_dim];
        for r in 0..n {
            for (j, c) in latent_codes.iter().enumerate() {
                z[r * latent_dim + j] = get_cell(&mut rd, c, &lm[j], None).ok_or_else(corrupt)?;
            }
        }
        preds.resize(n * d, 0.0);
        predict(&z, &mut preds)?;
        if crate::formats::archive::codec::prediction_crc(&preds) != crc.unwrap_or(0) {
            return Err("PREDICTION_MISMATCH".into());
        }
    }
    let models = models_of(codes.iter()).map_err(|_| corrupt())?;
    x.clear();
    x.resize(n * d, 0.0);
    let mut prev: Vec<i64> = codes.iter().map(|c| c.first).collect();
    // Features only of the columns a linear prediction reads.
    let mut needs_feat = vec![false; d];
    for c in &codes {
        if let Pred::Linear { sources, .. } = &c.pred {
            sources.iter().for_each(|&s| needs_feat[s as usize] = true);
        }
    }
    let mut feats = vec![0.0f64; d];
    for r in 0..n {
        for &c in &order {
            let code = &codes[c];
            let row = &x[r * d..(r + 1) * d];
            let at = if code.delta {
                Some(prev[c] as f64)
            } else if code.learned {
                Some(code.grid.position(preds[r * d + c]))
            } else {
                log_delta(&code.grid).filter(|_| code.pred != Pred::None).map(|delta| code.pred.at(row, &feats, delta))
            };
            let kind = rd.symbol(models[c].kinds(code, row)).ok_or_else(corrupt)?;
            x[r * d + c] = if kind == K_ID {
                if code.sources.is_empty() {
                    return Err(corrupt());
                }
                code.sources.iter().map(|&s| x[r * d + s as usize] as f64).sum::<f64>() as f32
            } else {
                let (v, q) = cell_value(&mut rd, code, &models[c], kind, at).ok_or_else(corrupt)?;
                if let Some(q) = q {
                    prev[c] = q;
                }
                v
            };
            if needs_feat[c] {
                feats[c] = feature(&code.grid, x[r * d + c]);
            }
        }
    }
    Ok(())
}

fn get_cell(rd: &mut Reader, code: &ColumnCode, m: &Models, at: Option<f64>) -> Option<f32> {
    let kind = rd.symbol(&m.kinds)?;
    cell_value(rd, code, m, kind, at).map(|(v, _)| v)
}

/// A decoded value, and its grid integer when it has one.
fn cell_value(
    rd: &mut Reader,
    code: &ColumnCode,
    m: &Models,
    kind: usize,
    at: Option<f64>,
) -> Option<(f32, Option<i64>)> {
    match kind {
        K_ZERO => Some((0.0, None)),
        K_POS | K_NEG => {
            let v = rd.value(&code.hist, &m.hist)?;
            let q = match at {
                None => v,
                Some(a) => (a.round() as i64).checked_add(unzigzag(v as u64))?,
            };
            Some((code.grid.rebuild(kind == K_NEG, q), Some(q)))
        }
        K_ESC => Some((f32::from_bits(rd.bits(32)? as u32), None)),
        _ => None,
    }
}
