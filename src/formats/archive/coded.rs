//! One coded block of archive format 3: every value on its grid, every grid integer under an
//! entropy model chosen per column by coded size, all through one range coder.
//!
//! Per column the block records a [`ColumnCode`]: the grid, the counts of the value kinds
//! (+0, positive, negative, escape, identity), the model of the grid integers — *plain* (the
//! integers under a fitted two-level table) or *learned* (q − round(q̂) under such a table,
//! q̂ the grid position of the decoder's prediction) — and for a column that is a sum of
//! others (nConstituents = chMultiplicity + neMultiplicity) the sources: where the sum holds
//! the value costs only its kind. When some column is learned, the block first codes the
//! quantised latents (a plain-coded column each), and states the CRC of the predictions.
//!
//! Payload: `flags u8 | [crc u32] | latent ColumnCodes | column ColumnCodes | coded words`.

use super::codec::Bound;
use super::entropy::{categorical, get_varint, put_varint, unzigzag, zigzag, Categorical, Hist, Reader, Writer};
use super::grid::{candidates, native_mantissa_bits, Cell, Grid};
use crate::error::{Error, Result};

/// Kind indices.
const K_ZERO: usize = 0;
const K_POS: usize = 1;
const K_NEG: usize = 2;
const K_ESC: usize = 3;
const K_ID: usize = 4;
const KINDS: usize = 5;

/// How one column of one block is coded.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnCode {
    pub grid: Grid,
    pub kinds: [u32; KINDS],
    pub learned: bool,
    /// Grid integers coded as differences from the column's previous value in the block
    /// (sequential columns: event numbers, process labels).
    pub delta: bool,
    pub hist: Hist,
    /// Columns whose sum this one is, where its kind says so (empty: none).
    pub sources: Vec<u16>,
}

impl ColumnCode {
    fn write(&self, out: &mut Vec<u8>) {
        match self.grid {
            Grid::Log { delta } => {
                out.push(0);
                out.extend_from_slice(&delta.to_le_bytes());
            }
            Grid::Linear { step } => {
                out.push(1);
                out.extend_from_slice(&step.to_le_bytes());
            }
            Grid::Mantissa { bits } => out.extend_from_slice(&[2, bits as u8]),
            Grid::Integer => out.push(3),
        }
        for &k in &self.kinds {
            put_varint(k as u64, out);
        }
        out.push(self.learned as u8 | (self.delta as u8) << 1);
        self.hist.write(out);
        put_varint(self.sources.len() as u64, out);
        for &s in &self.sources {
            put_varint(s as u64, out);
        }
    }

    fn read(b: &[u8], pos: &mut usize, columns: usize) -> Option<ColumnCode> {
        let tag = *b.get(*pos)?;
        *pos += 1;
        let f64_at = |pos: &mut usize| -> Option<f64> {
            let s = b.get(*pos..*pos + 8)?;
            *pos += 8;
            Some(f64::from_le_bytes(s.try_into().ok()?))
        };
        let grid = match tag {
            0 => Grid::Log { delta: f64_at(pos)? },
            1 => Grid::Linear { step: f64_at(pos)? },
            2 => {
                let bits = *b.get(*pos)? as u32;
                *pos += 1;
                Grid::Mantissa { bits }
            }
            3 => Grid::Integer,
            _ => return None,
        };
        if !grid.valid() {
            return None;
        }
        let mut kinds = [0u32; KINDS];
        for k in &mut kinds {
            *k = u32::try_from(get_varint(b, pos)?).ok()?;
        }
        let (learned, delta) = match *b.get(*pos)? {
            0 => (false, false),
            1 => (true, false),
            2 => (false, true),
            _ => return None,
        };
        *pos += 1;
        let hist = Hist::read(b, pos)?;
        let ns = get_varint(b, pos)? as usize;
        if ns > columns {
            return None;
        }
        let sources = (0..ns)
            .map(|_| get_varint(b, pos).and_then(|s| u16::try_from(s).ok()).filter(|&s| (s as usize) < columns))
            .collect::<Option<Vec<u16>>>()?;
        Some(ColumnCode { grid, kinds, learned, delta, hist, sources })
    }
}

