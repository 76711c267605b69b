//! The safe kernel table is sound: every entry, on every kernel set this CPU has (scalar
//! included), panics naming the kernel when its slices break the length contract, instead of
//! reading or writing past them; and slices that keep the contract (including empty ones)
//! do not panic. A mismatch seen in the wild: AVX-512 `mse_grad` with a 64-element gradient
//! and a 1-element output read 63 floats past the allocation and returned 4.66e39.

use hepae_kernels::gemm::{gemm_ref, sgemm_packed_on, Epilogue};
use hepae_kernels::{available_isas, AdamStep};

#[path = "support/sets.rs"]
mod sets;
use sets::{every_set, panic_message};

/// Asserts that `f` panics with a message naming `kernel` (so the panic is the contract's,
/// not an index error deep inside) and, where given, the offending lengths.
fn assert_refused(what: &str, kernel: &str, lens: &[usize], f: impl FnOnce()) {
    let msg = panic_message(f).unwrap_or_else(|| panic!("{what}: a length mismatch was accepted"));
    assert!(msg.contains(&format!("hepae-kernels::{kernel}")), "{what}: panic does not name {kernel}: {msg}");
    for l in lens {
        assert!(msg.contains(&l.to_string()), "{what}: panic does not state the length {l}: {msg}");
    }
}

#[test]
fn mse_grad_with_grad_64_and_out_1_panics_on_every_isa() {
    for k in every_set() {
        let (mut grad, out, target) = (vec![0.0f32; 64], vec![1.0f32; 1], vec![0.0f32; 64]);
        let what = format!("{} mse_grad(64, 1, 64)", k.isa.name());
        assert_refused(&what, "mse_grad", &[64, 1], || {
            let s = (k.mse_grad)(&mut grad, &out, &target, 1.0);
            panic!("returned {s} instead of panicking"); // (does not name the kernel)
        });
        assert!(grad.iter().all(|&g| g == 0.0), "{what}: wrote to grad before refusing");
    }
}

#[test]
fn elementwise_kernels_refuse_unequal_lengths_on_every_isa() {
    let hp = AdamStep::new(1e-3, 0.9, 0.999, 1e-8, 1);
    for k in every_set() {
        let isa = k.isa.name();
        // For each kernel, every argument in turn is one element short (and one long).
        for (n, bad) in [(17usize, 16usize), (17, 18), (1, 0), (0, 1), (64, 1)] {
            let v = |i: usize, which: usize| vec![0.5f32; if i == which { bad } else { n }];
            for which in 0..2 {
                let what = format!("{isa} leaky_backward arg {which} n={n} bad={bad}");
                let (mut d, y) = (v(0, which), v(1, which));
                assert_refused(&what, "leaky_backward", &[n, bad], || (k.leaky_backward)(&mut d, &y, 0.1));
                let what = format!("{isa} l1_penalty arg {which} n={n} bad={bad}");
                let (mut da, a) = (v(0, which), v(1, which));
                assert_refused(&what, "l1_penalty", &[n, bad], || {
                    (k.l1_penalty)(&mut da, &a, 0.1);
                });
                let what = format!("{isa} kl_sparsity arg {which} n={n} bad={bad}");
                let (mut dr, q) = (v(0, which), v(1, which));
                assert_refused(&what, "kl_sparsity", &[n, bad], || {
                    (k.kl_sparsity)(&mut dr, &q, 0.05, 1.0);
                });
            }
            for which in 0..3 {
                let what = format!("{isa} mse_grad arg {which} n={n} bad={bad}");
                let (mut g, o, t) = (v(0, which), v(1, which), v(2, which));
                assert_refused(&what, "mse_grad", &[n, bad], || {
                    (k.mse_grad)(&mut g, &o, &t, 1.0);
                });
            }
            for which in 0..4 {
                let what = format!("{isa} adam_update arg {which} n={n} bad={bad}");
                let (mut p, g, mut m, mut vv) = (v(0, which), v(1, which), v(2, which), v(3, which));
                assert_refused(&what, "adam_update", &[n, bad], || (k.adam_update)(&mut p, &g, &mut m, &mut vv, &hp));
                let what = format!("{isa} reparam_forward arg {which} n={n} bad={bad}");
                let (mut z, mu, lv, e) = (v(0, which), v(1, which), v(2, which), v(3, which));
                assert_refused(&what, "reparam_forward", &[n, bad], || (k.reparam_forward)(&mut z, &mu, &lv, &e));
                let what = format!("{isa} kl_normal arg {which} n={n} bad={bad}");
                let (mut dmu, mut dlv, mu, lv) = (v(0, which), v(1, which), v(2, which), v(3, which));
                assert_refused(&what, "kl_normal", &[n, bad], || {
                    (k.kl_normal)(&mut dmu, &mut dlv, &mu, &lv, 1.0);
                });
            }
            for which in 0..5 {
                let what = format!("{isa} reparam_backward arg {which} n={n} bad={bad}");
                let (mut dmu, mut dlv, dz, lv, e) = (v(0, which), v(1, which), v(2, which), v(3, which), v(4, which));
                assert_refused(&what, "reparam_backward", &[n, bad], || {
                    (k.reparam_backward)(&mut dmu, &mut dlv, &dz, &lv, &e)
                });
            }
        }
    }
}

