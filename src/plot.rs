//! PNG and SVG figures, drawn with `plotters` from plain data (slices and small structs), so
//! every command can reuse them: `plot`/`report` today, and the hooks [`roc_curve`],
//! [`ratio_vs_error`], [`marginals`] and [`encode_cost_bars`] for `roc`, `compress`,
//! generative models and `bench`.
//!
//! Every figure is written twice, `DIR/NAME.png` (rendered into a buffer, encoded with `png`)
//! and `DIR/NAME.svg`, each through [`crate::atomic::write_atomic`]. Text is drawn with the
//! embedded DejaVu Sans (`assets/fonts/`, Bitstream Vera licence) through plotters' `ab_glyph`
//! feature: no system font or font library is needed. Histogram x axes that may be linear or
//! logarithmic (and the ROC's FPR axis) are drawn in log10 coordinates with labels 10ᵏ, so that
//! one code path serves both; loss and error axes use plotters' own log scale.

use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::{Path, PathBuf};

static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";
/// Tick labels, axis titles, captions, legends (pixels).
const TICK: f64 = 15.0;
const AXIS: f64 = 18.0;
const TITLE: f64 = 21.0;
const LEGEND: f64 = 15.0;

const C_A: RGBColor = RGBColor(31, 119, 180);
const C_B: RGBColor = RGBColor(214, 39, 40);
const C_C: RGBColor = RGBColor(44, 160, 44);
const PALETTE: [RGBColor; 6] = [C_A, C_B, C_C, RGBColor(255, 127, 14), RGBColor(148, 103, 189), RGBColor(140, 86, 75)];

/// One written figure: both files, its pixel size and what it shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// File stem inside the output directory.
    pub name: String,
    /// One line for a report.
    pub title: String,
    pub png: PathBuf,
    pub svg: PathBuf,
    /// Width × height in pixels (of the PNG; the SVG has the same view box).
    pub size: (u32, u32),
}

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Fails only on a corrupt embedded file; drawing then reports the missing font.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

fn font(size: f64) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}

/// Text width and height in pixels at `size`.
fn text_size(text: &str, size: f64) -> (u32, u32) {
    register_font();
    FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Normal)
        .box_size(text)
        .unwrap_or((text.chars().count() as u32 * size as u32 * 6 / 10, size as u32))
}

type DResult<DB> = std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A figure that can draw itself on any backend.
trait Plot {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<DB>;
}

fn draw_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::io(path, std::io::Error::other(format!("cannot draw the figure: {e}")))
}

/// Draws `plot` into `dir/name.png` and `dir/name.svg`.
fn render<P: Plot>(dir: &Path, name: &str, title: &str, size: (u32, u32), plot: &P) -> Result<Figure> {
    register_font();
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let png_path = dir.join(format!("{name}.png"));
    let svg_path = dir.join(format!("{name}.svg"));
    let (w, h) = size;
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw_error(&png_path, e))?;
        plot.draw(&root).map_err(|e| draw_error(&png_path, e))?;
        root.present().map_err(|e| draw_error(&png_path, e))?;
    }
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().map_err(|e| draw_error(&png_path, e))?;
        wr.write_image_data(&rgb).map_err(|e| draw_error(&png_path, e))?;
        wr.finish().map_err(|e| draw_error(&png_path, e))?;
    }
    write_atomic(&png_path, &bytes)?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw_error(&svg_path, e))?;
        plot.draw(&root).map_err(|e| draw_error(&svg_path, e))?;
        root.present().map_err(|e| draw_error(&svg_path, e))?;
    }
    write_atomic(&svg_path, svg.as_bytes())?;
    Ok(Figure { name: name.to_string(), title: title.to_string(), png: png_path, svg: svg_path, size })
}

// ---------------------------------------------------------------------------------------
// Labels and numbers

/// How a column is labelled on an axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarKind {
    /// pT, mass, energy: momentum units.
    Momentum,
    Eta,
    Phi,
    /// Energy fractions: unitless, in [0, 1].
    Fraction,
    /// Multiplicities: counts.
    Count,
    Other,
}

