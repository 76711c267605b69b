//! **Synthetic** jets for scale and speed tests: rows resampled (with replacement, seeded) from a
//! real sample and jittered, so the marginals and correlations follow the real data. They are not
//! physics: any figure made from them must say the data are synthetic.
//!
//! Per column, decided from the real sample:
//! * integer-valued columns (multiplicities, flavours, indices) and constant columns: copied;
//! * φ (name `phi` after stripping a `Jet_`-style prefix): additive jitter with σ = `jitter`·std,
//!   wrapped to (−π, π];
//! * non-negative columns (min ≥ −1 % of the range, so NanoAOD masses of −1e-5 count): multiplied
//!   by `exp(jitter·n − jitter²/2)` (mean-preserving; zeros stay zero, so columns that are zero in
//!   most jets keep their spike); clamped to the observed [min, max] when the column looks like a
//!   fraction or score (max ≤ 1.5), else only to min;
//! * other columns: additive jitter with σ = `jitter`·std of the values that are not placeholder
//!   spikes, clamped to the observed [min, max].
//!
//! Placeholder spikes (the column minimum or maximum, e.g. −3000 or −1, held by ≥ 1 % of the rows)
//! are copied unchanged. Rows are generated in parallel chunks, each from its own RNG seeded from
//! (`seed`, chunk number), so the output depends only on the seed, and streamed through
//! [`NpyWriter`] so memory stays small for any row count.

use crate::data::normalize::{momentum_component, Momentum};
use crate::data::npy::{Dataset, NpyWriter};
use crate::error::{Error, Location, Result};
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rayon::prelude::*;
use std::path::Path;

const CHUNK_ROWS: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Rule {
    Copy,
    Phi { sigma: f32 },
    Mult { lo: f32, hi: f32 },
    Add { sigma: f32, lo: f32, hi: f32 },
}

#[derive(Clone, Copy, Debug)]
struct ColumnRule {
    rule: Rule,
    /// Values kept unchanged (placeholder spikes at the column's min / max).
    spike_lo: Option<f32>,
    spike_hi: Option<f32>,
}

fn column_rules(like: &Dataset, jitter: f32) -> Vec<ColumnRule> {
    let (rows, cols) = (like.rows(), like.cols());
    let data = like.as_slice();
    let mut out = Vec::with_capacity(cols);
    for c in 0..cols {
        let col = || data.iter().skip(c).step_by(cols).copied();
        let (mut min, mut max) = (f32::INFINITY, f32::NEG_INFINITY);
        let mut integral = true;
        for v in col() {
            min = min.min(v);
            max = max.max(v);
            integral &= v.fract() == 0.0;
        }
        let (n_min, n_max) =
            col().fold((0usize, 0usize), |(a, b), v| (a + (v == min) as usize, b + (v == max) as usize));
        let spike = |n: usize| n * 100 >= rows && n >= 2;
        let spike_lo = (spike(n_min) && min < 0.0 && max > min).then_some(min);
        let spike_hi = (spike(n_max) && max > min && max > 1.5 && !integral).then_some(max);
        let is_spike = |v: f32| Some(v) == spike_lo || Some(v) == spike_hi;
        // Moments and range of the non-spike values.
        let (mut n, mut sum, mut sum2) = (0f64, 0f64, 0f64);
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for v in col().filter(|&v| !is_spike(v)) {
            n += 1.0;
            sum += v as f64;
            sum2 += (v as f64) * (v as f64);
            lo = lo.min(v);
            hi = hi.max(v);
        }
        let sd = if n > 0.0 { ((sum2 / n - (sum / n).powi(2)).max(0.0)).sqrt() as f32 } else { 0.0 };
        let range = hi - lo;
        let rule = if integral || max == min || n == 0.0 {
            Rule::Copy
        } else if momentum_component(&like.columns()[c]) == Some(Momentum::Phi) {
            Rule::Phi { sigma: jitter * sd }
        } else if lo >= -0.01 * range {
            Rule::Mult { lo, hi: if hi <= 1.5 { hi } else { f32::INFINITY } }
        } else {
            Rule::Add { sigma: jitter * sd, lo, hi }
        };
        out.push(ColumnRule { rule, spike_lo, spike_hi });
    }
    out
}

