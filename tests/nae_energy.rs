//! Finite-difference checks (f64 reference, central differences) of the normalized
//! autoencoder's gradients at ragged shapes (D = 7, hidden 5 and 3, latent 3, 5 rows):
//! the sphere op's backward, the energy's input gradient ∂E/∂x (nets' backward with input
//! gradients only, weights untouched), the latent energy's ∂H/∂z, and the parameter gradient
//! of a whole NAE step (phase 1) with its negative samples held fixed.

use hepae::engine::gemm::Gemm;
use hepae::models::ae::{AeShape, Autoencoder, OutputActivation};
use hepae::models::nae::energy::{energies, DataEnergy, EnergyWork, LatentEnergy};
use hepae::models::nae::langevin::Energy;
use hepae::models::nae::{Nae, NaeOptions};
use hepae::models::Family;
use hepae::net::Net;
use hepae::nn::op::OpSpec;
use rand::Rng;

mod common;
use common::*;

/// f64 forward of a net of dense and sphere ops from (f64) parameters.
fn net64(m: &Net, p: &[f64], x: &[f64], n: usize) -> Vec<f64> {
    let mut h = x.to_vec();
    for l in &m.layers {
        let mut out = vec![0.0; n * l.out];
        match &l.op {
            OpSpec::Dense(d) => {
                for r in 0..n {
                    for j in 0..l.out {
                        let pre =
                            p[l.b() + j] + (0..l.inp).map(|q| h[r * l.inp + q] * p[l.w() + j * l.inp + q]).sum::<f64>();
                        out[r * l.out + j] = act64(d.act, pre);
                    }
                }
            }
            OpSpec::Sphere(_) => {
                for r in 0..n {
                    let row = &h[r * l.inp..(r + 1) * l.inp];
                    let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
                    for j in 0..l.out {
                        out[r * l.out + j] = row[j] / norm;
                    }
                }
            }
            other => panic!("no f64 reference for {other:?}"),
        }
        h = out;
    }
    h
}

/// E(x) = ‖x − D(Enc(x))‖²/D per row, in f64.
fn energy64(m: &Autoencoder, p: &[f64], x: &[f64], n: usize) -> Vec<f64> {
    let d = m.shape.input;
    let xh = net64(&m.decoder, p, &net64(&m.encoder, p, x, n), n);
    (0..n).map(|r| (r * d..(r + 1) * d).map(|i| (x[i] - xh[i]).powi(2)).sum::<f64>() / d as f64).collect()
}

fn model(spherical: bool, seed: u64) -> Autoencoder {
    let shape = AeShape {
        spherical,
        latent_activation: hepae::models::LatentActivation::Linear,
        ..AeShape::standard(7, vec![5, 3], 3, 0.2, OutputActivation::Linear)
    };
    let mut m = Autoencoder::new(shape);
    m.init(seed);
    // Larger weights than the default init, so that the energy is far from flat.
    m.params.data.iter_mut().for_each(|v| *v *= 2.0);
    m
}

fn rows(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut r = rng(seed);
    (0..n * d).map(|_| r.random_range(-1.0f32..1.0)).collect()
}

