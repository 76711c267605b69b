//! The forward of a transposed convolution split by output phase (the "sub-pixel" form):
//! output rows Y ≡ py and columns X ≡ px (mod s) receive only the kernel taps i ≡ py + p,
//! j ≡ px + p (mod s), so each of the s² phases is a plain stride-1 correlation of the input
//! with those taps, written straight into its pixels: no column matrix of O·k² rows and no
//! col2im scatter of it.
//!
//! Phase (py, px) holds out[o, m·s + py, n·s + px] for m < MY, n < NX; tap (i, j) of it
//! reads in[c, m + dy, n + dx] with dy = (py + p − i)/s, dx = (px + p − j)/s (exact). The
//! input is copied once per image into zero-bordered planes of Hp × Wp (P0 rows above, Q0
//! columns left, enough below and right for every tap), so that every tap is one contiguous
//! range of a plane and the phase, in rows of Wp (the Wp − NX values past each row are
//! junk, never kept), is one implicit GEMM over its taps, read in place:
//!   ph[O × L] = Σ_{c, t} W_t[o, c] · xp[c, (dy_t + P0)·Wp + dx_t + Q0 + ·],  W_t[o, c] = w[c, o, i, j],
//!   L = (MY − 1)·Wp + NX, the (c, t) pairs in order (c outer, taps (i, j) row-major).
//! The planes lie whole 64-byte lines apart, after a lead that puts each one's input row 0
//! on a line: a convolution's backward reads its output gradient there as the aligned A
//! operand of its weight gradient (`super::conv2d`).
//! With a stride of 1 there is one phase holding every tap (a convolution with the flipped
//! kernel: a stride-1 convolution's input gradient).

use super::im2col::Window;
use super::plane_products::{bias_act_rows, gemm_rows, line_len, Offsets, PlaneRows, LINE};
use hepae_kernels::plane_pairs::PairRows;
use hepae_kernels::window::Rows;
use hepae_kernels::Kernels;

/// The phase geometry of a transposed convolution of a (C, H, W) input (`g` is the window
/// of the convolution over its output whose input gradient it is: g.c = O, g.h × g.w the
/// output, g.oh × g.ow the input).
#[derive(Clone, Copy, Debug)]
pub(super) struct Phases {
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    oh: usize,
    ow: usize,
    k: usize,
    s: usize,
    p: usize,
    /// Padding above / left of the input in its planes, and their row stride (Hp × Wp
    /// values hold a plane).
    p0: usize,
    q0: usize,
    wp: usize,
    /// Planes `ps` ≥ Hp·Wp apart (whole 64-byte lines) after `lead` values, so that input row
    /// 0 of every plane, at lead + c·ps + P0·Wp + Q0, starts a line when the buffer does.
    lead: usize,
    ps: usize,
}

/// The taps of phase `ph` along one axis: (tap index i, input shift (ph + p − i)/s, exact)
/// for every i in 0..k with i ≡ ph + p (mod s).
fn taps(ph: usize, k: usize, s: usize, p: usize) -> impl Iterator<Item = (usize, isize)> + Clone {
    // The first such i is (ph + p) mod s, its shift ⌊(ph + p)/s⌋; each next one is s further
    // and shifts one less (s ≥ 1: the ops refuse a stride of 0).
    let (i0, d0) = ((ph + p) % s, ((ph + p) / s) as isize);
    (i0..k).step_by(s).zip(0..).map(move |(i, n): (usize, isize)| (i, d0 - n))
}

/// Outputs of phase `ph` along an axis of `n` outputs: ⌈(n − ph)/s⌉.
fn count(n: usize, ph: usize, s: usize) -> usize {
    if ph >= n {
        0
    } else {
        (n - ph).div_ceil(s)
    }
}

