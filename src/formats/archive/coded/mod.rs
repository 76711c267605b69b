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
//! Format 4 (flags bit 1) adds per column the delta walk's start, a kind context and a
//! prediction from columns decoded earlier in the row (fractions that add up to one, a
//! least-squares fit), and the order the columns are coded in.
//!
//! Payload: `flags u8 | [crc u32] | latent ColumnCodes | column ColumnCodes [+ format-4
//! parts] | [order: d varints] | coded words`.
//!
//! * [`column`]: a column's code and its bytes in the block header;
//! * `plan`: choosing each column's grid and model by coded size, identities, latents;
//! * `refine`: format 4's order, predictions and kind contexts; `predict`: the predictions;
//! * `encode`: one block from its rows; `decode`: its rows back.

mod column;
mod decode;
mod encode;
mod plan;
mod predict;
mod refine;

pub use column::ColumnCode;
pub use decode::{decode_block, Predict};
pub use encode::{encode_block, BlockInput, BlockStats, LatentSide};
pub use plan::quantize_latents;
pub use predict::Pred;

use super::entropy::{categorical, zigzag, Categorical};
use super::grid::Cell;
use crate::error::{Error, Result};

/// Block flags.
const F_LEARNED: u8 = 1;
const F_V4: u8 = 2;

/// Kind indices.
const K_ZERO: usize = 0;
const K_POS: usize = 1;
const K_NEG: usize = 2;
const K_ESC: usize = 3;
const K_ID: usize = 4;
const KINDS: usize = 5;

fn kind_of(c: Cell) -> usize {
    match c {
        Cell::Zero => K_ZERO,
        Cell::Value { neg: false, .. } => K_POS,
        Cell::Value { neg: true, .. } => K_NEG,
        Cell::Escape => K_ESC,
    }
}

/// The grid integer a cell is coded as: q, or its residual against the prediction.
fn symbol(q: i64, learned_at: Option<f64>) -> i64 {
    match learned_at {
        None => q,
        Some(at) => zigzag(q - at.round() as i64) as i64,
    }
}

/// Identity targets last, so their sources are decoded first.
fn column_order<'a>(codes: impl Iterator<Item = &'a ColumnCode>) -> Vec<usize> {
    let codes: Vec<&ColumnCode> = codes.collect();
    let mut order: Vec<usize> = (0..codes.len()).filter(|&c| codes[c].sources.is_empty()).collect();
    order.extend((0..codes.len()).filter(|&c| !codes[c].sources.is_empty()));
    order
}

/// A column's models: kinds (where the context column is not zero, or always), kinds where
/// it is zero, the value table.
struct Models {
    kinds: Categorical,
    kinds0: Option<Categorical>,
    hist: Categorical,
}

impl Models {
    /// The kind model of a row whose decoded values so far are `row`.
    fn kinds(&self, code: &ColumnCode, row: &[f32]) -> &Categorical {
        match (code.kind_ctx, &self.kinds0) {
            (Some(c), Some(k0)) if row[c as usize] == 0.0 => k0,
            _ => &self.kinds,
        }
    }
}

fn models_of<'a>(codes: impl Iterator<Item = &'a ColumnCode>) -> Result<Vec<Models>> {
    let empty = || Error::config("internal error: empty kind table");
    codes
        .map(|c| {
            let (kinds, kinds0) = match c.kind_ctx {
                None => (categorical(&c.kinds).ok_or_else(empty)?, None),
                Some(_) => {
                    let k1: Vec<u32> = (0..KINDS).map(|k| c.kinds[k].saturating_sub(c.kinds0[k])).collect();
                    (categorical(&k1).ok_or_else(empty)?, Some(categorical(&c.kinds0).ok_or_else(empty)?))
                }
            };
            let hist = c.hist.models().ok_or_else(|| Error::config("internal error: empty value table"))?;
            Ok(Models { kinds, kinds0, hist })
        })
        .collect()
}

/// Whether `order` is a permutation of the columns in which every column comes after the
/// columns it depends on.
fn order_valid(order: &[usize], codes: &[ColumnCode]) -> bool {
    let d = codes.len();
    let mut rank = vec![usize::MAX; d];
    for (i, &c) in order.iter().enumerate() {
        if c >= d || rank[c] != usize::MAX {
            return false;
        }
        rank[c] = i;
    }
    order.len() == d && order.iter().all(|&c| codes[c].depends_on().all(|s| rank[s as usize] < rank[c]))
}