/// A column's cells and the coded size of one way to code them.
struct Plan {
    code: ColumnCode,
    cells: Vec<Cell>,
    bits: f64,
}

fn kind_of(c: Cell) -> usize {
    match c {
        Cell::Zero => K_ZERO,
        Cell::Value { neg: false, .. } => K_POS,
        Cell::Value { neg: true, .. } => K_NEG,
        Cell::Escape => K_ESC,
    }
}

/// Bits of the kind symbols under their own counts.
fn kind_bits(k: &[u32; KINDS]) -> f64 {
    let n: u32 = k.iter().sum();
    k.iter().filter(|&&c| c > 0).map(|&c| c as f64 * (n as f64 / c as f64).log2()).sum::<f64>() + 8.0 * KINDS as f64
}

/// The grid integer a cell is coded as: q, or its residual against the prediction.
fn symbol(q: i64, learned_at: Option<f64>) -> i64 {
    match learned_at {
        None => q,
        Some(at) => zigzag(q - at.round() as i64) as i64,
    }
}

/// Plans one column on one grid: plain and, with predictions, learned; returns the cheaper.
fn plan_column(xs: &[f32], bound: Bound, grid: Grid, preds: Option<&[f32]>, id: Option<&[bool]>) -> Plan {
    let mut cells = Vec::with_capacity(xs.len());
    let mut kinds = [0u32; KINDS];
    for (i, &x) in xs.iter().enumerate() {
        let c = grid.quantize(bound, x);
        kinds[if id.is_some_and(|m| m[i]) { K_ID } else { kind_of(c) }] += 1;
        cells.push(c);
    }
    let qs = |at: Option<&[f32]>| -> Vec<i64> {
        cells
            .iter()
            .enumerate()
            .filter(|(i, _)| !id.is_some_and(|m| m[*i]))
            .filter_map(|(i, c)| match c {
                Cell::Value { q, .. } => Some(symbol(*q, at.map(|p| grid.position(p[i])))),
                _ => None,
            })
            .collect()
    };
    let fixed = kind_bits(&kinds) + 32.0 * kinds[K_ESC] as f64 + 80.0;
    let (hist, hbits) = Hist::fit(&qs(None));
    let mut best = Plan {
        code: ColumnCode { grid, kinds, learned: false, delta: false, hist, sources: Vec::new() },
        cells: Vec::new(),
        bits: fixed + hbits,
    };
    // Against the previous value of the column (the same walk the coder makes).
    let mut prev = 0i64;
    let deltas: Vec<i64> = cells
        .iter()
        .enumerate()
        .filter(|(i, _)| !id.is_some_and(|m| m[*i]))
        .filter_map(|(_, c)| match c {
            Cell::Value { q, .. } => {
                let v = symbol(*q, Some(prev as f64));
                prev = *q;
                Some(v)
            }
            _ => None,
        })
        .collect();
    let (dh, dbits) = Hist::fit(&deltas);
    if fixed + dbits < best.bits {
        best.code.hist = dh;
        best.code.delta = true;
        best.bits = fixed + dbits;
    }
    if let Some(p) = preds {
        let (lh, lbits) = Hist::fit(&qs(Some(p)));
        if fixed + lbits < best.bits {
            best.code.hist = lh;
            best.code.learned = true;
            best.code.delta = false;
            best.bits = fixed + lbits;
        }
    }
    best.cells = cells;
    best
}

