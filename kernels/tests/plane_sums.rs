//! `plane_sums_add`, a convolution's bias gradient acc[c] += Σ_t x[c, t]: the reference is
//! its definition (16 interleaved partials per plane, folded in order, then the tail), every
//! SIMD set gives its bits for every plane count and length, and a partial plane panics.

#[path = "support/sets.rs"]
mod sets;
use hepae_kernels::scalar::plane_sums_add;
use sets::{every_set, panic_message};

/// Values of very different sizes and signs (so that the order of the additions shows in
/// the bits), −0, subnormals and, in one plane, ∞ and NaN.
fn planes(c: usize, hw: usize) -> Vec<f32> {
    (0..c * hw)
        .map(|i| match (i * 7919) % 23 {
            0 => -0.0,
            1 => 1e-40,
            2 => 3.0e7,
            3 => -2.9e7,
            k => (k as f32 - 11.0) * 0.37 * (1.0 + (i % 9) as f32),
        })
        .collect()
}

/// Σ of one plane by the definition: partial l from +0 takes the values at t ≡ l (mod 16)
/// of the whole chunks, the partials are added 0 to 15 from −0 (as `Iterator::sum`), then
/// the tail's values from −0, and that plane total is added to acc.
fn by_definition(acc: f32, plane: &[f32]) -> f32 {
    let whole = plane.len() / 16 * 16;
    let mut part = [0.0f32; 16];
    for (t, &v) in plane[..whole].iter().enumerate() {
        part[t % 16] += v;
    }
    let (mut f, mut tail) = (-0.0f32, -0.0f32);
    for p in part {
        f += p;
    }
    for &v in &plane[whole..] {
        tail += v;
    }
    acc + (f + tail)
}

#[test]
fn every_set_gives_the_references_bits_and_the_reference_is_its_definition() {
    for c in [1usize, 2, 3, 4, 5, 8, 9, 16, 33] {
        for hw in [1usize, 7, 15, 16, 17, 31, 32, 33, 100, 400, 1600] {
            let mut x = planes(c, hw);
            if c > 2 {
                x[hw] = f32::INFINITY; // plane 1: +∞
                x[2 * hw + hw / 2] = f32::NAN; // plane 2: NaN
            }
            let start: Vec<f32> = (0..c).map(|k| k as f32 * 0.125 - 0.3).collect();
            let mut want = start.clone();
            plane_sums_add(&mut want, &x);
            for (k, (&w, &s)) in want.iter().zip(&start).enumerate() {
                let d = by_definition(s, &x[k * hw..(k + 1) * hw]);
                assert_eq!(w.to_bits(), d.to_bits(), "reference, plane {k} of {c}×{hw}");
            }
            for k in every_set() {
                let mut got = start.clone();
                (k.plane_sums_add)(&mut got, &x);
                let same = got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{} {c}×{hw}: {got:?} against {want:?}", k.isa.name());
            }
        }
    }
}

#[test]
fn empty_planes_add_zero_and_a_partial_plane_panics_naming_the_kernel() {
    for k in every_set() {
        let isa = k.isa.name();
        let (mut none, empty) = (Vec::<f32>::new(), Vec::<f32>::new());
        (k.plane_sums_add)(&mut none, &empty);
        let mut acc = vec![1.5f32, -0.0];
        (k.plane_sums_add)(&mut acc, &empty);
        assert_eq!((acc[0], acc[1].to_bits()), (1.5, 0.0f32.to_bits()), "{isa}: −0 + (+0) is +0");
        for (xlen, c) in [(33usize, 2usize), (5, 0), (15, 16)] {
            let (mut acc, x) = (vec![0.0f32; c], vec![0.5f32; xlen]);
            let msg = panic_message(|| (k.plane_sums_add)(&mut acc, &x)).expect("a partial plane must panic");
            assert!(msg.contains("plane_sums_add") && msg.contains(&xlen.to_string()), "{isa}: {msg}");
        }
    }
}
