//! Value grids (archive format 3): every value is put on an integer grid that its bound
//! allows, so that the entropy coder codes integers and the bound holds by construction.
//!
//! * [`Grid::Log`] (relative bounds): |x| ≈ exp(q·δ), δ just under 2·ln(1 + ε), sign apart;
//! * [`Grid::Linear`] (absolute bounds): x ≈ q·step, step just under 2·ε;
//! * [`Grid::Mantissa`] (exact on a float grid): q = the top bits of |x| (exponent and `k`
//!   mantissa bits), rounded to nearest; with `k` at least the bits a column already has
//!   (NanoAOD keeps 10, η and φ 12) it is lossless;
//! * [`Grid::Integer`] (integer columns): q = x.
//!
//! [`Grid::quantize`] returns [`Cell::Escape`] whenever the rebuilt value would not meet the
//! bound (a denormal under a relative bound, an overflow, −0.0), and the coder then codes the
//! value's 32 bits exactly; +0.0 is always [`Cell::Zero`]. Rebuilding uses only IEEE
//! arithmetic and libm's pure-Rust `exp`, so it gives the same bits on every machine.

use super::codec::{within, Bound};
use serde::{Deserialize, Serialize};

/// Largest |q| stored (keeps every grid integer exact in f64 and in the coder's two levels).
pub const MAX_Q: i64 = 1 << 40;

/// How one column's values map to integers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Grid {
    /// |x| ≈ exp(q·delta).
    Log { delta: f64 },
    /// x ≈ q·step.
    Linear { step: f64 },
    /// |x| ≈ f32::from_bits(q << (23 − bits)).
    Mantissa { bits: u32 },
    /// x = q.
    Integer,
}

/// One value on its grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// Exactly +0.0.
    Zero,
    /// Sign and grid integer (Linear and Integer grids keep the sign in `q`; `neg` is false).
    Value { neg: bool, q: i64 },
    /// Stored exactly (its f32 bits).
    Escape,
}

impl Grid {
    /// The log grid for a relative bound ε: the largest δ whose half-step meets ε.
    pub fn log_for(eps: f64) -> Grid {
        Grid::Log { delta: 2.0 * (1.0 + eps).ln() * (1.0 - 1e-6) }
    }

    /// The linear grid for an absolute bound ε.
    pub fn linear_for(eps: f64) -> Grid {
        Grid::Linear { step: 2.0 * eps * (1.0 - 1e-6) }
    }

    /// Whether `a` and `b` are the same grid (bitwise for the float parameters).
    pub fn same(&self, b: &Grid) -> bool {
        match (self, b) {
            (Grid::Log { delta: a }, Grid::Log { delta: b }) => a.to_bits() == b.to_bits(),
            (Grid::Linear { step: a }, Grid::Linear { step: b }) => a.to_bits() == b.to_bits(),
            _ => self == b,
        }
    }

    /// Whether the grid's parameters are usable (a corrupt archive can say anything).
    pub fn valid(&self) -> bool {
        match *self {
            Grid::Log { delta } => delta.is_finite() && delta > 1e-12 && delta < 1.0,
            Grid::Linear { step } => step.is_finite() && step > 0.0,
            Grid::Mantissa { bits } => bits <= 23,
            Grid::Integer => true,
        }
    }

    /// Whether the sign is coded apart from `q` (log and mantissa grids code |x|).
    pub fn signed_apart(&self) -> bool {
        matches!(self, Grid::Log { .. } | Grid::Mantissa { .. })
    }

    /// The value rebuilt from a grid integer (no verification: see [`Grid::quantize`]).
    pub fn rebuild(&self, neg: bool, q: i64) -> f32 {
        let m = match *self {
            Grid::Log { delta } => libm::exp(q as f64 * delta) as f32,
            Grid::Linear { step } => (q as f64 * step) as f32,
            Grid::Mantissa { bits } => {
                let b = (q as u64) << (23 - bits);
                if b >= 0x7f80_0000 {
                    f32::NAN
                } else {
                    f32::from_bits(b as u32)
                }
            }
            Grid::Integer => q as f32,
        };
        if neg {
            -m
        } else {
            m
        }
    }

