//! GFLOP/s of the implicit-GEMM conv kernels (`rows_gemm`, `rows_gemm_dot`) of every SIMD
//! set this CPU runs, best of 20 runs, on the shapes of the conv autoencoder's layers: the B
//! operand is C padded planes of one synthetic image and the offsets are the 3×3 taps of
//! each channel (k = C·9), or one offset per channel for a 1×1 (k not a multiple of 9).
//! FLOP per call: 2·m·n·k (rows_gemm), 2·m·r·len·images (rows_gemm_dot).
//! `cargo run --release --example rows_gemm_speed`

use hepae_kernels::rows_gemm::{RowsGemm, RowsGemmDot};
use hepae_kernels::{available_isas, kernels_for, Isa, Kernels};
use std::hint::black_box;
#[path = "support/best.rs"]
mod best;
use best::best;

/// Width of a padded plane row (positions), as for a ~20-wide image.
const ROW: usize = 24;

/// b for k (channel, tap) pairs over n positions: planes of n + 2·ROW + 2 values, and the
/// offset of each pair.
fn planes(k: usize, n: usize) -> (Vec<f32>, Vec<usize>, usize) {
    let taps = if k.is_multiple_of(9) { 9 } else { 1 };
    let plane = n + 2 * ROW + 2;
    let b = (0..k / taps * plane).map(|i| ((i * 5 % 11) as f32 - 5.0) / 11.0).collect();
    let offs = (0..k).map(|q| (q / taps) * plane + if taps == 9 { (q % 9) / 3 * ROW + q % 3 } else { 0 }).collect();
    (b, offs, k / taps * plane)
}

fn gemm(k: &Kernels, (m, kk, n): (usize, usize, usize)) -> f64 {
    let (b, offs, _) = planes(kk, n);
    let a: Vec<f32> = (0..m * kk).map(|i| ((i * 7 % 13) as f32 - 6.0) / 13.0).collect();
    let mut c = vec![0.0f32; m * n];
    let g = RowsGemm { m, n, k: kk, lda: kk, ldc: n, accumulate: false };
    let flop = 2.0 * (m * n * kk) as f64;
    flop / best(flop, || (k.rows_gemm)(black_box(&mut c), &a, &b, &offs, &g)) / 1e9
}

fn dot(k: &Kernels, (m, r, len, images): (usize, usize, usize, usize)) -> f64 {
    let (b1, offs, b_is) = planes(r, len);
    let b: Vec<f32> = (0..images).flat_map(|_| b1.iter().copied()).collect();
    let a: Vec<f32> = (0..images * m * len).map(|i| ((i * 7 % 13) as f32 - 6.0) / 13.0).collect();
    let mut c = vec![0.0f32; m * r];
    let g = RowsGemmDot { m, r, len, lda: len, ldc: r, images, a_is: m * len, b_is };
    let flop = 2.0 * (m * r * len * images) as f64;
    flop / best(flop, || (k.rows_gemm_dot)(black_box(&mut c), &a, &b, &offs, &g)) / 1e9
}

fn main() {
    let sets: Vec<&Kernels> =
        available_isas().into_iter().filter(|&i| i != Isa::Scalar).filter_map(kernels_for).collect();
    let names: Vec<String> = sets.iter().map(|k| format!("{:>8}", k.isa.name())).collect();
    println!("rows_gemm GFLOP/s (synthetic planes)\n{:>4} {:>4} {:>5} {}", "m", "k", "n", names.join(""));
    for s in [(16, 72, 420), (32, 144, 110), (16, 128, 120), (8, 64, 440), (8, 9, 1680), (1, 72, 1680), (8, 9, 1720)] {
        let v: Vec<String> = sets.iter().map(|k| format!("{:>8.1}", gemm(k, s))).collect();
        println!("{:>4} {:>4} {:>5} {}", s.0, s.1, s.2, v.join(""));
    }
    println!(
        "\nrows_gemm_dot GFLOP/s (synthetic planes)\n{:>4} {:>4} {:>5} {:>3} {}",
        "m",
        "r",
        "len",
        "img",
        names.join("")
    );
    for s in
        [(16, 72, 420, 8), (32, 144, 110, 8), (16, 128, 120, 8), (8, 64, 440, 8), (8, 9, 1680, 8), (1, 72, 1680, 8)]
    {
        let v: Vec<String> = sets.iter().map(|k| format!("{:>8.1}", dot(k, s))).collect();
        println!("{:>4} {:>4} {:>5} {:>3} {}", s.0, s.1, s.2, s.3, v.join(""));
    }
}
