//! Horizontal bars with optional ± errors (encode cost per kernel or batch size).

use super::*;

/// One bar of [`encode_cost_bars`]: a value and an optional ± uncertainty.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub err: Option<f64>,
}

struct Bars<'a> {
    title: String,
    unit: String,
    bars: &'a [Bar],
    label_w: u32,
}

impl Plot for Bars<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<DB> {
        let n = self.bars.len().max(1);
        let max =
            self.bars.iter().map(|b| b.value + b.err.unwrap_or(0.0)).filter(|v| v.is_finite()).fold(0.0f64, f64::max);
        let max = if max > 0.0 { max } else { 1.0 };
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, font(TITLE))
            .margin(12)
            .margin_right(24)
            .x_label_area_size(62)
            .y_label_area_size(self.label_w + 20)
            .build_cartesian_2d(0.0..max * 1.3, 0.0..n as f64)?;
        chart
            .configure_mesh()
            .y_labels(0)
            .x_label_formatter(&|x| fmt_num(*x))
            .x_desc(&self.unit)
            .label_style(font(TICK))
            .axis_desc_style(font(AXIS))
            .light_line_style(BLACK.mix(0.05))
            .disable_y_mesh()
            .draw()?;
        let area = chart.plotting_area();
        for (i, b) in self.bars.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let v = if b.value.is_finite() { b.value.max(0.0) } else { 0.0 };
            let col = PALETTE[i % PALETTE.len()];
            area.draw(&Rectangle::new([(0.0, y + 0.2), (v, y + 0.8)], col.mix(0.8).filled()))?;
            if let Some(e) = b.err.filter(|e| e.is_finite() && *e > 0.0) {
                area.draw(&PathElement::new(
                    vec![((v - e).max(0.0), y + 0.5), (v + e, y + 0.5)],
                    BLACK.stroke_width(2),
                ))?;
            }
            let txt = match b.err {
                Some(e) if e.is_finite() && e > 0.0 => {
                    format!("{} ± {}", fmt_num(b.value), fmt_num(e))
                }
                _ => fmt_num(b.value),
            };
            area.draw(
                &(EmptyElement::at((v + b.err.unwrap_or(0.0).max(0.0), y + 0.5)) + Text::new(txt, (6, -8), font(14.0))),
            )?;
            let (lw, lh) = text_size(&b.label, TICK);
            area.draw(
                &(EmptyElement::at((0.0, y + 0.5))
                    + Text::new(b.label.clone(), (-(lw as i32) - 10, -(lh as i32) / 2), font(TICK))),
            )?;
        }
        Ok(())
    }
}

/// Hook for `bench`: horizontal bars (e.g. encode cost per jet per kernel or batch size),
/// with optional ± errors; `unit` titles the value axis.
pub fn encode_cost_bars(dir: &Path, name: &str, title: &str, unit: &str, bars: &[Bar]) -> Result<Figure> {
    let label_w = bars.iter().map(|b| text_size(&b.label, TICK).0).max().unwrap_or(0);
    let h = (140 + 50 * bars.len().max(1) as u32).max(300);
    let plot = Bars { title: title.to_string(), unit: unit.to_string(), bars, label_w };
    render(dir, name, title, (900, h), &plot)
}
