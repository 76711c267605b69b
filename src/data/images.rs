//! Constituents → jet images: the standard preprocessing of the top-tagging literature, with the
//! conventions of `../shared/tools/gen_jets.py` (`make_image`), which wrote the reference images.
//!
//! For one jet's constituents (pT, η, φ, E), padding rows (pT = 0) skipped:
//! 1. axis: η, φ of the constituents' summed four-momentum (massless-free: E is read, pT·cosh η
//!    is not assumed); Δφ is wrapped into [−π, π) as `(φ − φ_J + π) mod 2π − π`, so a jet across
//!    φ = ±π is one blob;
//! 2. centre: subtract the pT-weighted centroid (x, y) = Σ w (Δη, Δφ), w = pT / Σ pT
//!    (`--centre centroid`, the default), or the (Δη, Δφ) of the hardest anti-kT subjet of
//!    radius R (`--centre leading-subjet`, R = `--subjet-r`, 0.2; [`crate::data::subjets`]);
//! 3. rotate about the centre: the principal axis (the eigenvector of the larger eigenvalue of
//!    the pT-weighted covariance [[cxx, cxy], [cxy, cyy]] about the centroid) to vertical (+y);
//! 4. flip: x → −x if more pT lies at x < 0 than at x > 0, then the same for y, so that the most
//!    pT is upper right;
//! 5. pixelise: `size` × `size` bins over [−half_width, half_width]² with numpy's `histogram2d`
//!    edges (`linspace`, the right edge inside the last bin), pixel = Σ pT in f64, in constituent
//!    order; row 0 is the top (largest y), column 0 the left (smallest x);
//! 6. intensity: divide by the image's total (unit intensity; an image with no pT inside stays
//!    zero) or keep GeV.
//!
//! An image row is C·H·W values in C order with C = 1 (pT). Work is f64 throughout, rounded
//! once to f32.

use crate::data::npy::{Dataset, NpyWriter, RELEASE_BLOCK_ROWS};
use crate::engine::tensor::Shape;
use crate::error::{Error, Location, Result};
use std::f64::consts::PI;
use std::path::Path;

/// Values per constituent in a constituent array: (pT, η, φ, E).
pub const CONSTITUENT_FIELDS: usize = 4;
const FIELD_NAMES: [&str; 4] = ["pT", "eta", "phi", "E"];

/// What each pixel holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intensity {
    /// Pixels divided by the image's total pT: the image sums to 1.
    Unit,
    /// Σ pT in GeV.
    Gev,
}

impl std::str::FromStr for Intensity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "unit" => Ok(Intensity::Unit),
            "gev" => Ok(Intensity::Gev),
            _ => Err(Error::config(format!("--intensity '{s}': choose unit or gev"))),
        }
    }
}

/// What an image is centred on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Centre {
    /// The pT-weighted centroid of the constituents.
    Centroid,
    /// The hardest subjet of the constituents reclustered with anti-kT of radius `r`.
    LeadingSubjet { r: f64 },
}

/// The default subjet radius of `--centre leading-subjet`.
pub const SUBJET_R: f64 = 0.2;

impl Centre {
    /// `--centre NAME` with `--subjet-r r`.
    pub fn parse(name: &str, r: f64) -> Result<Centre> {
        match name {
            "centroid" => Ok(Centre::Centroid),
            "leading-subjet" => Ok(Centre::LeadingSubjet { r }),
            _ => Err(Error::config(format!("--centre '{name}': choose centroid or leading-subjet"))),
        }
    }
}

/// How images are made.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImageOptions {
    /// Pixels per side (H = W).
    pub size: usize,
    /// The image covers [−half_width, half_width]² in (Δη, Δφ) after centring.
    pub half_width: f64,
    pub intensity: Intensity,
    pub centre: Centre,
}

impl Default for ImageOptions {
    fn default() -> Self {
        ImageOptions { size: 40, half_width: 0.8, intensity: Intensity::Unit, centre: Centre::Centroid }
    }
}

impl ImageOptions {
    /// The row shape of the images: 1 × size × size.
    pub fn shape(&self) -> Shape {
        Shape::Image { c: 1, h: self.size, w: self.size }
    }

