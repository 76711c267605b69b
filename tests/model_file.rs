//! Model files as specifications: they check themselves (a flipped bit is refused, naming the
//! file), their metadata must agree with their tensors, a broken normaliser blames the model,
//! a model whose outputs overflow writes nothing, the identity an archive depends on survives
//! `hepae threshold`, and a model's training data is recognised by content, not by name.
//!
//! Files are edited through [`ModelFile`], which reads and writes the safetensors layout
//! directly, so each case is the file a user could have on disk.

use hepae::data::normalize::Normalizer;
use hepae::data::npy::Dataset;
use hepae::model_io::{file_checksum, SavedModel, CHECKSUM_KEY};
use hepae::models::ae::{AeShape, Autoencoder, ModelKind, OutputActivation};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dy_nano_v6.npy");

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hepae-modelfile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn hepae(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hepae")).args(args).output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The sorted names in `dir`.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// A 37 → 8 → 3 → 8 → 37 autoencoder over the test jets' columns, identity normaliser.
fn base_model() -> SavedModel {
    let data = Dataset::open(DATA.as_ref()).unwrap();
    let columns = data.columns().to_vec();
    let mut ae = Autoencoder::new(AeShape::standard(columns.len(), vec![8], 3, 0.01, OutputActivation::Linear));
    ae.init(7);
    SavedModel::new(ModelKind::Ae, ae, columns.clone(), Normalizer::identity(&columns))
}

/// A model file taken apart: metadata JSON and tensors (name, shape, little-endian bytes).
struct ModelFile {
    meta: Value,
    tensors: Vec<(String, Vec<usize>, Vec<u8>)>,
    checksum: Option<String>,
}

impl ModelFile {
    fn decode(bytes: &[u8]) -> Self {
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        let data = &bytes[8 + n..];
        let md = &header["__metadata__"];
        let meta = serde_json::from_str(md["hepae"].as_str().unwrap()).unwrap();
        let checksum = md.get(CHECKSUM_KEY).map(|v| v.as_str().unwrap().to_string());
        let mut tensors: Vec<_> = header
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k != "__metadata__")
            .map(|(k, v)| {
                let shape = v["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
                let (a, b) = (v["data_offsets"][0].as_u64().unwrap() as usize, v["data_offsets"][1].as_u64().unwrap());
                (k.clone(), shape, data[a..b as usize].to_vec())
            })
            .collect();
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        ModelFile { meta, tensors, checksum }
    }

    /// The file again; with `checksum`, a correct one for the (edited) contents.
    fn encode(&self, checksum: bool) -> Vec<u8> {
        let meta_json = self.meta.to_string();
        let mut md = serde_json::Map::new();
        md.insert("hepae".into(), Value::String(meta_json.clone()));
        if checksum {
            let sum = file_checksum(
                &meta_json,
                self.tensors.iter().map(|(n, sh, b)| (n.as_str(), "F32", sh.as_slice(), b.as_slice())),
            );
            md.insert(CHECKSUM_KEY.into(), Value::String(sum));
        }
        let mut header = serde_json::Map::new();
        header.insert("__metadata__".into(), Value::Object(md));
        let mut offset = 0;
        for (n, sh, b) in &self.tensors {
            header.insert(n.clone(), json!({"dtype": "F32", "shape": sh, "data_offsets": [offset, offset + b.len()]}));
            offset += b.len();
        }
        let mut h = Value::Object(header).to_string();
        while !h.len().is_multiple_of(8) {
            h.push(' ');
        }
        let mut out = (h.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(h.as_bytes());
        for (_, _, b) in &self.tensors {
            out.extend_from_slice(b);
        }
        out
    }

    fn tensor(&mut self, name: &str) -> &mut (String, Vec<usize>, Vec<u8>) {
        self.tensors.iter_mut().find(|t| t.0 == name).unwrap()
    }
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Writes `bytes` as `name` in `dir`, loads it, and returns the one-line error, which must name
/// the file.
fn load_error(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let err = SavedModel::load(&path).expect_err("the file must be refused").to_string();
    assert!(err.contains(s(&path)) && !err.contains('\n'), "one line naming the file: {err}");
    err
}

#[test]
fn a_flipped_weight_bit_is_refused_naming_the_file() {
    let dir = tmpdir("flip");
    let model = base_model();
    let good = model.to_bytes().unwrap();
    assert!(ModelFile::decode(&good).checksum.is_some(), "files are written with a checksum");
    assert_eq!(SavedModel::from_bytes(&good, "m".as_ref()).unwrap(), model, "a checksummed file loads");
    // The lowest mantissa bit of the last weight: a change no other check could see.
    let mut bad = good.clone();
    let at = bad.len() - 4;
    bad[at] ^= 1;
    let err = load_error(&dir, "flipped.safetensors", &bad);
    assert!(err.contains("checksum mismatch"), "{err}");
    // A changed digit in the metadata (the normaliser's shift) is caught the same way.
    let key = br#"\"shift\":0.0"#;
    let at = good.windows(key.len()).position(|w| w == key).expect("the metadata holds the normaliser");
    let mut edited = good.clone();
    edited[at + key.len() - 3] = b'1';
    let err = load_error(&dir, "edited.safetensors", &edited);
    assert!(err.contains("checksum mismatch"), "{err}");

    // Through the CLI: exit 1, one line naming the model, no output, inputs untouched.
    let m = dir.join("flipped.safetensors");
    let out_path = dir.join("out.npy");
    let before = listing(&dir);
    let data_bytes = std::fs::read(DATA).unwrap();
    for cmd in ["reconstruct", "score"] {
        let out = hepae(&[cmd, s(&m), DATA, "-o", s(&out_path)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {err}");
        assert!(err.contains("flipped.safetensors") && err.contains("checksum") && err.lines().count() == 1, "{err}");
    }
    assert_eq!(std::fs::read(&m).unwrap(), bad, "the model is left as it was");
    assert_eq!(std::fs::read(DATA).unwrap(), data_bytes, "the data is left as it was");
    assert_eq!(listing(&dir), before, "no output and no stray file");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn files_without_a_checksum_still_load() {
    let model = base_model();
    let mut f = ModelFile::decode(&model.to_bytes().unwrap());
    f.checksum = None;
    let old = f.encode(false);
    assert!(!String::from_utf8_lossy(&old).contains(CHECKSUM_KEY));
    assert_eq!(SavedModel::from_bytes(&old, "old.safetensors".as_ref()).unwrap(), model);
    // The test's own writer gives files the reader accepts, so the cases below change only
    // what they say they change.
    assert_eq!(SavedModel::from_bytes(&f.encode(true), "new.safetensors".as_ref()).unwrap(), model);
}

#[test]
fn metadata_that_contradicts_the_tensors_is_refused() {
    let dir = tmpdir("contradict");
    let good = ModelFile::decode(&base_model().to_bytes().unwrap());
    // Every case carries a correct checksum: the contradiction itself must be caught.
    let case = |name: &str, edit: &dyn Fn(&mut ModelFile), want: &[&str]| {
        let mut f = ModelFile::decode(&good.encode(true));
        edit(&mut f);
        let err = load_error(&dir, &format!("{name}.safetensors"), &f.encode(true));
        for w in want {
            assert!(err.contains(w), "{name}: expected '{w}' in: {err}");
        }
    };
    case("vae-kind", &|f| f.meta["kind"] = json!("vae"), &["kind vae", "variational"]);
    // Kind and shape both say VAE, but the stored net specs are a plain AE's.
    case(
        "vae-specs",
        &|f| {
            f.meta["kind"] = json!("vae");
            f.meta["shape"]["variational"] = json!(true);
        },
        &["net specs", "encoder 37 → 3", "encoder 37 → 6"],
    );
    // A format-1 file (no net specs) whose kind and shape say VAE, but whose weights are a plain
    // AE's (μ without log σ²).
    case(
        "vae-weights",
        &|f| {
            f.meta["kind"] = json!("vae");
            f.meta["shape"]["variational"] = json!(true);
            f.meta["format_version"] = json!(1);
            f.meta.as_object_mut().unwrap().remove("nets");
        },
        &["tensor encoder.2.weight", "shape [3, 8]", "expected [6, 8]"],
    );
    case("aae-kind", &|f| f.meta["kind"] = json!("aae"), &["kind aae", "discriminator"]);
    case("pca-kind", &|f| f.meta["kind"] = json!("pca"), &["kind pca", "hidden layers"]);
    case(
        "transposed",
        &|f| {
            f.tensor("encoder.0.weight").1 = vec![37, 8];
        },
        &["tensor encoder.0.weight", "[37, 8]", "expected [8, 37]"],
    );
    case("missing", &|f| f.tensors.retain(|t| t.0 != "decoder.0.bias"), &["tensor decoder.0.bias is missing"]);
    case(
        "extra",
        &|f| {
            f.tensors.push(("encoder.4.weight".into(), vec![2, 3], f32s(&[0.0; 6])));
            f.tensors.sort_by(|a, b| a.0.cmp(&b.0));
        },
        &["tensor encoder.4.weight is not part of"],
    );
    case(
        "layers",
        &|f| f.meta["layer_dims"] = json!([37, 8, 4, 8, 37]),
        &["layers [37, 8, 4, 8, 37]", "[37, 8, 3, 8, 37]"],
    );
    case(
        "columns",
        &|f| {
            f.meta["columns"].as_array_mut().unwrap().pop();
        },
        &["36 columns", "input width is 37"],
    );
    case(
        "infinite-weight",
        &|f| f.tensor("decoder.2.weight").2[..4].copy_from_slice(&f32::INFINITY.to_le_bytes()),
        &["tensor decoder.2.weight contains NaN or Inf"],
    );
    case(
        "normaliser-length",
        &|f| {
            f.meta["normalizer"]["transforms"].as_array_mut().unwrap().pop();
            f.meta["normalizer"]["columns"].as_array_mut().unwrap().pop();
        },
        &["normaliser has 36 transforms", "37 columns"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_normaliser_with_scale_zero_blames_the_model() {
    let dir = tmpdir("scale0");
    let mut f = ModelFile::decode(&base_model().to_bytes().unwrap());
    f.meta["normalizer"]["transforms"][2]["scale"] = json!(0.0);
    let err = load_error(&dir, "scale0.safetensors", &f.encode(true));
    assert!(err.contains("normaliser") && err.contains("column phi") && err.contains("scale: 0.0"), "{err}");
    // A shift beyond f32 (read as ∞) is refused the same way.
    let mut f = ModelFile::decode(&base_model().to_bytes().unwrap());
    f.meta["normalizer"]["transforms"][0]["shift"] = json!(1e39);
    let err = load_error(&dir, "shift-inf.safetensors", &f.encode(true));
    assert!(err.contains("normaliser") && err.contains("column pt") && err.contains("inf"), "{err}");
    // The CLI names the model, not the data, and writes nothing.
    let m = dir.join("scale0.safetensors");
    let before = listing(&dir);
    let out = hepae(&["evaluate", s(&m), DATA, "--json", s(&dir.join("e.json"))]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with(&format!("error: {}: model:", m.display())) && !err.contains("dy_nano_v6"), "{err}");
    assert_eq!(listing(&dir), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_model_whose_outputs_overflow_writes_nothing() {
    let dir = tmpdir("inf");
    let data = Dataset::open(DATA.as_ref()).unwrap();
    let pt: Vec<f32> = (0..data.rows()).map(|r| data.row(r)[0]).collect();
    let mut sorted = pt.clone();
    sorted.sort_by(f32::total_cmp);
    // Only pT reaches the output, multiplied by `gain`: jets above the median pT overflow f32.
    let gain = f32::MAX / sorted[sorted.len() / 2];
    let mut f = ModelFile::decode(&base_model().to_bytes().unwrap());
    for (name, _, bytes) in f.tensors.iter_mut() {
        let mut v = vec![0.0f32; bytes.len() / 4];
        if name.ends_with("weight") {
            v[0] = if name == "encoder.0.weight" { gain } else { 1.0 };
        }
        *bytes = f32s(&v);
    }
    let m = dir.join("huge.safetensors");
    std::fs::write(&m, f.encode(true)).unwrap();
    let overflowing: Vec<usize> = (0..pt.len()).filter(|&r| !(pt[r] * gain).is_finite()).collect();
    assert!(!overflowing.is_empty() && overflowing.len() < pt.len(), "some jets overflow, not all");
    // An overflowing row poisons every output column (0·∞ = NaN in the next layers).
    let first = format!("dy_nano_v6.npy, row {}, column pt", overflowing[0] + 1);
    let count = format!("({} non-finite values in all", overflowing.len() * data.cols());

    let data_bytes = std::fs::read(DATA).unwrap();
    let model_bytes = std::fs::read(&m).unwrap();
    let before = listing(&dir);
    let (r_npy, r_csv, e_json, s_npy) = (dir.join("r.npy"), dir.join("r.csv"), dir.join("e.json"), dir.join("s.npy"));
    let runs: [(&str, Vec<&str>, bool); 6] = [
        ("reconstruct", vec![s(&m), DATA, "-o", s(&r_npy)], true),
        ("reconstruct", vec![s(&m), DATA, "-o", s(&r_csv)], true),
        ("evaluate", vec![s(&m), DATA, "--json", s(&e_json)], true),
        ("score", vec![s(&m), DATA, "-o", s(&s_npy)], false),
        // threshold would rewrite the model, roc would print figures: neither happens.
        ("threshold", vec![s(&m), DATA, "--fpr", "0.1"], false),
        ("roc", vec![s(&m), "--background", DATA, "--signal", DATA], false),
    ];
    for (cmd, extra, exact) in &runs {
        let out = hepae(&[&[*cmd][..], extra].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {err}");
        assert!(err.contains("is not finite") && err.contains("nothing was written"), "{cmd}: {err}");
        assert_eq!(err.lines().count(), 1, "{cmd}: {err}");
        if *exact {
            assert!(err.contains(&first) && err.contains(&count), "{cmd}: want {first} {count}: {err}");
        } else {
            // The MSE of even the finite reconstructions overflows f32: the first row is bad.
            assert!(err.contains("dy_nano_v6.npy, row 1, column score_mse"), "{err}");
        }
        assert!(out.stdout.is_empty(), "{cmd} printed no figures");
    }
    assert_eq!(listing(&dir), before, "no output, no .columns, no temporary file");
    assert_eq!(std::fs::read(DATA).unwrap(), data_bytes);
    assert_eq!(std::fs::read(&m).unwrap(), model_bytes);
    // The library says the same.
    let model = SavedModel::load(&m).unwrap();
    let err = hepae::analysis::metrics::evaluate(&model, &data, None, "all rows").unwrap_err().to_string();
    assert!(err.contains(&first) && err.contains(&count), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Trains a small model on a copy of the test jets in `dir`; returns (model, data) paths.
fn trained(dir: &Path) -> (PathBuf, PathBuf) {
    let data = dir.join("jets.npy");
    std::fs::copy(DATA, &data).unwrap();
    std::fs::copy(hepae::data::npy::columns_path(DATA.as_ref()), hepae::data::npy::columns_path(&data)).unwrap();
    let model = dir.join("m.safetensors");
    let out = hepae(&[
        "train",
        s(&data),
        "-o",
        s(&model),
        "--hidden",
        "8",
        "--latent",
        "3",
        "--epochs",
        "2",
        "--batch",
        "32",
        "--threads",
        "1",
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (model, data)
}

#[test]
fn the_identity_an_archive_depends_on_survives_threshold() {
    let dir = tmpdir("identity");
    let (m, data) = trained(&dir);
    let before = SavedModel::load(&m).unwrap();
    let id = before.identity_sha256();
    assert_eq!(id.len(), 64);
    assert_eq!(SavedModel::from_bytes(&before.to_bytes().unwrap(), &m).unwrap().identity_sha256(), id, "save/load");
    let bytes_before = std::fs::read(&m).unwrap();
    let out = hepae(&["threshold", s(&m), s(&data), "--fpr", "0.1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let after = SavedModel::load(&m).unwrap();
    assert!(after.meta.threshold.is_some() && std::fs::read(&m).unwrap() != bytes_before, "threshold stored");
    assert_eq!(after.identity_sha256(), id, "the threshold is not part of the identity");
    // Without the training record it is the same model, too.
    let mut bare = after.clone();
    bare.meta.training = None;
    assert_eq!(bare.identity_sha256(), id);
    // What the model computes is: one weight, or the normaliser, changes it.
    let mut w = after.clone();
    w.ae.params.data[0] += 1e-6;
    assert_ne!(w.identity_sha256(), id);
    let mut n = after.clone();
    n.meta.normalizer.columns[0] = "renamed".into();
    assert_ne!(n.identity_sha256(), id);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The first line of `hepae evaluate`: "DATA (SUBSET, N rows)".
fn evaluated_on(model: &Path, data: &Path) -> String {
    let out = hepae(&["evaluate", s(model), s(data)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().next().unwrap().to_string()
}

#[test]
fn the_training_data_is_recognised_by_content_not_by_name() {
    let dir = tmpdir("fingerprint");
    let (m, data) = trained(&dir);
    let model = SavedModel::load(&m).unwrap();
    let t = model.meta.training.as_ref().unwrap();
    assert_eq!(t.val_rows, 28);
    assert!(evaluated_on(&m, &data).ends_with("(validation split, 28 rows)"));
    // A renamed copy is the training data.
    let renamed = dir.join("renamed.npy");
    std::fs::copy(&data, &renamed).unwrap();
    std::fs::copy(hepae::data::npy::columns_path(&data), hepae::data::npy::columns_path(&renamed)).unwrap();
    assert!(t.data.matches(&Dataset::open(&renamed).unwrap()));
    assert!(evaluated_on(&m, &renamed).ends_with("(validation split, 28 rows)"));
    // Another file of the same name is not, even when it differs only in its last row (which
    // the older 64-row sample hash never read).
    let other_dir = dir.join("other");
    std::fs::create_dir_all(&other_dir).unwrap();
    let other = other_dir.join("jets.npy");
    let mut bytes = std::fs::read(&data).unwrap();
    let n = bytes.len();
    bytes[n - 4..].copy_from_slice(&12.5f32.to_le_bytes());
    assert_ne!(bytes, std::fs::read(&data).unwrap());
    std::fs::write(&other, &bytes).unwrap();
    std::fs::copy(hepae::data::npy::columns_path(&data), hepae::data::npy::columns_path(&other)).unwrap();
    let other_ds = Dataset::open(&other).unwrap();
    assert!(!t.data.matches(&other_ds));
    assert_eq!(hepae::model_io::DataFingerprint::of(&other_ds).sample_hash, t.data.sample_hash, "old hash is blind");
    assert!(evaluated_on(&m, &other).ends_with("(all rows, 188 rows)"));
    let out = hepae(&["evaluate", s(&m), s(&other), "--subset", "val"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code() == Some(1) && err.contains("is not it"), "{err}");
    // A model written before the content hash falls back to the sampled rows, name ignored.
    let mut old = model.clone();
    old.meta.training.as_mut().unwrap().data.content_sha256 = None;
    assert!(old.meta.training.as_ref().unwrap().data.matches(&Dataset::open(&renamed).unwrap()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_large_file_is_fingerprinted_from_spread_chunks_and_its_exact_size() {
    use hepae::model_io::{DataFingerprint, CONTENT_SAMPLE_BYTES};
    let dir = tmpdir("large");
    let (rows, cols) = (40_000usize, 37usize);
    assert!(rows * cols * 4 > CONTENT_SAMPLE_BYTES, "large enough to be sampled");
    let values: Vec<f32> = (0..rows * cols).map(|i| (i % 1009) as f32 * 0.5).collect();
    let write = |name: &str, v: &[f32], r: usize| {
        let p = dir.join(name);
        hepae::data::npy::write_npy(&p, cols, &v[..r * cols], None).unwrap();
        Dataset::open(&p).unwrap()
    };
    let fp = DataFingerprint::of(&write("a.npy", &values, rows));
    assert!(fp.matches(&write("copy.npy", &values, rows)), "a copy under another name");
    let mut last = values.clone();
    *last.last_mut().unwrap() += 1.0;
    assert!(!fp.matches(&write("last.npy", &last, rows)), "the last value is read");
    let mut first = values.clone();
    first[0] += 1.0;
    assert!(!fp.matches(&write("first.npy", &first, rows)), "the first value is read");
    assert!(!fp.matches(&write("short.npy", &values, rows - 1)), "one row fewer");
    // Between two chunks a change is not seen: the price of reading 4 MiB of any file.
    let step = (rows * cols * 4 - 16 * 1024) / 255;
    assert!(step > 16 * 1024 + 128, "the 256 chunks of 16 KiB leave gaps");
    let mut gap = values.clone();
    gap[(step + 16 * 1024 + 64) / 4] += 1.0;
    assert!(fp.matches(&write("gap.npy", &gap, rows)));
    std::fs::remove_dir_all(&dir).unwrap();
}
