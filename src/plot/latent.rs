//! Latent space: pairwise 2-D histograms and 1-D marginals of the first latent dimensions.

use super::*;

/// Viridis, sampled at 8 points and interpolated.
pub(super) fn viridis(t: f64) -> RGBColor {
    const V: [(u8, u8, u8); 8] = [
        (68, 1, 84),
        (70, 50, 126),
        (54, 92, 141),
        (39, 127, 142),
        (31, 161, 135),
        (74, 193, 109),
        (160, 218, 57),
        (253, 231, 37),
    ];
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 } * 7.0;
    let i = (t.floor() as usize).min(6);
    let f = t - i as f64;
    let m = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    RGBColor(m(V[i].0, V[i + 1].0), m(V[i].1, V[i + 1].1), m(V[i].2, V[i + 1].2))
}

struct Latent<'a> {
    latent: &'a [f32],
    dim: usize,
    shown: usize,
}

impl Plot for Latent<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<DB> {
        let k = self.shown;
        let rows = self.latent.len().checked_div(self.dim).unwrap_or(0);
        let col = |j: usize| -> Vec<f64> { (0..rows).map(|r| self.latent[r * self.dim + j] as f64).collect() };
        let cols: Vec<Vec<f64>> = (0..k).map(col).collect();
        let ranges: Vec<(f64, f64)> = cols
            .iter()
            .map(|c| {
                let q = quantiles(c, &[0.005, 0.995]);
                widen(q[0], q[1])
            })
            .collect();
        // One colour scale for every panel, so that the key's numbers hold for all of them.
        let nb = ((rows as f64).sqrt() * 1.2).clamp(10.0, 40.0) as usize;
        let mut grids: Vec<Vec<u64>> = vec![Vec::new(); k * k];
        for i in 0..k {
            for j in 0..i {
                grids[i * k + j] = pair_grid(&cols[j], &cols[i], ranges[j], ranges[i], nb);
            }
        }
        let global_max = grids.iter().flatten().copied().max().unwrap_or(1).max(1);
        let title = format!("Latent space: {k} of {} dimensions, {rows} jets (central 99 % per axis)", self.dim);
        let area = root.titled(&title, font(TITLE))?;
        let (w, h) = area.dim_in_pixel();
        let (left, bottom) = (70u32, 60u32);
        let pw = (w.saturating_sub(left + 16)) / k as u32;
        let ph = (h.saturating_sub(bottom + 8)) / k as u32;
        for i in 0..k {
            for j in 0..=i {
                let x0 = (left + j as u32 * pw) as i32;
                let y0 = (8 + i as u32 * ph) as i32;
                let first_col = j == 0;
                let last_row = i == k - 1;
                let panel = area.clone().shrink(
                    (x0 - if first_col { left as i32 } else { 0 }, y0),
                    (pw + if first_col { left } else { 0 }, ph + if last_row { bottom } else { 0 }),
                );
                let (xl, xh) = ranges[j];
                let fx = axis_fmt(xh - xl);
                let mut b = ChartBuilder::on(&panel);
                b.margin(3).x_label_area_size(if last_row { bottom - 3 } else { 0 }).y_label_area_size(if first_col {
                    left - 3
                } else {
                    0
                });
                if i == j {
                    let bins = Binning {
                        log: false,
                        edges: (0..=nb).map(|t| xl + (xh - xl) * t as f64 / nb as f64).collect(),
                    };
                    let c = bins.counts(&cols[j]);
                    let max = c.iter().copied().max().unwrap_or(1).max(1) as f64;
                    let mut ch = b.build_cartesian_2d(xl..xh, 0.0..max * 1.1)?;
                    let mut m = ch.configure_mesh();
                    m.x_labels(3)
                        .y_labels(0)
                        .x_label_formatter(&fx)
                        .y_label_formatter(&|_| String::new())
                        .label_style(font(12.0))
                        .axis_desc_style(font(AXIS))
                        .light_line_style(WHITE.mix(0.0))
                        .bold_line_style(WHITE.mix(0.0));
                    if last_row {
                        m.x_desc(format!("z{j}"));
                    }
                    if first_col {
                        m.y_desc(format!("z{i} (jets)"));
                    }
                    m.draw()?;
                    ch.draw_series(
                        bins.edges
                            .windows(2)
                            .zip(&c)
                            .map(|(e, &n)| Rectangle::new([(e[0], 0.0), (e[1], n as f64)], C_A.mix(0.6).filled())),
                    )?;
                } else {
                    let (yl, yh) = ranges[i];
                    let grid = &grids[i * k + j];
                    let max = global_max as f64;
                    let mut ch = b.build_cartesian_2d(xl..xh, yl..yh)?;
                    let mut m = ch.configure_mesh();
                    let fy = axis_fmt(yh - yl);
                    m.x_labels(3)
                        .y_labels(3)
                        .x_label_formatter(&fx)
                        .y_label_formatter(&fy)
                        .label_style(font(12.0))
                        .axis_desc_style(font(AXIS))
                        .light_line_style(WHITE.mix(0.0))
                        .bold_line_style(WHITE.mix(0.0));
                    if last_row {
                        m.x_desc(format!("z{j}"));
                    }
                    if first_col {
                        m.y_desc(format!("z{i}"));
                    }
                    m.draw()?;
                    let (dx, dy) = ((xh - xl) / nb as f64, (yh - yl) / nb as f64);
                    ch.draw_series(grid.iter().enumerate().filter(|(_, &n)| n > 0).map(|(t, &n)| {
                        let (a, c) = ((t % nb) as f64, (t / nb) as f64);
                        let col = viridis(((n as f64).ln_1p()) / max.ln_1p());
                        Rectangle::new(
                            [(xl + a * dx, yl + c * dy), (xl + (a + 1.0) * dx, yl + (c + 1.0) * dy)],
                            col.filled(),
                        )
                    }))?;
                }
            }
        }
        // Colour key in the empty upper triangle.
        if k >= 2 {
            let kx = (left + pw * (k as u32 - 1)) as i32 - 10;
            let ky = 20;
            let kw = (pw as i32).min(160);
            for t in 0..kw {
                area.draw(&Rectangle::new(
                    [(kx - kw + t, ky + 22), (kx - kw + t + 1, ky + 36)],
                    viridis(t as f64 / kw as f64).filled(),
                ))?;
            }
            area.draw(&Text::new("jets per cell (log scale)", (kx - kw, ky), font(13.0)))?;
            let (lo, hi) = colour_key_labels(global_max);
            area.draw(&Text::new(lo, (kx - kw, ky + 40), font(12.0)))?;
            area.draw(&Text::new(hi.clone(), (kx - text_size(&hi, 12.0).0 as i32, ky + 40), font(12.0)))?;
        }
        Ok(())
    }
}

