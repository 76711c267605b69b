//! GFLOP/s of both GEMM backends on the shapes of one training step of the reference net
//! (batch 512, 24-200-100-50-15-50-100-200-24): forward, backward dX, backward dW.
//! `cargo run --release --example gemm_shapes`

use hepae::gemm::{gemm_using, GemmBackend};
use hepae::tensor::{Matrix, MatrixMut};
use std::time::Instant;

fn time(backend: GemmBackend, m: usize, k: usize, n: usize, ta: bool) -> f64 {
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 7 % 13) as f32 - 6.0) / 13.0).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 11.0).collect();
    let mut c = vec![0.0f32; m * n];
    let av = if ta { Matrix::new(&a, k, m).t() } else { Matrix::new(&a, m, k) };
    let run = |c: &mut [f32]| gemm_using(backend, 1.0, av, Matrix::new(&b, k, n), 0.0, &mut MatrixMut::new(c, m, n));
    run(&mut c);
    let reps = (2e8 / (2.0 * (m * k * n) as f64)).max(5.0) as usize;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..reps {
            run(&mut c);
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    2.0 * (m * k * n) as f64 / best / 1e9
}

fn main() {
    let dims = [24usize, 200, 100, 50, 15, 50, 100, 200, 24];
    let bs = 512;
    println!(
        "{:<8} {:>5} {:>5} {:>5}  {:>10} {:>14}  {:>6}",
        "kind", "M", "K", "N", "packed", "matrixmultiply", "ratio"
    );
    let mut tot = [0.0f64; 2];
    let mut shapes = Vec::new();
    for l in 0..8 {
        shapes.push(("fwd", bs, dims[l], dims[l + 1], false));
    }
    for l in 1..8 {
        shapes.push(("bwd_dx", bs, dims[l + 1], dims[l], false));
    }
    for l in 0..8 {
        shapes.push(("bwd_dw", dims[l + 1], bs, dims[l], true));
    }
    for (kind, m, k, n, ta) in shapes {
        let p = time(GemmBackend::Packed, m, k, n, ta);
        let q = time(GemmBackend::Matrixmultiply, m, k, n, ta);
        let flops = 2.0 * (m * k * n) as f64;
        tot[0] += flops / p;
        tot[1] += flops / q;
        println!("{kind:<8} {m:>5} {k:>5} {n:>5}  {p:>10.1} {q:>14.1}  {:>6.2}", p / q);
    }
    println!("one step's GEMMs: packed {:.1} µs, matrixmultiply {:.1} µs", tot[0] / 1e3, tot[1] / 1e3);
}
