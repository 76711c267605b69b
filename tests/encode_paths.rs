//! The encoder's fast paths give the bits of the net's forward: the fused whole-encoder
//! kernel at small batches and the row-tiled one at larger batches (every family whose
//! encoder is a dense chain: AE with LeakyReLU or linear latent, VAE's μ head, AE+PCA's
//! whitening stage in front), on every kernel set this CPU has, and the one-pass affine
//! normaliser; bad input is reported as before.

use hepae::data::normalize::{ColumnTransform, NormKind, Normalizer};
use hepae::encoder::{BadInput, Encoder, SMALL_BATCH};
use hepae::models::{AeShape, Autoencoder, LatentActivation, ModelKind, OutputActivation};
use hepae::SavedModel;
use hepae_kernels::available_isas;
use rand::{Rng, SeedableRng};

const D: usize = 24;

fn shape(latent_act: LatentActivation, variational: bool, whitening: bool) -> AeShape {
    AeShape {
        latent_activation: latent_act,
        variational,
        whitening,
        ..AeShape::standard(D, vec![200, 100, 50], 15, 0.01, OutputActivation::Linear)
    }
}

/// A model with random parameters (whitening stages included) and an affine normaliser.
fn model(s: AeShape, seed: u64) -> SavedModel {
    let mut ae = Autoencoder::new(s);
    let mut r = rand::rngs::StdRng::seed_from_u64(seed);
    for v in &mut ae.params.data {
        *v = r.random_range(-0.25f32..0.25);
    }
    let columns: Vec<String> = (0..D).map(|i| format!("c{i}")).collect();
    let mut norm = Normalizer::identity(&columns);
    norm.transforms = (0..D)
        .map(|i| ColumnTransform::Affine { shift: i as f32 * 0.37 - 2.0, scale: 0.5 + i as f32 * 0.21 })
        .collect();
    SavedModel::new(ModelKind::Ae, ae, columns, norm)
}

fn jets(rows: usize, seed: u64) -> Vec<f32> {
    let mut r = rand::rngs::StdRng::seed_from_u64(seed);
    (0..rows * D).map(|_| r.random_range(-3.0f32..8.0)).collect()
}

fn encode(enc: &mut Encoder, x: &[f32], rows: usize) -> Vec<f32> {
    let mut z = vec![f32::NAN; rows * enc.latent_dim()];
    enc.encode(x, rows, &mut z).expect("finite jets");
    z
}

fn assert_bits_equal(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.to_bits(), w.to_bits(), "{what}: element {i}: {g} vs {w}");
    }
}

#[test]
fn the_fused_encoder_gives_the_net_s_bits_for_every_dense_family_and_kernel_set() {
    let cases = [
        ("ae", shape(LatentActivation::Leaky, false, false)),
        ("ae linear latent", shape(LatentActivation::Linear, false, false)),
        ("vae mu", shape(LatentActivation::Linear, true, false)),
        ("ae+pca", shape(LatentActivation::Leaky, false, true)),
    ];
    let x = jets(7, 1);
    for (seed, (name, s)) in cases.into_iter().enumerate() {
        let m = model(s, seed as u64);
        // The reference: the normaliser's general pass, then the net's forward.
        let mut buf = m.ae.plan_packed(SMALL_BATCH);
        let mut default = Encoder::new(&m, SMALL_BATCH);
        for rows in 1..=SMALL_BATCH {
            let mut xn = x[..rows * D].to_vec();
            m.meta.normalizer.normalize_rows(&mut xn).expect("finite");
            let want = m.ae.encode(&xn, &mut buf, rows).to_vec();
            assert_bits_equal(&encode(&mut default, &x, rows), &want, &format!("{name} rows {rows} against the net"));
        }
        for isa in available_isas() {
            let mut fused = Encoder::with_isa(&m, SMALL_BATCH, isa).expect("available");
            assert!(fused.is_fused(), "{name}: a dense chain is fused");
            let mut per_op = Encoder::with_isa(&m, SMALL_BATCH, isa).expect("available").without_fusion();
            for rows in 1..=SMALL_BATCH {
                let what = format!("{name} on {} rows {rows}", isa.name());
                assert_bits_equal(&encode(&mut fused, &x, rows), &encode(&mut per_op, &x, rows), &what);
            }
            // 7 rows at max batch 4: chunks of 4 and 3, both fused.
            assert_bits_equal(&encode(&mut fused, &x, 7), &encode(&mut per_op, &x, 7), &format!("{name} 7 rows"));
        }
    }
}

