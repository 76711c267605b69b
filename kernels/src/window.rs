//! The two copies that turn a convolution into a GEMM, one kernel tap at a time: a strided
//! row gather (im2col) and its adjoint, a strided scatter-add (col2im). The geometry is one
//! [`Strided`] value; the scalar reference is in `scalar.rs`, the SIMD body (strides 1 and
//! 2 vectorised, any other stride as the scalar loop) below, instantiated per ISA by
//! `crate::body::instantiate!`.
//!
//! Strides 1 and 2 are what convolutions use; a stride-2 row is two vector loads and one
//! lane permutation per W outputs, where a scalar loop moves one value at a time, and a
//! row of 10 or 20 outputs (a 10×10 or 20×20 image) is one or two masked operations.

use crate::check;
#[cfg(target_arch = "x86_64")]
use crate::simd::Simd;

/// `rows` rows of `len` values on the contiguous side (im2col's column-matrix row, one
/// output row after another), of which positions `lo..hi` meet the image: the t-th of those
/// is at `(t − lo)·step` from its row's start on the strided side, rows `rs` apart there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Strided {
    pub rows: usize,
    pub len: usize,
    pub lo: usize,
    pub hi: usize,
    pub rs: usize,
    pub step: usize,
}

impl Strided {
    /// Values the strided side must hold: up to the last row's last position (0 when no
    /// position meets the image).
    pub fn span(&self) -> usize {
        if self.rows == 0 || self.hi <= self.lo {
            0
        } else {
            (self.rows - 1) * self.rs + (self.hi - self.lo - 1) * self.step + 1
        }
    }
    /// The contract of both kernels: lo ≤ hi ≤ len, step ≥ 1, the contiguous side exactly
    /// rows·len values, the strided side at least [`Strided::span`].
    pub(crate) fn check(&self, kernel: &str, dense: usize, strided: usize) {
        if self.lo > self.hi || self.hi > self.len || self.step == 0 {
            panic!(
                "hepae-kernels::{kernel}: positions {}..{} of {} at step {} (needs lo ≤ hi ≤ len, step ≥ 1)",
                self.lo, self.hi, self.len, self.step
            );
        }
        check::product(kernel, "the contiguous side", dense, ("rows", self.rows), ("len", self.len));
        if strided < self.span() {
            panic!(
                "hepae-kernels::{kernel}: the strided side has {strided} values, the geometry {self:?} reaches {}",
                self.span()
            );
        }
    }
}

/// dst[r·len + t] = src[r·rs + (t − lo)·step] for lo ≤ t < hi, else 0.
pub type GatherFn = fn(dst: &mut [f32], src: &[f32], g: &Strided);
/// dst[r·rs + (t − lo)·step] += src[r·len + t] for lo ≤ t < hi (each target once per call).
pub type ScatterAddFn = fn(dst: &mut [f32], src: &[f32], g: &Strided);

/// The SIMD body of [`GatherFn`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn gather<S: Simd>(dst: &mut [f32], src: &[f32], g: &Strided) {
    g.check("window_gather", dst.len(), src.len());
    let n = g.hi - g.lo;
    for (r, row) in dst.chunks_exact_mut(g.len.max(1)).take(g.rows).enumerate() {
        // SAFETY: lo and len − hi zeros inside `row` (lo ≤ hi ≤ len, checked).
        unsafe {
            zeros::<S>(row.as_mut_ptr(), g.lo);
            zeros::<S>(row.as_mut_ptr().add(g.hi), g.len - g.hi);
        }
        if n == 0 {
            continue;
        }
        let (d, s) = (&mut row[g.lo..g.hi], &src[r * g.rs..]);
        // SAFETY (each block): `d` has n values; `s` has at least (n − 1)·step + 1 (the
        // span check above), and every load below is masked to the values that exist
        // from its offset in `s` (for stride 2, whole vectors where `s` runs on past the
        // span: the lanes past it are dropped by the masked store); the ISA is enabled in
        // the caller.
        match g.step {
            1 => {
                let mut t = 0;
                while t < n {
                    let m = (n - t).min(S::W);
                    unsafe { S::store(d.as_mut_ptr().add(t), S::load(s.as_ptr().add(t), m), m) };
                    t += S::W;
                }
            }
            2 => {
                let avail = s.len();
                let mut t = 0;
                while t < n {
                    let m = (n - t).min(S::W);
                    let (at, left) = (2 * t, avail - 2 * t);
                    unsafe {
                        let a = S::load(s.as_ptr().add(at), left.min(S::W));
                        let b = if left > S::W { S::load(s.as_ptr().add(at + S::W), left - S::W) } else { S::zero() };
                        S::store(d.as_mut_ptr().add(t), S::even_lanes(a, b), m);
                    }
                    t += S::W;
                }
            }
            step => {
                for (t, v) in d.iter_mut().enumerate() {
                    *v = s[t * step];
                }
            }
        }
    }
}

/// `len` zeros from `p`, a vector at a time.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn zeros<S: Simd>(p: *mut f32, len: usize) {
    let mut t = 0;
    while t < len {
        // SAFETY: `len` values at `p` (the caller's contract), the store masked to them.
        unsafe { S::store(p.add(t), S::zero(), (len - t).min(S::W)) };
        t += S::W;
    }
}

/// The SIMD body of [`ScatterAddFn`]: one addition per target, as the scalar loop, so the
/// result is bit-identical to it.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn scatter_add<S: Simd>(dst: &mut [f32], src: &[f32], g: &Strided) {
    g.check("window_scatter_add", src.len(), dst.len());
    let n = g.hi - g.lo;
    if n == 0 {
        return;
    }
    for (r, row) in src.chunks_exact(g.len.max(1)).take(g.rows).enumerate() {
        let (s, d) = (&row[g.lo..g.hi], &mut dst[r * g.rs..]);
        // SAFETY (each block): `s` has n values; `d` has at least (n − 1)·step + 1 (the
        // span check above), every load and store masked to those; the ISA is enabled in
        // the caller.
        match g.step {
            1 => {
                let mut t = 0;
                while t < n {
                    let m = (n - t).min(S::W);
                    unsafe {
                        let v = S::add(S::load(d.as_ptr().add(t), m), S::load(s.as_ptr().add(t), m));
                        S::store(d.as_mut_ptr().add(t), v, m);
                    }
                    t += S::W;
                }
            }
            2 => {
                let avail = 2 * n - 1;
                let mut t = 0;
                while t < n {
                    let m = (n - t).min(S::W);
                    let (at, left) = (2 * t, avail - 2 * t);
                    unsafe {
                        let (lo, hi) = S::spread_pairs(S::load(s.as_ptr().add(t), m));
                        let p = d.as_mut_ptr().add(at);
                        let a = S::load(p, left.min(S::W));
                        S::store(p, S::blend_even(a, S::add(a, lo)), left.min(S::W));
                        if left > S::W {
                            let b = S::load(p.add(S::W), left - S::W);
                            S::store(p.add(S::W), S::blend_even(b, S::add(b, hi)), left - S::W);
                        }
                    }
                    t += S::W;
                }
            }
            step => {
                for (t, v) in s.iter().enumerate() {
                    d[t * step] += *v;
                }
            }
        }
    }
}