    /// The grid position of `x` as a real number (the location a prediction gives).
    /// Non-finite or zero inputs give 0 (any fixed value would do: both sides compute it).
    pub fn position(&self, x: f32) -> f64 {
        let p = match *self {
            Grid::Log { delta } => libm::log(x.abs() as f64) / delta,
            Grid::Linear { step } => x as f64 / step,
            Grid::Mantissa { bits } => x.abs().to_bits() as f64 / (1u64 << (23 - bits)) as f64,
            Grid::Integer => x as f64,
        };
        if p.is_finite() && p.abs() < MAX_Q as f64 {
            p
        } else {
            0.0
        }
    }

    /// Puts `x` on the grid so that [`Grid::rebuild`] meets `bound` (checked here, value by
    /// value; the nearest integer and its two neighbours are tried).
    pub fn quantize(&self, bound: Bound, x: f32) -> Cell {
        if x.to_bits() == 0 {
            return Cell::Zero;
        }
        if !x.is_finite() || x == 0.0 {
            return Cell::Escape;
        }
        let neg = self.signed_apart() && x < 0.0;
        let q0 = match *self {
            Grid::Mantissa { bits } => {
                let b = x.abs().to_bits() as u64;
                let shift = 23 - bits;
                let half = if shift == 0 { 0 } else { 1u64 << (shift - 1) };
                ((b + half) >> shift) as f64
            }
            _ => self.position(x).round(),
        };
        if !(q0.is_finite() && q0.abs() < MAX_Q as f64) {
            return Cell::Escape;
        }
        let q0 = q0 as i64;
        for q in [q0, q0 - 1, q0 + 1] {
            if q.abs() >= MAX_Q || (q < 0 && matches!(self, Grid::Mantissa { .. })) {
                continue;
            }
            let y = self.rebuild(neg, q);
            if y.is_finite() && within(bound, x, y) && !(y == 0.0 && x != 0.0 && bound == Bound::Exact) {
                return Cell::Value { neg, q };
            }
        }
        Cell::Escape
    }
}

/// The mantissa bits a set of values actually uses: the smallest `k` such that every
/// value's low `23 − k` mantissa bits are zero (0 for an empty or all-power-of-two column).
pub fn native_mantissa_bits(values: impl Iterator<Item = f32>) -> u32 {
    let mut used = 0u32;
    for v in values {
        used |= v.to_bits() & 0x7f_ffff;
    }
    if used == 0 {
        0
    } else {
        23 - used.trailing_zeros()
    }
}

