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
                    // SAFETY: as the `SAFETY (each block)` note above says.
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
                    // SAFETY: as the `SAFETY (each block)` note above says.
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
                    // SAFETY: as the `SAFETY (each block)` note above says.
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
                    // SAFETY: as the `SAFETY (each block)` note above says.
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

/// Two row-major blocks of `rows` rows of `len` values, rows `a_rs` apart in the first and
/// `b_rs` apart in the second (a direct convolution's output rows and the input rows one
/// kernel tap reads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rows {
    pub rows: usize,
    pub len: usize,
    pub a_rs: usize,
    pub b_rs: usize,
}

impl Rows {
    /// Values a block with rows `rs` apart must hold (0 when empty).
    pub fn span(&self, rs: usize) -> usize {
        if self.rows == 0 || self.len == 0 {
            0
        } else {
            (self.rows - 1) * rs + self.len
        }
    }
    /// The contract of both kernels: each side at least its span.
    pub(crate) fn check(&self, kernel: &str, a: usize, b: usize) {
        if a < self.span(self.a_rs) || b < self.span(self.b_rs) {
            panic!(
                "hepae-kernels::{kernel}: slice lengths a {a}, b {b} for {self:?} (needs at least {} and {})",
                self.span(self.a_rs),
                self.span(self.b_rs)
            );
        }
    }
}

/// a[r·a_rs + t] += s·b[r·b_rs + t] (the product rounded, then the sum: no fused multiply-add,
/// so every set gives the scalar bits).
pub type RowsAxpyFn = fn(a: &mut [f32], b: &[f32], s: f32, g: &Rows);
/// Σ a[r·a_rs + t]·b[r·b_rs + t] in 16 partial sums, partial l taking the positions t ≡ l
/// (mod 16) of every row, rows in order; then the partials added 0 to 15 in order.
pub type RowsDotFn = fn(a: &[f32], b: &[f32], g: &Rows) -> f32;

/// a[r·a_rs + t] = b[r·b_rs + t] (a block of rows copied between row strides: an image
/// into its padded planes, a wide-row matrix cropped, and back).
pub type RowsCopyFn = fn(a: &mut [f32], b: &[f32], g: &Rows);

/// The SIMD body of [`RowsCopyFn`]: a masked load and store per W values of a row (no call
/// per row, rows of 10–40 values being the common case).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn rows_copy<S: Simd>(a: &mut [f32], b: &[f32], g: &Rows) {
    g.check("rows_copy", a.len(), b.len());
    for r in 0..g.rows {
        if g.len == 0 {
            break;
        }
        let (pa, pb) = (a[r * g.a_rs..].as_mut_ptr(), b[r * g.b_rs..].as_ptr());
        let mut t = 0;
        while t < g.len {
            let m = (g.len - t).min(S::W);
            // SAFETY: row r's `len` values lie inside `a` and `b` (the span check above), the
            // load and store masked to them; the ISA is enabled in the caller.
            unsafe { S::store(pa.add(t), S::load(pb.add(t), m), m) };
            t += S::W;
        }
    }
}

/// The SIMD body of [`RowsAxpyFn`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn rows_axpy<S: Simd>(a: &mut [f32], b: &[f32], s: f32, g: &Rows) {
    g.check("rows_axpy", a.len(), b.len());
    if g.len == 0 {
        return;
    }
    // SAFETY (each block): row r's `len` values lie inside `a` and `b` (the span check
    // above), every load and store masked to them; the ISA is enabled in the caller.
    // SAFETY: as the `SAFETY (each block)` note above says.
    let sv = unsafe { S::splat(s) };
    for r in 0..g.rows {
        let (pa, pb) = (a[r * g.a_rs..].as_mut_ptr(), b[r * g.b_rs..].as_ptr());
        let mut t = 0;
        while t < g.len {
            let m = (g.len - t).min(S::W);
            // SAFETY: as the `SAFETY (each block)` note above says.
            unsafe {
                let v = S::add(S::load(pa.add(t), m), S::mul(sv, S::load(pb.add(t), m)));
                S::store(pa.add(t), v, m);
            }
            t += S::W;
        }
    }
}

/// The SIMD body of [`RowsDotFn`]: the 16 partials as 16 / W vectors.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn rows_dot<S: Simd>(a: &[f32], b: &[f32], g: &Rows) -> f32 {
    g.check("rows_dot", a.len(), b.len());
    if g.len == 0 {
        return 0.0;
    }
    let parts = 16 / S::W;
    // SAFETY (each block): as in `rows_axpy`; a lane past a row's end loads 0 in both.
    let mut acc = unsafe { [S::zero(), S::zero()] };
    for r in 0..g.rows {
        let (pa, pb) = (a[r * g.a_rs..].as_ptr(), b[r * g.b_rs..].as_ptr());
        let mut t = 0;
        while t < g.len {
            for (q, acc) in acc.iter_mut().enumerate().take(parts) {
                let at = t + q * S::W;
                if at < g.len {
                    let m = (g.len - at).min(S::W);
                    // SAFETY: as the `SAFETY (each block)` note above says.
                    unsafe { *acc = S::add(*acc, S::mul(S::load(pa.add(at), m), S::load(pb.add(at), m))) };
                }
            }
            t += 16;
        }
    }
    let mut lanes = [0.0f32; 16];
    for (q, acc) in acc.iter().enumerate().take(parts) {
        // SAFETY: W lanes at q·W inside the 16 of `lanes`.
        unsafe { S::store(lanes.as_mut_ptr().add(q * S::W), *acc, S::W) };
    }
    lanes.iter().fold(0.0, |s, &v| s + v)
}
