//! `phase_split`, a strided convolution's input cut into its stride phases: on every kernel
//! set this CPU has, bit for bit the scalar reference, and the reference the textbook
//! definition (the image zero-padded, then ph[u, v] = padded[u·s + a][v·s + b]), over
//! 1–3 planes, h and w in {1, 2, 3, 5, 10, 17, 20, 21, 33, 40} (every mask pattern of AVX2
//! and AVX-512 at s = 1 and s = 2), s in 1–3, pad 0–2 (below s and not), and phase planes of
//! the tight ⌈(h + 2·pad)/s⌉ size and larger. Values include NaNs with payloads, −0,
//! subnormals and ±∞: a permutation moves bits. The destination starts as a signalling-NaN
//! sentinel: every padding position must keep those bits (the kernel writes pixels only),
//! and with the destination zeroed first the result is the textbook's phases exactly, image
//! after image (the borders stay zero). Then a hand-computed case, the exact-slice guard
//! pages, and the length contract.

use hepae_kernels::phase_split::PhaseSplit;
use rand::{Rng, SeedableRng};

#[path = "support/sets.rs"]
mod sets;
use sets::{assert_bits_equal, every_set, panic_message, scalar};

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[path = "support/guarded.rs"]
mod guarded;

/// A signalling NaN (quiet bit clear): survives only moves, loads, stores and permutes.
const SENTINEL: u32 = 0x7fa0_0001;

/// A value: mostly uniform in [−2, 2), one in three a special bit pattern (quiet and
/// signalling NaNs with payloads, both signs of NaN, zero and ∞, subnormals).
fn value(r: &mut impl Rng) -> f32 {
    const SPECIAL: [u32; 10] = [
        0x7fc0_1234,
        0xffc0_0005,
        0x7f80_0001,
        0xff80_4321,
        0x8000_0000,
        0x0000_0000,
        0x0000_0001,
        0x8000_0001,
        0x007f_ffff,
        0xff80_0000,
    ];
    if r.random_range(0..3) == 0 {
        f32::from_bits(SPECIAL[r.random_range(0..SPECIAL.len())])
    } else {
        r.random_range(-2.0f32..2.0)
    }
}

/// The textbook definition: each plane zero-padded by `pad` ((h + 2·pad) × (w + 2·pad),
/// `None` in the padding), then phase (a, b) of plane c at [u, v] = padded[u·s + a][v·s + b]
/// (`None` past the padded image too). A pixel is `Some(its value)`.
fn textbook(src: &[f32], g: &PhaseSplit) -> Vec<Option<f32>> {
    let (hp, wp) = (g.h + 2 * g.pad, g.w + 2 * g.pad);
    let mut out = Vec::new();
    for c in 0..g.planes {
        let mut padded = vec![vec![None; wp]; hp];
        for y in 0..g.h {
            for x in 0..g.w {
                padded[y + g.pad][x + g.pad] = Some(src[(c * g.h + y) * g.w + x]);
            }
        }
        for a in 0..g.s {
            for b in 0..g.s {
                for u in 0..g.hq {
                    for v in 0..g.wq {
                        let (i, j) = (u * g.s + a, v * g.s + b);
                        out.push(if i < hp && j < wp { padded[i][j] } else { None });
                    }
                }
            }
        }
    }
    out
}

/// Every pixel at its value and every other position `fill`.
fn filled(t: &[Option<f32>], fill: f32) -> Vec<f32> {
    t.iter().map(|v| v.unwrap_or(fill)).collect()
}

/// The geometries: planes 1–3 × h × w × s 1–3 × pad 0–2, each with the tight phase planes
/// and with ones a row and two columns larger.
fn geometries() -> Vec<PhaseSplit> {
    const SIZES: [usize; 10] = [1, 2, 3, 5, 10, 17, 20, 21, 33, 40];
    let mut out = Vec::new();
    for planes in 1..=3 {
        for h in SIZES {
            for w in SIZES {
                for s in 1..=3 {
                    for pad in 0..=2 {
                        let tight = PhaseSplit::padded(planes, h, w, s, pad);
                        out.push(tight);
                        out.push(PhaseSplit { hq: tight.hq + 1, wq: tight.wq + 2, ..tight });
                    }
                }
            }
        }
    }
    out
}

