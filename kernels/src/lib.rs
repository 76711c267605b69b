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
    pub reparam_forward: fn(z: &mut [f32], mu: &[f32], logvar: &[f32], eps: &[f32]),
    pub reparam_backward: fn(dmu: &mut [f32], dlogvar: &mut [f32], dz: &[f32], logvar: &[f32], eps: &[f32]),
    pub kl_normal: fn(dmu: &mut [f32], dlogvar: &mut [f32], mu: &[f32], logvar: &[f32], scale: f32) -> f64,
    pub l1_penalty: fn(da: &mut [f32], a: &[f32], scale: f32) -> f64,
    pub kl_sparsity: fn(drho: &mut [f32], rho_hat: &[f32], rho: f32, scale: f32) -> f64,
    pub dense_small: fn(out: &mut [f32], a: &[f32], w: &[f32], bias: &[f32], m: usize, k: usize, n: usize, slope: f32),
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
fn rf(z: &mut [f32], mu: &[f32], lv: &[f32], e: &[f32]) {
    for i in 0..z.len() {
        z[i] = mu[i] + (0.5 * lv[i]).exp() * e[i];
    }
}
fn rb(dmu: &mut [f32], dlv: &mut [f32], dz: &[f32], lv: &[f32], e: &[f32]) {
    for i in 0..dz.len() {
        dmu[i] += dz[i];
        dlv[i] += dz[i] * 0.5 * (0.5 * lv[i]).exp() * e[i];
    }
}
fn kl(dmu: &mut [f32], dlv: &mut [f32], mu: &[f32], lv: &[f32], s: f32) -> f64 {
    let mut a = 0.0f64;
    for i in 0..mu.len() {
        let e = lv[i].exp();
        a += 0.5 * (mu[i] * mu[i] + e - 1.0 - lv[i]) as f64;
        dmu[i] += s * mu[i];
        dlv[i] += s * 0.5 * (e - 1.0);
    }
    a
}
fn l1(da: &mut [f32], a: &[f32], s: f32) -> f64 {
    let mut t = 0.0f64;
    for i in 0..a.len() {
        t += a[i].abs() as f64;
        da[i] += s * if a[i] > 0.0 {
            1.0
        } else if a[i] < 0.0 {
            -1.0
        } else {
            0.0
        };
    }
    t
}
fn kls(d: &mut [f32], r: &[f32], rho: f32, s: f32) -> f64 {
    let mut t = 0.0f64;
    for j in 0..r.len() {
        t += (rho * (rho / r[j]).ln() + (1.0 - rho) * ((1.0 - rho) / (1.0 - r[j])).ln()) as f64;
        d[j] = s * (-rho / r[j] + (1.0 - rho) / (1.0 - r[j]));
    }
    t
}
static SCALAR: Kernels = Kernels {
    isa: Isa::Scalar,
    bias_leaky_forward: blf,
    leaky_backward: lb,
    col_sums_add: cs,
    adam_update: adam,
    mse_grad: mse,
    reparam_forward: rf,
    reparam_backward: rb,
    kl_normal: kl,
    l1_penalty: l1,
    kl_sparsity: kls,
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
