//! Finite-difference checks (f64 reference, central differences) for every term the model
//! families add: the reparameterised path with ε held fixed, the KL terms, both sparsity
//! penalties, BCE-with-logits, the Gaussian NLL, and whole VAE, sparse, denoising and AAE
//! steps.

use hepae::models::adversarial::Adversarial;
use hepae::models::ae::{AeBuffers, AeShape, Autoencoder, LatentActivation, ModelKind, OutputActivation, Prior};
use hepae::models::Family;
use hepae::net::Net;
use hepae::nn::loss::{bce_with_logits_forward_backward, gaussian_nll_forward_backward};
use rand::Rng;

mod common;
use common::*;

/// f64 forward of a dense net from (f64) parameters.
fn mlp64(m: &Net, p: &[f64], x: &[f64], n: usize) -> Vec<f64> {
    let mut h = x.to_vec();
    for l in &m.layers {
        let mut out = vec![0.0; n * l.out];
        let (lw, lb, act) = (l.w(), l.b(), l.dense().expect("dense layers").act);
        for r in 0..n {
            for j in 0..l.out {
                let pre = p[lb + j] + (0..l.inp).map(|q| h[r * l.inp + q] * p[lw + j * l.inp + q]).sum::<f64>();
                out[r * l.out + j] = act64(act, pre);
            }
        }
        h = out;
    }
    h
}

/// The family of `kind` with the options these checks use: β 0.7, λ 0.05, ρ 0.05, noise σ 0.1,
/// masking 0.2, a 5-wide discriminator.
fn family(kind: ModelKind, gaussian: bool) -> Box<dyn Family> {
    let cfg = hepae::TrainConfig {
        model: kind,
        latent: 3,
        beta: 0.7,
        lambda: 0.05,
        rho: 0.05,
        noise: 0.1,
        mask: 0.2,
        gaussian_decoder: gaussian,
        disc_hidden: vec![5],
        ..Default::default()
    };
    hepae::models::family_for(&cfg)
}

#[test]
fn kl_normal_and_reparameterisation_match_finite_differences() {
    let mut r = rng(1);
    let k = hepae_kernels::kernels();
    for &len in &[1usize, 5, 16, 17, 33] {
        let mu: Vec<f32> = (0..len).map(|_| r.random_range(-2.0..2.0)).collect();
        let lv: Vec<f32> = (0..len).map(|_| r.random_range(-3.0..2.0)).collect();
        let eps: Vec<f32> = (0..len).map(|_| r.random_range(-2.0..2.0)).collect();
        let c: Vec<f64> = (0..len).map(|_| r.random_range(-1.0..1.0)).collect();
        // L = Σ c·z + s·KL, with z = μ + exp(½ lv)·ε and ε held fixed.
        let s = 0.3f32;
        let (mut dmu, mut dlv) = (vec![0.0f32; len], vec![0.0f32; len]);
        let kl = (k.kl_normal)(&mut dmu, &mut dlv, &mu, &lv, s);
        let dz: Vec<f32> = c.iter().map(|&v| v as f32).collect();
        (k.reparam_backward)(&mut dmu, &mut dlv, &dz, &lv, &eps);
        let mut z = vec![0.0f32; len];
        (k.reparam_forward)(&mut z, &mu, &lv, &eps);
        let e64: Vec<f64> = eps.iter().map(|&v| v as f64).collect();
        let f = |mu: &[f64], lv: &[f64]| -> f64 {
            (0..len)
                .map(|i| {
                    let zi = mu[i] + (0.5 * lv[i]).exp() * e64[i];
                    c[i] * zi + s as f64 * 0.5 * (mu[i] * mu[i] + lv[i].exp() - 1.0 - lv[i])
                })
                .sum()
        };
        let mu64: Vec<f64> = mu.iter().map(|&v| v as f64).collect();
        let lv64: Vec<f64> = lv.iter().map(|&v| v as f64).collect();
        assert_close(&dmu, &grad_all(&mu64, &|m| f(m, &lv64)), 1e-5, 1e-4, "dμ");
        assert_close(&dlv, &grad_all(&lv64, &|l| f(&mu64, l)), 1e-5, 1e-4, "dlogσ²");
        let kl_ref: f64 = (0..len).map(|i| 0.5 * (mu64[i] * mu64[i] + lv64[i].exp() - 1.0 - lv64[i])).sum();
        assert!((kl - kl_ref).abs() <= 1e-5 * kl_ref.max(1.0), "KL value {kl} vs {kl_ref}");
        for i in 0..len {
            let zr = mu64[i] + (0.5 * lv64[i]).exp() * e64[i];
            assert!((z[i] as f64 - zr).abs() <= 1e-5 * zr.abs().max(1.0), "z[{i}]");
        }
    }
}

