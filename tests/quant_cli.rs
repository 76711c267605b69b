//! `hepae quantize` end to end on real CMS jets: it writes a model the other commands use
//! (evaluate, score, compress/decompress encode with the quantised encoder), prints and
//! writes its price against the f32 model, and refuses bad input with one `error:` line and
//! no output: a quantised model given to `train` or to `quantize` (both need f32 weights),
//! NaN in the calibration set, a bad precision, an output that is the input.

use std::path::{Path, PathBuf};

#[path = "support/cli.rs"]
mod cli;
use cli::{fails, hepae, ok, s};

fn tmpdir(name: &str) -> PathBuf {
    cli::scratch("quant-cli", name)
}

const CSV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/ttbar_nano_v15.csv");

/// Light-flavour jets of the embedded tt̄ sample and an f32 model trained on them.
fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    let data = dir.join("light.npy");
    ok(&["import", CSV, "-o", s(&data), "--where", "hadronFlavour==0", "--first-columns", "24"]);
    let model = dir.join("ae.safetensors");
    ok(&[
        "train",
        s(&data),
        "-o",
        s(&model),
        "--hidden",
        "48,24",
        "--latent",
        "6",
        "--epochs",
        "6",
        "--batch",
        "64",
        "-q",
    ]);
    (data, model)
}

#[test]
fn quantize_writes_a_model_that_evaluate_score_and_compress_use() {
    let dir = tmpdir("flow");
    let (data, model) = setup(&dir);
    let (q, json) = (dir.join("q.safetensors"), dir.join("price.json"));
    let out = ok(&["quantize", s(&model), "--precision", "int8", "--calib", s(&data), "-o", s(&q), "--json", s(&json)]);
    assert!(out.contains("encoder.0 24→48 int8, input scale"), "{out}");
    assert!(out.contains("(validation split)"), "the price is on the held-out rows: {out}");
    assert!(out.contains("wrote") && out.contains("int8 encoder"), "{out}");
    let price: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let max = price["latent_max_abs_diff"].as_f64().unwrap();
    assert!(max > 0.0 && max < price["latent_rms"].as_f64().unwrap(), "{price}");
    assert_eq!(price["widths"].as_array().unwrap().len(), 24, "one width per variable");
    assert!(price["mse_quant"].as_f64().unwrap() > 0.0);

    // evaluate and score run the quantised encoder: their numbers differ from the f32 model's.
    let (e32, eq) = (ok(&["evaluate", s(&model), s(&data)]), ok(&["evaluate", s(&q), s(&data)]));
    assert_ne!(e32, eq, "evaluate gives the same table for the quantised model");
    let (s32, sq) = (dir.join("s32.npy"), dir.join("sq.npy"));
    ok(&["score", s(&model), s(&data), "-o", s(&s32), "-q"]);
    ok(&["score", s(&q), s(&data), "-o", s(&sq), "-q"]);
    assert_ne!(std::fs::read(&s32).unwrap(), std::fs::read(&sq).unwrap());

    // compress encodes with it: the archive names the quantised model, so decompressing
    // with the f32 one is refused, and the error bound holds through the quantised latents.
    let (a, back) = (dir.join("q.hepz"), dir.join("back.npy"));
    ok(&["compress", s(&q), s(&data), "-o", s(&a), "--max-rel-error", "1e-3"]);
    let e = fails(&["decompress", s(&a), "--model", s(&model), "-o", s(&back)]);
    assert!(!back.exists(), "{e}");
    ok(&["decompress", s(&a), "--model", s(&q), "-o", s(&back)]);
    let (x, y) = (hepae::Dataset::open(&data).unwrap(), hepae::Dataset::open(&back).unwrap());
    let cols = x.columns().to_vec();
    for (i, (a, b)) in x.as_slice().iter().zip(y.as_slice()).enumerate() {
        let name = &cols[i % cols.len()];
        let bound = if name == "eta" || name == "phi" { 1e-3 } else { 1e-3 * a.abs() as f64 };
        assert!(((a - b).abs() as f64) <= bound * (1.0 + 1e-6) + 1e-30, "value {i} ({name}): {a} → {b}");
    }

    // A per-layer choice and fixed point go through the CLI too.
    let q2 = dir.join("q2.safetensors");
    let out =
        ok(&["quantize", s(&model), "--precision", "fixed<16,6>,bf16,f32", "--calib", s(&data), "-o", s(&q2), "-q"]);
    assert!(out.contains("fixed<16,6>+bf16+f32 encoder"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_to_quantize_and_a_quantised_model_given_to_train_fail_with_one_line() {
    let dir = tmpdir("bad");
    let (data, model) = setup(&dir);
    let q = dir.join("q.safetensors");
    ok(&["quantize", s(&model), "--precision", "bf16", "--calib", s(&data), "-o", s(&q), "-q"]);

    // train needs a dataset and f32 weights: a quantised model is refused, nothing written.
    let out = dir.join("out.safetensors");
    let e = fails(&["train", s(&q), "-o", s(&out)]);
    assert!(e.contains("quantised (bf16") && e.contains("training needs f32 weights"), "{e}");
    assert!(!out.exists());
    // So is quantising it again.
    let e = fails(&["quantize", s(&q), "--precision", "int8", "--calib", s(&data), "-o", s(&out)]);
    assert!(e.contains("quantize needs f32 weights"), "{e}");
    assert!(!out.exists());

    // NaN in the calibration set: the file, the 1-based row and the column.
    let d = hepae::Dataset::open(&data).unwrap();
    let mut v = d.as_slice().to_vec();
    v[10 * d.cols() + 3] = f32::NAN;
    let bad = dir.join("calib_nan.npy");
    hepae::data::npy::write_npy(&bad, d.cols(), &v, Some(d.columns())).unwrap();
    let e = fails(&["quantize", s(&model), "--precision", "int8", "--calib", s(&bad), "-o", s(&out)]);
    assert!(e.contains(s(&bad)) && e.contains("row 11") && e.contains("column mass"), "{e}");
    assert!(!out.exists());

    for (args, says) in [
        (vec!["--precision", "int3"], "not a precision"),
        (vec!["--precision", "fixed<40,6>"], "2 ≤ W ≤ 24"),
        (vec!["--precision", "int8", "--granularity", "per-row"], "granularity"),
    ] {
        let mut a = vec!["quantize", s(&model), "--calib", s(&data), "-o", s(&out)];
        a.extend(args);
        let out_line = hepae(&a);
        let err = String::from_utf8_lossy(&out_line.stderr).to_string();
        assert!(!out_line.status.success() && err.contains(says), "{a:?}: {err}");
        assert!(!out.exists());
    }
    // The output may not replace an input.
    let e = fails(&["quantize", s(&model), "--precision", "int8", "--calib", s(&data), "-o", s(&model)]);
    assert!(e.contains("-o"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}
