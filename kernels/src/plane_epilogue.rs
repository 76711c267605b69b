//! A convolution's epilogue in one pass: the implicit GEMM's output rows (wider than the
//! image, or one stride phase of a transposed convolution) read once, the per-plane bias
//! added, LeakyReLU applied, and the result stored into the dense output plane at a column
//! step of 1 (a crop: the junk positions past `len` are dropped) or s (a phase scatter: only
//! every s-th value of a destination row is this phase's; the others are left untouched).
//!
//! The geometry is one [`PlaneRows`] value; [`rows_bias_act_scalar`] is the reference, and
//! the SIMD body (steps 1 and 2 vectorised, any other step the scalar loop) below,
//! instantiated per ISA by `crate::body::instantiate!`, gives the same bits: one addition,
//! one comparison and one multiplication per value, as the reference.
//!
//! Use (one image, O output channels, output planes Ho×Wo):
//! - crop of a GEMM output [O × ldc] in rows of Wq ≥ Wo: planes O, rows Ho, len Wo,
//!   src_ps ldc, src_rs Wq, dst_ps Ho·Wo, dst_rs Wo, step 1;
//! - phase (py, px) of a stride-s transposed convolution, its GEMM rows of Wp ≥ len: dst =
//!   `&mut out[py·Wo + px..]`, rows and len the phase's counts, src_rs Wp, dst_ps Ho·Wo,
//!   dst_rs s·Wo, step s (the other phases' values in between are left as they are).

#[cfg(target_arch = "x86_64")]
use crate::simd::Simd;

/// `planes` planes of `rows` rows of `len` values: source value (q, r, t) at
/// q·src_ps + r·src_rs + t; its destination at q·dst_ps + r·dst_rs + t·step.
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

/// dst[q·dst_ps + r·dst_rs + t·step] = if u > 0 { u } else { slope·u },
/// u = src[q·src_ps + r·src_rs + t] + bias\[q], planes, rows and positions in order (slope = 1:
/// the identity; NaN propagates as u·slope = NaN). bias.len() = planes. Only those dst values
/// are written; a zero-size geometry touches nothing.
pub type RowsBiasActFn = fn(dst: &mut [f32], src: &[f32], bias: &[f32], slope: f32, g: &PlaneRows);

impl PlaneRows {
    /// Values `src` must hold: its last value's index + 1 (0 for a zero-size geometry; None
    /// when that index overflows `usize`).
    pub fn src_span(&self) -> Option<usize> {
        span(self.planes, self.rows, self.len, self.src_ps, self.src_rs, 1)
    }
    /// Values `dst` must hold: its last value's index + 1, (planes − 1)·dst_ps +
    /// (rows − 1)·dst_rs + (len − 1)·step + 1 (0 for a zero-size geometry; None on overflow).
    pub fn dst_span(&self) -> Option<usize> {
        span(self.planes, self.rows, self.len, self.dst_ps, self.dst_rs, self.step)
    }
    /// The contract of [`RowsBiasActFn`]: step ≥ 1, one bias per plane, `src` and `dst` at
    /// least their spans. Panics naming the kernel and every length otherwise, before any
    /// value is touched.
    pub(crate) fn check(&self, kernel: &str, dst: usize, src: usize, bias: usize) {
        let bad = |what: &str| -> ! {
            panic!("hepae-kernels::{kernel}: {what} (dst {dst}, src {src}, bias {bias}, {self:?})")
        };
        if self.step == 0 {
            bad("needs step ≥ 1");
        }
        if bias != self.planes {
            bad(&format!("needs one bias per plane (bias.len() = planes = {})", self.planes));
        }
        match (self.src_span(), self.dst_span()) {
            (Some(s), Some(d)) => {
                if src < s {
                    bad(&format!("src must hold {s} values (its last value's index + 1)"));
                }
                if dst < d {
                    bad(&format!("dst must hold {d} values (its last value's index + 1)"));
                }
            }
            _ => bad("the geometry's last index overflows usize"),
        }
    }
}

