//! Every SIMD kernel set this CPU has, against the scalar reference: lengths 0..=67 (every
//! size up to past 2×16 + 1, so every mask pattern of AVX2 and AVX-512) and large odd ones,
//! random data, the one closeness helper. A CPU that has AVX-512 (or AVX2) must run it: a
//! skipped ISA is not a pass.

use hepae_kernels::close::{assert_slices_close, is_close};
use hepae_kernels::{available_isas, kernels_for, AdamStep, Isa, Kernels};
use rand::{Rng, SeedableRng};

fn simd_sets() -> Vec<&'static Kernels> {
    available_isas().into_iter().filter(|&i| i != Isa::Scalar).filter_map(kernels_for).collect()
}

fn scalar() -> &'static Kernels {
    kernels_for(Isa::Scalar).unwrap()
}

/// Panics unless `got` and `want` hold the same f32 bit patterns.
fn assert_bits_equal(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.to_bits(), w.to_bits(), "{what}: element {i}: {g} vs {w}");
    }
}

fn lengths() -> Vec<usize> {
    (0..=67).chain([255, 1001, 4099]).collect()
}

fn rnd(r: &mut impl Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| r.random_range(lo..hi)).collect()
}

fn close64(got: f64, want: f64, what: &str) {
    assert!(is_close(got, want, 1e-9, 1e-6), "{what}: got {got}, want {want}");
}

#[test]
fn the_cpu_s_simd_sets_are_the_ones_tested() {
    let have = available_isas();
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            assert!(have.contains(&Isa::Avx512), "CPU has AVX-512F but the AVX-512 kernels are not available");
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            assert!(have.contains(&Isa::Avx2), "CPU has AVX2+FMA but the AVX2 kernels are not available");
        }
    }
    if let Ok(expect) = std::env::var("HEPAE_EXPECT_ISA") {
        for name in expect.split(',') {
            let isa = Isa::parse(name).unwrap_or_else(|| panic!("HEPAE_EXPECT_ISA: unknown ISA {name}"));
            assert!(have.contains(&isa), "HEPAE_EXPECT_ISA={expect} but {name} is not available here");
            assert!(kernels_for(isa).is_some());
        }
    }
    assert_eq!(have[0], Isa::Scalar);
}

