//! One training step of the reference net (24-200-100-50-15-50-100-200-24, LeakyReLU, linear
//! output, MSE, Adam) at batch 512 on one thread, through the real step `hepae train` runs
//! (`Session::step`: gather from the memory map, normalise, forward, loss, backward,
//! reduction, Adam). Throughput is in samples. (Thread scaling is measured end to end by
//! `hepae bench` and benches/compare.)

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hepae::data::npy::{write_npy, Dataset};
use hepae::train::{Session, TrainConfig};
use std::time::Duration;

fn step(c: &mut Criterion) {
    let (d, batch, rows) = (24, 512, 4096);
    let path = std::env::temp_dir().join(format!("hepae-bench-train-step-{}.npy", std::process::id()));
    let x: Vec<f32> = (0..rows * d).map(|i| ((i * 37 % 101) as f32) / 101.0 + (i % d) as f32).collect();
    write_npy(&path, d, &x, None).expect("temp dataset");
    let data = Dataset::open(&path).expect("temp dataset");
    let cfg = TrainConfig { batch: Some(batch), threads: 1, val_fraction: 0.0, ..TrainConfig::default() };
    let mut session = Session::new(&data, &cfg).expect("session");
    let batch_rows: Vec<u32> = session.split.train[..batch].to_vec();
    session.begin_epoch(1);
    let first = session.step(&batch_rows).expect("step");
    assert!(first.is_finite() && first > 0.0);
    let mut g = c.benchmark_group("train_step");
    g.sample_size(20).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(300));
    g.throughput(Throughput::Elements(batch as u64));
    g.bench_function("reference_net_batch512_1thread", |b| b.iter(|| session.step(&batch_rows).expect("step")));
    g.finish();
    drop(session);
    std::fs::remove_file(&path).ok();
    std::fs::remove_file(path.with_extension("columns")).ok();
}

criterion_group!(benches, step);
criterion_main!(benches);