#[test]
fn the_row_tiled_encoder_gives_the_gemm_path_s_bits_for_every_dense_family_and_kernel_set() {
    let cases = [
        ("ae", shape(LatentActivation::Leaky, false, false)),
        ("ae linear latent", shape(LatentActivation::Linear, false, false)),
        ("vae mu", shape(LatentActivation::Linear, true, false)),
        ("ae+pca", shape(LatentActivation::Leaky, false, true)),
    ];
    let x = jets(300, 7);
    for (seed, (name, s)) in cases.into_iter().enumerate() {
        let m = model(s, 20 + seed as u64);
        for isa in available_isas() {
            let mut tiled = Encoder::with_isa(&m, 4096, isa).expect("available");
            // The scalar set keeps its portable GEMM (the same bits, and faster there).
            let scalar = isa == hepae_kernels::Isa::Scalar;
            assert_eq!(tiled.is_batch_fused(), !scalar, "{name}: a dense chain is fused for large batches");
            let mut per_op = Encoder::with_isa(&m, 4096, isa).expect("available").without_fusion();
            assert!(!per_op.is_batch_fused());
            // 300 rows: one 256-row step and one of 44, each a whole number of tiles and not.
            let sizes: &[usize] = if scalar { &[8, 33] } else { &[8, 33, 300] };
            for &rows in sizes {
                let what = format!("{name} on {} rows {rows}", isa.name());
                assert_bits_equal(&encode(&mut tiled, &x, rows), &encode(&mut per_op, &x, rows), &what);
            }
        }
    }
}

#[test]
fn a_non_affine_normaliser_is_applied_before_the_row_tiled_encoder() {
    let mut m = model(shape(LatentActivation::Leaky, false, false), 13);
    m.meta.normalizer.kind = NormKind::Custom4;
    m.meta.normalizer.transforms[0] = ColumnTransform::Log10Pt { to_gev: 1.0 };
    let rows = 40;
    let mut x = jets(rows, 8);
    for r in 0..rows {
        x[r * D] = 20.0 + r as f32; // pT > 0
    }
    let mut tiled = Encoder::new(&m, 64);
    assert_eq!(tiled.is_batch_fused(), tiled.isa() != hepae_kernels::Isa::Scalar);
    let z = encode(&mut tiled, &x, rows);
    assert_bits_equal(&z, &encode(&mut Encoder::new(&m, 64).without_fusion(), &x, rows), "log10 pT column");
    let mut xn = x.clone();
    m.meta.normalizer.normalize_rows(&mut xn).expect("finite");
    let mut buf = m.ae.plan(rows, false);
    assert_bits_equal(&z, m.ae.encode(&xn, &mut buf, rows), "against the training forward");
}

#[test]
fn a_small_batch_equals_the_same_rows_in_a_large_gemm_batch_within_float_rounding() {
    // The GEMM path sums in the same order with the same FMAs, so the latents agree to the
    // last bit on the SIMD sets; the check allows the scalar set's rounding too.
    let m = model(shape(LatentActivation::Leaky, false, false), 9);
    let x = jets(64, 2);
    let big = encode(&mut Encoder::new(&m, 64), &x, 64);
    let mut one = Encoder::new(&m, 1);
    for r in [0usize, 17, 63] {
        let z = encode(&mut one, &x[r * D..(r + 1) * D], 1);
        for (a, b) in z.iter().zip(&big[r * 15..(r + 1) * 15]) {
            assert!((a - b).abs() <= 1e-5 + 1e-5 * b.abs(), "row {r}: {a} vs {b}");
        }
    }
}

