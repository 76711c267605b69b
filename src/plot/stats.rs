//! Statistics behind the figures: summaries, quantiles, shared binning and histogram steps.

pub(super) use crate::analysis::stats::quantiles;
pub use crate::analysis::stats::{summarize, Summary};

/// A non-empty, finite [lo, hi) around `lo..hi` (widened when degenerate).
pub(super) fn widen(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi > lo {
        let pad = (hi - lo) * 0.02;
        (lo - pad, hi + pad)
    } else {
        let d = (lo.abs() * 0.1).max(0.5);
        (lo - d, lo + d)
    }
}

/// Bin edges in plotting coordinates (log10 of the value when `log`).
#[derive(Clone, Debug, PartialEq)]
pub struct Binning {
    pub log: bool,
    /// Edges in plotting coordinates: `bins + 1` ascending values.
    pub edges: Vec<f64>,
}

impl Binning {
    /// Shared binning for samples `a` (the reference) and `b`: the full range of `a` and the
    /// central 99.8 % of `b`; logarithmic when every value is positive and the range spans
    /// more than two decades.
    ///
    /// When every value of `a` is a whole number (a multiplicity, a flag), the bins are
    /// integer-aligned instead: edges at k − ½, each bin holding the same number of integers
    /// (one when the range allows `bins` of them), so no bin holds one more integer than its
    /// neighbour and no integer sits on an edge.
    pub fn shared(a: &[f64], b: &[f64], bins: usize) -> Binning {
        let qa = quantiles(a, &[0.0, 1.0]);
        let qb = quantiles(b, &[0.001, 0.999]);
        let lo = [qa[0], qb[0]].into_iter().filter(|x| x.is_finite()).fold(f64::INFINITY, f64::min);
        let hi = [qa[1], qb[1]].into_iter().filter(|x| x.is_finite()).fold(f64::NEG_INFINITY, f64::max);
        if is_integral(a) && lo.is_finite() && hi.is_finite() {
            return Binning::integer(lo.floor(), hi.ceil(), bins);
        }
        let log = lo > 0.0 && hi / lo > 100.0;
        let (lo, hi) = if log { (lo.log10() - 0.02, hi.log10() + 0.02) } else { widen(lo, hi) };
        let bins = bins.max(1);
        let edges = (0..=bins).map(|i| lo + (hi - lo) * i as f64 / bins as f64).collect();
        Binning { log, edges }
    }
    /// Integer-aligned linear bins covering the whole numbers `lo..=hi`: edges at k − ½ and a
    /// whole-number bin width, chosen so that there are at most `max_bins` bins.
    pub fn integer(lo: f64, hi: f64, max_bins: usize) -> Binning {
        let (lo, hi) = if hi >= lo { (lo, hi) } else { (hi, lo) };
        let values = hi - lo + 1.0;
        let width = (values / max_bins.max(1) as f64).ceil().max(1.0);
        let bins = (values / width).ceil().max(1.0) as usize;
        let edges = (0..=bins).map(|i| lo - 0.5 + width * i as f64).collect();
        Binning { log: false, edges }
    }
    pub(super) fn coord(&self, v: f64) -> f64 {
        if self.log {
            if v > 0.0 {
                v.log10()
            } else {
                f64::NEG_INFINITY
            }
        } else {
            v
        }
    }
    /// Counts per bin (values outside the edges are not counted).
    pub fn counts(&self, values: &[f64]) -> Vec<u64> {
        let n = self.edges.len() - 1;
        let (lo, hi) = (self.edges[0], self.edges[n]);
        let mut c = vec![0u64; n];
        for &v in values {
            let x = self.coord(v);
            if x.is_finite() && x >= lo && x <= hi {
                let i = (((x - lo) / (hi - lo)) * n as f64) as usize;
                c[i.min(n - 1)] += 1;
            }
        }
        c
    }
    pub(super) fn range(&self) -> std::ops::Range<f64> {
        self.edges[0]..self.edges[self.edges.len() - 1]
    }
}

/// Whether every finite value is a whole number (and there is at least one): such a column
/// is a count or a flag and gets [`Binning::integer`].
pub fn is_integral(values: &[f64]) -> bool {
    let mut any = false;
    for &v in values.iter().filter(|v| v.is_finite()) {
        if v.fract() != 0.0 || v.abs() > 1e15 {
            return false;
        }
        any = true;
    }
    any
}

/// One bin of a ratio panel b / a (sample over reference).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BinRatio {
    /// Both samples have entries: the ratio r = b/a and its Poisson error r·√(1/a + 1/b).
    Value { ratio: f64, err: f64 },
    /// The reference is empty but the sample is not (r would be ∞): marked, not drawn as a value.
    NoReference,
    /// The sample is empty but the reference is not (r = 0 with no error estimate): marked.
    NoSample,
    /// Neither has entries: nothing to show.
    Empty,
}

