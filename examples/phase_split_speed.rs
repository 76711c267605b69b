//! Speed of a strided convolution's phase split, per image: the `phase_split` kernel of every
//! set this CPU runs (pixels only; the caller zeroes the phase planes once per op call, not
//! timed) against the path it replaced: an im2col with an s×s window at stride s, which
//! writes every phase value, borders included, through `window_gather`, on the conv autoencoder's
//! shapes. Synthetic images; best of 20 runs. GB/s counts the image's bytes read plus the
//! same bytes written (2·4·planes·h·w per call) for both, so the columns compare one job.
//! `cargo run --release --example phase_split_speed`

use hepae::nn::im2col::{im2col, Window};
use hepae_kernels::phase_split::PhaseSplit;
use hepae_kernels::{available_isas, kernels_for, Kernels};
use std::hint::black_box;
#[path = "support/best.rs"]
mod best;
use best::best;

fn main() {
    let sets: Vec<&Kernels> = available_isas().into_iter().filter_map(kernels_for).collect();
    println!("phase split per image (synthetic images): µs per call and GB/s (image bytes in + out)");
    println!("{:<28} {:<8} {:>14} {:>22}", "geometry", "set", "phase_split", "im2col (before)");
    for (planes, h, w, s, pad) in [(8, 40, 40, 2, 1), (16, 20, 20, 2, 1), (8, 40, 40, 1, 1)] {
        let g = PhaseSplit::padded(planes, h, w, s, pad);
        let src: Vec<f32> = (0..planes * h * w).map(|i| ((i * 7 % 13) as f32 - 6.0) / 13.0).collect();
        let mut dst = vec![0.0f32; g.dst_len().expect("small")];
        // The phase split as an im2col: an s×s window at stride s over hq × wq positions.
        let before = Window { c: planes, h, w, k: s, stride: s, pad, oh: g.hq, ow: g.wq };
        assert_eq!(before.rows() * before.cols(), dst.len(), "the same phase planes");
        // The kernel on zeroed planes gives the im2col's phases exactly (the same layout).
        let mut want = vec![f32::NAN; dst.len()];
        im2col(&mut want, &src, &before, sets[0]);
        (sets[sets.len() - 1].phase_split)(&mut dst, &src, &g);
        assert!(dst.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()), "phase_split ≠ the im2col");
        let bytes = 2.0 * 4.0 * (planes * h * w) as f64;
        let name = format!("{planes}×{h}×{w} s{s} p{pad} → {}×{}", g.hq, g.wq);
        for k in &sets {
            let t_new = best(bytes, || (k.phase_split)(black_box(&mut dst), black_box(&src), &g));
            let t_old = best(bytes, || im2col(black_box(&mut dst), black_box(&src), &before, k));
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