#[test]
fn every_set_matches_the_reference_and_the_reference_the_textbook_bit_for_bit() {
    let mut r = rand::rngs::StdRng::seed_from_u64(25);
    let sets = every_set();
    let geoms = geometries();
    assert_eq!(geoms.len(), 3 * 10 * 10 * 3 * 3 * 2, "planes × h × w × s × pad × (tight, larger)");
    let sentinel = f32::from_bits(SENTINEL);
    for g in geoms {
        let src: Vec<f32> = (0..g.src_len().unwrap()).map(|_| value(&mut r)).collect();
        let nd = g.dst_len().unwrap();
        let book = textbook(&src, &g);
        let mut want = vec![sentinel; nd];
        (scalar().phase_split)(&mut want, &src, &g);
        assert_bits_equal(&want, &filled(&book, sentinel), &format!("scalar vs the textbook {g:?}"));
        for k in &sets {
            let mut got = vec![sentinel; nd];
            (k.phase_split)(&mut got, &src, &g);
            assert_bits_equal(&got, &want, &format!("{} phase_split {g:?}", k.isa.name()));
        }
    }
}

#[test]
fn a_zeroed_destination_holds_the_textbook_phases_image_after_image() {
    // The caller's use: dst zeroed once, then one image after another into it; each call
    // leaves exactly that image's zero-padded phases (the previous image's pixels are all
    // overwritten, the borders never written).
    let mut r = rand::rngs::StdRng::seed_from_u64(26);
    for k in every_set() {
        for g in geometries().into_iter().step_by(7) {
            let mut dst = vec![0.0f32; g.dst_len().unwrap()];
            for image in 0..3 {
                let src: Vec<f32> = (0..g.src_len().unwrap()).map(|_| value(&mut r)).collect();
                (k.phase_split)(&mut dst, &src, &g);
                let want = filled(&textbook(&src, &g), 0.0);
                assert_bits_equal(&dst, &want, &format!("{} image {image} {g:?}", k.isa.name()));
            }
        }
    }
}

/// With `src` and `dst` exactly their lengths and flush against an inaccessible page (after
/// their last value, or before their first), no set reads or writes outside them: a masked
/// lane one past an image row's last value faults here.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn no_set_touches_a_value_outside_the_exact_slices() {
    use guarded::{Edge, Guarded};
    let mut r = rand::rngs::StdRng::seed_from_u64(27);
    let sets = every_set();
    for g in geometries().into_iter().filter(|g| g.planes < 3 && g.h % 2 == 1) {
        let src: Vec<f32> = (0..g.src_len().unwrap()).map(|_| value(&mut r)).collect();
        let nd = g.dst_len().unwrap();
        let mut want = vec![f32::from_bits(SENTINEL); nd];
        (scalar().phase_split)(&mut want, &src, &g);
        for edge in [Edge::Start, Edge::End] {
            let gsrc = Guarded::new(&src, edge);
            for k in &sets {
                let mut gdst = Guarded::new(&vec![f32::from_bits(SENTINEL); nd], edge);
                (k.phase_split)(gdst.as_mut_slice(), gsrc.as_slice(), &g);
                assert_bits_equal(gdst.as_slice(), &want, &format!("{} phase_split at {edge:?} {g:?}", k.isa.name()));
            }
        }
    }
}

#[test]
fn phase_split_by_hand() {
    // One 4×4 image 1..16 (img[y][x] = 4y + x + 1), s = 2, pad 1: four 3×3 phases,
    // ph(a, b)[u, v] = img[2u + a − 1][2v + b − 1], 0 in the padding (dst zeroed first).
    let g = PhaseSplit::padded(1, 4, 4, 2, 1);
    assert_eq!((g.hq, g.wq), (3, 3));
    let src: Vec<f32> = (1..=16).map(|v| v as f32).collect();
    #[rustfmt::skip]
    let want = [
        // (0, 0): rows y = −1, 1, 3; columns x = −1, 1, 3.
        0.0, 0.0, 0.0,   0.0, 6.0, 8.0,     0.0, 14.0, 16.0,
        // (0, 1): rows −1, 1, 3; columns 0, 2, 4 (past the image).
        0.0, 0.0, 0.0,   5.0, 7.0, 0.0,     13.0, 15.0, 0.0,
        // (1, 0): rows 0, 2, 4; columns −1, 1, 3.
        0.0, 2.0, 4.0,   0.0, 10.0, 12.0,   0.0, 0.0, 0.0,
        // (1, 1): rows 0, 2, 4; columns 0, 2, 4.
        1.0, 3.0, 0.0,   9.0, 11.0, 0.0,    0.0, 0.0, 0.0,
    ];
    for k in every_set() {
        let mut dst = [0.0f32; 36];
        (k.phase_split)(&mut dst, &src, &g);
        assert_eq!(dst, want, "{}", k.isa.name());
    }
    // s = 1, pad 1: the padded copy, a 6×6 frame of zeros around the image.
    let g = PhaseSplit::padded(1, 4, 4, 1, 1);
    assert_eq!((g.hq, g.wq), (6, 6));
    for k in every_set() {
        let mut dst = [0.0f32; 36];
        (k.phase_split)(&mut dst, &src, &g);
        assert_eq!(&dst[..6], &[0.0; 6], "{}", k.isa.name());
        assert_eq!(&dst[6..12], &[0.0, 1.0, 2.0, 3.0, 4.0, 0.0], "{}", k.isa.name());
        assert_eq!(&dst[24..30], &[0.0, 13.0, 14.0, 15.0, 16.0, 0.0], "{}", k.isa.name());
        assert_eq!(&dst[30..], &[0.0; 6], "{}", k.isa.name());
    }
}

