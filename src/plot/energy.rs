//! The normalized autoencoder's energies per epoch from `MODEL.history.csv`: the positive
//! energy E(x₊) of the training batches, the negative energy E(x₋) of the chains' samples, and
//! the energy where the data-space chains started (the decoded latent samples), log y. A
//! healthy run keeps E(x₋) near E(x₊); a collapse drops it far below, a divergence far above.

use super::*;

/// One NAE epoch of the history.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochEnergy {
    pub epoch: usize,
    pub pos: f64,
    pub neg: f64,
    pub neg_start: f64,
}

/// The NAE epochs of a history CSV (its `pos_energy`, `neg_energy`, `neg_start_energy`
/// columns, found by name); empty when the history has none (not an NAE, or only
/// pre-training epochs).
pub fn parse_energies(path: &Path, text: &str) -> Result<Vec<EpochEnergy>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').map(str::trim).collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(ip), Some(ineg), Some(is)) = (col("pos_energy"), col("neg_energy"), col("neg_start_energy")) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if line.trim().is_empty() || f.get(ip).is_none_or(|s| s.is_empty()) {
            continue;
        }
        let num = |k: usize, what: &str| -> Result<f64> {
            f.get(k)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| Error::data(crate::Location::file(path).line(i as u64 + 2).column(what), "not a number"))
        };
        out.push(EpochEnergy {
            epoch: num(0, "epoch")? as usize,
            pos: num(ip, "pos_energy")?,
            neg: num(ineg, "neg_energy")?,
            neg_start: num(is, "neg_start_energy")?,
        });
    }
    Ok(out)
}

/// A curve: its legend label, colour and value per epoch.
type Line<'a> = (&'a str, RGBColor, &'a dyn Fn(&EpochEnergy) -> f64);

struct Energies<'a> {
    epochs: &'a [EpochEnergy],
}

impl Plot for Energies<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<DB> {
        let ok = |v: f64| v.is_finite() && v > 0.0;
        let all: Vec<f64> = self.epochs.iter().flat_map(|e| [e.pos, e.neg, e.neg_start]).filter(|&v| ok(v)).collect();
        let (lo, hi) = all.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let (lo, hi) = if lo.is_finite() { (lo.log10() - 0.1, hi.log10() + 0.2) } else { (-3.0, 0.0) };
        let (lo, hi) = if hi - lo < 0.3 { (lo - 0.15, hi + 0.15) } else { (lo, hi) };
        let e0 = self.epochs.iter().map(|e| e.epoch).min().unwrap_or(1) as f64;
        let e1 = self.epochs.iter().map(|e| e.epoch).max().unwrap_or(1) as f64;
        let (x0, x1) = if e1 > e0 { (e0, e1) } else { (e0 - 0.5, e1 + 0.5) };
        let mut chart = ChartBuilder::on(root)
            .caption("NAE energies per epoch", font(TITLE))
            .margin(12)
            .margin_right(24)
            .x_label_area_size(62)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, (10f64.powf(lo)..10f64.powf(hi)).log_scale())?;
        chart
            .configure_mesh()
            .y_labels(6)
            .x_label_formatter(&|x| fmt_num(*x))
            .y_label_formatter(&|y| fmt_num(*y))
            .x_desc("epoch")
            .y_desc("mean energy E = ‖x − x̂‖²/D (normalised, log scale)")
            .label_style(font(TICK))
            .axis_desc_style(font(AXIS))
            .light_line_style(BLACK.mix(0.05))
            .draw()?;
        let lines: [Line<'_>; 3] = [
            ("E(x+): data", C_A, &|e| e.pos),
            ("E(x−): negative samples", C_B, &|e| e.neg),
            ("E at the data-space chains' start", C_C, &|e| e.neg_start),
        ];
        for (label, colour, f) in lines {
            let pts: Vec<(f64, f64)> =
                self.epochs.iter().map(|e| (e.epoch as f64, f(e))).filter(|&(_, v)| ok(v)).collect();
            if pts.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))?
                .label(label)
                .legend(legend_line(colour));
            if pts.len() < 30 {
                chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
            }
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    }
}

/// Positive, negative and chain-start energies per NAE epoch, log y.
pub fn energy_curves(dir: &Path, name: &str, epochs: &[EpochEnergy]) -> Result<Figure> {
    render(dir, name, "NAE energies per epoch: data, negative samples, chain starts", (900, 600), &Energies { epochs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energies_are_read_by_column_name_and_pre_training_rows_are_skipped() {
        let text = "epoch,train_loss,val_loss,seconds,pos_energy,neg_energy,neg_start_energy,z_accept,x_accept\n\
                    1,0.1,0.2,0.01,,,,,\n\
                    2,0.05,0.1,0.5,4.2e-3,3.5e-3,1.7e-5,1.0000,1.0000\n";
        let e = parse_energies(Path::new("h.csv"), text).unwrap();
        assert_eq!(e, vec![EpochEnergy { epoch: 2, pos: 4.2e-3, neg: 3.5e-3, neg_start: 1.7e-5 }]);
        assert!(parse_energies(Path::new("h.csv"), "epoch,train_loss,val_loss,seconds\n1,0.1,,0.1\n")
            .unwrap()
            .is_empty());
        let bad = "epoch,train_loss,val_loss,seconds,pos_energy,neg_energy,neg_start_energy\n3,1,1,1,x,1,1\n";
        let err = parse_energies(Path::new("h.csv"), bad).unwrap_err().to_string();
        assert!(err.contains("h.csv") && err.contains("pos_energy"), "{err}");
    }
}
