//! `zero`, a workspace cleared per op call: on every set, every value of the slice becomes +0
//! (from NaN, −0 and ∞ alike) and nothing outside it is touched, at every length around the
//! vector widths and its 4-vector loop.

#[path = "support/sets.rs"]
mod sets;
use sets::every_set;

#[test]
fn every_set_writes_plus_zero_inside_the_slice_and_nothing_outside() {
    for k in every_set() {
        for len in (0..=70).chain([127, 128, 129, 1000]) {
            for skew in [0usize, 1, 3] {
                let mut buf: Vec<f32> = (0..len + 8).map(|i| [f32::NAN, -0.0, f32::INFINITY, 1.5][i % 4]).collect();
                let before = buf.clone();
                (k.zero)(&mut buf[skew..skew + len]);
                for (i, (v, b)) in buf.iter().zip(&before).enumerate() {
                    let inside = (skew..skew + len).contains(&i);
                    let want = if inside { 0u32 } else { b.to_bits() };
                    assert_eq!(v.to_bits(), want, "{} len {len} skew {skew}: value {i}", k.isa.name());
                }
            }
        }
    }
}
