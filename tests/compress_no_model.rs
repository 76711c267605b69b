#![cfg(feature = "archive")]
//! `hepae compress` without a model, as specifications: with an error bound one positional
//! (the data) writes an archive that needs no model and decodes within the bound (η, φ
//! absolute, integer columns exact, the rest relative, zeros exact); without a bound (or with
//! `--learned` / `--embed-decoder`) a missing model is refused in one line, exit 1, and
//! nothing is written; two positionals (model, then data) still work as before.

#[path = "support/cli.rs"]
mod cli;

use cli::{fails, ok, s, scratch};
use hepae::archive::{read_header, within, Bound};
use hepae::data::npy::{write_npy, Dataset};
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

const COLS: [&str; 6] = ["pt", "eta", "phi", "mass", "chHEF", "nConstituents"];

/// `n` jet-like rows (columns [`COLS`]): a falling pT spectrum, a mass fraction of it, an
/// energy fraction that is zero in a fifth of the jets, an integer multiplicity.
fn jets(dir: &Path, n: usize) -> PathBuf {
    let mut rng = rand::rngs::StdRng::seed_from_u64(17);
    let mut x = Vec::with_capacity(n * COLS.len());
    for _ in 0..n {
        let pt = 20.0 * (1.0 + 40.0 * rng.random::<f32>().powi(3));
        let frac = if rng.random_bool(0.2) { 0.0 } else { rng.random_range(0.01f32..1.0) };
        x.extend_from_slice(&[
            pt,
            rng.random_range(-2.5f32..2.5),
            rng.random_range(-std::f32::consts::PI..std::f32::consts::PI),
            pt * rng.random_range(0.05f32..0.3),
            frac,
            rng.random_range(1..60) as f32,
        ]);
    }
    let p = dir.join("jets.npy");
    let names: Vec<String> = COLS.iter().map(|c| c.to_string()).collect();
    write_npy(&p, COLS.len(), &x, Some(&names)).unwrap();
    p
}

/// Every value of `got` against `orig` under the archive's stored bounds, which must be the
/// default policy for a relative bound `eps`.
fn assert_within(arch: &Path, orig: &Path, got: &Path, eps: f64) {
    let bounds = read_header(arch).unwrap().bounds.expect("an error-bounded archive");
    assert_eq!(
        bounds,
        vec![
            Bound::Rel { value: eps },
            Bound::Abs { value: eps },
            Bound::Abs { value: eps },
            Bound::Rel { value: eps },
            Bound::Rel { value: eps },
            Bound::Exact
        ]
    );
    let (a, b) = (Dataset::open(orig).unwrap(), Dataset::open(got).unwrap());
    assert_eq!((a.rows(), a.cols()), (b.rows(), b.cols()));
    for (i, (&x, &y)) in a.as_slice().iter().zip(b.as_slice()).enumerate() {
        assert!(within(bounds[i % COLS.len()], x, y), "row {} column {}: {x} -> {y}", i / 6 + 1, COLS[i % 6]);
        if x == 0.0 {
            assert_eq!(y.to_bits(), x.to_bits(), "a zero decodes exactly");
        }
    }
}

#[test]
fn a_bound_without_a_model_writes_an_archive_that_decodes_with_no_model_within_the_bound() {
    let dir = scratch("compress-no-model", "bounded");
    let data = jets(&dir, 3000);
    let (arch, out) = (dir.join("a.hepz"), dir.join("out.npy"));
    let err = String::from_utf8_lossy(
        &cli::hepae(&["compress", s(&data), "-o", s(&arch), "--max-rel-error", "1e-3", "-q"]).stderr,
    )
    .into_owned();
    assert!(err.contains("no model: the archive is all that decoding needs"), "{err}");
    let h = read_header(&arch).unwrap();
    assert_eq!((h.model_kind.as_str(), h.latent_dim, h.model_identity.as_str()), ("none", 0, ""));
    assert!(h.version >= 4, "the default is the newest format, version {}", h.version);
    ok(&["decompress", s(&arch), "-q", "-o", s(&out)]);
    assert_within(&arch, &data, &out, 1e-3);
    // Smaller than the float32 rows by far (the quantised grid at 1e-3 needs ~11 bits a value).
    let size = std::fs::metadata(&arch).unwrap().len();
    assert!(size * 2 < 3000 * 6 * 4, "{size} bytes");
}

#[test]
fn without_a_bound_a_missing_model_is_refused_in_one_line_and_nothing_is_written() {
    let dir = scratch("compress-no-model", "refused");
    let data = jets(&dir, 200);
    let arch = dir.join("a.hepz");
    let e = fails(&["compress", s(&data), "-o", s(&arch)]);
    assert!(e.contains("missing MODEL") && e.contains("--max-rel-error"), "{e}");
    let e = fails(&["compress", s(&data), "-o", s(&arch), "--max-rel-error", "1e-3", "--learned"]);
    assert!(e.contains("missing MODEL") && e.contains("--learned"), "{e}");
    let e = fails(&["compress", s(&data), "-o", s(&arch), "--max-rel-error", "1e-3", "--embed-decoder"]);
    assert!(e.contains("missing MODEL") && e.contains("--embed-decoder"), "{e}");
    assert!(!arch.exists(), "a refused compress wrote its output");
}

#[test]
fn two_positionals_are_still_model_then_data() {
    let dir = scratch("compress-no-model", "two");
    let data = jets(&dir, 1500);
    let model = dir.join("m.safetensors");
    ok(&["train", s(&data), "-o", s(&model), "--hidden", "16", "--latent", "3", "--epochs", "2", "-q"]);
    let (arch, out) = (dir.join("a.hepz"), dir.join("out.npy"));
    ok(&["compress", s(&model), s(&data), "-o", s(&arch), "--max-rel-error", "1e-3", "-q"]);
    let h = read_header(&arch).unwrap();
    assert_eq!((h.model_kind.as_str(), h.latent_dim), ("ae", 3));
    ok(&["decompress", s(&arch), "--model", s(&model), "-q", "-o", s(&out)]);
    assert_within(&arch, &data, &out, 1e-3);
    // Latents only: the model is needed, and given.
    let (lat, lat_out) = (dir.join("l.hepz"), dir.join("l.npy"));
    ok(&["compress", s(&model), s(&data), "-o", s(&lat), "-q"]);
    assert_eq!(read_header(&lat).unwrap().bounds, None);
    ok(&["decompress", s(&lat), "--model", s(&model), "-q", "-o", s(&lat_out)]);
    assert_eq!(Dataset::open(&lat_out).unwrap().rows(), 1500);
}