#[test]
fn sparsity_penalties_match_finite_differences() {
    let mut r = rng(2);
    let k = hepae_kernels::kernels();
    for &len in &[1usize, 7, 16, 19] {
        // L1 away from 0.
        let a: Vec<f32> =
            (0..len).map(|_| r.random_range(0.05f32..2.0) * if r.random::<bool>() { 1.0 } else { -1.0 }).collect();
        let mut da = vec![0.0f32; len];
        let v = (k.l1_penalty)(&mut da, &a, 0.4);
        let a64: Vec<f64> = a.iter().map(|&x| x as f64).collect();
        assert_close(&da, &grad_all(&a64, &|a| 0.4 * a.iter().map(|x| x.abs()).sum::<f64>()), 1e-6, 1e-5, "L1");
        assert!((v - a64.iter().map(|x| x.abs()).sum::<f64>()).abs() < 1e-5);
        // KL(ρ‖ρ̂) over mean activations.
        let rho = 0.05f32;
        let rh: Vec<f32> = (0..len).map(|_| r.random_range(0.02f32..0.95)).collect();
        let mut dr = vec![0.0f32; len];
        let v = (k.kl_sparsity)(&mut dr, &rh, rho, 0.6);
        let r64: Vec<f64> = rh.iter().map(|&x| x as f64).collect();
        let p = rho as f64;
        let f = |q: &[f64]| q.iter().map(|&q| p * (p / q).ln() + (1.0 - p) * ((1.0 - p) / (1.0 - q)).ln()).sum::<f64>();
        assert_close(&dr, &grad_all(&r64, &|q| 0.6 * f(q)), 1e-5, 1e-4, "KL sparsity");
        assert!((v - f(&r64)).abs() <= 1e-5 * f(&r64).max(1.0));
    }
}

#[test]
fn bce_with_logits_is_stable_and_matches_finite_differences() {
    let logits = [-40.0f32, -3.0, -0.2, 0.0, 0.7, 5.0, 60.0];
    for target in [0.0f32, 1.0] {
        let mut d = [0.0f32; 7];
        let sum = bce_with_logits_forward_backward(&mut d, &logits, target, 0.5);
        assert!(sum.is_finite());
        let l64: Vec<f64> = logits.iter().map(|&x| x as f64).collect();
        let y = target as f64;
        let f = |x: &[f64]| {
            x.iter()
                .map(|&x| -y * (1.0 / (1.0 + (-x).exp())).ln() - (1.0 - y) * (1.0 - 1.0 / (1.0 + (-x).exp())).ln())
                .sum::<f64>()
        };
        // The naive formula overflows at ±40/60; compare the gradient where it is finite.
        let g = grad_all(&l64[1..6], &|x| 0.5 * f(x));
        assert_close(&d[1..6], &g, 1e-6, 1e-4, "BCE grad");
        let direct: f64 = l64.iter().map(|&x| x.max(0.0) - x * y + (1.0 + (-x.abs()).exp()).ln()).sum();
        assert!((sum - direct).abs() < 1e-9);
        // Saturated logits give the exact limits: loss ≈ |x| for the wrong label, gradient ±0.5.
        if target == 1.0 {
            assert!((d[0] + 0.5).abs() < 1e-6 && d[6].abs() < 1e-6);
        }
    }
}

#[test]
fn gaussian_nll_matches_finite_differences() {
    let mut r = rng(3);
    let len = 23;
    let mean: Vec<f32> = (0..len).map(|_| r.random_range(-1.0..1.0)).collect();
    let lv: Vec<f32> = (0..len).map(|_| r.random_range(-4.0..2.0)).collect();
    let t: Vec<f32> = (0..len).map(|_| r.random_range(-1.0..1.0)).collect();
    let (mut dm, mut dv) = (vec![0.0; len], vec![0.0; len]);
    let count = 50;
    let sum = gaussian_nll_forward_backward(&mut dm, &mut dv, &mean, &lv, &t, count);
    let t64: Vec<f64> = t.iter().map(|&v| v as f64).collect();
    let f = |m: &[f64], v: &[f64]| -> f64 {
        (0..len)
            .map(|i| 0.5 * (v[i] + (t64[i] - m[i]).powi(2) * (-v[i]).exp() + (2.0 * std::f64::consts::PI).ln()))
            .sum::<f64>()
            / count as f64
    };
    let m64: Vec<f64> = mean.iter().map(|&v| v as f64).collect();
    let v64: Vec<f64> = lv.iter().map(|&v| v as f64).collect();
    assert_close(&dm, &grad_all(&m64, &|m| f(m, &v64)), 1e-6, 1e-4, "dμ");
    assert_close(&dv, &grad_all(&v64, &|v| f(&m64, v)), 1e-6, 1e-4, "dlogσ²");
    assert!((sum / count as f64 - f(&m64, &v64)).abs() < 1e-6);
}

