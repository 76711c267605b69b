//! Rough in-process comparison of the int8 encoder paths on the reference chain
//! 24-200-100-50-15 (random weights, synthetic inputs): per layer over the whole batch
//! (`quantize_i8` + `dense_i8`) against the row-tiled chain (`batch_i8`), alternating, min of
//! `REPS` runs each, for every quant set. Not a benchmark for reported numbers.
use hepae_kernels::quant::{quant_sets, PackedI8};
use hepae_kernels::quant_batch::{I8LayerSpec, QuantBatchPack};
use std::time::Instant;

fn main() {
    let widths = [24usize, 200, 100, 50, 15];
    let rows: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(4096);
    let mut seed = 1u64;
    let mut rnd = || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((seed >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
    };
    let layers: Vec<(PackedI8, Vec<f32>, Vec<f32>, f32)> = widths
        .windows(2)
        .map(|w| {
            let (k, n) = (w[0], w[1]);
            let q: Vec<i8> = (0..n * k).map(|_| (rnd() * 127.0) as i8).collect();
            (PackedI8::new(&q, n, k), (0..n).map(|_| 1e-3).collect(), (0..n).map(|_| rnd()).collect(), 40.0)
        })
        .collect();
    let specs: Vec<I8LayerSpec<'_>> =
        layers.iter().map(|(w, s, b, inv)| I8LayerSpec { w, scale: s, bias: b, inv_in: *inv, slope: 0.01 }).collect();
    let pack = QuantBatchPack::new(&specs);
    let x: Vec<f32> = (0..rows * 24).map(|_| rnd() * 3.0).collect();
    let mut out = vec![0.0f32; rows * 15];
    let mut scratch = pack.scratch();
    let mut xq = vec![0i8; rows * 200];
    let mut bufs = [vec![0.0f32; rows * 200], vec![0.0f32; rows * 200]];
    for s in quant_sets() {
        let (mut best_l, mut best_t) = (f64::MAX, f64::MAX);
        for _ in 0..15 {
            let t0 = Instant::now();
            let mut src: &[f32] = &x;
            for (j, (w, sc, b, inv)) in layers.iter().enumerate() {
                let (k, n) = (w.k(), w.n());
                (s.quantize_i8)(&mut xq[..rows * k], &src[..rows * k], *inv);
                let [a, bb] = &mut bufs;
                let (dst, keep) = if j % 2 == 0 { (a, bb) } else { (bb, a) };
                (s.dense_i8)(&mut dst[..rows * n], &xq[..rows * k], w, sc, b, rows, 0.01);
                let _ = keep;
                src = if j % 2 == 0 { &bufs[0] } else { &bufs[1] };
            }
            best_l = best_l.min(t0.elapsed().as_secs_f64());
            let t0 = Instant::now();
            (s.batch_i8)(&mut out, &x, rows, &pack, &mut scratch);
            best_t = best_t.min(t0.elapsed().as_secs_f64());
        }
        println!(
            "{:18} per-layer {:7.3} M rows/s   tiled {:7.3} M rows/s   ({:.2}x)",
            s.name,
            rows as f64 / best_l / 1e6,
            rows as f64 / best_t / 1e6,
            best_l / best_t
        );
    }
}
