//! The integer models of archive formats 3 and 4, for constriction's range coder.
//!
//! [`Hist`]: a two-level model of grid integers v: the high part `(v − lo) >> shift` under a
//! categorical distribution fitted to the block (its counts are stored), the `shift` low bits
//! uniform. `shift` is chosen per column by the coded size, table included. Probabilities are
//! built from the counts in integer arithmetic only, so coder and decoder agree on every
//! machine. Format 4 may add an escape category for the few values outside the table's range
//! (coded raw after it). A value's kind (zero, value, escape, identity) is coded under a
//! categorical table of the same kind.

use crate::error::{Error, Result};
use constriction::stream::model::{DefaultContiguousCategoricalEntropyModel, DefaultUniformModel};
use constriction::stream::queue::{DefaultRangeDecoder, DefaultRangeEncoder};
use constriction::stream::{Decode, Encode};

/// Bits of the coder's fixed-point probabilities.
const PRECISION: u32 = 24;
/// Most categories of one categorical table.
pub const MAX_ALPHABET: usize = 4096;
/// Largest shift (low bits coded uniformly): enough for any |v| ≤ 2⁴¹.
const MAX_SHIFT: u32 = 42;

/// A categorical model from counts (every category gets a non-zero probability).
pub type Categorical = DefaultContiguousCategoricalEntropyModel;

/// Fixed-point probabilities (summing to 2²⁴) from counts: 1 + c·(2²⁴ − A)/n each, the
/// rounding remainder to the most frequent category. Integer arithmetic only.
pub fn fixed_point(counts: &[u32]) -> Vec<u32> {
    let total = 1u64 << PRECISION;
    let a = counts.len() as u64;
    let n: u64 = counts.iter().map(|&c| c as u64).sum::<u64>().max(1);
    let mut p: Vec<u32> = counts.iter().map(|&c| (1 + c as u64 * (total - a) / n) as u32).collect();
    let sum: u64 = p.iter().map(|&v| v as u64).sum();
    let top = (0..counts.len()).max_by_key(|&i| (counts[i], std::cmp::Reverse(i))).unwrap_or(0);
    if let Some(t) = p.get_mut(top) {
        *t += (total - sum) as u32;
    }
    p
}

/// A categorical model from counts; `None` for an empty table.
pub fn categorical(counts: &[u32]) -> Option<Categorical> {
    if counts.is_empty() || counts.len() > MAX_ALPHABET {
        return None;
    }
    Categorical::from_nonzero_fixed_point_probabilities(fixed_point(counts), false).ok()
}

/// Bits to code `counts` under the model built from themselves.
fn coded_bits(counts: &[u32]) -> f64 {
    let p = fixed_point(counts);
    let scale = PRECISION as f64;
    counts.iter().zip(&p).filter(|(&c, _)| c > 0).map(|(&c, &q)| c as f64 * (scale - (q as f64).log2())).sum()
}

pub fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn get_varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= ((byte & 0x7f) as u64) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

pub fn zigzag(q: i64) -> u64 {
    ((q << 1) ^ (q >> 63)) as u64
}

pub fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

fn varint_len(v: u64) -> usize {
    (64 - v.max(1).leading_zeros() as usize).div_ceil(7)
}

/// Two-level model of grid integers (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Hist {
    pub lo: i64,
    pub shift: u32,
    pub counts: Vec<u32>,
    /// Format 4: the last category is an escape: a value outside the others is coded as it
    /// and then its [`RAW_BITS`] zigzag bits uniformly (one outlier does not widen the table).
    pub esc: bool,
}

/// Bits of an escaped value of a [`Hist`].
pub const RAW_BITS: u32 = 46;

impl Hist {
    /// The cheapest two-level model of `values` and its size in bits (table included).
    pub fn fit(values: &[i64]) -> (Hist, f64) {
        Self::fit_with(values, false)
    }

    /// As [`Hist::fit`]; with `escapes` also a model of the central values (all but about one
    /// in 10 000 at each end) with the rest escaped, when it is narrower; the cheaper wins.
    pub fn fit_with(values: &[i64], escapes: bool) -> (Hist, f64) {
        let Some((&lo, &hi)) = values.iter().min().zip(values.iter().max()) else {
            return (Hist { lo: 0, shift: 0, counts: vec![1], esc: false }, 16.0);
        };
        let mut best = Self::fit_range(values, lo, hi, false);
        if escapes && values.len() >= 64 {
            let n = values.len();
            let k = (n / 10_000).max(1);
            let mut v = values.to_vec();
            let a = *v.select_nth_unstable(k).1;
            let b = *v.select_nth_unstable(n - 1 - k).1;
            if b >= a && (b - a) < (hi - lo) / 2 {
                let e = Self::fit_range(values, a, b, true);
                if e.1 < best.1 {
                    best = e;
                }
            }
        }
        best
    }

