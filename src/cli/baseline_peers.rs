//! The generic peers of `hepae compress`, natively, for `hepae baseline`: the rows that
//! `benches/compare/compress_peers.py` computes in Python, under compress's bound rule
//! (`default_bounds`: integer columns exact; η, φ |Δ| ≤ ε; every other column |Δ| ≤ ε·|x|).
//!
//! * per-column log-quantiser: relative columns q = round(ln|x| / δ) on [`Grid::log_for`],
//!   absolute ones q = round(x / step) on [`Grid::linear_for`], integer ones q = x; per column
//!   q − min(q) as little-endian u32 (u64 when the range needs it), byte-shuffled, zstd-19; a
//!   relative column adds its bit-packed sign and zero masks (np.packbits order), zstd-19;
//! * lossless: the float32 rows byte-shuffled, zstd-19.
//!
//! Unlike the Python script, a value whose grid value misses its bound (float rounding) is
//! kept exactly in an escape list (row, f32 bits; zstd-19), and the few bytes a reader needs
//! besides the zstd streams (per column: min, width, stream lengths) are counted. Every value
//! is decoded back from the bytes and checked against its bound.

use crate::archive::grid::{Cell, Grid};
use crate::archive::{shuffle, unshuffle, within, Bound};
use crate::error::{Error, Result};
use crate::formats::archive::entropy::{get_varint, put_varint, unzigzag, zigzag};

/// zstd level of both peers (the Python script's).
pub const LEVEL: i32 = 19;

fn zstd(b: &[u8]) -> Result<Vec<u8>> {
    zstd::bulk::compress(b, LEVEL).map_err(|e| Error::config(format!("zstd: {e}")))
}

fn unzstd(b: &[u8], cap: usize) -> Result<Vec<u8>> {
    zstd::bulk::decompress(b, cap).map_err(|e| Error::config(format!("internal error: zstd: {e}")))
}

/// One column's streams.
struct Column {
    min: i64,
    width: usize,
    values: Vec<u8>,
    /// Sign and zero masks (relative columns only).
    masks: Option<Vec<u8>>,
}

/// A quantised table: what a reader needs, as bytes.
pub struct Quantised {
    rows: usize,
    columns: Vec<Column>,
    /// (row · d + column, f32 bits) as zstd of varint gaps and raw bytes.
    escapes: Vec<u8>,
    /// Besides the zstd streams: per column min (zigzag varint), width, stream lengths; the
    /// escape stream's length.
    header: Vec<u8>,
}

impl Quantised {
    /// Bytes a reader needs.
    pub fn bytes(&self) -> usize {
        self.header.len()
            + self.escapes.len()
            + self.columns.iter().map(|c| c.values.len() + c.masks.as_ref().map_or(0, Vec::len)).sum::<usize>()
    }
}

/// np.packbits: element i is bit 7 − i % 8 of byte i / 8.
fn packbits(bits: impl Iterator<Item = bool>, out: &mut Vec<u8>) {
    for (i, b) in bits.enumerate() {
        if i % 8 == 0 {
            out.push(0);
        }
        if b {
            *out.last_mut().expect("pushed") |= 0x80 >> (i % 8);
        }
    }
}

fn bit(packed: &[u8], i: usize) -> bool {
    packed[i / 8] & (0x80 >> (i % 8)) != 0
}

/// The grid of a column under its bound (`None`: integer column, q = x).
fn grid_of(bound: Bound) -> Option<Grid> {
    match bound {
        Bound::Rel { value } => Some(Grid::log_for(value)),
        Bound::Abs { value } => Some(Grid::linear_for(value)),
        Bound::Exact => None,
    }
}

