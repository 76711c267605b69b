//! A convolution's products over whole planes, through the kernel set's implicit GEMMs
//! (`rows_gemm`, `rows_gemm_dot`): the B operand's rows are ranges of one buffer (a padded or
//! phase-split image) at offsets, one per (channel, tap), so there is no column matrix to
//! build nor to pack. The offsets come from an iterator and are handed to the kernels in
//! chunks of a stack array (no allocation); chunking a sum over q continues it exactly
//! (the next chunk starts from the f32 the previous one left), so the result is the same
//! bits as one call.

use hepae_kernels::rows_gemm::{RowsGemm, RowsGemmDot};
use hepae_kernels::Kernels;

/// Offsets per kernel call.
const CHUNK: usize = 256;

/// c[i·ldc + j] (= or +=) Σ_q a[i·lda + q]·b[off_q + j] for i < m, j < n, q over `offs` in
/// order (the products of K = offs.len() (channel, tap) pairs).
#[allow(clippy::too_many_arguments)]
pub fn gemm_rows(
    kern: &Kernels,
    c: &mut [f32],
    ldc: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    offs: impl Iterator<Item = usize>,
    (m, n): (usize, usize),
    accumulate: bool,
) {
    let mut buf = [0usize; CHUNK];
    let (mut q0, mut fill, mut acc) = (0, 0, accumulate);
    let mut flush = |q0: usize, len: usize, acc: bool, buf: &[usize]| {
        let g = RowsGemm { m, n, k: len, lda, ldc, accumulate: acc };
        (kern.rows_gemm)(c, &a[q0..], b, &buf[..len], &g);
    };
    for o in offs {
        buf[fill] = o;
        fill += 1;
        if fill == CHUNK {
            flush(q0, fill, acc, &buf);
            (q0, fill, acc) = (q0 + CHUNK, 0, true);
        }
    }
    if fill > 0 || !acc {
        flush(q0, fill, acc, &buf);
    }
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

/// c[i·ldc + r] += Σ_images Σ_t a[img·a_is + i·lda + t]·b[img·b_is + off_r + t] for i < m and
/// r over `offs` (a weight gradient: one column per (channel, tap) pair).
pub fn dot_rows(
    kern: &Kernels,
    c: &mut [f32],
    ldc: usize,
    a: &[f32],
    b: &[f32],
    offs: impl Iterator<Item = usize>,
    d: DotGeom,
) {
    let mut buf = [0usize; CHUNK];
    let (mut r0, mut fill) = (0, 0);
    let mut flush = |r0: usize, len: usize, buf: &[usize]| {
        let g =
            RowsGemmDot { m: d.m, r: len, len: d.len, lda: d.lda, ldc, images: d.images, a_is: d.a_is, b_is: d.b_is };
        (kern.rows_gemm_dot)(&mut c[r0..], a, b, &buf[..len], &g);
    };
    for o in offs {
        buf[fill] = o;
        fill += 1;
        if fill == CHUNK {
            flush(r0, fill, &buf);
            (r0, fill) = (r0 + CHUNK, 0);
        }
    }
    if fill > 0 {
        flush(r0, fill, &buf);
    }
}

/// `planes` planes of `rows` rows of `len` values: source value (q, r, t) at
/// q·src_ps + r·src_rs + t; its destination at q·dst_ps + r·dst_rs + t·step.
/// (SHIM until the kernel lands.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaneRows {
    pub planes: usize,
    pub rows: usize,
    pub len: usize,
    pub src_ps: usize,
    pub src_rs: usize,
    pub dst_ps: usize,
    pub dst_rs: usize,
    pub step: usize,
}

/// dst[q·dst_ps + r·dst_rs + t·step] = leaky(src[q·src_ps + r·src_rs + t] + bias\[q], slope).
pub fn bias_act_rows(_kern: &Kernels, dst: &mut [f32], src: &[f32], bias: &[f32], slope: f32, g: &PlaneRows) {
    for q in 0..g.planes {
        for r in 0..g.rows {
            for t in 0..g.len {
                let u = src[q * g.src_ps + r * g.src_rs + t] + bias[q];
                dst[q * g.dst_ps + r * g.dst_rs + t * g.step] = if u > 0.0 { u } else { slope * u };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// More offsets than one chunk: the chunked sum is the one-call sum, bit for bit.
    #[test]
    fn chunked_offsets_give_the_bits_of_one_call() {
        let kern = hepae_kernels::kernels();
        let (m, n, k) = (3, 37, 2 * CHUNK + 5);
        let a: Vec<f32> = (0..m * k).map(|v| ((v * 37 % 101) as f32 - 50.0) / 50.0).collect();
        let b: Vec<f32> = (0..k + n + 3).map(|v| ((v * 13 % 97) as f32 - 40.0) / 40.0).collect();
        let offs: Vec<usize> = (0..k).map(|q| (q * 7) % (k + 3)).collect();
        let mut want = vec![0.5f32; m * n];
        hepae_kernels::rows_gemm::rows_gemm_scalar(
            &mut want,
            &a,
            &b,
            &offs,
            &RowsGemm { m, n, k, lda: k, ldc: n, accumulate: true },
        );
        let mut got = vec![0.5f32; m * n];
        gemm_rows(kern, &mut got, n, &a, k, &b, offs.iter().copied(), (m, n), true);
        assert!(got.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()));
        // β = 0 overwrites, even with no offsets at all.
        let mut zero = vec![f32::NAN; m * n];
        gemm_rows(kern, &mut zero, n, &a, k, &b, std::iter::empty(), (m, n), false);
        assert!(zero.iter().all(|&v| v == 0.0));
        // The dot form over the same chunks: each column its own dot product.
        let len = 20;
        let mut want = vec![1.0f32; m * k];
        let d = RowsGemmDot { m, r: k, len, lda: len, ldc: k, images: 1, a_is: 0, b_is: 0 };
        hepae_kernels::rows_gemm::rows_gemm_dot_scalar(&mut want, &a[..m * len], &b, &offs, &d);
        let mut got = vec![1.0f32; m * k];
        let geom = DotGeom { m, len, lda: len, images: 1, a_is: 0, b_is: 0 };
        dot_rows(kern, &mut got, k, &a[..m * len], &b, offs.iter().copied(), geom);
        assert!(got.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}