#[test]
fn a_sigmoid_latent_keeps_the_per_op_path() {
    let m = model(shape(LatentActivation::Sigmoid, false, false), 3);
    let enc = Encoder::new(&m, 1);
    assert!(!enc.is_fused());
}

#[test]
fn bad_values_are_reported_at_the_same_row_and_column_on_every_path() {
    let mut m = model(shape(LatentActivation::Leaky, false, false), 4);
    let mut x = jets(5, 3);
    x[2 * D + 5] = f32::NAN;
    x[3 * D + 1] = f32::INFINITY;
    for max_batch in [1usize, 4, 64] {
        let mut enc = Encoder::new(&m, max_batch);
        let mut z = vec![0.0; 5 * 15];
        assert_eq!(enc.encode(&x, 5, &mut z), Err(BadInput { row: 2, col: 5 }), "max batch {max_batch}");
    }
    // A finite value whose normalised value overflows: column 7 scaled by 1e-30.
    m.meta.normalizer.transforms[7] = ColumnTransform::Affine { shift: 0.0, scale: 1e-30 };
    let mut y = jets(40, 4);
    y[D + 7] = 3e38;
    let mut z = vec![0.0; 40 * 15];
    assert_eq!(Encoder::new(&m, 1).encode(&y, 2, &mut z), Err(BadInput { row: 1, col: 7 }));
    assert_eq!(Encoder::new(&m, 64).encode(&y, 40, &mut z), Err(BadInput { row: 1, col: 7 }), "row-tiled");
    // As before, a value not finite on input is reported before one that overflows when
    // normalised, in the same step.
    y[30 * D + 2] = f32::NAN;
    for mut enc in [Encoder::new(&m, 64), Encoder::new(&m, 64).without_fusion()] {
        assert_eq!(enc.encode(&y, 40, &mut z), Err(BadInput { row: 30, col: 2 }));
    }
    // A bad value in the second 32-row step, found by the row-tiled kernel's check.
    let mut u = jets(64, 9);
    u[45 * D + 11] = f32::NEG_INFINITY;
    let mut z = vec![0.0; 64 * 15];
    assert_eq!(Encoder::new(&m, 32).encode(&u, 64, &mut z), Err(BadInput { row: 45, col: 11 }));
    // A non-affine normaliser (log10 pT) takes the general pass: pT ≤ 0 is refused.
    m.meta.normalizer.kind = NormKind::Custom4;
    m.meta.normalizer.transforms[0] = ColumnTransform::Log10Pt { to_gev: 1.0 };
    let mut w = jets(2, 5);
    w[0] = 10.0;
    w[D] = -1.0;
    let mut z = vec![0.0; 2 * 15];
    assert_eq!(Encoder::new(&m, 4).encode(&w, 2, &mut z), Err(BadInput { row: 1, col: 0 }));
    let mut v = jets(9, 10);
    for r in 0..9 {
        v[r * D] = 5.0 + r as f32;
    }
    v[6 * D] = 0.0;
    let mut z = vec![0.0; 9 * 15];
    assert_eq!(Encoder::new(&m, 64).encode(&v, 9, &mut z), Err(BadInput { row: 6, col: 0 }), "row-tiled");
}

#[test]
fn large_encodes_in_256_row_steps_with_in_place_weights_give_the_training_forward_s_bits() {
    // The training/evaluation plan (no packed copy: Wᵀ packed per GEMM call, 1000 rows at once)
    // against the Encoder (steps of STEP_ROWS, the packed transposed weights read in place).
    let m = model(shape(LatentActivation::Leaky, false, true), 12);
    let rows = 1000;
    let x = jets(rows, 6);
    let mut xn = x.clone();
    m.meta.normalizer.normalize_rows(&mut xn).expect("finite");
    let mut buf = m.ae.plan(rows, false);
    let want = m.ae.encode(&xn, &mut buf, rows).to_vec();
    let mut enc = Encoder::new(&m, 4096);
    assert_bits_equal(&encode(&mut enc, &x, rows), &want, "1000 rows");
    assert!(hepae::encoder::STEP_ROWS < rows, "the test crosses step boundaries");
}
