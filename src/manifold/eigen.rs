//! The largest eigenpairs of a large sparse symmetric operator, by block Krylov subspace
//! expansion with Rayleigh–Ritz extraction and thick restarts (unpreconditioned block
//! Davidson, which in exact arithmetic spans the same space as block Lanczos).
//!
//! Written here rather than taken from a crate: the solver is ~200 lines of plain f64 loops,
//! it needs only `y = A·x` on blocks (no dense N×N matrix ever exists), and the maintained Rust
//! eigensolver crates are dense (nalgebra, faer) or wrap ARPACK through C.
//!
//! Basis V = [v₁ … v_m] (orthonormal, kept orthogonal to an optional deflated vector u), with
//! AV = [A v₁ … A v_m] and T = Vᵀ A V (m × m). Each iteration:
//! 1. T = S Θ Sᵀ (Jacobi, [`crate::models::pca::symmetric_eigen`]); Ritz pairs
//!    (θᵢ, yᵢ = V sᵢ), A yᵢ = AV sᵢ, residual rᵢ = A yᵢ − θᵢ yᵢ.
//! 2. Stop when the `count` largest have ‖rᵢ‖ ≤ tol (then |θᵢ − λᵢ| ≤ ‖rᵢ‖, and ≤ ‖rᵢ‖²/gap
//!    for an isolated eigenvalue).
//! 3. If the basis is full, restart on the best `keep` Ritz vectors (V ← V S, AV ← AV S,
//!    T ← Θ: no new products).
//! 4. Expand by the residuals of the unconverged leading Ritz pairs, orthogonalised twice
//!    (classical Gram–Schmidt, twice is enough) against u and V, and their products.
//!
//! A block of b vectors resolves eigenvalues of multiplicity up to b (a ring's pairs).

use crate::error::{Error, Result};
use crate::models::pca::symmetric_eigen;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

/// y = A·x for a symmetric A on ℝᴺ.
pub trait SymOp: Sync {
    /// N.
    fn dim(&self) -> usize;
    /// y[..N] = A·x[..N].
    fn apply(&self, x: &[f64], y: &mut [f64]);
}

/// ((I + A)/2)ᵖ for an A with spectrum in [−1, 1] (a normalised adjacency): the same
/// eigenvectors, eigenvalues mapped monotonically into [0, 1] with the gaps at the top
/// stretched ~p-fold. Each product costs p products of A, which for a sparse graph are cheap
/// beside the solver's orthogonalisation against its basis, so the solver converges in
/// far fewer of its own products.
pub struct HalfShiftPower<'a> {
    pub inner: &'a dyn SymOp,
    pub power: usize,
}

impl SymOp for HalfShiftPower<'_> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn apply(&self, x: &[f64], y: &mut [f64]) {
        let n = self.dim();
        let mut cur = x[..n].to_vec();
        for _ in 0..self.power.max(1) {
            self.inner.apply(&cur, y);
            for (c, &v) in cur.iter_mut().zip(y.iter()) {
                *c = 0.5 * (*c + v);
            }
        }
        y[..n].copy_from_slice(&cur);
    }
}

/// Rayleigh quotients θᵢ = yᵢᵀAyᵢ of unit vectors and their residuals ‖Ayᵢ − θᵢyᵢ‖ (the
/// eigenpairs of A from those of a filtered A).
pub fn rayleigh(op: &dyn SymOp, vectors: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let n = op.dim();
    let mut ay = vec![0.0; n];
    vectors
        .chunks_exact(n)
        .map(|y| {
            op.apply(y, &mut ay);
            let theta = dot(y, &ay);
            let r: f64 = ay.iter().zip(y).map(|(a, y)| (a - theta * y).powi(2)).sum();
            (theta, r.sqrt())
        })
        .unzip()
}

