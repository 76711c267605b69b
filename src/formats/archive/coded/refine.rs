//! Format 4: with every column's grid chosen, the order the columns are coded in and what
//! each one predicts from the columns before it, each taken only where it lowers the
//! estimated bits:
//!
//! * order: exact integer columns, identity targets, a group of fractions that adds up to one
//!   (one of them last), everything else in column order;
//! * the last fraction of the group coded against 1 − Σ the others ([`Pred::Complement`]);
//! * every other log-grid column against a least-squares fit on the features of the columns
//!   before it ([`Pred::Linear`]);
//! * the kinds of a non-integer column under two tables, chosen by whether an earlier integer
//!   column is zero in the row (neHEF = 0 exactly when nNh = 0).

use super::plan::{kind_bits, Plan};
use super::predict::{feature, fit_linear, Pred};
use super::{kind_of, KINDS};
use crate::formats::archive::entropy::{zigzag, Hist};
use crate::formats::archive::grid::{Cell, Grid};

/// What the coder needs besides the plans: the order, and the decoded block and features
/// (row-major, `d` per row) that the predictions read.
pub(super) struct Refined {
    pub(super) order: Vec<usize>,
    pub(super) dec: Vec<f32>,
    pub(super) feats: Vec<f64>,
}

/// The value a decoder rebuilds from a cell (an escape is the value itself).
pub(super) fn rebuilt(grid: &Grid, cell: Cell, x: f32) -> f32 {
    match cell {
        Cell::Zero => 0.0,
        Cell::Value { neg, q } => grid.rebuild(neg, q),
        Cell::Escape => x,
    }
}

/// The log step of a log grid (`None` for any other grid).
pub(super) fn log_delta(g: &Grid) -> Option<f64> {
    match *g {
        Grid::Log { delta } => Some(delta),
        _ => None,
    }
}

/// The value table and bits of a plan's values coded against `at(row)`.
fn predicted_hist(plan: &Plan, at: &dyn Fn(usize) -> f64) -> (Hist, f64) {
    let res: Vec<i64> = plan
        .cells
        .iter()
        .enumerate()
        .filter_map(|(r, c)| match c {
            Cell::Value { q, .. } => Some(zigzag(q - at(r).round() as i64) as i64),
            _ => None,
        })
        .collect();
    Hist::fit_with(&res, true)
}

/// The largest set (≥ 2) of `cand` columns whose values add up to one (|Σ − 1| ≤ 10⁻⁵) in at
/// least 90 % of the first rows.
fn find_complement(x: &[f32], d: usize, cand: &[usize]) -> Option<Vec<usize>> {
    let probe = (x.len() / d).min(256);
    let mut best: Option<(usize, usize, u32)> = None;
    for set in 1u32..(1 << cand.len()) {
        let size = set.count_ones() as usize;
        if size < 2 || best.is_some_and(|(s, _, _)| size < s) {
            continue;
        }
        let hits = (0..probe)
            .filter(|&r| {
                let s: f64 = (0..cand.len()).filter(|&i| set >> i & 1 == 1).map(|i| x[r * d + cand[i]] as f64).sum();
                (s - 1.0).abs() <= 1e-5
            })
            .count();
        if 10 * hits >= 9 * probe && best.is_none_or(|(s, h, _)| size > s || hits > h) {
            best = Some((size, hits, set));
        }
    }
    let (_, _, set) = best?;
    Some((0..cand.len()).filter(|&i| set >> i & 1 == 1).map(|i| cand[i]).collect())
}

/// Sets `plan`'s model to `pred` with table `h` of `hb` bits.
fn apply(plan: &mut Plan, pred: Pred, h: Hist, hb: f64) {
    plan.code.hist = h;
    plan.code.pred = pred;
    plan.code.delta = false;
    plan.code.first = 0;
    plan.bits += hb - plan.hbits;
    plan.hbits = hb;
}

