//! Compression ratio against reconstruction error, one labelled point per configuration.

use super::*;

/// One model or codec: its compression ratio and its reconstruction error.
#[derive(Clone, Debug, PartialEq)]
pub struct RatioPoint {
    pub label: String,
    pub ratio: f64,
    pub error: f64,
}

struct RatioErr<'a> {
    title: String,
    error_label: String,
    points: &'a [RatioPoint],
}

impl Plot for RatioErr<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<DB> {
        let p: Vec<&RatioPoint> =
            self.points.iter().filter(|p| p.ratio.is_finite() && p.error.is_finite() && p.error > 0.0).collect();
        let (rmin, rmax) =
            p.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), q| (a.min(q.ratio), b.max(q.ratio)));
        let (emin, emax) = p
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), q| (a.min(q.error.log10()), b.max(q.error.log10())));
        let (x0, x1) = if rmin.is_finite() {
            let (a, b) = widen(rmin, rmax);
            let pad = (b - a) * 0.08;
            ((a - pad).max(0.0), b + pad)
        } else {
            (0.0, 1.0)
        };
        let (y0, y1) = if emin.is_finite() { (emin - 0.3, emax + 0.5) } else { (-1.0, 0.0) };
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, font(TITLE))
            .margin(12)
            .margin_right(24)
            .x_label_area_size(62)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, (10f64.powf(y0)..10f64.powf(y1)).log_scale())?;
        chart
            .configure_mesh()
            .y_labels(6)
            .x_label_formatter(&|x| fmt_num(*x))
            .y_label_formatter(&|y| fmt_num(*y))
            .x_desc("compression ratio (input bytes / stored bytes)")
            .y_desc(format!("{} (log scale)", self.error_label))
            .label_style(font(TICK))
            .axis_desc_style(font(AXIS))
            .light_line_style(BLACK.mix(0.05))
            .draw()?;
        // One series per method: the label's text before " (" names it, the rest labels the point.
        let split = |l: &str| -> (String, String) {
            match l.find(" (") {
                Some(i) => (l[..i].to_string(), l[i + 2..].trim_end_matches(')').to_string()),
                None => (l.to_string(), String::new()),
            }
        };
        let mut series: Vec<(String, Vec<(&RatioPoint, String)>)> = Vec::new();
        for q in &p {
            let (name, short) = split(&q.label);
            match series.iter_mut().find(|(n, _)| *n == name) {
                Some((_, v)) => v.push((q, short)),
                None => series.push((name, vec![(q, short)])),
            }
        }
        let palette = [C_A, C_B, C_C, RGBColor(255, 127, 14), RGBColor(148, 103, 189), RGBColor(140, 86, 75)];
        let right = x0 + 0.75 * (x1 - x0);
        for (i, (name, pts)) in series.iter_mut().enumerate() {
            let col = palette[i % palette.len()];
            pts.sort_by(|a, b| a.0.ratio.total_cmp(&b.0.ratio));
            chart
                .draw_series(LineSeries::new(
                    pts.iter().map(|(q, _)| (q.ratio, q.error)),
                    col.mix(0.6).stroke_width(2),
                ))?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(3)));
            for (q, short) in pts.iter() {
                let pos = (q.ratio, q.error);
                chart.draw_series(std::iter::once(Circle::new(pos, 5, col.filled())))?;
                if !short.is_empty() {
                    let dx = if q.ratio > right { -8 - 7 * short.chars().count() as i32 } else { 8 };
                    // Alternate series put their labels below the point, so neighbours do not collide.
                    let dy = if i % 2 == 0 { -18 } else { 6 };
                    chart.draw_series(std::iter::once(
                        EmptyElement::at(pos) + Text::new(short.clone(), (dx, dy), font(13.0)),
                    ))?;
                }
            }
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.4))
            .label_font(font(14.0))
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
        Ok(())
    }
}

/// Hook for `compress`: reconstruction error against compression ratio, one labelled point
/// per configuration (log y).
pub fn ratio_vs_error(dir: &Path, name: &str, title: &str, error_label: &str, points: &[RatioPoint]) -> Result<Figure> {
    let plot = RatioErr { title: title.to_string(), error_label: error_label.to_string(), points };
    render(dir, name, title, (900, 600), &plot)
}
