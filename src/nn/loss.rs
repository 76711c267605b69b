//! Losses: value and gradient with respect to the network output in one pass, and the
//! per-row values alone (`*_rows`: one call gives an anomaly score or an energy per jet).
//! Shapes: out, target N×D (row-major); per-row outputs N.

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

/// Per-row sum of squared errors: out\[r] = Σ_c (y\[r,c] − t\[r,c])² over D values (f64).
pub fn mse_rows(rows_out: &mut [f64], y: &[f32], target: &[f32], d: usize) {
    for (r, o) in rows_out.iter_mut().enumerate() {
        *o = sum_squared_error(&y[r * d..(r + 1) * d], &target[r * d..(r + 1) * d]);
    }
}

/// ln(2π), the constant of the Gaussian log-density.
const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// Gaussian negative log-likelihood per variable, for a decoder that predicts a mean and a
/// log-variance: ℓ = ½·(log σ² + (x − μ)²·e^(−log σ²) + ln 2π), summed.
///
/// Writes dL/dμ = −(x − μ)·e^(−log σ²)/count and dL/d(log σ²) = ½·(1 − (x − μ)²·e^(−log σ²))/count
/// (L = Σℓ/count, count = elements in the whole batch) and returns Σℓ.
pub fn gaussian_nll_forward_backward(
    dmean: &mut [f32],
    dlogvar: &mut [f32],
    mean: &[f32],
    logvar: &[f32],
    target: &[f32],
    count: usize,
) -> f64 {
    let inv = 1.0 / count as f32;
    let mut sum = 0.0f64;
    for i in 0..mean.len() {
        let r = target[i] - mean[i];
        let prec = (-logvar[i]).exp();
        sum += 0.5 * (logvar[i] as f64 + (r * r * prec) as f64 + LN_2PI);
        dmean[i] = -r * prec * inv;
        dlogvar[i] = 0.5 * (1.0 - r * r * prec) * inv;
    }
    sum
}

/// Per-row Gaussian NLL: out\[r] = Σ_c ½·(log σ² + (x − μ)²·e^(−log σ²) + ln 2π) (f64).
pub fn gaussian_nll_rows(rows_out: &mut [f64], mean: &[f32], logvar: &[f32], target: &[f32], d: usize) {
    for (r, o) in rows_out.iter_mut().enumerate() {
        *o = (r * d..(r + 1) * d)
            .map(|i| {
                let res = (target[i] - mean[i]) as f64;
                0.5 * (logvar[i] as f64 + res * res * (-(logvar[i] as f64)).exp() + LN_2PI)
            })
            .sum();
    }
}

/// Binary cross-entropy on logits, written stably:
/// ℓ(x, y) = max(x, 0) − x·y + ln(1 + e^(−|x|)) (= −y·ln σ(x) − (1−y)·ln(1 − σ(x))).
///
/// Writes dlogit\[i] = scale·(σ(x_i) − y) and returns Σℓ (unscaled).
pub fn bce_with_logits_forward_backward(dlogit: &mut [f32], logit: &[f32], target: f32, scale: f32) -> f64 {
    let mut sum = 0.0f64;
    for (d, &x) in dlogit.iter_mut().zip(logit) {
        let x64 = x as f64;
        sum += x64.max(0.0) - x64 * target as f64 + (-x64.abs()).exp().ln_1p();
        let sig = if x >= 0.0 { 1.0 / (1.0 + (-x).exp()) } else { x.exp() / (1.0 + x.exp()) };
        *d = scale * (sig - target);
    }
    sum
}

/// Per-row BCE on one logit per row: out\[r] = max(x, 0) − x·y + ln(1 + e^(−|x|)) (f64).
pub fn bce_with_logits_rows(rows_out: &mut [f64], logit: &[f32], target: f32) {
    for (o, &x) in rows_out.iter_mut().zip(logit) {
        let x = x as f64;
        *o = x.max(0.0) - x * target as f64 + (-x.abs()).exp().ln_1p();
    }
}

/// Weighted L1 over all `N·D` elements: L = (1/count) Σ w(c, t)·|out − t|, the weight of each
/// element a function of its column `c` (`i % d`) and its target `t` (rate-aware training:
/// `w` = 1 / the bound's grid step there, so the loss is the residual in grid units).
///
/// Writes dL/d(out) = w·sign(out − t)/count (0 where out = t) into `dout` and returns the
/// weighted *sum* (f64), for callers that add shards and divide once.
pub fn weighted_l1_forward_backward(
    dout: &mut [f32],
    out: &[f32],
    target: &[f32],
    d: usize,
    count: usize,
    weight: &impl Fn(usize, f32) -> f32,
) -> f64 {
    assert!(dout.len() == out.len() && out.len() == target.len() && d > 0);
    let inv = 1.0 / count as f32;
    let mut sum = 0.0f64;
    for (i, ((g, &o), &t)) in dout.iter_mut().zip(out).zip(target).enumerate() {
        let w = weight(i % d, t);
        let r = o - t;
        sum += w as f64 * (r as f64).abs();
        *g = if r > 0.0 {
            w * inv
        } else if r < 0.0 {
            -w * inv
        } else {
            0.0
        };
    }
    sum
}