/// Quantises rows `x` (row-major, `bounds.len()` columns) column by column.
pub fn quantise(x: &[f32], bounds: &[Bound]) -> Result<Quantised> {
    let d = bounds.len();
    let n = x.len().checked_div(d).unwrap_or(0);
    let mut escapes: Vec<(usize, u32)> = Vec::new();
    let mut columns = Vec::with_capacity(d);
    let mut q = vec![0i64; n];
    for (c, &bound) in bounds.iter().enumerate() {
        let grid = grid_of(bound);
        for (r, qr) in q.iter_mut().enumerate() {
            let v = x[r * d + c];
            *qr = match grid {
                // Integer columns hold integers of magnitude < 2²⁴ (integer_columns).
                None if v.fract() == 0.0 && v.abs() < 16_777_216.0 => v as i64,
                None => {
                    escapes.push((r * d + c, v.to_bits()));
                    0
                }
                Some(g) => match g.quantize(bound, v) {
                    Cell::Zero => 0,
                    Cell::Value { q, .. } => q,
                    // −0.0 keeps its sign in the mask and rebuilds exactly.
                    Cell::Escape if v == 0.0 => 0,
                    Cell::Escape => {
                        escapes.push((r * d + c, v.to_bits()));
                        0
                    }
                },
            };
        }
        let min = q.iter().copied().min().unwrap_or(0);
        let range = q.iter().map(|&v| (v - min) as u64).max().unwrap_or(0);
        let width = if range <= u32::MAX as u64 { 4 } else { 8 };
        let mut raw = Vec::with_capacity(n * width);
        for &v in &q {
            let u = (v - min) as u64;
            raw.extend_from_slice(&u.to_le_bytes()[..width]);
        }
        let mut sh = Vec::new();
        shuffle(&raw, width, &mut sh);
        let masks = if matches!(bound, Bound::Rel { .. }) {
            let col = |r: usize| x[r * d + c];
            let mut m = Vec::with_capacity(n / 4 + 2);
            packbits((0..n).map(|r| col(r).is_sign_negative()), &mut m);
            packbits((0..n).map(|r| col(r) == 0.0), &mut m);
            Some(zstd(&m)?)
        } else {
            None
        };
        columns.push(Column { min, width, values: zstd(&sh)?, masks });
    }
    let mut esc = Vec::new();
    let mut last = 0usize;
    for &(i, bits) in &escapes {
        put_varint((i - last) as u64, &mut esc);
        esc.extend_from_slice(&bits.to_le_bytes());
        last = i;
    }
    let escapes = if escapes.is_empty() { Vec::new() } else { zstd(&esc)? };
    let mut header = Vec::new();
    for c in &columns {
        put_varint(zigzag(c.min), &mut header);
        header.push(c.width as u8);
        put_varint(c.values.len() as u64, &mut header);
        put_varint(c.masks.as_ref().map_or(0, Vec::len) as u64, &mut header);
    }
    put_varint(escapes.len() as u64, &mut header);
    Ok(Quantised { rows: n, columns, escapes, header })
}

