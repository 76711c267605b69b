//! The normalized autoencoder's energy and its input gradients, from the nets' backward with
//! input gradients only (the weights are not touched):
//! - data space: E(x) = ‖x − f(x)‖²/D per row, f = decoder ∘ encoder (the encoder ends in the
//!   sphere projection when the latent is spherical); with r = x − f(x),
//!   ∂E/∂x = (2/D)·(r − J_fᵀ r), the second term by backward through decoder and encoder from
//!   dE/df = −2r/D;
//! - latent space: H(z) = E(D(z)), ∂H/∂z = J_Dᵀ ∂E/∂x at x = D(z) (a second decoder plan holds
//!   the first decode).
//!
//! Shapes: x N×D, z N×L, energies N. The nets run as the model has them (any backbone whose
//! nets map N×D → N×L → N×D).

use super::langevin::Energy;
use crate::engine::gemm::Gemm;
use crate::engine::plan::Plan;
use crate::models::Autoencoder;

/// Planned buffers for energies of up to `batch` rows.
#[derive(Clone, Debug, PartialEq)]
pub struct EnergyWork {
    pub batch: usize,
    enc: Plan,
    dec: Plan,
    /// The latent energy's first decode z → x.
    dec_z: Plan,
    /// dE/d(code), N×L.
    dcode: Vec<f32>,
    /// D(z) and ∂E/∂x at it, N×D (latent energy).
    xz: Vec<f32>,
    gxz: Vec<f32>,
}

impl EnergyWork {
    pub fn new(model: &Autoencoder, batch: usize, gemm: Gemm) -> Self {
        let (d, l) = (model.shape.input, model.shape.latent);
        EnergyWork {
            batch,
            enc: model.encoder.plan(batch, true, gemm),
            dec: model.decoder.plan(batch, true, gemm),
            dec_z: model.decoder.plan(batch, true, gemm),
            dcode: vec![0.0; batch * l],
            xz: vec![0.0; batch * d],
            gxz: vec![0.0; batch * d],
        }
    }
}

/// E per row of the first `n` rows of `x` into `e`, and ∂E/∂x into `g` if given.
fn data_energy(model: &Autoencoder, w: &mut EnergyWork, x: &[f32], n: usize, e: &mut [f32], g: Option<&mut [f32]>) {
    let (d, l) = (model.shape.input, model.shape.latent);
    let p = &model.params.data;
    model.encoder.forward(p, x, &mut w.enc, n);
    model.decoder.forward(p, w.enc.output(n), &mut w.dec, n);
    let inv_d = 1.0 / d as f32;
    {
        let (xh, dxh) = w.dec.output_and_grad_mut();
        for (r, er) in e[..n].iter_mut().enumerate() {
            let mut s = 0.0f64;
            for i in r * d..(r + 1) * d {
                let res = x[i] - xh[i];
                s += res as f64 * res as f64;
                dxh[i] = -2.0 * res * inv_d;
            }
            *er = (s / d as f64) as f32;
        }
    }
    let Some(g) = g else { return };
    model.decoder.backward(p, None, w.enc.output(n), &mut w.dec, Some(&mut w.dcode[..n * l]), n);
    w.enc.out_grad_mut()[..n * l].copy_from_slice(&w.dcode[..n * l]);
    model.encoder.backward(p, None, x, &mut w.enc, Some(&mut g[..n * d]), n);
    let xh = w.dec.output(n);
    for i in 0..n * d {
        g[i] += 2.0 * (x[i] - xh[i]) * inv_d;
    }
}

/// E(x) per row (no gradient): the NAE's anomaly score in normalised space.
pub fn energies(model: &Autoencoder, w: &mut EnergyWork, x: &[f32], n: usize, e: &mut [f32]) {
    data_energy(model, w, x, n, e, None);
}

/// The data-space energy as a Langevin [`Energy`].
pub struct DataEnergy<'a> {
    pub model: &'a Autoencoder,
    pub work: &'a mut EnergyWork,
}

impl Energy for DataEnergy<'_> {
    fn dim(&self) -> usize {
        self.model.shape.input
    }
    fn energy_grad(&mut self, x: &[f32], n: usize, e: &mut [f32], g: &mut [f32]) {
        data_energy(self.model, self.work, x, n, e, Some(g));
    }
}

/// The latent energy H(z) = E(D(z)) as a Langevin [`Energy`].
pub struct LatentEnergy<'a> {
    pub model: &'a Autoencoder,
    pub work: &'a mut EnergyWork,
}

impl Energy for LatentEnergy<'_> {
    fn dim(&self) -> usize {
        self.model.shape.latent
    }
    fn energy_grad(&mut self, z: &[f32], n: usize, e: &mut [f32], g: &mut [f32]) {
        let (m, d, l) = (self.model, self.model.shape.input, self.model.shape.latent);
        let w = &mut *self.work;
        let p = &m.params.data;
        m.decoder.forward(p, &z[..n * l], &mut w.dec_z, n);
        let mut xz = std::mem::take(&mut w.xz);
        let mut gxz = std::mem::take(&mut w.gxz);
        xz[..n * d].copy_from_slice(w.dec_z.output(n));
        data_energy(m, w, &xz, n, e, Some(&mut gxz));
        w.dec_z.out_grad_mut()[..n * d].copy_from_slice(&gxz[..n * d]);
        m.decoder.backward(p, None, &z[..n * l], &mut w.dec_z, Some(&mut g[..n * l]), n);
        w.xz = xz;
        w.gxz = gxz;
    }
}

/// Decodes the first `n` rows of `z` into `x` (N×D) with the latent plan.
pub fn decode(model: &Autoencoder, w: &mut EnergyWork, z: &[f32], x: &mut [f32], n: usize) {
    let d = model.shape.input;
    model.decoder.forward(&model.params.data, &z[..n * model.shape.latent], &mut w.dec_z, n);
    x[..n * d].copy_from_slice(w.dec_z.output(n));
}
