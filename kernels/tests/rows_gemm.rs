//! The implicit-GEMM kernels of a convolution over planes (`Kernels::rows_gemm`,
//! `Kernels::rows_gemm_dot`): every kernel set this CPU runs gives the scalar reference's
//! bits (NaN as NaN) over ragged shapes (m, n, len not multiples of the vector width or the
//! register tile, k = 0 and 1, lda > k, ldc > n, offsets not multiples of 16 with
//! overlapping ranges, image strides not multiples of 16), with ±0, subnormals, tiny
//! values whose products underflow, NaN and ±∞ among the inputs, and touches no c value
//! outside its outputs; the reference itself equals an f64 textbook loop to rounding; each
//! length contract is refused with a panic naming the kernel, and empty shapes are not.

use hepae_kernels::rows_gemm::{rows_gemm_dot_scalar, rows_gemm_scalar, RowsGemm, RowsGemmDot};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "support/sets.rs"]
mod sets;
use sets::{every_set, panic_message};

/// A value no kernel writes: c outside the outputs must keep it.
const SENTINEL: f32 = -7.25e13;

/// How a case's inputs are drawn.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Uniform in [−1, 1).
    Plain,
    /// Plain, with a few ±0, subnormals, NaN and ±∞.
    Special,
    /// ±0, subnormals and values near 1e-20 (products underflow to ±0 or to subnormals).
    Tiny,
}

const MODES: [Mode; 3] = [Mode::Plain, Mode::Special, Mode::Tiny];

fn value(r: &mut StdRng, mode: Mode) -> f32 {
    let plain = r.random_range(-1.0f32..1.0);
    match mode {
        Mode::Plain => plain,
        Mode::Special => match r.random_range(0..100) {
            0 => f32::NAN,
            1 => f32::INFINITY,
            2 => f32::NEG_INFINITY,
            3 | 4 => 0.0,
            5 | 6 => -0.0,
            7 | 8 => plain * 1e-39,
            _ => plain,
        },
        Mode::Tiny => match r.random_range(0..6) {
            0 => 0.0,
            1 => -0.0,
            2 => plain * 1e-39,
            _ => plain * 1e-20,
        },
    }
}

fn values(r: &mut StdRng, n: usize, mode: Mode) -> Vec<f32> {
    (0..n).map(|_| value(r, mode)).collect()
}

/// Same bits, or both NaN.
fn same(x: f32, y: f32) -> bool {
    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
}

fn assert_same(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (at, (&x, &y)) in got.iter().zip(want).enumerate() {
        assert!(
            same(x, y),
            "{what}: c[{at}] = {x:e} ({:#010x}), the reference gives {y:e} ({:#010x})",
            x.to_bits(),
            y.to_bits()
        );
    }
}

/// A c buffer of m rows ldc apart (plus a few values past the end): values at the outputs
/// (i < m, j < n), the sentinel elsewhere.
fn c_buffer(r: &mut StdRng, m: usize, n: usize, ldc: usize, mode: Mode) -> Vec<f32> {
    let mut c = vec![SENTINEL; m * ldc + 5];
    for i in 0..m {
        for x in &mut c[i * ldc..][..n] {
            *x = value(r, mode);
        }
    }
    c
}

/// The sentinel is still at every c index that is not an output.
fn assert_outside_untouched(c: &[f32], m: usize, n: usize, ldc: usize, what: &str) {
    for (at, &x) in c.iter().enumerate() {
        let output = at / ldc < m && at % ldc < n;
        if !output {
            assert_eq!(x.to_bits(), SENTINEL.to_bits(), "{what}: c[{at}] outside the outputs was written");
        }
    }
}

/// `k` offsets into a b of `n` + extra values, each range offs..offs + n inside it; most
/// ranges overlap and few offsets are multiples of 16.
fn offsets(r: &mut StdRng, k: usize, span: usize) -> Vec<usize> {
    (0..k).map(|_| r.random_range(0..=span)).collect()
}

