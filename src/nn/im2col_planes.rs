//! im2col over whole planes: the column matrix with each output row Wq positions wide
//! instead of OW, so that every (c, i, j) row of it is ONE contiguous copy of a plane.
//!
//! The padded image (H + 2p) × (W + 2p) is split once into its s² stride phases, plane
//! (c, a, b) holding ph[u, v] = img[c, u·s + a − p, v·s + b − p] (0 outside the image) over
//! Hq × Wq = ⌈(H + 2p)/s⌉ × ⌈(W + 2p)/s⌉ (that split is itself an im2col, with a window of
//! s×s at stride s). Tap (i, j) at output (y, x) reads img[c, y·s − p + i, x·s − p + j] =
//! ph(c, i mod s, j mod s)[y + ⌊i/s⌋, x + ⌊j/s⌋], so over output positions y·Wq + x it is the
//! contiguous range of that plane from ⌊i/s⌋·Wq + ⌊j/s⌋, of L = (OH − 1)·Wq + OW values:
//!   cols′[(c·k + i)·k + j, y·Wq + x] = cols[(c·k + i)·k + j, y·OW + x]   for x < OW,
//! and the Wq − OW positions past each output row are junk (values of the image or padding,
//! never kept: a GEMM's output columns there are dropped by [`Planes::crop`], and an
//! operand multiplied against them is zero there, written by [`Planes::spread`]). A GEMM
//! over cols′ computes each kept column exactly as over cols (the same K order).
//!
//! The adjoint: dcols′ rows are added into the phase planes over the same ranges (each
//! pixel's terms in (i, j) order, as `col2im`'s), then the phases into the image.

use super::im2col::{col2im, Window};
use hepae_kernels::phase_split::PhaseSplit;
use hepae_kernels::window::Rows;
use hepae_kernels::Kernels;

/// The whole-plane column matrix of window `g`.
#[derive(Clone, Copy, Debug)]
pub struct Planes {
    g: Window,
    /// The phase split: an s×s window at stride s over Hq × Wq positions.
    phase: Window,
    wq: usize,
    /// Values per phase plane (Hq·Wq) and per column-matrix row (L).
    plane: usize,
    /// L = (OH − 1)·Wq + OW (0 for an empty output).
    pub len: usize,
}

