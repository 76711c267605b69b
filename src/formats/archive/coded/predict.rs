//! Predictions from columns decoded earlier in the same row (format 4).
//!
//! A log-grid column may code q − round(q̂) instead of q, with q̂ from values the decoder
//! already has:
//!
//! * [`Pred::Complement`]: q̂ = ln(1 − Σ sources)/δ, for fractions that add up to one
//!   (chHEF + neHEF + chEmEF + neEmEF + muEF = 1): the last one is known to within the
//!   others' quantisation error;
//! * [`Pred::Linear`]: q̂ = (c₀ + Σ cᵢ·f(sourceᵢ))/δ, a least-squares fit of ln|x| on features
//!   of the decoded earlier columns, made per block at compress time, the coefficients
//!   stored as f32.
//!
//! Both sides compute q̂ with the same scalar f64 operations in the same order (no SIMD, no
//! fused multiply-add: Rust never contracts) and libm's pure-Rust `log`, so the prediction
//! has the same bits on every machine and thread count.

use crate::formats::archive::entropy::{get_varint, put_varint};
use crate::formats::archive::grid::{Grid, MAX_Q};

/// How a column's grid integer is predicted from earlier columns of its row.
#[derive(Clone, Debug, PartialEq)]
pub enum Pred {
    None,
    /// 1 − Σ sources.
    Complement(Vec<u16>),
    /// `coefs[0] + Σ coefs[i+1]·feature(sources[i])` in ln units.
    Linear {
        sources: Vec<u16>,
        coefs: Vec<f32>,
    },
}

/// The feature of a decoded value of a column on `grid`: ln(1 + |x|) for integers, |x| on a
/// linear grid (η, φ), ln(|x| + 10⁻³) otherwise; 0 for anything not finite.
pub fn feature(grid: &Grid, x: f32) -> f64 {
    let a = (x as f64).abs();
    let v = match grid {
        Grid::Integer => libm::log1p(a),
        Grid::Linear { .. } => a,
        _ => libm::log(a + 1e-3),
    };
    if v.is_finite() {
        v.clamp(-1e6, 1e6)
    } else {
        0.0
    }
}

/// Grid position of `ln_value` on a log grid of step `delta` (0 when out of range).
fn ln_position(ln_value: f64, delta: f64) -> f64 {
    let p = ln_value / delta;
    if p.is_finite() && p.abs() < MAX_Q as f64 {
        p
    } else {
        0.0
    }
}

impl Pred {
    /// The columns the prediction reads.
    pub fn sources(&self) -> &[u16] {
        match self {
            Pred::None => &[],
            Pred::Complement(s) | Pred::Linear { sources: s, .. } => s,
        }
    }

    /// q̂ for one row: `row` the decoded values so far, `feats` their features (both indexed
    /// by column), `delta` the target's log step.
    pub fn at(&self, row: &[f32], feats: &[f64], delta: f64) -> f64 {
        match self {
            Pred::None => 0.0,
            Pred::Complement(s) => {
                let mut rest = 1.0f64;
                for &c in s {
                    rest -= row[c as usize] as f64;
                }
                if rest > 0.0 && rest.is_finite() {
                    ln_position(libm::log(rest), delta)
                } else {
                    0.0
                }
            }
            Pred::Linear { sources, coefs } => {
                let mut l = coefs[0] as f64;
                for (i, &c) in sources.iter().enumerate() {
                    l += coefs[i + 1] as f64 * feats[c as usize];
                }
                ln_position(l, delta)
            }
        }
    }

    /// Bytes of the stored prediction.
    pub fn table_bytes(&self) -> usize {
        let mut b = Vec::new();
        self.write(&mut b);
        b.len()
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        let (tag, s) = match self {
            Pred::None => (0u8, &[][..]),
            Pred::Complement(s) => (1, &s[..]),
            Pred::Linear { sources, .. } => (2, &sources[..]),
        };
        out.push(tag);
        if tag == 0 {
            return;
        }
        put_varint(s.len() as u64, out);
        for &c in s {
            put_varint(c as u64, out);
        }
        if let Pred::Linear { coefs, .. } = self {
            for c in coefs {
                out.extend_from_slice(&c.to_le_bytes());
            }
        }
    }

    /// Reads a prediction over `columns` columns; `None` when malformed.
    pub fn read(b: &[u8], pos: &mut usize, columns: usize) -> Option<Pred> {
        let tag = *b.get(*pos)?;
        *pos += 1;
        if tag == 0 {
            return Some(Pred::None);
        }
        let n = get_varint(b, pos)? as usize;
        if n == 0 || n > columns {
            return None;
        }
        let sources = (0..n)
            .map(|_| get_varint(b, pos).and_then(|s| u16::try_from(s).ok()).filter(|&s| (s as usize) < columns))
            .collect::<Option<Vec<u16>>>()?;
        match tag {
            1 => Some(Pred::Complement(sources)),
            2 => {
                let coefs = (0..=n)
                    .map(|_| {
                        let s = b.get(*pos..*pos + 4)?;
                        *pos += 4;
                        Some(f32::from_le_bytes(s.try_into().ok()?)).filter(|v| v.is_finite())
                    })
                    .collect::<Option<Vec<f32>>>()?;
                Some(Pred::Linear { sources, coefs })
            }
            _ => None,
        }
    }
}

