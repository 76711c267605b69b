//! Interleaved A/B of the batch encode in one process: the row-tiled fused encoder
//! (`Encoder`) against the per-layer GEMM path it replaced (`Encoder::without_fusion`), on
//! every SIMD kernel set this CPU has, on one thread. Each round times `CALLS` calls (of
//! about 4096 rows: one batch, or repeated smaller batches) of each path in turn and keeps
//! each one's fastest, so other processes' time slices on a loaded machine fall out; the
//! ratio is reported per round. Times are µs per 4096 rows.
//!
//! `cargo run --release --example encode_ab [MODEL.safetensors|-] [ROUNDS] [BATCH]` (default:
//! the reference net 24-200-100-50-15 with PyTorch's initialisation, 7 rounds, batch 4096;
//! jets synthetic).

use hepae::data::normalize::Normalizer;
use hepae::encoder::Encoder;
use hepae::model_io::SavedModel;
use hepae::models::ae::{AeShape, Autoencoder, ModelKind, OutputActivation};
use std::time::Instant;

const CALLS: usize = 30;

fn reference_model() -> SavedModel {
    let d = 24;
    let mut ae = Autoencoder::new(AeShape::standard(d, vec![200, 100, 50], 15, 0.01, OutputActivation::Linear));
    ae.init(2);
    let columns: Vec<String> = (0..d).map(|i| format!("c{i}")).collect();
    SavedModel::new(ModelKind::Ae, ae, columns.clone(), Normalizer::identity(&columns))
}

/// The fastest of `CALLS` encodes of `batch` rows (each call repeated to ~4096 rows), in
/// seconds per 4096 rows' worth.
fn best_call(enc: &mut Encoder, x: &[f32], z: &mut [f32], batch: usize) -> f64 {
    let reps = 4096usize.div_ceil(batch);
    let mut best = f64::MAX;
    for _ in 0..CALLS {
        let t = Instant::now();
        for _ in 0..reps {
            enc.encode(x, batch, z).expect("finite jets");
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    best / (reps * batch) as f64 * 4096.0
}

fn main() -> Result<(), hepae::Error> {
    let args: Vec<String> = std::env::args().collect();
    let model = match args.get(1).map(String::as_str) {
        Some(p) if p != "-" => hepae::Model::load(p.as_ref())?,
        _ => reference_model(),
    };
    let rounds: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(7);
    let batch: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(4096);
    let d = model.ae.shape.input;
    let x: Vec<f32> = (0..batch * d).map(|i| ((i * 31 % 97) as f32) / 97.0).collect();
    for isa in hepae_kernels::available_isas().into_iter().filter(|&i| i != hepae_kernels::Isa::Scalar) {
        let mut new = Encoder::with_isa(&model, batch, isa).expect("available");
        let mut old = Encoder::with_isa(&model, batch, isa).expect("available").without_fusion();
        let (mut zn, mut zo) = (vec![0.0f32; batch * new.latent_dim()], vec![0.0f32; batch * new.latent_dim()]);
        new.encode(&x, batch, &mut zn).expect("finite jets");
        old.encode(&x, batch, &mut zo).expect("finite jets");
        assert!(zn.iter().zip(&zo).all(|(a, b)| a.to_bits() == b.to_bits()), "the two paths' bits differ");
        let mut ratios = Vec::new();
        for r in 0..rounds {
            let (tn, to) = (best_call(&mut new, &x, &mut zn, batch), best_call(&mut old, &x, &mut zo, batch));
            ratios.push(to / tn);
            let mjs = |t: f64| 4096.0 / t / 1e6;
            println!(
                "{} round {r}: fused {:.1} µs ({:.2} M jets/s), per-layer GEMM {:.1} µs ({:.2} M jets/s), fused/GEMM speed {:.3}",
                isa.name(),
                tn * 1e6,
                mjs(tn),
                to * 1e6,
                mjs(to),
                to / tn
            );
        }
        ratios.sort_by(f64::total_cmp);
        println!(
            "{}: fused/GEMM speed ratio min {:.3} median {:.3} max {:.3} over {rounds} rounds",
            isa.name(),
            ratios[0],
            ratios[rounds / 2],
            ratios[rounds - 1]
        );
    }
    Ok(())
}
