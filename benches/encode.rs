//! Encode cost of the reference net's encoder (24-200-100-50-15) at batch 1, 64 and 4096 on
//! one thread, through the `Encoder` a trigger would use (physical units in, normaliser
//! inside), on every kernel set this CPU has (`Encoder::with_isa`). Throughput is in jets.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hepae::data::normalize::Normalizer;
use hepae::encoder::Encoder;
use hepae::model_io::SavedModel;
use hepae::models::ae::{AeShape, Autoencoder, ModelKind, OutputActivation};
use std::time::Duration;

fn model() -> SavedModel {
    let d = 24;
    let mut ae = Autoencoder::new(AeShape::standard(d, vec![200, 100, 50], 15, 0.01, OutputActivation::Linear));
    ae.init(2);
    let columns: Vec<String> = (0..d).map(|i| format!("c{i}")).collect();
    SavedModel::new(ModelKind::Ae, ae, columns.clone(), Normalizer::identity(&columns))
}

fn encode(c: &mut Criterion) {
    let m = model();
    let rows = 8192;
    let x: Vec<f32> = (0..rows * 24).map(|i| ((i * 31 % 97) as f32) / 97.0).collect();
    let mut g = c.benchmark_group("encode");
    g.sample_size(20).measurement_time(Duration::from_secs(1)).warm_up_time(Duration::from_millis(300));
    for isa in hepae_kernels::available_isas() {
        for batch in [1usize, 64, 4096] {
            bench_one(&mut g, &m, &x, rows, isa, batch);
        }
    }
    g.finish();
}

fn bench_one(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    m: &SavedModel,
    x: &[f32],
    rows: usize,
    isa: hepae_kernels::Isa,
    batch: usize,
) {
    let mut enc = Encoder::with_isa(m, batch, isa).expect("available");
    let mut z = vec![0.0f32; batch * 15];
    enc.encode(&x[..batch * 24], batch, &mut z).expect("finite jets");
    assert!(z.iter().all(|v| v.is_finite()));
    g.throughput(Throughput::Elements(batch as u64));
    let mut off = 0;
    g.bench_function(BenchmarkId::new(format!("reference_encoder/{}", isa.name()), batch), |b| {
        b.iter(|| {
            off = (off + batch) % (rows - batch + 1);
            enc.encode(&x[off * 24..(off + batch) * 24], batch, &mut z).expect("finite jets");
        })
    });
}

criterion_group!(benches, encode);
criterion_main!(benches);
