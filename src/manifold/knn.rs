//! Exact k nearest neighbours by blocked distance GEMMs: for a block of queries Q and a block
//! of reference points R, ‖q − r‖² = ‖q‖² + ‖r‖² − 2·q·r, with Q·Rᵀ from the engine's GEMM,
//! and each query's k best kept in a sorted list. Memory: one QB × RB tile per thread, never
//! an N × N matrix. Work: N_q·N_r·(2D + a compare) flops.

use crate::engine::gemm::{gemm, Gemm};
use crate::engine::tensor::{Matrix, MatrixMut};
use rayon::prelude::*;

/// Queries per tile.
const QB: usize = 64;
/// Reference points per tile.
const RB: usize = 2048;

/// Each query's `k` nearest reference points: `index[q·k + j]` and `dist2[q·k + j]` (squared
/// Euclidean distance), nearest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbours {
    pub k: usize,
    pub index: Vec<u32>,
    pub dist2: Vec<f32>,
}

impl Neighbours {
    /// Query q's neighbours and squared distances.
    pub fn of(&self, q: usize) -> (&[u32], &[f32]) {
        (&self.index[q * self.k..(q + 1) * self.k], &self.dist2[q * self.k..(q + 1) * self.k])
    }
}

fn sq_norms(x: &[f32], d: usize) -> Vec<f32> {
    x.chunks_exact(d).map(|r| r.iter().map(|v| v * v).sum()).collect()
}

/// The `k` nearest of the `refs` rows (N_r × D) to each `queries` row (N_q × D). With
/// `same_set` the two are the same rows and a point is not its own neighbour. Parallel over
/// query blocks on `pool` (or the calling thread). Panics if k exceeds the points available.
pub fn knn(
    queries: &[f32],
    refs: &[f32],
    d: usize,
    k: usize,
    same_set: bool,
    pool: Option<&rayon::ThreadPool>,
) -> Neighbours {
    let (nq, nr) = (queries.len() / d, refs.len() / d);
    assert!(k + usize::from(same_set) <= nr, "{k} neighbours asked among {nr} points");
    let (qn, rn) = (sq_norms(queries, d), sq_norms(refs, d));
    let mut index = vec![0u32; nq * k];
    let mut dist2 = vec![f32::INFINITY; nq * k];
    let work = |(blk, (idx, dst)): (usize, (&mut [u32], &mut [f32]))| {
        let q0 = blk * QB;
        let qrows = idx.len() / k;
        let mut tile = vec![0.0f32; QB * RB];
        let qa = Matrix::new(&queries[q0 * d..(q0 + qrows) * d], qrows, d);
        for r0 in (0..nr).step_by(RB) {
            let rrows = RB.min(nr - r0);
            let rb = Matrix::new(&refs[r0 * d..(r0 + rrows) * d], rrows, d).t();
            let mut c = MatrixMut::new(&mut tile[..qrows * rrows], qrows, rrows);
            gemm(Gemm::detect(), -2.0, qa, rb, 0.0, &mut c);
            for q in 0..qrows {
                let (qi, qd) = (&mut idx[q * k..(q + 1) * k], &mut dst[q * k..(q + 1) * k]);
                let row = &tile[q * rrows..(q + 1) * rrows];
                let base = qn[q0 + q];
                for (j, &g) in row.iter().enumerate() {
                    let r = r0 + j;
                    let dd = (base + rn[r] + g).max(0.0);
                    if dd < qd[k - 1] && !(same_set && r == q0 + q) {
                        // Insert into the sorted list, dropping its last.
                        let mut p = k - 1;
                        while p > 0 && qd[p - 1] > dd {
                            qd[p] = qd[p - 1];
                            qi[p] = qi[p - 1];
                            p -= 1;
                        }
                        qd[p] = dd;
                        qi[p] = r as u32;
                    }
                }
            }
        }
    };
    let blocks = index.chunks_mut(QB * k).zip(dist2.chunks_mut(QB * k)).enumerate();
    match pool {
        Some(p) => p.install(|| blocks.collect::<Vec<_>>().into_par_iter().for_each(work)),
        None => blocks.for_each(work),
    }
    // The expansion loses digits for close pairs: the k kept are measured again directly.
    for q in 0..nq {
        let (qi, qd) = (&mut index[q * k..(q + 1) * k], &mut dist2[q * k..(q + 1) * k]);
        let x = &queries[q * d..(q + 1) * d];
        let mut pairs: Vec<(f32, u32)> = qi
            .iter()
            .map(|&r| {
                let y = &refs[r as usize * d..(r as usize + 1) * d];
                (x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum(), r)
            })
            .collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (j, (dd, r)) in pairs.into_iter().enumerate() {
            qd[j] = dd;
            qi[j] = r;
        }
    }
    Neighbours { k, index, dist2 }
}
