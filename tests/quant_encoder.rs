//! Quantised encoders (`hepae::infer::quantized`) on a model trained on real CMS jets:
//! each precision survives the model file bit for bit, runs through `Encoder` as an
//! independent re-implementation from the stored integers/halves says it should (int8: the
//! same bits; bf16/f16 within f32 rounding; fixed point on its grid), stays near the f32
//! latents, shrinks the weights, and leaves f32 files and identities as they were. Bad input:
//! a quantised model where f32 weights are needed, NaN/Inf in the calibration set, a bad
//! precision, all refused with one line naming what is wrong.

use hepae::data::npy::write_npy;
use hepae::infer::quantized::{
    fixed_int, fixed_int_mode, fixed_value, parse_precisions, quantize, FixedMode, Granularity, Precision, QuantLayer,
    QuantOptions, Rounding, Stored,
};
use hepae::nn::activation::Activation;
use hepae::{Dataset, Encoder, Model, TrainConfig, Trainer};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hepae-quant-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn data() -> Dataset {
    Dataset::open(&root().join("tests/data/dy_nano_v6.npy")).unwrap()
}

/// One trained f32 model (188 Drell-Yan jets × 37 NanoAOD variables), shared by the tests.
fn f32_model() -> &'static (Model, PathBuf) {
    static M: OnceLock<(Model, PathBuf)> = OnceLock::new();
    M.get_or_init(|| {
        let cfg = TrainConfig {
            hidden: vec![40, 20],
            latent: 6,
            epochs: Some(5),
            batch: Some(32),
            threads: 1,
            ..TrainConfig::default()
        };
        let m = Trainer::new(cfg).fit(&data()).unwrap();
        let p = tmp("f32").join("ae.safetensors");
        m.save(&p).unwrap();
        (Model::load(&p).unwrap(), p)
    })
}

fn opts(p: &str) -> QuantOptions {
    let layers = parse_precisions(p).unwrap();
    QuantOptions { layers, granularity: Granularity::PerChannel, calib_rows: 20_000 }
}

/// Latents of every row through `Encoder` at batch 1 (the trigger's path).
fn latents(m: &Model) -> Vec<f32> {
    let d = data();
    let l = m.ae.shape.latent;
    let mut enc = Encoder::new(m, 1);
    let mut z = vec![0.0f32; d.rows() * l];
    for r in 0..d.rows() {
        enc.encode(d.row(r), 1, &mut z[r * l..(r + 1) * l]).unwrap();
    }
    z
}

/// Latents of every row through `Encoder` in one call (steps of up to 256 rows).
fn latents_batched(m: &Model) -> Vec<f32> {
    let d = data();
    let mut z = vec![0.0f32; d.rows() * m.ae.shape.latent];
    Encoder::new(m, 256).encode(d.as_slice(), d.rows(), &mut z).unwrap();
    z
}

/// Normalised rows of the test data, as the encoder's first layer sees them.
fn normalised(m: &Model) -> Vec<f32> {
    let mut x = data().as_slice().to_vec();
    m.meta.normalizer.normalize_rows(&mut x).unwrap();
    x
}

fn leaky(u: f32, act: Activation) -> f32 {
    let s = act.fused_slope();
    if u > 0.0 {
        u
    } else {
        s * u
    }
}

/// The int8 encoder re-implemented from the stored integers and scales with the kernels'
/// documented arithmetic: x_q = round_ties_even(clamp(x·(1/s_x), ±127)); u = f32(Σ x_q·w_q)·
/// (s_x·s_w) + b (a multiply, then an add); leaky.
fn int8_reference(layers: &[QuantLayer], x: &[f32]) -> Vec<f32> {
    let mut cur = x.to_vec();
    for l in layers {
        let Stored::Int8 { w, scale } = &l.stored else { panic!("not int8") };
        let sx = l.input_scale.unwrap();
        let inv = 1.0 / sx;
        let xq: Vec<i32> = cur.iter().map(|&v| (v * inv).clamp(-127.0, 127.0).round_ties_even() as i32).collect();
        let mut next = vec![0.0f32; l.n];
        for (j, y) in next.iter_mut().enumerate() {
            let acc: i32 = (0..l.k).map(|q| xq[q] * w[j * l.k + q] as i32).sum();
            let s = sx * scale[if scale.len() == 1 { 0 } else { j }];
            *y = leaky(acc as f32 * s + l.bias[j], l.act);
        }
        cur = next;
    }
    cur
}

