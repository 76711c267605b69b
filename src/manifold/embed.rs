//! Laplacian eigenmaps (Belkin & Niyogi 2003) on normalised jets, and their out-of-sample
//! (Nyström) extension (Bengio et al. 2004).
//!
//! Graph: the union k-NN graph with weights W ([`super::graph`]), degrees d, transition matrix
//! P = D⁻¹W. The embedding's coordinates are P's leading non-trivial right eigenvectors
//! ψₗ = D^(−½) vₗ, where M vₗ = θₗ vₗ, M = D^(−½) W D^(−½), 1 > θ₁ ≥ θ₂ ≥ …; the normalised
//! Laplacian's eigenvalues are λₗ = 1 − θₗ. A new point x with neighbours j among the graph's
//! points, weights w_j(x) and d(x) = Σ w_j(x) is placed at ψₗ(x) = (1/θₗ) Σⱼ w_j(x)/d(x) ψₗ(j):
//! the eigen-equation P ψ = θ ψ read at x. Each coordinate is then standardised (mean 0,
//! standard deviation 1 over the graph's points) so that a net can regress it.

use super::eigen::{largest_eigenpairs, rayleigh, EigenOptions, HalfShiftPower};
use super::graph::{edge_weight, local_scales, Graph, Weights};
use super::knn::knn;
use crate::error::{Error, Result};
use std::time::Instant;

/// p of the polynomial filter ((I + M)/2)^p the eigensolver sees.
const FILTER_POWER: usize = 16;

/// How the embedding is made.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpectralOptions {
    /// k of the k-NN graph.
    pub neighbours: usize,
    pub weights: Weights,
    /// Eigensolver residual tolerance.
    pub tol: f64,
    pub seed: u64,
}

impl Default for SpectralOptions {
    fn default() -> Self {
        SpectralOptions { neighbours: 10, weights: Weights::Heat, tol: 1e-5, seed: 1 }
    }
}

/// A fitted embedding: the graph's points, their scales, coordinates and the spectrum.
#[derive(Clone, Debug)]
pub struct Embedding {
    /// Variables per point (D) and coordinates per point (L).
    pub d: usize,
    pub dims: usize,
    pub opts: SpectralOptions,
    /// The graph's points, n × D.
    pub points: Vec<f32>,
    /// σ of each point (heat kernel).
    pub sigma: Vec<f64>,
    /// ψ, n × L (raw, before standardisation).
    pub psi: Vec<f64>,
    /// θₗ (of M), and λₗ = 1 − θₗ (of the normalised Laplacian), l = 1..L.
    pub theta: Vec<f64>,
    pub laplacian: Vec<f64>,
    /// Per-coordinate mean and standard deviation of ψ over the graph's points.
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    /// Connected components of the k-NN graph (each joined to the rest by its closest edge
    /// before the eigensolve), products of M the eigensolver took, residuals ‖Mv − θv‖ of
    /// its eigenvectors, seconds spent.
    pub components: usize,
    pub products: usize,
    pub residuals: Vec<f64>,
    pub graph_seconds: f64,
    pub eigen_seconds: f64,
}

/// Embeds the n rows of `points` (n × D) into `dims` coordinates.
pub fn laplacian_eigenmaps(
    points: &[f32],
    d: usize,
    dims: usize,
    opts: &SpectralOptions,
    pool: Option<&rayon::ThreadPool>,
) -> Result<Embedding> {
    let n = points.len() / d.max(1);
    let k = opts.neighbours;
    if k == 0 || k >= n {
        return Err(Error::config(format!("spectral embedding: {k} neighbours among {n} points (need 1 ≤ k < n)")));
    }
    if dims == 0 || dims + 1 >= n {
        return Err(Error::config(format!("spectral embedding: {dims} coordinates from {n} points")));
    }
    let t0 = Instant::now();
    let nb = knn(points, points, d, k, true, pool);
    let sigma = local_scales(&nb);
    let mut graph = Graph::from_neighbours(&nb, opts.weights);
    let components = graph.components();
    if components > 1 {
        graph = connect_components(graph, points, d, &sigma, opts.weights, pool);
    }
    let graph_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let op = graph.normalized_adjacency(pool);
    let trivial = graph.trivial_vector();
    // The solver runs on ((I + M)/2)^p (same eigenvectors, top gaps stretched ~p-fold; its
    // residuals scale by ~p/2 near θ = 1), then θ and the residual are measured on M itself.
    let filtered = HalfShiftPower { inner: &op, power: FILTER_POWER };
    let eo = EigenOptions { tol: opts.tol * FILTER_POWER as f64 / 2.0, seed: opts.seed, ..EigenOptions::new(dims) };
    let mut pairs = largest_eigenpairs(&filtered, Some(&trivial), &eo)?;
    let (theta, residuals) = rayleigh(&op, &pairs.vectors);
    pairs.values = theta;
    pairs.residuals = residuals;
    pairs.products *= FILTER_POWER;
    let eigen_seconds = t1.elapsed().as_secs_f64();
    let mut psi = vec![0.0f64; n * dims];
    for l in 0..dims {
        let v = &pairs.vectors[l * n..(l + 1) * n];
        for i in 0..n {
            psi[i * dims + l] = v[i] / graph.degree[i].max(f64::MIN_POSITIVE).sqrt();
        }
    }
    let (mean, std) = column_moments(&psi, dims);
    Ok(Embedding {
        d,
        dims,
        opts: *opts,
        points: points.to_vec(),
        sigma,
        psi,
        laplacian: pairs.values.iter().map(|t| 1.0 - t).collect(),
        theta: pairs.values,
        mean,
        std,
        components,
        products: pairs.products,
        residuals: pairs.residuals,
        graph_seconds,
        eigen_seconds,
    })
}

