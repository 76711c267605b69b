//! Statistics shared by the metrics, the anomaly scores and the figures: quantiles and
//! robust widths, summaries, fixed-range histograms, Pearson correlation, and the one AUC.
//! Every quantile in hepae is [`quantile_sorted`]; every AUC is [`auc`].

use serde::{Deserialize, Serialize};

/// Linear-interpolated quantile of sorted values (NaN for none).
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let x = p.clamp(0.0, 1.0) * (n - 1) as f64;
            let i = x.floor() as usize;
            let f = x - i as f64;
            if i + 1 < n {
                sorted[i] * (1.0 - f) + sorted[i + 1] * f
            } else {
                sorted[n - 1]
            }
        }
    }
}

/// (q84 − q16)/2 of sorted values: a robust width, σ for a Gaussian (NaN for none).
pub fn half_width_68(sorted: &[f64]) -> f64 {
    (quantile_sorted(sorted, 0.841_344_746) - quantile_sorted(sorted, 0.158_655_254)) / 2.0
}

/// Mean, sample σ and central-68 % half-width (q84 − q16)/2 of finite values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    pub std: f64,
    pub half_width_68: f64,
    pub median: f64,
}

/// [`Summary`] of the finite values (NaN mean and median, σ 0, when there are none).
pub fn summarize(values: &[f64]) -> Summary {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let mean = if n > 0 { v.iter().sum::<f64>() / n as f64 } else { f64::NAN };
    let std =
        if n > 1 { (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64).sqrt() } else { 0.0 };
    let q = |p| quantile_sorted(&v, p);
    Summary { n, mean, std, half_width_68: half_width_68(&v), median: q(0.5) }
}

/// Linear-interpolated quantiles `ps` of the finite values (NaN each when there are none).
pub fn quantiles(values: &[f64], ps: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    ps.iter().map(|&p| quantile_sorted(&v, p)).collect()
}

/// A fixed-range histogram with under- and overflow counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub lo: f64,
    pub hi: f64,
    pub counts: Vec<u64>,
    pub underflow: u64,
    pub overflow: u64,
}

impl Histogram {
    pub fn new(lo: f64, hi: f64, bins: usize) -> Self {
        Histogram { lo, hi, counts: vec![0; bins], underflow: 0, overflow: 0 }
    }
    pub fn fill(&mut self, v: f64) {
        if v < self.lo {
            self.underflow += 1;
        } else if v >= self.hi {
            self.overflow += 1;
        } else {
            let bins = self.counts.len();
            let i = ((v - self.lo) / (self.hi - self.lo) * bins as f64) as usize;
            self.counts[i.min(bins - 1)] += 1;
        }
    }
}

/// Pearson correlation matrix (row-major n × n) of the columns of `x` [rows × n];
/// NaN where a column has zero variance.
pub fn correlation(x: &[f64], n: usize) -> Vec<f64> {
    let rows = x.len().checked_div(n).unwrap_or(0);
    let mut mean = vec![0.0; n];
    for r in 0..rows {
        for c in 0..n {
            mean[c] += x[r * n + c];
        }
    }
    for m in &mut mean {
        *m /= rows.max(1) as f64;
    }
    let mut cov = vec![0.0; n * n];
    for r in 0..rows {
        let row = &x[r * n..(r + 1) * n];
        for a in 0..n {
            let da = row[a] - mean[a];
            for b in a..n {
                cov[a * n + b] += da * (row[b] - mean[b]);
            }
        }
    }
    let mut out = vec![f64::NAN; n * n];
    for a in 0..n {
        for b in a..n {
            let d = (cov[a * n + a] * cov[b * n + b]).sqrt();
            let v = if d > 0.0 { (cov[a * n + b] / d).clamp(-1.0, 1.0) } else { f64::NAN };
            out[a * n + b] = v;
            out[b * n + a] = v;
        }
    }
    out
}

/// Area under the ROC curve = P(score_signal > score_background) + ½·P(tie) (Mann–Whitney U),
/// exact whatever the ties (a tie block is one diagonal step of the curve); NaN when either
/// sample is empty. Signal scores larger = more anomalous.
pub fn auc(background: &[f32], signal: &[f32]) -> f64 {
    if background.is_empty() || signal.is_empty() {
        return f64::NAN;
    }
    let mut b = background.to_vec();
    b.sort_by(f32::total_cmp);
    let mut u = 0.0f64;
    for &s in signal {
        let below = b.partition_point(|&x| x < s);
        let upto = b.partition_point(|&x| x <= s);
        u += below as f64 + 0.5 * (upto - below) as f64;
    }
    u / (b.len() as f64 * signal.len() as f64)
}

