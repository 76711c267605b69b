//! ROC curves on a log false-positive-rate axis, AUC in the legend.

use super::*;

/// One ROC curve: (false-positive rate, true-positive rate) points.
#[derive(Clone, Debug, PartialEq)]
pub struct RocCurve {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    /// Background jets behind the curve (0: unknown). Its smallest resolvable FPR is 1/N: the
    /// curve is drawn down to there and no further.
    pub background: usize,
    /// The AUC shown in the legend, computed from the scores by [`crate::analysis::stats::auc`]
    /// (the points may be thinned, so they do not give it); NaN: not shown.
    pub auc: f64,
}

impl RocCurve {
    /// The smallest FPR this curve resolves: 1/N background jets ([`ROC_MIN_FPR`] if N is unknown).
    pub fn min_fpr(&self) -> f64 {
        if self.background > 0 {
            1.0 / self.background as f64
        } else {
            ROC_MIN_FPR
        }
    }

    /// The points drawn: finite, sorted by FPR, with FPR ≥ [`RocCurve::min_fpr`] (an FPR of 0
    /// cannot be placed on a log axis, and clamping it would draw a flat line to the axis edge
    /// that no measurement supports).
    pub fn drawn_points(&self) -> Vec<(f64, f64)> {
        let min = self.min_fpr() * (1.0 - 1e-9);
        let mut p: Vec<(f64, f64)> = self
            .points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite() && *x >= min && *x <= 1.0)
            .map(|(x, y)| (x, y.clamp(0.0, 1.0)))
            .collect();
        p.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        p
    }
}

/// Lowest FPR drawn on the ROC's log axis when a curve's background count is unknown.
pub const ROC_MIN_FPR: f64 = 1e-5;

/// log10 of the FPR axis' lower end: the decade at or below the smallest curve's 1/N.
pub fn roc_axis_lo(curves: &[RocCurve]) -> f64 {
    let min = curves.iter().map(RocCurve::min_fpr).fold(f64::INFINITY, f64::min);
    if min.is_finite() && min > 0.0 {
        let l = min.log10();
        let decade = if (l - l.round()).abs() < 1e-9 { l.round() } else { l.floor() };
        decade.min(-1.0)
    } else {
        ROC_MIN_FPR.log10()
    }
}

struct Roc<'a> {
    title: String,
    curves: &'a [RocCurve],
}

impl Plot for Roc<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<DB> {
        let lo = roc_axis_lo(self.curves);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, font(TITLE))
            .margin(12)
            .margin_right(24)
            .x_label_area_size(62)
            .y_label_area_size(80)
            .build_cartesian_2d(lo..0.0, 0.0..1.02)?;
        chart
            .configure_mesh()
            .x_labels(6)
            .x_label_formatter(&|x| fmt_pow10(*x))
            .y_label_formatter(&|y| fmt_num(*y))
            .x_desc("false-positive rate (background efficiency, log scale)")
            .y_desc("true-positive rate (signal efficiency)")
            .label_style(font(TICK))
            .axis_desc_style(font(AXIS))
            .light_line_style(BLACK.mix(0.05))
            .draw()?;
        let diag: Vec<(f64, f64)> = (0..=100)
            .map(|i| {
                let x = lo + (0.0 - lo) * i as f64 / 100.0;
                (x, 10f64.powf(x))
            })
            .collect();
        chart
            .draw_series(LineSeries::new(diag, BLACK.mix(0.5).stroke_width(1)))?
            .label("random (TPR = FPR)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], BLACK.mix(0.5)));
        for (i, c) in self.curves.iter().enumerate() {
            let col = PALETTE[i % PALETTE.len()];
            let pts: Vec<(f64, f64)> = c.drawn_points().into_iter().map(|(x, y)| (x.log10(), y)).collect();
            let stop =
                if c.background > 0 { format!(", stops at 1/N_bkg = {}", fmt_num(c.min_fpr())) } else { String::new() };
            let label = if c.auc.is_finite() {
                format!("{} (AUC = {:.4}{stop})", c.label, c.auc)
            } else if c.background > 0 {
                format!("{} ({})", c.label, stop.trim_start_matches(", "))
            } else {
                c.label.clone()
            };
            // The curve's first point, at its smallest resolvable FPR, is marked.
            if let Some(&first) = pts.first() {
                chart.draw_series(std::iter::once(Circle::new(first, 4, col.filled())))?;
            }
            chart.draw_series(LineSeries::new(pts, col.stroke_width(2)))?.label(label).legend(legend_line(col));
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        Ok(())
    }
}

/// Hook for `roc`: ROC curves on a log FPR axis, each drawn down to its smallest resolvable
/// FPR (1/N background jets, marked with a dot), with AUC in the legend.
pub fn roc_curve(dir: &Path, name: &str, title: &str, curves: &[RocCurve]) -> Result<Figure> {
    render(dir, name, title, (900, 650), &Roc { title: title.to_string(), curves })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_stops_at_one_over_n_background() {
        // 1 000 background jets: FPR moves in steps of 1e-3; the points at FPR 0 are not drawn.
        let points = vec![(0.0, 0.0), (0.0, 0.21), (1e-3, 0.3), (2e-3, 0.35), (0.5, 0.9), (1.0, 1.0)];
        let c = RocCurve { label: "ae".into(), points, background: 1000, auc: f64::NAN };
        assert_eq!(c.min_fpr(), 1e-3);
        let d = c.drawn_points();
        assert_eq!(d.first(), Some(&(1e-3, 0.3)), "the curve starts at FPR = 1/N");
        assert!(d.iter().all(|p| p.0 >= 1e-3), "{d:?}");
        assert_eq!(d.len(), 4);
        // The axis ends one decade at or below 1/N, not at 1e-5.
        assert_eq!(roc_axis_lo(std::slice::from_ref(&c)), -3.0);
        let c2 = RocCurve { label: "b".into(), points: vec![(1.0 / 1636.0, 0.1)], background: 1636, auc: 0.6 };
        assert_eq!(roc_axis_lo(&[c.clone(), c2]), -4.0);
        // Unknown N keeps the old floor.
        let c3 = RocCurve { background: 0, ..c };
        assert_eq!(c3.min_fpr(), ROC_MIN_FPR);
        assert_eq!(roc_axis_lo(&[c3]), -5.0);
    }
}
