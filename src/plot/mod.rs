//! PNG and SVG figures, drawn with `plotters` from plain data (slices and small structs), so
//! every command can reuse them: `plot`/`report` today (the HTML page is [`report`]), and the hooks [`roc_curve`],
//! [`ratio_vs_error`], [`marginals`] and [`encode_cost_bars`] for `roc`, `compress`,
//! generative models and `bench`.
//!
//! Every figure is written twice, `DIR/NAME.png` (rendered into a buffer, encoded with `png`)
//! and `DIR/NAME.svg`, each through [`crate::io::atomic::write_atomic`]. Text is drawn with the
//! embedded DejaVu Sans (`assets/fonts/`, Bitstream Vera licence) through plotters' `ab_glyph`
//! feature: no system font or font library is needed. Histogram x axes that may be linear or
//! logarithmic (and the ROC's FPR axis) are drawn in log10 coordinates with labels 10ᵏ, so that
//! one code path serves both; loss and error axes use plotters' own log scale.

mod axes;
mod bars;
mod compare;
mod correlation;
mod energy;
mod image;
mod latent;
mod loss;
mod ratio_error;
pub mod report;
mod residual;
mod roc;
mod stats;

pub use axes::*;
pub use bars::*;
pub use compare::*;
pub use correlation::*;
pub use energy::*;
pub use image::*;
pub use latent::*;
pub use loss::*;
pub use ratio_error::*;
pub use residual::*;
pub use roc::*;
pub use stats::*;

use crate::error::{Error, Result};
use crate::io::atomic::write_atomic;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::{Path, PathBuf};

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
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

/// Draws the chart's legend box (white, framed, legend font) in the `pos` corner: every
/// figure's legend looks the same.
fn draw_legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    pos: SeriesLabelPosition,
) -> DResult<DB> {
    chart
        .configure_series_labels()
        .position(pos)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(font(LEGEND))
        .draw()
}

/// Adds a line of text without a marker to the chart's legend (a statistic, a note).
fn legend_note<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    line: String,
) -> DResult<DB> {
    chart
        .draw_series(std::iter::empty::<Circle<(X::ValueType, Y::ValueType), i32>>())?
        .label(line)
        .legend(|(x, y)| EmptyElement::at((x, y)));
    Ok(())
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

fn legend_line(color: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
}