/// Everything one block of rows is coded from.
pub struct BlockInput<'a> {
    /// Rows, row-major, `bounds.len()` columns.
    pub x: &'a [f32],
    pub bounds: &'a [Bound],
    /// Integer-valued columns (may get the integer grid and take part in identities).
    pub integer: &'a [bool],
    /// Quantised latents (row-major, `latent_dim` per row), their codes, and the decoder's
    /// predictions from them (physical units, like `x`); `None`: plain coding only.
    pub learned: Option<LatentSide<'a>>,
    /// Bits charged once for the decoder when the block is the first to use it.
    pub decoder_bits: f64,
    /// Use the predictions for every column they make cheaper, whatever the latents and the
    /// decoder cost (measurements and tests; the default weighs everything).
    pub force_learned: bool,
}

/// The latent side of a block: what the decoder predicts from.
pub struct LatentSide<'a> {
    pub latent_dim: usize,
    /// The latents as stored (on their grid).
    pub zq: &'a [f32],
    pub preds: &'a [f32],
    pub crc: u32,
}

/// Quantises latents to a mantissa grid of `bits` bits (what the decoder will see).
pub fn quantize_latents(z: &[f32], bits: u32, out: &mut [f32]) {
    let g = Grid::Mantissa { bits };
    for (o, &v) in out.iter_mut().zip(z) {
        *o = match g.quantize(Bound::Rel { value: 1.0 }, v) {
            Cell::Value { neg, q } => g.rebuild(neg, q),
            _ => v,
        };
    }
}

/// Finds a column that is the sum of two or three other integer columns in at least half the
/// rows: (sources, mask of rows where it holds).
fn find_identity(x: &[f32], d: usize, target: usize, pool: &[usize]) -> Option<(Vec<u16>, Vec<bool>)> {
    let n = x.len() / d;
    let probe = n.min(512);
    let mut best: Option<(usize, Vec<usize>)> = None;
    let holds = |src: &[usize], r: usize| {
        let row = &x[r * d..(r + 1) * d];
        src.iter().map(|&s| row[s] as f64).sum::<f64>() == row[target] as f64
    };
    let mut try_set = |src: Vec<usize>| {
        let hits = (0..probe).filter(|&r| holds(&src, r)).count();
        if 2 * hits >= probe && best.as_ref().is_none_or(|(h, _)| hits > *h) {
            best = Some((hits, src));
        }
    };
    for (i, &a) in pool.iter().enumerate() {
        for (j, &b) in pool.iter().enumerate().skip(i + 1) {
            try_set(vec![a, b]);
            for &c in pool.iter().skip(j + 1) {
                try_set(vec![a, b, c]);
            }
        }
    }
    let (_, src) = best?;
    let mask = (0..n).map(|r| holds(&src, r)).collect();
    Some((src.iter().map(|&s| s as u16).collect(), mask))
}

/// What coding one block chose.
#[derive(Clone, Debug, Default)]
pub struct BlockStats {
    /// The block codes some column against the decoder's predictions.
    pub learned: bool,
    /// Values coded exactly as escapes (32 bits each).
    pub escapes: u64,
    /// Estimated bits of the latents (0 when not learned).
    pub latent_bits: f64,
    /// Per column: the code chosen (grid, model, identity) and its estimated bits.
    pub columns: Vec<(ColumnCode, f64)>,
}