#[test]
fn sphere_op_backward_matches_finite_differences() {
    use hepae::nn::sphere::{sphere_backward, sphere_forward};
    let (n, d) = (3, 5);
    let z = rows(n, d, 2);
    let c: Vec<f64> = rows(n, d, 3).iter().map(|&v| v as f64).collect();
    let mut y = vec![0.0; n * d];
    sphere_forward(&mut y, &z, d);
    for row in y.chunks(d) {
        assert!((row.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-6, "rows land on the sphere");
    }
    // L = Σ c·y: dL/dy = c.
    let dy: Vec<f32> = c.iter().map(|&v| v as f32).collect();
    let mut dz = vec![0.0; n * d];
    sphere_backward(&mut dz, &dy, &y, &z, d);
    let z64: Vec<f64> = z.iter().map(|&v| v as f64).collect();
    let f = |zz: &[f64]| {
        (0..n)
            .map(|r| {
                let row = &zz[r * d..(r + 1) * d];
                let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
                row.iter().zip(&c[r * d..]).map(|(a, b)| a / norm * b).sum::<f64>()
            })
            .sum()
    };
    assert_close(&dz, &grad_all(&z64, &f), 1e-5, 1e-4, "dL/dz");
}

#[test]
fn energy_and_its_input_gradient_match_finite_differences() {
    for spherical in [true, false] {
        let m = model(spherical, 5);
        let p: Vec<f64> = m.params.data.iter().map(|&v| v as f64).collect();
        let (n, d) = (5, 7);
        let x = rows(n, d, 9);
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let mut w = EnergyWork::new(&m, 8, Gemm::detect());
        let (mut e, mut g) = (vec![0.0; n], vec![0.0; n * d]);
        let before = m.params.data.clone();
        DataEnergy { model: &m, work: &mut w }.energy_grad(&x, n, &mut e, &mut g);
        assert_eq!(m.params.data, before, "the weights are untouched");
        let want = energy64(&m, &p, &x64, n);
        assert_close(&e, &want, 1e-6, 1e-5, "E(x)");
        let mut e2 = vec![0.0; n];
        energies(&m, &mut w, &x, n, &mut e2);
        assert_eq!(e, e2, "the score path gives the same energies");
        let total = |xx: &[f64]| energy64(&m, &p, xx, n).iter().sum::<f64>();
        assert_close(&g, &grad_all(&x64, &total), 1e-5, 1e-3, &format!("dE/dx (spherical {spherical})"));
    }
}

#[test]
fn latent_energy_gradient_matches_finite_differences() {
    let m = model(true, 6);
    let p: Vec<f64> = m.params.data.iter().map(|&v| v as f64).collect();
    let (n, l) = (5, 3);
    let z = rows(n, l, 4);
    let z64: Vec<f64> = z.iter().map(|&v| v as f64).collect();
    let mut w = EnergyWork::new(&m, n, Gemm::detect());
    let (mut e, mut g) = (vec![0.0; n], vec![0.0; n * l]);
    LatentEnergy { model: &m, work: &mut w }.energy_grad(&z, n, &mut e, &mut g);
    let h = |zz: &[f64]| -> Vec<f64> { energy64(&m, &p, &net64(&m.decoder, &p, zz, n), n) };
    assert_close(&e, &h(&z64), 1e-6, 1e-5, "H(z)");
    let total = |zz: &[f64]| h(zz).iter().sum::<f64>();
    assert_close(&g, &grad_all(&z64, &total), 1e-5, 1e-3, "dH/dz");
}

#[test]
fn nae_step_parameter_gradient_matches_finite_differences_with_negatives_fixed() {
    for gamma_positive in [false, true] {
        let opt = NaeOptions {
            gamma: 0.7,
            gamma_positive,
            temperature: 1.3,
            l2_encoder: 1e-2,
            l2_decoder: 3e-2,
            // Short chains with noise, so the negatives are off the data and off the manifold.
            z: hepae::models::nae::langevin::Chain { steps: 3, noise: 0.3, ..NaeOptions::default().z },
            x: hepae::models::nae::langevin::Chain { steps: 3, noise: 0.1, step_size: 1.0, ..NaeOptions::default().x },
            ..NaeOptions::default()
        };
        let mut fam = Nae::new(opt.clone(), 0, 1e-3);
        let m = model(true, 8);
        let (n, d) = (5, 7);
        let x = rows(n, d, 12);
        fam.plan(&m, n, 1);
        let mut buf = m.plan(n, true);
        let mut grads = vec![0.0f32; m.params.len()];
        let (loss, penalty) = run_phase(&mut fam, 1, &m, &mut buf, &mut grads, &x, n, &mut rng(3));
        let neg: Vec<f64> = fam.samplers().next().unwrap().neg[..n * d].iter().map(|&v| v as f64).collect();
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let (t, g) = (opt.temperature as f64, opt.gamma as f64);
        let enc_end = m.encoder_end;
        let f = |p: &[f64]| {
            let (ep, en) = (energy64(&m, p, &x64, n), energy64(&m, p, &neg, n));
            let mut l = 0.0;
            for r in 0..n {
                l += (ep[r] - en[r]) / t + g * en[r] * en[r] + if gamma_positive { g * ep[r] * ep[r] } else { 0.0 };
            }
            let sq = |r: std::ops::Range<usize>| p[r].iter().map(|v| v * v).sum::<f64>();
            l / n as f64 + opt.l2_encoder as f64 * sq(0..enc_end) + opt.l2_decoder as f64 * sq(enc_end..m.decoder_end)
        };
        let p64: Vec<f64> = m.params.data.iter().map(|&v| v as f64).collect();
        // The loop's units: (loss + penalty) = L·N·D.
        assert!(((loss + penalty) / (n * d) as f64 - f(&p64)).abs() < 1e-5 * f(&p64).abs().max(1.0), "loss value");
        assert_close(&grads, &grad_all(&p64, &f), 1e-5, 2e-3, &format!("dL/dθ (gamma_positive {gamma_positive})"));
    }
}