#[test]
fn row_kernels_refuse_a_partial_row_on_every_isa() {
    for k in every_set() {
        let isa = k.isa.name();
        // x [rows × cols] must hold whole rows; cols = 0 allows only an empty x.
        for (xlen, cols) in [(33usize, 16usize), (15, 16), (1, 2), (5, 0), (100, 3)] {
            let what = format!("{isa} bias_leaky_forward x={xlen} bias={cols}");
            let (mut x, b) = (vec![0.5f32; xlen], vec![0.1f32; cols]);
            assert_refused(&what, "bias_leaky_forward", &[xlen, cols], || (k.bias_leaky_forward)(&mut x, &b, 0.1));
            let what = format!("{isa} col_sums_add x={xlen} acc={cols}");
            let (mut acc, x) = (vec![0.0f32; cols], vec![0.5f32; xlen]);
            assert_refused(&what, "col_sums_add", &[xlen, cols], || (k.col_sums_add)(&mut acc, &x));
        }
    }
}

#[test]
fn dense_small_refuses_any_slice_of_the_wrong_shape_on_every_isa() {
    let (m, kk, n) = (2usize, 5usize, 17usize);
    for k in every_set() {
        let isa = k.isa.name();
        // out [m×n], a [m×k], wt [k×n], bias [n]: each one short and one long in turn.
        for which in 0..4 {
            for delta in [-1isize, 1] {
                let len = |i: usize, want: usize| if i == which { want.wrapping_add_signed(delta) } else { want };
                let mut out = vec![0.0f32; len(0, m * n)];
                let a = vec![0.5f32; len(1, m * kk)];
                let wt = vec![0.5f32; len(2, kk * n)];
                let bias = vec![0.5f32; len(3, n)];
                let what = format!("{isa} dense_small arg {which} {delta:+}");
                assert_refused(&what, "dense_small", &[], || (k.dense_small)(&mut out, &a, &wt, &bias, m, kk, n, 0.1));
            }
        }
        // m·n overflowing usize cannot pass as a small length.
        let what = format!("{isa} dense_small m·n overflow");
        let (mut out, a, wt, bias) = (vec![0.0f32; 0], vec![0.0f32; 0], vec![0.0f32; 0], vec![0.0f32; 2]);
        assert_refused(&what, "dense_small", &[], || {
            (k.dense_small)(&mut out, &a, &wt, &bias, usize::MAX / 2 + 1, 0, 2, 0.1)
        });
    }
}

#[test]
fn slices_that_keep_the_contract_are_accepted_on_every_isa() {
    let hp = AdamStep::new(1e-3, 0.9, 0.999, 1e-8, 1);
    for k in every_set() {
        for n in [0usize, 1, 17, 64] {
            let v = || vec![0.25f32; n];
            let (mut a, mut b, mut c, mut d) = (v(), v(), v(), v());
            (k.leaky_backward)(&mut a, &b, 0.1);
            assert_eq!((k.mse_grad)(&mut a, &b, &c, 1.0), 0.0, "{} mse of equal slices", k.isa.name());
            (k.adam_update)(&mut a, &b, &mut c, &mut d, &hp);
            (k.reparam_forward)(&mut a, &b, &c, &d);
            (k.reparam_backward)(&mut a, &mut b, &c, &d, &v());
            (k.kl_normal)(&mut a, &mut b, &c, &d, 1.0);
            (k.l1_penalty)(&mut a, &b, 1.0);
            (k.kl_sparsity)(&mut a, &b, 0.05, 1.0);
        }
        // Empty matrices, including with zero columns.
        let (mut empty, none) = (Vec::<f32>::new(), Vec::<f32>::new());
        (k.bias_leaky_forward)(&mut empty, &none, 0.1);
        (k.col_sums_add)(&mut empty, &none);
        let mut x = vec![1.0f32; 3 * 16];
        (k.bias_leaky_forward)(&mut x, &[0.5; 16], 0.1);
        assert!(x.iter().all(|&v| v == 1.5), "{} bias_leaky_forward over whole rows", k.isa.name());
        let mut acc = vec![0.0f32; 16];
        (k.col_sums_add)(&mut acc, &x);
        assert!(acc.iter().all(|&v| v == 4.5), "{} col_sums_add over whole rows", k.isa.name());
        let mut out = vec![0.0f32; 2 * 3];
        (k.dense_small)(&mut out, &[1.0; 2 * 4], &[0.5; 4 * 3], &[1.0; 3], 2, 4, 3, 0.1);
        assert_eq!(out, [3.0; 6], "{} dense_small of exact slices", k.isa.name());
    }
}

