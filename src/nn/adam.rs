//! Adam (Kingma & Ba), with PyTorch's defaults and bias correction, over one flat parameter
//! buffer: one kernel call updates every parameter of the model.

use hepae_kernels::AdamStep;

/// Parameters per task of [`Adam::step_parallel`] (a multiple of every SIMD width).
pub const ADAM_CHUNK: usize = 8192;

/// Adam's hyper-parameters and moment buffers (allocated once, as long as the parameters).
#[derive(Clone, Debug)]
pub struct Adam {
    /// Hyper-parameters in f64, as PyTorch holds them (Python floats): 1 − β is then exact
    /// before its one rounding to f32.
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Steps taken so far.
    pub t: u64,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Adam {
    /// β1 = 0.9, β2 = 0.999, ε = 1e-8 (PyTorch defaults).
    pub fn new(n_params: usize, lr: f32) -> Self {
        Adam {
            lr: lr as f64,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            t: 0,
            m: vec![0.0; n_params],
            v: vec![0.0; n_params],
        }
    }

    /// One step, for t = t + 1, in PyTorch's form (its `lerp` for m):
    /// m ← m + (1−β1)·(g − m);  v ← β2·v + (1−β2)·g²;
    /// p ← p − lr/(1−β1ᵗ) · m / (√v / √(1−β2ᵗ) + ε),
    /// with 1−β and the bias corrections computed in f64 and rounded once.
    pub fn step(&mut self, params: &mut [f32], grads: &[f32]) {
        assert!(params.len() == self.m.len() && grads.len() == self.m.len());
        self.t += 1;
        let hp = AdamStep::new(self.lr, self.beta1, self.beta2, self.eps, self.t);
        (hepae_kernels::kernels().adam_update)(params, grads, &mut self.m, &mut self.v, &hp);
    }

    /// [`Adam::step`] with the update split by parameter slices of [`ADAM_CHUNK`] across
    /// `pool`'s threads (same bits: the update is element-wise).
    pub fn step_parallel(&mut self, pool: Option<&rayon::ThreadPool>, params: &mut [f32], grads: &[f32]) {
        use rayon::prelude::*;
        let Some(pool) = pool else { return self.step(params, grads) };
        assert!(params.len() == self.m.len() && grads.len() == self.m.len());
        self.t += 1;
        let hp = AdamStep::new(self.lr, self.beta1, self.beta2, self.eps, self.t);
        let k = hepae_kernels::kernels();
        pool.install(|| {
            params
                .par_chunks_mut(ADAM_CHUNK)
                .zip(grads.par_chunks(ADAM_CHUNK))
                .zip(self.m.par_chunks_mut(ADAM_CHUNK))
                .zip(self.v.par_chunks_mut(ADAM_CHUNK))
                .for_each(|(((p, g), m), v)| (k.adam_update)(p, g, m, v, &hp))
        });
    }

    /// The moment buffers (first, second), e.g. for checkpoints and tests.
    pub fn moments(&self) -> (&[f32], &[f32]) {
        (&self.m, &self.v)
    }
}
