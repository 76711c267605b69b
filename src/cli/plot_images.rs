//! `hepae plot` for a model of jet images: the average input image beside the average
//! reconstruction, single-jet examples (inputs above their reconstructions), the pixel-intensity
//! spectra of inputs and reconstructions, the loss curves and the latent pairs. Streams the
//! rows: memory is a few images plus a capped sample of pixel values, whatever the row count.

use super::plot::{loss_figure, PlotOptions, PlotSet};
use crate::cli::progress::Progress;
use crate::data::npy::Dataset;
use crate::encoder::{Decoder, Encoder};
use crate::engine::tensor::Shape;
use crate::error::{Error, Location, Result};
use crate::formats::model_file::SavedModel;
use crate::plot::{self, Figure};
use std::path::Path;

/// Single jets drawn in the examples figure.
const EXAMPLES: usize = 4;
/// Pixel values kept (each, inputs and reconstructions) for the spectra.
const SPECTRUM_VALUES: usize = 2_000_000;
/// Decades of the heat maps' colour scale.
const DECADES: f64 = 4.0;

/// Draws the image figures of `model` on rows `picked` of `data` into `dir`.
#[allow(clippy::too_many_arguments)]
pub fn plot_images(
    model: &SavedModel,
    model_path: &Path,
    data: &Dataset,
    shape: Shape,
    picked: &[u32],
    selected: usize,
    label: String,
    dir: &Path,
    opt: &PlotOptions,
) -> Result<PlotSet> {
    let Shape::Image { c, h, w } = shape else {
        return Err(Error::config("plot_images needs an image shape"));
    };
    let (n, d, hw) = (picked.len(), data.cols(), h * w);
    let batch = 1024usize.min(n.max(1));
    let mut enc = Encoder::new(model, batch);
    let mut dec = Decoder::new(model, batch);
    let k = enc.latent_dim();
    let (mut x, mut z, mut y) = (vec![0f32; batch * d], vec![0f32; batch * k], vec![0f32; batch * d]);
    let (mut sum_in, mut sum_out) = (vec![0f64; d], vec![0f64; d]);
    let example_rows: Vec<usize> = (0..EXAMPLES.min(n)).map(|i| i * n / EXAMPLES.min(n)).collect();
    let mut examples: Vec<(u32, Vec<f64>, Vec<f64>)> = Vec::new();
    // Every `stride`-th jet's pixels enter the spectra: at most about SPECTRUM_VALUES each.
    let stride = (n * d / SPECTRUM_VALUES).max(1);
    let (mut spec_in, mut spec_out) = (Vec::new(), Vec::new());
    let mut latent: Vec<f32> = Vec::with_capacity(n.min(100_000) * k);
    let mut progress = Progress::new("plot (model)", "jets", n as u64, opt.quiet)?;
    let mut done = 0usize;
    for chunk in picked.chunks(batch) {
        let m = chunk.len();
        data.gather(chunk, &mut x[..m * d]);
        enc.encode(&x[..m * d], m, &mut z[..m * k]).map_err(|b| {
            Error::data(
                Location::file(data.path()).row(chunk[b.row] as u64 + 1).column(data.columns()[b.col].clone()),
                "value is outside the domain of the model's normaliser",
            )
        })?;
        dec.decode(&z[..m * k], m, &mut y[..m * d]);
        if latent.len() < 100_000 * k {
            latent.extend_from_slice(&z[..m * k]);
        }
        for r in 0..m {
            let (xi, yo) = (&x[r * d..(r + 1) * d], &y[r * d..(r + 1) * d]);
            for p in 0..d {
                sum_in[p] += xi[p] as f64;
                sum_out[p] += yo[p] as f64;
            }
            if example_rows.contains(&(done + r)) {
                let f = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<f64>>();
                examples.push((chunk[r], f(xi), f(yo)));
            }
            if (done + r).is_multiple_of(stride) {
                spec_in.extend(xi.iter().filter(|v| **v > 0.0).map(|&v| v as f64));
                spec_out.extend(yo.iter().filter(|v| **v > 0.0).map(|&v| v as f64));
            }
        }
        done += m;
        progress.inc(m as u64);
    }
    progress.finish();

    let mut figures: Vec<Figure> = Vec::new();
    let mut notes = Vec::new();
    let nf = n as f64;
    let mean_in: Vec<f64> = sum_in.iter().map(|s| s / nf).collect();
    let mean_out: Vec<f64> = sum_out.iter().map(|s| s / nf).collect();
    let chan = |ci: usize| if c > 1 { format!(" (channel {ci})") } else { String::new() };
    let mut panels: Vec<(String, &[f64])> = Vec::new();
    for ci in 0..c {
        panels.push((format!("average input{}", chan(ci)), &mean_in[ci * hw..(ci + 1) * hw]));
        panels.push((format!("average reconstruction{}", chan(ci)), &mean_out[ci * hw..(ci + 1) * hw]));
    }
    figures.push(plot::image_panels(
        dir,
        "image_mean",
        &format!("Average image of {n} jets ({label}): input and reconstruction"),
        h,
        w,
        &panels,
        2,
        DECADES,
        "pixel intensity",
    )?);
    let mut panels: Vec<(String, &[f64])> = Vec::new();
    for (row, xi, _) in &examples {
        panels.push((format!("jet {} input", row + 1), &xi[..hw]));
    }
    for (row, _, yo) in &examples {
        panels.push((format!("jet {} reconstruction", row + 1), &yo[..hw]));
    }
    figures.push(plot::image_panels(
        dir,
        "image_examples",
        &format!("Single jets{}: inputs (top) and their reconstructions (bottom)", chan(0)),
        h,
        w,
        &panels,
        examples.len().max(1),
        DECADES,
        "pixel intensity",
    )?);
    // NAE: samples of the model (the end points of its Langevin chains, decoded from the
    // latent chain and refined in data space) beside the real jets of the examples figure.
    if model.meta.kind == crate::models::ModelKind::Nae {
        let nae_opt = model.meta.training.as_ref().map(|t| t.config.nae.clone()).unwrap_or_default();
        let m = EXAMPLES.min(n).max(1);
        let mut neg = crate::models::nae::sample_negatives(&model.ae, &nae_opt, m, 1);
        model.meta.normalizer.denormalize_rows(&mut neg);
        let neg: Vec<f64> = neg.iter().map(|&v| v as f64).collect();
        let mut panels: Vec<(String, &[f64])> = Vec::new();
        for (row, xi, _) in &examples {
            panels.push((format!("jet {} (data)", row + 1), &xi[..hw]));
        }
        for s in 0..m {
            panels.push((format!("chain sample {}", s + 1), &neg[s * d..s * d + hw]));
        }
        figures.push(plot::image_panels(
            dir,
            "nae_negatives",
            &format!("NAE{}: real jets (top) and samples of the model's Langevin chains (bottom)", chan(0)),
            h,
            w,
            &panels,
            m,
            DECADES,
            "pixel intensity",
        )?);
        notes.push(format!("NAE: nae_negatives shows {m} samples of the model's Langevin chains beside {m} real jets"));
    }
    // The spectra over the inputs' range: reconstructed pixels below the smallest input pixel
    // (a dense decoder leaves many tiny values) are counted in a note, not drawn.
    let floor = spec_in.iter().copied().fold(f64::INFINITY, f64::min);
    let below = spec_out.iter().filter(|&&v| v < floor).count();
    spec_out.retain(|&v| v >= floor);
    if spec_in.is_empty() || spec_out.is_empty() {
        notes.push("no pixel spectrum: no input or reconstructed pixel above 0".to_string());
    } else {
        if below > 0 {
            notes.push(format!(
                "pixel spectrum: {below} reconstructed pixels in (0, {}) (below the smallest input pixel) not drawn",
                plot::fmt_num(floor)
            ));
        }
        figures.push(plot::pixel_spectrum(
            dir,
            "pixel_spectrum",
            &format!("Pixel intensity, pixels > 0 ({} jets, {label})", n.div_ceil(stride)),
            "pixel intensity",
            &spec_in,
            &spec_out,
        )?);
    }
    loss_figure(model_path, dir, &mut figures, &mut notes)?;
    figures.push(plot::latent_pairs(dir, "latent", &latent, k, 6)?);
    Ok(PlotSet { figures, subset: label, rows_selected: selected, rows_plotted: n, notes })
}