#[test]
fn rows_gemm_every_set_gives_the_references_bits_on_ragged_shapes_and_touches_nothing_else() {
    let sets = every_set();
    let mut r = StdRng::seed_from_u64(15);
    let mut case = 0usize;
    for m in [1, 2, 3, 5, 8, 9, 16, 17, 33] {
        for n in [1, 7, 15, 16, 17, 33, 47, 48, 49, 90, 130, 200] {
            for k in [0, 1, 3, 9, 72] {
                for accumulate in [false, true] {
                    case += 1;
                    let mode = MODES[case % MODES.len()];
                    let lda = k + [0, 1, 5][case % 3];
                    let ldc = n + [0, 3, 17][(case / 3) % 3];
                    let extra = r.random_range(1..90);
                    let b = values(&mut r, n + extra, mode);
                    let offs = offsets(&mut r, k, extra);
                    let a = values(&mut r, m * lda + 2, mode);
                    let c0 = c_buffer(&mut r, m, n, ldc, mode);
                    let g = RowsGemm { m, n, k, lda, ldc, accumulate };
                    let mut want = c0.clone();
                    rows_gemm_scalar(&mut want, &a, &b, &offs, &g);
                    assert_outside_untouched(&want, m, n, ldc, &format!("reference {g:?}"));
                    for set in &sets {
                        let what = format!("{} rows_gemm {g:?} {mode:?} offs {offs:?}", set.isa.name());
                        let mut got = c0.clone();
                        (set.rows_gemm)(&mut got, &a, &b, &offs, &g);
                        assert_outside_untouched(&got, m, n, ldc, &what);
                        assert_same(&got, &want, &what);
                    }
                }
            }
        }
    }
}

#[test]
fn rows_gemm_dot_every_set_gives_the_references_bits_on_ragged_shapes_and_touches_nothing_else() {
    let sets = every_set();
    let mut r = StdRng::seed_from_u64(16);
    let mut case = 0usize;
    for m in [1, 2, 3, 5, 8, 9, 16, 17, 33] {
        for nr in [1, 2, 3, 5, 6, 7, 9, 13] {
            for len in [1, 15, 16, 17, 100] {
                for images in [1, 3] {
                    case += 1;
                    let mode = MODES[case % MODES.len()];
                    let lda = len + [0, 1, 7][case % 3];
                    let ldc = nr + [0, 2, 9][(case / 3) % 3];
                    let extra = r.random_range(1..40);
                    // Image strides not multiples of 16: a's images m·lda + 3 apart, b's
                    // len + extra + 5 apart.
                    let (a_is, b_is) = (m * lda + 3, len + extra + 5);
                    let a = values(&mut r, (images - 1) * a_is + m * lda, mode);
                    let b = values(&mut r, (images - 1) * b_is + len + extra, mode);
                    let offs = offsets(&mut r, nr, extra);
                    let c0 = c_buffer(&mut r, m, nr, ldc, mode);
                    let g = RowsGemmDot { m, r: nr, len, lda, ldc, images, a_is, b_is };
                    let mut want = c0.clone();
                    rows_gemm_dot_scalar(&mut want, &a, &b, &offs, &g);
                    assert_outside_untouched(&want, m, nr, ldc, &format!("reference {g:?}"));
                    for set in &sets {
                        let what = format!("{} rows_gemm_dot {g:?} {mode:?} offs {offs:?}", set.isa.name());
                        let mut got = c0.clone();
                        (set.rows_gemm_dot)(&mut got, &a, &b, &offs, &g);
                        assert_outside_untouched(&got, m, nr, ldc, &what);
                        assert_same(&got, &want, &what);
                    }
                }
            }
        }
    }
}

#[test]
fn rows_gemm_reference_equals_an_f64_textbook_loop() {
    let mut r = StdRng::seed_from_u64(17);
    for (m, n, k, accumulate) in [(5, 37, 27, false), (9, 130, 72, true)] {
        let (lda, ldc, extra) = (k + 2, n + 1, 61);
        let b = values(&mut r, n + extra, Mode::Plain);
        let offs = offsets(&mut r, k, extra);
        let a = values(&mut r, m * lda, Mode::Plain);
        let c0 = c_buffer(&mut r, m, n, ldc, Mode::Plain);
        let mut got = c0.clone();
        rows_gemm_scalar(&mut got, &a, &b, &offs, &RowsGemm { m, n, k, lda, ldc, accumulate });
        for i in 0..m {
            for j in 0..n {
                let start = if accumulate { c0[i * ldc + j] as f64 } else { 0.0 };
                let terms = (0..k).map(|q| a[i * lda + q] as f64 * b[offs[q] + j] as f64);
                let (sum, size) = terms.fold((start, start.abs()), |(s, z), t| (s + t, z + t.abs()));
                let x = got[i * ldc + j] as f64;
                assert!(
                    (x - sum).abs() <= 1e-6 * size + 1e-30,
                    "c[{i}, {j}] = {x}, the f64 sum is {sum} ({m}×{n}×{k})"
                );
            }
        }
    }
}