fn small_model(kind: ModelKind, gaussian: bool, seed: u64) -> Autoencoder {
    let mut shape = AeShape::standard(6, vec![9], 3, 0.1, OutputActivation::Linear);
    match kind {
        ModelKind::Vae => {
            shape.variational = true;
            shape.latent_activation = LatentActivation::Linear;
            shape.gaussian_decoder = gaussian;
        }
        ModelKind::SparseKl => shape.latent_activation = LatentActivation::Sigmoid,
        ModelKind::Aae => {
            shape.latent_activation = LatentActivation::Linear;
            shape.discriminator = vec![5];
        }
        _ => {}
    }
    let mut m = Autoencoder::new(shape);
    m.init(seed);
    m
}

/// Checks grads of the trained parameters [0, end) against numeric ones of `loss`.
fn check_params(model: &Autoencoder, grads: &[f32], end: usize, loss: &dyn Fn(&[f64]) -> f64, what: &str) {
    let p64: Vec<f64> = model.params.data.iter().map(|&v| v as f64).collect();
    let mut p = p64.clone();
    let want: Vec<f64> = (0..end).map(|k| numeric(&mut p, k, loss)).collect();
    assert_close(&grads[..end], &want, 3e-5, 3e-3, what);
}

#[test]
fn whole_vae_step_matches_finite_differences_with_eps_fixed() {
    for gaussian in [false, true] {
        let model = small_model(ModelKind::Vae, gaussian, 11);
        let (n, d, l) = (4, 6, 3);
        let mut r = rng(5);
        let x: Vec<f32> = (0..n * d).map(|_| r.random_range(0.0..1.0)).collect();
        let mut buf: AeBuffers = model.plan(n, true);
        let mut grads = vec![0.0f32; model.params.len()];
        let (recon, penalty) =
            run_phase(&mut *family(ModelKind::Vae, gaussian), 0, &model, &mut buf, &mut grads, &x, n, &mut rng(9));
        let eps: Vec<f64> = buf.work.eps[..n * l].iter().map(|&v| v as f64).collect();
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let beta = 0.7f32 as f64;
        let f = |p: &[f64]| -> f64 {
            let h = mlp64(&model.encoder, p, &x64, n);
            let mut z = vec![0.0; n * l];
            let mut kl = 0.0;
            for r in 0..n {
                for j in 0..l {
                    let (mu, lv) = (h[r * 2 * l + j], h[r * 2 * l + l + j]);
                    z[r * l + j] = mu + (0.5 * lv).exp() * eps[r * l + j];
                    kl += 0.5 * (mu * mu + lv.exp() - 1.0 - lv);
                }
            }
            let y = mlp64(&model.decoder, p, &z, n);
            let mut rec = 0.0;
            for r in 0..n {
                for c in 0..d {
                    let t = x64[r * d + c];
                    rec += if gaussian {
                        let (m, v) = (y[r * 2 * d + c], y[r * 2 * d + d + c]);
                        0.5 * (v + (t - m).powi(2) * (-v).exp() + (2.0 * std::f64::consts::PI).ln())
                    } else {
                        (y[r * d + c] - t).powi(2)
                    };
                }
            }
            (rec + beta * kl) / (n * d) as f64
        };
        let p64: Vec<f64> = model.params.data.iter().map(|&v| v as f64).collect();
        let total = (recon + penalty) / (n * d) as f64;
        assert!((total - f(&p64)).abs() <= 1e-5 * f(&p64).abs().max(1e-3), "VAE loss {total} vs {}", f(&p64));
        check_params(&model, &grads, model.trainable, &f, &format!("VAE gaussian={gaussian}"));
    }
}

