//! Loss curves: train and validation loss per epoch from `MODEL.history.csv`.

use super::*;

/// One row of `MODEL.history.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochLoss {
    pub epoch: usize,
    pub train: f64,
    pub val: Option<f64>,
}

/// Parses `epoch,train_loss,val_loss,seconds` (val_loss may be empty).
pub fn parse_history(path: &Path, text: &str) -> Result<Vec<EpochLoss>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        let bad = |what: &str| Error::data(crate::Location::file(path).line(i as u64 + 1).column(what), "not a number");
        let epoch = f.first().and_then(|s| s.trim().parse().ok()).ok_or_else(|| bad("epoch"))?;
        let train = f.get(1).and_then(|s| s.trim().parse().ok()).ok_or_else(|| bad("train_loss"))?;
        let val = match f.get(2).map(|s| s.trim()) {
            None | Some("") => None,
            Some(s) => Some(s.parse().map_err(|_| bad("val_loss"))?),
        };
        out.push(EpochLoss { epoch, train, val });
    }
    Ok(out)
}

struct Losses<'a> {
    history: &'a [EpochLoss],
}

impl Plot for Losses<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<DB> {
        let ok = |v: f64| v.is_finite() && v > 0.0;
        let all: Vec<f64> =
            self.history.iter().flat_map(|h| [Some(h.train), h.val]).flatten().filter(|&v| ok(v)).collect();
        let (lo, hi) = all.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let (lo, hi) = if lo.is_finite() { (lo.log10() - 0.05, hi.log10() + 0.15) } else { (-1.0, 0.0) };
        let (lo, hi) = if hi - lo < 0.3 { (lo - 0.15, hi + 0.15) } else { (lo, hi) };
        let e_max = self.history.iter().map(|h| h.epoch).max().unwrap_or(1) as f64;
        let e_min = self.history.iter().map(|h| h.epoch).min().unwrap_or(1) as f64;
        let (x0, x1) = if e_max > e_min { (e_min, e_max) } else { (e_min - 0.5, e_max + 0.5) };
        let (ylo, yhi) = (10f64.powf(lo), 10f64.powf(hi));
        let mut chart = ChartBuilder::on(root)
            .caption("Training history", font(TITLE))
            .margin(12)
            .margin_right(24)
            .x_label_area_size(62)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, (ylo..yhi).log_scale())?;
        chart
            .configure_mesh()
            .y_labels(6)
            .x_label_formatter(&|x| fmt_num(*x))
            .y_label_formatter(&|y| fmt_num(*y))
            .x_desc("epoch")
            .y_desc("MSE loss (normalised, log scale)")
            .label_style(font(TICK))
            .axis_desc_style(font(AXIS))
            .light_line_style(BLACK.mix(0.05))
            .draw()?;
        let series = |f: &dyn Fn(&EpochLoss) -> Option<f64>| -> Vec<(f64, f64)> {
            self.history.iter().filter_map(|h| f(h).filter(|&v| ok(v)).map(|v| (h.epoch as f64, v))).collect()
        };
        let train = series(&|h| Some(h.train));
        let val = series(&|h| h.val);
        chart.draw_series(LineSeries::new(train.clone(), C_A.stroke_width(2)))?.label("train").legend(legend_line(C_A));
        if train.len() < 30 {
            chart.draw_series(train.iter().map(|&p| Circle::new(p, 3, C_A.filled())))?;
        }
        if !val.is_empty() {
            chart
                .draw_series(LineSeries::new(val.clone(), C_B.stroke_width(2)))?
                .label("validation")
                .legend(legend_line(C_B));
            if val.len() < 30 {
                chart.draw_series(val.iter().map(|&p| Circle::new(p, 3, C_B.filled())))?;
            }
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    }
}

/// Train and validation loss per epoch, log y.
pub fn loss_curves(dir: &Path, name: &str, history: &[EpochLoss]) -> Result<Figure> {
    render(dir, name, "Training history: loss per epoch", (900, 600), &Losses { history })
}