/// (planes − 1)·ps + (rows − 1)·rs + (len − 1)·step + 1 in checked arithmetic, 0 when any of
/// planes, rows, len is 0.
fn span(planes: usize, rows: usize, len: usize, ps: usize, rs: usize, step: usize) -> Option<usize> {
    if planes == 0 || rows == 0 || len == 0 {
        return Some(0);
    }
    let last = (planes - 1).checked_mul(ps)?.checked_add((rows - 1).checked_mul(rs)?)?;
    last.checked_add((len - 1).checked_mul(step)?)?.checked_add(1)
}

/// The reference of [`RowsBiasActFn`].
pub fn rows_bias_act_scalar(dst: &mut [f32], src: &[f32], bias: &[f32], slope: f32, g: &PlaneRows) {
    g.check("rows_bias_act", dst.len(), src.len(), bias.len());
    if g.rows == 0 || g.len == 0 {
        return;
    }
    for (q, &b) in bias.iter().enumerate() {
        for r in 0..g.rows {
            let (s, d) = (q * g.src_ps + r * g.src_rs, q * g.dst_ps + r * g.dst_rs);
            for t in 0..g.len {
                let u = src[s + t] + b;
                dst[d + t * g.step] = if u > 0.0 { u } else { slope * u };
            }
        }
    }
}

/// The SIMD body of [`RowsBiasActFn`]: per row, W values at a time, a masked load, the bias
/// added, the slope applied by a select, then a masked store of exactly `len` values (step 1),
/// or the W results spread over the two destination vectors they fall in and blended into
/// their even lanes, the odd lanes (other phases) stored back as loaded (step 2).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn rows_bias_act<S: Simd>(dst: &mut [f32], src: &[f32], bias: &[f32], slope: f32, g: &PlaneRows) {
    g.check("rows_bias_act", dst.len(), src.len(), bias.len());
    let n = g.len;
    if g.rows == 0 || n == 0 {
        return;
    }
    // SAFETY: register-only; the ISA is enabled in the caller.
    let sv = unsafe { S::splat(slope) };
    for (q, &b) in bias.iter().enumerate() {
        // SAFETY: register-only; the ISA is enabled in the caller.
        let bv = unsafe { S::splat(b) };
        for r in 0..g.rows {
            let (s, d) = (&src[q * g.src_ps + r * g.src_rs..], &mut dst[q * g.dst_ps + r * g.dst_rs..]);
            // SAFETY (each block): `s` holds the row's n values and `d` its (n − 1)·step + 1
            // (the span check above: every row's last index is at most the geometry's last);
            // every load and store below is masked to those; the ISA is enabled in the caller.
            match g.step {
                1 => {
                    let mut t = 0;
                    while t < n {
                        let m = (n - t).min(S::W);
                        // SAFETY: as the `SAFETY (each block)` note above says.
                        unsafe {
                            let u = S::add(S::load(s.as_ptr().add(t), m), bv);
                            S::store(d.as_mut_ptr().add(t), S::select_pos(u, u, S::mul(u, sv)), m);
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
                            let u = S::add(S::load(s.as_ptr().add(t), m), bv);
                            let (lo, hi) = S::spread_pairs(S::select_pos(u, u, S::mul(u, sv)));
                            let p = d.as_mut_ptr().add(at);
                            S::store(p, S::blend_even(S::load(p, left.min(S::W)), lo), left.min(S::W));
                            if left > S::W {
                                let rest = left - S::W;
                                S::store(p.add(S::W), S::blend_even(S::load(p.add(S::W), rest), hi), rest);
                            }
                        }
                        t += S::W;
                    }
                }
                step => {
                    for (t, &v) in s[..n].iter().enumerate() {
                        let u = v + b;
                        d[t * step] = if u > 0.0 { u } else { slope * u };
                    }
                }
            }
        }
    }
}