#[test]
fn a_zero_size_image_touches_nothing() {
    for g in [PhaseSplit::padded(0, 5, 5, 2, 1), PhaseSplit::padded(2, 0, 5, 2, 1), PhaseSplit::padded(2, 5, 0, 2, 1)] {
        assert_eq!(g.src_len(), Some(0), "{g:?}");
        for k in every_set() {
            let mut dst = vec![f32::from_bits(SENTINEL); g.dst_len().unwrap()];
            (k.phase_split)(&mut dst, &[], &g);
            assert!(dst.iter().all(|v| v.to_bits() == SENTINEL), "{} {g:?}", k.isa.name());
        }
    }
}

#[test]
fn phase_split_refuses_a_broken_length_contract_on_every_set_before_writing() {
    // 2 planes of 5×6, s = 2, pad 1: 4×4 phases; src 2·5·6 = 60, dst 2·4·4·4 = 128.
    let g = PhaseSplit::padded(2, 5, 6, 2, 1);
    assert_eq!((g.hq, g.wq, g.src_len(), g.dst_len()), (4, 4, Some(60), Some(128)));
    let cases: [(&str, PhaseSplit, usize, usize, &[&str]); 9] = [
        ("short src", g, 128, 59, &["src 59", "60"]),
        ("long src", g, 128, 61, &["src 61", "60"]),
        ("short dst", g, 127, 60, &["dst 127", "128"]),
        ("dst longer than exact", g, 129, 60, &["dst 129", "128"]),
        // hq·2 must reach h + pad = 6 and wq·2 w + pad = 7: hq 2 and wq 3 do not.
        ("hq too small", PhaseSplit { hq: 2, ..g }, 64, 60, &["hq·s ≥ h + pad", "hq: 2"]),
        ("wq too small", PhaseSplit { wq: 3, ..g }, 96, 60, &["wq·s ≥ w + pad", "wq: 3"]),
        ("s = 0", PhaseSplit { s: 0, ..g }, 0, 60, &["s ≥ 1"]),
        ("an overflowing reach", PhaseSplit { hq: usize::MAX, ..g }, 128, 60, &["overflows"]),
        ("an overflowing dst", PhaseSplit { wq: usize::MAX / 4, ..g }, 128, 60, &["overflows"]),
    ];
    for k in every_set() {
        for (what, g, nd, ns, needles) in cases {
            let (mut dst, src) = (vec![f32::from_bits(SENTINEL); nd], vec![1.0f32; ns]);
            let msg = panic_message(|| (k.phase_split)(&mut dst, &src, &g))
                .unwrap_or_else(|| panic!("{} {what}: accepted", k.isa.name()));
            assert!(
                msg.contains("hepae-kernels::phase_split"),
                "{} {what}: does not name the kernel: {msg}",
                k.isa.name()
            );
            for n in needles {
                assert!(msg.contains(n), "{} {what}: does not say {n:?}: {msg}", k.isa.name());
            }
            assert!(dst.iter().all(|v| v.to_bits() == SENTINEL), "{} {what}: wrote before refusing", k.isa.name());
        }
        // The smallest phase planes that hold every target are accepted: hq·2 = 6 ≥ 5 + 1,
        // wq·2 = 8 ≥ 6 + 1 with wq 4 (3 would give 6 < 7).
        let g = PhaseSplit { hq: 3, ..g };
        let mut dst = vec![0.0f32; g.dst_len().unwrap()];
        (k.phase_split)(&mut dst, &vec![1.0f32; 60], &g);
        assert_eq!(dst.iter().filter(|&&v| v == 1.0).count(), 60, "{}: every pixel once", k.isa.name());
    }
}
