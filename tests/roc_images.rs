//! `hepae roc --both` on jet images (issue 15's benchmark, both directions): a conv-ae and a
//! dense autoencoder on the flattened pixels trained on each of two image samples (a 4-D
//! (N, 1, H, W) file and a 3-D (N, H, W) one), each sample the other's signal; the table and the
//! JSON give both directions for every score; given models are used as they are; an image model
//! given images of another size is refused in one line. Small synthetic images (fast).

use hepae::data::npy::NpyWriter;
use hepae::engine::tensor::Shape;
use rand::{Rng, SeedableRng};
use std::path::Path;

#[path = "support/cli.rs"]
mod cli;
use cli::{fails, ok, s, scratch};

/// `n` synthetic h×w images (synthetic data): one Gaussian blob of width `sigma` near the
/// centre (`narrow`: σ 0.8, one pixel of jitter) or two wider blobs (σ 1.5, 2 pixels apart),
/// at unit total intensity.
fn images(n: usize, h: usize, w: usize, narrow: bool, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut x = vec![0f32; n * h * w];
    for img in x.chunks_exact_mut(h * w) {
        let (cy, cx) = (h as f32 / 2.0 + rng.random_range(-1.0..1.0), w as f32 / 2.0 + rng.random_range(-1.0..1.0));
        let blobs: &[(f32, f32, f32)] = if narrow { &[(0.0, 0.0, 0.8)] } else { &[(-1.0, -1.0, 1.5), (1.0, 1.0, 1.5)] };
        for y in 0..h {
            for xx in 0..w {
                let v: f32 = blobs
                    .iter()
                    .map(|&(dy, dx, s)| {
                        let d2 = (y as f32 - cy - dy).powi(2) + (xx as f32 - cx - dx).powi(2);
                        (-d2 / (2.0 * s * s)).exp()
                    })
                    .sum();
                img[y * w + xx] = v;
            }
        }
        let total: f32 = img.iter().sum();
        img.iter_mut().for_each(|v| *v /= total);
    }
    x
}

/// A 4-D (N, 1, H, W) image NPY.
fn write_4d(path: &Path, h: usize, w: usize, x: &[f32]) {
    let mut wr = NpyWriter::create_images(path, Shape::Image { c: 1, h, w }).unwrap();
    wr.write_rows(x).unwrap();
    wr.finish().unwrap();
}

/// A 3-D (N, H, W) image NPY, written by hand (v1.0 header).
fn write_3d(path: &Path, n: usize, h: usize, w: usize, x: &[f32]) {
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({n}, {h}, {w}), }}");
    let pad = (64 - (10 + dict.len() + 1) % 64) % 64;
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&((dict.len() + pad + 1) as u16).to_le_bytes());
    b.extend_from_slice(dict.as_bytes());
    b.extend(std::iter::repeat_n(b' ', pad));
    b.push(b'\n');
    x.iter().for_each(|v| b.extend_from_slice(&v.to_le_bytes()));
    std::fs::write(path, b).unwrap();
}

