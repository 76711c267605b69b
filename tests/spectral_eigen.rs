//! The spectral embedding's pieces against closed forms: the eigensolver on graphs whose
//! normalised-Laplacian spectrum is known (a ring, a torus grid), exact k-NN against brute
//! force, and the embedding of a swiss roll, which must unroll.

use hepae::manifold::eigen::{largest_eigenpairs, EigenOptions};
use hepae::manifold::embed::{laplacian_eigenmaps, SpectralOptions};
use hepae::manifold::graph::Graph;
use hepae::manifold::knn::knn;
use rand::{Rng, SeedableRng};
use std::f64::consts::PI;

/// Ring of n nodes: M = W/2 has eigenvalues cos(2πj/n), j = 0..n−1 (pairs for 0 < j < n/2).
fn ring(n: usize) -> Graph {
    let edges: Vec<_> = (0..n).map(|i| (i as u32, ((i + 1) % n) as u32, 1.0)).collect();
    Graph::from_edges(n, &edges)
}

/// Torus grid a × b (4-regular): eigenvalues of M (cos(2πp/a) + cos(2πq/b))/2.
fn torus(a: usize, b: usize) -> Graph {
    let id = |i: usize, j: usize| (i % a * b + j % b) as u32;
    let mut edges = Vec::new();
    for i in 0..a {
        for j in 0..b {
            edges.push((id(i, j), id(i + 1, j), 1.0));
            edges.push((id(i, j), id(i, j + 1), 1.0));
        }
    }
    Graph::from_edges(a * b, &edges)
}

fn check_spectrum(g: &Graph, mut expected: Vec<f64>, count: usize) {
    expected.sort_by(|a, b| b.total_cmp(a));
    let op = g.normalized_adjacency(None);
    let trivial = g.trivial_vector();
    let opts = EigenOptions { tol: 1e-9, ..EigenOptions::new(count) };
    let pairs = largest_eigenpairs(&op, Some(&trivial), &opts).unwrap();
    // Without the trivial eigenvalue 1 (deflated).
    for (l, (&got, &want)) in pairs.values.iter().zip(&expected[1..]).enumerate() {
        let (got_l, want_l) = (1.0 - got, 1.0 - want);
        assert!((got_l - want_l).abs() < 1e-8, "eigenvalue {l}: Laplacian {got_l} vs closed form {want_l}");
    }
    assert!(pairs.residuals.iter().all(|&r| r <= 1e-9), "residuals {:?}", pairs.residuals);
    // Eigenvectors are orthonormal and orthogonal to the trivial one.
    let n = g.n;
    for a in 0..count {
        let va = &pairs.vectors[a * n..(a + 1) * n];
        let t: f64 = va.iter().zip(&trivial).map(|(x, y)| x * y).sum();
        assert!(t.abs() < 1e-8, "vector {a} · trivial = {t}");
        for b in 0..count {
            let vb = &pairs.vectors[b * n..(b + 1) * n];
            let d: f64 = va.iter().zip(vb).map(|(x, y)| x * y).sum();
            assert!((d - f64::from(a == b)).abs() < 1e-8, "V^T V [{a},{b}] = {d}");
        }
    }
}

#[test]
fn ring_spectrum_matches_closed_form_to_1e_8() {
    for n in [50, 301] {
        let g = ring(n);
        assert_eq!(g.components(), 1);
        check_spectrum(&g, (0..n).map(|j| (2.0 * PI * j as f64 / n as f64).cos()).collect(), 6);
    }
}

#[test]
fn torus_grid_spectrum_matches_closed_form_to_1e_8() {
    let (a, b) = (17, 12);
    let expected = (0..a)
        .flat_map(|p| {
            (0..b).map(move |q| ((2.0 * PI * p as f64 / a as f64).cos() + (2.0 * PI * q as f64 / b as f64).cos()) / 2.0)
        })
        .collect();
    check_spectrum(&torus(a, b), expected, 8);
}

#[test]
fn blocked_knn_equals_brute_force() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let (n, d, k) = (2100, 7, 5); // more than one reference tile, ragged
    let pts: Vec<f32> = (0..n * d).map(|_| rng.random_range(-1.0..1.0)).collect();
    let nb = knn(&pts, &pts, d, k, true, None);
    for q in (0..n).step_by(97) {
        let mut all: Vec<(f32, u32)> = (0..n)
            .filter(|&r| r != q)
            .map(|r| ((0..d).map(|c| (pts[q * d + c] - pts[r * d + c]).powi(2)).sum(), r as u32))
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (idx, d2) = nb.of(q);
        for j in 0..k {
            assert_eq!(idx[j], all[j].1, "query {q} neighbour {j}");
            assert!((d2[j] - all[j].0).abs() <= 1e-6 * all[j].0.max(1e-6));
        }
    }
}

