//! The geometry of a 2-D convolution window and the two copies that turn a convolution into
//! a GEMM: `im2col` (an image's k×k patches as the columns of a matrix) and its adjoint
//! `col2im` (columns summed back into an image). Shared by [`super::conv2d`] and
//! [`super::conv_transpose2d`] (a transposed convolution's forward is a convolution's input
//! gradient, and the other way round).

use hepae_kernels::window::Strided;
use hepae_kernels::Kernels;

/// A convolution of a (C, H, W) image with a k×k window moved by `stride`, the image padded
/// with `pad` zeros on every side, giving (OH, OW) window positions. Dilation 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    pub oh: usize,
    pub ow: usize,
}

impl Window {
    /// The window of a convolution over (c, h, w), with OH = ⌊(H + 2p − k)/s⌋ + 1 (and OW
    /// likewise; 0 where the padded image is smaller than the kernel).
    pub fn conv(c: usize, h: usize, w: usize, k: usize, stride: usize, pad: usize) -> Window {
        let out = |n: usize| if n + 2 * pad >= k && stride > 0 { (n + 2 * pad - k) / stride + 1 } else { 0 };
        Window { c, h, w, k, stride, pad, oh: out(h), ow: out(w) }
    }
    /// Rows of the column matrix: C·k·k.
    pub fn rows(&self) -> usize {
        self.c * self.k * self.k
    }
    /// Columns of the column matrix: OH·OW.
    pub fn cols(&self) -> usize {
        self.oh * self.ow
    }
    /// The output positions `o` in 0..n_out whose input coordinate o·s − p + q lies in 0..n_in:
    /// a range [lo, hi) (empty when none).
    pub(crate) fn valid(&self, q: usize, n_in: usize, n_out: usize) -> (usize, usize) {
        let (s, p) = (self.stride as isize, self.pad as isize);
        let q = q as isize;
        // o·s − p + q ≥ 0  ⇔  o ≥ ⌈(p − q)/s⌉;  o·s − p + q ≤ n_in − 1  ⇔  o ≤ ⌊(n_in − 1 + p − q)/s⌋.
        let lo = if p - q > 0 { (p - q + s - 1) / s } else { 0 };
        let top = n_in as isize - 1 + p - q;
        let hi = if top < 0 { 0 } else { (top / s + 1).min(n_out as isize) };
        let lo = lo.min(n_out as isize);
        (lo as usize, hi.max(lo) as usize)
    }
    /// Kernel tap (i, j) over output rows ylo..yhi (its valid ones) as a strided row copy:
    /// the geometry (output rows of OW positions, those in the image's columns on the image
    /// side at the stride, image rows s·W apart) and the offset of its first image value in
    /// a plane (0 when it reads none).
    fn tap(&self, i: usize, j: usize, ylo: usize, yhi: usize) -> (Strided, usize) {
        let (xlo, xhi) = self.valid(j, self.w, self.ow);
        let s = self.stride;
        let geo = Strided { rows: yhi - ylo, len: self.ow, lo: xlo, hi: xhi, rs: s * self.w, step: s };
        let at = if geo.span() == 0 { 0 } else { (ylo * s + i - self.pad) * self.w + xlo * s + j - self.pad };
        (geo, at)
    }
}

/// cols[(c·k + i)·k + j, y·OW + x] = img[c, y·s − p + i, x·s − p + j] (0 outside the image).
/// `img` is one (C, H, W) image, `cols` the [C·k·k × OH·OW] matrix (every element written).
/// Each (c, i, j) row is one call of the kernel set's strided gather (`kern.window_gather`).
pub fn im2col(cols: &mut [f32], img: &[f32], g: &Window, kern: &Kernels) {
    let (oh, ow, hw) = (g.oh, g.ow, g.h * g.w);
    let cols = &mut cols[..g.rows() * g.cols()];
    let img = &img[..g.c * hw];
    // Channel by channel, so that one plane stays in L1 while its k² taps read it and the
    // column matrix is written in order (a pure copy: the order is free).
    for c in 0..g.c {
        let plane = &img[c * hw..(c + 1) * hw];
        for i in 0..g.k {
            let (ylo, yhi) = g.valid(i, g.h, oh);
            for j in 0..g.k {
                let (geo, at) = g.tap(i, j, ylo, yhi);
                let row = &mut cols[((c * g.k + i) * g.k + j) * oh * ow..][..oh * ow];
                row[..ylo * ow].fill(0.0);
                row[yhi * ow..].fill(0.0);
                (kern.window_gather)(&mut row[ylo * ow..yhi * ow], &plane[at..], &geo);
            }
        }
    }
}

/// The adjoint of [`im2col`]: img[c, y·s − p + i, x·s − p + j] += cols[(c·k + i)·k + j, y·OW + x]
/// over every in-image position (`img` is *added* into; the caller zeroes it first). Each
/// (c, i, j) row is one call of the strided scatter-add (`kern.window_scatter_add`).
pub fn col2im(img: &mut [f32], cols: &[f32], g: &Window, kern: &Kernels) {
    let (oh, ow, hw) = (g.oh, g.ow, g.h * g.w);
    let cols = &cols[..g.rows() * g.cols()];
    let img = &mut img[..g.c * hw];
    // Channel by channel as in `im2col` (one plane in L1 while its taps add into it); the
    // channels are disjoint planes, so each pixel receives its terms in (i, j, y) order.
    for c in 0..g.c {
        let plane = &mut img[c * hw..(c + 1) * hw];
        for i in 0..g.k {
            let (ylo, yhi) = g.valid(i, g.h, oh);
            for j in 0..g.k {
                let (geo, at) = g.tap(i, j, ylo, yhi);
                if geo.span() == 0 {
                    continue;
                }
                let row = &cols[((c * g.k + i) * g.k + j) * oh * ow..][..oh * ow];
                (kern.window_scatter_add)(&mut plane[at..], &row[ylo * ow..yhi * ow], &geo);
            }
        }
    }
}

