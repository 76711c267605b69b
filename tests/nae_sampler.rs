//! The Langevin / MALA sampler of the normalized autoencoder is correct where the answer is
//! known: on E(x) = ‖x‖²/2 the Boltzmann density exp(−E/T) is N(0, T·I).
//!
//! The chains are independent (one per row, each from its own start), so their end points
//! are independent draws: the effective sample size of the n end points is n, and a
//! moment's statistical error is known exactly (Var of the sample mean of x is T/n; of the
//! sample variance 2T²/n). Each check allows 4 standard errors (a false failure has
//! probability ≈ 6e-5 per check).

use hepae::models::nae::langevin::{run_chain, Chain, ChainWork, Energy, MhRule};
use rand::SeedableRng;

struct Quadratic {
    d: usize,
}

impl Energy for Quadratic {
    fn dim(&self) -> usize {
        self.d
    }
    fn energy_grad(&mut self, x: &[f32], n: usize, e: &mut [f32], g: &mut [f32]) {
        let d = self.d;
        for r in 0..n {
            let row = &x[r * d..(r + 1) * d];
            e[r] = 0.5 * row.iter().map(|v| v * v).sum::<f32>();
            g[r * d..(r + 1) * d].copy_from_slice(row);
        }
    }
}

fn chain(steps: usize, step_size: f32, noise: f32, mh: bool, rule: MhRule) -> Chain {
    Chain {
        steps,
        step_size,
        noise,
        clip_grad: None,
        mh,
        mh_rule: rule,
        noise_anneal: false,
        bound: None,
        spherical: false,
    }
}

/// Runs `n` independent chains in `d` dimensions from N(0, 1) starts; returns the end points
/// and the acceptance.
fn run(c: &Chain, t: f32, n: usize, d: usize, seed: u64) -> (Vec<f32>, f64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut x: Vec<f32> =
        (0..n * d).map(|_| rand_distr::Distribution::sample(&rand_distr::StandardNormal, &mut rng)).collect();
    let mut work = ChainWork::new(n, d);
    let stats = run_chain(c, &mut Quadratic { d }, &mut x, n, t, &mut work, &mut rng);
    (x, stats.acceptance())
}

/// Mean and variance (about 0... the sample's own mean) of all coordinates, pooled.
fn moments(x: &[f32]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var)
}

#[test]
fn mala_samples_the_gaussian_of_temperature_t_within_its_statistical_error() {
    // T = 2, λ = 0.5, σ² = 2λT (twice the noise of the Langevin dynamics for this T): the exact
    // rule still targets N(0, 2·I), since Metropolis–Hastings corrects any proposal; without it
    // the chain would sample N(0, 4.57·I) (σ²/(1 − (1 − λ/T)²)).
    let (t, lam, d, n) = (2.0f32, 0.5f32, 3, 4000);
    let sigma = (2.0 * lam * t).sqrt();
    let samples = (n * d) as f64; // independent coordinates: the effective sample size
    for rule in [MhRule::Exact, MhRule::Langevin] {
        if rule == MhRule::Langevin {
            // The reference's rule is the exact one only at T = 1 (with σ² = 2λ).
            let (x, acc) = run(&chain(200, lam, (2.0 * lam).sqrt(), true, rule), 1.0, n, d, 11);
            let (m, v) = moments(&x);
            let (se_m, se_v) = ((1.0 / samples).sqrt(), (2.0 / samples).sqrt());
            assert!(m.abs() < 4.0 * se_m, "langevin rule, T = 1: mean {m} (se {se_m})");
            assert!((v - 1.0).abs() < 4.0 * se_v, "langevin rule, T = 1: variance {v} vs 1 (se {se_v})");
            assert!(acc > 0.5 && acc < 1.0, "acceptance {acc}");
            continue;
        }
        let (x, acc) = run(&chain(200, lam, sigma, true, rule), t, n, d, 7);
        let (m, v) = moments(&x);
        let t = t as f64;
        let (se_m, se_v) = ((t / samples).sqrt(), (2.0 * t * t / samples).sqrt());
        assert!(m.abs() < 4.0 * se_m, "mean {m} (se {se_m})");
        assert!((v - t).abs() < 4.0 * se_v, "variance {v} vs T = {t} (se {se_v})");
        assert!(acc > 0.5 && acc < 1.0, "acceptance {acc}");
        // Per coordinate, too (each has n independent draws).
        for c in 0..d {
            let col: Vec<f32> = x.iter().skip(c).step_by(d).copied().collect();
            let (mc, vc) = moments(&col);
            let nn = n as f64;
            assert!(mc.abs() < 4.0 * (t / nn).sqrt(), "coordinate {c}: mean {mc}");
            assert!((vc - t).abs() < 4.0 * (2.0 * t * t / nn).sqrt(), "coordinate {c}: variance {vc}");
        }
    }
}