/// What to compute and how hard to try.
#[derive(Clone, Copy, Debug)]
pub struct EigenOptions {
    /// Eigenpairs wanted (the algebraically largest).
    pub count: usize,
    /// Vectors added per iteration (≥ the largest multiplicity among the wanted eigenvalues).
    pub block: usize,
    /// Largest basis before a restart.
    pub max_basis: usize,
    /// Residual norm ‖A y − θ y‖ at which a pair has converged.
    pub tol: f64,
    /// Products A·x allowed in all.
    pub max_products: usize,
    /// Seed of the random start block.
    pub seed: u64,
}

impl EigenOptions {
    /// Defaults for `count` pairs: block count + 2, basis 8 blocks (at least 40), tol 1e-8.
    pub fn new(count: usize) -> Self {
        let block = count + 2;
        EigenOptions { count, block, max_basis: (8 * block).max(40), tol: 1e-8, max_products: 200_000, seed: 1 }
    }
}

/// The result: eigenvalues (largest first), their unit eigenvectors (`count` × N, one after
/// another), residual norms, and the work it took.
#[derive(Clone, Debug)]
pub struct Eigenpairs {
    pub values: Vec<f64>,
    pub vectors: Vec<f64>,
    pub residuals: Vec<f64>,
    pub products: usize,
    pub restarts: usize,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Makes `x` orthogonal to `u` (if given) and to the rows of `basis` (each N long), twice;
/// returns its norm after, relative to before.
fn orthogonalise(x: &mut [f64], u: Option<&[f64]>, basis: &[f64], n: usize) -> f64 {
    let before = dot(x, x).sqrt();
    for _ in 0..2 {
        if let Some(u) = u {
            let c = dot(x, u);
            x.iter_mut().zip(u).for_each(|(x, u)| *x -= c * u);
        }
        for v in basis.chunks_exact(n) {
            let c = dot(x, v);
            x.iter_mut().zip(v).for_each(|(x, v)| *x -= c * v);
        }
    }
    let after = dot(x, x).sqrt();
    if after > 0.0 {
        x.iter_mut().for_each(|v| *v /= after);
    }
    if before > 0.0 {
        after / before
    } else {
        0.0
    }
}

/// The `opts.count` algebraically largest eigenpairs of `op`, orthogonal to the unit vector
/// `deflate` if given (a graph's trivial eigenvector). Fails if they do not converge within
/// `opts.max_products` products or the space is too small.
pub fn largest_eigenpairs(op: &dyn SymOp, deflate: Option<&[f64]>, opts: &EigenOptions) -> Result<Eigenpairs> {
    let n = op.dim();
    let (k, b) = (opts.count, opts.block.max(opts.count.min(1)).max(1));
    let room = n - usize::from(deflate.is_some());
    if k == 0 || k > room {
        return Err(Error::config(format!("eigensolver: {k} eigenpairs asked of a space of dimension {room}")));
    }
    let max_basis = opts.max_basis.clamp(k + b, room.max(k + b));
    let keep = (max_basis / 2).max(k + 1).min(max_basis - b.min(max_basis - k));
    let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed);
    let mut v: Vec<f64> = Vec::with_capacity(max_basis * n);
    let mut av: Vec<f64> = Vec::with_capacity(max_basis * n);
    let mut t = vec![0.0f64; max_basis * max_basis];
    let mut products = 0usize;
    let mut restarts = 0usize;
    let mut x = vec![0.0f64; n];
    let mut ax = vec![0.0f64; n];

    // Appends unit vector x (orthogonal to V) with its product, extending T.
    let append =
        |x: &[f64], v: &mut Vec<f64>, av: &mut Vec<f64>, t: &mut [f64], ax: &mut [f64], products: &mut usize| {
            op.apply(x, ax);
            *products += 1;
            let m = v.len() / n;
            for (i, vi) in v.chunks_exact(n).enumerate() {
                let c = dot(vi, ax);
                t[i * max_basis + m] = c;
                t[m * max_basis + i] = c;
            }
            t[m * max_basis + m] = dot(x, ax);
            v.extend_from_slice(x);
            av.extend_from_slice(ax);
        };

