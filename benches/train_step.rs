//! One training step of the reference net (24-200-100-50-15-50-100-200-24, LeakyReLU, linear
//! output, MSE, Adam) at batch 512 on one thread: forward, loss, backward, Adam. Throughput is
//! in samples. (Thread scaling is measured end to end by `hepae bench` and benches/compare.)

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hepae::models::ae::{AeShape, Autoencoder, ModelKind, OutputActivation, StepOptions};
use hepae::nn::adam::Adam;
use rand::SeedableRng;
use std::time::Duration;

fn step(c: &mut Criterion) {
    let (d, batch) = (24, 512);
    let mut model = Autoencoder::new(AeShape::standard(d, vec![200, 100, 50], 15, 0.01, OutputActivation::Linear));
    model.init(1);
    let mut buf = model.plan(batch, true);
    let mut grads = vec![0.0f32; model.params.len()];
    let mut adam = Adam::new(model.params.len(), 1e-3);
    let x: Vec<f32> = (0..batch * d).map(|i| ((i * 37 % 101) as f32) / 101.0).collect();
    let opt = StepOptions { kind: ModelKind::Ae, beta: 0.0, lambda: 0.0, noise: 0.0, mask: 0.0 };
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let first = model.train_shard(&mut grads, &x, &mut buf, batch, batch * d, batch, &opt, &mut rng).recon;
    assert!(first.is_finite() && first > 0.0);
    let mut g = c.benchmark_group("train_step");
    g.sample_size(20).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(300));
    g.throughput(Throughput::Elements(batch as u64));
    g.bench_function("reference_net_batch512_1thread", |b| {
        b.iter(|| {
            grads.fill(0.0);
            let l = model.train_shard(&mut grads, &x, &mut buf, batch, batch * d, batch, &opt, &mut rng);
            adam.step(&mut model.params.data, &grads);
            l.recon
        })
    });
    g.finish();
}

criterion_group!(benches, step);
criterion_main!(benches);
