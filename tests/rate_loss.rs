//! The rate-aware loss of `hepae train --for-compression`, as specifications: the weighted L1's
//! gradient against central differences of an f64 reference (ragged shapes, weights that
//! depend on the column and the target); a column's weight is 1 / its grid step in normalised
//! units (relative, absolute, exact; 0 on a zero); `train --for-compression` writes a latent-8
//! custom4 model whose file records the rate loss, says so in one line, and `compress` uses it.

#[path = "support/cli.rs"]
mod cli;

use hepae::data::normalize::ColumnTransform;
use hepae::models::rate::{Grid, GridColumn};
use hepae::nn::loss::weighted_l1_forward_backward;
use rand::{Rng, SeedableRng};

/// L = (1/count) Σ w(c, t)·|o − t| in f64.
fn reference(out: &[f64], target: &[f32], d: usize, count: usize, w: &impl Fn(usize, f32) -> f32) -> f64 {
    out.iter().zip(target).enumerate().map(|(i, (&o, &t))| w(i % d, t) as f64 * (o - t as f64).abs()).sum::<f64>()
        / count as f64
}

#[test]
fn weighted_l1_gradient_matches_central_differences_on_ragged_shapes() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    for &(n, d) in &[(1usize, 1usize), (3, 5), (7, 2), (5, 9)] {
        let count = n * d + 3; // a shard of a larger batch
        let target: Vec<f32> = (0..n * d).map(|_| rng.random_range(-2.0f32..2.0)).collect();
        // Away from the kink at out = target, where L1 has no derivative.
        let out: Vec<f32> = target
            .iter()
            .map(|&t| t + rng.random_range(0.05f32..1.0) * if rng.random_bool(0.5) { 1.0 } else { -1.0 })
            .collect();
        let w = |c: usize, t: f32| 0.5 + c as f32 + t.abs();
        let mut dout = vec![0.0f32; n * d];
        let sum = weighted_l1_forward_backward(&mut dout, &out, &target, d, count, &w);
        let o64: Vec<f64> = out.iter().map(|&v| v as f64).collect();
        assert!((sum / count as f64 - reference(&o64, &target, d, count, &w)).abs() < 1e-5);
        let h = 1e-4;
        for i in 0..n * d {
            let (mut up, mut dn) = (o64.clone(), o64.clone());
            up[i] += h;
            dn[i] -= h;
            let fd = (reference(&up, &target, d, count, &w) - reference(&dn, &target, d, count, &w)) / (2.0 * h);
            assert!((fd - dout[i] as f64).abs() < 1e-5 * (1.0 + fd.abs()), "n {n} d {d} i {i}: {fd} vs {}", dout[i]);
        }
    }
    // Exactly on the target: no gradient.
    let mut g = [1.0f32];
    assert_eq!(weighted_l1_forward_backward(&mut g, &[0.25], &[0.25], 1, 1, &|_, _| 3.0), 0.0);
    assert_eq!(g[0], 0.0);
}

#[test]
fn a_columns_weight_is_one_over_its_grid_step_in_normalised_units() {
    let eps = 1e-3;
    let close = |a: f32, b: f64| ((a as f64 - b) / b).abs() < 2e-3;
    // Min-max (scale 2), relative: the step at x = 0.5 is 2ε·0.5 = 1e-3, i.e. 5e-4 normalised.
    let rel = GridColumn { transform: ColumnTransform::Affine { shift: 0.0, scale: 2.0 }, grid: Grid::Rel };
    assert!(close(rel.weight(0.25, eps), 2000.0), "{}", rel.weight(0.25, eps));
    // A zero under a relative bound is coded exactly: no weight.
    assert_eq!(rel.weight(0.0, eps), 0.0);
    // custom4's log pT: the step is 2ε / (ln 10 · 1.2) wherever the value is.
    let pt = GridColumn { transform: ColumnTransform::Log10Pt { to_gev: 1.0 }, grid: Grid::Rel };
    let want = std::f64::consts::LN_10 * 1.2 / (2.0 * eps);
    assert!(close(pt.weight(0.3, eps), want) && close(pt.weight(1.7, eps), want), "{}", pt.weight(0.3, eps));
    // η/5 under an absolute bound: step 2ε / 5.
    let eta = GridColumn { transform: ColumnTransform::Affine { shift: 0.0, scale: 5.0 }, grid: Grid::Abs };
    assert!(close(eta.weight(-0.3, eps), 2500.0));
    // An integer column: step 1 / scale.
    let n = GridColumn { transform: ColumnTransform::Affine { shift: 1.0, scale: 40.0 }, grid: Grid::Exact };
    assert!(close(n.weight(0.5, eps), 40.0));
}

