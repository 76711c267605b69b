//! Coding one block: identities found, every column planned, the learned side taken only
//! where it pays, then every cell through one range coder.

use super::plan::{find_identity, plan_column, Plan};
use super::{column_order, kind_of, models_of, symbol, ColumnCode, Models, K_ESC, K_ID};
use crate::error::Result;
use crate::formats::archive::codec::Bound;
use crate::formats::archive::entropy::Writer;
use crate::formats::archive::grid::{candidates, native_mantissa_bits, Cell, Grid};

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
