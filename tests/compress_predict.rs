#![cfg(feature = "archive")]
//! Archive format 4 (coded blocks that predict columns from columns decoded earlier in the
//! row), as specifications: over random blocks with fractions that add up to one (and rows
//! where they do not), multiplicities that are zero exactly where a fraction is (and rows
//! where not), correlated log columns, one outlier, an all-zero column, denormals, ±0, huge
//! and tiny magnitudes, every value decodes within its bound and every zero exactly; the new
//! models are chosen where they pay and make the block smaller than format 3's; blocks decode
//! the same whatever the thread count (a block is a pure function of its bytes); archives of
//! format 3 are still written and read; a corrupted block is refused even behind a valid CRC.

#[path = "support/coded_block.rs"]
mod coded_block;
use coded_block::{first_coded_block, reseal};
use hepae::archive::coded::{decode_block, encode_block, BlockInput, Pred};
use hepae::archive::{compress_observed, decompress, within, Bound, CompressOptions, Learned};
use hepae::data::npy::{write_npy, Dataset};
use hepae::model_io::SavedModel;
use hepae::train::{train_autoencoder, TrainConfig};
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

const NAMES: [&str; 16] =
    ["pt", "eta", "mass", "fA", "fB", "fC", "fD", "nA", "nB", "nC", "ptD", "outlier", "zero", "wild", "event", "jet"];

/// A block of `n` jet-like rows (columns [`NAMES`]); `wild` adds denormals, ±0, huge and tiny
/// magnitudes to the `wild` column and breaks the identities in some rows.
fn block(n: usize, seed: u64, wild: bool) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut x = Vec::with_capacity(n * NAMES.len());
    let mut event = 75_000u32;
    for r in 0..n {
        let pt = 20.0 * (1.0 + 50.0 * rng.random::<f32>().powi(3));
        let eta = rng.random_range(-2.5f32..2.5);
        let mass = pt * rng.random_range(0.05f32..0.3);
        let mult: [u32; 3] =
            std::array::from_fn(|i| if rng.random_bool([0.3, 0.8, 0.1][i]) { 0 } else { rng.random_range(1..30) });
        // fA, fB, fC follow nA, nB, nC (zero exactly when the multiplicity is); fD is the rest.
        let mut f: [f32; 4] =
            std::array::from_fn(|i| if i < 3 && mult[i] == 0 { 0.0 } else { rng.random_range(0.05f32..1.0) });
        let s: f32 = f.iter().sum();
        f.iter_mut().for_each(|v| *v /= s);
        if wild && r % 17 == 3 {
            f[1] *= 0.5; // the sum breaks
        }
        let mut m = mult.map(|v| v as f32);
        if wild && r % 23 == 5 {
            m[0] = if m[0] == 0.0 { 3.0 } else { 0.0 }; // the zero pattern breaks
        }
        let ptd = (0.2 + 0.5 * (mult[1] as f32 + 1.0).recip()) * rng.random_range(0.95f32..1.05);
        let outlier = if r == n / 2 { 1e30 } else { 5.0 };
        let w = if wild {
            match r % 9 {
                0 => f32::from_bits(rng.random::<u32>() & 0x807f_ffff), // ±denormal or ±0
                1 => -0.0,
                2 => 3.0e38,
                3 => 1e-37,
                4 => -rng.random_range(1e-3f32..1e3),
                _ => rng.random_range(1e-3f32..1e3),
            }
        } else {
            rng.random_range(1.0f32..2.0)
        };
        if rng.random_bool(0.3) {
            event += 1;
        }
        let jet = (r % 4) as f32;
        x.extend_from_slice(&[
            pt,
            eta,
            mass,
            f[0],
            f[1],
            f[2],
            f[3],
            m[0],
            m[1],
            m[2],
            ptd,
            outlier,
            0.0,
            w,
            event as f32,
            jet,
        ]);
    }
    x
}