#[test]
fn int8_encodes_bit_for_bit_as_its_stored_integers_say_after_a_file_round_trip() {
    let (m, path) = f32_model();
    for g in [Granularity::PerChannel, Granularity::PerLayer] {
        let q = quantize(m, path, &QuantOptions { granularity: g, ..opts("int8") }, &data()).unwrap();
        let p = tmp("int8").join(format!("{g:?}.safetensors"));
        q.save(&p).unwrap();
        let back = Model::load(&p).unwrap();
        assert_eq!(back.ae, q.ae, "{g:?}: the loaded model is the saved one (weights, scales, packing)");
        assert_eq!(back.meta, q.meta);
        let layers = &back.ae.quant.as_ref().expect("quantised").layers;
        for l in layers {
            let Stored::Int8 { w, scale } = &l.stored else { panic!("{g:?}: layer not int8") };
            assert_eq!(scale.len(), if g == Granularity::PerLayer { 1 } else { l.n });
            assert!(w.iter().all(|&v| v != i8::MIN));
            // Per-channel: each output's largest |weight| maps to ±127.
            if g == Granularity::PerChannel {
                assert!(w.chunks(l.k).all(|r| r.iter().any(|v| v.abs() == 127)));
            }
        }
        let (x, z) = (normalised(&back), latents(&back));
        let (k, lat) = (back.ae.shape.input, back.ae.shape.latent);
        for r in 0..data().rows() {
            let want = int8_reference(layers, &x[r * k..(r + 1) * k]);
            for (i, (g_, w_)) in z[r * lat..(r + 1) * lat].iter().zip(&want).enumerate() {
                assert_eq!(g_.to_bits(), w_.to_bits(), "{g:?} row {r} latent {i}: {g_} vs reference {w_}");
            }
        }
    }
}

#[test]
fn bf16_f16_and_bf16_act_encode_as_an_f64_product_of_their_rounded_values() {
    let (m, path) = f32_model();
    for p in ["bf16", "f16", "bf16-act"] {
        let q = quantize(m, path, &opts(p), &data()).unwrap();
        let file = tmp("half").join(format!("{p}.safetensors"));
        q.save(&file).unwrap();
        let back = Model::load(&file).unwrap();
        assert_eq!(back.ae, q.ae, "{p}: file round trip");
        let layers = &back.ae.quant.as_ref().unwrap().layers;
        let kind = if p == "f16" { hepae_kernels::quant::HalfKind::F16 } else { hepae_kernels::quant::HalfKind::Bf16 };
        // bf16-act also rounds every layer's input to bf16.
        let act = |v: f64| if p == "bf16-act" { kind.to_f32(kind.from_f32(v as f32)) as f64 } else { v };
        // Batch 1 (layer by layer) and all rows in one call (bf16/f16: the f32 row-tiled
        // chain of the widened weights; bf16-act: the row-tiled bf16 chain, same bits).
        let x = normalised(&back);
        let (k, lat) = (back.ae.shape.input, back.ae.shape.latent);
        let zs = [latents(&back), latents_batched(&back)];
        if p == "bf16-act" {
            let bits = |z: &[f32]| z.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&zs[0]), bits(&zs[1]), "bf16-act: batched latents are batch 1's bits");
        }
        for (r, z) in (0..data().rows()).flat_map(|r| zs.iter().map(move |z| (r, z))) {
            let mut cur: Vec<f64> = x[r * k..(r + 1) * k].iter().map(|&v| v as f64).collect();
            for l in layers {
                let Stored::Half(h) = &l.stored else { panic!("{p}: layer not 16-bit") };
                let xin: Vec<f64> = cur.iter().map(|&v| act(v)).collect();
                cur = (0..l.n)
                    .map(|j| {
                        let u = l.bias[j] as f64
                            + (0..l.k).map(|q| xin[q] * kind.to_f32(h[j * l.k + q]) as f64).sum::<f64>();
                        if u > 0.0 {
                            u
                        } else {
                            l.act.fused_slope() as f64 * u
                        }
                    })
                    .collect();
            }
            for (i, (&g, &w)) in z[r * lat..(r + 1) * lat].iter().zip(&cur).enumerate() {
                assert!((g as f64 - w).abs() <= 1e-5 + 1e-5 * w.abs(), "{p} row {r} latent {i}: {g} vs {w}");
            }
        }
    }
}

