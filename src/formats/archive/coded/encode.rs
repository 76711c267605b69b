//! Coding one block: identities found, every column planned, the learned side taken only
//! where it pays, then every cell through one range coder.

use super::plan::{find_identity, plan_column, plan_latent, Plan};
use super::predict::Pred;
use super::refine::{log_delta, refine, Refined};
use super::{column_order, kind_of, models_of, symbol, ColumnCode, Models, F_LEARNED, F_V4, K_ESC, K_ID};
use crate::error::Result;
use crate::formats::archive::codec::Bound;
use crate::formats::archive::entropy::{put_varint, Categorical, Writer};
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
    /// Format 4: the delta walk from the first value, predictions from earlier columns of
    /// the row, kind contexts and a coding order (false: format 3's block layout).
    pub v4: bool,
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
                let mut p = plan_column(&xs, inp.bounds[c], g, None, mask, inp.v4);
                if use_id {
                    p.code.sources = id.as_ref().map(|(s, _)| s.clone()).unwrap_or_default();
                }
                consider(p, &mut plain);
                if let Some(pr) = &preds {
                    let mut q = plan_column(&xs, inp.bounds[c], g, Some(pr), mask, inp.v4);
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
            let p = plan_latent(&zs, Grid::Mantissa { bits: native });
            mixed_total += p.bits;
            latent_plans.push(p);
        }
    }
    let use_learned = inp.learned.is_some() && (inp.force_learned || mixed_total < plain_total);
    let mut chosen: Vec<Plan> = plans
        .into_iter()
        .map(|(p, l)| match l {
            Some(l) if use_learned && l.bits < p.bits => l,
            _ => p,
        })
        .collect();
    let use_learned = use_learned && chosen.iter().any(|p| p.code.learned);
    let refined = inp.v4.then(|| refine(inp.x, d, &mut chosen));
    out.push(if use_learned { F_LEARNED } else { 0 } | if inp.v4 { F_V4 } else { 0 });
    if use_learned {
        out.extend_from_slice(&inp.learned.as_ref().map_or(0, |l| l.crc).to_le_bytes());
        latent_plans.iter().for_each(|p| p.code.write(out));
    }
    for p in &chosen {
        p.code.write(out);
        if inp.v4 {
            p.code.write_ext(out);
        }
    }
    let order = match &refined {
        Some(r) => {
            r.order.iter().for_each(|&c| put_varint(c as u64, out));
            r.order.clone()
        }
        None => column_order(chosen.iter().map(|p| &p.code)),
    };
    let mut w = Writer::new();
    if use_learned {
        let l = inp.learned.as_ref().expect("learned");
        let models = models_of(latent_plans.iter().map(|p| &p.code))?;
        for r in 0..n {
            for (j, p) in latent_plans.iter().enumerate() {
                let m = &models[j];
                put_cell(&mut w, &p.code, m, &m.kinds, p.cells[r], l.zq[r * l.latent_dim + j], None, false)?;
            }
        }
    }
    let models = models_of(chosen.iter().map(|p| &p.code))?;
    let preds = inp.learned.as_ref().map(|l| l.preds);
    let mut prev: Vec<i64> = chosen.iter().map(|p| p.code.first).collect();
    for r in 0..n {
        let row = &inp.x[r * d..(r + 1) * d];
        for &c in &order {
            let p = &chosen[c];
            let at = if p.code.delta {
                Some(prev[c] as f64)
            } else if p.code.learned {
                Some(p.code.grid.position(preds.expect("learned")[r * d + c]))
            } else if let (Pred::None, _) | (_, None) = (&p.code.pred, &refined) {
                None
            } else {
                let Refined { dec, feats, .. } = refined.as_ref().expect("refined");
                let delta = log_delta(&p.code.grid).expect("predictions are on log grids");
                Some(p.code.pred.at(&dec[r * d..(r + 1) * d], &feats[r * d..(r + 1) * d], delta))
            };
            let id = !p.code.sources.is_empty()
                && p.code.sources.iter().map(|&s| row[s as usize] as f64).sum::<f64>() == row[c] as f64;
            let km = match &refined {
                Some(rf) => models[c].kinds(&p.code, &rf.dec[r * d..(r + 1) * d]),
                None => &models[c].kinds,
            };
            put_cell(&mut w, &p.code, &models[c], km, p.cells[r], row[c], at, id)?;
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

#[allow(clippy::too_many_arguments)]
fn put_cell(
    w: &mut Writer,
    code: &ColumnCode,
    m: &Models,
    kinds: &Categorical,
    cell: Cell,
    x: f32,
    at: Option<f64>,
    id: bool,
) -> Result<()> {
    if id {
        return w.symbol(K_ID, kinds);
    }
    w.symbol(kind_of(cell), kinds)?;
    match cell {
        Cell::Value { q, .. } => w.value(&code.hist, &m.hist, symbol(q, at)),
        Cell::Escape => w.bits(x.to_bits() as u64, 32),
        Cell::Zero => Ok(()),
    }
}