#[test]
fn rows_gemm_dot_reference_equals_an_f64_textbook_loop() {
    let mut r = StdRng::seed_from_u64(18);
    let (m, nr, len, images) = (3, 7, 101, 3);
    let (lda, ldc, extra) = (len + 1, nr + 2, 23);
    let (a_is, b_is) = (m * lda + 5, len + extra + 1);
    let a = values(&mut r, (images - 1) * a_is + m * lda, Mode::Plain);
    let b = values(&mut r, (images - 1) * b_is + len + extra, Mode::Plain);
    let offs = offsets(&mut r, nr, extra);
    let c0 = c_buffer(&mut r, m, nr, ldc, Mode::Plain);
    let mut got = c0.clone();
    rows_gemm_dot_scalar(&mut got, &a, &b, &offs, &RowsGemmDot { m, r: nr, len, lda, ldc, images, a_is, b_is });
    for i in 0..m {
        for (u, &o) in offs.iter().enumerate() {
            let start = c0[i * ldc + u] as f64;
            let (mut sum, mut size) = (start, start.abs());
            for img in 0..images {
                for t in 0..len {
                    let p = a[img * a_is + i * lda + t] as f64 * b[img * b_is + o + t] as f64;
                    sum += p;
                    size += p.abs();
                }
            }
            let x = got[i * ldc + u] as f64;
            assert!((x - sum).abs() <= 1e-6 * size, "c[{i}, {u}] = {x}, the f64 sum is {sum}");
        }
    }
}