#[test]
fn gemm_refuses_views_outside_their_slices() {
    let (a, b) = (vec![1.0f32; 6], vec![1.0f32; 6]);
    // A [2×3]·B [3×2] into C [2×2], which needs 4 elements; give 3.
    let mut c = vec![0.0f32; 3];
    assert_refused("gemm_ref short C", "gemm", &[4, 3], || {
        gemm_ref(2, 3, 2, 1.0, &a, 3, 1, &b, 2, 1, 0.0, &mut c, 2, 1)
    });
    // Strides whose span overflows usize are refused, not wrapped.
    assert_refused("gemm_ref overflowing stride", "gemm", &[], || {
        gemm_ref(2, 3, 2, 1.0, &a, usize::MAX, 1, &b, 2, 1, 0.0, &mut c, 2, 1)
    });
    for isa in available_isas() {
        let mut ws = Vec::new();
        let what = format!("{} packed gemm short A", isa.name());
        let mut c = vec![0.0f32; 4];
        assert_refused(&what, "gemm", &[6, 5], || {
            sgemm_packed_on(isa, &mut ws, 2, 3, 2, 1.0, &a[..5], 3, 1, &b, 2, 1, 0.0, &mut c, 2, 1, None);
        });
        let what = format!("{} packed gemm overflowing stride", isa.name());
        assert_refused(&what, "gemm", &[], || {
            sgemm_packed_on(isa, &mut ws, 2, 3, 2, 1.0, &a, 3, 1, &b, usize::MAX / 2, 1, 0.0, &mut c, 2, 1, None);
        });
        let what = format!("{} packed gemm short epilogue bias", isa.name());
        let epi = Some(Epilogue { bias: &[0.0], slope: 1.0 });
        assert_refused(&what, "gemm", &[], || {
            sgemm_packed_on(isa, &mut ws, 2, 3, 2, 1.0, &a, 3, 1, &b, 2, 1, 0.0, &mut c, 2, 1, epi);
        });
        // In bounds: runs and gives the product of ones (3 per element).
        assert!(sgemm_packed_on(isa, &mut ws, 2, 3, 2, 1.0, &a, 3, 1, &b, 2, 1, 0.0, &mut c, 2, 1, None));
        assert_eq!(c, [3.0; 4], "{} packed gemm in bounds", isa.name());
    }
}

#[test]
fn window_kernels_refuse_a_short_side_or_a_bad_geometry_on_every_isa() {
    use hepae_kernels::window::Strided;
    let g = Strided { rows: 3, len: 8, lo: 1, hi: 7, rs: 20, step: 2 };
    let span = g.span(); // 2·20 + 5·2 + 1 = 51
    assert_eq!(span, 51);
    for k in every_set() {
        let isa = k.isa.name();
        let (mut dense, mut strided) = (vec![0.0f32; 24], vec![0.0f32; span]);
        (k.window_gather)(&mut dense, &strided, &g);
        (k.window_scatter_add)(&mut strided, &dense, &g);
        let mut short = vec![0.0f32; span - 1];
        assert_refused(&format!("{isa} gather, strided side short"), "window_gather", &[span - 1, span], || {
            (k.window_gather)(&mut dense, &short, &g)
        });
        assert_refused(&format!("{isa} scatter, strided side short"), "window_scatter_add", &[span - 1, span], || {
            (k.window_scatter_add)(&mut short, &dense, &g)
        });
        let mut wrong = vec![0.0f32; 23];
        assert_refused(&format!("{isa} gather, contiguous side 23"), "window_gather", &[23], || {
            (k.window_gather)(&mut wrong, &strided, &g)
        });
        assert_refused(&format!("{isa} scatter, contiguous side 23"), "window_scatter_add", &[23], || {
            (k.window_scatter_add)(&mut strided, &wrong, &g)
        });
        let past = Strided { hi: 9, ..g };
        assert_refused(&format!("{isa} gather, hi past len"), "window_gather", &[9, 8], || {
            (k.window_gather)(&mut dense, &strided, &past)
        });
        let still = Strided { step: 0, ..g };
        assert_refused(&format!("{isa} scatter, step 0"), "window_scatter_add", &[], || {
            (k.window_scatter_add)(&mut strided, &dense, &still)
        });
    }
}

#[test]
fn rows_kernels_refuse_a_short_block_on_every_isa() {
    use hepae_kernels::window::Rows;
    let g = Rows { rows: 3, len: 5, a_rs: 8, b_rs: 6 };
    let (sa, sb) = (g.span(8), g.span(6)); // 21 and 17
    assert_eq!((sa, sb), (21, 17));
    for k in every_set() {
        let isa = k.isa.name();
        let (mut a, b) = (vec![0.0f32; sa], vec![0.0f32; sb]);
        (k.rows_axpy)(&mut a, &b, 1.0, &g);
        assert_eq!((k.rows_dot)(&a, &b, &g), 0.0);
        let mut short = vec![0.0f32; sa - 1];
        assert_refused(&format!("{isa} rows_axpy, a short"), "rows_axpy", &[sa - 1, sa], || {
            (k.rows_axpy)(&mut short, &b, 1.0, &g)
        });
        assert_refused(&format!("{isa} rows_dot, b short"), "rows_dot", &[sb - 1, sb], || {
            (k.rows_dot)(&a, &b[..sb - 1], &g);
        });
    }
}