impl Phases {
    pub(super) fn new(g: &Window, c: usize) -> Phases {
        let (k, s, p) = (g.k, g.stride, g.pad);
        // The padding each axis needs: every tap's input index m + d in −P0 ..= n_in − 1 + P1.
        let pads = |n_out: usize, n_in: usize| {
            let (mut lo, mut hi) = (0isize, 0isize);
            for ph in 0..s.min(n_out) {
                let last = count(n_out, ph, s) as isize - 1;
                for (_, d) in taps(ph, k, s, p) {
                    lo = lo.max(-d);
                    hi = hi.max(last + d - (n_in as isize - 1));
                }
            }
            (lo as usize, hi as usize)
        };
        let ((p0, p1), (q0, q1)) = (pads(g.h, g.oh), pads(g.w, g.ow));
        let (hp, wp) = (p0 + g.oh + p1, q0 + g.ow + q1);
        Phases {
            c,
            h: g.oh,
            w: g.ow,
            o: g.c,
            oh: g.h,
            ow: g.w,
            k,
            s,
            p,
            p0,
            q0,
            wp,
            lead: (LINE - (p0 * wp + q0) % LINE) % LINE,
            ps: line_len(hp * wp),
        }
    }
    /// The longest phase in rows of Wp, ⌈OH/s⌉ rows, in whole 64-byte lines: the phases'
    /// output planes this far apart (their stores then split no line when `work` starts one).
    fn phase_len(&self) -> usize {
        line_len(self.oh.div_ceil(self.s) * self.wp)
    }
    /// Scratch: the padded input planes and two phases.
    pub(super) fn work_len(&self) -> usize {
        self.input_len() + 2 * self.o * self.phase_len()
    }
    /// Values of one image's padded input planes: the lead and C planes, in whole lines.
    pub(super) fn input_len(&self) -> usize {
        line_len(self.lead + self.c * self.ps)
    }
    /// Where input row 0, column 0 of plane 0 lies in the padded planes (a line start), the
    /// planes' stride and the row stride (Wp).
    pub(super) fn input_at(&self) -> (usize, usize, usize) {
        (self.lead + self.p0 * self.wp + self.q0, self.ps, self.wp)
    }
    /// One image's input (C×H×W) into its padded planes `xp` ([`Phases::input_len`] values):
    /// only the interior is written, so the borders stay as [`Phases::clear`] left them.
    pub(super) fn pad_input(&self, kern: &Kernels, xp: &mut [f32], x: &[f32]) {
        let rows = Rows { rows: self.h, len: self.w, a_rs: self.wp, b_rs: self.w };
        let planes = xp[self.lead..self.input_len()].chunks_mut(self.ps);
        for (d, src) in planes.zip(x.chunks_exact(self.h * self.w)).take(self.c) {
            (kern.rows_copy)(&mut d[self.p0 * self.wp + self.q0..], src, &rows);
        }
    }

