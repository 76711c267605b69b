//! Jet images end to end through the `hepae` binary: constituents → images against the
//! generator's reference images (particle level, generated: `tests/data/README.md`), 3-D and 4-D
//! NPY as datasets, the dense autoencoder on flattened images through train, evaluate, score and
//! roc, and the bad inputs that must fail with one line and write nothing.

use std::path::{Path, PathBuf};

#[path = "support/cli.rs"]
mod cli;
use cli::{fails, hepae, ok, s};

fn tmpdir(name: &str) -> PathBuf {
    cli::scratch("images", name)
}

fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Files in `dir` (names), sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// Writes a little-endian `<f4` NPY of any shape (for inputs the tool must refuse).
fn write_f4(path: &Path, shape: &[usize], values: &[f32]) {
    let dims: String = shape.iter().map(|d| format!("{d}, ")).collect();
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}");
    let mut h = b"\x93NUMPY\x01\x00".to_vec();
    let pad = (64 - (10 + dict.len() + 1) % 64) % 64;
    let hl = dict.len() + pad + 1;
    h.extend_from_slice(&(hl as u16).to_le_bytes());
    h.extend_from_slice(dict.as_bytes());
    h.extend(std::iter::repeat_n(b' ', pad));
    h.push(b'\n');
    for v in values {
        h.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, h).unwrap();
}