#[cfg(feature = "archive")]
#[test]
fn train_for_compression_records_it_says_so_and_compress_uses_the_model() {
    use cli::{ok, s, scratch};
    use hepae::data::normalize::NormKind;
    let dir = scratch("rate-loss", "train");
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let (n, cols) = (1200, ["pt", "eta", "phi", "mass", "chHEF", "nConstituents", "ptD", "girth", "area", "nMuons"]);
    let mut x = Vec::new();
    for _ in 0..n {
        let pt = 20.0 * (1.0 + 40.0 * rng.random::<f32>().powi(3));
        let f = if rng.random_bool(0.2) { 0.0 } else { rng.random_range(0.01f32..1.0) };
        let eta = rng.random_range(-2.5f32..2.5);
        let (ptd, girth) = (rng.random_range(0.2f32..0.9), rng.random_range(0.01f32..0.3));
        let (area, mu) = (rng.random_range(0.4f32..0.6), rng.random_range(0..3) as f32);
        x.extend_from_slice(&[pt, eta, 0.5, pt * 0.1, f, rng.random_range(1..60) as f32, ptd, girth, area, mu]);
    }
    let data = dir.join("jets.npy");
    let names: Vec<String> = cols.iter().map(|c| c.to_string()).collect();
    hepae::data::npy::write_npy(&data, cols.len(), &x, Some(&names)).unwrap();
    let model = dir.join("m.safetensors");
    let o = cli::hepae(&["train", s(&data), "-o", s(&model), "--for-compression", "--hidden", "16", "--epochs", "2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    let said: Vec<&str> = err.lines().filter(|l| l.starts_with("trained for compression")).collect();
    assert_eq!(said.len(), 1, "{err}");
    assert!(said[0].contains("hepae compress") && said[0].contains("--max-rel-error 1e-3"), "{}", said[0]);
    let saved = hepae::model_io::SavedModel::from_bytes(&std::fs::read(&model).unwrap(), &model).unwrap();
    let rate = saved.meta.training.as_ref().unwrap().config.compression.expect("the file records the rate loss");
    assert_eq!((rate.bound, rate.rate_weight), (1e-3, 0.0));
    assert_eq!(saved.ae.shape.latent, 8);
    assert_eq!(saved.meta.normalizer.kind, NormKind::Custom4);
    let (arch, out) = (dir.join("a.hepz"), dir.join("out.npy"));
    ok(&["compress", s(&model), s(&data), "-o", s(&arch), "--max-rel-error", "1e-3", "-q"]);
    ok(&["decompress", s(&arch), "--model", s(&model), "-q", "-o", s(&out)]);
    assert_eq!(hepae::data::npy::Dataset::open(&out).unwrap().rows(), n);
    // Plain training records nothing of the kind.
    let plain = dir.join("p.safetensors");
    ok(&["train", s(&data), "-o", s(&plain), "--hidden", "16", "--latent", "3", "--epochs", "1", "-q"]);
    let p = hepae::model_io::SavedModel::from_bytes(&std::fs::read(&plain).unwrap(), &plain).unwrap();
    assert!(p.meta.training.unwrap().config.compression.is_none());
}

#[test]
fn for_compression_refuses_other_families_and_an_absurd_bound_in_one_line_writing_nothing() {
    use cli::{fails, s, scratch};
    let dir = scratch("rate-loss", "refuse");
    let x: Vec<f32> = (0..400).map(|i| 1.0 + (i % 37) as f32).collect();
    let data = dir.join("jets.npy");
    hepae::data::npy::write_npy(&data, 4, &x, None).unwrap();
    let model = dir.join("m.safetensors");
    let e = fails(&["train", s(&data), "-o", s(&model), "--for-compression", "--model", "vae"]);
    assert!(e.contains("--for-compression trains a dense --model ae only"), "{e}");
    for bound in ["0", "1", "-1e-3", "nan"] {
        let arg = format!("--compression-bound={bound}");
        let e = fails(&["train", s(&data), "-o", s(&model), "--for-compression", &arg]);
        assert!(e.contains("--compression-bound") && e.contains("must be in (0, 1)"), "{bound}: {e}");
    }
    assert!(!model.exists(), "a refused run wrote the model");
}
