//! TEMPORARY scalar stub of the kernels API (replaced by the kernels branch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Scalar,
    Avx2,
    Avx512,
}
impl Isa {
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }
}
#[derive(Clone, Copy, Debug)]
pub struct AdamStep {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub bc1: f32,
    pub bc2: f32,
}
pub struct Kernels {
    pub isa: Isa,
    pub bias_leaky_forward: fn(x: &mut [f32], bias: &[f32], slope: f32),
    pub leaky_backward: fn(d: &mut [f32], y: &[f32], slope: f32),
    pub col_sums_add: fn(acc: &mut [f32], x: &[f32]),
    pub adam_update: fn(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], hp: &AdamStep),
    pub mse_grad: fn(grad: &mut [f32], out: &[f32], target: &[f32], scale: f32) -> f64,
    pub dense_small: fn(
        out: &mut [f32],
        a: &[f32],
        w: &[f32],
        bias: &[f32],
        m: usize,
        k: usize,
        n: usize,
        slope: f32,
    ),
}
fn blf(x: &mut [f32], b: &[f32], s: f32) {
    for r in x.chunks_exact_mut(b.len()) {
        for (v, bb) in r.iter_mut().zip(b) {
            let u = *v + bb;
            *v = if u > 0.0 { u } else { s * u };
        }
    }
}
fn lb(d: &mut [f32], y: &[f32], s: f32) {
    for (d, y) in d.iter_mut().zip(y) {
        if *y <= 0.0 {
            *d *= s;
        }
    }
}
fn cs(acc: &mut [f32], x: &[f32]) {
    for r in x.chunks_exact(acc.len()) {
        for (a, v) in acc.iter_mut().zip(r) {
            *a += v;
        }
    }
}
fn adam(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: &AdamStep) {
    for i in 0..p.len() {
        m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * g[i];
        v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * g[i] * g[i];
        p[i] -= h.lr * (m[i] / h.bc1) / ((v[i] / h.bc2).sqrt() + h.eps);
    }
}
fn mse(g: &mut [f32], o: &[f32], t: &[f32], s: f32) -> f64 {
    let mut acc = 0.0f64;
    for i in 0..g.len() {
        let d = o[i] - t[i];
        g[i] = s * d;
        acc += (d as f64) * (d as f64);
    }
    acc
}
fn ds(out: &mut [f32], a: &[f32], w: &[f32], b: &[f32], m: usize, k: usize, n: usize, s: f32) {
    for r in 0..m {
        for j in 0..n {
            let mut acc = b[j];
            for q in 0..k {
                acc += a[r * k + q] * w[j * k + q];
            }
            out[r * n + j] = if acc > 0.0 { acc } else { s * acc };
        }
    }
}
static SCALAR: Kernels = Kernels {
    isa: Isa::Scalar,
    bias_leaky_forward: blf,
    leaky_backward: lb,
    col_sums_add: cs,
    adam_update: adam,
    mse_grad: mse,
    dense_small: ds,
};
pub fn kernels() -> &'static Kernels {
    &SCALAR
}
pub fn kernels_for(isa: Isa) -> Option<&'static Kernels> {
    if isa == Isa::Scalar {
        Some(&SCALAR)
    } else {
        None
    }
}
pub fn available_isas() -> Vec<Isa> {
    vec![Isa::Scalar]
}