/// Counts of (x, y) in an nb × nb grid over `xr` × `yr` (row-major by y); points outside are
/// not counted.
pub fn pair_grid(x: &[f64], y: &[f64], xr: (f64, f64), yr: (f64, f64), nb: usize) -> Vec<u64> {
    let ((xl, xh), (yl, yh)) = (xr, yr);
    let mut grid = vec![0u64; nb * nb];
    for (&x, &y) in x.iter().zip(y) {
        if x >= xl && x < xh && y >= yl && y < yh {
            let a = ((x - xl) / (xh - xl) * nb as f64) as usize;
            let c = ((y - yl) / (yh - yl) * nb as f64) as usize;
            grid[c.min(nb - 1) * nb + a.min(nb - 1)] += 1;
        }
    }
    grid
}

/// The colour key's end labels: 0 and the largest cell count, in jets.
pub fn colour_key_labels(max: u64) -> (String, String) {
    ("0".to_string(), format!("{max} jets"))
}

/// Pairwise 2-D histograms (lower triangle) and 1-D histograms (diagonal) of the first
/// `min(dim, max_dims)` latent dimensions; `latent` is row-major [rows × dim].
pub fn latent_pairs(dir: &Path, name: &str, latent: &[f32], dim: usize, max_dims: usize) -> Result<Figure> {
    let shown = dim.min(max_dims).max(1);
    let plot = Latent { latent, dim: dim.max(1), shown };
    render(dir, name, &format!("Latent space: pairwise histograms of {shown} of {dim} dimensions"), (1000, 1000), &plot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_grid_counts_and_the_key_names_its_maximum() {
        let x = [0.1, 0.1, 0.9, 2.0];
        let y = [0.1, 0.2, 0.9, 0.5];
        let g = pair_grid(&x, &y, (0.0, 1.0), (0.0, 1.0), 2);
        assert_eq!(g, vec![2, 0, 0, 1], "the point at x = 2 is outside");
        let max = g.iter().copied().max().unwrap();
        assert_eq!(colour_key_labels(max), ("0".to_string(), "2 jets".to_string()));
    }
}
