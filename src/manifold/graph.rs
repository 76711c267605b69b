//! The neighbourhood graph of Laplacian eigenmaps (Belkin & Niyogi 2003) as a sparse
//! symmetric matrix W (CSR), its degrees dᵢ = Σⱼ Wᵢⱼ, and the operator the eigensolver sees:
//! M = D^(−½) W D^(−½). The normalised Laplacian is L = I − M, so L's smallest eigenvalues
//! are 1 − M's largest; M's largest, 1, has the eigenvector √d (one per connected component).

use super::eigen::SymOp;
use super::knn::Neighbours;
use rayon::prelude::*;

/// Edge weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weights {
    /// Heat kernel with self-tuning widths (Zelnik-Manor & Perona 2004):
    /// Wᵢⱼ = exp(−‖xᵢ − xⱼ‖² / (σᵢ σⱼ)), σᵢ = distance to i's k-th neighbour.
    #[default]
    Heat,
    /// Wᵢⱼ = 1 for neighbours.
    Binary,
}

impl std::str::FromStr for Weights {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "heat" => Ok(Weights::Heat),
            "binary" => Ok(Weights::Binary),
            _ => Err(crate::Error::config(format!("unknown graph weights '{s}' (choose heat or binary)"))),
        }
    }
}

/// A symmetric sparse graph on n nodes: row i's neighbours `col[row_ptr[i]..row_ptr[i+1]]`
/// (ascending) with weights `w`, and degrees.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    pub n: usize,
    pub row_ptr: Vec<usize>,
    pub col: Vec<u32>,
    pub w: Vec<f64>,
    pub degree: Vec<f64>,
}

/// σᵢ of the heat kernel: the distance to the k-th neighbour, or where that is 0 (k or more
/// duplicates) the smallest positive one of all points (so the weight stays finite).
pub fn local_scales(nb: &Neighbours) -> Vec<f64> {
    let far: Vec<f64> = (0..nb.dist2.len() / nb.k.max(1)).map(|q| (nb.of(q).1[nb.k - 1] as f64).sqrt()).collect();
    let floor = far.iter().cloned().filter(|&s| s > 0.0).fold(f64::INFINITY, f64::min);
    let floor = if floor.is_finite() { floor } else { 1.0 };
    far.into_iter().map(|s| if s > 0.0 { s } else { floor }).collect()
}

/// Weight of an edge of squared length `d2` between points of scales `si`, `sj`.
pub fn edge_weight(weights: Weights, d2: f64, si: f64, sj: f64) -> f64 {
    match weights {
        Weights::Heat => (-d2 / (si * sj)).exp(),
        Weights::Binary => 1.0,
    }
}

impl Graph {
    /// From undirected weighted edges (i, j, w), i ≠ j, each listed once or twice; a repeated
    /// edge keeps its largest weight.
    pub fn from_edges(n: usize, edges: &[(u32, u32, f64)]) -> Graph {
        let mut both: Vec<(u32, u32, f64)> = Vec::with_capacity(2 * edges.len());
        for &(i, j, w) in edges {
            both.push((i, j, w));
            both.push((j, i, w));
        }
        both.par_sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then(b.2.total_cmp(&a.2)));
        both.dedup_by(|b, a| a.0 == b.0 && a.1 == b.1);
        let mut row_ptr = vec![0usize; n + 1];
        for &(i, _, _) in &both {
            row_ptr[i as usize + 1] += 1;
        }
        for i in 0..n {
            row_ptr[i + 1] += row_ptr[i];
        }
        let col: Vec<u32> = both.iter().map(|e| e.1).collect();
        let w: Vec<f64> = both.iter().map(|e| e.2).collect();
        let degree = (0..n).map(|i| w[row_ptr[i]..row_ptr[i + 1]].iter().sum()).collect();
        Graph { n, row_ptr, col, w, degree }
    }

    /// The symmetrised (union) k-nearest-neighbour graph of a point set.
    pub fn from_neighbours(nb: &Neighbours, weights: Weights) -> Graph {
        let n = nb.index.len() / nb.k.max(1);
        let sigma = local_scales(nb);
        let mut edges = Vec::with_capacity(n * nb.k);
        for q in 0..n {
            let (idx, d2) = nb.of(q);
            for (&j, &dd) in idx.iter().zip(d2) {
                edges.push((q as u32, j, edge_weight(weights, dd as f64, sigma[q], sigma[j as usize])));
            }
        }
        Graph::from_edges(n, &edges)
    }

    /// Connected components (nodes reachable through edges of positive weight).
    pub fn components(&self) -> usize {
        self.component_labels().1
    }

    /// Each node's component (0-based, in order of first node) and the number of components.
    pub fn component_labels(&self) -> (Vec<u32>, usize) {
        const NONE: u32 = u32::MAX;
        let mut label = vec![NONE; self.n];
        let mut stack = Vec::new();
        let mut count = 0;
        for s in 0..self.n {
            if label[s] != NONE {
                continue;
            }
            label[s] = count as u32;
            stack.push(s);
            while let Some(i) = stack.pop() {
                for p in self.row_ptr[i]..self.row_ptr[i + 1] {
                    let j = self.col[p] as usize;
                    if label[j] == NONE && self.w[p] > 0.0 {
                        label[j] = count as u32;
                        stack.push(j);
                    }
                }
            }
            count += 1;
        }
        (label, count)
    }

    /// Its edges (i < j), for rebuilding with more.
    pub fn edges(&self) -> Vec<(u32, u32, f64)> {
        let mut e = Vec::with_capacity(self.col.len() / 2);
        for i in 0..self.n {
            for p in self.row_ptr[i]..self.row_ptr[i + 1] {
                if (i as u32) < self.col[p] {
                    e.push((i as u32, self.col[p], self.w[p]));
                }
            }
        }
        e
    }

    /// M = D^(−½) W D^(−½) as an operator, rows split over `pool`.
    pub fn normalized_adjacency<'a>(&'a self, pool: Option<&'a rayon::ThreadPool>) -> NormalizedAdjacency<'a> {
        let inv_sqrt = self.degree.iter().map(|&d| if d > 0.0 { 1.0 / d.sqrt() } else { 0.0 }).collect();
        NormalizedAdjacency { g: self, inv_sqrt, pool }
    }

    /// M's eigenvector of eigenvalue 1, √dᵢ / ‖√d‖ (the one that carries no information).
    pub fn trivial_vector(&self) -> Vec<f64> {
        let total: f64 = self.degree.iter().sum();
        self.degree.iter().map(|d| (d / total).sqrt()).collect()
    }
}

/// y = D^(−½) W D^(−½) x.
pub struct NormalizedAdjacency<'a> {
    g: &'a Graph,
    inv_sqrt: Vec<f64>,
    pool: Option<&'a rayon::ThreadPool>,
}

impl SymOp for NormalizedAdjacency<'_> {
    fn dim(&self) -> usize {
        self.g.n
    }
    fn apply(&self, x: &[f64], y: &mut [f64]) {
        let g = self.g;
        let row = |(i, yi): (usize, &mut f64)| {
            let mut s = 0.0;
            for p in g.row_ptr[i]..g.row_ptr[i + 1] {
                let j = g.col[p] as usize;
                s += g.w[p] * self.inv_sqrt[j] * x[j];
            }
            *yi = self.inv_sqrt[i] * s;
        };
        match self.pool {
            Some(p) if g.n >= 4096 => {
                p.install(|| y[..g.n].par_iter_mut().enumerate().with_min_len(1024).for_each(row))
            }
            _ => y[..g.n].iter_mut().enumerate().for_each(row),
        }
    }
}