#[test]
fn unadjusted_langevin_shows_its_step_size_bias_which_mh_removes() {
    // σ² = 2λ: the Langevin dynamics of exp(−E/T); the discrete chain's fixed point has
    // variance T/(1 − λ/(2T)) = 2.286 instead of T = 2. With MH the bias goes.
    let (t, lam, d, n) = (2.0f32, 0.5f32, 3, 4000);
    let sigma = (2.0 * lam).sqrt();
    let (x, acc) = run(&chain(200, lam, sigma, false, MhRule::Exact), t, n, d, 7);
    assert_eq!(acc, 1.0, "without MH every proposal is taken");
    let (_, v) = moments(&x);
    let want = t as f64 / (1.0 - lam as f64 / (2.0 * t as f64)); // the ULA fixed point: 2.286
    let se = (2.0 * want * want / (n * d) as f64).sqrt();
    assert!((v - want).abs() < 4.0 * se, "ULA variance {v} vs its known bias {want}");
    assert!(v - t as f64 > 8.0 * se, "the bias is resolved: {v} vs T = {t}");
    let (x, acc) = run(&chain(200, lam, sigma, true, MhRule::Exact), t, n, d, 7);
    let (_, v) = moments(&x);
    let se = (2.0 * (t * t) as f64 / (n * d) as f64).sqrt();
    assert!((v - t as f64).abs() < 4.0 * se && acc < 1.0, "MALA variance {v} vs T = {t} (acceptance {acc})");
}

#[test]
fn mh_acceptance_is_near_one_for_tiny_steps_and_falls_as_steps_grow() {
    let (t, d, n) = (1.0f32, 4, 2000);
    let mut last = 1.0f64;
    let mut rates = Vec::new();
    for lam in [1e-4f32, 1e-2, 0.3, 1.0, 1.8] {
        let (_, acc) = run(&chain(20, lam, (2.0 * lam).sqrt(), true, MhRule::Exact), t, n, d, 3);
        rates.push((lam, acc));
        assert!(acc <= last + 0.01, "acceptance must fall as the step grows: {rates:?}");
        last = acc;
    }
    assert!(rates[0].1 > 0.995, "tiny steps: {rates:?}");
    assert!(rates[4].1 < 0.3, "large steps: {rates:?}");
}

#[test]
fn chains_are_seeded_and_clipping_bounds_and_the_sphere_hold() {
    let c = chain(10, 0.2, 0.6, true, MhRule::Langevin);
    assert_eq!(run(&c, 1.0, 50, 3, 5), run(&c, 1.0, 50, 3, 5), "same seed, same chain");
    assert_ne!(run(&c, 1.0, 50, 3, 5).0, run(&c, 1.0, 50, 3, 6).0);
    // With the sphere every row ends on it; with a bound every value inside.
    let s = Chain { spherical: true, ..c };
    let (x, _) = run(&s, 1.0, 50, 3, 5);
    for row in x.chunks(3) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "row norm {norm}");
    }
    let b = Chain { bound: Some([-0.25, 0.5]), mh: false, ..c };
    let (x, _) = run(&b, 1.0, 50, 3, 5);
    assert!(x.iter().all(|v| (-0.25..=0.5).contains(v)));
    // A gradient clipped to norm 1e-3 and no noise: each step moves a row by at most λ·1e-3.
    let clipped = Chain { clip_grad: Some(1e-3), noise: 0.0, mh: false, steps: 1, ..c };
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut x = vec![3.0f32, -4.0, 0.0];
    let before = x.clone();
    run_chain(&clipped, &mut Quadratic { d: 3 }, &mut x, 1, 1.0, &mut ChainWork::new(1, 3), &mut rng);
    let moved = x.iter().zip(&before).map(|(a, b)| (a - b).powi(2)).sum::<f32>().sqrt();
    assert!((moved - 0.2 * 1e-3).abs() < 1e-6, "moved {moved}");
}