    /// Refuses sizes and widths that make no image.
    pub fn check(&self) -> Result<()> {
        if !(1..=1024).contains(&self.size) {
            return Err(Error::config(format!("--image-size {}: must be in 1..=1024 pixels", self.size)));
        }
        if !(self.half_width.is_finite() && self.half_width > 0.0 && self.half_width <= 10.0) {
            return Err(Error::config(format!("--half-width {}: must be in (0, 10]", self.half_width)));
        }
        if let Centre::LeadingSubjet { r } = self.centre {
            if !(r.is_finite() && r > 0.0 && r <= 2.0) {
                return Err(Error::config(format!("--subjet-r {r}: must be in (0, 2]")));
            }
        }
        Ok(())
    }

    /// numpy's `linspace(-w, w, size + 1)`: `i · step + start`, the last edge exactly `w`.
    fn edges(&self) -> Vec<f64> {
        let (start, stop, n) = (-self.half_width, self.half_width, self.size);
        let step = (stop - start) / n as f64;
        let mut e: Vec<f64> = (0..=n).map(|i| i as f64 * step + start).collect();
        e[n] = stop;
        e
    }
}

/// Per-jet scratch (no allocation per jet once sized).
#[derive(Default)]
pub struct ImageScratch {
    x: Vec<f64>,
    y: Vec<f64>,
    pt: Vec<f64>,
    pix: Vec<f64>,
    edges: Vec<f64>,
    subjets: crate::data::subjets::SubjetScratch,
}

/// Bin of `v` as numpy's `histogramdd` computes it: `searchsorted(edges, v, 'right') − 1`, with
/// `v == edges[last]` in the last bin; None outside.
fn bin(edges: &[f64], v: f64) -> Option<usize> {
    let n = edges.len() - 1;
    if v == edges[n] {
        return Some(n - 1);
    }
    let k = edges.partition_point(|&e| e <= v); // edges ≤ v
    (1..=n).contains(&k).then(|| k - 1)
}

/// Python's `(a − b + π) % 2π − π`: the floor modulus, so the result is in [−π, π).
fn wrap_dphi(a: f64, b: f64) -> f64 {
    let t = a - b + PI;
    let m = 2.0 * PI;
    let r = t % m;
    let r = if r != 0.0 && (r < 0.0) != (m < 0.0) { r + m } else { r };
    r - PI
}

/// Why a jet cannot become an image: the 0-based constituent and field (or None: no constituent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JetError {
    /// Constituent `k`'s field `f` (0 pT, 1 η, 2 φ, 3 E) is not finite, or pT < 0.
    Bad { k: usize, f: usize },
    /// No constituent has pT > 0.
    Empty,
}