#[test]
fn elementwise_kernels_match_scalar_at_every_length() {
    let mut r = rand::rngs::StdRng::seed_from_u64(1);
    for k in simd_sets() {
        let isa = k.isa.name();
        for n in lengths() {
            let y = rnd(&mut r, n, -1.0, 1.0);
            let d = rnd(&mut r, n, -2.0, 2.0);
            let (mut a, mut b) = (d.clone(), d.clone());
            (scalar().leaky_backward)(&mut a, &y, 0.03);
            (k.leaky_backward)(&mut b, &y, 0.03);
            assert_slices_close(&b, &a, 0.0, 0.0, &format!("{isa} leaky_backward n={n}"));

            let out = rnd(&mut r, n, -1.0, 2.0);
            let target = rnd(&mut r, n, 0.0, 1.0);
            let (mut ga, mut gb) = (vec![0.0; n], vec![0.0; n]);
            let sa = (scalar().mse_grad)(&mut ga, &out, &target, 0.37);
            let sb = (k.mse_grad)(&mut gb, &out, &target, 0.37);
            assert_slices_close(&gb, &ga, 0.0, 0.0, &format!("{isa} mse_grad n={n}"));
            close64(sb, sa, &format!("{isa} mse sum n={n}"));

            let (mut pa, mut ma, mut va) =
                (rnd(&mut r, n, -1.0, 1.0), rnd(&mut r, n, -0.1, 0.1), rnd(&mut r, n, 0.0, 0.01));
            let (mut pb, mut mb, mut vb) = (pa.clone(), ma.clone(), va.clone());
            let g = rnd(&mut r, n, -1.0, 1.0);
            let hp = AdamStep::new(1e-3, 0.9, 0.999, 1e-8, 7);
            (scalar().adam_update)(&mut pa, &g, &mut ma, &mut va, &hp);
            (k.adam_update)(&mut pb, &g, &mut mb, &mut vb, &hp);
            assert_slices_close(&mb, &ma, 1e-9, 1e-6, &format!("{isa} adam m n={n}"));
            assert_slices_close(&vb, &va, 1e-12, 1e-6, &format!("{isa} adam v n={n}"));
            assert_slices_close(&pb, &pa, 1e-7, 1e-6, &format!("{isa} adam p n={n}"));

            let mu = rnd(&mut r, n, -2.0, 2.0);
            let lv = rnd(&mut r, n, -8.0, 4.0);
            let eps = rnd(&mut r, n, -3.0, 3.0);
            let (mut za, mut zb) = (vec![0.0; n], vec![0.0; n]);
            (scalar().reparam_forward)(&mut za, &mu, &lv, &eps);
            (k.reparam_forward)(&mut zb, &mu, &lv, &eps);
            assert_slices_close(&zb, &za, 1e-6, 1e-5, &format!("{isa} reparam_forward n={n}"));

            let dz = rnd(&mut r, n, -1.0, 1.0);
            let (mut dma, mut dla) = (rnd(&mut r, n, -1.0, 1.0), rnd(&mut r, n, -1.0, 1.0));
            let (mut dmb, mut dlb) = (dma.clone(), dla.clone());
            (scalar().reparam_backward)(&mut dma, &mut dla, &dz, &lv, &eps);
            (k.reparam_backward)(&mut dmb, &mut dlb, &dz, &lv, &eps);
            assert_slices_close(&dmb, &dma, 1e-6, 1e-5, &format!("{isa} reparam_backward dμ n={n}"));
            assert_slices_close(&dlb, &dla, 1e-6, 1e-5, &format!("{isa} reparam_backward dlv n={n}"));

            let (mut dma, mut dla) = (vec![0.1; n], vec![-0.1; n]);
            let (mut dmb, mut dlb) = (dma.clone(), dla.clone());
            let ka = (scalar().kl_normal)(&mut dma, &mut dla, &mu, &lv, 0.25);
            let kb = (k.kl_normal)(&mut dmb, &mut dlb, &mu, &lv, 0.25);
            assert_slices_close(&dmb, &dma, 1e-6, 1e-5, &format!("{isa} kl dμ n={n}"));
            assert_slices_close(&dlb, &dla, 1e-6, 1e-5, &format!("{isa} kl dlv n={n}"));
            assert!(is_close(kb, ka, 1e-5, 1e-5), "{isa} kl sum n={n}: {kb} vs {ka}");

            let act: Vec<f32> = rnd(&mut r, n, -1.0, 1.0)
                .into_iter()
                .enumerate()
                .map(|(i, v)| if i % 7 == 0 { 0.0 } else { v })
                .collect();
            let (mut da, mut db) = (vec![0.5; n], vec![0.5; n]);
            let la = (scalar().l1_penalty)(&mut da, &act, 0.2);
            let lb = (k.l1_penalty)(&mut db, &act, 0.2);
            assert_slices_close(&db, &da, 0.0, 0.0, &format!("{isa} l1 grad n={n}"));
            close64(lb, la, &format!("{isa} l1 sum n={n}"));

            let rho_hat = rnd(&mut r, n, 0.01, 0.99);
            let (mut ra, mut rb) = (vec![0.0; n], vec![0.0; n]);
            let sa = (scalar().kl_sparsity)(&mut ra, &rho_hat, 0.05, 0.7);
            let sb = (k.kl_sparsity)(&mut rb, &rho_hat, 0.05, 0.7);
            assert_slices_close(&rb, &ra, 1e-6, 1e-5, &format!("{isa} kl_sparsity grad n={n}"));
            assert!(is_close(sb, sa, 1e-5, 1e-5), "{isa} kl_sparsity sum n={n}: {sb} vs {sa}");
        }
    }
}