#[test]
fn whole_sparse_and_denoising_steps_match_finite_differences() {
    let (n, d, l) = (5, 6, 3);
    let mut r = rng(6);
    let x: Vec<f32> = (0..n * d).map(|_| r.random_range(0.0..1.0)).collect();
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    for kind in [ModelKind::SparseL1, ModelKind::SparseKl, ModelKind::Denoising] {
        let model = small_model(kind, false, 21);
        let mut buf = model.plan(n, true);
        let mut grads = vec![0.0f32; model.params.len()];
        let rho = 0.05f64;
        // Sparse-KL needs the batch-mean activation between forward and backward (the
        // family's combine): one shard is the whole batch here.
        let (recon, penalty) =
            run_phase(&mut *family(kind, false), 0, &model, &mut buf, &mut grads, &x, n, &mut rng(4));
        let xin: Vec<f64> = if kind == ModelKind::Denoising {
            buf.xin[..n * d].iter().map(|&v| v as f64).collect()
        } else {
            x64.clone()
        };
        let lam = 0.05f32 as f64;
        let f = |p: &[f64]| -> f64 {
            let z = mlp64(&model.encoder, p, &xin, n);
            let y = mlp64(&model.decoder, p, &z, n);
            let rec: f64 = y.iter().zip(&x64).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / (n * d) as f64;
            rec + match kind {
                ModelKind::SparseL1 => lam * z.iter().map(|v| v.abs()).sum::<f64>() / n as f64,
                ModelKind::SparseKl => (0..l)
                    .map(|j| {
                        let q = (0..n).map(|r| z[r * l + j]).sum::<f64>() / n as f64;
                        lam * (rho * (rho / q).ln() + (1.0 - rho) * ((1.0 - rho) / (1.0 - q)).ln())
                    })
                    .sum::<f64>(),
                _ => 0.0,
            }
        };
        let p64: Vec<f64> = model.params.data.iter().map(|&v| v as f64).collect();
        let total = (recon + penalty) / (n * d) as f64;
        assert!((total - f(&p64)).abs() <= 1e-5 * f(&p64).abs().max(1e-3), "{kind}: loss {total} vs {}", f(&p64));
        check_params(&model, &grads, model.trainable, &f, &format!("{kind}"));
        if kind == ModelKind::Denoising {
            assert!(xin.iter().zip(&x64).any(|(a, b)| a != b), "the encoder saw a corrupted input");
        }
    }
}

#[test]
fn aae_discriminator_and_generator_steps_match_finite_differences() {
    let model = small_model(ModelKind::Aae, false, 31);
    let (n, d, l) = (4, 6, 3);
    let mut r = rng(8);
    let x: Vec<f32> = (0..n * d).map(|_| r.random_range(0.0..1.0)).collect();
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let disc = model.discriminator.clone().unwrap();
    let bce = |logit: f64, y: f64| logit.max(0.0) - logit * y + (-logit.abs()).exp().ln_1p();

    // Phase 2: gradients of the discriminator's parameters.
    let mut buf = model.plan(n, true);
    let mut grads = vec![0.0f32; model.params.len()];
    let mut aae = Adversarial { prior: Prior::Normal, disc_hidden: vec![5] };
    let (sum, _) = run_phase(&mut aae, 1, &model, &mut buf, &mut grads, &x, n, &mut rng(12));
    let prior: Vec<f64> = buf.work.eps[..n * l].iter().map(|&v| v as f64).collect();
    let f_disc = |p: &[f64]| -> f64 {
        let z = mlp64(&model.encoder, p, &x64, n);
        let real = mlp64(&disc, p, &prior, n);
        let fake = mlp64(&disc, p, &z, n);
        0.5 * (real.iter().map(|&v| bce(v, 1.0)).sum::<f64>() + fake.iter().map(|&v| bce(v, 0.0)).sum::<f64>())
            / n as f64
    };
    let p64: Vec<f64> = model.params.data.iter().map(|&v| v as f64).collect();
    assert!((0.5 * sum / n as f64 - f_disc(&p64)).abs() < 1e-5);
    let mut p = p64.clone();
    let want: Vec<f64> = (model.decoder_end..model.trainable).map(|k| numeric(&mut p, k, &f_disc)).collect();
    assert_close(&grads[model.decoder_end..model.trainable], &want, 3e-5, 3e-3, "AAE discriminator");

    // Phase 3: gradients of the encoder's parameters (generator loss).
    let mut grads = vec![0.0f32; model.params.len()];
    run_phase(&mut aae, 2, &model, &mut buf, &mut grads, &x, n, &mut rng(0));
    let f_gen = |p: &[f64]| -> f64 {
        let z = mlp64(&model.encoder, p, &x64, n);
        mlp64(&disc, p, &z, n).iter().map(|&v| bce(v, 1.0)).sum::<f64>() / n as f64
    };
    let mut p = p64.clone();
    let want: Vec<f64> = (0..model.encoder_end).map(|k| numeric(&mut p, k, &f_gen)).collect();
    assert_close(&grads[..model.encoder_end], &want, 3e-5, 3e-3, "AAE generator");

    // Phase 1 is the plain reconstruction step.
    let mut grads = vec![0.0f32; model.params.len()];
    run_phase(&mut aae, 0, &model, &mut buf, &mut grads, &x, n, &mut rng(1));
    let f_rec = |p: &[f64]| -> f64 {
        let y = mlp64(&model.decoder, p, &mlp64(&model.encoder, p, &x64, n), n);
        y.iter().zip(&x64).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / (n * d) as f64
    };
    check_params(&model, &grads, model.decoder_end, &f_rec, "AAE reconstruction");
}