fn bounds(eps: f64) -> Vec<Bound> {
    NAMES
        .iter()
        .enumerate()
        .map(|(c, name)| match *name {
            "eta" => Bound::Abs { value: eps },
            _ if (7..10).contains(&c) || c >= 14 => Bound::Exact,
            _ => Bound::Rel { value: eps },
        })
        .collect()
}

fn integer() -> Vec<bool> {
    (0..NAMES.len()).map(|c| (7..10).contains(&c) || c >= 14).collect()
}

/// Codes one block; returns its bytes and what each column chose.
fn code(x: &[f32], b: &[Bound], v4: bool) -> (Vec<u8>, hepae::archive::BlockStats) {
    let integer = integer();
    let inp =
        BlockInput { x, bounds: b, integer: &integer, learned: None, decoder_bits: 0.0, force_learned: false, v4 };
    let mut out = Vec::new();
    let stats = encode_block(&inp, &mut out).unwrap();
    (out, stats)
}

fn decode(bytes: &[u8], n: usize) -> Result<Vec<f32>, String> {
    let mut y = Vec::new();
    let mut none = |_: &[f32], _: &mut [f32]| -> Result<(), String> { Err("no model".into()) };
    decode_block(bytes, n, NAMES.len(), 0, &mut none, &mut y).map(|_| y)
}

fn assert_within(x: &[f32], y: &[f32], b: &[Bound]) {
    let d = b.len();
    assert_eq!(x.len(), y.len());
    for (i, (&a, &v)) in x.iter().zip(y).enumerate() {
        assert!(within(b[i % d], a, v), "row {} {}: {a:e} -> {v:e}", i / d, NAMES[i % d]);
        if a == 0.0 {
            assert_eq!(v, 0.0, "zeros stay exact");
        }
        if a.to_bits() == 0 {
            assert_eq!(v.to_bits(), 0, "+0 stays +0");
        }
    }
}

fn col(name: &str) -> usize {
    NAMES.iter().position(|n| *n == name).unwrap()
}

#[test]
fn every_value_of_random_blocks_decodes_within_its_bound_and_the_predictions_pay() {
    for (seed, n, wild, eps) in [
        (1, 3000, false, 1e-3),
        (2, 2500, true, 1e-3),
        (3, 4000, true, 1e-2),
        (4, 700, true, 1e-4),
        (5, 1, true, 1e-3),
        (6, 37, false, 1e-4),
    ] {
        let x = block(n, seed, wild);
        let b = bounds(eps);
        let (v4, s4) = code(&x, &b, true);
        assert_within(&x, &decode(&v4, n).unwrap(), &b);
        let (v3, _) = code(&x, &b, false);
        assert_within(&x, &decode(&v3, n).unwrap(), &b);
        if n < 1000 {
            continue;
        }
        let c = |name: &str| &s4.columns[col(name)].0;
        // The last fraction against 1 − the others; the other log columns against a fit.
        let complement: Vec<&str> =
            NAMES.iter().copied().filter(|&f| matches!(c(f).pred, Pred::Complement(_))).collect();
        assert_eq!(complement.len(), 1, "{seed}: one fraction is the complement of the others");
        assert!(complement[0].starts_with('f'), "{complement:?}");
        assert!(matches!(c("ptD").pred, Pred::Linear { .. }), "{seed}: ptD follows nB: {:?}", c("ptD").pred);
        // Kinds of a fraction given its multiplicity's zero.
        assert_eq!(c("fB").kind_ctx, Some(col("nB") as u16), "{seed}");
        assert!(c("zero").pred == Pred::None && c("zero").kinds[0] == n as u32);
        // The event column walks from its first value, not from 0.
        assert!(c("event").delta && c("event").first >= 75_000, "{:?}", c("event"));
        assert!(v4.len() * 100 < v3.len() * 90, "{seed}: format 4 {} B, format 3 {} B", v4.len(), v3.len());
    }
}