/// Codes one block into `out`; returns what it chose.
pub fn encode_block(inp: &BlockInput, out: &mut Vec<u8>) -> Result<BlockStats> {
    let d = inp.bounds.len();
    let n = inp.x.len() / d;
    let column = |c: usize| -> Vec<f32> { (0..n).map(|r| inp.x[r * d + c]).collect() };
    let pred_col =
        |c: usize| -> Option<Vec<f32>> { inp.learned.as_ref().map(|l| (0..n).map(|r| l.preds[r * d + c]).collect()) };
    // Identities among exact integer columns (sources never targets, targets never sources).
    let pool: Vec<usize> = (0..d).filter(|&c| inp.integer[c] && inp.bounds[c] == Bound::Exact).take(16).collect();
    let mut ids: Vec<Option<(Vec<u16>, Vec<bool>)>> = vec![None; d];
    let mut is_source = vec![false; d];
    for &t in &pool {
        if is_source[t] {
            continue;
        }
        let others: Vec<usize> = pool.iter().copied().filter(|&c| c != t && ids[c].is_none()).collect();
        if let Some((src, mask)) = find_identity(inp.x, d, t, &others) {
            src.iter().for_each(|&s| is_source[s as usize] = true);
            ids[t] = Some((src, mask));
        }
    }
    let mut plain_total = 0.0;
    let mut mixed_total = inp.decoder_bits;
    let mut plans: Vec<(Plan, Option<Plan>)> = Vec::with_capacity(d);
    for (c, id) in ids.iter().enumerate() {
        let xs = column(c);
        let native = native_mantissa_bits(xs.iter().copied());
        let preds = pred_col(c);
        let mut plain: Option<Plan> = None;
        let mut learned: Option<Plan> = None;
        let consider = |p: Plan, slot: &mut Option<Plan>| {
            if slot.as_ref().is_none_or(|s| p.bits < s.bits) {
                *slot = Some(p);
            }
        };
        for g in candidates(inp.bounds[c], native, inp.integer[c]) {
            let idm = id.as_ref().map(|(_, m)| m.as_slice());
            for use_id in [false, true] {
                if use_id && idm.is_none() {
                    continue;
                }
                let mask = if use_id { idm } else { None };
                let mut p = plan_column(&xs, inp.bounds[c], g, None, mask);
                if use_id {
                    p.code.sources = id.as_ref().map(|(s, _)| s.clone()).unwrap_or_default();
                }
                consider(p, &mut plain);
                if let Some(pr) = &preds {
                    let mut q = plan_column(&xs, inp.bounds[c], g, Some(pr), mask);
                    if use_id {
                        q.code.sources = id.as_ref().map(|(s, _)| s.clone()).unwrap_or_default();
                    }
                    consider(q, &mut learned);
                }
            }
        }
        let plain = plain.expect("every bound has a grid");
        plain_total += plain.bits;
        mixed_total += learned.as_ref().map_or(plain.bits, |l| l.bits.min(plain.bits));
        plans.push((plain, learned));
    }
    // The latents as plain-coded columns on their mantissa grid.
    let mut latent_plans = Vec::new();
    if let Some(l) = &inp.learned {
        for j in 0..l.latent_dim {
            let zs: Vec<f32> = (0..n).map(|r| l.zq[r * l.latent_dim + j]).collect();
            let native = native_mantissa_bits(zs.iter().copied());
            let p = plan_column(&zs, Bound::Exact, Grid::Mantissa { bits: native }, None, None);
            mixed_total += p.bits;
            latent_plans.push(p);
        }
    }
    let use_learned = inp.learned.is_some() && (inp.force_learned || mixed_total < plain_total);
    let chosen: Vec<Plan> = plans
        .into_iter()
        .map(|(p, l)| match l {
            Some(l) if use_learned && l.bits < p.bits => l,
            _ => p,
        })
        .collect();
    let use_learned = use_learned && chosen.iter().any(|p| p.code.learned);
    out.push(use_learned as u8);
    if use_learned {
        out.extend_from_slice(&inp.learned.as_ref().map_or(0, |l| l.crc).to_le_bytes());
        latent_plans.iter().for_each(|p| p.code.write(out));
    }
    chosen.iter().for_each(|p| p.code.write(out));
    let mut w = Writer::new();
    if use_learned {
        let l = inp.learned.as_ref().expect("learned");
        let models = models_of(latent_plans.iter().map(|p| &p.code))?;
        for r in 0..n {
            for (j, p) in latent_plans.iter().enumerate() {
                put_cell(&mut w, &p.code, &models[j], p.cells[r], l.zq[r * l.latent_dim + j], None, false)?;
            }
        }
    }
    let models = models_of(chosen.iter().map(|p| &p.code))?;
    let order = column_order(chosen.iter().map(|p| &p.code));
    let preds = inp.learned.as_ref().map(|l| l.preds);
    let mut prev = vec![0i64; d];
    for r in 0..n {
        for &c in &order {
            let p = &chosen[c];
            let at = if p.code.delta {
                Some(prev[c] as f64)
            } else {
                (p.code.learned).then(|| p.code.grid.position(preds.expect("learned")[r * d + c]))
            };
            let id = !p.code.sources.is_empty() && {
                let row = &inp.x[r * d..(r + 1) * d];
                p.code.sources.iter().map(|&s| row[s as usize] as f64).sum::<f64>() == row[c] as f64
            };
            put_cell(&mut w, &p.code, &models[c], p.cells[r], inp.x[r * d + c], at, id)?;
            if let (Cell::Value { q, .. }, false) = (p.cells[r], id) {
                prev[c] = q;
            }
        }
    }
    w.finish(out)?;
    let latents = if use_learned { &latent_plans[..] } else { &[] };
    Ok(BlockStats {
        learned: use_learned,
        escapes: chosen.iter().chain(latents).map(|p| p.code.kinds[K_ESC] as u64).sum(),
        latent_bits: latents.iter().map(|p| p.bits).sum(),
        columns: chosen.into_iter().map(|p| (p.code, p.bits)).collect(),
    })
}

