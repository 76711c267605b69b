//! Choosing how a column is coded: every candidate grid, plain, delta or learned, with and
//! without an identity, priced in estimated bits; identities among integer columns; the
//! latents' own grid.

use super::{kind_of, symbol, ColumnCode, KINDS, K_ESC, K_ID};
use crate::formats::archive::codec::Bound;
use crate::formats::archive::entropy::Hist;
use crate::formats::archive::grid::{Cell, Grid};

/// A column's cells and the coded size of one way to code them.
pub(super) struct Plan {
    pub(super) code: ColumnCode,
    pub(super) cells: Vec<Cell>,
    pub(super) bits: f64,
    /// The part of `bits` that is the kind symbols (table included).
    pub(super) kbits: f64,
    /// The part of `bits` that is the value table and the values.
    pub(super) hbits: f64,
}

/// Bits of the kind symbols under their own counts.
pub(super) fn kind_bits(k: &[u32; KINDS]) -> f64 {
    let n: u32 = k.iter().sum();
    k.iter().filter(|&&c| c > 0).map(|&c| c as f64 * (n as f64 / c as f64).log2()).sum::<f64>() + 8.0 * KINDS as f64
}

/// Plans one column on one grid: plain, delta (format 4: from the first value, not from 0)
/// and, with predictions, learned; returns the cheapest.
pub(super) fn plan_column(
    xs: &[f32],
    bound: Bound,
    grid: Grid,
    preds: Option<&[f32]>,
    id: Option<&[bool]>,
    v4: bool,
) -> Plan {
    plan_column_with(xs, bound, grid, preds, id, v4, true)
}

/// A latent column: plain only (the decoder reads latents without a delta walk, so a delta
/// plan, cheaper on slowly varying latents, would write a block it refuses).
pub(super) fn plan_latent(zs: &[f32], grid: Grid) -> Plan {
    plan_column_with(zs, Bound::Exact, grid, None, None, false, false)
}

fn plan_column_with(
    xs: &[f32],
    bound: Bound,
    grid: Grid,
    preds: Option<&[f32]>,
    id: Option<&[bool]>,
    v4: bool,
    delta_ok: bool,
) -> Plan {
    let mut cells = Vec::with_capacity(xs.len());
    let mut kinds = [0u32; KINDS];
    for (i, &x) in xs.iter().enumerate() {
        let c = grid.quantize(bound, x);
        kinds[if id.is_some_and(|m| m[i]) { K_ID } else { kind_of(c) }] += 1;
        cells.push(c);
    }
    let values = || {
        cells.iter().enumerate().filter(|(i, _)| !id.is_some_and(|m| m[*i])).filter_map(|(i, c)| match c {
            Cell::Value { q, .. } => Some((i, *q)),
            _ => None,
        })
    };
    let qs = |at: Option<&[f32]>| -> Vec<i64> {
        values().map(|(i, q)| symbol(q, at.map(|p| grid.position(p[i])))).collect()
    };
    let kbits = kind_bits(&kinds);
    let fixed = kbits + 32.0 * kinds[K_ESC] as f64 + 80.0;
    let (hist, hbits) = Hist::fit_with(&qs(None), v4);
    let mut best =
        Plan { code: ColumnCode::plain(grid, kinds, hist), cells: Vec::new(), bits: fixed + hbits, kbits, hbits };
    // Against the previous value of the column (the same walk the coder makes).
    let first = if v4 { values().next().map_or(0, |(_, q)| q) } else { 0 };
    let mut prev = first;
    let deltas: Vec<i64> = values()
        .map(|(_, q)| {
            let v = symbol(q, Some(prev as f64));
            prev = q;
            v
        })
        .collect();
    let (dh, dbits) = Hist::fit_with(&deltas, v4);
    if delta_ok && fixed + dbits < best.bits {
        best.code.hist = dh;
        best.code.delta = true;
        best.code.first = first;
        best.bits = fixed + dbits;
        best.hbits = dbits;
    }
    if let Some(p) = preds {
        let (lh, lbits) = Hist::fit_with(&qs(Some(p)), v4);
        if fixed + lbits < best.bits {
            best.code.hist = lh;
            best.code.learned = true;
            best.code.delta = false;
            best.code.first = 0;
            best.bits = fixed + lbits;
            best.hbits = lbits;
        }
    }
    best.cells = cells;
    best
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
pub(super) fn find_identity(x: &[f32], d: usize, target: usize, pool: &[usize]) -> Option<(Vec<u16>, Vec<bool>)> {
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
