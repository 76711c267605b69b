//! Every kernel on every ISA this CPU has, at the reference net's sizes (batch 512; widths
//! 24/200/15; Adam over its 61 839 parameters; the batch-1 encoder's layers).
//! `cargo bench -p hepae-kernels`; `HEPAE_ISA` does not matter here: every set is measured.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hepae_kernels::{available_isas, kernels_for, AdamStep};
use std::hint::black_box;
use std::time::Duration;

fn data(n: usize, seed: u32) -> Vec<f32> {
    (0..n).map(|i| (((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) as f32 / 16777216.0) - 0.5).collect()
}

fn kernels(c: &mut Criterion) {
    let mut g = c.benchmark_group("kernels");
    g.sample_size(20).measurement_time(Duration::from_millis(600)).warm_up_time(Duration::from_millis(200));
    for isa in available_isas() {
        let k = kernels_for(isa).expect("available");
        let name = isa.name();
        for (rows, cols) in [(512usize, 200usize), (512, 24), (512, 15)] {
            let bias = data(cols, 1);
            let mut x = data(rows * cols, 2);
            g.throughput(Throughput::Elements((rows * cols) as u64));
            (k.bias_leaky_forward)(&mut x, &bias, 0.01);
            assert!(x.iter().all(|v| v.is_finite()));
            g.bench_function(BenchmarkId::new(format!("bias_leaky_forward/{rows}x{cols}"), name), |b| {
                b.iter(|| (k.bias_leaky_forward)(black_box(&mut x), &bias, 0.01))
            });
            let y = data(rows * cols, 3);
            g.bench_function(BenchmarkId::new(format!("leaky_backward/{rows}x{cols}"), name), |b| {
                b.iter(|| (k.leaky_backward)(black_box(&mut x), &y, 1.0))
            });
            let mut acc = vec![0.0f32; cols];
            g.bench_function(BenchmarkId::new(format!("col_sums_add/{rows}x{cols}"), name), |b| {
                b.iter(|| (k.col_sums_add)(black_box(&mut acc), &y))
            });
        }
        let n = 61_839; // the reference net (24-200-100-50-15-…-24)
        let (mut p, gr, mut m, mut v) = (data(n, 4), data(n, 5), vec![0.0f32; n], vec![0.0f32; n]);
        let hp = AdamStep::new(1e-3, 0.9, 0.999, 1e-8, 10);
        (k.adam_update)(&mut p, &gr, &mut m, &mut v, &hp);
        assert!(p.iter().all(|v| v.is_finite()));
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("adam_update/61839", name), |b| {
            b.iter(|| (k.adam_update)(black_box(&mut p), &gr, &mut m, &mut v, &hp))
        });
        let (out, target, mut grad) = (data(512 * 24, 6), data(512 * 24, 7), vec![0.0f32; 512 * 24]);
        g.throughput(Throughput::Elements((512 * 24) as u64));
        g.bench_function(BenchmarkId::new("mse_grad/512x24", name), |b| {
            b.iter(|| (k.mse_grad)(black_box(&mut grad), &out, &target, 1e-4))
        });
        let (mu, lv, eps) = (data(512 * 15, 8), data(512 * 15, 9), data(512 * 15, 10));
        let mut z = vec![0.0f32; 512 * 15];
        g.throughput(Throughput::Elements((512 * 15) as u64));
        g.bench_function(BenchmarkId::new("reparam_forward/512x15", name), |b| {
            b.iter(|| (k.reparam_forward)(black_box(&mut z), &mu, &lv, &eps))
        });
        let (mut dm, mut dl) = (vec![0.0f32; 512 * 15], vec![0.0f32; 512 * 15]);
        g.bench_function(BenchmarkId::new("kl_normal/512x15", name), |b| {
            b.iter(|| (k.kl_normal)(black_box(&mut dm), &mut dl, &mu, &lv, 1e-3))
        });
        g.bench_function(BenchmarkId::new("l1_penalty/512x15", name), |b| {
            b.iter(|| (k.l1_penalty)(black_box(&mut dm), &mu, 1e-3))
        });
        // The batch-1 encoder, layer by layer (weights transposed, as the Encoder packs them).
        let dims = [24usize, 200, 100, 50, 15];
        let wts: Vec<Vec<f32>> =
            dims.windows(2).map(|w| data(w[0] * w[1], 11).iter().map(|v| v * 0.1).collect()).collect();
        let biases: Vec<Vec<f32>> = dims[1..].iter().map(|&n| data(n, 12)).collect();
        let mut acts: Vec<Vec<f32>> = dims.iter().map(|&n| vec![0.5f32; n]).collect();
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::new("dense_small/encoder_24-200-100-50-15_batch1", name), |b| {
            b.iter(|| {
                for l in 0..4 {
                    let (lo, hi) = acts.split_at_mut(l + 1);
                    (k.dense_small)(&mut hi[0], &lo[l], &wts[l], &biases[l], 1, dims[l], dims[l + 1], 0.01);
                }
                black_box(acts[4][0])
            })
        });
        assert!(acts[4].iter().all(|v| v.is_finite()));
        // The same encoder in one fused call (weights packed once, as the Encoder does); the
        // buffers above are read as [out×in]: other matrices of the same sizes, all a timing needs.
        let specs: Vec<hepae_kernels::mlp::MlpLayerSpec<'_>> = (0..4)
            .map(|l| hepae_kernels::mlp::MlpLayerSpec {
                inp: dims[l],
                out: dims[l + 1],
                weight: &wts[l],
                bias: &biases[l],
                slope: 0.01,
            })
            .collect();
        let pack = hepae_kernels::mlp::MlpPack::new(isa, &specs);
        let (x, mut z, mut scratch) = (vec![0.5f32; 24], vec![0.0f32; 15], vec![0.0f32; pack.scratch_len()]);
        (k.mlp_forward)(&mut z, &x, 1, &pack, &mut scratch);
        assert!(z.iter().all(|v| v.is_finite()));
        g.bench_function(BenchmarkId::new("mlp_forward/encoder_24-200-100-50-15_batch1", name), |b| {
            b.iter(|| {
                (k.mlp_forward)(black_box(&mut z), &x, 1, &pack, &mut scratch);
                black_box(z[0])
            })
        });
    }
    g.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