/// Rebuilds the rows from a [`Quantised`] table's streams.
pub fn dequantise(t: &Quantised, bounds: &[Bound]) -> Result<Vec<f32>> {
    let (n, d) = (t.rows, bounds.len());
    let mut x = vec![0.0f32; n * d];
    let corrupt = || Error::config("internal error: the quantised table does not decode");
    let mut pos = 0;
    for (c, (col, &bound)) in t.columns.iter().zip(bounds).enumerate() {
        let min = unzigzag(get_varint(&t.header, &mut pos).ok_or_else(corrupt)?);
        let width = *t.header.get(pos).ok_or_else(corrupt)? as usize;
        pos += 1;
        let values_len = get_varint(&t.header, &mut pos).ok_or_else(corrupt)? as usize;
        let masks_len = get_varint(&t.header, &mut pos).ok_or_else(corrupt)? as usize;
        let lengths = (col.values.len(), col.masks.as_ref().map_or(0, Vec::len));
        if width != col.width || col.min != min || (values_len, masks_len) != lengths {
            return Err(corrupt());
        }
        let mut raw = Vec::new();
        unshuffle(&unzstd(&col.values, n * width)?, width, &mut raw);
        let masks = col.masks.as_ref().map(|m| unzstd(m, 2 * n.div_ceil(8))).transpose()?;
        let grid = grid_of(bound);
        for r in 0..n {
            let mut b = [0u8; 8];
            b[..width].copy_from_slice(&raw[r * width..(r + 1) * width]);
            let q = min + u64::from_le_bytes(b) as i64;
            x[r * d + c] = match (grid, &masks) {
                (None, _) => q as f32,
                (Some(g), Some(m)) => {
                    let neg = bit(m, r);
                    match (bit(m, n.div_ceil(8) * 8 + r), neg) {
                        (true, true) => -0.0,
                        (true, false) => 0.0,
                        _ => g.rebuild(neg, q),
                    }
                }
                (Some(g), None) => g.rebuild(false, q),
            };
        }
    }
    if !t.escapes.is_empty() {
        let esc = unzstd(&t.escapes, 15 * n * d)?;
        let (mut p, mut i) = (0usize, 0usize);
        while p < esc.len() {
            i += get_varint(&esc, &mut p).ok_or_else(corrupt)? as usize;
            let b = esc.get(p..p + 4).ok_or_else(corrupt)?;
            *x.get_mut(i).ok_or_else(corrupt)? = f32::from_bits(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            p += 4;
        }
    }
    Ok(x)
}

/// The values of `got` outside their bound against `x`.
pub fn outside(x: &[f32], got: &[f32], bounds: &[Bound]) -> u64 {
    let d = bounds.len();
    x.iter().zip(got).enumerate().filter(|(i, (&a, &b))| !within(bounds[i % d], a, b)).count() as u64
}

/// The lossless peer: (bytes, rows decoded back from them).
pub fn lossless(x: &[f32]) -> Result<(usize, Vec<f32>)> {
    let raw: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut sh = Vec::new();
    shuffle(&raw, 4, &mut sh);
    let z = zstd(&sh)?;
    let mut back = Vec::new();
    unshuffle(&unzstd(&z, raw.len())?, 4, &mut back);
    let got = back.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    Ok((z.len(), got))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Jet-like columns plus the awkward values: denormals, ±0, huge and tiny magnitudes.
    fn table(n: usize, rng: &mut rand::rngs::StdRng) -> Vec<f32> {
        let mut x = Vec::with_capacity(n * 4);
        for _ in 0..n {
            let pt = match rng.random_range(0..10) {
                0 => f32::from_bits(rng.random::<u32>() & 0x807f_ffff), // ±denormal or ±0
                1 => [0.0, -0.0, f32::MAX, -f32::MAX, f32::MIN_POSITIVE, 1e-45][rng.random_range(0..6)],
                _ => rng.random_range(20.0f32..900.0) * if rng.random_bool(0.1) { -1.0 } else { 1.0 },
            };
            let eta = rng.random_range(-2.5f32..2.5);
            let frac = if rng.random_bool(0.3) { 0.0 } else { rng.random::<f32>() };
            let mult = rng.random_range(0..60) as f32;
            x.extend_from_slice(&[pt, eta, frac, mult]);
        }
        x
    }

    #[test]
    fn every_value_decoded_from_the_bytes_meets_compress_bound_rule() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut x = table(3_001, &mut rng);
        x[4 * 17 + 3] = 0.5; // off the integer grid of an exact column: an escape
        for eps in [1e-2, 1e-3, 1e-4] {
            let bounds =
                [Bound::Rel { value: eps }, Bound::Abs { value: eps }, Bound::Rel { value: eps }, Bound::Exact];
            let t = quantise(&x, &bounds).unwrap();
            let got = dequantise(&t, &bounds).unwrap();
            assert_eq!(outside(&x, &got, &bounds), 0, "ε = {eps}");
            for (a, b) in x.iter().zip(&got) {
                if *a == 0.0 {
                    assert_eq!(a.to_bits(), b.to_bits(), "zeros (and their signs) stay exact");
                }
            }
            assert!(!t.escapes.is_empty(), "the escape path was taken");
            assert_eq!(got[4 * 17 + 3], 0.5);
            assert!(t.bytes() < x.len() * 4, "ε = {eps}: {} bytes", t.bytes());
        }
    }

    #[test]
    fn a_tighter_bound_costs_more_bytes_and_a_misplaced_value_is_caught() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(6);
        let x = table(2_000, &mut rng);
        let size = |eps: f64| {
            let b = [Bound::Rel { value: eps }, Bound::Abs { value: eps }, Bound::Rel { value: eps }, Bound::Exact];
            quantise(&x, &b).unwrap().bytes()
        };
        assert!(size(1e-2) < size(1e-3) && size(1e-3) < size(1e-4));
        let b = [Bound::Rel { value: 1e-3 }; 4];
        let mut got = dequantise(&quantise(&x, &b).unwrap(), &b).unwrap();
        let i = x.iter().position(|v| *v > 100.0).unwrap();
        got[i] = x[i] * (1.0 + 2e-3);
        assert_eq!(outside(&x, &got, &b), 1);
    }

    #[test]
    fn packbits_is_numpys_order_and_lossless_round_trips_bit_exactly() {
        let mut m = Vec::new();
        packbits([true, false, false, false, false, false, false, true, true].into_iter(), &mut m);
        assert_eq!(m, [0x81, 0x80]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let x = table(1_000, &mut rng);
        let (bytes, got) = lossless(&x).unwrap();
        assert!(bytes > 0 && bytes < x.len() * 4);
        assert!(x.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}