/// The JSON's results: (direction, score, AUC, background jets, signal jets).
fn results(json: &Path) -> Vec<(String, String, f64, u64, u64)> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let m = &r["summary"];
            (
                r["direction"].as_str().unwrap().to_string(),
                m["score"].as_str().unwrap().to_string(),
                m["auc"].as_f64().unwrap(),
                m["background_jets"].as_u64().unwrap(),
                m["signal_jets"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn roc_both_trains_an_image_model_on_each_sample_and_reports_both_directions() {
    let dir = scratch("rocimg", "both");
    let (n, h, w) = (80, 8, 8);
    let (a, b) = (dir.join("narrow.npy"), dir.join("wide.npy"));
    write_4d(&a, h, w, &images(n, h, w, true, 1));
    write_3d(&b, n, h, w, &images(n, h, w, false, 2));
    let json = dir.join("roc.json");
    let common =
        ["--epochs", "3", "--batch", "16", "--latent", "4", "--bootstrap", "20", "--score", "mse,mse-norm", "-q"];
    let archs: [&[&str]; 3] = [
        &["--train-model", "conv-ae", "--conv-channels", "2,4"],
        &["--train-model", "conv-ae", "--conv-channels", "2,4", "--activation", "prelu", "--norm", "sqrt"],
        &["--train-model", "ae", "--hidden", "16"],
    ];
    for arch in archs {
        let mut args = vec!["roc", "--both", "--a", s(&a), "--b", s(&b), "--json", s(&json)];
        args.extend(arch.iter().chain(&common));
        let table = ok(&args);
        let r = results(&json);
        assert_eq!(r.len(), 4, "{arch:?}: two directions × two scores: {r:?}");
        // 80 jets: the validation split (15 %: 12) of the training sample is the background.
        let want = [
            ("wide in narrow (trained on narrow)", "mse"),
            ("wide in narrow (trained on narrow)", "mse-norm"),
            ("narrow in wide (trained on wide)", "mse"),
            ("narrow in wide (trained on wide)", "mse-norm"),
        ];
        for ((dirn, score, auc, bkg, sig), (wd, ws)) in r.iter().zip(want) {
            assert_eq!((dirn.as_str(), score.as_str()), (wd, ws), "{arch:?}");
            assert!((0.0..=1.0).contains(auc), "{arch:?}: AUC {auc}");
            assert_eq!((*bkg, *sig), (12, 80), "{arch:?}: validation jets against every signal jet");
            assert!(table.contains(wd), "{arch:?}: the table names {wd}:\n{table}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn roc_both_takes_given_image_models_and_refuses_images_of_another_size() {
    let dir = scratch("rocimg", "given");
    let (n, h, w) = (80, 8, 8);
    let (a, b) = (dir.join("narrow.npy"), dir.join("wide.npy"));
    write_4d(&a, h, w, &images(n, h, w, true, 3));
    write_4d(&b, h, w, &images(n, h, w, false, 4));
    let (ma, mb) = (dir.join("a.safetensors"), dir.join("b.safetensors"));
    for (data, m) in [(&a, &ma), (&b, &mb)] {
        let mut args = vec!["train", s(data), "--model", "conv-ae", "--conv-channels", "2,4", "--latent", "4"];
        args.extend(["--epochs", "1", "--batch", "16", "-q", "-o", s(m)]);
        ok(&args);
    }
    let json = dir.join("roc.json");
    let base = ["roc", "--both", "--a", s(&a), "--b", s(&b), "--bootstrap", "10", "-q"];
    let mut args = base.to_vec();
    args.extend(["--model-a", s(&ma), "--model-b", s(&mb), "--json", s(&json)]);
    ok(&args);
    let r = results(&json);
    assert_eq!(r.len(), 2, "{r:?}");
    // A given model's background is its own validation split of the file it was trained on.
    assert!(r
        .iter()
        .all(|(_, score, auc, bkg, sig)| score == "mse" && (0.0..=1.0).contains(auc) && *bkg == 12 && *sig == 80));

    // 6×6 images for a model of 8×8 ones: one line naming both shapes, no JSON written.
    let small = dir.join("small.npy");
    write_4d(&small, 6, 6, &images(n, 6, 6, true, 5));
    let json2 = dir.join("roc2.json");
    let e = fails(&[
        "roc",
        "--both",
        "--a",
        s(&small),
        "--b",
        s(&b),
        "--model-a",
        s(&ma),
        "--model-b",
        s(&mb),
        "--json",
        s(&json2),
        "-q",
    ]);
    assert!(e.contains("small.npy") && e.contains("1×8×8") && e.contains("1×6×6"), "{e}");
    assert!(!json2.exists(), "nothing written after a failure");
    std::fs::remove_dir_all(&dir).ok();
}

/// An NAE on the conv backbone: `hepae plot` draws the chains' samples beside real jets and the
/// energy curves, and scores the energy.
#[test]
fn plot_of_an_image_nae_draws_chain_samples_beside_real_jets() {
    let dir = scratch("rocimg", "nae");
    let (n, h, w) = (48, 8, 8);
    let data = dir.join("narrow.npy");
    write_4d(&data, h, w, &images(n, h, w, true, 3));
    let model = dir.join("nae.safetensors");
    ok(&[
        "train",
        s(&data),
        "-o",
        s(&model),
        "--model",
        "nae",
        "--backbone",
        "conv",
        "--conv-channels",
        "2,4",
        "--latent",
        "3",
        "--epochs",
        "1",
        "--nae-epochs",
        "1",
        "--batch",
        "16",
        "--nae-z-steps",
        "2",
        "--nae-x-steps",
        "2",
        "--threads",
        "1",
        "-q",
    ]);
    let figs = dir.join("figs");
    let out = ok(&["plot", s(&model), s(&data), "-o", s(&figs), "-q"]);
    for f in ["nae_negatives.png", "nae_energy.png", "image_examples.png"] {
        assert!(figs.join(f).is_file(), "{f} missing; plot said:\n{out}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
