//! GEMM on the training step's shapes, both backends (packed AVX-512 vs matrixmultiply),
//! reported as elements = 2·M·K·N flops per iteration (so criterion's "elem/s" is FLOP/s).
//! The result is checked against the other backend before timing.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hepae::gemm::{gemm_using, GemmBackend};
use hepae::tensor::{Matrix, MatrixMut};
use std::time::Duration;

fn gemm(c: &mut Criterion) {
    let mut g = c.benchmark_group("gemm");
    g.sample_size(20).measurement_time(Duration::from_millis(700)).warm_up_time(Duration::from_millis(200));
    // (kind, M, K, N, A transposed)
    let shapes = [
        ("fwd", 512, 24, 200, false),
        ("fwd", 512, 200, 100, false),
        ("fwd", 512, 50, 15, false),
        ("bwd_dx", 512, 100, 200, false),
        ("bwd_dw", 200, 512, 24, true),
        ("bwd_dw", 15, 512, 50, true),
        ("enc4096", 4096, 24, 200, false),
    ];
    for (kind, m, k, n, ta) in shapes {
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7 % 13) as f32 - 6.0) / 13.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 11.0).collect();
        let av = if ta { Matrix::new(&a, k, m).t() } else { Matrix::new(&a, m, k) };
        let (mut c1, mut c2) = (vec![0.0f32; m * n], vec![0.0f32; m * n]);
        gemm_using(GemmBackend::Packed, 1.0, av, Matrix::new(&b, k, n), 0.0, &mut MatrixMut::new(&mut c1, m, n));
        gemm_using(
            GemmBackend::Matrixmultiply,
            1.0,
            av,
            Matrix::new(&b, k, n),
            0.0,
            &mut MatrixMut::new(&mut c2, m, n),
        );
        assert!(
            c1.iter().zip(&c2).all(|(x, y)| (x - y).abs() <= 1e-4 * (1.0 + y.abs())),
            "backends disagree on {kind} {m}x{k}x{n}"
        );
        g.throughput(Throughput::Elements((2 * m * k * n) as u64));
        for backend in [GemmBackend::Packed, GemmBackend::Matrixmultiply] {
            let mut cc = vec![0.0f32; m * n];
            g.bench_function(BenchmarkId::new(format!("{kind}/{m}x{k}x{n}"), backend.name()), |bch| {
                bch.iter(|| {
                    gemm_using(backend, 1.0, av, Matrix::new(&b, k, n), 0.0, &mut MatrixMut::new(&mut cc, m, n))
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, gemm);
criterion_main!(benches);