/// Joins a graph's components: each one but the largest gets an edge from the closest pair
/// of its points and the points outside it (a disconnected graph's eigenvalue 0 is repeated,
/// and its leading coordinates would only say which component a jet is in). Repeated until
/// one component is left.
fn connect_components(
    mut graph: Graph,
    points: &[f32],
    d: usize,
    sigma: &[f64],
    weights: Weights,
    pool: Option<&rayon::ThreadPool>,
) -> Graph {
    let n = graph.n;
    for _ in 0..64 {
        let (label, count) = graph.component_labels();
        if count <= 1 {
            break;
        }
        let mut size = vec![0usize; count];
        label.iter().for_each(|&c| size[c as usize] += 1);
        let giant = (0..count).max_by_key(|&c| size[c]).unwrap_or(0);
        let mut edges = graph.edges();
        for c in (0..count).filter(|&c| c != giant) {
            let members: Vec<usize> = (0..n).filter(|&i| label[i] as usize == c).collect();
            let k = (size[c] + 1).min(n - 1);
            let q: Vec<f32> = members.iter().flat_map(|&i| points[i * d..(i + 1) * d].iter().copied()).collect();
            let nb = knn(&q, points, d, k, false, pool);
            let best = (0..members.len())
                .flat_map(|m| {
                    let (idx, d2) = nb.of(m);
                    idx.iter()
                        .zip(d2)
                        .filter(|(&j, _)| label[j as usize] as usize != c)
                        .map(move |(&j, &dd)| (dd, m, j))
                })
                .min_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((dd, m, j)) = best {
                let i = members[m];
                edges.push((i as u32, j, edge_weight(weights, dd as f64, sigma[i], sigma[j as usize]).max(1e-12)));
            }
        }
        graph = Graph::from_edges(n, &edges);
    }
    graph
}

fn column_moments(x: &[f64], dims: usize) -> (Vec<f64>, Vec<f64>) {
    let n = (x.len() / dims.max(1)).max(1) as f64;
    let mut mean = vec![0.0; dims];
    let mut var = vec![0.0; dims];
    for r in x.chunks_exact(dims) {
        for l in 0..dims {
            mean[l] += r[l] / n;
        }
    }
    for r in x.chunks_exact(dims) {
        for l in 0..dims {
            var[l] += (r[l] - mean[l]).powi(2) / n;
        }
    }
    (mean, var.into_iter().map(|v| v.sqrt().max(f64::MIN_POSITIVE)).collect())
}

impl Embedding {
    /// Points in the graph.
    pub fn len(&self) -> usize {
        self.sigma.len()
    }
    pub fn is_empty(&self) -> bool {
        self.sigma.is_empty()
    }

    /// The standardised coordinates of the graph's own points, n × L (f32).
    pub fn coords(&self) -> Vec<f32> {
        self.standardise(&self.psi)
    }

    fn standardise(&self, psi: &[f64]) -> Vec<f32> {
        let l = self.dims;
        psi.chunks_exact(l).flat_map(|r| (0..l).map(move |j| ((r[j] - self.mean[j]) / self.std[j]) as f32)).collect()
    }

    /// Nyström coordinates (standardised, m × L) of new points (m × D).
    pub fn extend(&self, queries: &[f32], pool: Option<&rayon::ThreadPool>) -> Vec<f32> {
        let (d, l, k) = (self.d, self.dims, self.opts.neighbours);
        let nb = knn(queries, &self.points, d, k, false, pool);
        let m = queries.len() / d;
        let mut psi = vec![0.0f64; m * l];
        for q in 0..m {
            let (idx, d2) = nb.of(q);
            let far = (d2[k - 1] as f64).sqrt();
            let sx = if far > 0.0 { far } else { self.sigma.iter().cloned().fold(f64::INFINITY, f64::min) };
            let w: Vec<f64> = idx
                .iter()
                .zip(d2)
                .map(|(&j, &dd)| edge_weight(self.opts.weights, dd as f64, sx, self.sigma[j as usize]))
                .collect();
            let dx: f64 = w.iter().sum::<f64>().max(f64::MIN_POSITIVE);
            for c in 0..l {
                let s: f64 = idx.iter().zip(&w).map(|(&j, &wj)| wj * self.psi[j as usize * l + c]).sum();
                psi[q * l + c] = s / (dx * self.theta[c]);
            }
        }
        self.standardise(&psi)
    }
}