/// Images from the 20 first top and QCD jets' constituents (stored float32) agree with the
/// generator's float64 images to within 2 float32 ulps pixel by pixel, with the same pixels lit:
/// centring, rotation, flips, binning and orientation (row 0 = top) are the generator's.
#[test]
fn constituents_become_the_reference_images() {
    let dir = tmpdir("reference");
    for class in ["top", "qcd"] {
        let out = dir.join(format!("{class}.npy"));
        let msg = ok(&["import", &data(&format!("{class}_constituents_20.npy")), "--images", "-o", s(&out), "-q"]);
        assert!(msg.contains("20 jets") && msg.contains("1×40×40"), "{msg}");
        let got = hepae::Dataset::open(&out).unwrap();
        let want = hepae::Dataset::open(Path::new(&data(&format!("{class}_images_ref_20.npy")))).unwrap();
        assert_eq!(got.shape(), hepae::engine::tensor::Shape::Image { c: 1, h: 40, w: 40 });
        assert_eq!(want.shape(), got.shape(), "a 3-D (N, H, W) file is a 1-channel image dataset");
        assert_eq!(got.rows(), 20);
        let (mut equal, mut max_ulp) = (0usize, 0i64);
        for (a, b) in got.as_slice().iter().zip(want.as_slice()) {
            assert_eq!(*a == 0.0, *b == 0.0, "{class}: the same pixels are lit");
            max_ulp = max_ulp.max((a.to_bits() as i64 - b.to_bits() as i64).abs());
            equal += (a == b) as usize;
        }
        assert!(max_ulp <= 2, "{class}: {max_ulp} ulps");
        assert!(equal as f64 > 0.98 * got.as_slice().len() as f64, "{class}: {equal} pixels equal");
        for r in 0..20 {
            let sum: f64 = got.row(r).iter().map(|&v| v as f64).sum();
            assert!((sum - 1.0).abs() < 1e-5, "unit intensity: jet {r} sums to {sum}");
        }
    }
    // GeV intensity: each image sums to the scalar pT sum of the constituents inside the window
    // (most of the jet: at least 90 % here, never more than all of it).
    let gev = dir.join("gev.npy");
    ok(&[
        "import",
        &data("top_constituents_20.npy"),
        "--images",
        "--intensity",
        "gev",
        "--image-size",
        "20",
        "-o",
        s(&gev),
        "-q",
    ]);
    let g = hepae::Dataset::open(&gev).unwrap();
    assert_eq!(g.shape(), hepae::engine::tensor::Shape::Image { c: 1, h: 20, w: 20 });
    let c = hepae::Dataset::open(Path::new(&data("top_constituents_20.npy"))).unwrap();
    for r in 0..20 {
        let sum: f64 = g.row(r).iter().map(|&v| v as f64).sum();
        let all: f64 = c.row(r).iter().step_by(4).map(|&v| v as f64).sum();
        assert!(sum <= all * (1.0 + 1e-6) && sum >= 0.9 * all, "jet {r}: {sum} of {all} GeV");
    }
    // --centre leading-subjet: top jets have two or three prongs and their centroid lies between
    // them; centred on the hardest anti-kT R = 0.2 subjet, the central 2×2 pixels hold more pT.
    let sub = dir.join("sub.npy");
    let cen = dir.join("top.npy");
    ok(&["import", &data("top_constituents_20.npy"), "--images", "--centre", "leading-subjet", "-o", s(&sub), "-q"]);
    let (sub, cen) = (hepae::Dataset::open(&sub).unwrap(), hepae::Dataset::open(&cen).unwrap());
    let central = |d: &hepae::Dataset| -> f64 {
        (0..20)
            .map(|r| {
                [19 * 40 + 19, 19 * 40 + 20, 20 * 40 + 19, 20 * 40 + 20]
                    .iter()
                    .map(|&i| d.row(r)[i] as f64)
                    .sum::<f64>()
            })
            .sum()
    };
    let (at_sub, at_cen) = (central(&sub), central(&cen));
    assert!(at_sub > at_cen, "central pT: leading subjet {at_sub} vs centroid {at_cen} (20 jets, unit intensity)");
    for r in 0..20 {
        let sum: f64 = sub.row(r).iter().map(|&v| v as f64).sum();
        assert!((sum - 1.0).abs() < 1e-5, "unit intensity: jet {r} sums to {sum}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// NanoAOD PF candidates → one image per FatJet. The real v15 file (2.9 MB, not copied into
/// tests/data) is read from the project's shared data when it is there: 62 images of unit
/// intensity (2 of its 64 FatJets have no linked candidate and are skipped, with a note). A file
/// without PF candidates (tests/data/nano_dy.root, NanoAOD v6) is refused naming the branch.
#[cfg(feature = "root")]
#[test]
fn nanoaod_pf_candidates_become_fatjet_images() {
    let dir = tmpdir("root");
    let out = dir.join("fat.npy");
    let e = fails(&["import", &data("nano_dy.root"), "--images", "-o", s(&out)]);
    assert!(e.contains("nano_dy.root") && e.contains("Events/PFCand_pt") && e.contains("no such branch"), "{e}");
    let e = fails(&["import", &data("nano_dy.root"), "--images", "--pf", "PFCands", "-o", s(&out)]);
    assert!(e.contains("PFCands_pt"), "{e}");
    assert!(!out.exists());
    let v15 = Path::new("/work/shared/data/nano_tt_v15.root");
    if v15.exists() {
        let o = hepae(&["import", s(v15), "--images", "-o", s(&out), "-q"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stderr).contains("2 jets without linked PFCand candidates were skipped"));
        let d = hepae::Dataset::open(&out).unwrap();
        assert_eq!((d.rows(), d.shape()), (62, hepae::engine::tensor::Shape::Image { c: 1, h: 40, w: 40 }));
        for r in 0..d.rows() {
            let sum: f64 = d.row(r).iter().map(|&v| v as f64).sum();
            assert!((sum - 1.0).abs() < 1e-5, "FatJet image {r} sums to {sum}");
        }
    } else {
        eprintln!("note: {} absent: only the refusal was checked", v15.display());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The dense autoencoder trains on flattened images; evaluate, score and roc (both
/// directions) take image datasets; a model records its input as pixels.
#[test]
fn a_dense_autoencoder_runs_the_pipeline_on_images() {
    let dir = tmpdir("pipeline");
    let (top, qcd) = (data("top_images_ref_20.npy"), data("qcd_images_ref_20.npy"));
    let model = dir.join("qcd.safetensors");
    let net = ["--hidden", "16", "--latent", "4", "--epochs", "3", "--batch", "8", "--val-fraction", "0.5"];
    let mut args = vec!["train", qcd.as_str(), "-o", s(&model), "--quiet"];
    args.extend(net);
    ok(&args);
    let m = hepae::formats::model_file::SavedModel::load(&model).unwrap();
    assert_eq!(m.meta.columns.len(), 1600);
    assert_eq!(
        hepae::data::npy::shape_of_columns(&m.meta.columns),
        Some(hepae::engine::tensor::Shape::Image { c: 1, h: 40, w: 40 })
    );
    let ev = ok(&["evaluate", s(&model), &top, "-q"]);
    assert!(ev.contains("1×40×40"), "{ev}");
    let scores = dir.join("scores.npy");
    ok(&["score", s(&model), &top, "-o", s(&scores), "-q"]);
    let sc = hepae::Dataset::open(&scores).unwrap();
    assert_eq!(sc.rows(), 20);
    assert!(sc.as_slice().iter().step_by(sc.cols()).all(|v| v.is_finite() && *v > 0.0));
    let roc = ok(&["roc", s(&model), "--background", &qcd, "--signal", &top, "-q", "--score", "mse,mse-norm,mse-log"]);
    for k in ["mse ", "mse-norm", "mse-log"] {
        assert!(roc.lines().any(|l| l.contains(k) && l.contains('±')), "a row for {k}:\n{roc}");
    }
    // the score variants, from the same reconstructions
    for k in ["mse-norm", "mse-log"] {
        let f = dir.join(format!("{k}.npy"));
        ok(&["score", s(&model), &top, "-o", s(&f), "--score", k, "-q"]);
        let v = hepae::Dataset::open(&f).unwrap();
        assert!(v.as_slice().iter().step_by(v.cols()).all(|x| x.is_finite() && *x > 0.0), "{k}");
    }
    let mut both = vec!["roc", "--both", "--a", qcd.as_str(), "--b", top.as_str(), "-q"];
    both.extend(net);
    let out = ok(&both);
    assert_eq!(out.lines().filter(|l| l.contains(" in ")).count(), 2, "two directions:\n{out}");

    // compress → decompress and reconstruct give images back, within the bound asked for
    let arch = dir.join("top.hepz");
    ok(&["compress", s(&model), &top, "-o", s(&arch), "--max-abs-error", "1e-4", "-q"]);
    let back = dir.join("back.npy");
    ok(&["decompress", s(&arch), "--model", s(&model), "-o", s(&back), "-q"]);
    let (b, t) = (hepae::Dataset::open(&back).unwrap(), hepae::Dataset::open(Path::new(&top)).unwrap());
    assert_eq!((b.shape(), b.rows()), (t.shape(), 20), "images come back as images");
    let worst = b.as_slice().iter().zip(t.as_slice()).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(worst <= 1e-4, "max |out − in| {worst}");
    let rec = dir.join("rec.npy");
    ok(&["reconstruct", s(&model), &top, "-o", s(&rec), "-q"]);
    assert_eq!(hepae::Dataset::open(&rec).unwrap().shape(), t.shape());

    // figures: average images, single jets, pixel spectra, loss, latent
    let figs = dir.join("figs");
    ok(&["plot", s(&model), &top, "-o", s(&figs), "-q"]);
    for f in ["image_mean", "image_examples", "pixel_spectrum", "loss", "latent"] {
        let png = std::fs::read(figs.join(format!("{f}.png"))).unwrap();
        assert_eq!(&png[1..4], b"PNG", "{f}.png");
        assert!(figs.join(format!("{f}.svg")).exists(), "{f}.svg");
    }
    assert!(!listing(&figs).iter().any(|f| f.starts_with("recon_")), "no per-pixel figures");
    let page = dir.join("report").join("index.html");
    ok(&["report", s(&model), &top, "-o", s(&page), "-q"]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("1×40×40 images: over all pixels"), "the report summarises images");
    assert!(!html.contains("<td class=\"l\">pix_c0_y0_x0</td>"), "no table row per pixel");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The complexity-bias score variants on hand-made rows: MSE over Σx², and MSE of ln(1 + x⁺/m).
#[test]
fn score_variants_follow_their_definitions() {
    use hepae::analysis::anomaly::{recon_score, ScoreKind};
    let x = [0.0f32, 1.0, 3.0, 0.0];
    let y = [0.5f32, 1.0, 2.0, -1.0];
    let mse = (0.25 + 0.0 + 1.0 + 1.0) / 4.0;
    assert!((recon_score(ScoreKind::Mse, &x, &y) as f64 - mse).abs() < 1e-7);
    assert!((recon_score(ScoreKind::MseNorm, &x, &y) as f64 - mse / 10.0).abs() < 1e-7);
    let m = 1.0; // mean |x|
    let l = |v: f64| (v.max(0.0) / m).ln_1p();
    let want =
        [(0.0, 0.5), (1.0, 1.0), (3.0, 2.0), (0.0, -1.0)].iter().map(|&(a, b)| (l(a) - l(b)).powi(2)).sum::<f64>()
            / 4.0;
    assert!((recon_score(ScoreKind::MseLog, &x, &y) as f64 - want).abs() < 1e-7);
    // doubling an image and its reconstruction leaves mse-log unchanged (scale-free)
    let (x2, y2): (Vec<f32>, Vec<f32>) = (x.iter().map(|v| 2.0 * v).collect(), y.iter().map(|v| 2.0 * v).collect());
    assert!((recon_score(ScoreKind::MseLog, &x2, &y2) - recon_score(ScoreKind::MseLog, &x, &y)).abs() < 1e-7);
    assert!(!recon_score(ScoreKind::MseNorm, &[0.0; 4], &y).is_finite(), "an empty image has no mse-norm");
}

/// The image normalisers: fitted on the training rows, stored in the model, applied and
/// inverted by it; `total` makes every image sum to 1, `log` is ln(1 + x/s) with s the mean lit
/// pixel, and both invert to the input (exactly enough for unit-intensity images).
#[test]
fn image_normalisers_apply_and_invert() {
    use hepae::data::normalize::{NormKind, Normalizer};
    let top = hepae::Dataset::open(Path::new(&data("top_images_ref_20.npy"))).unwrap();
    let rows: Vec<u32> = (0..20).collect();
    let lit: Vec<f64> = top.as_slice().iter().filter(|v| **v > 0.0).map(|&v| v as f64).collect();
    let mean_lit = lit.iter().sum::<f64>() / lit.len() as f64;
    for kind in ["pixel", "total", "log", "sqrt", "none"] {
        let k: NormKind = kind.parse().unwrap();
        let n = Normalizer::fit(k, &top, &rows, 1.0).unwrap();
        n.validate().unwrap();
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(serde_json::from_str::<Normalizer>(&json).unwrap(), n, "{kind} survives the model file");
        let mut x = top.as_slice()[..3 * 1600].to_vec();
        n.normalize_rows(&mut x).unwrap();
        match kind {
            "total" => {
                for r in 0..3 {
                    let s: f64 = x[r * 1600..(r + 1) * 1600].iter().map(|&v| v as f64).sum();
                    assert!((s - 1.0).abs() < 1e-5, "{s}");
                }
            }
            "log" => {
                let (i, v) = top.as_slice().iter().enumerate().find(|(_, v)| **v > 0.0).unwrap();
                assert!((x[i] as f64 - (*v as f64 / mean_lit).ln_1p()).abs() < 1e-6);
            }
            "sqrt" => {
                for (y, v) in x.iter().zip(&top.as_slice()[..3 * 1600]) {
                    assert_eq!(*y, (*v as f64).sqrt() as f32, "√x per pixel");
                }
            }
            "none" => assert_eq!(x, top.as_slice()[..3 * 1600]),
            _ => assert!(x.iter().all(|v| (0.0..=1.0).contains(v)), "min-max per pixel"),
        }
        n.denormalize_rows(&mut x);
        for (a, b) in x.iter().zip(&top.as_slice()[..3 * 1600]) {
            assert!((a - b).abs() <= 1e-6 + 1e-5 * b.abs(), "{kind}: {a} vs {b}");
        }
    }
    // through the CLI: a model trained with --image-norm log scores and evaluates
    let dir = tmpdir("norms");
    let m = dir.join("log.safetensors");
    let qcd = data("qcd_images_ref_20.npy");
    ok(&["train", &qcd, "-o", s(&m), "--image-norm", "log", "--hidden", "8", "--latent", "2", "--epochs", "2", "-q"]);
    let saved = hepae::formats::model_file::SavedModel::load(&m).unwrap();
    assert_eq!(saved.meta.normalizer.kind, NormKind::Log);
    ok(&["evaluate", s(&m), &data("top_images_ref_20.npy"), "-q"]);
    // --norm sqrt: stored in the model; a reconstruction is decoded back as y² (and −y squares
    // to the same pixel: the inverse is y², not a clamp)
    let m = dir.join("sqrt.safetensors");
    ok(&["train", &qcd, "-o", s(&m), "--norm", "sqrt", "--hidden", "8", "--latent", "2", "--epochs", "2", "-q"]);
    let saved = hepae::formats::model_file::SavedModel::load(&m).unwrap();
    assert_eq!(saved.meta.normalizer.kind, NormKind::Sqrt);
    let mut y = vec![0.5f32, -0.5, 0.0, 2.0];
    y.resize(1600, 0.1);
    saved.meta.normalizer.denormalize_rows(&mut y);
    assert_eq!(&y[..4], &[0.25, 0.25, 0.0, 4.0]);
    ok(&["evaluate", s(&m), &data("top_images_ref_20.npy"), "-q"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Each bad input: one line naming the file (and row/option), exit 1, nothing written.
#[test]
fn bad_image_inputs_fail_with_one_line_and_write_nothing() {
    let dir = tmpdir("bad");
    let out = dir.join("out.npy");
    let (top, qcd) = (data("top_images_ref_20.npy"), data("qcd_images_ref_20.npy"));

    // constituents with 3 fields instead of (pT, η, φ, E)
    let three = dir.join("three.npy");
    write_f4(&three, &[2, 5, 3], &[1.0; 30]);
    let e = fails(&["import", s(&three), "--images", "-o", s(&out)]);
    assert!(e.contains("three.npy") && e.contains("(2, 5, 3)") && e.contains("4"), "{e}");
    // a 2-D table given as constituents
    let e = fails(&["import", &data("dy_nano_v6.npy"), "--images", "-o", s(&out)]);
    assert!(e.contains("3-D") && e.contains("(188, 37)"), "{e}");
    // a NaN in a constituent: named by jet and constituent
    let mut v = vec![0f32; 2 * 3 * 4];
    v[..4].copy_from_slice(&[100.0, 0.1, 0.2, 101.0]);
    v[12..16].copy_from_slice(&[50.0, 0.1, 0.2, 51.0]);
    v[16 + 2] = f32::NAN;
    v[16] = 10.0;
    let nan_c = dir.join("nanc.npy");
    write_f4(&nan_c, &[2, 3, 4], &v);
    let e = fails(&["import", s(&nan_c), "--images", "-o", s(&out)]);
    assert!(e.contains("row 2") && e.contains("constituent 2 phi") && e.contains("NaN"), "{e}");
    // a truncated constituent file
    let trunc = dir.join("trunc.npy");
    let bytes = std::fs::read(data("top_constituents_20.npy")).unwrap();
    std::fs::write(&trunc, &bytes[..bytes.len() - 100]).unwrap();
    let e = fails(&["import", s(&trunc), "--images", "-o", s(&out)]);
    assert!(e.contains("truncated") && e.contains("(20, 104, 4)") && e.contains("row 20"), "{e}");
    // bad options
    let e = fails(&["import", &data("top_constituents_20.npy"), "--images", "--image-size", "0", "-o", s(&out)]);
    assert!(e.contains("--image-size"), "{e}");
    let e = fails(&["import", &data("top_constituents_20.npy"), "--images", "--intensity", "mev", "-o", s(&out)]);
    assert!(e.contains("--intensity"), "{e}");
    let e = fails(&["import", &data("top_constituents_20.npy"), "--images", "--centre", "middle", "-o", s(&out)]);
    assert!(e.contains("--centre 'middle'") && e.contains("leading-subjet"), "{e}");
    let e = fails(&[
        "import",
        &data("top_constituents_20.npy"),
        "--images",
        "--centre",
        "leading-subjet",
        "--subjet-r",
        "-1",
        "-o",
        s(&out),
    ]);
    assert!(e.contains("--subjet-r"), "{e}");

    // a model trained on images, given a table, and the reverse
    let img_model = dir.join("img.safetensors");
    ok(&["train", &qcd, "-o", s(&img_model), "--hidden", "8", "--latent", "2", "--epochs", "1", "--quiet"]);
    let e = fails(&["score", s(&img_model), &data("dy_nano_v6.npy"), "-o", s(&out)]);
    assert!(e.contains("1×40×40 images") && e.contains("tables of 37 columns"), "{e}");
    let tab_model = dir.join("tab.safetensors");
    ok(&[
        "train",
        &data("dy_nano_v6.npy"),
        "-o",
        s(&tab_model),
        "--hidden",
        "8",
        "--latent",
        "2",
        "--epochs",
        "1",
        "--quiet",
    ]);
    let e = fails(&["evaluate", s(&tab_model), &top]);
    assert!(e.contains("tables of 37 columns") && e.contains("1×40×40 images"), "{e}");
    // the wrong image size, and the same pixel count in another shape
    let small = dir.join("small.npy");
    write_f4(&small, &[3, 1, 20, 20], &[0.0025; 1200]);
    let e = fails(&["score", s(&img_model), s(&small), "-o", s(&out)]);
    assert!(e.contains("1×40×40 images") && e.contains("1×20×20 images"), "{e}");
    let wide = dir.join("wide.npy");
    write_f4(&wide, &[2, 20, 80], &[0.0; 3200]);
    let e = fails(&["roc", s(&img_model), "--background", &qcd, "--signal", s(&wide)]);
    assert!(e.contains("1×20×80 images"), "{e}");
    // NaN pixels: the row and the pixel are named
    let mut px = vec![0f32; 2 * 1600];
    px[1600 + 41] = f32::NAN;
    let nan_i = dir.join("nani.npy");
    write_f4(&nan_i, &[2, 40, 40], &px);
    let e = fails(&["score", s(&img_model), s(&nan_i), "-o", s(&out)]);
    assert!(e.contains("row 2") && e.contains("pix_c0_y1_x1") && e.contains("NaN"), "{e}");
    let e = fails(&["train", s(&nan_i), "-o", s(&dir.join("m.safetensors"))]);
    assert!(e.contains("row 2") && e.contains("pix_c0_y1_x1"), "{e}");
    // a negative pixel under --norm sqrt: the row and the pixel are named
    let mut px = vec![0.01f32; 2 * 1600];
    px[1600 + 42] = -0.5;
    let neg = dir.join("neg.npy");
    write_f4(&neg, &[2, 40, 40], &px);
    let e = fails(&["train", s(&neg), "--norm", "sqrt", "--val-fraction", "0", "-o", s(&dir.join("m.safetensors"))]);
    assert!(e.contains("row 2") && e.contains("pix_c0_y1_x2") && e.contains("≥ 0"), "{e}");
    // a truncated image file
    let tr = dir.join("trunc_img.npy");
    let b = std::fs::read(&top).unwrap();
    std::fs::write(&tr, &b[..b.len() - 6400 - 8]).unwrap();
    let e = fails(&["evaluate", s(&img_model), s(&tr)]);
    assert!(e.contains("truncated") && e.contains("(20, 40, 40)") && e.contains("row 19"), "{e}");

    assert!(!out.exists(), "no output after a failure");
    let left: Vec<String> = listing(&dir).into_iter().filter(|n| n.contains(".tmp-")).collect();
    assert!(left.is_empty(), "no partial files: {left:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