    // Start: b random vectors.
    while v.len() / n < b.min(room) {
        x.iter_mut().for_each(|e| *e = StandardNormal.sample(&mut rng));
        if orthogonalise(&mut x, deflate, &v, n) > 1e-8 {
            append(&x, &mut v, &mut av, &mut t, &mut ax, &mut products);
        }
    }
    let mut res = vec![0.0f64; b * n];
    loop {
        let m = v.len() / n;
        let mut tm = vec![0.0f64; m * m];
        for i in 0..m {
            tm[i * m..(i + 1) * m].copy_from_slice(&t[i * max_basis..i * max_basis + m]);
        }
        let (theta, s) = symmetric_eigen(&tm, m);
        // Ritz vectors and residuals of the leading pairs (as many as the block or wanted).
        let lead = k.max(b).min(m);
        let mut ritz = vec![0.0f64; lead * n];
        let mut resid = vec![0.0f64; lead];
        for r in 0..lead {
            let (y, ry) = (&mut ritz[r * n..(r + 1) * n], &mut x);
            y.fill(0.0);
            ry.fill(0.0);
            for (i, (vi, avi)) in v.chunks_exact(n).zip(av.chunks_exact(n)).enumerate() {
                let c = s[r * m + i];
                for j in 0..n {
                    y[j] += c * vi[j];
                    ry[j] += c * avi[j];
                }
            }
            for j in 0..n {
                ry[j] -= theta[r] * y[j];
            }
            resid[r] = dot(ry, ry).sqrt();
            if r < b {
                res[r * n..(r + 1) * n].copy_from_slice(ry);
            }
        }
        if resid[..k].iter().all(|&r| r <= opts.tol) || m == room {
            return Ok(Eigenpairs {
                values: theta[..k].to_vec(),
                vectors: ritz[..k * n].to_vec(),
                residuals: resid[..k].to_vec(),
                products,
                restarts,
            });
        }
        if products >= opts.max_products {
            return Err(Error::config(format!(
                "eigensolver: not converged after {products} products (largest residual {:.2e}, tolerance {:.1e})",
                resid[..k].iter().cloned().fold(0.0, f64::max),
                opts.tol
            )));
        }
        if m + b > max_basis {
            // Thick restart on the best `keep` Ritz vectors: V S, AV S, T = Θ.
            restarts += 1;
            let keep = keep.min(m);
            let mut nv = vec![0.0f64; keep * n];
            let mut nav = vec![0.0f64; keep * n];
            for r in 0..keep {
                for (i, (vi, avi)) in v.chunks_exact(n).zip(av.chunks_exact(n)).enumerate() {
                    let c = s[r * m + i];
                    let (y, ay) = (&mut nv[r * n..(r + 1) * n], &mut nav[r * n..(r + 1) * n]);
                    for j in 0..n {
                        y[j] += c * vi[j];
                        ay[j] += c * avi[j];
                    }
                }
            }
            v.clear();
            av.clear();
            v.extend_from_slice(&nv);
            av.extend_from_slice(&nav);
            t.fill(0.0);
            for r in 0..keep {
                t[r * max_basis + r] = theta[r];
            }
        }
        // Expand by the residuals of the unconverged leading pairs (random vectors for lost ones).
        let mut added = 0;
        for r in 0..b.min(lead) {
            if r < k && resid[r] <= opts.tol {
                continue;
            }
            x.copy_from_slice(&res[r * n..(r + 1) * n]);
            if v.len() / n >= room {
                break;
            }
            if orthogonalise(&mut x, deflate, &v, n) > 1e-10 {
                append(&x, &mut v, &mut av, &mut t, &mut ax, &mut products);
                added += 1;
            }
        }
        if added == 0 && v.len() / n < room {
            x.iter_mut().for_each(|e| *e = StandardNormal.sample(&mut rng));
            if orthogonalise(&mut x, deflate, &v, n) > 1e-8 {
                append(&x, &mut v, &mut av, &mut t, &mut ax, &mut products);
            }
        }
    }
}
