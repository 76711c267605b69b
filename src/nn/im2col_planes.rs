//! im2col over whole planes: the column matrix with each output row Wq positions wide
//! instead of OW, so that every (c, i, j) row of it is ONE contiguous range of a plane, which
//! the implicit GEMMs (`super::plane_products`) read in place at its offset: the matrix is
//! never built.
//!
//! The padded image (H + 2p) × (W + 2p) is split once into its s² stride phases, plane
//! (c, a, b) holding ph[u, v] = img[c, u·s + a − p, v·s + b − p] (0 outside the image) over
//! Hq × Wq = ⌈(H + 2p)/s⌉ × ⌈(W + 2p)/s⌉ (that split is itself an im2col, with a window of
//! s×s at stride s; the `phase_split` kernel). Tap (i, j) at output (y, x) reads img[c, y·s − p + i, x·s − p + j] =
//! ph(c, i mod s, j mod s)[y + ⌊i/s⌋, x + ⌊j/s⌋], so over output positions y·Wq + x it is the
//! contiguous range of that plane from ⌊i/s⌋·Wq + ⌊j/s⌋, of L = (OH − 1)·Wq + OW values:
//!   cols′[(c·k + i)·k + j, y·Wq + x] = cols[(c·k + i)·k + j, y·OW + x]   for x < OW,
//! and the Wq − OW positions past each output row are junk (values of the image or padding,
//! never kept: a GEMM's output columns there are dropped by [`Planes::crop`], and an
//! operand multiplied against them is zero there, written by [`Planes::spread`]). A GEMM
//! over cols′ computes each kept column exactly as over cols (the same K order).

use super::im2col::Window;
use super::plane_products::Offsets;
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
    /// The image's values into the phase planes (`kern.phase_split`): only the positions
    /// inside the image are written, the same ones for every image, so the padding stays
    /// whatever [`Planes::clear`] left there (zero it once per op call, not per image).
    pub fn phases(&self, ph: &mut [f32], img: &[f32], kern: &Kernels) {
        let g = &self.g;
        let split = PhaseSplit::padded(g.c, g.h, g.w, g.stride, g.pad);
        (kern.phase_split)(&mut ph[..self.phases_len()], &img[..g.c * g.h * g.w], &split);
    }
    /// Zeroes phase planes (the padding of every later [`Planes::phases`] into them).
    pub fn clear(&self, ph: &mut [f32], kern: &Kernels) {
        (kern.zero)(ph);
    }
    /// The offset in the phase planes of each row of cols′, rows in order ((c·k + i)·k + j):
    /// the B operand of the implicit GEMMs (`super::plane_products`). Row (c, i, j) reads
    /// phase (i mod s, j mod s) of plane c from row ⌊i/s⌋, column ⌊j/s⌋ (listed once per op
    /// call, in plain loops: the taps' phases and shifts are stepped, not divided out).
    /// (Filled into the caller's `offs`, which is cleared first: a returned [`Offsets`] is a
    /// 32 KiB copy.)
    pub fn offsets(&self, offs: &mut Offsets) {
        let (s, k) = (self.g.stride, self.g.k);
        offs.clear();
        for c in 0..self.g.c {
            let (mut ia, mut ib) = (0, 0);
            for _ in 0..k {
                let (mut ja, mut jb) = (0, 0);
                for _ in 0..k {
                    offs.push(((c * s + ia) * s + ja) * self.plane + ib * self.wq + jb);
                    (ja, jb) = if ja + 1 == s { (0, jb + 1) } else { (ja + 1, jb) };
                }
                (ia, ib) = if ia + 1 == s { (0, ib + 1) } else { (ia + 1, ib) };
            }
        }
    }
    /// `n` planes of OH×OW into the rows of an [n × L] matrix whose rows are `stride` ≥ L
    /// apart, OW of every Wq values (the junk positions, and the values between rows, are not
    /// written).
    pub fn spread(&self, dst: &mut [f32], stride: usize, src: &[f32], n: usize, kern: &Kernels) {
        let (oh, ow) = (self.g.oh, self.g.ow);
        assert!(stride >= self.len, "spread: rows {stride} apart hold less than L = {}", self.len);
        let rows = Rows { rows: oh, len: ow, a_rs: self.wq, b_rs: ow };
        for (d, s) in dst.chunks_mut(stride.max(1)).zip(src.chunks_exact((oh * ow).max(1))).take(n) {
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

    /// Row r of the column matrix at output (y, x) is the phase planes' value at offset r
    /// plus y·Wq + x: every kept column of im2col, bit for bit; spread and crop are inverse.
    #[test]
    fn the_offsets_into_the_phase_planes_read_im2col_with_rows_wq_wide() {
        let kern = hepae_kernels::kernels();
        for g in windows() {
            let pl = Planes::new(g);
            let img: Vec<f32> = (0..g.c * g.h * g.w).map(|v| (v as f32 * 0.37).sin()).collect();
            let mut want = vec![0.0f32; g.rows() * g.cols()];
            im2col(&mut want, &img, &g, kern);
            let mut ph = vec![f32::NAN; pl.phases_len()];
            pl.clear(&mut ph, kern);
            pl.phases(&mut ph, &img, kern);
            let mut offs = Offsets::empty();
            pl.offsets(&mut offs);
            let offs = offs.as_slice();
            assert_eq!(offs.len(), g.rows());
            for (r, &at) in offs.iter().enumerate() {
                for y in 0..g.oh {
                    for x in 0..g.ow {
                        let (a, b) = (ph[at + y * pl.row_stride() + x], want[r * g.cols() + y * g.ow + x]);
                        assert_eq!(a.to_bits(), b.to_bits(), "{g:?}: row {r} at ({y}, {x})");
                    }
                }
            }
            let mut wide = vec![f32::NAN; g.rows() * pl.len];
            pl.spread(&mut wide, pl.len, &want, g.rows(), kern);
            let mut back = vec![f32::NAN; want.len()];
            pl.crop(&mut back, &wide, g.rows(), kern);
            assert!(back.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()), "{g:?}");
            // Rows further apart: the same rows, and nothing written between them.
            let stride = pl.len + 5;
            let mut apart = vec![f32::NAN; g.rows() * stride];
            pl.spread(&mut apart, stride, &want, g.rows(), kern);
            for r in 0..g.rows() {
                let (row, gap) = apart[r * stride..][..stride].split_at(pl.len);
                let mut same = row.iter().zip(&wide[r * pl.len..][..pl.len]);
                assert!(same.all(|(a, b)| a.to_bits() == b.to_bits()), "{g:?}: row {r}");
                assert!(gap.iter().all(|v| v.is_nan()), "{g:?}: written past row {r}");
            }
        }
    }
}
