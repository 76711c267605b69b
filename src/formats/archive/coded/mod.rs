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
//!
//! * [`column`]: a column's code and its bytes in the block header;
//! * [`plan`]: choosing each column's grid and model by coded size, identities, latents;
//! * [`encode`]: one block from its rows; [`decode`]: its rows back.

mod column;
mod decode;
mod encode;
mod plan;

pub use column::ColumnCode;
pub use decode::{decode_block, Predict};
pub use encode::{encode_block, BlockInput, BlockStats, LatentSide};
pub use plan::quantize_latents;

use super::entropy::{categorical, zigzag, Categorical};
use super::grid::Cell;
use crate::error::{Error, Result};

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
