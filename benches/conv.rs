//! The conv autoencoder's cost: issue 15's reference CNN AE (conv 3×3 1→8, conv 3×3 s2 8→16,
//! conv 3×3 s2 16→32, dense 3200→32 and back through two 4×4 s2 transposed convs and a 3×3
//! conv; 5.99 MFLOP per image forward, ≈ 3× that per training image) on synthetic 1×40×40
//! images:
//! - `conv_train_step`: one training step (`Session::step`: gather, normalise, forward, MSE,
//!   backward, reduction, Adam) at batch 256 on 1 and 2 threads; throughput in images.
//! - `conv_encode`: the `Encoder` (the one inference path) at batch 1 and 1024.
//! - `conv_ops`: each op of the net, forward and backward (input and parameter gradients) at
//!   batch 64, to see where the time goes.
//!
//! GFLOP/s = images/s × FLOP per image (printed first: forward, and training ≈ 3× forward).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hepae::data::npy::{write_npy, Dataset};
use hepae::engine::gemm::Gemm;
use hepae::models::conv_ae::{forward_flops, ConvOptions};
use hepae::models::params::ParamStore;
use hepae::models::ModelKind;
use hepae::net::{Net, NetSpec};
use hepae::train::{Session, TrainConfig};
use std::time::Duration;

const SIDE: usize = 40;

/// `rows` synthetic jet-like images: a core and two satellites at seeded places (synthetic).
fn images(rows: usize) -> (std::path::PathBuf, Dataset) {
    let d = SIDE * SIDE;
    let mut x = vec![0.0f32; rows * d];
    for r in 0..rows {
        for (k, (cy, cx)) in [(20.0, 20.0), ((r * 7 % 30) as f32 + 5.0, (r * 11 % 30) as f32 + 5.0), (12.0, 28.0)]
            .into_iter()
            .enumerate()
        {
            for y in 0..SIDE {
                for c in 0..SIDE {
                    let d2 = (y as f32 - cy).powi(2) + (c as f32 - cx).powi(2);
                    x[r * d + y * SIDE + c] += (-d2 / (1.5 + k as f32)).exp() / (1.0 + k as f32);
                }
            }
        }
    }
    let path = std::env::temp_dir().join(format!("hepae-bench-conv-{}.npy", std::process::id()));
    write_npy(&path, d, &x, None).expect("temp dataset");
    let data = Dataset::open(&path).expect("temp dataset");
    (path, data)
}

fn cfg(threads: usize, batch: usize) -> TrainConfig {
    TrainConfig {
        model: ModelKind::ConvAe,
        latent: 32,
        batch: Some(batch),
        threads,
        val_fraction: 0.0,
        conv: ConvOptions { image: Some([1, SIDE, SIDE]), ..Default::default() },
        ..TrainConfig::default()
    }
}

fn conv(c: &mut Criterion) {
    let (path, data) = images(2048);
    let batch = 256;
    {
        let s = Session::new(&data, &cfg(1, batch)).expect("session");
        let fwd = forward_flops(&s.model.encoder.spec) + forward_flops(&s.model.decoder.spec);
        eprintln!("reference CNN AE: {fwd} FLOP per image forward, ≈ {} per training image (3×)", 3 * fwd);
    }
    let mut g = c.benchmark_group("conv_train_step");
    g.sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(500));
    g.throughput(Throughput::Elements(batch as u64));
    for threads in [1, 2] {
        let mut s = Session::new(&data, &cfg(threads, batch)).expect("session");
        let rows: Vec<u32> = s.split.train[..batch].to_vec();
        s.begin_epoch(1);
        let first = s.step(&rows).expect("step");
        assert!(first.is_finite() && first > 0.0, "the step computes a loss");
        g.bench_function(format!("reference_batch{batch}_{threads}thread"), |b| {
            b.iter(|| s.step(&rows).expect("step"))
        });
    }
    g.finish();

    let trained = Session::new(&data, &cfg(1, batch)).expect("session").model;
    let columns = data.columns().to_vec();
    let norm = hepae::data::normalize::Normalizer::identity(&columns);
    let model = hepae::model_io::SavedModel::new(ModelKind::ConvAe, trained, columns, norm);
    let mut g = c.benchmark_group("conv_encode");
    g.sample_size(10).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(300));
    for n in [1usize, 1024] {
        let mut enc = hepae::encoder::Encoder::new(&model, n);
        let mut z = vec![0.0f32; n * 32];
        let x = &data.as_slice()[..n * SIDE * SIDE];
        enc.encode(x, n, &mut z).expect("finite images");
        assert!(z.iter().all(|v| v.is_finite()));
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("batch{n}"), |b| b.iter(|| enc.encode(x, n, &mut z).expect("finite")));
    }
    g.finish();

    // Each op alone, forward + backward, at batch 64.
    let n = 64;
    let mut g = c.benchmark_group("conv_ops");
    g.sample_size(10).measurement_time(Duration::from_secs(1)).warm_up_time(Duration::from_millis(200));
    g.throughput(Throughput::Elements(n as u64));
    for net in [&model.ae.encoder, &model.ae.decoder] {
        for (j, l) in net.layers.iter().enumerate() {
            let spec = NetSpec { input: l.in_shape, ops: vec![l.op.clone()] };
            let mut store = ParamStore::default();
            let one = Net::new(&mut store, "op", spec.clone());
            let p: Vec<f32> = (0..store.len()).map(|i| ((i * 37 % 101) as f32 - 50.0) / 500.0).collect();
            let x: Vec<f32> = (0..n * l.inp).map(|i| ((i * 13 % 97) as f32 - 40.0) / 97.0).collect();
            let mut grads = vec![0.0f32; p.len()];
            let mut dx = vec![0.0f32; x.len()];
            let mut plan = one.plan(n, true, Gemm::detect());
            let flops = forward_flops(&spec);
            let name = format!(
                "{}{j}_{}_{}MFLOPx3",
                if std::ptr::eq(net, &model.ae.encoder) { "enc" } else { "dec" },
                l.op.name(),
                flops * n as u64 / 1_000_000
            );
            g.bench_function(name, |b| {
                b.iter(|| {
                    one.forward(&p, &x, &mut plan, n);
                    plan.out_grad_mut().fill(1e-3);
                    one.backward(&p, Some(&mut grads), &x, &mut plan, Some(&mut dx), n);
                })
            });
        }
    }
    g.finish();
    std::fs::remove_file(&path).ok();
    std::fs::remove_file(path.with_extension("columns")).ok();
}

criterion_group!(benches, conv);
criterion_main!(benches);