/// The ratio b/a per bin with statistical (Poisson) errors, from the counts of the reference
/// `a` and the sample `b` in the same bins.
pub fn bin_ratios(a: &[u64], b: &[u64]) -> Vec<BinRatio> {
    a.iter()
        .zip(b)
        .map(|(&a, &b)| match (a, b) {
            (0, 0) => BinRatio::Empty,
            (0, _) => BinRatio::NoReference,
            (_, 0) => BinRatio::NoSample,
            (a, b) => {
                let (a, b) = (a as f64, b as f64);
                let ratio = b / a;
                BinRatio::Value { ratio, err: ratio * (1.0 / a + 1.0 / b).sqrt() }
            }
        })
        .collect()
}

/// Histogram outline as a step line: (x, count) pairs, zero counts drawn at `floor`.
pub(super) fn steps(edges: &[f64], counts: &[u64], floor: f64) -> Vec<(f64, f64)> {
    let mut p = Vec::with_capacity(2 * counts.len() + 2);
    p.push((edges[0], floor));
    for (i, &c) in counts.iter().enumerate() {
        let y = if c == 0 { floor } else { c as f64 };
        p.push((edges[i], y));
        p.push((edges[i + 1], y));
    }
    p.push((edges[edges.len() - 1], floor));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_binning_for_wide_positive_ranges() {
        let a: Vec<f64> = (0..100).map(|i| 10f64.powf(i as f64 / 20.0)).collect();
        let b = Binning::shared(&a, &a, 10);
        assert!(b.log);
        assert_eq!(b.counts(&a).iter().sum::<u64>(), 100);
        // A constant non-integer column gets a widened linear range.
        let z = vec![0.25; 10];
        let b = Binning::shared(&z, &z, 10);
        assert!(!b.log && b.edges[0] < 0.25 && b.edges[10] > 0.25);
        assert_eq!(b.counts(&z).iter().sum::<u64>(), 10);
        // An all-zero column is integral: one bin, −½..½.
        let z = vec![0.0; 10];
        let b = Binning::shared(&z, &z, 10);
        assert_eq!(b.edges, vec![-0.5, 0.5]);
        assert_eq!(b.counts(&z), vec![10]);
    }

    #[test]
    fn integer_columns_get_bins_centred_on_whole_numbers() {
        // Multiplicities 2..=40: 39 integers fit in 60 bins, one integer per bin.
        let a: Vec<f64> = (0..500).map(|i| (2 + i % 39) as f64).collect();
        let recon: Vec<f64> = a.iter().map(|v| v + 0.3).collect();
        assert!(is_integral(&a) && !is_integral(&recon) && !is_integral(&[]));
        let b = Binning::shared(&a, &recon, 60);
        assert!(!b.log);
        assert_eq!(b.edges[0], 1.5);
        assert_eq!(b.edges.len(), 40 + 1, "{:?}", b.edges);
        for (k, w) in b.edges.windows(2).enumerate() {
            assert_eq!(w[1] - w[0], 1.0);
            assert_eq!(w[0] + 0.5, 2.0 + k as f64, "edge {k} is not at an integer − ½");
        }
        // Every integer lands in its own bin: 500 / 39 rows each, none lost.
        let c = b.counts(&a);
        assert_eq!(c.iter().sum::<u64>(), 500);
        assert!(c[..39].iter().all(|&n| n == 12 || n == 13), "{c:?}");
        // A wide range (0..=999) in at most 60 bins: whole-number widths, edges at k − ½.
        let b = Binning::integer(0.0, 999.0, 60);
        let w = b.edges[1] - b.edges[0];
        assert_eq!(w, 17.0);
        assert!(b.edges.len() - 1 <= 60 && *b.edges.last().unwrap() >= 999.5);
        assert!(b.edges.iter().all(|e| (e + 0.5).fract() == 0.0));
        // A flag (0/1) gets two bins, −½..½ and ½..1½.
        assert_eq!(Binning::shared(&[0.0, 1.0, 1.0], &[0.1, 0.9], 30).edges, vec![-0.5, 0.5, 1.5]);
    }

    #[test]
    fn ratio_panel_has_poisson_errors_and_names_empty_bins() {
        let r = bin_ratios(&[100, 4, 0, 7, 0], &[121, 1, 3, 0, 0]);
        match r[0] {
            BinRatio::Value { ratio, err } => {
                assert!((ratio - 1.21).abs() < 1e-12);
                // 1.21 · √(1/100 + 1/121) = 1.21 · 0.1351… = 0.1635…
                assert!((err - 1.21 * (0.01f64 + 1.0 / 121.0).sqrt()).abs() < 1e-12);
                assert!((err - 0.16355).abs() < 1e-4, "{err}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(r[1], BinRatio::Value { ratio: 0.25, err: 0.25 * 1.25f64.sqrt() });
        assert_eq!(r[2], BinRatio::NoReference, "b > 0 over a = 0 is not a ratio of ∞");
        assert_eq!(r[3], BinRatio::NoSample, "b = 0 is not a measured ratio of 0");
        assert_eq!(r[4], BinRatio::Empty);
    }
}
