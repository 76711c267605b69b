//! What the fused-chain kernel tests share: the kernel sets this CPU runs, random values, a
//! random dense chain (weights [out×inp], biases, slopes) with its weights transposed for the
//! per-layer kernels, and a bit-for-bit comparison. Included with
//! `#[path = "support/chain.rs"] mod chain;`.
#![allow(dead_code)] // each test file uses its own subset

use hepae_kernels::mlp::MlpLayerSpec;
use hepae_kernels::{available_isas, kernels_for, Kernels};
use rand::Rng;

pub fn sets() -> Vec<&'static Kernels> {
    available_isas().into_iter().filter_map(kernels_for).collect()
}

pub fn rnd(r: &mut impl Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| r.random_range(lo..hi)).collect()
}

/// Weights [out×inp] and biases of a chain with widths `dims`, and each layer's slope.
pub struct Chain {
    pub dims: Vec<usize>,
    pub w: Vec<Vec<f32>>,
    pub b: Vec<Vec<f32>>,
    pub slopes: Vec<f32>,
}

impl Chain {
    pub fn new(r: &mut impl Rng, dims: &[usize], last_linear: bool) -> Chain {
        let n = dims.len() - 1;
        let w = (0..n).map(|j| rnd(r, dims[j] * dims[j + 1], -0.4, 0.4)).collect();
        let b = (0..n).map(|j| rnd(r, dims[j + 1], -0.2, 0.2)).collect();
        let slopes = (0..n).map(|j| if last_linear && j == n - 1 { 1.0 } else { 0.01 }).collect();
        Chain { dims: dims.to_vec(), w, b, slopes }
    }
    pub fn specs(&self) -> Vec<MlpLayerSpec<'_>> {
        (0..self.w.len())
            .map(|j| MlpLayerSpec {
                inp: self.dims[j],
                out: self.dims[j + 1],
                weight: &self.w[j],
                bias: &self.b[j],
                slope: self.slopes[j],
            })
            .collect()
    }
    /// Layer j's weights transposed, [inp×out] (as the per-layer kernels read them).
    pub fn transposed(&self, j: usize) -> Vec<f32> {
        let (i, o) = (self.dims[j], self.dims[j + 1]);
        let mut wt = vec![0.0f32; i * o];
        for q in 0..i {
            for c in 0..o {
                wt[q * o + c] = self.w[j][c * i + q];
            }
        }
        wt
    }
}

pub fn assert_bits_equal(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.to_bits(), w.to_bits(), "{what}: element {i}: {g} vs {w}");
    }
}