    /// The cheapest shift for values in `lo..=hi` (the others escaped when `esc`).
    fn fit_range(values: &[i64], lo: i64, hi: i64, esc: bool) -> (Hist, f64) {
        let range = (hi - lo) as u64 + 1;
        let most = MAX_ALPHABET as u64 - esc as u64;
        let mut s0 = 0;
        while (range >> s0) >= most {
            s0 += 1;
        }
        let mut best: Option<(Hist, f64)> = None;
        let mut counts = Vec::new();
        for shift in s0..(s0 + 12).min(MAX_SHIFT + 1) {
            let a = (((hi - lo) as u64) >> shift) as usize + 1;
            counts.clear();
            counts.resize(a + esc as usize, 0u32);
            let mut escaped = 0usize;
            for &v in values {
                let off = v - lo;
                if off < 0 || ((off as u64) >> shift) as usize >= a {
                    escaped += 1;
                    counts[a] += 1;
                } else {
                    counts[((off as u64) >> shift) as usize] += 1;
                }
            }
            let h = Hist { lo, shift, counts: counts.clone(), esc };
            let bits = coded_bits(&counts)
                + ((values.len() - escaped) as f64) * shift as f64
                + (escaped as f64) * RAW_BITS as f64
                + 8.0 * h.table_bytes() as f64;
            if best.as_ref().is_none_or(|(_, b)| bits < *b) {
                best = Some((h, bits));
            }
            if a == 1 {
                break;
            }
        }
        best.expect("at least one shift is tried")
    }

    /// Bytes of the stored table.
    pub fn table_bytes(&self) -> usize {
        varint_len(zigzag(self.lo))
            + 1
            + varint_len(self.counts.len() as u64)
            + self.counts.iter().map(|&c| varint_len(c as u64)).sum::<usize>()
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        put_varint(zigzag(self.lo), out);
        out.push(self.shift as u8);
        put_varint(self.counts.len() as u64, out);
        for &c in &self.counts {
            put_varint(c as u64, out);
        }
    }

    /// Reads a table; `None` when it is malformed or larger than any writer makes.
    pub fn read(b: &[u8], pos: &mut usize) -> Option<Hist> {
        let lo = unzigzag(get_varint(b, pos)?);
        let shift = *b.get(*pos)? as u32;
        *pos += 1;
        let a = get_varint(b, pos)? as usize;
        if shift > MAX_SHIFT || a == 0 || a > MAX_ALPHABET || lo.abs() > 1 << 42 {
            return None;
        }
        let counts = (0..a).map(|_| get_varint(b, pos).and_then(|c| u32::try_from(c).ok())).collect::<Option<_>>()?;
        Some(Hist { lo, shift, counts, esc: false })
    }

    /// The model of a value's high part (its low `shift` bits are uniform).
    pub fn models(&self) -> Option<Categorical> {
        categorical(&self.counts)
    }
}

/// The range coder's writing side with the models of this format.
pub struct Writer {
    enc: DefaultRangeEncoder,
}

fn coder_err() -> Error {
    Error::config("internal error: a value outside its coding table")
}

impl Writer {
    pub fn new() -> Self {
        Writer { enc: DefaultRangeEncoder::new() }
    }

    pub fn symbol(&mut self, s: usize, m: &Categorical) -> Result<()> {
        self.enc.encode_symbol(s, m).map_err(|_| coder_err())
    }

    /// `bits` (≤ 48) low bits of `v`, 16 at a time, uniformly.
    pub fn bits(&mut self, v: u64, bits: u32) -> Result<()> {
        let mut done = 0;
        while done < bits {
            let w = (bits - done).min(16);
            let m = DefaultUniformModel::new(1usize << w);
            self.enc.encode_symbol(((v >> done) & ((1 << w) - 1)) as usize, m).map_err(|_| coder_err())?;
            done += w;
        }
        Ok(())
    }

    /// A value under a [`Hist`] whose models are `m`.
    pub fn value(&mut self, h: &Hist, m: &Categorical, v: i64) -> Result<()> {
        if h.esc {
            let core = h.counts.len() - 1;
            let off = v.checked_sub(h.lo);
            if off.is_none_or(|o| o < 0 || ((o as u64) >> h.shift) as usize >= core) {
                let z = zigzag(v);
                if z >> RAW_BITS != 0 {
                    return Err(coder_err());
                }
                self.symbol(core, m)?;
                return self.bits(z, RAW_BITS);
            }
        }
        let off = v.checked_sub(h.lo).filter(|o| *o >= 0).ok_or_else(coder_err)? as u64;
        self.symbol((off >> h.shift) as usize, m)?;
        self.bits(off, h.shift)
    }

    /// The coded words, little-endian.
    pub fn finish(self, out: &mut Vec<u8>) -> Result<()> {
        let words = self.enc.into_compressed().map_err(|_| coder_err())?;
        for w in words {
            out.extend_from_slice(&w.to_le_bytes());
        }
        Ok(())
    }
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

/// The reading side; every method is `None` on a stream that does not decode.
pub struct Reader {
    dec: DefaultRangeDecoder,
}

impl Reader {
    /// A reader over coded words (their byte count must be a multiple of 4).
    pub fn new(bytes: &[u8]) -> Option<Reader> {
        if !bytes.len().is_multiple_of(4) {
            return None;
        }
        let words: Vec<u32> = bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        Some(Reader { dec: DefaultRangeDecoder::from_compressed(words).ok()? })
    }

