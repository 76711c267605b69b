//! Which rows a run trains and validates on, and in which order it visits them: a seeded
//! train/validation split and a seeded shuffle per epoch, whole or in windows (so that only a
//! window's pages of a large memory-mapped dataset are resident at a time).

use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Datasets above this many values are shuffled in windows of this many values (8 MiB of
/// f32): the window is what stays resident while it is visited.
const FULL_SHUFFLE_MAX_VALUES: usize = 2 << 20;

/// The shuffling window for a dataset: `None` (full shuffle) when it is small, else about
/// 2 Mi values' worth of rows (about 87 000 rows of 24 variables).
pub fn auto_shuffle_window(rows: usize, cols: usize) -> Option<usize> {
    if rows.saturating_mul(cols) <= FULL_SHUFFLE_MAX_VALUES {
        None
    } else {
        Some((FULL_SHUFFLE_MAX_VALUES / cols.max(1)).max(1))
    }
}

/// Row indices of the training and validation splits, each sorted ascending.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    pub train: Vec<u32>,
    pub val: Vec<u32>,
}

/// Seeded split: a Fisher–Yates permutation of all rows; the first ⌊rows·val_fraction⌉ are
/// validation. Depends only on (rows, val_fraction, seed).
pub fn split_rows(rows: usize, val_fraction: f64, seed: u64) -> Split {
    let mut perm: Vec<u32> = (0..rows as u32).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed_0005_9117_u64);
    perm.shuffle(&mut rng);
    let n_val = (rows as f64 * val_fraction).round() as usize;
    let mut val = perm[..n_val].to_vec();
    perm.drain(..n_val);
    let mut train = perm;
    train.shrink_to_fit();
    val.sort_unstable();
    train.sort_unstable();
    Split { train, val }
}

/// A shuffling window as visited: it ends at position `end` of the epoch's order and covers
/// dataset rows `lo..=hi`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WindowSpan {
    pub end: usize,
    pub lo: u32,
    pub hi: u32,
}

/// Writes this epoch's visiting order of `train` into `order`: a full shuffle, or with a
/// window, the windows in shuffled order, each shuffled within (their spans go to `spans`).
pub(crate) fn epoch_order(
    train: &[u32],
    order: &mut Vec<u32>,
    spans: &mut Vec<WindowSpan>,
    window: Option<usize>,
    rng: &mut rand::rngs::StdRng,
) {
    order.clear();
    spans.clear();
    match window {
        Some(w) if w < train.len() => {
            let mut windows: Vec<&[u32]> = train.chunks(w).collect();
            windows.shuffle(rng);
            for win in windows {
                let start = order.len();
                order.extend_from_slice(win);
                order[start..].shuffle(rng);
                spans.push(WindowSpan { end: order.len(), lo: win[0], hi: win[win.len() - 1] });
            }
        }
        _ => {
            order.extend_from_slice(train);
            order.shuffle(rng);
        }
    }
}