#[test]
fn a_block_decodes_to_the_same_bits_on_every_call_and_thread() {
    let x = block(2000, 7, true);
    let b = bounds(1e-3);
    let (bytes, _) = code(&x, &b, true);
    let want = decode(&bytes, 2000).unwrap();
    let got: Vec<Vec<f32>> = std::thread::scope(|s| {
        let h: Vec<_> = (0..3).map(|_| s.spawn(|| decode(&bytes, 2000).unwrap())).collect();
        h.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for g in got {
        assert!(g.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
    // Coding is deterministic too.
    assert_eq!(code(&x, &b, true).0, bytes);
}

#[test]
fn a_flipped_byte_anywhere_in_a_block_header_is_refused_or_harmless() {
    let (n, b) = (400, bounds(1e-3));
    let x = block(n, 8, true);
    let (good, stats) = code(&x, &b, true);
    let want = decode(&good, n).unwrap();
    // The header: flags, every column's code with its format-4 part, the order.
    let mut header = 1;
    for (c, _) in &stats.columns {
        header += c.header_bytes(true);
    }
    header += NAMES.len();
    assert!(header < good.len());
    let (mut refused, mut changed) = (0, 0);
    for i in 0..header {
        for bit in [0, 3, 7] {
            let mut bad = good.clone();
            bad[i] ^= 1 << bit;
            match decode(&bad, n) {
                Err(e) => {
                    assert!(!e.contains('\n'), "{e}");
                    refused += 1;
                }
                // What still decodes is caught by the archive's SHA-256 of the rows.
                Ok(y) => changed += (y.iter().zip(&want).any(|(a, b)| a.to_bits() != b.to_bits())) as usize,
            }
        }
    }
    assert!(refused > header, "{refused} of {} flips refused ({changed} decoded to other rows)", 3 * header);
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hepae-predict-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A jet-like file (no wild column, so a model trains on it) and a model.
fn setup(dir: &Path) -> (Dataset, SavedModel, Vec<u8>) {
    let path = dir.join("jets.npy");
    let names: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    let mut x = block(3000, 9, false);
    x.iter_mut().skip(col("outlier")).step_by(NAMES.len()).for_each(|v| *v = v.min(1e6));
    write_npy(&path, NAMES.len(), &x, Some(&names)).unwrap();
    let data = Dataset::open(&path).unwrap();
    let cfg =
        TrainConfig { hidden: vec![8], latent: 3, epochs: Some(1), batch: Some(256), threads: 1, ..Default::default() };
    let model = SavedModel::from_training(&train_autoencoder(&data, &cfg, &mut |_| {}).unwrap(), &cfg, &data);
    let bytes = model.to_bytes().unwrap();
    (data, model, bytes)
}

#[test]
fn archives_of_format_4_and_3_round_trip_and_a_corrupted_coded_block_is_refused() {
    let dir = tmpdir("formats");
    let (data, model, bytes) = setup(&dir);
    let b = hepae::archive::default_bounds(&data, Some(1e-3), &[], None);
    let out = dir.join("out.npy");
    let mut sizes = Vec::new();
    for format in [4u16, 3] {
        let arch = dir.join(format!("a{format}.hepz"));
        let opt = CompressOptions {
            bounds: Some(b.clone()),
            block_rows: 1000,
            learned: Learned::Off,
            format,
            ..Default::default()
        };
        let mut blocks = Vec::new();
        let rep = compress_observed(&model, &bytes, &data, &arch, &opt, &mut |_| {}, &mut |s| blocks.push(s.clone()))
            .unwrap();
        let (h, rows) = decompress(&arch, None, &out).unwrap();
        assert_eq!((h.version, rows), (format, 3000));
        let got = Dataset::open(&out).unwrap();
        for (i, (&x, &y)) in data.as_slice().iter().zip(got.as_slice()).enumerate() {
            assert!(within(b[i % NAMES.len()], x, y), "{format}: value {i}: {x} -> {y}");
        }
        let predicted = blocks.iter().flat_map(|s| &s.columns).filter(|(c, _)| c.pred != Pred::None).count();
        assert_eq!(predicted > 0, format == 4, "format {format}: {predicted} predicted columns");
        sizes.push(rep.archive_bytes);
        std::fs::remove_file(&out).unwrap();
    }
    assert!(sizes[0] < sizes[1], "format 4 {} B, format 3 {} B", sizes[0], sizes[1]);
    // Corruption inside the first coded block of the format-4 archive, behind a recomputed
    // CRC: refused with one line naming the file, or (the coder's slack bits) harmless.
    let arch = dir.join("a4.hepz");
    let good = std::fs::read(&arch).unwrap();
    let (id, start, payload) = first_coded_block(&arch, &good);
    let bad = dir.join("bad.hepz");
    let mut refused = 0;
    for (k, i) in payload.clone().step_by(7).take(300).enumerate() {
        let mut c = good.clone();
        c[i] ^= 1 << (k % 8);
        reseal(&mut c, &id, start, &payload);
        std::fs::write(&bad, &c).unwrap();
        if let Err(e) = decompress(&bad, None, &out) {
            let e = e.to_string();
            assert!(e.contains("bad.hepz") && !e.contains('\n'), "{e}");
            assert!(!out.exists(), "a refused archive left output");
            refused += 1;
        } else {
            let _ = std::fs::remove_file(&out);
        }
    }
    assert!(refused > 250, "{refused} of 300 corruptions refused");
}

#[test]
fn explain_prints_what_each_block_chose_and_the_cli_decodes_it_with_scalar_kernels() {
    let dir = tmpdir("explain");
    let (data, _, bytes) = setup(&dir);
    let model_path = dir.join("m.safetensors");
    std::fs::write(&model_path, &bytes).unwrap();
    let (arch, out) = (dir.join("a.hepz"), dir.join("out.npy"));
    let run = |args: &[&str], isa: &str| {
        let o =
            std::process::Command::new(env!("CARGO_BIN_EXE_hepae")).env("HEPAE_ISA", isa).args(args).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout)
    };
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let text = run(
        &[
            "compress",
            &s(&model_path),
            &s(data.path()),
            "-o",
            &s(&arch),
            "--max-rel-error",
            "1e-3",
            "--plain",
            "--explain",
        ],
        "auto",
    );
    assert!(text.contains("1 - (") && text.contains("linear in"), "{text}");
    assert!(text.contains("kinds given nB = 0") && text.contains("delta from"), "{text}");
    run(&["decompress", &s(&arch), "-q", "-o", &s(&out)], "scalar");
    let got = Dataset::open(&out).unwrap();
    assert_eq!(got.rows(), 3000);
}

#[test]
fn a_learned_block_whose_latents_vary_slowly_decodes() {
    // Latents that walk in small steps make a delta plan the cheapest for them; the decoder
    // reads latents plainly, so the coder must not choose it (it once wrote such blocks and
    // its own check refused them).
    let (n, l) = (5000, 2);
    let x = block(n, 11, false);
    let d = NAMES.len();
    let zq: Vec<f32> = (0..n * l).map(|i| 1.0 + (i / l) as f32 / 64.0).collect();
    let mut zb = vec![0.0f32; n * l];
    hepae::archive::coded::quantize_latents(&zq, 7, &mut zb);
    let preds: Vec<f32> = x.iter().map(|&v| v * 1.01).collect();
    let crc = hepae::archive::codec::prediction_crc(&preds);
    let side = hepae::archive::coded::LatentSide { latent_dim: l, zq: &zb, preds: &preds, crc };
    let (b, integer) = (bounds(1e-3), integer());
    let inp = BlockInput {
        x: &x,
        bounds: &b,
        integer: &integer,
        learned: Some(side),
        decoder_bits: 0.0,
        force_learned: true,
        v4: true,
    };
    let mut bytes = Vec::new();
    assert!(encode_block(&inp, &mut bytes).unwrap().learned);
    let mut predict = |z: &[f32], out: &mut [f32]| -> Result<(), String> {
        assert_eq!(z, &zb[..], "the latents decode as stored");
        out.copy_from_slice(&preds);
        Ok(())
    };
    let mut got = Vec::new();
    decode_block(&bytes, n, d, l, &mut predict, &mut got).unwrap();
    assert!((0..n * d).all(|i| within(b[i % d], x[i], got[i])));
}
