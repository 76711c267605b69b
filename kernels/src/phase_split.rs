//! A strided convolution's phase split: each image plane, zero-padded by `pad` on every
//! side, cut into its s² stride phases, phase (a, b) holding ph[u, v] = img[u·s + a − pad,
//! v·s + b − pad] over hq × wq positions. The kernel writes only the image's pixels (the
//! interior of each phase plane) and reads each image row once; the padding positions are
//! the caller's: it zeroes the phase planes once per op call, and since every image writes
//! exactly the same interior positions, the borders stay zero for every later image.
//!
//! The geometry is one [`PhaseSplit`] value; [`phase_split_scalar`] is the reference and the
//! SIMD body below, instantiated per ISA by `crate::body::instantiate!`, gives the same bits
//! (a permutation: loads, lane permutes and stores only): s = 1 is a row copy at offset
//! (pad, pad); s = 2 deinterleaves each row of w values, 2·W at a time, into its even and odd
//! columns ([`Simd::even_lanes`], [`Simd::odd_lanes`]), each a contiguous run of one phase
//! row; any other s is the scalar loop.

#[cfg(target_arch = "x86_64")]
use crate::simd::Simd;

/// `planes` image planes of h×w (plane c at c·h·w in src) split into stride phases: plane c's
/// phase (a, b) (a, b < s) is the hq×wq plane at ((c·s + a)·s + b)·hq·wq in dst.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhaseSplit {
    pub planes: usize,
    pub h: usize,
    pub w: usize,
    pub s: usize,
    pub pad: usize,
    pub hq: usize,
    pub wq: usize,
}

/// For every c, y < h, x < w: with (u, a) = ((y + pad) / s, (y + pad) % s) and
/// (v, b) = ((x + pad) / s, (x + pad) % s):
///   dst[(((c·s + a)·s + b)·hq + u)·wq + v] = src[(c·h + y)·w + x].
/// Nothing else in dst is touched (the caller keeps the borders zero).
pub type PhaseSplitFn = fn(dst: &mut [f32], src: &[f32], g: &PhaseSplit);

impl PhaseSplit {
    /// The split of a padded convolution input: hq × wq = ⌈(h + 2·pad)/s⌉ × ⌈(w + 2·pad)/s⌉
    /// (0 × 0 for s = 0, which the kernels refuse).
    pub fn padded(planes: usize, h: usize, w: usize, s: usize, pad: usize) -> PhaseSplit {
        let q = |n: usize| if s == 0 { 0 } else { (n + 2 * pad).div_ceil(s) };
        PhaseSplit { planes, h, w, s, pad, hq: q(h), wq: q(w) }
    }
    /// Values of src: planes·h·w (None on overflow).
    pub fn src_len(&self) -> Option<usize> {
        self.planes.checked_mul(self.h)?.checked_mul(self.w)
    }
    /// Values of dst: planes·s²·hq·wq (None on overflow).
    pub fn dst_len(&self) -> Option<usize> {
        let phases = self.planes.checked_mul(self.s)?.checked_mul(self.s)?;
        phases.checked_mul(self.hq)?.checked_mul(self.wq)
    }
    /// The contract of [`PhaseSplitFn`]: s ≥ 1, every target inside its phase plane
    /// (hq·s ≥ h + pad, wq·s ≥ w + pad), src exactly planes·h·w and dst exactly
    /// planes·s²·hq·wq values. Panics naming the kernel and every length otherwise, before
    /// any value is touched.
    pub(crate) fn check(&self, kernel: &str, dst: usize, src: usize) {
        let bad = |what: &str| -> ! { panic!("hepae-kernels::{kernel}: {what} (dst {dst}, src {src}, {self:?})") };
        if self.s == 0 {
            bad("needs s ≥ 1");
        }
        let fits = |q: usize, n: usize| match (q.checked_mul(self.s), n.checked_add(self.pad)) {
            (Some(reach), Some(need)) => reach >= need,
            _ => bad("the geometry overflows usize"),
        };
        if !fits(self.hq, self.h) {
            bad("needs hq·s ≥ h + pad (every row inside its phase plane)");
        }
        if !fits(self.wq, self.w) {
            bad("needs wq·s ≥ w + pad (every column inside its phase plane)");
        }
        match (self.src_len(), self.dst_len()) {
            (Some(ns), Some(nd)) => {
                if src != ns {
                    bad(&format!("src must hold exactly planes·h·w = {ns} values"));
                }
                if dst != nd {
                    bad(&format!("dst must hold exactly planes·s²·hq·wq = {nd} values"));
                }
            }
            _ => bad("the geometry overflows usize"),
        }
    }
    /// Offset in dst of row u of plane c's phase (a, b).
    fn phase_row(&self, c: usize, a: usize, b: usize, u: usize) -> usize {
        (((c * self.s + a) * self.s + b) * self.hq + u) * self.wq
    }
}

