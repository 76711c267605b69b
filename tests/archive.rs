#![cfg(feature = "archive")]
//! The archive, as specifications: round trips for every latent dtype and option, the error
//! bound checked on every decompressed value of the real jets, any flipped bit detected, a
//! wrong model / truncation / unknown version refused with nothing written, a seeded
//! mutation run over the three readers of untrusted bytes (archive, NPY, model) that must
//! never panic (`HEPAE_FUZZ_ITERS` raises its length), and the archive verified as a whole:
//! blocks reordered, duplicated, spliced from another archive or dropped are refused naming the
//! file and the block (`archive/whole.rs`).

use hepae::archive::{compress, decompress, default_bounds, Bound, CompressOptions, LatentDtype};
use hepae::data::import::{import_file, ImportOptions};
use hepae::data::npy::Dataset;
use hepae::model_io::SavedModel;
use hepae::train::{train_autoencoder, TrainConfig};
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

#[path = "archive/whole.rs"]
mod whole;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hepae-arch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The real jets (first 24 columns) and a small model trained on them.
fn setup(dir: &Path, hidden: Vec<usize>, latent: usize) -> (Dataset, SavedModel, Vec<u8>) {
    let data_path = dir.join("jets.npy");
    let csv = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/ttbar_nano_v15.csv"));
    import_file(csv, &data_path, &ImportOptions { first_columns: Some(24), ..Default::default() }).unwrap();
    let data = Dataset::open(&data_path).unwrap();
    let cfg = TrainConfig { hidden, latent, epochs: Some(5), batch: Some(128), threads: 1, ..Default::default() };
    let out = train_autoencoder(&data, &cfg, &mut |_| {}).unwrap();
    let model = SavedModel::from_training(&out, &cfg, &data);
    let bytes = model.to_bytes().unwrap();
    (data, model, bytes)
}

fn check_bounds(orig: &Dataset, got: &Dataset, bounds: &[Bound]) {
    let d = orig.cols();
    let mut worst = 0.0f64;
    for (i, (&x, &y)) in orig.as_slice().iter().zip(got.as_slice()).enumerate() {
        let ok = match bounds[i % d] {
            Bound::Rel { value } => ((x - y) as f64).abs() <= value * (x as f64).abs(),
            Bound::Abs { value } => ((x - y) as f64).abs() <= value,
            Bound::Exact => x == y,
        };
        assert!(
            ok,
            "row {}, column {}: {x} decompressed as {y}, bound {:?}",
            i / d + 1,
            orig.columns()[i % d],
            bounds[i % d]
        );
        if let Bound::Rel { value } = bounds[i % d] {
            if x != 0.0 {
                worst = worst.max(((x - y) as f64).abs() / (x as f64).abs() / value);
            }
        }
    }
    assert!(worst <= 1.0);
}

#[test]
fn round_trips_for_every_dtype_and_option_and_the_bound_holds_on_every_value() {
    let dir = tmpdir("rt");
    let (data, model, bytes) = setup(&dir, vec![32, 16], 6);
    let model_path = dir.join("m.safetensors");
    std::fs::write(&model_path, &bytes).unwrap();
    let arch = dir.join("a.hepz");
    let out = dir.join("out.npy");
    for dtype in [LatentDtype::F32, LatentDtype::F16, LatentDtype::Bf16] {
        for truncate in [0, 3] {
            for bound in [None, Some(1e-2), Some(1e-3), Some(1e-4)] {
                let bounds = bound.map(|r| default_bounds(&data, Some(r), &[], None));
                let opt = CompressOptions {
                    latent_dtype: dtype,
                    truncate_bits: truncate,
                    bounds: bounds.clone(),
                    block_rows: 500,
                    embed_model: truncate == 3,
                    ..Default::default()
                };
                let rep = compress(&model, &bytes, &data, &arch, &opt).unwrap();
                assert_eq!(rep.archive_bytes, std::fs::metadata(&arch).unwrap().len(), "size accounting");
                assert_eq!(rep.rows, 1636);
                let given = if opt.embed_model { None } else { Some(model_path.as_path()) };
                let (h, rows) = decompress(&arch, given, &out).unwrap();
                assert_eq!((rows, h.latent_dtype), (1636, dtype));
                let got = Dataset::open(&out).unwrap();
                assert_eq!((got.rows(), got.cols()), (1636, 24));
                assert!(got.as_slice().iter().all(|v| v.is_finite()));
                if let Some(b) = &bounds {
                    check_bounds(&data, &got, b);
                }
            }
        }
    }
    // Per-column absolute bounds for η and φ.
    let bounds = default_bounds(&data, Some(1e-3), &[("eta".into(), 1e-4), ("phi".into(), 1e-4)], None);
    assert_eq!(bounds[1], Bound::Abs { value: 1e-4 });
    assert_eq!(bounds[12], Bound::Exact, "nConstituents is integer-valued");
    compress(&model, &bytes, &data, &arch, &CompressOptions { bounds: Some(bounds.clone()), ..Default::default() })
        .unwrap();
    decompress(&arch, Some(&model_path), &out).unwrap();
    check_bounds(&data, &Dataset::open(&out).unwrap(), &bounds);
}