    pub fn symbol(&mut self, m: &Categorical) -> Option<usize> {
        self.dec.decode_symbol(m).ok()
    }

    pub fn bits(&mut self, bits: u32) -> Option<u64> {
        let (mut v, mut done) = (0u64, 0);
        while done < bits {
            let w = (bits - done).min(16);
            let s = self.dec.decode_symbol(DefaultUniformModel::new(1usize << w)).ok()? as u64;
            v |= s << done;
            done += w;
        }
        Some(v)
    }

    pub fn value(&mut self, h: &Hist, m: &Categorical) -> Option<i64> {
        let hi = self.symbol(m)? as u64;
        if h.esc && hi as usize == h.counts.len() - 1 {
            return Some(unzigzag(self.bits(RAW_BITS)?));
        }
        let lo = self.bits(h.shift)?;
        Some(h.lo + ((hi << h.shift) | lo) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_probabilities_are_non_zero_and_sum_to_one() {
        for counts in [vec![0u32, 0, 5], vec![1], vec![1000, 1, 0, 3], vec![0; 4096]] {
            let p = fixed_point(&counts);
            assert!(p.iter().all(|&v| v > 0));
            assert_eq!(p.iter().map(|&v| v as u64).sum::<u64>(), 1 << 24);
        }
    }

    #[test]
    fn values_round_trip_under_their_fitted_tables_near_the_entropy() {
        // A geometric-ish spread over a wide range: the fit must pick a shift and stay close
        // to the empirical entropy of the high part plus the uniform low bits.
        let values: Vec<i64> = (0..20_000i64).map(|i| (i * 7919 % 10_007) - 5000 + (i % 3) * 100_000).collect();
        let (h, bits) = Hist::fit(&values);
        assert!(h.counts.len() <= MAX_ALPHABET);
        let mut r = Hist::read(
            &{
                let mut b = Vec::new();
                h.write(&mut b);
                assert_eq!(b.len(), h.table_bytes());
                b
            },
            &mut 0,
        )
        .unwrap();
        assert_eq!(r, h);
        let m = h.models().unwrap();
        let mut w = Writer::new();
        for &v in &values {
            w.value(&h, &m, v).unwrap();
        }
        w.bits(0xdead_beef, 32).unwrap();
        let mut out = Vec::new();
        w.finish(&mut out).unwrap();
        let coded_bits = (out.len() * 8) as f64;
        assert!(coded_bits < bits + 64.0 + 100.0, "coded {coded_bits} bits, estimated {bits}");
        let mut rd = Reader::new(&out).unwrap();
        for &v in &values {
            assert_eq!(rd.value(&h, &m), Some(v));
        }
        assert_eq!(rd.bits(32), Some(0xdead_beef));
        r.counts.clear();
        assert!(Hist::read(&[0, 50, 1, 1], &mut 0).is_none(), "a shift beyond any writer's");
        assert!(w_rejects_out_of_table(&h, &m));
    }

    #[test]
    fn one_outlier_is_escaped_instead_of_widening_the_table() {
        // Event-number deltas: mostly 0 and 1, and one jump of −190 000 (a new file).
        let mut values: Vec<i64> = (0..65_536i64).map(|i| (i * 7 % 10 < 3) as i64).collect();
        values[40_000] = -190_000;
        let (plain, plain_bits) = Hist::fit(&values);
        let (h, bits) = Hist::fit_with(&values, true);
        assert!(h.esc && !plain.esc && h.counts.len() <= 3, "{:?}", &h.counts);
        assert!(bits * 4.0 < plain_bits, "{bits} bits escaped, {plain_bits} without");
        let m = h.models().unwrap();
        let mut w = Writer::new();
        values.iter().for_each(|&v| w.value(&h, &m, v).unwrap());
        let mut out = Vec::new();
        w.finish(&mut out).unwrap();
        assert!(((out.len() * 8) as f64) < bits + 64.0, "{} coded bits, {bits} estimated", out.len() * 8);
        let mut rd = Reader::new(&out).unwrap();
        assert!(values.iter().all(|&v| rd.value(&h, &m) == Some(v)));
        // Without an outlier nothing is escaped.
        let (h, _) = Hist::fit_with(&values[..30_000], true);
        assert!(!h.esc);
    }

    fn w_rejects_out_of_table(h: &Hist, m: &Categorical) -> bool {
        let mut w = Writer::new();
        w.value(h, m, h.lo - 1).is_err()
    }

    #[test]
    fn varints_and_zigzag_invert() {
        for q in [0i64, 1, -1, 63, -64, 1 << 40, -(1 << 40), i64::MAX / 4] {
            let mut b = Vec::new();
            put_varint(zigzag(q), &mut b);
            assert_eq!(b.len(), varint_len(zigzag(q)));
            let mut pos = 0;
            assert_eq!(get_varint(&b, &mut pos).map(unzigzag), Some(q));
        }
    }
}
