//! `hepae bench --isa all --json F`: the report a farm operator collects has a row for every
//! instruction set this CPU offers and every precision (f32 and each of `hepae quantize`'s,
//! quantised in memory), at batch 1 (with p50 ≤ p99 latency)
//! and at batch 4096, with numbers that are finite, positive and consistent with each other.
//! (No timing assertions: only that the numbers are sane.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn hepae(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hepae")).args(args).output().expect("run hepae")
}

fn ok(args: &[&str]) -> Output {
    let out = hepae(args);
    assert!(out.status.success(), "hepae {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hepae-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const DEMO_CSV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/ttbar_nano_v15.csv");

/// A small trained model (architecture is what bench measures).
fn small_model(dir: &Path) -> PathBuf {
    let data = dir.join("jets.npy");
    ok(&["import", DEMO_CSV, "-o", s(&data), "--first-columns", "24"]);
    let model = dir.join("m.safetensors");
    ok(&["train", s(&data), "-o", s(&model), "--hidden", "32,16", "--latent", "6", "--epochs", "1", "--quiet"]);
    model
}

fn num(v: &serde_json::Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

#[test]
fn bench_json_has_every_isa_and_precision_at_batch_1_and_4096() {
    let dir = tmpdir("json");
    let model = small_model(&dir);
    let json = dir.join("bench.json");
    let args = [
        "--isa",
        "all",
        "--precision",
        "all",
        "--threads",
        "1",
        "--batch",
        "1,4096",
        "--rows",
        "4096",
        "--reps",
        "1",
        "--no-train",
    ];
    let out = ok(&[&["bench", s(&model)][..], &args[..], &["--json", s(&json)][..]].concat());
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let isas: Vec<String> = hepae_kernels::available_isas().iter().map(|i| i.name().to_string()).collect();
    let listed: Vec<String> =
        report["isas_available"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert_eq!(listed, isas, "the report lists the CPU's sets");
    assert_eq!(report["isas_measured"], report["isas_available"], "--isa all measures every set");
    let precisions = report["precisions"].as_array().unwrap();
    let want = ["f32", "bf16", "bf16-act", "f16", "int8", "fixed<16,6>"];
    assert_eq!(precisions.iter().map(|p| p.as_str().unwrap()).collect::<Vec<_>>(), want, "--precision all");
    assert!(num(&report, "timer_overhead_ns") >= 0.0);
    let rows = report["rows"].as_array().unwrap();
    for isa in &isas {
        for p in precisions {
            for batch in [1u64, 4096] {
                let row = rows
                    .iter()
                    .find(|r| {
                        r["what"] == "encode" && r["isa"] == isa.as_str() && r["precision"] == *p && r["batch"] == batch
                    })
                    .unwrap_or_else(|| panic!("no encode row for {isa} {p} batch {batch}"));
                let (us, rate) = (num(row, "us_per_jet"), num(row, "jets_per_s"));
                assert!(us.is_finite() && us > 0.0 && rate.is_finite() && rate > 0.0, "{row}");
                assert!((us * rate / 1e6 - 1.0).abs() < 1e-6, "µs/jet and jets/s agree: {row}");
                if batch == 1 {
                    let (p50, p99) = (num(row, "p50_us"), num(row, "p99_us"));
                    assert!(p50 > 0.0 && p50 <= p99 && p99.is_finite(), "{row}");
                } else {
                    assert!(row["p50_us"].is_null() && row["p99_us"].is_null(), "{row}");
                }
            }
        }
    }
    // The decode rows are on the process's set; the table names every row's set.
    assert!(rows.iter().any(|r| r["what"] == "decode" && r["isa"] == report["isa"]));
    let encodes = rows.iter().filter(|r| r["what"] == "encode").count();
    assert_eq!(encodes, isas.len() * want.len() * 2, "one encode row per ISA × precision × batch");
    let table = String::from_utf8_lossy(&out.stdout);
    for isa in &isas {
        for p in want {
            let has =
                |l: &&str| l.starts_with("encode") && l.contains(isa.as_str()) && l.split_whitespace().any(|w| w == p);
            assert!(table.lines().any(|l| has(&l)), "{isa} {p} in:\n{table}");
        }
    }
    // A list measures just those precisions, each quantised in memory as `hepae quantize` does.
    let json2 = dir.join("int8.json");
    let args2 =
        ["--precision", "int8,f32", "--threads", "1", "--batch", "1", "--rows", "256", "--reps", "1", "--no-train"];
    ok(&[&["bench", s(&model)][..], &args2[..], &["--json", s(&json2)][..]].concat());
    let r2: serde_json::Value = serde_json::from_slice(&std::fs::read(&json2).unwrap()).unwrap();
    assert_eq!(r2["precisions"], serde_json::json!(["int8", "f32"]));
    let enc2: Vec<&serde_json::Value> =
        r2["rows"].as_array().unwrap().iter().filter(|r| r["what"] == "encode").collect();
    assert_eq!(enc2.len(), 2, "{r2}");
    assert!(enc2.iter().all(|r| num(r, "p50_us") > 0.0 && num(r, "p50_us") <= num(r, "p99_us")), "{r2}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bench_refuses_an_unknown_isa_or_precision_with_one_line() {
    let dir = tmpdir("bad");
    let model = small_model(&dir);
    for (opt, val) in [("--isa", "avx9"), ("--precision", "f8")] {
        let out = hepae(&["bench", s(&model), opt, val, "--no-train"]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(1), "{err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{err}");
        assert!(lines[0].starts_with("error: ") && lines[0].contains(opt) && lines[0].contains(val), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// What bench times is what a trigger gets: a quantised encoder built for an ISA
/// (`Encoder::with_isa`) runs its quantised layers at batch 1 as at batch 256 (not an f32
/// chain over dequantised weights), and every ISA agrees with the scalar set.
#[test]
fn a_quantised_encoder_on_each_isa_runs_its_own_kernels_at_every_batch() {
    use hepae::infer::quantized::{
        parse_precisions, quantize_normalized, CalibrationRecord, Granularity, QuantOptions,
    };
    let dir = tmpdir("isa");
    let path = small_model(&dir);
    let m = hepae::Model::load(&path).unwrap();
    let (d, l, rows) = (m.ae.shape.input, m.ae.shape.latent, 256);
    let x: Vec<f32> = (0..rows * d).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
    let mut jets = x.clone();
    m.meta.normalizer.denormalize_rows(&mut jets);
    let encode = |q: &hepae::Model, isa, batch: usize| {
        let mut e = hepae::Encoder::with_isa(q, batch, isa).unwrap();
        let mut z = vec![0.0f32; rows * l];
        for s in (0..rows).step_by(batch) {
            e.encode(&jets[s * d..(s + batch) * d], batch, &mut z[s * l..(s + batch) * l]).unwrap();
        }
        z
    };
    let close = |a: &[f32], b: &[f32], tol: f32| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol * (1.0 + y.abs()));
    let f32z = encode(&m, hepae_kernels::Isa::Scalar, 1);
    for p in ["bf16", "bf16-act", "f16", "int8", "fixed<16,6>"] {
        let opts = QuantOptions {
            layers: parse_precisions(p).unwrap(),
            granularity: Granularity::PerChannel,
            calib_rows: rows,
        };
        let rec = CalibrationRecord { file: "synthetic".into(), rows };
        let q = quantize_normalized(&m, &path, &opts, &x, rec).unwrap();
        let reference = encode(&q, hepae_kernels::Isa::Scalar, rows);
        assert!(reference.iter().all(|v| v.is_finite()), "{p}");
        if p == "int8" || p == "fixed<16,6>" {
            assert!(!close(&reference, &f32z, 1e-6), "{p}: the quantised latents differ from f32's");
        }
        for isa in hepae_kernels::available_isas() {
            let (one, many) = (encode(&q, isa, 1), encode(&q, isa, rows));
            assert!(close(&one, &many, 1e-4), "{p} {}: batch 1 runs the same quantised path as batch 256", isa.name());
            assert!(close(&many, &reference, 2e-2), "{p} {}: agrees with the scalar set", isa.name());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