/// The spectral families' terms: ae+spectral's whole step, α·Σ‖z − y‖²/(N·L) beside the
/// reconstruction; spectral's two phases, the encoder's regression onto y (encoder
/// parameters only) and the decoder's reconstruction from the encoder's code (decoder
/// parameters only).
#[test]
fn spectral_families_steps_match_finite_differences() {
    use hepae::models::spectral::{AeSpectral, Spectral, SpectralConfig, Targets};
    let (n, d, l) = (5, 6, 3);
    let mut r = rng(8);
    let x: Vec<f32> = (0..n * d).map(|_| r.random_range(0.0..1.0)).collect();
    let y: Vec<f32> = (0..n * l).map(|_| r.random_range(-1.5..1.5)).collect();
    let (x64, y64): (Vec<f64>, Vec<f64>) =
        (x.iter().map(|&v| v as f64).collect(), y.iter().map(|&v| v as f64).collect());
    let targets = || Targets { coords: y.clone(), latent: l, laplacian: vec![0.1; l], graph_rows: n, seconds: 0.0 };
    let cfg = SpectralConfig { alpha: 0.6, ..Default::default() };
    let shape = AeShape {
        latent_activation: LatentActivation::Linear,
        ..AeShape::standard(d, vec![9], l, 0.1, OutputActivation::Linear)
    };
    let mut model = Autoencoder::new(shape);
    model.init(41);
    let pull = |z: &[f64]| z.iter().zip(&y64).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / (n * l) as f64;
    let rec = |p: &[f64], z: &[f64]| {
        let out = mlp64(&model.decoder, p, z, n);
        out.iter().zip(&x64).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / (n * d) as f64
    };

    let mut buf = model.plan(n, true);
    let mut grads = vec![0.0f32; model.params.len()];
    let mut fam = AeSpectral::with_targets(cfg.clone(), targets());
    let (recon, penalty) = run_phase(&mut fam, 0, &model, &mut buf, &mut grads, &x, n, &mut rng(1));
    let alpha = 0.6f32 as f64;
    let f = |p: &[f64]| {
        let z = mlp64(&model.encoder, p, &x64, n);
        rec(p, &z) + alpha * pull(&z)
    };
    let p64: Vec<f64> = model.params.data.iter().map(|&v| v as f64).collect();
    let total = (recon + penalty) / (n * d) as f64;
    assert!((total - f(&p64)).abs() <= 1e-5 * f(&p64).abs(), "ae+spectral loss {total} vs {}", f(&p64));
    check_params(&model, &grads, model.trainable, &f, "ae+spectral");

    // spectral, phase 0: the encoder regresses y; nothing reaches the decoder.
    let mut fam = Spectral::with_targets(cfg.clone(), targets());
    let mut grads = vec![0.0f32; model.params.len()];
    run_phase(&mut fam, 0, &model, &mut buf, &mut grads, &x, n, &mut rng(1));
    let f0 = |p: &[f64]| pull(&mlp64(&model.encoder, p, &x64, n));
    check_params(&model, &grads, model.encoder_end, &f0, "spectral regression");
    assert!(grads[model.encoder_end..].iter().all(|&g| g == 0.0), "regression must leave the decoder alone");
    // Phase 1: the decoder rebuilds x from the encoder's (fixed) code.
    let mut grads = vec![0.0f32; model.params.len()];
    let (loss, _) = run_phase(&mut fam, 1, &model, &mut buf, &mut grads, &x, n, &mut rng(1));
    let z0 = mlp64(&model.encoder, &p64, &x64, n);
    let f1 = |p: &[f64]| rec(p, &z0);
    assert!((loss / (n * d) as f64 - f1(&p64)).abs() <= 1e-5 * f1(&p64), "spectral reconstruction loss");
    let mut p = p64.clone();
    let want: Vec<f64> = (model.encoder_end..model.decoder_end).map(|k| numeric(&mut p, k, &f1)).collect();
    assert_close(&grads[model.encoder_end..model.decoder_end], &want, 3e-5, 3e-3, "spectral reconstruction");
}
