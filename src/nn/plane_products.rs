//! A convolution's products over whole planes, through the kernel set's implicit GEMMs
//! (`rows_gemm`, `rows_gemm_dot`): the B operand's rows are ranges of one buffer (a padded or
//! phase-split image) at offsets, one per (channel, tap), so there is no column matrix to
//! build nor to pack. The offsets are listed once per op call, on the stack ([`Offsets`]).

pub use hepae_kernels::plane_epilogue::PlaneRows;
use hepae_kernels::rows_gemm::{RowsGemm, RowsGemmDot};
use hepae_kernels::Kernels;

/// The most (channel, tap) pairs one product takes (C·k² of a convolution, each pair one
/// offset, kept on the stack): the conv ops refuse a layer with more (`check_pairs`).
pub const MAX_PAIRS: usize = 4096;

/// Values per 64-byte line (one AVX-512 vector): the rows a `rows_gemm_dot` reads as its A
/// operand start on such a line, so that none of its loads of them splits across two lines
/// (measured at the reference net's shapes: the weight gradients' products 10–25 % faster).
pub const LINE: usize = 16;

/// `n` rounded up to whole lines ([`LINE`]).
pub fn line_len(n: usize) -> usize {
    n.div_ceil(LINE) * LINE
}

/// `buf` from its first value on a 64-byte boundary (at most `LINE − 1` values skipped: a
/// workspace holding such a buffer asks for `LINE` values more).
pub fn line_start(buf: &mut [f32]) -> &mut [f32] {
    let skip = buf.as_ptr().align_offset(LINE * 4).min(buf.len());
    &mut buf[skip..]
}

/// A product's offsets, built once per op call (not per image) on the stack.
pub struct Offsets {
    buf: [usize; MAX_PAIRS],
    len: usize,
}

impl Offsets {
    /// The offsets `it` yields, in order. Panics past [`MAX_PAIRS`] (which the ops' checks
    /// rule out).
    pub fn new(it: impl Iterator<Item = usize>) -> Offsets {
        let mut o = Offsets::empty();
        for v in it {
            o.push(v);
        }
        o
    }
    /// No offsets yet.
    pub fn empty() -> Offsets {
        Offsets { buf: [0; MAX_PAIRS], len: 0 }
    }
    /// Back to no offsets (the buffer kept).
    pub fn clear(&mut self) {
        self.len = 0;
    }
    /// `v` after the others. Panics past [`MAX_PAIRS`].
    #[inline]
    pub fn push(&mut self, v: usize) {
        assert!(self.len < MAX_PAIRS, "more than {MAX_PAIRS} (channel, tap) pairs in one product");
        self.buf[self.len] = v;
        self.len += 1;
    }
    pub fn as_slice(&self) -> &[usize] {
        &self.buf[..self.len]
    }
}

/// The check every conv op makes: `channels`·k² pairs at most [`MAX_PAIRS`].
pub fn check_pairs(channels: usize, kernel: usize) -> Result<(), String> {
    match channels.checked_mul(kernel).and_then(|v| v.checked_mul(kernel)) {
        Some(p) if p <= MAX_PAIRS => Ok(()),
        _ => Err(format!(
            "{channels} channels × a {kernel}×{kernel} kernel exceed {MAX_PAIRS} (channel, tap) pairs per product"
        )),
    }
}

/// c[i·ldc + j] (= or +=) Σ_q a[i·lda + q]·b[offs\[q] + j] for i < m, j < n, q in order (the
/// products of K = offs.len() (channel, tap) pairs).
#[allow(clippy::too_many_arguments)]
pub fn gemm_rows(
    kern: &Kernels,
    c: &mut [f32],
    ldc: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    offs: &[usize],
    (m, n): (usize, usize),
    accumulate: bool,
) {
    let g = RowsGemm { m, n, k: offs.len(), lda, ldc, accumulate };
    (kern.rows_gemm)(c, a, b, offs, &g);
}

/// The geometry of [`dot_rows`]'s A operand: m rows of `len` values `lda` apart, image after
/// image `a_is` apart (and b's images `b_is` apart).
#[derive(Clone, Copy, Debug)]
pub struct DotGeom {
    pub m: usize,
    pub len: usize,
    pub lda: usize,
    pub images: usize,
    pub a_is: usize,
    pub b_is: usize,
}

/// c[i·ldc + r] += Σ_images Σ_t a[img·a_is + i·lda + t]·b[img·b_is + offs\[r] + t] for i < m
/// and r < offs.len() (a weight gradient: one column per (channel, tap) pair).
pub fn dot_rows(kern: &Kernels, c: &mut [f32], ldc: usize, a: &[f32], b: &[f32], offs: &[usize], d: DotGeom) {
    let g = RowsGemmDot {
        m: d.m,
        r: offs.len(),
        len: d.len,
        lda: d.lda,
        ldc,
        images: d.images,
        a_is: d.a_is,
        b_is: d.b_is,
    };
    (kern.rows_gemm_dot)(c, a, b, offs, &g);
}

/// dst[q·dst_ps + r·dst_rs + t·step] = leaky(src[q·src_ps + r·src_rs + t] + bias\[q], slope)
/// (the kernel set's `rows_bias_act`: a crop or a phase's pixels, with bias and activation).
pub fn bias_act_rows(kern: &Kernels, dst: &mut [f32], src: &[f32], bias: &[f32], slope: f32, g: &PlaneRows) {
    (kern.rows_bias_act)(dst, src, bias, slope, g);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_keep_their_order_and_the_pair_limit_is_checked() {
        let o = Offsets::new((0..10).map(|v| 3 * v + 1));
        assert_eq!(o.as_slice(), &[1, 4, 7, 10, 13, 16, 19, 22, 25, 28]);
        assert!(check_pairs(16, 3).is_ok());
        assert!(check_pairs(MAX_PAIRS, 1).is_ok());
        let e = check_pairs(MAX_PAIRS / 8, 3).unwrap_err();
        assert!(e.contains("4096 (channel, tap) pairs"), "{e}");
        assert!(check_pairs(usize::MAX, 2).is_err(), "overflow is refused, not wrapped");
    }
}