/// Classifies a column by its name (the part after the last `_` or `.`).
pub fn var_kind(name: &str) -> VarKind {
    let base = name.rsplit(['_', '.']).next().unwrap_or(name);
    let l = base.to_ascii_lowercase();
    if crate::metrics::is_phi(name) {
        VarKind::Phi
    } else if l == "eta" {
        VarKind::Eta
    } else if matches!(l.as_str(), "pt" | "mass" | "m" | "energy" | "e" | "et") || l.starts_with("pt") {
        VarKind::Momentum
    } else if base.ends_with("EF") || l.contains("frac") {
        VarKind::Fraction
    } else if (base.starts_with('n') && base.chars().nth(1).is_some_and(|c| c.is_ascii_uppercase()))
        || l.contains("multiplicity")
    {
        VarKind::Count
    } else {
        VarKind::Other
    }
}

/// The axis title for a column, with its unit (`momentum_unit`: "GeV" or "MeV").
pub fn axis_label(name: &str, momentum_unit: &str) -> String {
    match var_kind(name) {
        VarKind::Momentum => format!("{name} [{momentum_unit}]"),
        VarKind::Eta if name == "eta" => "η".to_string(),
        VarKind::Eta => format!("{name} (η)"),
        VarKind::Phi if name == "phi" => "φ [rad]".to_string(),
        VarKind::Phi => format!("{name} (φ) [rad]"),
        VarKind::Fraction => format!("{name} (fraction)"),
        VarKind::Count => format!("{name} (count)"),
        VarKind::Other => name.to_string(),
    }
}

/// Short number: 3 significant digits, scientific outside [1e-3, 1e5).
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.2e}")
    } else {
        let digits = (2 - a.log10().floor() as i32).clamp(0, 6) as usize;
        let s = format!("{v:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// Tick labels of a linear axis spanning `span`: enough digits to tell ticks about span/8
/// apart, and rounding noise near zero printed as 0.
fn axis_fmt(span: f64) -> impl Fn(&f64) -> String {
    let step = if span.is_finite() && span > 0.0 { span / 8.0 } else { 1.0 };
    move |v: &f64| {
        let a = v.abs();
        if !v.is_finite() {
            return format!("{v}");
        }
        if a <= step * 1e-8 {
            return "0".to_string();
        }
        let s = if !(1e-3..1e5).contains(&a) {
            let dec = ((a.log10().floor() - step.log10().floor()).max(0.0) as usize).min(6);
            format!("{v:.dec$e}")
        } else {
            let dec = (-step.log10().floor()).clamp(0.0, 8.0) as usize;
            format!("{v:.dec$}")
        };
        match s.split_once('e') {
            Some((m, e)) if m.contains('.') => {
                format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
            }
            None if s.contains('.') => s.trim_end_matches('0').trim_end_matches('.').to_string(),
            _ => s,
        }
    }
}

/// Tick label of a log10 coordinate: 10^k for whole k, else the value.
fn fmt_pow10(x: f64) -> String {
    let r = x.round();
    if (x - r).abs() < 1e-9 {
        let k = r as i32;
        match k {
            0 => "1".into(),
            1 => "10".into(),
            2 => "100".into(),
            -1 => "0.1".into(),
            -2 => "0.01".into(),
            _ => format!("10{}", superscript(k)),
        }
    } else {
        fmt_num(10f64.powf(x))
    }
}

fn superscript(k: i32) -> String {
    k.to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            _ => '⁹',
        })
        .collect()
}

/// Mean, sample σ and central-68 % half-width (q84 − q16)/2 of finite values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    pub std: f64,
    pub half_width_68: f64,
    pub median: f64,
}

pub fn summarize(values: &[f64]) -> Summary {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let mean = if n > 0 { v.iter().sum::<f64>() / n as f64 } else { f64::NAN };
    let std =
        if n > 1 { (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64).sqrt() } else { 0.0 };
    let q = |p| crate::metrics::quantile_sorted(&v, p);
    Summary { n, mean, std, half_width_68: (q(0.841_344_746) - q(0.158_655_254)) / 2.0, median: q(0.5) }
}

fn quantiles(values: &[f64], ps: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    ps.iter().map(|&p| crate::metrics::quantile_sorted(&v, p)).collect()
}

/// A non-empty, finite [lo, hi) around `lo..hi` (widened when degenerate).
fn widen(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi > lo {
        let pad = (hi - lo) * 0.02;
        (lo - pad, hi + pad)
    } else {
        let d = (lo.abs() * 0.1).max(0.5);
        (lo - d, lo + d)
    }
}

