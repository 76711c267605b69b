//! `rows_bias_act`, the fused conv epilogue: on every kernel set this CPU has, bit for bit
//! the scalar reference, and the reference bit for bit its definition (a model written out
//! here), over ragged geometries — 1–5 planes, 1–4 rows, row lengths around every mask
//! pattern of AVX2 and AVX-512, steps 1–3, gapped rows and planes on both sides — and values
//! that include ±0, NaN, ±∞, subnormals and negatives. The destination starts as a
//! signalling-NaN sentinel: every value outside the geometry must keep those bits (any
//! arithmetic on it would quiet it), which is what proves the step-2 blend leaves the other
//! phases alone. Then a hand-computed case, and the length contract.

use hepae_kernels::plane_epilogue::PlaneRows;
use rand::{Rng, SeedableRng};

#[path = "support/sets.rs"]
mod sets;
use sets::{assert_bits_equal, every_set, panic_message, scalar};

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[path = "support/guarded.rs"]
mod guarded;

/// A signalling NaN (quiet bit clear): survives only moves, loads, stores and blends.
const SENTINEL: u32 = 0x7fa0_0001;

/// A value: mostly uniform in [−2, 2), one in four a special (±0, NaN, ±∞, subnormals,
/// tiny and large negatives).
fn value(r: &mut impl Rng) -> f32 {
    const SPECIAL: [f32; 10] =
        [0.0, -0.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e-40, -1e-40, -1e-45, -3.0e38, -7.0];
    if r.random_range(0..4) == 0 {
        SPECIAL[r.random_range(0..SPECIAL.len())]
    } else {
        r.random_range(-2.0f32..2.0)
    }
}

/// The definition, written out: a sentinel buffer of `n` values with each geometry
/// position set to leaky(src + bias\[q]).
fn model(n: usize, src: &[f32], bias: &[f32], slope: f32, g: &PlaneRows) -> Vec<f32> {
    let mut out = vec![f32::from_bits(SENTINEL); n];
    for q in 0..g.planes {
        for r in 0..g.rows {
            for t in 0..g.len {
                let u = src[q * g.src_ps + r * g.src_rs + t] + bias[q];
                out[q * g.dst_ps + r * g.dst_rs + t * g.step] = if u > 0.0 { u } else { slope * u };
            }
        }
    }
    out
}

/// The geometries: every plane and row count in 1–5 and 1–4, row lengths at and around the
/// vector widths (8, 16) and their doubles, steps 1–3, source rows 1 or 3 past `len`,
/// destination rows exactly a row's span or 2 past it (odd sizes), planes 1 or 3 past their
/// rows on both sides; and rows interleaved in the destination (row r's values at odd or
/// even positions of one shared span), where a blend that clobbered its odd lanes would
/// erase the other row.
fn geometries() -> Vec<PlaneRows> {
    let mut out = Vec::new();
    for planes in 1..=5 {
        for rows in 1..=4 {
            for len in [1usize, 2, 7, 15, 16, 17, 20, 21, 33, 40] {
                for step in 1..=3 {
                    for (src_rs, dst_rs) in [(len + 1, (len - 1) * step + 1), (len + 3, (len - 1) * step + 3)] {
                        let (src_ps, dst_ps) =
                            (rows * src_rs + planes % 2, (rows - 1) * dst_rs + len * step + 2 * (rows % 2));
                        out.push(PlaneRows { planes, rows, len, src_ps, src_rs, dst_ps, dst_rs, step });
                    }
                }
                // Two phases of one output row: rows 1 apart at step 2 (and 3).
                for step in 2..=3 {
                    let dst_ps = (len - 1) * step + rows + 1;
                    out.push(PlaneRows { planes, rows, len, src_ps: rows * len, src_rs: len, dst_ps, dst_rs: 1, step });
                }
            }
        }
    }
    out
}

