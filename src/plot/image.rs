//! Jet images as heat maps: panels of H × W pixels side by side (row 0 at the top, as stored),
//! on one shared log10 colour scale with a labelled colour bar, so that an average input and its
//! average reconstruction, or a jet and its reconstruction, compare pixel for pixel.

use super::*;

/// White (below the scale) through blue to dark purple: `t` in [0, 1].
fn sequential(t: f64) -> RGBColor {
    const STOPS: [(f64, (f64, f64, f64)); 5] = [
        (0.0, (247.0, 251.0, 255.0)),
        (0.3, (158.0, 202.0, 225.0)),
        (0.6, (49.0, 130.0, 189.0)),
        (0.85, (84.0, 39.0, 143.0)),
        (1.0, (20.0, 0.0, 60.0)),
    ];
    let t = t.clamp(0.0, 1.0);
    let k = STOPS.iter().position(|s| s.0 >= t).unwrap_or(STOPS.len() - 1).max(1);
    let ((t0, a), (t1, b)) = (STOPS[k - 1], STOPS[k]);
    let u = if t1 > t0 { (t - t0) / (t1 - t0) } else { 0.0 };
    let m = |x: f64, y: f64| (x + (y - x) * u).round() as u8;
    RGBColor(m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
}

struct Panels<'a> {
    title: String,
    h: usize,
    w: usize,
    panels: &'a [(String, &'a [f64])],
    per_row: usize,
    cell: i32,
    /// log10 of the colour scale's ends.
    lo: f64,
    hi: f64,
    unit: String,
}

const TOP: i32 = 50;
const CAPTION: i32 = 26;
const GAP: i32 = 24;
const BAR: i32 = 130;

impl Panels<'_> {
    fn side(&self) -> (i32, i32) {
        (self.cell * self.w as i32, self.cell * self.h as i32)
    }
}

impl Plot for Panels<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<DB> {
        root.draw(&Text::new(self.title.as_str(), (16, 14), font(TITLE)))?;
        let (pw, ph) = self.side();
        let t_of = |v: f64| if v > 0.0 { (v.log10() - self.lo) / (self.hi - self.lo) } else { -1.0 };
        for (i, (caption, px)) in self.panels.iter().enumerate() {
            let (col, row) = ((i % self.per_row) as i32, (i / self.per_row) as i32);
            let x0 = 16 + col * (pw + GAP);
            let y0 = TOP + row * (ph + CAPTION + GAP) + CAPTION;
            root.draw(&Text::new(caption.as_str(), (x0, y0 - CAPTION + 4), font(LEGEND)))?;
            for y in 0..self.h {
                for x in 0..self.w {
                    let t = t_of(px[y * self.w + x]);
                    let c = if t < 0.0 { WHITE } else { sequential(t) };
                    let (cx, cy) = (x0 + x as i32 * self.cell, y0 + y as i32 * self.cell);
                    root.draw(&Rectangle::new([(cx, cy), (cx + self.cell, cy + self.cell)], c.filled()))?;
                }
            }
            root.draw(&Rectangle::new([(x0, y0), (x0 + pw, y0 + ph)], BLACK.stroke_width(1)))?;
        }
        // Colour bar, log10 scale.
        let cols = self.per_row.min(self.panels.len()) as i32;
        let bx = 16 + cols * (pw + GAP) + 10;
        let (by, bh) = (TOP + CAPTION, ph.max(160));
        for t in 0..bh {
            let v = 1.0 - t as f64 / (bh - 1) as f64;
            root.draw(&Rectangle::new([(bx, by + t), (bx + 22, by + t + 1)], sequential(v).filled()))?;
        }
        root.draw(&Rectangle::new([(bx, by), (bx + 22, by + bh)], BLACK.stroke_width(1)))?;
        let (k0, k1) = (self.lo.ceil() as i32, self.hi.floor() as i32);
        for k in k0..=k1 {
            let y = by + ((self.hi - k as f64) / (self.hi - self.lo) * (bh - 1) as f64).round() as i32;
            root.draw(&PathElement::new(vec![(bx + 22, y), (bx + 28, y)], BLACK))?;
            let s = format!("1e{k}");
            let (_, th) = text_size(&s, TICK);
            root.draw(&Text::new(s, (bx + 31, y - th as i32 / 2), font(TICK)))?;
        }
        root.draw(&Text::new(self.unit.as_str(), (bx - 6, by - 22), font(13.0)))?;
        root.draw(&Text::new("white: below", (bx - 6, by + bh + 8), font(12.0)))?;
        Ok(())
    }
}

/// Heat maps of images (`h × w` values each, row 0 at the top) in rows of `per_row`, one shared
/// log10 colour scale over `decades` decades below the largest pixel of all panels; pixels below
/// it (and ≤ 0) are white. `unit` labels the colour bar.
#[allow(clippy::too_many_arguments)]
pub fn image_panels(
    dir: &Path,
    name: &str,
    title: &str,
    h: usize,
    w: usize,
    panels: &[(String, &[f64])],
    per_row: usize,
    decades: f64,
    unit: &str,
) -> Result<Figure> {
    if panels.is_empty() || h == 0 || w == 0 || per_row == 0 {
        return Err(Error::config(format!("{name}: no image to draw")));
    }
    if let Some((c, _)) = panels.iter().find(|(_, p)| p.len() != h * w) {
        return Err(Error::config(format!("{name}: panel '{c}' does not hold {h}×{w} pixels")));
    }
    let max = panels.iter().flat_map(|(_, p)| p.iter()).copied().filter(|v| v.is_finite()).fold(0.0f64, f64::max);
    let hi = if max > 0.0 { max.log10() } else { 0.0 };
    let lo = hi - decades.max(0.5);
    let cell = (300 / h.max(w) as i32).clamp(2, 12);
    let plot = Panels { title: title.to_string(), h, w, panels, per_row, cell, lo, hi, unit: unit.to_string() };
    let (pw, ph) = plot.side();
    let cols = per_row.min(panels.len()) as i32;
    let rows = panels.len().div_ceil(per_row) as i32;
    let width = (16 + cols * (pw + GAP) + 10 + BAR).max(text_size(title, TITLE).0 as i32 + 40);
    let height = TOP + rows * (ph + CAPTION + GAP) + 40.max(ph.max(160) - ph + 40);
    render(dir, name, title, (width as u32, height as u32), &plot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_colour_scale_runs_from_near_white_to_dark() {
        assert_eq!(sequential(0.0), RGBColor(247, 251, 255));
        assert_eq!(sequential(1.0), RGBColor(20, 0, 60));
        let mid = sequential(0.45);
        assert!(mid.0 < 158 && mid.2 > 189, "{mid:?} lies between its two stops");
    }
}