/// Bin edges in plotting coordinates (log10 of the value when `log`).
#[derive(Clone, Debug, PartialEq)]
pub struct Binning {
    pub log: bool,
    /// Edges in plotting coordinates: `bins + 1` ascending values.
    pub edges: Vec<f64>,
}

impl Binning {
    /// Shared binning for samples `a` (the reference) and `b`: the full range of `a` and the
    /// central 99.8 % of `b`; logarithmic when every value is positive and the range spans
    /// more than two decades.
    pub fn shared(a: &[f64], b: &[f64], bins: usize) -> Binning {
        let qa = quantiles(a, &[0.0, 1.0]);
        let qb = quantiles(b, &[0.001, 0.999]);
        let lo = [qa[0], qb[0]].into_iter().filter(|x| x.is_finite()).fold(f64::INFINITY, f64::min);
        let hi = [qa[1], qb[1]].into_iter().filter(|x| x.is_finite()).fold(f64::NEG_INFINITY, f64::max);
        let log = lo > 0.0 && hi / lo > 100.0;
        let (lo, hi) = if log { (lo.log10() - 0.02, hi.log10() + 0.02) } else { widen(lo, hi) };
        let bins = bins.max(1);
        let edges = (0..=bins).map(|i| lo + (hi - lo) * i as f64 / bins as f64).collect();
        Binning { log, edges }
    }
    fn coord(&self, v: f64) -> f64 {
        if self.log {
            if v > 0.0 {
                v.log10()
            } else {
                f64::NEG_INFINITY
            }
        } else {
            v
        }
    }
    /// Counts per bin (values outside the edges are not counted).
    pub fn counts(&self, values: &[f64]) -> Vec<u64> {
        let n = self.edges.len() - 1;
        let (lo, hi) = (self.edges[0], self.edges[n]);
        let mut c = vec![0u64; n];
        for &v in values {
            let x = self.coord(v);
            if x.is_finite() && x >= lo && x <= hi {
                let i = (((x - lo) / (hi - lo)) * n as f64) as usize;
                c[i.min(n - 1)] += 1;
            }
        }
        c
    }
    fn range(&self) -> std::ops::Range<f64> {
        self.edges[0]..self.edges[self.edges.len() - 1]
    }
}

/// Histogram outline as a step line: (x, count) pairs, zero counts drawn at `floor`.
fn steps(edges: &[f64], counts: &[u64], floor: f64) -> Vec<(f64, f64)> {
    let mut p = Vec::with_capacity(2 * counts.len() + 2);
    p.push((edges[0], floor));
    for (i, &c) in counts.iter().enumerate() {
        let y = if c == 0 { floor } else { c as f64 };
        p.push((edges[i], y));
        p.push((edges[i + 1], y));
    }
    p.push((edges[edges.len() - 1], floor));
    p
}

fn legend_line(color: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
}

// ---------------------------------------------------------------------------------------
// Two-sample histogram with ratio panel (input vs reconstruction; real vs generated)

struct Compare<'a> {
    title: String,
    x_label: String,
    a: (&'a str, &'a [f64]),
    b: (&'a str, &'a [f64]),
    ratio_label: String,
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
            .y_desc("jets per bin")
            .y_label_formatter(&|y| fmt_pow10(y.log10()))
            .label_style(font(TICK))
            .axis_desc_style(font(AXIS))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        let floor = 0.5;
        chart
            .draw_series(LineSeries::new(steps(&bins.edges, &ca, floor), C_A.stroke_width(2)))?
            .label(format!("{} ({} jets)", self.a.0, self.a.1.len()))
            .legend(legend_line(C_A));
        chart
            .draw_series(LineSeries::new(steps(&bins.edges, &cb, floor), C_B.stroke_width(2)))?
            .label(format!("{} ({} jets)", self.b.0, self.b.1.len()))
            .legend(legend_line(C_B));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(font(LEGEND))
            .draw()?;

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
        // Ratios above the axis are drawn as triangles at its top.
        let pts: Vec<(f64, f64)> = ca
            .iter()
            .zip(&cb)
            .enumerate()
            .filter(|(_, (&a, _))| a > 0)
            .map(|(i, (&a, &b))| (0.5 * (bins.edges[i] + bins.edges[i + 1]), b as f64 / a as f64))
            .collect();
        rc.draw_series(pts.iter().filter(|p| p.1 <= 2.0).map(|&p| Circle::new(p, 3, C_B.filled())))?;
        rc.draw_series(
            pts.iter().filter(|p| p.1 > 2.0).map(|&(x, _)| TriangleMarker::new((x, 1.93), 5, C_B.filled())),
        )?;
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
    };
    render(dir, name, &format!("{var}: input vs reconstruction"), (900, 680), &plot)
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
    };
    render(dir, name, &format!("{var}: real vs generated"), (900, 680), &plot)
}