/// The reference of [`PhaseSplitFn`].
pub fn phase_split_scalar(dst: &mut [f32], src: &[f32], g: &PhaseSplit) {
    g.check("phase_split", dst.len(), src.len());
    split_rows(dst, src, g);
}

/// The defining loop (after the check): each image row's values to their phase positions,
/// one phase b at a time: its columns x ≡ b − pad (mod s) from the first, x0, are
/// consecutive positions of its row from v0 = (x0 + pad)/s.
fn split_rows(dst: &mut [f32], src: &[f32], g: &PhaseSplit) {
    let (s, p) = (g.s, g.pad);
    if g.w == 0 {
        return;
    }
    for (r, row) in src.chunks_exact(g.w).enumerate() {
        let (c, y) = (r / g.h, r % g.h);
        let (u, a) = ((y + p) / s, (y + p) % s);
        for b in 0..s {
            let x0 = (b + s - p % s) % s;
            let d = &mut dst[g.phase_row(c, a, b, u) + (x0 + p) / s..];
            for (t, &val) in d.iter_mut().zip(row.iter().skip(x0).step_by(s)) {
                *t = val;
            }
        }
    }
}

/// The SIMD body of [`PhaseSplitFn`]: per image row, for s = 1 W values at a time, a masked
/// load and a masked store at (pad, pad) of the one phase plane; for s = 2, 2·W values at a
/// time, two masked loads, their even and odd lanes (the even columns x go to phase
/// b = pad mod 2 from v = ⌊pad/2⌋, the odd ones to the other phase from ⌊(pad + 1)/2⌋), and
/// one masked store into each phase row.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn phase_split<S: Simd>(dst: &mut [f32], src: &[f32], g: &PhaseSplit) {
    g.check("phase_split", dst.len(), src.len());
    let (s, p, w) = (g.s, g.pad, g.w);
    if w == 0 || !(s == 1 || s == 2) {
        return split_rows(dst, src, g);
    }
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    // SAFETY (each block): the check above proves src holds planes·h·w values and every
    // target index (((c·s + a)·s + b)·hq + u)·wq + v with v ≤ (w − 1 + pad)/s < wq inside dst;
    // each row below reads the w values of one image row (masked to those) and writes, per
    // phase row, exactly the run of targets its columns map to (masked to that run's length,
    // whose last value is such a target); the ISA is enabled in the caller.
    let mut row = 0;
    for c in 0..g.planes {
        // Image row y is row u of phase a, (u, a) = ((y + pad) / s, (y + pad) % s), stepped.
        let (mut u, mut a) = (p / s, p % s);
        for _ in 0..g.h {
            if s == 1 {
                let d = g.phase_row(c, 0, 0, u) + p;
                let mut x = 0;
                while x < w {
                    let m = (w - x).min(S::W);
                    // SAFETY: as the `SAFETY (each block)` note above says.
                    unsafe { S::store(dp.add(d + x), S::load(sp.add(row + x), m), m) };
                    x += S::W;
                }
            } else {
                // Even columns x = 2k to phase b0 at v = k + ⌊pad/2⌋; odd x = 2k + 1 to b1 at
                // v = k + ⌈pad/2⌉.
                let (b0, b1) = (p % 2, (p + 1) % 2);
                let (de, dodd) = (g.phase_row(c, a, b0, u) + p / 2, g.phase_row(c, a, b1, u) + p.div_ceil(2));
                let mut x = 0;
                while x < w {
                    let rest = w - x;
                    let (ne, no) = (rest.div_ceil(2).min(S::W), (rest / 2).min(S::W));
                    // SAFETY: as the `SAFETY (each block)` note above says.
                    unsafe {
                        let lo = S::load(sp.add(row + x), rest.min(S::W));
                        let hi = if rest > S::W { S::load(sp.add(row + x + S::W), rest - S::W) } else { S::zero() };
                        S::store(dp.add(de + x / 2), S::even_lanes(lo, hi), ne);
                        if no > 0 {
                            S::store(dp.add(dodd + x / 2), S::odd_lanes(lo, hi), no);
                        }
                    }
                    x += 2 * S::W;
                }
            }
            row += w;
            a += 1;
            if a == s {
                (u, a) = (u + 1, 0);
            }
        }
    }
}
