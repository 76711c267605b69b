//! The reduced-precision kernels keep the length contract on every set this CPU has: a slice
//! of the wrong length panics naming the kernel and the lengths before anything is written;
//! exact slices, empty ones included, do not panic. Packing refuses a weight buffer of the
//! wrong size and the int8 value −128 (outside the kernels' [−127, 127]).

use hepae_kernels::quant::{quant_sets, HalfKind, PackedBf16Pairs, PackedHalf, PackedI8};

#[path = "support/sets.rs"]
mod sets;
use sets::panic_message;

fn assert_refused(what: &str, kernel: &str, lens: &[usize], f: impl FnOnce()) {
    let msg = panic_message(f).unwrap_or_else(|| panic!("{what}: a length mismatch was accepted"));
    assert!(msg.contains(&format!("hepae-kernels::{kernel}")), "{what}: panic does not name {kernel}: {msg}");
    for l in lens {
        assert!(msg.contains(&l.to_string()), "{what}: panic does not state the length {l}: {msg}");
    }
}

#[test]
fn dense_i8_refuses_every_wrong_length_on_every_set() {
    let (m, k, n) = (2, 5, 3);
    let p = PackedI8::new(&[1; 15], n, k);
    for s in quant_sets() {
        let cases: [(&str, usize, usize, usize, usize, usize); 4] = [
            ("out", m * n + 1, m * k, n, n, m * n + 1),
            ("x", m * n, m * k - 1, n, n, m * k - 1),
            ("scale", m * n, m * k, n + 2, n, n + 2),
            ("bias", m * n, m * k, n, 1, 1),
        ];
        for (name, lo, lx, ls, lb, shown) in cases {
            let (mut out, x, sc, b) = (vec![7.0f32; lo], vec![1i8; lx], vec![1.0f32; ls], vec![0.0f32; lb]);
            assert_refused(&format!("{} dense_i8 {name}", s.name), "dense_i8", &[shown], || {
                (s.dense_i8)(&mut out, &x, &p, &sc, &b, m, 0.1)
            });
            assert!(out.iter().all(|&v| v == 7.0), "{}: wrote before refusing", s.name);
        }
        let (mut out, x) = (vec![0.0f32; m * n], vec![2i8; m * k]);
        (s.dense_i8)(&mut out, &x, &p, &[1.0; 3], &[0.0; 3], m, 0.1);
        assert_eq!(out, vec![10.0; m * n], "{}: Σ 2·1 over 5 inputs", s.name);
        (s.dense_i8)(&mut [], &[], &PackedI8::new(&[], 0, 0), &[], &[], 0, 0.1);
    }
}

#[test]
fn dense_half_and_quantize_refuse_wrong_lengths_on_every_set() {
    let (m, k, n) = (3, 4, 2);
    let p = PackedHalf::new(HalfKind::Bf16, &[0x3f80; 8], n, k); // all ones
    for s in quant_sets() {
        let mut out = vec![7.0f32; m * n];
        assert_refused(&format!("{} dense_half x", s.name), "dense_half", &[m * k + 1], || {
            (s.dense_half)(&mut out, &vec![1.0; m * k + 1], &p, &[0.0; 2], m, 0.1)
        });
        assert_refused(&format!("{} dense_half bias", s.name), "dense_half", &[3], || {
            (s.dense_half)(&mut out, &vec![1.0; m * k], &p, &[0.0; 3], m, 0.1)
        });
        assert!(out.iter().all(|&v| v == 7.0), "{}: wrote before refusing", s.name);
        (s.dense_half)(&mut out, &vec![1.0; m * k], &p, &[0.5; 2], m, 0.1);
        assert_eq!(out, vec![4.5; m * n], "{}: 0.5 + Σ of four ones", s.name);
        let pp = PackedBf16Pairs::new(&[0x3f80; 8], n, k);
        assert_refused(&format!("{} dense_bf16_dot out", s.name), "dense_bf16_dot", &[m * n - 1], || {
            (s.dense_bf16_dot)(&mut out[..m * n - 1], &vec![1.0; m * k], &pp, &[0.0; 2], m, 0.1)
        });
        assert!(out.iter().all(|&v| v == 4.5), "{}: wrote before refusing", s.name);
        (s.dense_bf16_dot)(&mut out, &vec![1.0; m * k], &pp, &[0.25; 2], m, 0.1);
        assert_eq!(out, vec![4.25; m * n], "{}: 0.25 + Σ of four ones (bf16 dot)", s.name);
        let mut dst = vec![0i8; 4];
        assert_refused(&format!("{} quantize_i8", s.name), "quantize_i8", &[4, 5], || {
            (s.quantize_i8)(&mut dst, &[0.0; 5], 1.0)
        });
        assert_eq!(dst, [0; 4]);
    }
}

#[test]
fn packing_refuses_a_wrong_size_and_minus_128() {
    assert_refused("PackedI8 size", "PackedI8::new", &[6, 2, 4], || {
        PackedI8::new(&[0; 6], 2, 4);
    });
    assert_refused("PackedHalf size", "PackedHalf::new", &[7], || {
        PackedHalf::new(HalfKind::F16, &[0; 7], 2, 4);
    });
    let msg = panic_message(|| {
        PackedI8::new(&[0, i8::MIN], 1, 2);
    })
    .expect("−128 accepted");
    assert!(msg.contains("PackedI8::new") && msg.contains("weight 1"), "{msg}");
}
