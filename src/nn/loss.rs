//! Losses: value and gradient with respect to the network output in one pass.

/// Mean squared error over all `N·D` elements, as PyTorch's `nn.MSELoss()`:
/// L = (1/count) Σ (out − target)².
///
/// Writes dL/d(out) = 2·(out − target)/count into `dout` and returns the *sum* of squared
/// errors (f64), so that callers splitting one batch into shards can add the sums and divide
/// once. `count` is the element count of the whole batch (not of this shard).
pub fn mse_forward_backward(dout: &mut [f32], out: &[f32], target: &[f32], count: usize) -> f64 {
    assert!(dout.len() == out.len() && out.len() == target.len());
    let scale = 2.0 / count as f32;
    (hepae_kernels::kernels().mse_grad)(dout, out, target, scale)
}

/// Sum of squared errors only (validation, evaluation), accumulated in f64.
pub fn sum_squared_error(out: &[f32], target: &[f32]) -> f64 {
    out.iter()
        .zip(target)
        .map(|(&o, &t)| {
            let d = (o - t) as f64;
            d * d
        })
        .sum()
}
