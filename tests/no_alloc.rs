//! The hot paths allocate nothing: a batch-1 and a large (row-tiled) encode through the
//! real `Encoder` after it is built, and the real training step (`Session::step`, what `hepae train` runs for every
//! batch: gather, normalise, every phase of the family, gradient reduction, Adam) after the
//! first step has grown the GEMM's per-thread packing buffer, for every trained family and for
//! the conv autoencoder (and its batch-1 and 70-image encodes, fused or not) on images. A
//! counting global allocator, armed only around the measured calls on this thread, proves it.

use hepae::data::npy::Dataset;
use hepae::models::ae::{AeShape, Autoencoder, ModelKind, OutputActivation};
use hepae::train::{Session, TrainConfig};
use std::sync::atomic::Ordering;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{allocations_during, LAST_SIZE};

fn reference_model(d: usize) -> Autoencoder {
    let mut m = Autoencoder::new(AeShape::standard(d, vec![200, 100, 50], 15, 0.01, OutputActivation::Linear));
    m.init(3);
    m
}

#[test]
fn the_counter_sees_allocations() {
    let n = allocations_during(|| {
        let v: Vec<u64> = Vec::with_capacity(10);
        std::hint::black_box(&v);
    });
    assert_eq!(n, 1, "the counting allocator must see a Vec");
}

