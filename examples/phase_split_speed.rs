//! Speed of a strided convolution's phase split, per image: the `phase_split` kernel of every
//! set this CPU runs (pixels only; the caller zeroes the phase planes once per op call, not
//! timed) against today's path, `Planes::phases` (an im2col with an s×s window that writes
//! every phase value, borders included, through `window_gather`), on the conv autoencoder's
//! shapes. Synthetic images; best of 20 runs. GB/s counts the image's bytes read plus the
//! same bytes written (2·4·planes·h·w per call) for both, so the columns compare one job.
//! `cargo run --release --example phase_split_speed`

use hepae::nn::im2col::Window;
use hepae::nn::im2col_planes::Planes;
use hepae_kernels::phase_split::PhaseSplit;
use hepae_kernels::{available_isas, kernels_for, Kernels};
use std::hint::black_box;
use std::time::Instant;

/// Seconds per call of `f`, best of 20 runs of enough calls for ~20 MB of image traffic.
fn best(bytes: f64, mut f: impl FnMut()) -> f64 {
    f();
    let reps = (2e7 / bytes).max(1.0) as usize;
    let mut best = f64::INFINITY;
    for _ in 0..20 {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    best
}

fn main() {
    let sets: Vec<&Kernels> = available_isas().into_iter().filter_map(kernels_for).collect();
    println!("phase split per image (synthetic images): µs per call and GB/s (image bytes in + out)");
    println!("{:<28} {:<8} {:>14} {:>22}", "geometry", "set", "phase_split", "Planes::phases (today)");
    for (planes, h, w, s, pad) in [(8, 40, 40, 2, 1), (16, 20, 20, 2, 1), (8, 40, 40, 1, 1)] {
        let g = PhaseSplit::padded(planes, h, w, s, pad);
        let src: Vec<f32> = (0..planes * h * w).map(|i| ((i * 7 % 13) as f32 - 6.0) / 13.0).collect();
        let mut dst = vec![0.0f32; g.dst_len().expect("small")];
        let today = Planes::new(Window::conv(planes, h, w, 3, s, pad));
        assert_eq!(today.phases_len(), dst.len(), "the same phase planes");
        // The kernel on zeroed planes gives today's phases exactly (the same layout).
        let mut want = vec![f32::NAN; dst.len()];
        today.phases(&mut want, &src, sets[0]);
        (sets[sets.len() - 1].phase_split)(&mut dst, &src, &g);
        assert!(dst.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()), "phase_split ≠ Planes::phases");
        let bytes = 2.0 * 4.0 * (planes * h * w) as f64;
        let name = format!("{planes}×{h}×{w} s{s} p{pad} → {}×{}", g.hq, g.wq);
        for k in &sets {
            let t_new = best(bytes, || (k.phase_split)(black_box(&mut dst), black_box(&src), &g));
            let t_old = best(bytes, || today.phases(black_box(&mut dst), black_box(&src), k));
            println!(
                "{:<28} {:<8} {:>6.2} µs {:>5.1} {:>12.2} µs {:>5.1}",
                name,
                k.isa.name(),
                t_new * 1e6,
                bytes / t_new / 1e9,
                t_old * 1e6,
                bytes / t_old / 1e9
            );
        }
    }
}