#[test]
fn every_set_matches_the_reference_and_the_reference_its_definition_bit_for_bit() {
    let mut r = rand::rngs::StdRng::seed_from_u64(15);
    let sets = every_set();
    let geoms = geometries();
    assert_eq!(geoms.len(), 5 * 4 * 10 * (3 * 2 + 2), "planes × rows × lengths × (steps × row strides + interleaved)");
    for g in geoms {
        let (ns, nd) = (g.src_span().unwrap(), g.dst_span().unwrap());
        // A few values past each span: they must not be read into the result or written.
        let src: Vec<f32> = (0..ns + 3).map(|_| value(&mut r)).collect();
        let bias: Vec<f32> = (0..g.planes).map(|q| [0.0, -0.0, 0.25, -1.5, 1e-39][q % 5]).collect();
        for slope in [0.01f32, 1.0] {
            let mut want = vec![f32::from_bits(SENTINEL); nd + 5];
            (scalar().rows_bias_act)(&mut want, &src, &bias, slope, &g);
            assert_bits_equal(
                &want,
                &model(nd + 5, &src, &bias, slope, &g),
                &format!("scalar vs the definition {g:?}"),
            );
            for k in &sets {
                let mut got = vec![f32::from_bits(SENTINEL); nd + 5];
                (k.rows_bias_act)(&mut got, &src, &bias, slope, &g);
                assert_bits_equal(&got, &want, &format!("{} rows_bias_act slope {slope} {g:?}", k.isa.name()));
            }
        }
    }
}

/// With `src` and `dst` exactly their spans and flush against an inaccessible page (after
/// their last value, or before their first), no set reads or writes outside them: a masked
/// lane one past a row's last value, even one that stores back what it loaded (invisible to
/// the sentinel), faults here.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn no_set_touches_a_value_outside_the_exact_spans() {
    use guarded::{Edge, Guarded};
    let mut r = rand::rngs::StdRng::seed_from_u64(16);
    let sets = every_set();
    for g in geometries() {
        let (ns, nd) = (g.src_span().unwrap(), g.dst_span().unwrap());
        let src: Vec<f32> = (0..ns).map(|_| value(&mut r)).collect();
        let bias: Vec<f32> = (0..g.planes).map(|q| 0.5 - q as f32).collect();
        let mut want = vec![f32::from_bits(SENTINEL); nd];
        (scalar().rows_bias_act)(&mut want, &src, &bias, 0.01, &g);
        for edge in [Edge::Start, Edge::End] {
            let gsrc = Guarded::new(&src, edge);
            for k in &sets {
                let mut gdst = Guarded::new(&vec![f32::from_bits(SENTINEL); nd], edge);
                (k.rows_bias_act)(gdst.as_mut_slice(), gsrc.as_slice(), &bias, 0.01, &g);
                assert_bits_equal(gdst.as_slice(), &want, &format!("{} rows_bias_act at {edge:?} {g:?}", k.isa.name()));
            }
        }
    }
}

#[test]
fn rows_bias_act_by_hand() {
    // A crop: 2 rows of 3 from GEMM rows of 4 (one junk value each), into rows of 3;
    // bias 1, slope 0.5.
    let g = PlaneRows { planes: 1, rows: 2, len: 3, src_ps: 8, src_rs: 4, dst_ps: 6, dst_rs: 3, step: 1 };
    let src = [1.0f32, -3.0, -1.0, 99.0, 0.0, 2.0, -5.0, 99.0];
    for k in every_set() {
        let mut dst = [7.0f32; 6];
        (k.rows_bias_act)(&mut dst, &src, &[1.0], 0.5, &g);
        assert_eq!(dst, [2.0, -1.0, 0.0, 1.0, 3.0, -2.0], "{}", k.isa.name());
    }
    // A phase scatter: 2 planes of 1 row of 3 values at step 2 into planes of 6 (the odd
    // positions belong to the other phase and keep their 7s); bias [0, −1], slope 0.25.
    let g = PlaneRows { planes: 2, rows: 1, len: 3, src_ps: 3, src_rs: 3, dst_ps: 6, dst_rs: 6, step: 2 };
    let src = [2.0f32, -4.0, 0.0, 3.0, 1.0, -8.0];
    for k in every_set() {
        let mut dst = [7.0f32; 12];
        (k.rows_bias_act)(&mut dst, &src, &[0.0, -1.0], 0.25, &g);
        assert_eq!(dst, [2.0, 7.0, -1.0, 7.0, 0.0, 7.0, 2.0, 7.0, 0.0, 7.0, -2.25, 7.0], "{}", k.isa.name());
    }
}