// ---------------------------------------------------------------------------------------
// Residual histogram

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
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
                .label(line)
                .legend(|(x, y)| EmptyElement::at((x, y)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(font(LEGEND))
            .draw()?;
        Ok(())
    }
}

/// Residual histogram of one variable with mean, σ and central-68 % half-width in the legend.
/// `values` are the residuals ((out − in)/in, or out − in for η and φ); `x_label` says which.
pub fn residual_hist(dir: &Path, name: &str, title: &str, x_label: &str, values: &[f64]) -> Result<Figure> {
    let plot = Residual { title: title.to_string(), x_label: x_label.to_string(), values };
    render(dir, name, title, (900, 600), &plot)
}

// ---------------------------------------------------------------------------------------
// Loss curves

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
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(font(LEGEND))
            .draw()?;
        Ok(())
    }
}

/// Train and validation loss per epoch, log y.
pub fn loss_curves(dir: &Path, name: &str, history: &[EpochLoss]) -> Result<Figure> {
    render(dir, name, "Training history: loss per epoch", (900, 600), &Losses { history })
}

// ---------------------------------------------------------------------------------------
// Latent space

/// Viridis, sampled at 8 points and interpolated.
fn viridis(t: f64) -> RGBColor {
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

/// Blue (−1) – white (0) – red (+1).
fn diverging(v: f64) -> RGBColor {
    if !v.is_finite() {
        return RGBColor(190, 190, 190);
    }
    let v = v.clamp(-1.0, 1.0);
    let (r, g, b) = if v < 0.0 { (33.0, 102.0, 172.0) } else { (178.0, 24.0, 43.0) };
    let t = v.abs();
    let m = |c: f64| (255.0 + (c - 255.0) * t).round() as u8;
    RGBColor(m(r), m(g), m(b))
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
        let title = format!("Latent space: {k} of {} dimensions, {rows} jets (central 99 % per axis)", self.dim);
        let area = root.titled(&title, font(TITLE))?;
        let (w, h) = area.dim_in_pixel();
        let (left, bottom) = (70u32, 60u32);
        let pw = (w.saturating_sub(left + 16)) / k as u32;
        let ph = (h.saturating_sub(bottom + 8)) / k as u32;
        // About 1.2 √n bins per axis, 10 to 40.
        let nb = ((rows as f64).sqrt() * 1.2).clamp(10.0, 40.0) as usize;
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
                    let mut grid = vec![0u64; nb * nb];
                    for (&x, &y) in cols[j].iter().zip(&cols[i]) {
                        if x >= xl && x < xh && y >= yl && y < yh {
                            let a = ((x - xl) / (xh - xl) * nb as f64) as usize;
                            let c = ((y - yl) / (yh - yl) * nb as f64) as usize;
                            grid[c.min(nb - 1) * nb + a.min(nb - 1)] += 1;
                        }
                    }
                    let max = grid.iter().copied().max().unwrap_or(1).max(1) as f64;
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
            area.draw(&Text::new("log(1 + jets per cell)", (kx - kw, ky), font(13.0)))?;
            area.draw(&Text::new("0", (kx - kw, ky + 40), font(12.0)))?;
            area.draw(&Text::new("max", (kx - text_size("max", 12.0).0 as i32, ky + 40), font(12.0)))?;
        }
        Ok(())
    }
}

