//! The data path: NPY datasets (memory-mapped, zero copy), `import/` (CSV, NPY, ROOT), row filters,
//! normalisers, and the synthetic-jet generator for scale tests.

pub mod filter;
pub mod image_norm;
pub mod images;
pub mod import;
// The importers' paths before `import/`.
pub use import::csv;
#[cfg(feature = "root")]
pub use import::root;
pub mod normalize;
pub mod npy;
pub mod sink;
pub mod subjets;
pub mod synth;

/// Sets `idx` to positions `start..start + n` of a row selection: `rows[start..start + n]`
/// when one is given, else the row numbers themselves (the whole dataset, in order).
pub fn selected_rows(rows: Option<&[u32]>, start: usize, n: usize, idx: &mut Vec<u32>) {
    idx.clear();
    match rows {
        Some(r) => idx.extend_from_slice(&r[start..start + n]),
        None => idx.extend((start..start + n).map(|i| i as u32)),
    }
}