#[test]
fn the_training_step_allocates_nothing_for_every_family() {
    // 188 real jets × 37 variables; the reference net's widths.
    let data = Dataset::open(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dy_nano_v6.npy").as_ref()).unwrap();
    // (conv-ae needs image rows: its own test below.)
    for model in ModelKind::ALL.into_iter().filter(|&k| k != ModelKind::Pca && k != ModelKind::ConvAe) {
        let cfg = TrainConfig {
            model,
            batch: Some(64),
            threads: 1,
            gaussian_decoder: model == ModelKind::Vae,
            ..Default::default()
        };
        let mut session = Session::new(&data, &cfg).unwrap();
        let rows: Vec<u32> = session.split.train[..64].to_vec();
        session.begin_epoch(1);
        let first = session.step(&rows).unwrap(); // grows the GEMM's packing buffer once
        let mut losses = [0.0f64; 5];
        let n = allocations_during(|| {
            for l in losses.iter_mut() {
                *l = session.step(&rows).unwrap();
            }
        });
        assert_eq!(
            n,
            0,
            "{model}: five training steps allocated {n} times (last: {} bytes)",
            LAST_SIZE.load(Ordering::Relaxed)
        );
        assert!(first.is_finite() && losses.iter().all(|l| l.is_finite()), "{model}: {losses:?}");
        assert!(losses[4] < first, "{model}: the steps trained: {first} then {losses:?}");
    }
}

#[test]
fn the_nae_step_with_its_langevin_chains_allocates_nothing() {
    // No pre-training epochs: epoch 1 runs the NAE phase (latent and data-space chains, replay
    // buffer, both energy passes), on 1 and 2 threads.
    let data = Dataset::open(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dy_nano_v6.npy").as_ref()).unwrap();
    for threads in [1, 2] {
        let cfg =
            TrainConfig { model: ModelKind::Nae, epochs: Some(0), batch: Some(64), threads, ..Default::default() };
        let mut session = Session::new(&data, &cfg).unwrap();
        let rows: Vec<u32> = session.split.train[..64].to_vec();
        session.begin_epoch(1);
        let first = session.step(&rows).unwrap();
        let mut losses = [0.0f64; 3];
        let n = allocations_during(|| {
            for l in losses.iter_mut() {
                *l = session.step(&rows).unwrap();
            }
        });
        assert_eq!(
            n,
            0,
            "{threads} threads: three NAE steps allocated {n} times (last: {} bytes)",
            LAST_SIZE.load(Ordering::Relaxed)
        );
        assert!(first.is_finite() && losses.iter().all(|l| l.is_finite()), "{losses:?}");
        assert!(session.end_epoch().is_some_and(|e| e.neg.is_finite()), "the steps drew negative samples");
    }
}

#[test]
fn a_batch_one_encode_allocates_nothing() {
    use hepae::data::normalize::Normalizer;
    use hepae::model_io::SavedModel;
    let d = 24;
    let ae = reference_model(d);
    let columns: Vec<String> = (0..d).map(|i| format!("c{i}")).collect();
    let model = SavedModel::new(ModelKind::Ae, ae, columns.clone(), Normalizer::identity(&columns));
    let mut enc = hepae::encoder::Encoder::new(&model, 1);
    let jet: Vec<f32> = (0..d).map(|i| i as f32 / d as f32).collect();
    let mut z = [0.0f32; 15];
    enc.encode(&jet, 1, &mut z).unwrap();
    let n = allocations_during(|| {
        for _ in 0..1000 {
            enc.encode(&jet, 1, &mut z).unwrap();
        }
    });
    assert_eq!(n, 0, "1000 batch-1 encodes allocated {n} times");
    assert!(z.iter().all(|v| v.is_finite()));
}

#[test]
fn a_large_row_tiled_encode_allocates_nothing() {
    use hepae::data::normalize::Normalizer;
    use hepae::model_io::SavedModel;
    let d = 24;
    let columns: Vec<String> = (0..d).map(|i| format!("c{i}")).collect();
    let model = SavedModel::new(ModelKind::Ae, reference_model(d), columns.clone(), Normalizer::identity(&columns));
    let mut enc = hepae::encoder::Encoder::new(&model, 4096);
    assert_eq!(enc.is_batch_fused(), enc.isa() != hepae_kernels::Isa::Scalar, "row-tiled on the SIMD sets");
    let rows = 600; // two 256-row steps and a partial one
    let jets: Vec<f32> = (0..rows * d).map(|i| (i % 97) as f32 / 97.0).collect();
    let mut z = vec![0.0f32; rows * 15];
    enc.encode(&jets, rows, &mut z).unwrap();
    let n = allocations_during(|| {
        for _ in 0..3 {
            enc.encode(&jets, rows, &mut z).unwrap();
        }
    });
    assert_eq!(n, 0, "three 600-row encodes allocated {n} times");
    assert!(z.iter().all(|v| v.is_finite()));
}

/// 96 synthetic 1×20×20 images (a blob at a seeded position) as a 400-column table.
fn images(dir: &std::path::Path) -> Dataset {
    let (n, h, w) = (96usize, 20usize, 20usize);
    let mut x = vec![0.0f32; n * h * w];
    for r in 0..n {
        let (cy, cx) = ((r * 7 % 13) as f32 + 3.0, (r * 5 % 11) as f32 + 4.0);
        for y in 0..h {
            for c in 0..w {
                let d2 = (y as f32 - cy).powi(2) + (c as f32 - cx).powi(2);
                x[r * h * w + y * w + c] = (-d2 / 6.0).exp();
            }
        }
    }
    let path = dir.join("images.npy");
    hepae::data::npy::write_npy(&path, h * w, &x, None).unwrap();
    Dataset::open(&path).unwrap()
}

#[test]
fn the_conv_autoencoder_step_and_its_batch_one_encode_allocate_nothing() {
    use hepae::models::conv_ae::ConvOptions;
    let dir = std::env::temp_dir().join(format!("hepae-noalloc-conv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = images(&dir);
    for (threads, down, activation) in [(1, "stride", "leaky"), (2, "pool", "leaky"), (2, "stride", "prelu")] {
        let conv = ConvOptions { image: Some([1, 20, 20]), down: down.parse().unwrap(), ..Default::default() };
        let activation = activation.parse().unwrap();
        let cfg = TrainConfig {
            model: ModelKind::ConvAe,
            batch: Some(32),
            threads,
            latent: 8,
            conv,
            activation,
            ..Default::default()
        };
        let mut session = Session::new(&data, &cfg).unwrap();
        let rows: Vec<u32> = session.split.train[..32].to_vec();
        session.begin_epoch(1);
        let first = session.step(&rows).unwrap();
        let mut losses = [0.0f64; 5];
        let n = allocations_during(|| {
            for l in losses.iter_mut() {
                *l = session.step(&rows).unwrap();
            }
        });
        assert_eq!(
            n,
            0,
            "conv-ae ({threads} threads, {down}, {activation:?}): five steps allocated {n} times (last: {} bytes)",
            LAST_SIZE.load(Ordering::Relaxed)
        );
        assert!(losses[4] < first, "conv-ae: the steps trained: {first} then {losses:?}");

        let columns: Vec<String> = data.columns().to_vec();
        let norm = hepae::data::normalize::Normalizer::identity(&columns);
        let model = hepae::model_io::SavedModel::new(ModelKind::ConvAe, session.model.clone(), columns, norm);
        let mut enc = hepae::encoder::Encoder::new(&model, 1);
        let mut z = [0.0f32; 8];
        enc.encode(data.row(0), 1, &mut z).unwrap();
        let n = allocations_during(|| {
            for _ in 0..100 {
                enc.encode(data.row(0), 1, &mut z).unwrap();
            }
        });
        assert_eq!(n, 0, "100 batch-1 conv encodes allocated {n} times");
        assert!(z.iter().all(|v| v.is_finite()));
        // The fused conv encoder (stride-2 nets; pooling keeps the per-op path), at a batch.
        assert_eq!(enc.is_conv_fused(), down == "stride", "{down}: fused conv encode");
        let mut big = hepae::encoder::Encoder::new(&model, 64);
        let (rows, d) = (70, data.cols());
        let x: Vec<f32> = (0..rows).flat_map(|r| data.row(r).to_vec()).collect();
        let mut zs = vec![0.0f32; rows * 8];
        big.encode(&x, rows, &mut zs).unwrap();
        let n = allocations_during(|| big.encode(&x[..rows * d], rows, &mut zs).unwrap());
        assert_eq!(n, 0, "a 70-image conv encode allocated {n} times");
    }
    std::fs::remove_dir_all(&dir).ok();
}
