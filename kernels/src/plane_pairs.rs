//! The epilogue of a stride-2 transposed convolution's two column phases at once: output
//! row Y of a plane is phase (Y mod 2, 0) in its even columns and phase (Y mod 2, 1) in its
//! odd ones, so the two phases' GEMM rows are interleaved into the dense output row with the
//! bias and LeakyReLU applied, every value stored once (one phase at a time, at column step
//! 2, is a read-modify-write of each destination vector: `plane_epilogue`).
//!
//! [`rows_bias_act_pair_scalar`] is the reference; the SIMD body below (instantiated per ISA
//! by `crate::body::instantiate!`) gives the same bits: one addition, one comparison and one
//! multiplication per value.

#[cfg(target_arch = "x86_64")]
use crate::simd::Simd;

/// `planes` planes of `rows` rows: phase a's row r of plane q holds `len` values from
/// q·src_ps + r·src_rs, phase b's the same place `len_b` (len or len − 1) values; the
/// output row starts at q·dst_ps + r·dst_rs and holds len + len_b values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairRows {
    pub planes: usize,
    pub rows: usize,
    pub len: usize,
    pub len_b: usize,
    pub src_ps: usize,
    pub src_rs: usize,
    pub dst_ps: usize,
    pub dst_rs: usize,
}

/// For t < len: dst[q·dst_ps + r·dst_rs + 2t] = f(a[q·src_ps + r·src_rs + t] + bias\[q]), and
/// for t < len_b: dst[… + 2t + 1] = f(b[q·src_ps + r·src_rs + t] + bias\[q]), with f(u) = u if
/// u > 0, else slope·u (slope 1: the identity; NaN stays NaN). bias.len() = planes. Only
/// those dst values are written.
pub type RowsBiasActPairFn = fn(dst: &mut [f32], a: &[f32], b: &[f32], bias: &[f32], slope: f32, g: &PairRows);

impl PairRows {
    /// Values a source buffer must hold (None on overflow; 0 for an empty geometry).
    fn src_span(&self, len: usize) -> Option<usize> {
        if self.planes == 0 || self.rows == 0 || len == 0 {
            return Some(0);
        }
        let last =
            (self.planes - 1).checked_mul(self.src_ps)?.checked_add((self.rows - 1).checked_mul(self.src_rs)?)?;
        last.checked_add(len)
    }
    /// Values the destination must hold.
    fn dst_span(&self) -> Option<usize> {
        let row = self.len.checked_add(self.len_b)?;
        if self.planes == 0 || self.rows == 0 || row == 0 {
            return Some(0);
        }
        let last =
            (self.planes - 1).checked_mul(self.dst_ps)?.checked_add((self.rows - 1).checked_mul(self.dst_rs)?)?;
        last.checked_add(row)
    }
    /// The contract: len_b ∈ {len, len − 1}, one bias per plane, every buffer its span.
    pub(crate) fn check(&self, dst: usize, a: usize, b: usize, bias: usize) {
        let bad = |what: &str| -> ! {
            panic!("hepae-kernels::rows_bias_act_pair: {what} (dst {dst}, a {a}, b {b}, bias {bias}, {self:?})")
        };
        if !(self.len_b == self.len || self.len_b + 1 == self.len) {
            bad("needs len_b = len or len − 1");
        }
        if bias != self.planes {
            bad("needs one bias per plane (bias.len() = planes)");
        }
        match (self.src_span(self.len), self.src_span(self.len_b), self.dst_span()) {
            (Some(sa), Some(sb), Some(sd)) => {
                if a < sa || b < sb || dst < sd {
                    bad(&format!("needs a ≥ {sa}, b ≥ {sb}, dst ≥ {sd} values"));
                }
            }
            _ => bad("the geometry's last index overflows usize"),
        }
    }
}

/// The reference of [`RowsBiasActPairFn`].
pub fn rows_bias_act_pair_scalar(dst: &mut [f32], a: &[f32], b: &[f32], bias: &[f32], slope: f32, g: &PairRows) {
    g.check(dst.len(), a.len(), b.len(), bias.len());
    let f = |u: f32| if u > 0.0 { u } else { slope * u };
    for (q, &bq) in bias.iter().enumerate() {
        for r in 0..g.rows {
            let (s, d) = (q * g.src_ps + r * g.src_rs, q * g.dst_ps + r * g.dst_rs);
            for t in 0..g.len {
                dst[d + 2 * t] = f(a[s + t] + bq);
            }
            for t in 0..g.len_b {
                dst[d + 2 * t + 1] = f(b[s + t] + bq);
            }
        }
    }
}

/// The SIMD body of [`RowsBiasActPairFn`]: per W values of each phase row, both rows loaded
/// (masked at the ends), the bias added and the slope applied, each spread into lane pairs
/// and blended (a's values in the even lanes), then two stores of up to W values each,
/// masked to the row's len + len_b.
///
/// Safety: inlined into a function compiled for `S`'s instruction set.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn rows_bias_act_pair<S: Simd>(
    dst: &mut [f32],
    a: &[f32],
    b: &[f32],
    bias: &[f32],
    slope: f32,
    g: &PairRows,
) {
    g.check(dst.len(), a.len(), b.len(), bias.len());
    let (n, nb) = (g.len, g.len_b);
    if g.rows == 0 || n == 0 {
        return;
    }
    let total = n + nb;
    // SAFETY: register-only; the ISA is enabled in the caller.
    let sv = unsafe { S::splat(slope) };
    for (q, &bq) in bias.iter().enumerate() {
        // SAFETY: register-only; the ISA is enabled in the caller.
        let bv = unsafe { S::splat(bq) };
        for r in 0..g.rows {
            let (s, d) = (q * g.src_ps + r * g.src_rs, q * g.dst_ps + r * g.dst_rs);
            let (pa, pb, pd) = (a[s..].as_ptr(), b[s..].as_ptr(), dst[d..].as_mut_ptr());
            let mut t = 0;
            while t < n {
                let (ma, mb) = ((n - t).min(S::W), nb.saturating_sub(t).min(S::W));
                let out = total - 2 * t;
                // SAFETY: the row of a holds n values from `pa`, that of b nb from `pb`, and
                // the output row n + nb from `pd` (the span check above: every row's last
                // index is at most the geometry's last); the loads read ma ≤ n − t and
                // mb ≤ nb − t values from t, the stores out.min(W) and out − W values from
                // 2t and 2t + W, both inside the output row; the ISA is enabled in the caller.
                unsafe {
                    let ua = S::add(S::load(pa.add(t), ma), bv);
                    let ub = S::add(S::load(pb.add(t), mb), bv);
                    let (alo, ahi) = S::spread_pairs(S::select_pos(ua, ua, S::mul(ua, sv)));
                    let (blo, bhi) = S::spread_pairs(S::select_pos(ub, ub, S::mul(ub, sv)));
                    S::store(pd.add(2 * t), S::blend_even(blo, alo), out.min(S::W));
                    if out > S::W {
                        S::store(pd.add(2 * t + S::W), S::blend_even(bhi, ahi), (out - S::W).min(S::W));
                    }
                }
                t += S::W;
            }
        }
    }
}
