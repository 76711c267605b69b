//! A quantised encoder's encodes allocate nothing: a counting global allocator watches
//! 4 000 `Encoder::encode` calls of 1 to 4 rows and 400 of 16 to 80 rows (the row-tiled int8
//! chain) for each precision (after one warm-up call, which picks the kernel set once per
//! process).

use hepae::infer::quantized::{parse_precisions, quantize, Granularity, QuantOptions};
use hepae::{Dataset, Encoder, TrainConfig, Trainer};
use std::path::Path;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_during;

#[test]
fn quantised_encoders_allocate_nothing_for_small_and_tiled_batches() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = Dataset::open(&root.join("tests/data/dy_nano_v6.npy")).unwrap();
    let cfg = TrainConfig { hidden: vec![32, 16], latent: 6, epochs: Some(1), ..TrainConfig::default() };
    let model = Trainer::new(cfg).fit(&data).unwrap();
    let path = Path::new("unused.safetensors");
    let d = data.cols();
    let x = &data.as_slice()[..4 * d];
    for p in ["int8", "bf16", "bf16-act", "f16", "fixed<16,6>", "int8,bf16-act,f32"] {
        let opts = QuantOptions {
            layers: parse_precisions(p).unwrap(),
            granularity: Granularity::PerChannel,
            calib_rows: 1000,
        };
        let q = quantize(&model, path, &opts, &data).unwrap();
        let mut enc = Encoder::new(&q, 4);
        let mut z = [0f32; 4 * 6];
        enc.encode(x, 1, &mut z).unwrap();
        let n = allocations_during(|| {
            for i in 0..4_000 {
                let rows = 1 + i % 4;
                enc.encode(&x[..rows * d], rows, &mut z[..rows * 6]).unwrap();
            }
        });
        assert_eq!(n, 0, "{p}: {n} allocations in 4 000 small encodes");
        assert!(z.iter().all(|v| v.is_finite()) && z.iter().any(|&v| v != 0.0), "{p}: latents {z:?}");
        // Batches of 16 to 80 rows (an all-int8 encoder's row-tiled chain from 16 rows on,
        // steps of up to 64): the tile buffers are built with the encoder, not per call.
        let mut big = Encoder::new(&q, 64);
        let xs = &data.as_slice()[..80 * d];
        let mut zs = vec![0f32; 80 * 6];
        big.encode(xs, 80, &mut zs).unwrap();
        let n = allocations_during(|| {
            for i in 0..400 {
                let rows = 16 + i % 65;
                big.encode(&xs[..rows * d], rows, &mut zs[..rows * 6]).unwrap();
            }
        });
        assert_eq!(n, 0, "{p}: {n} allocations in 400 encodes of 16 to 80 rows");
        assert!(zs.iter().all(|v| v.is_finite()) && zs.iter().any(|&v| v != 0.0), "{p}: latents");
    }
}