#[test]
fn fixed_point_is_hls4ml_ap_fixed_with_truncation_and_wrap_around() {
    // ap_fixed<8,3>: steps of 2⁻⁵, range [−4, 4); AP_TRN rounds toward −∞, AP_WRAP wraps.
    assert_eq!(fixed_int(1.0, 8, 3), 32);
    assert_eq!(fixed_int(0.049, 8, 3), 1, "0.049·32 = 1.57 truncates to 1");
    assert_eq!(fixed_int(-0.01, 8, 3), -1, "toward −∞, not toward 0");
    assert_eq!(fixed_int(3.99, 8, 3), 127);
    assert_eq!(fixed_int(4.0, 8, 3), -128, "4 wraps to −4");
    assert_eq!(fixed_int(5.0, 8, 3), -96, "5 wraps to −3");
    assert_eq!(fixed_value(-128, 8, 3), -4.0);
    let dflt = FixedMode::default();
    assert_eq!(Precision::parse("ap_fixed<16, 6>"), Ok(Precision::Fixed { width: 16, int: 6, mode: dflt }));
    // The other modes, as hls4ml spells them: AP_RND_CONV ties to even, AP_SAT clamps.
    let conv_sat = FixedMode { round: Rounding::RndConv, saturate: true };
    let p = Precision::parse("ap_fixed<8,3,AP_RND_CONV,AP_SAT>").unwrap();
    assert_eq!(p, Precision::Fixed { width: 8, int: 3, mode: conv_sat });
    assert_eq!(p.name(), "fixed<8,3,RND_CONV,SAT>");
    assert_eq!(Precision::parse(&p.name()), Ok(p), "the name parses back");
    assert_eq!(fixed_int_mode(0.049, 8, 3, conv_sat), 2, "1.57 rounds to 2");
    assert_eq!(fixed_int_mode(1.5 / 32.0, 8, 3, conv_sat), 2, "1.5 ties to even 2");
    assert_eq!(fixed_int_mode(2.5 / 32.0, 8, 3, conv_sat), 2, "2.5 ties to even 2");
    let rnd = FixedMode { round: Rounding::Rnd, saturate: false };
    assert_eq!(fixed_int_mode(2.5 / 32.0, 8, 3, rnd), 3, "AP_RND: ties toward +∞");
    assert_eq!(fixed_int_mode(-2.5 / 32.0, 8, 3, rnd), -2);
    assert_eq!(fixed_int_mode(5.0, 8, 3, conv_sat), 127, "saturates at the top");
    assert_eq!(fixed_int_mode(-5.0, 8, 3, conv_sat), -128, "and at the bottom");
    assert!(Precision::parse("fixed<8,3,AP_FLOOR>").unwrap_err().contains("AP_FLOOR".to_ascii_lowercase().as_str()));

    let (m, path) = f32_model();
    let q = quantize(m, path, &opts("fixed<16,6>"), &data()).unwrap();
    let file = tmp("fixed").join("q.safetensors");
    q.save(&file).unwrap();
    let back = Model::load(&file).unwrap();
    assert_eq!(back.ae, q.ae, "file round trip");
    let z = latents(&back);
    // Every latent is an ap_fixed<16,6> value: a multiple of 2⁻¹⁰ in [−32, 32).
    for &v in &z {
        let m = v as f64 * 1024.0;
        assert!(m == m.floor() && (-32.0..32.0).contains(&v), "latent {v} is not on the ap_fixed<16,6> grid");
    }
    // And the layers compute what an f64 emulation of the grid gives (within one step: a sum
    // landing on a grid boundary may truncate either way in f32).
    let layers = &back.ae.quant.as_ref().unwrap().layers;
    let (x, k, lat) = (normalised(&back), back.ae.shape.input, back.ae.shape.latent);
    let grid = |v: f64| (v * 1024.0).floor() / 1024.0;
    let mut worst = 0.0f64;
    for r in 0..data().rows() {
        let mut cur: Vec<f64> = x[r * k..(r + 1) * k].iter().map(|&v| grid(v as f64)).collect();
        for l in layers {
            let Stored::Fixed { w, b } = &l.stored else { panic!("layer not fixed") };
            cur = (0..l.n)
                .map(|j| {
                    let u =
                        b[j] as f64 / 1024.0 + (0..l.k).map(|q| cur[q] * w[j * l.k + q] as f64 / 1024.0).sum::<f64>();
                    grid(if u > 0.0 { u } else { l.act.fused_slope() as f64 * u })
                })
                .collect();
        }
        for (&g, &w) in z[r * lat..(r + 1) * lat].iter().zip(&cur) {
            worst = worst.max((g as f64 - w).abs());
        }
    }
    assert!(worst <= 4.0 / 1024.0, "fixed<16,6> latents differ from the f64 emulation by {worst}");

    // Rounding to nearest instead of truncating: stored under its hls4ml name, read back the
    // same, and closer to the f32 latents (truncation biases every value down by ½ step).
    let q2 = quantize(m, path, &opts("fixed<16,6,RND_CONV,SAT>"), &data()).unwrap();
    let file2 = tmp("fixed").join("q2.safetensors");
    q2.save(&file2).unwrap();
    let back2 = Model::load(&file2).unwrap();
    assert_eq!(back2.ae, q2.ae);
    assert_eq!(back2.meta.quant.as_ref().unwrap().layers[0].precision, "fixed<16,6,RND_CONV,SAT>");
    let z0 = latents(m);
    let dist = |z: &[f32]| z.iter().zip(&z0).map(|(a, b)| (*a as f64 - *b as f64).powi(2)).sum::<f64>();
    assert!(dist(&latents(&back2)) < dist(&z), "rounding is not closer to f32 than truncation");
}