#[test]
fn row_kernels_match_scalar_for_ragged_column_counts() {
    let mut r = rand::rngs::StdRng::seed_from_u64(2);
    for k in simd_sets() {
        let isa = k.isa.name();
        for cols in [1usize, 2, 3, 7, 8, 9, 15, 16, 17, 24, 31, 33, 50, 100, 129, 200] {
            for rows in [0usize, 1, 2, 5, 17] {
                let x = rnd(&mut r, rows * cols, -1.0, 1.0);
                let bias = rnd(&mut r, cols, -0.5, 0.5);
                for slope in [0.01f32, 1.0] {
                    let (mut a, mut b) = (x.clone(), x.clone());
                    (scalar().bias_leaky_forward)(&mut a, &bias, slope);
                    (k.bias_leaky_forward)(&mut b, &bias, slope);
                    assert_slices_close(&b, &a, 0.0, 0.0, &format!("{isa} bias_leaky {rows}x{cols} slope {slope}"));
                }
                let (mut sa, mut sb) = (bias.clone(), bias.clone());
                (scalar().col_sums_add)(&mut sa, &x);
                (k.col_sums_add)(&mut sb, &x);
                assert_slices_close(
                    &sb,
                    &sa,
                    0.0,
                    0.0,
                    &format!("{isa} col_sums {rows}x{cols} (same order, same bits)"),
                );
            }
        }
    }
}

#[test]
fn dense_small_matches_scalar_for_the_encoder_shapes_and_ragged_ones() {
    let mut r = rand::rngs::StdRng::seed_from_u64(3);
    for k in simd_sets() {
        let isa = k.isa.name();
        for m in [1usize, 2, 3] {
            for kk in [1usize, 4, 7, 15, 16, 17, 24, 50, 100, 200] {
                for n in [1usize, 3, 15, 16, 17, 50, 100, 129, 200] {
                    let a = rnd(&mut r, m * kk, -1.0, 1.0);
                    let wt = rnd(&mut r, kk * n, -0.3, 0.3);
                    let bias = rnd(&mut r, n, -0.2, 0.2);
                    let (mut oa, mut ob) = (vec![f32::NAN; m * n], vec![f32::NAN; m * n]);
                    (scalar().dense_small)(&mut oa, &a, &wt, &bias, m, kk, n, 0.01);
                    (k.dense_small)(&mut ob, &a, &wt, &bias, m, kk, n, 0.01);
                    assert_slices_close(&ob, &oa, 1e-5, 1e-5, &format!("{isa} dense_small m={m} k={kk} n={n}"));
                }
            }
        }
    }
}