#[test]
fn any_flipped_bit_is_detected_and_bad_archives_are_refused_with_nothing_written() {
    let dir = tmpdir("flip");
    let (data, model, bytes) = setup(&dir, vec![8], 3);
    let model_path = dir.join("m.safetensors");
    std::fs::write(&model_path, &bytes).unwrap();
    let small = dir.join("small.npy");
    hepae::data::npy::write_npy(&small, 24, &data.as_slice()[..40 * 24], Some(data.columns())).unwrap();
    let small = Dataset::open(&small).unwrap();
    let arch = dir.join("a.hepz");
    // Coded against the decoder's predictions, so that decoding needs the model.
    let opt = CompressOptions {
        bounds: Some(default_bounds(&small, Some(1e-3), &[], None)),
        block_rows: 16,
        learned: hepae::archive::Learned::Force,
        ..Default::default()
    };
    compress(&model, &bytes, &small, &arch, &opt).unwrap();
    let good = std::fs::read(&arch).unwrap();
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join("x.npy");
    let bad = dir.join("bad.hepz");
    for i in 0..good.len() {
        let mut b = good.clone();
        b[i] ^= 1 << (i % 8);
        std::fs::write(&bad, &b).unwrap();
        let e = match decompress(&bad, Some(&model_path), &out) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a flipped bit at byte {i} of {} went unnoticed", good.len()),
        };
        assert!(e.contains("bad.hepz") && !e.contains('\n'), "byte {i}: {e}");
    }
    for cut in [0, 3, 10, good.len() / 2, good.len() - 1] {
        std::fs::write(&bad, &good[..cut]).unwrap();
        let e = decompress(&bad, Some(&model_path), &out).unwrap_err().to_string();
        assert!(e.contains("bad.hepz") && !e.contains('\n'), "{e}");
    }
    let mut v = good.clone();
    v[4] = 9;
    std::fs::write(&bad, &v).unwrap();
    assert!(decompress(&bad, Some(&model_path), &out).unwrap_err().to_string().contains("unknown archive version 9"));
    // Another model (same shape, other weights).
    let (_, other, other_bytes) = setup(&dir, vec![8], 3);
    let _ = other;
    let mut ob = other_bytes.clone();
    ob.extend_from_slice(b"");
    let other_path = dir.join("other.safetensors");
    let mut o = SavedModel::from_bytes(&other_bytes, &other_path).unwrap();
    o.ae.params.data[0] += 1.0;
    o.save(&other_path).unwrap();
    let e = decompress(&arch, Some(&other_path), &out).unwrap_err().to_string();
    assert!(e.contains("another model"), "{e}");
    let e = decompress(&arch, None, &out).unwrap_err().to_string();
    assert!(e.contains("--model"), "{e}");
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 0, "failed decompressions left files");
}

#[test]
fn readers_of_untrusted_bytes_never_panic_under_mutation() {
    let iters: usize = std::env::var("HEPAE_FUZZ_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    // HEPAE_FUZZ_SECONDS=S: keep mutating for S seconds instead (the long run).
    let seconds: Option<u64> = std::env::var("HEPAE_FUZZ_SECONDS").ok().and_then(|v| v.parse().ok());
    let t0 = std::time::Instant::now();
    let dir = tmpdir("fuzz");
    let (data, model, bytes) = setup(&dir, vec![8], 3);
    let model_path = dir.join("m.safetensors");
    std::fs::write(&model_path, &bytes).unwrap();
    let small = dir.join("small.npy");
    hepae::data::npy::write_npy(&small, 24, &data.as_slice()[..24 * 24], Some(data.columns())).unwrap();
    let arch = dir.join("a.hepz");
    let opt = CompressOptions {
        bounds: Some(default_bounds(&Dataset::open(&small).unwrap(), Some(1e-3), &[], None)),
        block_rows: 8,
        embed_model: true,
        ..Default::default()
    };
    compress(&model, &bytes, &Dataset::open(&small).unwrap(), &arch, &opt).unwrap();
    let seeds = [
        ("hepz", std::fs::read(&arch).unwrap()),
        ("npy", std::fs::read(&small).unwrap()),
        ("safetensors", bytes.clone()),
    ];
    let mut r = rand::rngs::StdRng::seed_from_u64(20261123);
    let target = dir.join("m.bin");
    let out = dir.join("out.npy");
    let mut it = 0usize;
    while seconds.map_or(it < iters, |s| t0.elapsed().as_secs() < s) {
        it += 1;
        let (kind, seed) = &seeds[it % 3];
        let mut b = seed.clone();
        match r.random_range(0..4) {
            0 => {
                for _ in 0..r.random_range(1..8) {
                    let i = r.random_range(0..b.len());
                    b[i] ^= 1 << r.random_range(0..8);
                }
            }
            1 => b.truncate(r.random_range(0..b.len())),
            2 => {
                let i = r.random_range(0..b.len());
                let n = r.random_range(1..64).min(b.len() - i);
                for v in &mut b[i..i + n] {
                    *v = r.random();
                }
            }
            _ => {
                let i = r.random_range(0..b.len());
                b.splice(i..i, (0..r.random_range(1..32)).map(|_| r.random::<u8>()));
            }
        }
        let path = target.with_extension(kind);
        std::fs::write(&path, &b).unwrap();
        // Errors are expected; a panic fails the test.
        match *kind {
            "hepz" => {
                let _ = decompress(&path, None, &out);
            }
            "npy" => {
                let _ = Dataset::open(&path).map(|d| d.check_finite());
            }
            _ => {
                let _ = SavedModel::from_bytes(&b, &path);
            }
        }
    }
    eprintln!("mutation run: {it} inputs in {:.0} s, no panic", t0.elapsed().as_secs_f64());
}