    /// Values of the phases' packed weights ([`Phases::pack`]): O·C·k² (each tap is in one
    /// phase).
    pub(super) fn pack_len(&self) -> usize {
        self.o * self.c * self.k * self.k
    }
    /// The phases in order, (py, px) row-major.
    fn each_phase(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.s.min(self.oh)).flat_map(move |py| (0..self.s.min(self.ow)).map(move |px| (py, px)))
    }
    /// Phase `ph`'s taps along one axis (see [`taps`]).
    fn taps(&self, ph: usize) -> impl Iterator<Item = (usize, isize)> + Clone {
        taps(ph, self.k, self.s, self.p)
    }
    /// Each phase's offsets of its (c, tap) pairs in the padded planes, phase after phase (the
    /// B operand of [`Phases::forward`]'s products; listed once per op call, in plain loops).
    /// (Filled into `offs`, cleared first.)
    pub(super) fn offsets(&self, offs: &mut Offsets) {
        let (p0, q0, wp) = (self.p0 as isize, self.q0 as isize, self.wp as isize);
        offs.clear();
        for (py, px) in self.each_phase() {
            for ci in 0..self.c {
                let plane = (self.lead + ci * self.ps) as isize;
                for (_, dy) in self.taps(py) {
                    for (_, dx) in self.taps(px) {
                        offs.push((plane + (dy + p0) * wp + dx + q0) as usize);
                    }
                }
            }
        }
    }
    /// Each phase's weights as one row-major [O × C·T] matrix (T its taps, (i, j) row-major;
    /// column c·T + t), phase after phase: W_t[o, c] = w[c, o, i, j]. Once per batch.
    pub(super) fn pack(&self, weight: &[f32], packed: &mut [f32]) {
        let (c, o, k) = (self.c, self.o, self.k);
        let mut at = 0;
        for (py, px) in self.each_phase() {
            // The phase's taps as positions i·k + j in a k×k kernel, listed once.
            let taps = Offsets::new(self.taps(py).flat_map(|(i, _)| self.taps(px).map(move |(j, _)| i * k + j)));
            let taps = taps.as_slice();
            for q in 0..o {
                for ci in 0..c {
                    let w = &weight[(ci * o + q) * k * k..][..k * k];
                    for (d, &t) in packed[at..at + taps.len()].iter_mut().zip(taps) {
                        *d = w[t];
                    }
                    at += taps.len();
                }
            }
        }
    }

    /// Outputs of one image: `x` is C×H×W, `y` O×OH×OW (every value written), `packed` from
    /// [`Phases::pack`]. Each phase is one implicit GEMM over the padded planes
    /// (`super::plane_products`): K = C·T, each (c, tap) one offset; its pixels are then
    /// written straight from the phase as leaky(value + bias\[o], slope) (`bias` of O values;
    /// zeros and slope 1 for the plain product). The padded planes' borders must be zero on
    /// entry (see [`Phases::clear`]); they stay so.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn forward(
        &self,
        kern: &Kernels,
        packed: &[f32],
        offs: &[usize],
        x: &[f32],
        y: &mut [f32],
        (bias, slope): (&[f32], f32),
        work: &mut [f32],
    ) {
        let (xp, ph) = work.split_at_mut(self.input_len());
        self.pad_input(kern, xp, x);
        self.forward_padded(kern, packed, offs, xp, y, (bias, slope), ph);
    }

    /// [`Phases::forward`] from the image already in its padded planes `xp` (borders zero,
    /// [`Phases::pad_input`]); `work` holds two phases.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn forward_padded(
        &self,
        kern: &Kernels,
        packed: &[f32],
        offs: &[usize],
        xp: &[f32],
        y: &mut [f32],
        (bias, slope): (&[f32], f32),
        work: &mut [f32],
    ) {
        let (c, o, s) = (self.c, self.o, self.s);
        let xp = &xp[..self.input_len()];
        let ph = &mut work[..2 * o * self.phase_len()];
        let (mut at, mut oat) = (0, 0);
        // Phase (py, px)'s product into `dst` (rows `ldc` apart), the cursors moved on.
        let mut product = |py: usize, px: usize, dst: &mut [f32], ldc: usize| {
            let (my, nx) = (count(self.oh, py, s), count(self.ow, px, s));
            let len = (my - 1) * self.wp + nx;
            let kt = c * self.taps(py).count() * self.taps(px).count();
            // A phase without taps (k < s) is a zero product.
            let (a, offs) = (&packed[at..at + o * kt], &offs[oat..oat + kt]);
            gemm_rows(kern, &mut dst[..(o - 1) * ldc + len], ldc, a, kt, xp, offs, (o, len), false);
            (at, oat) = (at + o * kt, oat + kt);
            (my, nx, len)
        };
        let (ph_a, ph_b) = ph.split_at_mut(o * self.phase_len());
        for py in 0..s.min(self.oh) {
            if s == 2 && self.ow >= 2 {
                // Both column phases, then their rows interleaved into the output rows.
                let (my, nx, len) = product(py, 0, ph_a, self.phase_len());
                let (_, nx_b, _) = product(py, 1, ph_b, self.phase_len());
                let geo = PairRows {
                    planes: o,
                    rows: my,
                    len: nx,
                    len_b: nx_b,
                    src_ps: self.phase_len(),
                    src_rs: self.wp,
                    dst_ps: self.oh * self.ow,
                    dst_rs: s * self.ow,
                };
                debug_assert!(len <= self.phase_len());
                (kern.rows_bias_act_pair)(&mut y[py * self.ow..], ph_a, ph_b, bias, slope, &geo);
                continue;
            }
            for px in 0..s.min(self.ow) {
                let (my, nx, len) = product(py, px, ph_a, self.phase_len());
                // The phase's pixels: every s-th of every s-th row of each output plane.
                let geo = PlaneRows {
                    planes: o,
                    rows: my,
                    len: nx,
                    src_ps: self.phase_len(),
                    src_rs: self.wp,
                    dst_ps: self.oh * self.ow,
                    dst_rs: s * self.ow,
                    step: s,
                };
                debug_assert!(len <= self.phase_len());
                bias_act_rows(kern, &mut y[py * self.ow + px..], ph_a, bias, slope, &geo);
            }
        }
    }
    /// Zeroes the padded planes (once per batch: the images overwrite only their interiors).
    pub(super) fn clear(&self, work: &mut [f32], kern: &Kernels) {
        (kern.zero)(&mut work[..self.input_len()]);
    }
}

#[cfg(test)]
mod tests {
    /// The stepped taps are the definition's: every i < k with i ≡ ph + p (mod s), in order,
    /// with the exact shift (ph + p − i)/s.
    #[test]
    fn taps_are_the_kernel_taps_of_each_phase() {
        for (k, s, p) in (1..7usize).flat_map(|k| (1..5usize).flat_map(move |s| (0..k).map(move |p| (k, s, p)))) {
            for ph in 0..s {
                let want: Vec<(usize, isize)> = (0..k)
                    .filter(|&i| (ph + p + s * k - i).is_multiple_of(s))
                    .map(|i| (i, (ph as isize + p as isize - i as isize) / s as isize))
                    .collect();
                assert_eq!(super::taps(ph, k, s, p).collect::<Vec<_>>(), want, "k {k}, s {s}, p {p}, phase {ph}");
            }
        }
    }
}
