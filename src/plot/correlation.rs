//! Correlation matrix heat map (Pearson r, blue–white–red) with a labelled colour bar.

use super::*;
// The matrix is computed in `analysis::stats`; `plot::correlation` keeps naming it.
pub use crate::analysis::stats::correlation;

/// Blue (−1) – white (0) – red (+1).
pub(super) fn diverging(v: f64) -> RGBColor {
    if !v.is_finite() {
        return RGBColor(190, 190, 190);
    }
    let v = v.clamp(-1.0, 1.0);
    let (r, g, b) = if v < 0.0 { (33.0, 102.0, 172.0) } else { (178.0, 24.0, 43.0) };
    let t = v.abs();
    let m = |c: f64| (255.0 + (c - 255.0) * t).round() as u8;
    RGBColor(m(r), m(g), m(b))
}

struct Corr<'a> {
    title: String,
    names: &'a [String],
    matrix: &'a [f64],
    cell: u32,
    label_w: u32,
}

const CORR_TOP: u32 = 50;
const CORR_HEAD: u32 = 30;
const CORR_BAR: u32 = 150;

impl Plot for Corr<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<DB> {
        let n = self.names.len();
        let cell = self.cell as i32;
        let x0 = 16 + self.label_w as i32 + 8;
        let y0 = (CORR_TOP + CORR_HEAD) as i32;
        root.draw(&Text::new(self.title.as_str(), (16, 14), font(TITLE)))?;
        let fs = (cell as f64 * 0.42).clamp(10.0, 15.0);
        for (a, name) in self.names.iter().enumerate() {
            let label = format!("{name} {a:>2}");
            let (tw, th) = text_size(&label, fs);
            root.draw(&Text::new(
                label,
                (x0 - 8 - tw as i32, y0 + a as i32 * cell + (cell - th as i32) / 2),
                font(fs),
            ))?;
            let idx = a.to_string();
            let (tw, _) = text_size(&idx, fs);
            root.draw(&Text::new(idx, (x0 + a as i32 * cell + (cell - tw as i32) / 2, y0 - 6 - fs as i32), font(fs)))?;
            for b in 0..n {
                let v = self.matrix[a * n + b];
                let (cx, cy) = (x0 + b as i32 * cell, y0 + a as i32 * cell);
                root.draw(&Rectangle::new([(cx, cy), (cx + cell, cy + cell)], diverging(v).filled()))?;
                if cell >= 34 {
                    let s = if v.is_finite() { format!("{v:.2}") } else { "n/a".into() };
                    let vs = (cell as f64 * 0.3).min(13.0);
                    let (tw, th) = text_size(&s, vs);
                    let col = if v.abs() > 0.6 { WHITE } else { BLACK };
                    root.draw(&Text::new(
                        s,
                        (cx + (cell - tw as i32) / 2, cy + (cell - th as i32) / 2),
                        (FAMILY, vs).into_font().color(&col),
                    ))?;
                }
            }
        }
        let side = cell * n as i32;
        root.draw(&Rectangle::new([(x0, y0), (x0 + side, y0 + side)], BLACK.stroke_width(1)))?;
        root.draw(&Text::new("column index →", (x0, y0 - 12 - 2 * fs as i32), font(13.0)))?;
        // Colour bar.
        let bx = x0 + side + 30;
        let bh = side.max(120);
        for t in 0..bh {
            let v = 1.0 - 2.0 * t as f64 / (bh - 1) as f64;
            root.draw(&Rectangle::new([(bx, y0 + t), (bx + 24, y0 + t + 1)], diverging(v).filled()))?;
        }
        root.draw(&Rectangle::new([(bx, y0), (bx + 24, y0 + bh)], BLACK.stroke_width(1)))?;
        for v in [-1.0, -0.5, 0.0, 0.5, 1.0f64] {
            let y = y0 + ((1.0 - v) / 2.0 * (bh - 1) as f64).round() as i32;
            root.draw(&PathElement::new(vec![(bx + 24, y), (bx + 30, y)], BLACK))?;
            let s = fmt_num(v);
            let (_, th) = text_size(&s, TICK);
            root.draw(&Text::new(s, (bx + 34, y - th as i32 / 2), font(TICK)))?;
        }
        root.draw(&Text::new("Pearson r", (bx - 10, y0 - 26), font(14.0)))?;
        root.draw(&Text::new("grey: zero variance", (bx - 10, y0 + bh + 10), font(12.0)))?;
        Ok(())
    }
}

/// Heat map of a correlation matrix (row-major n × n, NaN shown grey) with a colour bar.
/// Rows are labelled by name and index, columns by index.
pub fn correlation_matrix(dir: &Path, name: &str, title: &str, names: &[String], matrix: &[f64]) -> Result<Figure> {
    let n = names.len().max(1);
    if matrix.len() != names.len() * names.len() {
        return Err(Error::config(format!("correlation matrix has {} values for {} names", matrix.len(), names.len())));
    }
    let cell = (720 / n as u32).clamp(14, 60);
    let fs = (cell as f64 * 0.42).clamp(10.0, 15.0);
    let label_w = names.iter().enumerate().map(|(a, s)| text_size(&format!("{s} {a:>2}"), fs).0).max().unwrap_or(0);
    let side = cell * n as u32;
    let w = (16 + label_w + 8 + side + 30 + CORR_BAR).max(text_size(title, TITLE).0 + 40);
    let h = CORR_TOP + CORR_HEAD + side.max(120) + 40;
    let plot = Corr { title: title.to_string(), names, matrix, cell, label_w };
    render(dir, name, title, (w, h), &plot)
}