/// Identity targets last, so their sources are decoded first.
fn column_order<'a>(codes: impl Iterator<Item = &'a ColumnCode>) -> Vec<usize> {
    let codes: Vec<&ColumnCode> = codes.collect();
    let mut order: Vec<usize> = (0..codes.len()).filter(|&c| codes[c].sources.is_empty()).collect();
    order.extend((0..codes.len()).filter(|&c| !codes[c].sources.is_empty()));
    order
}

type Models = (Categorical, Categorical);

fn models_of<'a>(codes: impl Iterator<Item = &'a ColumnCode>) -> Result<Vec<Models>> {
    codes
        .map(|c| {
            let kinds = categorical(&c.kinds).ok_or_else(|| Error::config("internal error: empty kind table"))?;
            let h = c.hist.models().ok_or_else(|| Error::config("internal error: empty value table"))?;
            Ok((kinds, h))
        })
        .collect()
}

fn put_cell(
    w: &mut Writer,
    code: &ColumnCode,
    m: &Models,
    cell: Cell,
    x: f32,
    at: Option<f64>,
    id: bool,
) -> Result<()> {
    if id {
        return w.symbol(K_ID, &m.0);
    }
    w.symbol(kind_of(cell), &m.0)?;
    match cell {
        Cell::Value { q, .. } => w.value(&code.hist, &m.1, symbol(q, at)),
        Cell::Escape => w.bits(x.to_bits() as u64, 32),
        Cell::Zero => Ok(()),
    }
}

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
    let learned = match payload.first() {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(corrupt()),
    };
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
        codes.push(ColumnCode::read(payload, &mut pos, d).ok_or_else(corrupt)?);
    }
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
        if super::codec::prediction_crc(&preds) != crc.unwrap_or(0) {
            return Err("PREDICTION_MISMATCH".into());
        }
    }
    let models = models_of(codes.iter()).map_err(|_| corrupt())?;
    let order = column_order(codes.iter());
    x.clear();
    x.resize(n * d, 0.0);
    let mut prev = vec![0i64; d];
    for r in 0..n {
        for &c in &order {
            let code = &codes[c];
            let at = if code.delta {
                Some(prev[c] as f64)
            } else {
                code.learned.then(|| code.grid.position(preds[r * d + c]))
            };
            let kind = rd.symbol(&models[c].0).ok_or_else(corrupt)?;
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
        }
    }
    Ok(())
}

fn get_cell(rd: &mut Reader, code: &ColumnCode, m: &Models, at: Option<f64>) -> Option<f32> {
    let kind = rd.symbol(&m.0)?;
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
            let v = rd.value(&code.hist, &m.1)?;
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