#[test]
fn a_zero_size_geometry_touches_nothing() {
    let base = PlaneRows { planes: 2, rows: 2, len: 3, src_ps: 8, src_rs: 4, dst_ps: 9, dst_rs: 4, step: 2 };
    for g in [PlaneRows { planes: 0, ..base }, PlaneRows { rows: 0, ..base }, PlaneRows { len: 0, ..base }] {
        assert_eq!((g.src_span(), g.dst_span()), (Some(0), Some(0)), "{g:?}");
        for k in every_set() {
            let mut dst = [f32::from_bits(SENTINEL); 4];
            let bias = vec![1.0f32; g.planes];
            (k.rows_bias_act)(&mut dst, &[], &bias, 0.1, &g);
            (k.rows_bias_act)(&mut dst, &[1.0; 3], &bias, 0.1, &g);
            assert!(dst.iter().all(|v| v.to_bits() == SENTINEL), "{} {g:?}", k.isa.name());
        }
    }
}

/// A broken call: what it breaks, the geometry, the dst, src and bias lengths, and what the
/// panic must say.
type Refusal = (&'static str, PlaneRows, usize, usize, usize, &'static [&'static str]);

#[test]
fn rows_bias_act_refuses_a_broken_length_contract_on_every_set_before_writing() {
    // 2 planes of 2 rows of 5 at step 2: src span 1·12 + 1·6 + 5 = 23, dst 1·20 + 1·10 + 9 = 39.
    let g = PlaneRows { planes: 2, rows: 2, len: 5, src_ps: 12, src_rs: 6, dst_ps: 20, dst_rs: 10, step: 2 };
    assert_eq!((g.src_span(), g.dst_span()), (Some(23), Some(39)));
    let huge = PlaneRows { planes: 3, dst_ps: usize::MAX / 2, ..g };
    assert_eq!(huge.dst_span(), None);
    let cases: [Refusal; 6] = [
        ("short dst", g, 38, 23, 2, &["dst 38", "39"]),
        ("short src", g, 39, 22, 2, &["src 22", "23"]),
        ("bias shorter than planes", g, 39, 23, 1, &["bias 1", "planes = 2"]),
        ("bias longer than planes", g, 39, 23, 3, &["bias 3", "planes = 2"]),
        ("step 0", PlaneRows { step: 0, ..g }, 39, 23, 2, &["step ≥ 1"]),
        ("an overflowing span", PlaneRows { planes: 3, ..huge }, 39, 23, 3, &["overflows"]),
    ];
    for k in every_set() {
        for (what, g, nd, ns, nb, needles) in cases {
            let (mut dst, src, bias) = (vec![f32::from_bits(SENTINEL); nd], vec![1.0f32; ns], vec![0.5f32; nb]);
            let msg = panic_message(|| (k.rows_bias_act)(&mut dst, &src, &bias, 0.1, &g))
                .unwrap_or_else(|| panic!("{} {what}: accepted", k.isa.name()));
            assert!(
                msg.contains("hepae-kernels::rows_bias_act"),
                "{} {what}: does not name the kernel: {msg}",
                k.isa.name()
            );
            for n in needles {
                assert!(msg.contains(n), "{} {what}: does not say {n:?}: {msg}", k.isa.name());
            }
            assert!(dst.iter().all(|v| v.to_bits() == SENTINEL), "{} {what}: wrote before refusing", k.isa.name());
        }
        // The exact spans are accepted: the first value 1 + 0.5, the last 0.1·(1 − 3).
        let (mut dst, src) = (vec![0.0f32; 39], vec![1.0f32; 23]);
        (k.rows_bias_act)(&mut dst, &src, &[0.5, -3.0], 0.1, &g);
        assert_eq!((dst[0], dst[38]), (1.5, -0.2), "{}", k.isa.name());
    }
}