/// Short number: 3 significant digits, scientific outside [1e-3, 1e5).
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.2e}")
    } else {
        let digits = (2 - a.log10().floor() as i32).clamp(0, 6) as usize;
        let s = format!("{v:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ties_as_half() {
        // Pairs (s, b): s > b counts 1, s = b counts ½. Signal {0.2, 0.3} vs background
        // {0.1, 0.2, 0.4}: 0.2 beats 0.1 and ties 0.2 (1.5); 0.3 beats 0.1, 0.2 (2): 3.5 / 6.
        assert_eq!(auc(&[0.1, 0.2, 0.4], &[0.2, 0.3]), 3.5 / 6.0);
        assert_eq!(auc(&[0.1, 0.2], &[0.3, 0.4]), 1.0, "perfect separation");
        assert_eq!(auc(&[0.3, 0.4], &[0.1, 0.2]), 0.0, "inverted");
    }

    #[test]
    fn auc_of_all_equal_scores_is_one_half() {
        assert_eq!(auc(&[7.0; 5], &[7.0; 3]), 0.5);
    }

    #[test]
    fn auc_with_one_jet_per_sample_and_with_none() {
        assert_eq!(auc(&[1.0], &[2.0]), 1.0);
        assert_eq!(auc(&[2.0], &[1.0]), 0.0);
        assert_eq!(auc(&[1.0], &[1.0]), 0.5);
        assert!(auc(&[], &[1.0]).is_nan() && auc(&[1.0], &[]).is_nan(), "no pairs: no AUC");
    }

    #[test]
    fn auc_is_symmetric_under_swapping_samples() {
        let b = [0.5, 0.1, 0.9, 0.3, 0.3, 0.7];
        let s = [0.3, 0.8, 0.2, 0.95];
        assert!((auc(&b, &s) + auc(&s, &b) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn quantiles_interpolate_linearly_between_sorted_values() {
        assert!(quantile_sorted(&[], 0.5).is_nan());
        assert_eq!(quantile_sorted(&[4.0], 0.9), 4.0, "n = 1: every quantile is the value");
        let v = [0.0, 10.0, 20.0, 30.0, 40.0];
        assert_eq!(quantile_sorted(&v, 0.0), 0.0);
        assert_eq!(quantile_sorted(&v, 1.0), 40.0);
        assert_eq!(quantile_sorted(&v, 0.5), 20.0);
        assert!((quantile_sorted(&v, 0.1) - 4.0).abs() < 1e-12);
        assert_eq!(quantile_sorted(&v, 2.0), 40.0, "p is clamped to [0, 1]");
        // `quantiles` drops non-finite values and sorts.
        assert_eq!(quantiles(&[30.0, f64::NAN, 10.0, f64::INFINITY], &[0.0, 1.0]), vec![10.0, 30.0]);
        assert!(quantiles(&[f64::NAN], &[0.5])[0].is_nan());
    }

    #[test]
    fn half_width_and_summary_of_equal_and_of_no_values() {
        assert_eq!(half_width_68(&[3.0; 4]), 0.0);
        let s = summarize(&[2.0, 2.0, 2.0]);
        assert_eq!((s.n, s.mean, s.std, s.half_width_68, s.median), (3, 2.0, 0.0, 0.0, 2.0));
        let e = summarize(&[f64::NAN]);
        assert_eq!(e.n, 0);
        assert!(e.mean.is_nan() && e.median.is_nan());
    }

    #[test]
    fn histogram_counts_under_and_overflow_apart() {
        let mut h = Histogram::new(0.0, 1.0, 4);
        for v in [-0.1, 0.0, 0.24, 0.25, 0.99, 1.0, 5.0] {
            h.fill(v);
        }
        assert_eq!(h.counts, vec![2, 1, 0, 1]);
        assert_eq!((h.underflow, h.overflow), (1, 2), "hi itself is overflow");
    }

    #[test]
    fn pearson_matrix_with_a_constant_column() {
        // Column 1 = 2·column 0 + 0; column 2 constant.
        let x = [1.0, 2.0, 5.0, 2.0, 4.0, 5.0, 4.0, 8.0, 5.0];
        let c = correlation(&x, 3);
        assert!((c[0] - 1.0).abs() < 1e-12 && (c[1] - 1.0).abs() < 1e-12);
        assert_eq!(c[1], c[3], "symmetric");
        assert!(c[2].is_nan(), "constant column has no correlation: {c:?}");
    }
}
