//! Residual histogram of one variable with mean, σ and central-68 % half-width.

use super::*;

struct Residual<'a> {
    title: String,
    x_label: String,
    values: &'a [f64],
}

impl Plot for Residual<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<DB> {
        let s = summarize(self.values);
        let q = quantiles(self.values, &[0.0, 0.005, 0.995, 1.0]);
        // Centre on the median, ±5 half-widths, inside the central 99 % and the data range.
        let hw = if s.half_width_68 > 0.0 { s.half_width_68 } else { s.std };
        let (mut lo, mut hi) = if hw > 0.0 && hw.is_finite() {
            ((s.median - 5.0 * hw).max(q[1].min(s.median - hw)), (s.median + 5.0 * hw).min(q[2].max(s.median + hw)))
        } else {
            (q[0], q[3])
        };
        if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
            (lo, hi) = widen(lo, hi);
        }
        let bins = ((s.n as f64).sqrt() * 2.0).clamp(16.0, 80.0) as usize;
        let edges: Vec<f64> = (0..=bins).map(|i| lo + (hi - lo) * i as f64 / bins as f64).collect();
        let b = Binning { log: false, edges };
        let c = b.counts(self.values);
        let outside = s.n as u64 - c.iter().sum::<u64>();
        let max = c.iter().copied().max().unwrap_or(1).max(1) as f64;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, font(TITLE))
            .margin(12)
            .margin_right(24)
            .x_label_area_size(62)
            .y_label_area_size(80)
            .build_cartesian_2d(lo..hi, 0.0..max * 1.45)?;
        chart
            .configure_mesh()
            .x_labels(7)
            .x_label_formatter(&axis_fmt(hi - lo))
            .y_label_formatter(&|y| fmt_num(*y))
            .x_desc(&self.x_label)
            .y_desc("jets per bin")
            .label_style(font(TICK))
            .axis_desc_style(font(AXIS))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        chart.draw_series(
            b.edges
                .windows(2)
                .zip(&c)
                .map(|(e, &n)| Rectangle::new([(e[0], 0.0), (e[1], n as f64)], C_A.mix(0.35).filled())),
        )?;
        chart
            .draw_series(LineSeries::new(steps(&b.edges, &c, 0.0), C_A.stroke_width(2)))?
            .label(format!("{} jets", s.n))
            .legend(legend_line(C_A));
        for line in [
            format!("mean = {}", fmt_num(s.mean)),
            format!("σ = {}", fmt_num(s.std)),
            format!("68% half-width = {}", fmt_num(s.half_width_68)),
            format!("outside the axis: {outside}"),
        ] {
            legend_note(&mut chart, line)?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    }
}

/// Residual histogram of one variable with mean, σ and central-68 % half-width in the legend.
/// `values` are the residuals ((out − in)/in, or out − in for η and φ); `x_label` says which.
pub fn residual_hist(dir: &Path, name: &str, title: &str, x_label: &str, values: &[f64]) -> Result<Figure> {
    let plot = Residual { title: title.to_string(), x_label: x_label.to_string(), values };
    render(dir, name, title, (900, 600), &plot)
}