fn wrap_phi(x: f32) -> f32 {
    use std::f32::consts::PI;
    let mut y = x;
    if y > PI || y <= -PI {
        y -= 2.0 * PI * ((y + PI) / (2.0 * PI)).floor();
        // Now in [−π, π); move −π to π.
        if y <= -PI {
            y += 2.0 * PI;
        }
        if y > PI {
            y -= 2.0 * PI;
        }
    }
    y
}

fn fill_chunk(like: &Dataset, rules: &[ColumnRule], jitter: f32, seed: u64, chunk: u64, out: &mut [f32]) {
    let cols = like.cols();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ chunk.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17));
    let half_j2 = 0.5 * jitter * jitter;
    for dst in out.chunks_exact_mut(cols) {
        let src = like.row(rng.random_range(0..like.rows()));
        for ((d, &x), r) in dst.iter_mut().zip(src).zip(rules) {
            if Some(x) == r.spike_lo || Some(x) == r.spike_hi {
                *d = x;
                continue;
            }
            *d = match r.rule {
                Rule::Copy => x,
                Rule::Phi { sigma } => {
                    let n: f32 = rng.sample(StandardNormal);
                    wrap_phi(x + sigma * n)
                }
                Rule::Mult { lo, hi } => {
                    let n: f32 = rng.sample(StandardNormal);
                    (x * (jitter * n - half_j2).exp()).clamp(lo.min(x), hi.max(x))
                }
                Rule::Add { sigma, lo, hi } => {
                    let n: f32 = rng.sample(StandardNormal);
                    (x + sigma * n).clamp(lo, hi)
                }
            };
        }
    }
}

/// Writes `rows` synthetic rows like `like` to `out` (+ `out.columns`, same column names);
/// returns the number of rows written. See the module docs.
pub fn synth_like(like: &Dataset, rows: u64, seed: u64, jitter: f32, out: &Path) -> Result<u64> {
    synth_like_with(like, rows, seed, jitter, out, &mut |_| {})
}

/// [`synth_like`], calling `on_rows` with the rows written so far after each group of chunks.
pub fn synth_like_with(
    like: &Dataset,
    rows: u64,
    seed: u64,
    jitter: f32,
    out: &Path,
    on_rows: &mut dyn FnMut(u64),
) -> Result<u64> {
    if rows == 0 {
        return Err(Error::config("--rows must be at least 1"));
    }
    if !(jitter.is_finite() && (0.0..=1.0).contains(&jitter)) {
        return Err(Error::config(format!("--jitter {jitter} must be between 0 and 1")));
    }
    if like.rows() == 0 || like.cols() == 0 {
        return Err(Error::data(Location::file(like.path()), "has no rows to resample"));
    }
    let same = |a: &Path, b: &Path| a.canonicalize().ok().is_some_and(|x| b.canonicalize().ok() == Some(x));
    if same(like.path(), out) {
        return Err(Error::config(format!("{}: refusing to write the output over the input", out.display())));
    }
    like.check_finite()?;
    let rules = column_rules(like, jitter);
    let cols = like.cols();
    let mut writer = NpyWriter::create(out, like.columns())?;
    let n_chunks = rows.div_ceil(CHUNK_ROWS as u64);
    let batch = (rayon::current_num_threads() * 2).max(1) as u64;
    let mut bufs: Vec<Vec<f32>> = Vec::new();
    let mut first = 0u64;
    while first < n_chunks {
        let last = (first + batch).min(n_chunks);
        bufs.resize_with((last - first) as usize, Vec::new);
        bufs.par_iter_mut().enumerate().for_each(|(k, buf)| {
            let chunk = first + k as u64;
            let n = (rows - chunk * CHUNK_ROWS as u64).min(CHUNK_ROWS as u64) as usize;
            buf.resize(n * cols, 0.0);
            fill_chunk(like, &rules, jitter, seed, chunk, buf);
        });
        for buf in &bufs {
            writer.write_rows(buf)?;
        }
        on_rows(writer.rows_written());
        first = last;
    }
    let written = writer.rows_written();
    writer.finish()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::wrap_phi;
    use std::f32::consts::PI;

    #[test]
    fn phi_wraps_into_half_open_interval() {
        for x in [-10.0f32, -PI - 0.1, -PI, -1.0, 0.0, 3.0, PI, PI + 0.1, 7.0, 12.5] {
            let y = wrap_phi(x);
            assert!(y > -PI && y <= PI, "{x} -> {y}");
            let k = ((x - y) / (2.0 * PI)).round();
            assert!((x - y - k * 2.0 * PI).abs() < 1e-5, "{x} -> {y}");
        }
    }
}
