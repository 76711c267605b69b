//! Projection of every row onto the unit sphere: y = z/‖z‖ (the normalized autoencoder's
//! spherical latent). No parameters; the output shape is the input's.
//!
//! Backward, from the forward line `y = z / n` with `n = ‖z‖`:
//! ∂y_i/∂z_j = (δ_ij − y_i·y_j)/n, so dz = (dy − y·(y·dy))/n.
//!
//! A row of zeros (n = 0) has no direction; it is divided by [`MIN_NORM`] instead (stays zero).

use super::op::{Ctx, Op, ParamShape};
use crate::engine::tensor::{Shape, Tensor, TensorMut};
use serde::{Deserialize, Serialize};

/// The smallest norm divided by.
pub const MIN_NORM: f32 = 1e-12;

/// The op (no fields: it has nothing to configure).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sphere {}

/// ‖row‖, at least [`MIN_NORM`], accumulated in f64.
fn row_norm(z: &[f32]) -> f32 {
    (z.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt() as f32).max(MIN_NORM)
}

/// out\[r] = z\[r]/‖z\[r]‖ for N rows of `d` values.
pub fn sphere_forward(out: &mut [f32], z: &[f32], d: usize) {
    for (y, z) in out.chunks_exact_mut(d).zip(z.chunks_exact(d)) {
        let inv = 1.0 / row_norm(z);
        for (a, &b) in y.iter_mut().zip(z) {
            *a = b * inv;
        }
    }
}

/// dz\[r] = (dy\[r] − y\[r]·(y\[r]·dy\[r]))/‖z\[r]‖, from the forward's output y and input z.
pub fn sphere_backward(dz: &mut [f32], dy: &[f32], y: &[f32], z: &[f32], d: usize) {
    for (((dz, dy), y), z) in
        dz.chunks_exact_mut(d).zip(dy.chunks_exact(d)).zip(y.chunks_exact(d)).zip(z.chunks_exact(d))
    {
        let inv = 1.0 / row_norm(z);
        let dot: f32 = y.iter().zip(dy).map(|(a, b)| a * b).sum();
        for ((g, &gy), &yy) in dz.iter_mut().zip(dy).zip(y) {
            *g = (gy - yy * dot) * inv;
        }
    }
}

impl Op for Sphere {
    fn out_shape(&self, inp: Shape) -> Shape {
        inp
    }
    fn params(&self, _inp: Shape) -> Vec<ParamShape> {
        Vec::new()
    }
    fn init(&self, _inp: Shape, _params: &mut [f32], _rng: &mut rand::rngs::StdRng) {}
    fn forward(&self, _cx: &Ctx<'_>, _params: &[f32], inp: Tensor<'_>, out: TensorMut<'_>, _work: &mut [f32]) {
        sphere_forward(out.data, inp.data, inp.shape.len());
    }
    fn backward(
        &self,
        _cx: &Ctx<'_>,
        _dparams: Option<&mut [f32]>,
        dinp: Option<&mut [f32]>,
        dout: &mut [f32],
        out: Tensor<'_>,
        inp: Tensor<'_>,
        _params: &[f32],
        _work: &mut [f32],
    ) {
        if let Some(dz) = dinp {
            let d = inp.shape.len();
            let len = inp.n * d;
            sphere_backward(&mut dz[..len], &dout[..len], out.data, inp.data, d);
        }
    }
}