/// Spearman rank correlation.
fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let rank = |x: &[f64]| {
        let mut i: Vec<usize> = (0..x.len()).collect();
        i.sort_by(|&p, &q| x[p].total_cmp(&x[q]));
        let mut r = vec![0.0; x.len()];
        for (k, &p) in i.iter().enumerate() {
            r[p] = k as f64;
        }
        r
    };
    let (ra, rb) = (rank(a), rank(b));
    let n = a.len() as f64;
    let m = (n - 1.0) / 2.0;
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - m) * (y - m)).sum();
    let var: f64 = ra.iter().map(|x| (x - m).powi(2)).sum();
    cov / var
}

/// Swiss roll: t ∈ [1.5π, 4.5π] along the roll, h across; (t cos t, h, t sin t).
fn swiss_roll(n: usize, seed: u64) -> (Vec<f32>, Vec<f64>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut pts = Vec::with_capacity(3 * n);
    let mut t = Vec::with_capacity(n);
    for _ in 0..n {
        let s: f64 = 1.5 * PI * (1.0 + 2.0 * rng.random::<f64>());
        let h: f64 = 6.0 * rng.random::<f64>();
        pts.extend([(s * s.cos()) as f32, h as f32, (s * s.sin()) as f32]);
        t.push(s);
    }
    (pts, t)
}

/// The roll unrolls: the first spectral coordinate orders points along the roll (|Spearman ρ|
/// with t above 0.99, where the raw coordinates reach ~0.4), and Nyström places new points
/// where the embedding of all of them would.
#[test]
fn swiss_roll_unrolls_and_nystrom_extends_it() {
    let (pts, t) = swiss_roll(2500, 5);
    let opts = SpectralOptions { neighbours: 10, ..SpectralOptions::default() };
    let emb = laplacian_eigenmaps(&pts[..2000 * 3], 3, 2, &opts, None).unwrap();
    assert_eq!(emb.components, 1);
    let y = emb.coords();
    let first: Vec<f64> = y.chunks_exact(2).map(|r| r[0] as f64).collect();
    let rho = spearman(&first, &t[..2000]);
    let raw_best = (0..3)
        .map(|c| spearman(&pts[..6000].chunks_exact(3).map(|r| r[c] as f64).collect::<Vec<_>>(), &t[..2000]).abs())
        .fold(0.0, f64::max);
    eprintln!(
        "swiss roll: |Spearman(ψ₁, t)| = {:.4} (best raw coordinate {raw_best:.3}); λ = {:?}",
        rho.abs(),
        emb.laplacian
    );
    assert!(rho.abs() > 0.99, "ψ₁ does not follow the roll: ρ = {rho}");
    assert!(raw_best < 0.6);
    // Out of sample: the held-out 500 by Nyström follow the roll as well.
    let ext = emb.extend(&pts[2000 * 3..], None);
    let first_ext: Vec<f64> = ext.chunks_exact(2).map(|r| r[0] as f64).collect();
    let rho_ext = spearman(&first_ext, &t[2000..]);
    assert!(rho_ext.abs() > 0.99, "Nyström ψ₁ of new points: ρ = {rho_ext}");
    assert_eq!(rho.signum(), rho_ext.signum());
}

/// The polynomial filter the embedding solves with changes the eigenvalues, not the
/// eigenvectors: measured back on M they are the closed form again.
#[test]
fn filtered_solve_gives_the_same_eigenpairs() {
    use hepae::manifold::eigen::{rayleigh, HalfShiftPower};
    let n = 301;
    let g = ring(n);
    let op = g.normalized_adjacency(None);
    let filtered = HalfShiftPower { inner: &op, power: 16 };
    let opts = EigenOptions { tol: 1e-10, ..EigenOptions::new(6) };
    let pairs = largest_eigenpairs(&filtered, Some(&g.trivial_vector()), &opts).unwrap();
    let (theta, resid) = rayleigh(&op, &pairs.vectors);
    let mut want: Vec<f64> = (1..n).map(|j| (2.0 * PI * j as f64 / n as f64).cos()).collect();
    want.sort_by(|a, b| b.total_cmp(a));
    for (l, (&t, &w)) in theta.iter().zip(&want).enumerate() {
        assert!((t - w).abs() < 1e-8, "eigenvalue {l}: {t} vs {w}");
    }
    assert!(resid.iter().all(|&r| r < 1e-8), "{resid:?}");
}
