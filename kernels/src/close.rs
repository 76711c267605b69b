//! The one closeness check every kernel test uses: |a − b| ≤ atol + rtol·|b|, with `b` the
//! reference. (A check that adds |a| or |b| to both sides accepts 100 % error.)

/// Whether `got` is within `atol + rtol·|want|` of `want`. NaN is never close.
pub fn is_close(got: f64, want: f64, atol: f64, rtol: f64) -> bool {
    (got - want).abs() <= atol + rtol * want.abs()
}

/// Panics naming the first index where `got` is not close to `want`.
pub fn assert_slices_close(got: &[f32], want: &[f32], atol: f64, rtol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(is_close(g as f64, w as f64, atol, rtol), "{what}[{i}]: got {g}, want {w} (atol {atol}, rtol {rtol})");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hundred_percent_error_is_not_close() {
        assert!(!is_close(2.0, 1.0, 0.0, 0.5));
        assert!(!is_close(0.0, 1.0, 0.0, 0.5));
        assert!(is_close(1.4, 1.0, 0.0, 0.5));
        assert!(!is_close(f64::NAN, 1.0, 1.0, 1.0));
        assert!(is_close(1e-9, 0.0, 1e-8, 0.0));
    }
}