#[test]
fn each_precision_stays_near_the_f32_latents_and_shrinks_the_weights() {
    let (m, path) = f32_model();
    let z0 = latents(m);
    let rms = (z0.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / z0.len() as f64).sqrt();
    let f32_bytes: usize = m.ae.encoder.layers.iter().map(|l| 4 * l.inp * l.out).sum();
    // (precision, max |Δz| / latent RMS allowed, weight bytes at most)
    for (p, tol, bytes) in [
        ("f16", 0.01, f32_bytes / 2 + 64),
        ("bf16", 0.05, f32_bytes / 2 + 64),
        ("bf16-act", 0.05, f32_bytes / 2 + 64),
        ("int8", 0.25, f32_bytes / 4 + 4 * 100),
        ("fixed<24,8>", 0.01, f32_bytes + 4 * 100),
        ("int8,bf16,f32", 0.25, f32_bytes),
    ] {
        let q = quantize(m, path, &opts(p), &data()).unwrap();
        let enc = q.ae.quant.as_ref().unwrap();
        let wb: usize = enc.layers.iter().map(|l| l.weight_bytes()).sum();
        assert!(wb <= bytes, "{p}: {wb} weight bytes (f32: {f32_bytes})");
        let z = latents(&q);
        let max = z.iter().zip(&z0).map(|(a, b)| (*a as f64 - *b as f64).abs()).fold(0.0, f64::max);
        assert!(max > 0.0, "{p}: latents identical to f32 (the quantised encoder did not run)");
        assert!(max <= tol * rms, "{p}: max |Δz| {max:.3e} above {tol}·RMS {rms:.3e}");
        // The f32 model is untouched and is what the quantised one names as its source.
        assert_eq!(q.meta.quant.as_ref().unwrap().source_model_sha256, m.identity_sha256());
        assert_ne!(q.identity_sha256(), m.identity_sha256());
        assert_eq!(q.ae.decoder, m.ae.decoder);
    }
    // Mixed: one precision per layer, recorded per layer.
    let q = quantize(m, path, &opts("int8,bf16,f32"), &data()).unwrap();
    let names: Vec<String> = q.meta.quant.as_ref().unwrap().layers.iter().map(|l| l.precision.clone()).collect();
    assert_eq!(names, ["int8", "bf16", "f32"]);
    // An f32 model's file has no quantisation section (old readers see the same bytes).
    let bytes = m.to_bytes().unwrap();
    assert!(!String::from_utf8_lossy(&bytes[..4096.min(bytes.len())]).contains("quant"));
}

