//! The C ABI end to end: trains a small model on real CMS jets, compiles `tests/c/encode.c`
//! with the system `cc` against the static library `libhepae.a`, runs it, and checks its
//! batch-1 latents and reconstructions against the Rust `Encoder`/`Decoder`, for an f32 model
//! and for quantised ones (int8, bf16 encoders).

use hepae::{Dataset, Decoder, Encoder, Model, TrainConfig, Trainer};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `libhepae.a` as built for this test run: `target/<profile>/deps/` (where the test binary
/// lives; `cargo test` does not copy it up), else `target/<profile>/` (`cargo build`).
fn static_lib() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("deps dir");
    let profile_dir = deps.parent().expect("profile dir");
    for dir in [deps, profile_dir] {
        let p = dir.join("libhepae.a");
        if p.exists() {
            return p;
        }
    }
    panic!("libhepae.a not found beside {} (the [lib] crate-type must include staticlib)", deps.display());
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn read_f32(p: &Path) -> Vec<f32> {
    std::fs::read(p).unwrap().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// A model trained on real jets: 188 Drell-Yan jets × 37 NanoAOD variables.
fn trained_model(dir: &Path) -> (Dataset, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = Dataset::open(&root.join("tests/data/dy_nano_v6.npy")).unwrap();
    let cfg =
        TrainConfig { hidden: vec![32, 16], latent: 6, epochs: Some(5), batch: Some(32), ..TrainConfig::default() };
    let model = Trainer::new(cfg).fit(&data).unwrap();
    let model_path = dir.join("ae.safetensors");
    model.save(&model_path).unwrap();
    (data, model_path)
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hepae-c-abi-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn c_program_matches_the_rust_encoder() {
    let dir = scratch_dir("f32");
    let (data, model_path) = trained_model(&dir);
    c_program_matches_rust(&dir, &data, &model_path);
    std::fs::remove_dir_all(&dir).ok();
}

/// The same C program on quantised models (int8 and bf16 encoders): the handle runs the
/// quantised encoder, bit for bit as the Rust `Encoder` does, and not the f32 one.
#[test]
fn c_program_runs_a_quantised_model() {
    use hepae::infer::quantized::{parse_precisions, quantize, Granularity, QuantOptions};
    let dir = scratch_dir("quant");
    let (data, f32_path) = trained_model(&dir);
    let f32_model = Model::load(&f32_path).unwrap();
    for p in ["int8", "bf16"] {
        let opts = QuantOptions {
            layers: parse_precisions(p).unwrap(),
            granularity: Granularity::PerChannel,
            calib_rows: 10_000,
        };
        let q = quantize(&f32_model, &f32_path, &opts, &data).unwrap();
        let q_path = dir.join(format!("{p}.safetensors"));
        q.save(&q_path).unwrap();
        let z_c = c_program_matches_rust(&dir, &data, &q_path);
        let mut z32 = vec![0f32; z_c.len()];
        Encoder::new(&f32_model, 1).encode(data.as_slice(), data.rows(), &mut z32).unwrap();
        assert_ne!(z_c, z32, "{p}: the C handle gave the f32 model's latents");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Compiles `tests/c/encode.c` against `libhepae.a`, runs it on every row of `data` with the
/// model at `model_path`, and checks its latents (batch 1) and reconstructions (one batch)
/// against the Rust `Encoder`/`Decoder` bit for bit. Returns the C latents.
fn c_program_matches_rust(dir: &Path, data: &Dataset, model_path: &Path) -> Vec<f32> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = Model::load(model_path).unwrap();
    let rows = data.rows();
    let (d, l) = (data.cols(), model.ae.shape.latent);
    let input = dir.join("in.f32");
    std::fs::write(&input, f32_bytes(data.as_slice())).unwrap();

    let exe = dir.join("encode");
    let lib = static_lib();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .arg("-std=c99")
        .arg("-Wall")
        .arg("-Werror")
        .arg("-I")
        .arg(root.join("include"))
        .arg(root.join("tests/c/encode.c"))
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler '{cc}': {e}"));
    assert!(out.status.success(), "cc failed:\n{}", String::from_utf8_lossy(&out.stderr));

    let (zp, rp) = (dir.join("z.f32"), dir.join("rec.f32"));
    let run = Command::new(&exe).arg(model_path).arg(&input).arg(rows.to_string()).arg(&zp).arg(&rp).output().unwrap();
    assert!(
        run.status.success(),
        "C program failed:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let (z_c, rec_c) = (read_f32(&zp), read_f32(&rp));
    assert_eq!(z_c.len(), rows * l);

    // The same batch-1 path in Rust: identical bits.
    let mut enc = Encoder::new(&model, 1);
    let mut z = vec![0f32; rows * l];
    for r in 0..rows {
        enc.encode(data.row(r), 1, &mut z[r * l..(r + 1) * l]).unwrap();
    }
    let first_diff = |a: &[f32], b: &[f32]| a.iter().zip(b).position(|(x, y)| x.to_bits() != y.to_bits());
    assert_eq!(first_diff(&z_c, &z), None, "C latents differ from the Rust Encoder's (first differing value index)");
    // The C program decodes all rows in one call: the handle's batch path (blocked GEMM).
    let mut dec = Decoder::new(&model, 1024);
    let mut rec = vec![0f32; rows * d];
    dec.decode(&z, rows, &mut rec);
    assert_eq!(rec_c.len(), rec.len());
    assert_eq!(
        first_diff(&rec_c, &rec),
        None,
        "C reconstructions differ from the Rust Decoder's (first differing value index)"
    );
    z_c
}
