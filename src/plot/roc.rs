//! ROC curves on a log false-positive-rate axis, AUC in the legend.

use super::*;

/// One ROC curve: (false-positive rate, true-positive rate) points.
#[derive(Clone, Debug, PartialEq)]
pub struct RocCurve {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// Area under a ROC curve by the trapezoid rule over points sorted by FPR, with the
/// end points (0, 0) and (1, 1) added.
pub fn roc_auc(points: &[(f64, f64)]) -> f64 {
    let mut p: Vec<(f64, f64)> = points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
    p.push((0.0, 0.0));
    p.push((1.0, 1.0));
    p.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    p.windows(2).map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0).sum()
}

/// Lowest FPR drawn on the ROC's log axis.
pub const ROC_MIN_FPR: f64 = 1e-5;

struct Roc<'a> {
    title: String,
    curves: &'a [RocCurve],
}

impl Plot for Roc<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<DB> {
        let lo = ROC_MIN_FPR.log10();
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
            let mut p: Vec<(f64, f64)> =
                c.points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
            p.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            let pts: Vec<(f64, f64)> =
                p.iter().map(|&(x, y)| (x.clamp(ROC_MIN_FPR, 1.0).log10(), y.clamp(0.0, 1.0))).collect();
            chart
                .draw_series(LineSeries::new(pts, col.stroke_width(2)))?
                .label(format!("{} (AUC = {:.4})", c.label, roc_auc(&c.points)))
                .legend(legend_line(col));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(font(LEGEND))
            .draw()?;
        Ok(())
    }
}

/// Hook for `roc`: ROC curves on a log FPR axis down to [`ROC_MIN_FPR`], with AUC in the
/// legend (FPR below the axis is drawn at its edge).
pub fn roc_curve(dir: &Path, name: &str, title: &str, curves: &[RocCurve]) -> Result<Figure> {
    render(dir, name, title, (900, 650), &Roc { title: title.to_string(), curves })
}