#[test]
fn a_quantised_model_is_refused_where_f32_weights_are_needed() {
    let (m, path) = f32_model();
    let q = quantize(m, path, &opts("int8"), &data()).unwrap();
    let qp = tmp("refuse").join("q.safetensors");
    q.save(&qp).unwrap();
    let err = quantize(&Model::load(&qp).unwrap(), &qp, &opts("bf16"), &data()).unwrap_err().to_string();
    assert!(!err.contains('\n'), "one line: {err}");
    assert!(err.contains(&qp.display().to_string()) && err.contains("quantised (int8"), "{err}");
    assert!(err.contains("needs f32 weights"), "{err}");
    let err = hepae::infer::quantized::model_given_as_training_data(&qp).expect("a model file").to_string();
    assert!(err.contains("training needs f32 weights") && !err.contains('\n'), "{err}");
    assert!(m.require_f32(path, "training").is_ok());
}

#[test]
fn calibration_data_with_nan_or_inf_is_refused_naming_file_row_and_column() {
    let (m, path) = f32_model();
    let d = data();
    let dir = tmp("calib");
    for (bad, what) in [(f32::NAN, "NaN"), (f32::INFINITY, "inf")] {
        let mut v = d.as_slice().to_vec();
        let (row, col) = (41, 2);
        v[row * d.cols() + col] = bad;
        let p = dir.join(format!("calib_{what}.npy"));
        write_npy(&p, d.cols(), &v, Some(d.columns())).unwrap();
        let err = quantize(m, path, &opts("int8"), &Dataset::open(&p).unwrap()).unwrap_err().to_string();
        assert!(!err.contains('\n'), "{err}");
        assert!(err.contains(&p.display().to_string()), "names the file: {err}");
        assert!(err.contains("row 42"), "names the 1-based row: {err}");
        assert!(err.contains(&format!("column {}", d.columns()[col])), "names the column: {err}");
        assert!(err.to_lowercase().contains(&what.to_lowercase()), "says what: {err}");
    }
    // Another file's columns are refused too (the model's columns are checked).
    let other = Dataset::open(&root().join("tests/data/wjets_nano_2015_opendata.npy")).unwrap();
    assert!(quantize(m, path, &opts("int8"), &other).unwrap_err().to_string().contains("columns"));
}

#[test]
fn bad_precisions_and_layer_counts_are_refused() {
    for (p, says) in [
        ("int4", "not a precision"),
        ("fixed<30,6>", "2 ≤ W ≤ 24"),
        ("fixed<8,9>", "0 ≤ I ≤ W"),
        ("fixed<8>", "fixed<W,I>"),
        ("", "no precision"),
    ] {
        let e = parse_precisions(p).unwrap_err().to_string();
        assert!(e.contains(says), "{p}: {e}");
    }
    let (m, path) = f32_model();
    let e = quantize(m, path, &opts("int8,int8"), &data()).unwrap_err().to_string();
    assert!(e.contains("2 precisions") && e.contains("3 layers"), "{e}");
    // A stored int8 weight of −128 (outside the kernels' range) is refused at load.
    let e = QuantLayer::new(
        Precision::Int8,
        Activation::Linear,
        2,
        1,
        Stored::Int8 { w: vec![1, i8::MIN], scale: vec![1.0] },
        Some(1.0),
        &[0.0],
        &[0.0, 0.0],
    )
    .unwrap_err();
    assert!(e.contains("−128"), "{e}");
}