/// The cheapest candidate grids for a column under `bound` whose values' native mantissa
/// width is `native`: the bound's own grid, and the column's exact float grid when it is
/// narrow enough to compete (the caller measures both).
pub fn candidates(bound: Bound, native: u32, integer: bool) -> Vec<Grid> {
    let exact = if integer { Grid::Integer } else { Grid::Mantissa { bits: native } };
    match bound {
        Bound::Exact => vec![exact],
        Bound::Rel { value } => vec![Grid::log_for(value), Grid::Mantissa { bits: native }],
        Bound::Abs { value } => vec![Grid::linear_for(value), exact],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Random f32 over the whole range: denormals, ±0, huge and tiny magnitudes, round values.
    fn wild(rng: &mut rand::rngs::StdRng) -> f32 {
        let v = wild_any(rng);
        if v.is_finite() {
            v
        } else {
            f32::MAX
        }
    }

    fn wild_any(rng: &mut rand::rngs::StdRng) -> f32 {
        match rng.random_range(0..8) {
            0 => f32::from_bits(rng.random::<u32>() & 0x807f_ffff), // ±denormal or ±0
            1 => [0.0, -0.0, 1.0, -1.0, f32::MAX, f32::MIN, f32::MIN_POSITIVE, 1e-45][rng.random_range(0..8)],
            2 => rng.random_range(-5.0f32..5.0),
            3 => (rng.random_range(0..200) as f32) * if rng.random() { 1.0 } else { -1.0 },
            4 => f32::from_bits(rng.random::<u32>() & 0xffff_e000), // 10 mantissa bits, like NanoAOD
            _ => loop {
                let v = f32::from_bits(rng.random::<u32>());
                if v.is_finite() {
                    break v;
                }
            },
        }
    }

    #[test]
    fn every_value_meets_its_bound_or_is_escaped_on_every_grid() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(17);
        let bounds = [
            Bound::Rel { value: 1e-2 },
            Bound::Rel { value: 1e-3 },
            Bound::Rel { value: 1e-4 },
            Bound::Rel { value: 0.3 },
            Bound::Abs { value: 1e-3 },
            Bound::Abs { value: 7.5 },
            Bound::Exact,
        ];
        let mut values = 0;
        for bound in bounds {
            let grids: Vec<Grid> = match bound {
                Bound::Rel { value } => {
                    vec![Grid::log_for(value), Grid::Mantissa { bits: 10 }, Grid::Mantissa { bits: 23 }]
                }
                Bound::Abs { value } => vec![Grid::linear_for(value), Grid::Mantissa { bits: 23 }],
                Bound::Exact => vec![Grid::Integer, Grid::Mantissa { bits: 23 }, Grid::Mantissa { bits: 4 }],
            };
            for g in grids {
                let mut kept = 0;
                for _ in 0..20_000 {
                    let x = wild(&mut rng);
                    let y = match g.quantize(bound, x) {
                        Cell::Zero => 0.0,
                        Cell::Value { neg, q } => {
                            kept += 1;
                            g.rebuild(neg, q)
                        }
                        Cell::Escape => x,
                    };
                    assert!(within(bound, x, y), "{g:?} {bound:?}: {x:e} ({:#x}) rebuilt as {y:e}", x.to_bits());
                    if x.to_bits() == 0 {
                        assert_eq!(y.to_bits(), 0, "+0 stays +0");
                    }
                    if x == 0.0 {
                        assert_eq!(y, 0.0, "zeros stay exact");
                    }
                    values += 1;
                }
                let least = if bound == Bound::Exact { 1_500 } else { 4_000 };
                assert!(kept > least, "{g:?} {bound:?}: only {kept} of 20000 values on the grid");
            }
        }
        assert_eq!(values, 20_000 * 19, "every grid of every bound was tried");
    }

    #[test]
    fn mantissa_grid_at_the_native_width_is_lossless_and_narrower_grids_are_not() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let xs: Vec<f32> = (0..5000).map(|_| f32::from_bits(rng.random::<u32>() & 0x3fff_e000 | 0x3000_0000)).collect();
        assert_eq!(native_mantissa_bits(xs.iter().copied()), 10);
        let g = Grid::Mantissa { bits: 10 };
        for &x in &xs {
            let Cell::Value { neg, q } = g.quantize(Bound::Exact, x) else { panic!("{x} escaped") };
            assert_eq!(g.rebuild(neg, q).to_bits(), x.to_bits());
        }
        let narrow = Grid::Mantissa { bits: 9 };
        assert!(xs.iter().any(|&x| narrow.quantize(Bound::Exact, x) == Cell::Escape));
        assert_eq!(native_mantissa_bits([1.0f32, 2.0, 0.5].into_iter()), 0);
        assert_eq!(native_mantissa_bits([1.5f32].into_iter()), 1);
    }

    #[test]
    fn log_grid_steps_use_the_whole_bound() {
        // Neighbouring grid values are 2ε apart in relative terms, so a bound of 1e-3 takes
        // about ln(10)/2e-3 ≈ 1151 integers per decade.
        let Grid::Log { delta } = Grid::log_for(1e-3) else { unreachable!() };
        let per_decade = 10f64.ln() / delta;
        assert!((per_decade - 1151.9).abs() < 1.0, "{per_decade}");
        let g = Grid::log_for(1e-3);
        let (a, b) = (g.quantize(Bound::Rel { value: 1e-3 }, 100.0), g.quantize(Bound::Rel { value: 1e-3 }, 1000.0));
        let (Cell::Value { q: qa, .. }, Cell::Value { q: qb, .. }) = (a, b) else { panic!() };
        assert!((qb - qa - 1151).abs() <= 1);
    }

    #[test]
    fn positions_of_predictions_match_the_grid_integers() {
        let g = Grid::log_for(1e-3);
        let Cell::Value { q, .. } = g.quantize(Bound::Rel { value: 1e-3 }, 55.5) else { panic!() };
        assert!((g.position(55.5) - q as f64).abs() <= 0.5);
        assert_eq!(g.position(0.0), 0.0);
        assert_eq!(g.position(f32::NAN), 0.0);
        let m = Grid::Mantissa { bits: 10 };
        let Cell::Value { q, .. } = m.quantize(Bound::Exact, 3.25) else { panic!() };
        assert_eq!(m.position(3.25), q as f64);
    }
}
