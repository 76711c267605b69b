//! Model files written by hepae before the engine redesign (format_version 1, no net spec:
//! tests/data/v1/, made by the commands in tests/data/v1/README.md) still load and give the
//! recorded outputs bit for bit, and the engine trains the same weights from the same
//! configuration (seed, threads, parallel mode) as the engine that wrote them.

use hepae::data::npy::Dataset;
use hepae::{Decoder, Encoder, Model, Trainer};
use std::path::{Path, PathBuf};

const MODELS: [&str; 9] =
    ["ae-t1", "ae-gemm-t2", "vae-t2", "sparse-l1-t1", "sparse-kl-t2", "aae-t2", "denoising-t2", "pca-t1", "aepca-t2"];

fn v1(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1").join(name)
}

fn floats(path: &Path) -> Vec<f32> {
    Dataset::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).as_slice().to_vec()
}

/// Bit-for-bit equality, naming the first differing element.
fn same_bits(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    if let Some(i) = (0..got.len()).find(|&i| got[i].to_bits() != want[i].to_bits()) {
        panic!("{what}[{i}]: {} now, {} recorded", got[i], want[i]);
    }
}

#[test]
fn v1_models_reconstruct_the_recorded_rows_bit_for_bit() {
    let dir = std::env::temp_dir().join(format!("hepae-v1-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in MODELS {
        let model = v1(&format!("{name}.safetensors"));
        let out = dir.join(format!("{name}.npy"));
        hepae::cli::reconstruct::reconstruct_file(&model, &v1("rows.npy"), &out).unwrap();
        same_bits(&floats(&out), &floats(&v1(&format!("{name}.recon.npy"))), name);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn v1_models_encode_and_decode_the_recorded_latents_bit_for_bit() {
    let rows = Dataset::open(&v1("rows.npy")).unwrap();
    let n = rows.rows();
    for name in MODELS {
        let model = Model::load(&v1(&format!("{name}.safetensors"))).unwrap();
        let want_z = floats(&v1(&format!("{name}.latent.npy")));
        let want_x = floats(&v1(&format!("{name}.decoded.npy")));
        // Batch 1 (the trigger's small-batch path) and one batch of every row (the GEMM path).
        for max_batch in [1, 64] {
            let mut enc = Encoder::new(&model, max_batch);
            let mut z = vec![0.0f32; n * enc.latent_dim()];
            enc.encode(rows.as_slice(), n, &mut z).unwrap();
            same_bits(
                &z,
                &want_z[(max_batch > 1) as usize * z.len()..][..z.len()],
                &format!("{name} latent batch {max_batch}"),
            );
            let mut dec = Decoder::new(&model, max_batch);
            let mut x = vec![0.0f32; n * dec.output_dim()];
            dec.decode(&z, n, &mut x);
            same_bits(
                &x,
                &want_x[(max_batch > 1) as usize * x.len()..][..x.len()],
                &format!("{name} decoded batch {max_batch}"),
            );
        }
    }
}

#[test]
fn the_engine_trains_the_v1_weights_bit_for_bit_from_their_configuration() {
    let data = Dataset::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/dy_nano_v6.npy")).unwrap();
    for name in MODELS {
        let old = Model::load(&v1(&format!("{name}.safetensors"))).unwrap();
        let config = old.meta.training.as_ref().expect("trained by hepae train").config.clone();
        let new = Trainer::new(config).fit(&data).unwrap();
        same_bits(&new.ae.params.data, &old.ae.params.data, &format!("{name} weights"));
    }
}

#[test]
fn new_model_files_store_the_net_specs_and_refuse_specs_that_contradict_the_shape() {
    let data = Dataset::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/dy_nano_v6.npy")).unwrap();
    let cfg = hepae::TrainConfig { hidden: vec![8], latent: 3, epochs: Some(1), batch: Some(64), ..Default::default() };
    let model = Trainer::new(cfg).fit(&data).unwrap();
    let here = Path::new("new.safetensors");
    let back = Model::from_bytes(&model.to_bytes().unwrap(), here).unwrap();
    assert_eq!(back.meta.format_version, hepae::model_io::FORMAT_VERSION);
    let nets = back.meta.nets.as_ref().expect("the file stores the net specs");
    assert_eq!(nets, &model.ae.net_specs());
    assert_eq!(nets.encoder.ops.len(), 2, "37 → 8 → 3");
    assert_eq!(back.ae, model.ae);
    // A v1 file has no specs; its nets come from the shape.
    assert!(Model::load(&v1("ae-t1.safetensors")).unwrap().meta.nets.is_none());
    // An encoder spec whose code is wider than the stored latent width is refused.
    let mut bad = model.clone();
    if let Some(hepae::nn::op::OpSpec::Dense(last)) = bad.meta.nets.as_mut().unwrap().encoder.ops.last_mut() {
        last.out = 4;
    }
    let err = Model::from_bytes(&bad.to_bytes().unwrap(), here).unwrap_err().to_string();
    assert!(
        err.contains("new.safetensors") && err.contains("net specs (encoder 37 → 4") && err.contains("disagree"),
        "{err}"
    );
}