/// Chooses the order, predictions and kind contexts of a block's plans (see the module docs).
pub(super) fn refine(x: &[f32], d: usize, plans: &mut [Plan]) -> Refined {
    let n = x.len() / d;
    let mut dec = vec![0.0f32; n * d];
    for (c, p) in plans.iter().enumerate() {
        for r in 0..n {
            dec[r * d + c] = rebuilt(&p.code.grid, p.cells[r], x[r * d + c]);
        }
    }
    let mut feats = vec![0.0f64; n * d];
    for (i, f) in feats.iter_mut().enumerate() {
        *f = feature(&plans[i % d].code.grid, dec[i]);
    }
    let ints: Vec<usize> =
        (0..d).filter(|&c| plans[c].code.grid == Grid::Integer && plans[c].code.sources.is_empty()).collect();
    let targets: Vec<usize> = (0..d).filter(|&c| !plans[c].code.sources.is_empty()).collect();
    let predictable =
        |p: &Plan| matches!(p.code.grid, Grid::Log { .. }) && !p.code.learned && p.code.sources.is_empty();
    let cand: Vec<usize> = (0..d)
        .filter(|&c| predictable(&plans[c]) && (0..n).all(|r| (0.0..=1.0).contains(&x[r * d + c])))
        .take(12)
        .collect();
    let group = find_complement(x, d, &cand).unwrap_or_default();
    let mut target: Option<(usize, Pred, Hist, f64)> = None;
    for &t in &group {
        let pred = Pred::Complement(group.iter().filter(|&&c| c != t).map(|&c| c as u16).collect());
        let delta = log_delta(&plans[t].code.grid).expect("a log grid");
        let (h, hb) = predicted_hist(&plans[t], &|r| pred.at(&dec[r * d..(r + 1) * d], &[], delta));
        let hb = hb + 8.0 * pred.table_bytes() as f64;
        let gain = plans[t].hbits - hb;
        if gain > 0.0 && target.as_ref().is_none_or(|(b, _, _, bb)| gain > plans[*b].hbits - bb) {
            target = Some((t, pred, h, hb));
        }
    }
    let tcol = target.as_ref().map(|t| t.0);
    let mut order: Vec<usize> = ints.clone();
    order.extend(&targets);
    order.extend(group.iter().copied().filter(|&c| Some(c) != tcol));
    order.extend(tcol);
    let rest: Vec<usize> = (0..d).filter(|c| !order.contains(c)).collect();
    order.extend(rest);
    if let Some((t, pred, h, hb)) = target {
        apply(&mut plans[t], pred, h, hb);
    }
    for k in 0..d {
        let c = order[k];
        if !predictable(&plans[c]) || plans[c].code.pred != Pred::None {
            continue;
        }
        let sources: Vec<u16> = order[..k].iter().map(|&s| s as u16).collect();
        if sources.is_empty() {
            continue;
        }
        let rows: Vec<(usize, f64)> = (0..n)
            .filter(|&r| matches!(plans[c].cells[r], Cell::Value { .. }))
            .map(|r| (r, libm::log((dec[r * d + c] as f64).abs())))
            .filter(|(_, y)| y.is_finite())
            .collect();
        let Some(coefs) = fit_linear(&feats, d, &sources, &rows) else { continue };
        let pred = Pred::Linear { sources, coefs };
        let delta = log_delta(&plans[c].code.grid).expect("a log grid");
        let (h, hb) = predicted_hist(&plans[c], &|r| pred.at(&[], &feats[r * d..(r + 1) * d], delta));
        let hb = hb + 8.0 * pred.table_bytes() as f64;
        if hb < plans[c].hbits {
            apply(&mut plans[c], pred, h, hb);
        }
    }
    let others: Vec<usize> = (0..d).filter(|c| !ints.contains(c) && plans[*c].code.sources.is_empty()).collect();
    for c in others {
        let mut best: Option<(u16, [u32; KINDS], f64)> = None;
        for &m in &ints {
            let mut k0 = [0u32; KINDS];
            let mut k1 = [0u32; KINDS];
            for r in 0..n {
                let k = kind_of(plans[c].cells[r]);
                if dec[r * d + m] == 0.0 {
                    k0[k] += 1;
                } else {
                    k1[k] += 1;
                }
            }
            let bits = kind_bits(&k0) + kind_bits(&k1) + 8.0 * (KINDS + 1) as f64;
            if bits < plans[c].kbits && best.is_none_or(|(_, _, b)| bits < b) {
                best = Some((m as u16, k0, bits));
            }
        }
        if let Some((m, k0, bits)) = best {
            let p = &mut plans[c];
            p.code.kind_ctx = Some(m);
            p.code.kinds0 = k0;
            p.bits += bits - p.kbits;
            p.kbits = bits;
        }
    }
    Refined { order, dec, feats }
}
