//! Statistics behind the figures: summaries, quantiles, shared binning and histogram steps.

/// Mean, sample σ and central-68 % half-width (q84 − q16)/2 of finite values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    pub std: f64,
    pub half_width_68: f64,
    pub median: f64,
}

pub fn summarize(values: &[f64]) -> Summary {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let mean = if n > 0 { v.iter().sum::<f64>() / n as f64 } else { f64::NAN };
    let std =
        if n > 1 { (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64).sqrt() } else { 0.0 };
    let q = |p| crate::metrics::quantile_sorted(&v, p);
    Summary { n, mean, std, half_width_68: (q(0.841_344_746) - q(0.158_655_254)) / 2.0, median: q(0.5) }
}

pub(super) fn quantiles(values: &[f64], ps: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    ps.iter().map(|&p| crate::metrics::quantile_sorted(&v, p)).collect()
}

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
    pub fn shared(a: &[f64], b: &[f64], bins: usize) -> Binning {
        let qa = quantiles(a, &[0.0, 1.0]);
        let qb = quantiles(b, &[0.001, 0.999]);
        let lo = [qa[0], qb[0]].into_iter().filter(|x| x.is_finite()).fold(f64::INFINITY, f64::min);
        let hi = [qa[1], qb[1]].into_iter().filter(|x| x.is_finite()).fold(f64::NEG_INFINITY, f64::max);
        let log = lo > 0.0 && hi / lo > 100.0;
        let (lo, hi) = if log { (lo.log10() - 0.02, hi.log10() + 0.02) } else { widen(lo, hi) };
        let bins = bins.max(1);
        let edges = (0..=bins).map(|i| lo + (hi - lo) * i as f64 / bins as f64).collect();
        Binning { log, edges }
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
        let z = vec![0.0; 10];
        let b = Binning::shared(&z, &z, 10);
        assert!(!b.log && b.edges[0] < 0.0 && b.edges[10] > 0.0);
        assert_eq!(b.counts(&z).iter().sum::<u64>(), 10);
    }
}