#[test]
fn packed_gemm_matches_the_reference_for_every_transpose_and_ragged_shape() {
    use hepae_kernels::gemm::{gemm_ref, sgemm_packed_on, KC, MC, MR, NC};
    let mut r = rand::rngs::StdRng::seed_from_u64(4);
    let shapes = [
        (1, 1, 1),
        (5, 2, 7),
        (7, 9, 9),
        (MR - 1, 3, 15),
        (MR + 1, 24, 17),
        (37, 50, 33),
        (512, 24, 200),
        (200, 512, 24),
        (64, KC + 7, 48),
        (MC + 5, 15, NC + 40),
        (13, 2 * KC + 1, 16),
    ];
    for isa in available_isas() {
        let mut ws = Vec::new();
        let mut ws_scalar = Vec::new();
        for &(m, k, n) in &shapes {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                for beta in [0.0f32, 1.0, 0.5] {
                    let a = rnd(&mut r, m * k, -1.0, 1.0);
                    let b = rnd(&mut r, k * n, -1.0, 1.0);
                    let (rsa, csa) = if ta { (1, m) } else { (k, 1) };
                    let (rsb, csb) = if tb { (1, k) } else { (n, 1) };
                    let c0 = rnd(&mut r, m * n, -1.0, 1.0);
                    let (mut want, mut got) = (c0.clone(), c0.clone());
                    gemm_ref(m, k, n, 0.75, &a, rsa, csa, &b, rsb, csb, beta, &mut want, n, 1);
                    let ran = sgemm_packed_on(
                        isa, &mut ws, m, k, n, 0.75, &a, rsa, csa, &b, rsb, csb, beta, &mut got, n, 1, None,
                    );
                    assert!(ran, "{isa:?}: the packed GEMM did not run");
                    let tol = 1e-5 * (k as f64).sqrt();
                    let what = format!("{isa:?} gemm {m}x{k}x{n} ta={ta} tb={tb} β={beta}");
                    assert_slices_close(&got, &want, tol, 1e-4, &what);
                    // Every set's packed GEMM gives the scalar set's bits (FMA, k in order,
                    // same K-blocks): a model decodes alike under every ISA.
                    let mut scalar_got = c0.clone();
                    let s = Isa::Scalar;
                    let ran = sgemm_packed_on(
                        s,
                        &mut ws_scalar,
                        m,
                        k,
                        n,
                        0.75,
                        &a,
                        rsa,
                        csa,
                        &b,
                        rsb,
                        csb,
                        beta,
                        &mut scalar_got,
                        n,
                        1,
                        None,
                    );
                    assert!(ran, "the scalar packed GEMM did not run");
                    assert_bits_equal(&got, &scalar_got, &what);
                }
            }
        }
    }
    let Some(isa) = simd_sets().last().map(|s| s.isa) else {
        return; // no SIMD set (the ISA-expectation test above fails if one should be here)
    };
    let mut ws = Vec::new();
    let sgemm_packed =
        |ws: &mut Vec<f32>, m, k, n, alpha, a: &[f32], rsa, csa, b: &[f32], rsb, csb, beta, c: &mut [f32], rsc, csc| {
            sgemm_packed_on(isa, ws, m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc, None)
        };
    // β = 0 must not read C: NaN in C stays out of the result.
    let mut c = vec![f32::NAN; 4];
    assert!(sgemm_packed(
        &mut ws,
        2,
        2,
        2,
        1.0,
        &[1.0, 0.0, 0.0, 1.0],
        2,
        1,
        &[1.0, 2.0, 3.0, 4.0],
        2,
        1,
        0.0,
        &mut c,
        2,
        1
    ));
    assert_eq!(c, [1.0, 2.0, 3.0, 4.0]);
    // The workspace, once grown, is not grown again.
    let cap = ws.capacity();
    let mut c = vec![0.0; 512 * 200];
    let a = rnd(&mut r, 512 * 24, -1.0, 1.0);
    let b = rnd(&mut r, 24 * 200, -1.0, 1.0);
    assert!(sgemm_packed(&mut ws, 512, 24, 200, 1.0, &a, 24, 1, &b, 200, 1, 0.0, &mut c, 200, 1));
    assert_eq!(ws.capacity(), cap);
}

#[test]
fn packed_gemm_epilogue_equals_gemm_then_bias_and_leaky() {
    use hepae_kernels::gemm::{gemm_ref, sgemm_packed_on, Epilogue};
    let mut r = rand::rngs::StdRng::seed_from_u64(5);
    for (isa, &(m, k, n)) in available_isas().into_iter().flat_map(|isa| {
        [(1, 1, 1), (13, 24, 200), (512, 200, 15), (37, 300, 33), (4, 50, 16), (7, 24, 9)].iter().map(move |s| (isa, s))
    }) {
        let mut ws = Vec::new();
        for slope in [0.01f32, 1.0] {
            let a = rnd(&mut r, m * k, -1.0, 1.0);
            let b = rnd(&mut r, k * n, -1.0, 1.0);
            let bias = rnd(&mut r, n, -0.5, 0.5);
            let mut want = vec![0.0; m * n];
            gemm_ref(m, k, n, 1.0, &a, k, 1, &b, 1, k, 0.0, &mut want, n, 1);
            (scalar().bias_leaky_forward)(&mut want, &bias, slope);
            let mut got = vec![f32::NAN; m * n];
            assert!(sgemm_packed_on(
                isa,
                &mut ws,
                m,
                k,
                n,
                1.0,
                &a,
                k,
                1,
                &b,
                1,
                k,
                0.0,
                &mut got,
                n,
                1,
                Some(Epilogue { bias: &bias, slope })
            ));
            assert_slices_close(
                &got,
                &want,
                1e-5 * (k as f64).sqrt(),
                1e-4,
                &format!("{isa:?} epilogue {m}x{k}x{n} slope {slope}"),
            );
            let mut scalar_got = vec![f32::NAN; m * n];
            let epi = Some(Epilogue { bias: &bias, slope });
            let s = Isa::Scalar;
            assert!(sgemm_packed_on(s, &mut ws, m, k, n, 1.0, &a, k, 1, &b, 1, k, 0.0, &mut scalar_got, n, 1, epi));
            assert_bits_equal(&got, &scalar_got, &format!("{isa:?} vs scalar epilogue {m}x{k}x{n} slope {slope}"));
        }
    }
}

