//! Adam (Kingma & Ba), with PyTorch's defaults and bias correction, over one flat parameter
//! buffer: one kernel call updates every parameter of the model.

use hepae_kernels::AdamStep;

/// Adam's hyper-parameters and moment buffers (allocated once, as long as the parameters).
#[derive(Clone, Debug)]
pub struct Adam {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// Steps taken so far.
    pub t: u64,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Adam {
    /// β1 = 0.9, β2 = 0.999, ε = 1e-8 (PyTorch defaults).
    pub fn new(n_params: usize, lr: f32) -> Self {
        Adam { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, t: 0, m: vec![0.0; n_params], v: vec![0.0; n_params] }
    }

    /// One step, for t = t + 1:
    /// m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;
    /// p ← p − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε).
    pub fn step(&mut self, params: &mut [f32], grads: &[f32]) {
        assert!(params.len() == self.m.len() && grads.len() == self.m.len());
        self.t += 1;
        let t = self.t as i32;
        let hp = AdamStep {
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            bc1: (1.0 - (self.beta1 as f64).powi(t)) as f32,
            bc2: (1.0 - (self.beta2 as f64).powi(t)) as f32,
        };
        (hepae_kernels::kernels().adam_update)(params, grads, &mut self.m, &mut self.v, &hp);
    }

    /// The moment buffers (first, second), e.g. for checkpoints and tests.
    pub fn moments(&self) -> (&[f32], &[f32]) {
        (&self.m, &self.v)
    }
}