/// Makes the image of one jet: `consts` holds M × 4 values (pT, η, φ, E), `out` size² pixels.
pub fn jet_image(
    consts: &[f32],
    opt: &ImageOptions,
    s: &mut ImageScratch,
    out: &mut [f32],
) -> std::result::Result<(), JetError> {
    let npix = opt.size * opt.size;
    assert_eq!(out.len(), npix, "out holds one image");
    assert_eq!(consts.len() % CONSTITUENT_FIELDS, 0, "constituents are rows of 4");
    if s.edges.len() != opt.size + 1 || s.edges.last() != Some(&opt.half_width) {
        s.edges = opt.edges();
    }
    s.x.clear();
    s.y.clear();
    s.pt.clear();
    let (mut px, mut py, mut pz, mut e) = (0f64, 0f64, 0f64, 0f64);
    for (k, c) in consts.chunks_exact(CONSTITUENT_FIELDS).enumerate() {
        if let Some(f) = c.iter().position(|v| !v.is_finite()) {
            return Err(JetError::Bad { k, f });
        }
        if c[0] < 0.0 {
            return Err(JetError::Bad { k, f: 0 });
        }
        if c[0] == 0.0 {
            continue; // padding
        }
        let (pt, eta, phi) = (c[0] as f64, c[1] as f64, c[2] as f64);
        px += pt * phi.cos();
        py += pt * phi.sin();
        pz += pt * eta.sinh();
        e += c[3] as f64;
        s.pt.push(pt);
        s.x.push(eta);
        s.y.push(phi);
    }
    let _ = e; // the axis is the direction of Σp; E only has to be finite
    if s.pt.is_empty() {
        return Err(JetError::Empty);
    }
    // 1. axis and relative coordinates
    let pt_j = px.hypot(py);
    let eta_j = if pt_j > 0.0 { (pz / pt_j).asinh() } else { 0.0 };
    let phi_j = py.atan2(px);
    for i in 0..s.pt.len() {
        s.x[i] -= eta_j;
        s.y[i] = wrap_dphi(s.y[i], phi_j);
    }
    // 2. centroid, and the centre (the centroid or the hardest subjet)
    let sum_pt: f64 = s.pt.iter().sum();
    let (mut mx, mut my) = (0f64, 0f64);
    for i in 0..s.pt.len() {
        let w = s.pt[i] / sum_pt;
        mx += w * s.x[i];
        my += w * s.y[i];
    }
    let (ox, oy) = match opt.centre {
        Centre::Centroid => (mx, my),
        Centre::LeadingSubjet { r } => {
            let h = crate::data::subjets::hardest_subjet(&s.pt, &s.x, &s.y, r, &mut s.subjets);
            h.map_or((mx, my), |h| (h.x, h.y))
        }
    };
    let (mut cxx, mut cyy, mut cxy) = (0f64, 0f64, 0f64);
    for i in 0..s.pt.len() {
        let w = s.pt[i] / sum_pt;
        let (dx, dy) = (s.x[i] - mx, s.y[i] - my);
        cxx += w * dx * dx;
        cyy += w * dy * dy;
        cxy += w * dx * dy;
        s.x[i] -= ox;
        s.y[i] -= oy;
    }
    // 3. principal axis θ (either sign: the flips below make the two equivalent) to +y
    let ang = 0.5 * (2.0 * cxy).atan2(cxx - cyy);
    let rot = PI / 2.0 - ang;
    let (sn, cs) = rot.sin_cos();
    let (mut left, mut right, mut down, mut up) = (0f64, 0f64, 0f64, 0f64);
    for i in 0..s.pt.len() {
        let (x, y) = (s.x[i], s.y[i]);
        let (xr, yr) = (cs * x - sn * y, sn * x + cs * y);
        s.x[i] = xr;
        s.y[i] = yr;
        if xr < 0.0 {
            left += s.pt[i];
        } else if xr > 0.0 {
            right += s.pt[i];
        }
        if yr < 0.0 {
            down += s.pt[i];
        } else if yr > 0.0 {
            up += s.pt[i];
        }
    }
    // 4. flips
    let fx = if left > right { -1.0 } else { 1.0 };
    let fy = if down > up { -1.0 } else { 1.0 };
    // 5. pixelise, row 0 at the top
    s.pix.clear();
    s.pix.resize(npix, 0.0);
    let n = opt.size;
    for i in 0..s.pt.len() {
        let (Some(bx), Some(by)) = (bin(&s.edges, fx * s.x[i]), bin(&s.edges, fy * s.y[i])) else { continue };
        s.pix[(n - 1 - by) * n + bx] += s.pt[i];
    }
    // 6. intensity
    let total: f64 = s.pix.iter().sum();
    let scale = match opt.intensity {
        Intensity::Unit if total > 0.0 => 1.0 / total,
        _ => 1.0,
    };
    for (o, &p) in out.iter_mut().zip(&s.pix) {
        *o = if scale == 1.0 { p as f32 } else { (p / total) as f32 };
    }
    Ok(())
}

/// What [`constituents_to_images`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct ImagesReport {
    pub jets: u64,
    pub shape: Shape,
    /// Jets with no pT inside the image window (written as zero images).
    pub empty_images: u64,
    /// Constituents per jet the input holds (M).
    pub max_constituents: usize,
    /// Jets left out because they have no constituents in the input (ROOT: no linked candidate).
    pub skipped: u64,
}