/// Pairwise 2-D histograms (lower triangle) and 1-D histograms (diagonal) of the first
/// `min(dim, max_dims)` latent dimensions; `latent` is row-major [rows × dim].
pub fn latent_pairs(dir: &Path, name: &str, latent: &[f32], dim: usize, max_dims: usize) -> Result<Figure> {
    let shown = dim.min(max_dims).max(1);
    let plot = Latent { latent, dim: dim.max(1), shown };
    render(dir, name, &format!("Latent space: pairwise histograms of {shown} of {dim} dimensions"), (1000, 1000), &plot)
}

// ---------------------------------------------------------------------------------------
// Correlation matrix

/// Pearson correlation matrix (row-major n × n) of the columns of `x` [rows × n];
/// NaN where a column has zero variance.
pub fn correlation(x: &[f64], n: usize) -> Vec<f64> {
    let rows = x.len().checked_div(n).unwrap_or(0);
    let mut mean = vec![0.0; n];
    for r in 0..rows {
        for c in 0..n {
            mean[c] += x[r * n + c];
        }
    }
    for m in &mut mean {
        *m /= rows.max(1) as f64;
    }
    let mut cov = vec![0.0; n * n];
    for r in 0..rows {
        let row = &x[r * n..(r + 1) * n];
        for a in 0..n {
            let da = row[a] - mean[a];
            for b in a..n {
                cov[a * n + b] += da * (row[b] - mean[b]);
            }
        }
    }
    let mut out = vec![f64::NAN; n * n];
    for a in 0..n {
        for b in a..n {
            let d = (cov[a * n + a] * cov[b * n + b]).sqrt();
            let v = if d > 0.0 { (cov[a * n + b] / d).clamp(-1.0, 1.0) } else { f64::NAN };
            out[a * n + b] = v;
            out[b * n + a] = v;
        }
    }
    out
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

// ---------------------------------------------------------------------------------------
// Hooks for later commands

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_labels() {
        assert_eq!(axis_label("pt", "GeV"), "pt [GeV]");
        assert_eq!(axis_label("Jet_mass", "MeV"), "Jet_mass [MeV]");
        assert_eq!(axis_label("eta", "GeV"), "η");
        assert_eq!(axis_label("phi", "GeV"), "φ [rad]");
        assert_eq!(var_kind("chEmEF"), VarKind::Fraction);
        assert_eq!(var_kind("nConstituents"), VarKind::Count);
        assert_eq!(var_kind("area"), VarKind::Other);
    }

    #[test]
    fn axis_ticks_resolve_narrow_ranges() {
        let f = axis_fmt(0.025);
        assert_eq!(f(&2.975), "2.975");
        assert_eq!(f(&3.0), "3");
        assert_eq!(f(&-5.55e-17), "0");
        let g = axis_fmt(2e5);
        assert_eq!(g(&150000.0), "1.5e5");
        assert_eq!(axis_fmt(4.0)(&0.5), "0.5");
    }

    #[test]
    fn numbers() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(1234.6), "1235");
        assert_eq!(fmt_num(0.012345), "0.0123");
        assert_eq!(fmt_num(1e7), "1.00e7");
        assert_eq!(fmt_pow10(3.0), "10³");
        assert_eq!(fmt_pow10(-5.0), "10⁻⁵");
    }

    #[test]
    fn auc_and_correlation() {
        assert!((roc_auc(&[]) - 0.5).abs() < 1e-12);
        assert!((roc_auc(&[(0.0, 1.0)]) - 1.0).abs() < 1e-12);
        let x = [1.0, 2.0, 5.0, 2.0, 4.0, 5.0, 4.0, 8.0, 5.0];
        let c = correlation(&x, 3);
        assert!((c[0] - 1.0).abs() < 1e-12 && (c[1] - 1.0).abs() < 1e-12);
        assert!(c[2].is_nan(), "constant column has no correlation: {c:?}");
    }

    #[test]
    fn log_binning_for_wide_positive_ranges() {
        let a: Vec<f64> = (0..100).map(|i| 10f64.powf(i as f64 / 20.0)).collect();
        let b = Binning::shared(&a, &a, 10);
        assert!(b.log);
        assert_eq!(b.counts(&a).iter().sum::<u64>(), 100);
        let z = vec![0.0; 10];
        let b = Binning::shared(&z, &z, 10);
        assert!(!b.log && b.edges[0] < 0.0 && b.edges[10] > 0.0);
        assert_eq!(b.counts(&z).iter().sum::<u64>(), 10);
    }
}