#[test]
fn exp_and_ln_match_the_standard_library_across_their_range() {
    // exp through reparam_forward (μ = 0, ε = 1: z = e^{½lv}) over arguments −85…85, whose
    // results stay normal; ln through one-element kl_sparsity sums for ρ̂ from 1e-6 to 1 − 1e-6.
    let lv: Vec<f32> = (0..=3400).map(|i| -170.0 + i as f32 * 0.1).collect();
    let (mu, eps) = (vec![0.0f32; lv.len()], vec![1.0f32; lv.len()]);
    let q: Vec<f32> = (0..=600).map(|i| 10f32.powf(-6.0 + i as f32 * 0.01)).filter(|&q| q < 1.0 - 1e-6).collect();
    let q: Vec<f32> = q.iter().copied().chain(q.iter().map(|&q| 1.0 - q)).collect();
    for k in simd_sets() {
        let isa = k.isa.name();
        let (mut za, mut zb) = (vec![0.0; lv.len()], vec![0.0; lv.len()]);
        (scalar().reparam_forward)(&mut za, &mu, &lv, &eps);
        (k.reparam_forward)(&mut zb, &mu, &lv, &eps);
        assert_slices_close(&zb, &za, 0.0, 4e-7, &format!("{isa} exp"));
        for &qj in &q {
            let (mut ra, mut rb) = ([0.0f32], [0.0f32]);
            let sa = (scalar().kl_sparsity)(&mut ra, &[qj], 0.05, 1.0);
            let sb = (k.kl_sparsity)(&mut rb, &[qj], 0.05, 1.0);
            assert!(is_close(sb, sa, 1e-6, 1e-6), "{isa} ln via kl_sparsity at ρ̂ = {qj}: {sb} vs {sa}");
        }
    }
}

/// The im2col/col2im tap geometries: every contiguous length up to 2×16 + 3 (each mask
/// pattern, both stride-2 loads), every placement of the image's positions in it (zero
/// fill on either side, none inside), strides 1–3, rows 0–3, row strides with gaps.
fn window_geometries() -> Vec<hepae_kernels::window::Strided> {
    let mut out = Vec::new();
    for step in 1..=3 {
        for len in (0usize..=35).chain([40, 67]) {
            for (lo, hi) in [
                (0, len),
                (1.min(len), len),
                (0, len.saturating_sub(1)),
                (1.min(len), len.saturating_sub(1).max(1.min(len))),
                (len / 2, len / 2),
            ] {
                for rows in 0..=3 {
                    let n = hi - lo;
                    let rs = (n.max(1) - 1) * step + 1 + (rows % 2) * 3;
                    out.push(hepae_kernels::window::Strided { rows, len, lo, hi, rs, step });
                }
            }
        }
    }
    out
}

#[test]
fn window_gather_and_scatter_add_match_scalar_bit_for_bit() {
    let mut r = rand::rngs::StdRng::seed_from_u64(7);
    let sets = simd_sets();
    for g in window_geometries() {
        let strided = rnd(&mut r, g.span() + 2, -1.0, 1.0);
        let dense = rnd(&mut r, g.rows * g.len, -1.0, 1.0);
        let mut want = vec![f32::NAN; dense.len()];
        (scalar().window_gather)(&mut want, &strided, &g);
        let mut want_acc = strided.clone();
        (scalar().window_scatter_add)(&mut want_acc, &dense, &g);
        for k in &sets {
            let mut got = vec![f32::NAN; dense.len()];
            (k.window_gather)(&mut got, &strided, &g);
            assert_bits_equal(&got, &want, &format!("{} window_gather {g:?}", k.isa.name()));
            let mut acc = strided.clone();
            (k.window_scatter_add)(&mut acc, &dense, &g);
            assert_bits_equal(&acc, &want_acc, &format!("{} window_scatter_add {g:?}", k.isa.name()));
        }
    }
}