/// Checks that `data` is an (N, M, 4) constituent array; returns M.
pub fn constituent_count(data: &Dataset) -> Result<usize> {
    match data.shape() {
        Shape::Image { c: 1, h, w: CONSTITUENT_FIELDS } if data.rows() > 0 => Ok(h),
        Shape::Image { c: 1, h: _, w: CONSTITUENT_FIELDS } => Err(Error::data(Location::file(data.path()), "has no jets")),
        Shape::Image { c: 1, h, w } => Err(Error::data(
            Location::file(data.path()),
            format!(
                "constituents must be (jets, constituents, 4) with (pT, eta, phi, E) last, but the array is ({}, {h}, {w})",
                data.rows()
            ),
        )),
        s => Err(Error::data(
            Location::file(data.path()),
            format!(
                "constituents must be a 3-D array (jets, constituents, 4) of (pT, eta, phi, E); this one has {}",
                match s {
                    Shape::Features(f) => format!("shape ({}, {f})", data.rows()),
                    Shape::Image { c, h, w } => format!("shape ({}, {c}, {h}, {w})", data.rows()),
                }
            ),
        )),
    }
}

/// Reads an (N, M, 4) f32 constituent NPY through its memory map and writes N images
/// (N, 1, size, size) to `out`, atomically; `on_rows` gets the jets done so far. A jet with a
/// non-finite value, a negative pT or no constituent is refused naming the file, the 1-based jet
/// (row) and the constituent; nothing is written then.
pub fn constituents_to_images(
    input: &Path,
    out: &Path,
    opt: &ImageOptions,
    on_rows: &mut dyn FnMut(u64),
) -> Result<ImagesReport> {
    opt.check()?;
    let data = Dataset::open(input)?;
    let m = constituent_count(&data)?;
    let shape = opt.shape();
    let npix = shape.len();
    let mut writer = NpyWriter::create_images(out, shape)?;
    let chunk = 1024usize;
    let mut buf = vec![0f32; chunk * npix];
    let mut scratch = ImageScratch::default();
    let mut empty = 0u64;
    let mut start = 0usize;
    let mut released = 0usize;
    while start < data.rows() {
        let n = chunk.min(data.rows() - start);
        for (j, img) in buf[..n * npix].chunks_exact_mut(npix).enumerate() {
            let r = start + j;
            jet_image(data.row(r), opt, &mut scratch, img).map_err(|e| {
                let at = Location::file(input).row(r as u64 + 1);
                match e {
                    JetError::Bad { k, f } => {
                        let v = data.row(r)[k * CONSTITUENT_FIELDS + f];
                        let why = if v.is_finite() {
                            format!("pT {v} is negative")
                        } else {
                            format!("value {v} is not finite")
                        };
                        Error::data(at.column(format!("constituent {} {}", k + 1, FIELD_NAMES[f])), why)
                    }
                    JetError::Empty => Error::data(at, "jet has no constituent with pT > 0"),
                }
            })?;
            if img.iter().all(|&v| v == 0.0) {
                empty += 1;
            }
        }
        writer.write_rows(&buf[..n * npix])?;
        start += n;
        if start >= released + RELEASE_BLOCK_ROWS / 16 {
            data.release_rows(released, start);
            released = start;
        }
        on_rows(start as u64);
    }
    writer.finish()?;
    Ok(ImagesReport { jets: data.rows() as u64, shape, empty_images: empty, max_constituents: m, skipped: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_follow_numpy_histogram_edges() {
        let opt = ImageOptions { size: 4, half_width: 1.0, ..Default::default() };
        let e = opt.edges();
        assert_eq!(e, vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
        assert_eq!(bin(&e, -1.0), Some(0));
        assert_eq!(bin(&e, -0.5), Some(1), "an inner edge belongs to the bin on its right");
        assert_eq!(bin(&e, 1.0), Some(3), "the last edge is inside the last bin");
        assert_eq!(bin(&e, 1.0000001), None);
        assert_eq!(bin(&e, -1.0000001), None);
    }

    #[test]
    fn dphi_wraps_like_python_floor_modulus() {
        assert!((wrap_dphi(3.1, -3.1) - (6.2 - 2.0 * PI)).abs() < 1e-12);
        assert!((wrap_dphi(-3.1, 3.1) - (2.0 * PI - 6.2)).abs() < 1e-12);
        assert_eq!(wrap_dphi(0.5, 0.5), 0.0);
        assert_eq!(wrap_dphi(PI, 0.0), -PI, "the interval is [−π, π)");
    }

    /// Two prongs 1.0 apart in η on either side of φ = ±π: one blob, turned vertical, the
    /// harder prong on top, both in the middle column.
    #[test]
    fn a_two_prong_jet_across_the_phi_wrap_is_vertical_with_the_hard_prong_on_top() {
        let opt = ImageOptions { size: 5, half_width: 1.0, intensity: Intensity::Gev, centre: Centre::Centroid };
        let c = [3.0, 0.5, 3.13, 5.0, 1.0, -0.5, -3.13, 2.0];
        let mut img = [0f32; 25];
        jet_image(&c, &opt, &mut ImageScratch::default(), &mut img).unwrap();
        // centroid a quarter of the way from the hard prong: it sits at y ≈ +0.25 (row 1 of
        // edges −1, −0.6, −0.2, 0.2, 0.6, 1 counted from the top), the soft one at −0.75 (row 4).
        let mut want = [0f32; 25];
        want[5 + 2] = 3.0;
        want[4 * 5 + 2] = 1.0;
        assert_eq!(img, want);
        let unit = ImageOptions { intensity: Intensity::Unit, ..opt };
        jet_image(&c, &unit, &mut ImageScratch::default(), &mut img).unwrap();
        assert_eq!((img[7], img[22]), (0.75, 0.25), "unit intensity: the image sums to 1");
    }

    /// A hard prong of two constituents (50 + 40 GeV, 0.05 apart: one R = 0.2 subjet at
    /// η ≈ 0.42) beside four soft ones (10 GeV each, more than 0.2 from each other: four
    /// subjets) on the other side. The centroid lies 0.18 from the prong, towards the soft
    /// ones; centred on the leading subjet, the prong fills the central pixels (±0.1).
    #[test]
    fn leading_subjet_centring_puts_the_hardest_subjet_in_the_middle() {
        let mut c: Vec<f32> = vec![50.0, 0.40, 0.0, 50.0, 40.0, 0.45, 0.01, 40.0];
        for (eta, phi) in [(-0.2, -0.2), (-0.2, 0.2), (-0.3, 0.0), (0.05, 0.0)] {
            c.extend([10.0, eta, phi, 10.0]);
        }
        let opt = ImageOptions { size: 16, half_width: 0.8, intensity: Intensity::Gev, centre: Centre::Centroid };
        let sub = ImageOptions { centre: Centre::LeadingSubjet { r: SUBJET_R }, ..opt };
        let (mut a, mut b) = ([0f32; 256], [0f32; 256]);
        let mut s = ImageScratch::default();
        jet_image(&c, &opt, &mut s, &mut a).unwrap();
        jet_image(&c, &sub, &mut s, &mut b).unwrap();
        // the four central pixels of a 16×16 image over ±0.8 cover ±0.1 around the centre
        let central =
            |img: &[f32; 256]| [7 * 16 + 7, 7 * 16 + 8, 8 * 16 + 7, 8 * 16 + 8].iter().map(|&i| img[i]).sum::<f32>();
        assert_eq!(central(&b), 90.0, "the hard prong in the middle");
        assert_eq!(central(&a), 0.0, "the centroid is off the prong");
        assert_eq!(a.iter().sum::<f32>(), 130.0);
        assert_eq!(b.iter().sum::<f32>(), 130.0, "every constituent inside ±0.8 either way");
        // the rotation is the same, about another point: the axis through the prong and the two
        // soft constituents on it is vertical, so they lie in the two central columns
        let col = |img: &[f32; 256], x: usize| (0..16).map(|y| img[y * 16 + x]).sum::<f32>();
        assert_eq!(col(&b, 7) + col(&b, 8), 110.0, "{b:?}");
        assert!(ImageOptions { centre: Centre::LeadingSubjet { r: 0.0 }, ..opt }.check().is_err());
        assert!(Centre::parse("middle", 0.2).is_err());
    }

    #[test]
    fn bad_constituents_are_named() {
        let opt = ImageOptions::default();
        let mut img = vec![0f32; 1600];
        let mut s = ImageScratch::default();
        assert_eq!(jet_image(&[1.0, 0.0, f32::NAN, 1.0], &opt, &mut s, &mut img), Err(JetError::Bad { k: 0, f: 2 }));
        assert_eq!(
            jet_image(&[1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, 1.0], &opt, &mut s, &mut img),
            Err(JetError::Bad { k: 1, f: 0 })
        );
        assert_eq!(jet_image(&[0.0; 8], &opt, &mut s, &mut img), Err(JetError::Empty));
    }
}