/// Least-squares coefficients (intercept first, as f32) of `y` on the features of `sources`,
/// fitted on the rows `rows` (every `step`-th is used) of the row-major `feats` (`d` per row).
/// A small ridge keeps the system solvable; `None` when it is not.
pub fn fit_linear(feats: &[f64], d: usize, sources: &[u16], rows: &[(usize, f64)]) -> Option<Vec<f32>> {
    let k = sources.len() + 1;
    let mut a = vec![0.0f64; k * k];
    let mut bv = vec![0.0f64; k];
    let step = (rows.len() / 16_384).max(1);
    let mut f = vec![0.0f64; k];
    for &(r, y) in rows.iter().step_by(step) {
        f[0] = 1.0;
        for (i, &s) in sources.iter().enumerate() {
            f[i + 1] = feats[r * d + s as usize];
        }
        for i in 0..k {
            bv[i] += f[i] * y;
            for j in 0..k {
                a[i * k + j] += f[i] * f[j];
            }
        }
    }
    let trace: f64 = (0..k).map(|i| a[i * k + i]).sum();
    for i in 0..k {
        a[i * k + i] += 1e-9 * trace + 1e-12;
    }
    // Gaussian elimination with partial pivoting.
    for col in 0..k {
        let piv = (col..k).max_by(|&i, &j| a[i * k + col].abs().total_cmp(&a[j * k + col].abs()))?;
        if a[piv * k + col].abs() < 1e-300 {
            return None;
        }
        for j in 0..k {
            a.swap(col * k + j, piv * k + j);
        }
        bv.swap(col, piv);
        for i in col + 1..k {
            let m = a[i * k + col] / a[col * k + col];
            for j in col..k {
                a[i * k + j] -= m * a[col * k + j];
            }
            bv[i] -= m * bv[col];
        }
    }
    let mut x = vec![0.0f64; k];
    for i in (0..k).rev() {
        let s: f64 = (i + 1..k).map(|j| a[i * k + j] * x[j]).sum();
        x[i] = (bv[i] - s) / a[i * k + i];
    }
    let c: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    c.iter().all(|v| v.is_finite()).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictions_round_trip_through_their_bytes_and_malformed_ones_are_refused() {
        for p in [
            Pred::None,
            Pred::Complement(vec![0, 3, 2]),
            Pred::Linear { sources: vec![1, 4], coefs: vec![0.5, -1.25, 3.0e-7] },
        ] {
            let mut b = Vec::new();
            p.write(&mut b);
            assert_eq!(b.len(), p.table_bytes());
            let mut pos = 0;
            assert_eq!(Pred::read(&b, &mut pos, 5), Some(p.clone()));
            assert_eq!(pos, b.len());
            // A source beyond the columns, and every truncation, are refused.
            if p != Pred::None {
                assert_eq!(Pred::read(&b, &mut 0, 2), None, "{p:?} read with 2 columns");
                for cut in 1..b.len() {
                    assert_eq!(Pred::read(&b[..cut], &mut 0, 5), None);
                }
            }
        }
        let mut nan = Vec::new();
        Pred::Linear { sources: vec![0], coefs: vec![f32::NAN, 1.0] }.write(&mut nan);
        assert_eq!(Pred::read(&nan, &mut 0, 3), None, "a non-finite coefficient");
        assert_eq!(Pred::read(&[9, 1, 0], &mut 0, 3), None, "an unknown tag");
    }

    #[test]
    fn the_complement_of_fractions_lands_on_the_missing_fractions_grid_position() {
        let delta = 2.0 * (1.0f64 + 1e-3).ln();
        let row = [0.25f32, 0.5, 0.0, 0.125];
        let at = Pred::Complement(vec![0, 1, 3]).at(&row, &[0.0; 4], delta);
        assert!((at - (0.125f64).ln() / delta).abs() < 1e-9);
        // Nothing left (or a negative rest): a fixed position both sides agree on.
        assert_eq!(Pred::Complement(vec![0, 1, 1]).at(&row, &[0.0; 4], delta), 0.0);
    }

    #[test]
    fn the_linear_fit_recovers_an_exact_linear_law_and_predicts_it() {
        let d = 3;
        let mut feats = vec![0.0f64; 400 * d];
        let mut rows = Vec::new();
        for r in 0..400 {
            let (a, b) = ((r % 17) as f64 * 0.3, ((r * 7) % 11) as f64 - 5.0);
            feats[r * d] = a;
            feats[r * d + 2] = b;
            rows.push((r, 1.5 + 2.0 * a - 0.25 * b));
        }
        let c = fit_linear(&feats, d, &[0, 2], &rows).unwrap();
        for (got, want) in c.iter().zip([1.5f32, 2.0, -0.25]) {
            assert!((got - want).abs() < 1e-4, "{c:?}");
        }
        let p = Pred::Linear { sources: vec![0, 2], coefs: c };
        let at = p.at(&[0.0; 3], &feats[5 * d..6 * d], 0.5);
        assert!((at - rows[5].1 / 0.5).abs() < 1e-3);
        assert_eq!(feature(&Grid::Integer, 0.0), 0.0);
        assert_eq!(feature(&Grid::Linear { step: 0.1 }, -2.0), 2.0);
        assert_eq!(feature(&Grid::Log { delta: 0.1 }, f32::NAN), 0.0);
    }
}