/// Per channel: x[c, :] = act(x[c, :] + bias\[c]) over `n` images of (C, HW), activation as in
/// the dense layer (LeakyReLU with its slope, identity, σ).
pub fn bias_act_channels(x: &mut [f32], bias: &[f32], n: usize, hw: usize, act: super::activation::Activation) {
    use super::activation::Activation;
    let c = bias.len();
    for img in x[..n * c * hw].chunks_exact_mut(c * hw) {
        for (plane, &b) in img.chunks_exact_mut(hw).zip(bias) {
            match act {
                Activation::Leaky { slope } => {
                    for v in plane.iter_mut() {
                        let u = *v + b;
                        *v = if u > 0.0 { u } else { slope * u };
                    }
                }
                Activation::Linear => plane.iter_mut().for_each(|v| *v += b),
                Activation::Sigmoid => {
                    plane.iter_mut().for_each(|v| *v += b);
                    super::activation::sigmoid_inplace(plane);
                }
            }
        }
    }
}

/// In place: d = d ⊙ act'(pre), read from the cached output `y` (LeakyReLU: the sign of y;
/// σ' = y(1 − y)).
pub fn act_backward(d: &mut [f32], y: &[f32], act: super::activation::Activation) {
    use super::activation::Activation;
    match act {
        Activation::Leaky { slope } => (hepae_kernels::kernels().leaky_backward)(d, &y[..d.len()], slope),
        Activation::Sigmoid => {
            for (g, &v) in d.iter_mut().zip(y) {
                *g *= v * (1.0 - v);
            }
        }
        Activation::Linear => {}
    }
}

/// acc\[c] += Σ over the n images and HW pixels of x[·, c, ·] (a bias gradient), image after
/// image, each plane over 16 interleaved partial sums (a fixed order: the kernel set's
/// `plane_sums_add`).
pub fn channel_sums_add(kern: &hepae_kernels::Kernels, acc: &mut [f32], x: &[f32], n: usize, hw: usize) {
    let c = acc.len();
    for img in x[..n * c * hw].chunks_exact((c * hw).max(1)) {
        (kern.plane_sums_add)(acc, img);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Ragged windows: odd sizes, strides 1–3, padding 0–2, kernels 1–5 (larger and smaller
    /// than the stride), rows wider than two AVX-512 vectors (the strided kernels' main loops).
    /// Shared with the tests of `im2col_planes`.
    pub(crate) fn windows() -> Vec<Window> {
        [
            (3, 7, 5, 3, 2, 1),
            (2, 6, 6, 4, 2, 1),
            (1, 5, 4, 2, 3, 0),
            (2, 4, 5, 3, 1, 2),
            (3, 9, 8, 4, 2, 2),
            (2, 9, 77, 3, 2, 1),
            (1, 5, 40, 3, 1, 1),
            (2, 9, 7, 1, 2, 0),
            (1, 8, 9, 5, 3, 2),
        ]
        .into_iter()
        .map(|(c, h, w, k, s, p)| Window::conv(c, h, w, k, s, p))
        .collect()
    }

    /// The input coordinate of output position o at tap q, if inside 0..n.
    fn at(o: usize, q: usize, g: &Window, n: usize) -> Option<usize> {
        (o * g.stride + q).checked_sub(g.pad).filter(|&v| v < n)
    }

    #[test]
    fn im2col_matches_its_definition_and_col2im_sums_in_the_reference_order() {
        let sets: Vec<_> = hepae_kernels::available_isas().into_iter().filter_map(hepae_kernels::kernels_for).collect();
        for (g, kern) in windows().into_iter().flat_map(|g| sets.iter().map(move |k| (g, *k))) {
            let img: Vec<f32> = (0..g.c * g.h * g.w).map(|v| (v as f32 * 0.37).sin()).collect();
            let cols_in: Vec<f32> = (0..g.rows() * g.cols()).map(|v| (v as f32 * 0.91).cos()).collect();
            let mut cols = vec![f32::NAN; g.rows() * g.cols()];
            im2col(&mut cols, &img, &g, kern);
            // The reference: every element by the definition, and col2im's sums in (c, i, j, y, x)
            // order, the order the tap-major loops must keep per pixel.
            let mut want_img = vec![0.0f32; img.len()];
            for c in 0..g.c {
                for i in 0..g.k {
                    for j in 0..g.k {
                        for y in 0..g.oh {
                            for x in 0..g.ow {
                                let r = ((c * g.k + i) * g.k + j) * g.cols() + y * g.ow + x;
                                let v = match (at(y, i, &g, g.h), at(x, j, &g, g.w)) {
                                    (Some(iy), Some(ix)) => {
                                        want_img[(c * g.h + iy) * g.w + ix] += cols_in[r];
                                        img[(c * g.h + iy) * g.w + ix]
                                    }
                                    _ => 0.0,
                                };
                                assert_eq!(cols[r].to_bits(), v.to_bits(), "{:?} im2col {g:?} at row {r}", kern.isa);
                            }
                        }
                    }
                }
            }
            let mut got = vec![0.0f32; img.len()];
            col2im(&mut got, &cols_in, &g, kern);
            for (t, (a, b)) in got.iter().zip(&want_img).enumerate() {
                assert_eq!(a.to_bits(), b.to_bits(), "{:?} col2im {g:?} at pixel {t}: {a} vs {b}", kern.isa);
            }
        }
    }
}