impl Planes {
    pub fn new(g: Window) -> Planes {
        let s = g.stride;
        let (hq, wq) = ((g.h + 2 * g.pad).div_ceil(s), (g.w + 2 * g.pad).div_ceil(s));
        let phase = Window { c: g.c, h: g.h, w: g.w, k: s, stride: s, pad: g.pad, oh: hq, ow: wq };
        let len = if g.oh == 0 || g.ow == 0 { 0 } else { (g.oh - 1) * wq + g.ow };
        Planes { g, phase, wq, plane: hq * wq, len }
    }
    /// Values from one output row to the next in the columns (Wq).
    pub fn row_stride(&self) -> usize {
        self.wq
    }
    /// Values of the phase planes (C·s²·Hq·Wq).
    pub fn phases_len(&self) -> usize {
        self.phase.rows() * self.plane
    }
    /// Values of the column matrix (C·k²·L).
    pub fn cols_len(&self) -> usize {
        self.g.rows() * self.len
    }
    /// The image's values into the phase planes (`kern.phase_split`): only the positions
    /// inside the image are written, the same ones for every image, so the padding stays
    /// whatever [`Planes::clear`] left there (zero it once per op call, not per image).
    pub fn phases(&self, ph: &mut [f32], img: &[f32], kern: &Kernels) {
        let g = &self.g;
        let split = PhaseSplit::padded(g.c, g.h, g.w, g.stride, g.pad);
        (kern.phase_split)(&mut ph[..self.phases_len()], &img[..g.c * g.h * g.w], &split);
    }
    /// Zeroes phase planes (the padding of every later [`Planes::phases`] into them).
    pub fn clear(&self, ph: &mut [f32]) {
        ph.fill(0.0);
    }
    /// Row (c, i, j) of the columns and its range of the phase planes: (plane offset, row).
    fn taps(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let (s, k) = (self.g.stride, self.g.k);
        (0..self.g.c).flat_map(move |c| {
            (0..k * k).map(move |t| {
                let (i, j) = (t / k, t % k);
                let plane = (c * s + i % s) * s + j % s;
                (plane * self.plane + (i / s) * self.wq + j / s, c * k * k + t)
            })
        })
    }
    /// The offset in the phase planes of each row of cols′, rows in order ((c·k + i)·k + j):
    /// the B operand of the implicit GEMMs (`super::plane_products`).
    pub fn offsets(&self) -> impl Iterator<Item = usize> + '_ {
        self.taps().map(|(at, _)| at)
    }
    /// cols′ [C·k² × L] from the phase planes.
    pub fn cols(&self, cols: &mut [f32], ph: &[f32]) {
        let len = self.len;
        for (at, r) in self.taps() {
            cols[r * len..][..len].copy_from_slice(&ph[at..][..len]);
        }
    }
    /// The adjoint of [`Planes::cols`]: each row added into its range of `ph` (which the
    /// caller zeroes first).
    pub fn add_cols(&self, ph: &mut [f32], cols: &[f32]) {
        let len = self.len;
        for (at, r) in self.taps() {
            for (d, &v) in ph[at..][..len].iter_mut().zip(&cols[r * len..][..len]) {
                *d += v;
            }
        }
    }
    /// The adjoint of [`Planes::phases`]: the phase planes added into the image (each pixel
    /// is in one phase).
    pub fn add_phases(&self, img: &mut [f32], ph: &[f32], kern: &Kernels) {
        col2im(img, ph, &self.phase, kern);
    }
    /// `n` planes of OH×OW into the rows of an [n × L] matrix, OW of every Wq values (the
    /// junk positions are not written).
    pub fn spread(&self, dst: &mut [f32], src: &[f32], n: usize, kern: &Kernels) {
        let (oh, ow) = (self.g.oh, self.g.ow);
        let rows = Rows { rows: oh, len: ow, a_rs: self.wq, b_rs: ow };
        for (d, s) in dst.chunks_exact_mut(self.len.max(1)).zip(src.chunks_exact((oh * ow).max(1))).take(n) {
            (kern.rows_copy)(d, s, &rows);
        }
    }
    /// The kept values of an [n × L] matrix as `n` planes of OH×OW.
    pub fn crop(&self, dst: &mut [f32], src: &[f32], n: usize, kern: &Kernels) {
        let (oh, ow) = (self.g.oh, self.g.ow);
        let rows = Rows { rows: oh, len: ow, a_rs: ow, b_rs: self.wq };
        for (d, s) in dst.chunks_exact_mut((oh * ow).max(1)).zip(src.chunks_exact(self.len.max(1))).take(n) {
            (kern.rows_copy)(d, s, &rows);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::im2col::im2col;
    use crate::nn::im2col::tests::windows;

    #[test]
    fn whole_plane_columns_are_im2col_with_rows_wq_wide_and_the_adjoint_is_col2im() {
        let kern = hepae_kernels::kernels();
        for g in windows() {
            let pl = Planes::new(g);
            let img: Vec<f32> = (0..g.c * g.h * g.w).map(|v| (v as f32 * 0.37).sin()).collect();
            let mut want = vec![0.0f32; g.rows() * g.cols()];
            im2col(&mut want, &img, &g, kern);
            let mut ph = vec![f32::NAN; pl.phases_len()];
            pl.clear(&mut ph);
            pl.phases(&mut ph, &img, kern);
            let mut cols = vec![f32::NAN; pl.cols_len()];
            pl.cols(&mut cols, &ph);
            let mut got = vec![f32::NAN; g.rows() * g.cols()];
            pl.crop(&mut got, &cols, g.rows(), kern);
            for (t, (a, b)) in got.iter().zip(&want).enumerate() {
                assert_eq!(a.to_bits(), b.to_bits(), "{g:?}: column value {t}");
            }
            // The adjoint, on columns that are zero at the junk positions (as every caller's).
            let dcols: Vec<f32> = (0..g.rows() * g.cols()).map(|v| (v as f32 * 0.91).cos()).collect();
            let mut want_img = vec![0.0f32; img.len()];
            col2im(&mut want_img, &dcols, &g, kern);
            let mut wide = vec![0.0f32; pl.cols_len()];
            pl.spread(&mut wide, &dcols, g.rows(), kern);
            let mut dph = vec![0.0f32; pl.phases_len()];
            pl.add_cols(&mut dph, &wide);
            let mut got_img = vec![0.0f32; img.len()];
            pl.add_phases(&mut got_img, &dph, kern);
            for (t, (a, b)) in got_img.iter().zip(&want_img).enumerate() {
                assert_eq!(a.to_bits(), b.to_bits(), "{g:?}: adjoint at pixel {t}: {a} vs {b}");
            }
        }
    }
}