#[test]
fn a_vae_head_and_a_whitened_input_quantise_like_a_plain_encoder() {
    use hepae::models::ModelKind;
    let d = data();
    for kind in [ModelKind::Vae, ModelKind::AePca, ModelKind::SparseKl] {
        let cfg = TrainConfig {
            model: kind,
            hidden: vec![24],
            latent: 4,
            epochs: Some(3),
            batch: Some(32),
            threads: 1,
            ..TrainConfig::default()
        };
        let m = Trainer::new(cfg).fit(&d).unwrap();
        let p = tmp("families").join(format!("{kind}.safetensors"));
        m.save(&p).unwrap();
        let m = Model::load(&p).unwrap();
        let z0 = latents(&m);
        for prec in ["int8", "bf16-act"] {
            let q = quantize(&m, &p, &opts(prec), &d).unwrap();
            let qp = tmp("families").join(format!("{kind}-{prec}.safetensors"));
            q.save(&qp).unwrap();
            let back = Model::load(&qp).unwrap();
            assert_eq!(back.ae, q.ae, "{kind} {prec}: file round trip");
            let z = latents(&back);
            let rms = (z0.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / z0.len() as f64).sqrt();
            let max = z.iter().zip(&z0).map(|(a, b)| (*a as f64 - *b as f64).abs()).fold(0.0, f64::max);
            assert!(
                max > 0.0 && max <= 0.25 * rms.max(1e-3),
                "{kind} {prec}: max |Δz| {max:.3e}, latent RMS {rms:.3e}"
            );
            // The decoder (and the whitening stage) are untouched.
            assert_eq!(back.ae.decoder, m.ae.decoder);
            assert_eq!(back.ae.whiten, m.ae.whiten);
        }
    }
}

#[test]
fn quantize_normalized_calibrates_on_in_memory_rows_such_as_a_benchmark_s() {
    use hepae::infer::quantized::{quantize_normalized, CalibrationRecord};
    let (m, path) = f32_model();
    let d = m.ae.shape.input;
    // Normalised rows in [0, 1), as `hepae bench` draws its synthetic jets.
    let x: Vec<f32> = (0..500 * d).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
    let rec = |rows| CalibrationRecord { file: "synthetic".into(), rows };
    let q = quantize_normalized(m, path, &opts("int8"), &x, rec(500)).unwrap();
    assert_eq!(q.meta.quant.as_ref().unwrap().calibration, Some(rec(500)));
    assert!(latents(&q).iter().all(|v| v.is_finite()));
    let e = quantize_normalized(m, path, &opts("int8"), &x[..10], rec(500)).unwrap_err().to_string();
    assert!(e.contains("500 ×"), "{e}");
    let mut bad = x.clone();
    bad[17] = f32::NAN;
    assert!(quantize_normalized(m, path, &opts("int8"), &bad, rec(500)).is_err());
}

#[test]
fn int8_batches_run_the_row_tiled_chain_with_the_bits_of_batch_1() {
    use hepae::infer::quantized::BATCH_MIN_ROWS;
    use hepae::models::ModelKind;
    let d = data();
    let vae = {
        let cfg = TrainConfig {
            model: ModelKind::Vae,
            hidden: vec![33, 17],
            latent: 5,
            epochs: Some(2),
            batch: Some(32),
            threads: 1,
            ..TrainConfig::default()
        };
        let m = Trainer::new(cfg).fit(&d).unwrap();
        let p = tmp("tiled").join("vae.safetensors");
        m.save(&p).unwrap();
        (Model::load(&p).unwrap(), p)
    };
    let (m, path) = f32_model();
    for (what, m, path) in [("ae", m, path), ("vae", &vae.0, &vae.1)] {
        for g in [Granularity::PerChannel, Granularity::PerLayer] {
            let q = quantize(m, path, &QuantOptions { granularity: g, ..opts("int8") }, &d).unwrap();
            let (z1, l, k) = (latents(&q), q.ae.shape.latent, q.ae.shape.input);
            // All 188 rows in one call (steps of up to 256 rows: the tiled chain), and calls
            // around the threshold and the 48-row tile, each from a fresh offset.
            let mut enc = Encoder::new(&q, 256);
            for rows in [d.rows(), BATCH_MIN_ROWS - 1, BATCH_MIN_ROWS, 47, 48, 49, 97, 100] {
                for start in [0, d.rows() - rows] {
                    let mut z = vec![f32::NAN; rows * l];
                    enc.encode(&d.as_slice()[start * k..(start + rows) * k], rows, &mut z).unwrap();
                    for (i, (a, b)) in z.iter().zip(&z1[start * l..(start + rows) * l]).enumerate() {
                        assert_eq!(
                            a.to_bits(),
                            b.to_bits(),
                            "{what} {g:?} rows {rows} from {start}: value {i}: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }
}