#[test]
fn scalar_window_kernels_follow_their_definition() {
    // Two rows of 5 positions, positions 1..4 in the image, at step 2, rows 7 apart.
    let g = hepae_kernels::window::Strided { rows: 2, len: 5, lo: 1, hi: 4, rs: 7, step: 2 };
    assert_eq!(g.span(), 7 + 4 + 1);
    let src: Vec<f32> = (0..12).map(|v| v as f32).collect();
    let mut dst = [f32::NAN; 10];
    (scalar().window_gather)(&mut dst, &src, &g);
    assert_eq!(dst, [0.0, 0.0, 2.0, 4.0, 0.0, 0.0, 7.0, 9.0, 11.0, 0.0]);
    let mut img = vec![0.0f32; 12];
    (scalar().window_scatter_add)(&mut img, &[9.0, 1.0, 2.0, 3.0, 9.0, 9.0, 4.0, 5.0, 6.0, 9.0], &g);
    assert_eq!(img, [1.0, 0.0, 2.0, 0.0, 3.0, 0.0, 0.0, 4.0, 0.0, 5.0, 0.0, 6.0]);
}

#[test]
fn rows_axpy_rows_dot_and_rows_copy_match_scalar_for_ragged_rows() {
    use hepae_kernels::window::Rows;
    let mut r = rand::rngs::StdRng::seed_from_u64(11);
    let sets = simd_sets();
    for len in (0usize..=40).chain([67, 129]) {
        for rows in 0..=4 {
            for (a_rs, b_rs) in [(len, len), (len + 1, len + 5), (len + 17, len)] {
                let g = Rows { rows, len, a_rs, b_rs };
                let a0 = rnd(&mut r, g.span(a_rs) + 1, -1.0, 1.0);
                let b = rnd(&mut r, g.span(b_rs) + 3, -1.0, 1.0);
                let mut want = a0.clone();
                (scalar().rows_axpy)(&mut want, &b, 0.73, &g);
                let want_dot = (scalar().rows_dot)(&a0, &b, &g);
                let mut want_copy = a0.clone();
                (scalar().rows_copy)(&mut want_copy, &b, &g);
                for k in &sets {
                    let mut got = a0.clone();
                    (k.rows_copy)(&mut got, &b, &g);
                    assert_bits_equal(&got, &want_copy, &format!("{} rows_copy {g:?}", k.isa.name()));
                    let mut got = a0.clone();
                    (k.rows_axpy)(&mut got, &b, 0.73, &g);
                    assert_bits_equal(&got, &want, &format!("{} rows_axpy {g:?}", k.isa.name()));
                    let dot = (k.rows_dot)(&a0, &b, &g);
                    // The same partial sums in the same order: equal bits (±0 aside).
                    assert!(dot == want_dot, "{} rows_dot {g:?}: {dot} vs {want_dot}", k.isa.name());
                }
            }
        }
    }
    // By hand: two rows of 3, a rows 4 apart, b rows 3 apart.
    let g = Rows { rows: 2, len: 3, a_rs: 4, b_rs: 3 };
    let (a, b) = ([1.0f32, 2.0, 3.0, 9.0, 4.0, 5.0, 6.0], [1.0f32, 1.0, 2.0, 0.5, 0.5, 1.0]);
    assert_eq!((scalar().rows_dot)(&a, &b, &g), 1.0 + 2.0 + 6.0 + 2.0 + 2.5 + 6.0);
    let mut y = a;
    (scalar().rows_axpy)(&mut y, &b, 2.0, &g);
    assert_eq!(y, [3.0, 4.0, 7.0, 9.0, 5.0, 6.0, 8.0]);
    let mut y = a;
    (scalar().rows_copy)(&mut y, &b, &g);
    assert_eq!(y, [1.0, 1.0, 2.0, 9.0, 0.5, 0.5, 1.0]);
}