/// A call with one broken length: what breaks, a, b, offs and the length of c.
type Broken = (&'static str, Vec<f32>, Vec<f32>, Vec<usize>, usize);

/// `f` panics with a message naming `kernel` (the contract's panic, not an index error).
fn assert_refused(what: &str, kernel: &str, f: impl FnOnce()) {
    let msg = panic_message(f).unwrap_or_else(|| panic!("{what}: a length mismatch was accepted"));
    assert!(msg.contains(&format!("hepae-kernels::{kernel}:")), "{what}: panic does not name {kernel}: {msg}");
}

#[test]
fn rows_gemm_refuses_each_broken_length_contract_before_writing() {
    let (m, n, k, lda, ldc) = (3, 20, 4, 5, 22);
    let g = RowsGemm { m, n, k, lda, ldc, accumulate: false };
    let a = vec![1.0f32; (m - 1) * lda + k];
    let b = vec![1.0f32; 40];
    let offs = vec![0, 3, 19, 20];
    let c_len = (m - 1) * ldc + n;
    for set in every_set() {
        let isa = set.isa.name();
        let f = set.rows_gemm;
        let mut c = vec![SENTINEL; c_len];
        f(&mut c, &a, &b, &offs, &g); // the contract kept: no panic
        for i in 0..m {
            assert!(c[i * ldc..][..n].iter().all(|&x| x == k as f32), "{isa}: Σ of k ones");
        }
        assert_outside_untouched(&c, m, n, ldc, isa);
        let cases: [Broken; 5] = [
            ("offs short", a.clone(), b.clone(), offs[..k - 1].to_vec(), c_len),
            ("offs long", a.clone(), b.clone(), [&offs[..], &[0]].concat(), c_len),
            ("a range runs past b", a.clone(), b.clone(), vec![0, 3, 19, 21], c_len),
            ("a short", a[..a.len() - 1].to_vec(), b.clone(), offs.clone(), c_len),
            ("c short", a.clone(), b.clone(), offs.clone(), c_len - 1),
        ];
        for (what, a, b, offs, c_len) in cases {
            let mut c = vec![SENTINEL; c_len];
            assert_refused(&format!("{isa} rows_gemm, {what}"), "rows_gemm", || f(&mut c, &a, &b, &offs, &g));
            assert!(c.iter().all(|&x| x == SENTINEL), "{isa} rows_gemm, {what}: wrote to c before refusing");
        }
        let mut c = vec![SENTINEL; c_len];
        let g = RowsGemm { lda: k - 1, ..g };
        assert_refused(&format!("{isa} rows_gemm, lda < k"), "rows_gemm", || f(&mut c, &a, &b, &offs, &g));
    }
}

#[test]
fn rows_gemm_dot_refuses_each_broken_length_contract_before_writing() {
    let (m, nr, len, lda, ldc, images) = (3, 4, 20, 21, 5, 2);
    let (a_is, b_is) = (m * lda + 1, 33);
    let g = RowsGemmDot { m, r: nr, len, lda, ldc, images, a_is, b_is };
    let a = vec![1.0f32; a_is + (m - 1) * lda + len];
    let b = vec![1.0f32; b_is + 13 + len];
    let offs = vec![0, 7, 13, 2];
    let c_len = (m - 1) * ldc + nr;
    for set in every_set() {
        let isa = set.isa.name();
        let f = set.rows_gemm_dot;
        let mut c = vec![0.0f32; c_len];
        f(&mut c, &a, &b, &offs, &g); // the contract kept: no panic
        for i in 0..m {
            assert!(c[i * ldc..][..nr].iter().all(|&x| x == (images * len) as f32), "{isa}: Σ of images·len ones");
        }
        let cases: [Broken; 5] = [
            ("offs short", a.clone(), b.clone(), offs[..nr - 1].to_vec(), c_len),
            ("the last image's range runs past b", a.clone(), b.clone(), vec![0, 7, 14, 2], c_len),
            ("b short", a.clone(), b[..b.len() - 1].to_vec(), offs.clone(), c_len),
            ("a short", a[..a.len() - 1].to_vec(), b.clone(), offs.clone(), c_len),
            ("c short", a.clone(), b.clone(), offs.clone(), c_len - 1),
        ];
        for (what, a, b, offs, c_len) in cases {
            let mut c = vec![SENTINEL; c_len];
            assert_refused(&format!("{isa} rows_gemm_dot, {what}"), "rows_gemm_dot", || f(&mut c, &a, &b, &offs, &g));
            assert!(c.iter().all(|&x| x == SENTINEL), "{isa} rows_gemm_dot, {what}: wrote to c before refusing");
        }
    }
}

/// Shapes with nothing to sum keep the contract with empty operands: k = 0 (a empty) sets
/// or keeps c, len = 0 or no images (a, b empty) adds 0 to c (−0 becomes +0, as in the
/// reference), m = 0 or n = 0 touch nothing; the same bits on every set.
#[test]
fn empty_shapes_take_empty_operands_on_every_set() {
    let sets = every_set();
    for accumulate in [false, true] {
        let g = RowsGemm { m: 3, n: 5, k: 0, lda: 4, ldc: 6, accumulate };
        let c0: Vec<f32> = (0..18).map(|i| if i % 2 == 0 { -0.0 } else { i as f32 }).collect();
        let mut want = c0.clone();
        rows_gemm_scalar(&mut want, &[], &[], &[], &g);
        for set in &sets {
            let mut got = c0.clone();
            (set.rows_gemm)(&mut got, &[], &[], &[], &g);
            assert_same(&got, &want, &format!("{} rows_gemm {g:?}", set.isa.name()));
            for (at, (&x, &x0)) in got.iter().zip(&c0).enumerate() {
                let output = at % 6 < 5;
                let expect = if output && !accumulate { 0.0 } else { x0 };
                assert_eq!(x.to_bits(), expect.to_bits(), "{} k = 0: c[{at}]", set.isa.name());
            }
        }
    }
    for (len, images) in [(0, 2), (4, 0)] {
        let g = RowsGemmDot { m: 2, r: 3, len, lda: len, ldc: 3, images, a_is: 9, b_is: 9 };
        for set in &sets {
            let mut c = vec![-0.0f32, 1.5, f32::NAN, -2.0, -0.0, 3.0];
            (set.rows_gemm_dot)(&mut c, &[], &[], &[0, 1, 2], &g);
            assert_eq!(c[0].to_bits(), 0.0f32.to_bits(), "{} {g:?}: −0 + 0 = +0", set.isa.name());
            assert_eq!(c[4].to_bits(), 0.0f32.to_bits(), "{} {g:?}", set.isa.name());
            assert!(c[2].is_nan() && c[1] == 1.5 && c[3] == -2.0 && c[5] == 3.0, "{} {g:?}: {c:?}", set.isa.name());
        }
    }
    for set in &sets {
        let mut c = vec![SENTINEL; 4];
        (set.rows_gemm)(&mut c, &[], &[], &[0, 0], &RowsGemm { m: 0, n: 4, k: 2, lda: 2, ldc: 4, accumulate: false });
        (set.rows_gemm)(
            &mut c,
            &[1.0; 4],
            &[],
            &[0, 0],
            &RowsGemm { m: 2, n: 0, k: 2, lda: 2, ldc: 0, accumulate: false },
        );
        let g = RowsGemmDot { m: 0, r: 2, len: 3, lda: 3, ldc: 2, images: 1, a_is: 0, b_is: 0 };
        (set.rows_gemm_dot)(&mut c, &[], &[0.0; 3], &[0, 0], &g);
        assert!(c.iter().all(|&x| x == SENTINEL), "{}: an empty shape wrote to c", set.isa.name());
    }
}
