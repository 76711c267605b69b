//! Two-sample histogram with a ratio panel (input vs reconstruction; real vs generated).

use super::*;

struct Compare<'a> {
    title: String,
    x_label: String,
    a: (&'a str, &'a [f64]),
    b: (&'a str, &'a [f64]),
    ratio_label: String,
    /// What an entry is: "jets", "pixels".
    entries: &'static str,
}

impl Plot for Compare<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<DB> {
        // About 1.5 √n bins, 12 to 60.
        let nb = ((self.a.1.len() as f64).sqrt() * 1.5).clamp(12.0, 60.0) as usize;
        let bins = Binning::shared(self.a.1, self.b.1, nb);
        let ca = bins.counts(self.a.1);
        let cb = bins.counts(self.b.1);
        let max = ca.iter().chain(&cb).copied().max().unwrap_or(1).max(1) as f64;
        let (_, h) = root.dim_in_pixel();
        let (top, bottom) = root.split_vertically((h as f64 * 0.70) as u32);
        let log = bins.log;
        let span = bins.edges[bins.edges.len() - 1] - bins.edges[0];
        let lin = axis_fmt(span);
        let fx = move |x: &f64| if log { fmt_pow10(*x) } else { lin(x) };
        let mut chart = ChartBuilder::on(&top)
            .caption(&self.title, font(TITLE))
            .margin(12)
            .margin_right(24)
            .x_label_area_size(8)
            .y_label_area_size(80)
            .build_cartesian_2d(bins.range(), (0.5..max * 4.0).log_scale())?;
        chart
            .configure_mesh()
            .x_labels(8)
            .x_label_formatter(&|_| String::new())
            .y_desc(format!("{} per bin", self.entries))
            .y_label_formatter(&|y| fmt_pow10(y.log10()))
            .label_style(font(TICK))
            .axis_desc_style(font(AXIS))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        let floor = 0.5;
        chart
            .draw_series(LineSeries::new(steps(&bins.edges, &ca, floor), C_A.stroke_width(2)))?
            .label(format!("{} ({} {})", self.a.0, self.a.1.len(), self.entries))
            .legend(legend_line(C_A));
        chart
            .draw_series(LineSeries::new(steps(&bins.edges, &cb, floor), C_B.stroke_width(2)))?
            .label(format!("{} ({} {})", self.b.0, self.b.1.len(), self.entries))
            .legend(legend_line(C_B));
        let ratios = bin_ratios(&ca, &cb);
        let empty_shown = ratios.iter().any(|r| matches!(r, BinRatio::NoReference | BinRatio::NoSample));
        let mut notes = vec!["ratio: Poisson errors r·√(1/a + 1/b)".to_string()];
        if empty_shown {
            notes.push("grey: bin empty in one sample".to_string());
        }
        for line in notes {
            legend_note(&mut chart, line)?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;

        let mut rc = ChartBuilder::on(&bottom)
            .margin(12)
            .margin_right(24)
            .margin_top(0)
            .x_label_area_size(62)
            .y_label_area_size(80)
            .build_cartesian_2d(bins.range(), 0.0..2.0)?;
        rc.configure_mesh()
            .x_labels(8)
            .y_labels(5)
            .x_label_formatter(&fx)
            .y_label_formatter(&|y| fmt_num(*y))
            .x_desc(if log { format!("{} (log scale)", self.x_label) } else { self.x_label.clone() })
            .y_desc(&self.ratio_label)
            .label_style(font(TICK))
            .axis_desc_style(font(AXIS))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        let (x0, x1) = (bins.edges[0], bins.edges[bins.edges.len() - 1]);
        rc.draw_series(LineSeries::new(vec![(x0, 1.0), (x1, 1.0)], BLACK.mix(0.6).stroke_width(1)))?;
        // Each bin: b/a with its Poisson error bar (clipped to the axis; ratios above it are
        // triangles at its top). A bin where one sample is empty is shaded grey and carries a
        // hollow marker (△ at the top: reference empty; ○ at the bottom: sample empty) rather
        // than a ratio of ∞ or 0.
        let (ylo, yhi) = (0.0, 2.0);
        for (i, r) in ratios.into_iter().enumerate() {
            let (e0, e1) = (bins.edges[i], bins.edges[i + 1]);
            let xc = 0.5 * (e0 + e1);
            match r {
                BinRatio::Value { ratio, err } if ratio <= yhi => {
                    let (lo, hi) = ((ratio - err).max(ylo), (ratio + err).min(yhi));
                    rc.draw_series(std::iter::once(PathElement::new(vec![(xc, lo), (xc, hi)], C_B.stroke_width(1))))?;
                    rc.draw_series(std::iter::once(Circle::new((xc, ratio), 3, C_B.filled())))?;
                }
                BinRatio::Value { .. } => {
                    rc.draw_series(std::iter::once(TriangleMarker::new((xc, yhi - 0.07), 5, C_B.filled())))?;
                }
                BinRatio::NoReference | BinRatio::NoSample => {
                    rc.draw_series(std::iter::once(Rectangle::new([(e0, ylo), (e1, yhi)], BLACK.mix(0.08).filled())))?;
                    if r == BinRatio::NoReference {
                        rc.draw_series(std::iter::once(TriangleMarker::new((xc, yhi - 0.07), 5, C_B.stroke_width(1))))?;
                    } else {
                        rc.draw_series(std::iter::once(Circle::new((xc, ylo + 0.07), 4, C_B.stroke_width(1))))?;
                    }
                }
                BinRatio::Empty => {}
            }
        }
        Ok(())
    }
}

/// Input-vs-reconstruction histogram of one variable (log y, shared binning) with the
/// reconstruction/input ratio below.
pub fn input_vs_output(
    dir: &Path,
    name: &str,
    var: &str,
    x_label: &str,
    input: &[f64],
    output: &[f64],
) -> Result<Figure> {
    let plot = Compare {
        title: format!("{var}: input vs reconstruction"),
        x_label: x_label.to_string(),
        a: ("input", input),
        b: ("reconstruction", output),
        ratio_label: "reco / input".into(),
        entries: "jets",
    };
    render(dir, name, &format!("{var}: input vs reconstruction"), (900, 680), &plot)
}

/// Pixel-intensity spectra of input images and their reconstructions (one entry per pixel),
/// same layout as [`input_vs_output`].
pub fn pixel_spectrum(
    dir: &Path,
    name: &str,
    title: &str,
    x_label: &str,
    input: &[f64],
    output: &[f64],
) -> Result<Figure> {
    let plot = Compare {
        title: title.to_string(),
        x_label: x_label.to_string(),
        a: ("input", input),
        b: ("reconstruction", output),
        ratio_label: "reco / input".into(),
        entries: "pixels",
    };
    render(dir, name, title, (900, 680), &plot)
}

/// Hook for generative models: real-vs-generated marginal of one variable, same layout as
/// [`input_vs_output`].
pub fn marginals(dir: &Path, name: &str, var: &str, x_label: &str, real: &[f64], generated: &[f64]) -> Result<Figure> {
    let plot = Compare {
        title: format!("{var}: real vs generated"),
        x_label: x_label.to_string(),
        a: ("real", real),
        b: ("generated", generated),
        ratio_label: "gen / real".into(),
        entries: "jets",
    };
    render(dir, name, &format!("{var}: real vs generated"), (900, 680), &plot)
}
