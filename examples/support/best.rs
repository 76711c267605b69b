//! The speed examples' timer. Included with `#[path = "support/best.rs"] mod best;`.

use std::time::Instant;

/// Seconds per call of `f`, best of 20 runs of enough calls for about 2e7 units of `work`
/// (FLOP, bytes) each; one untimed call first.
pub fn best(work: f64, mut f: impl FnMut()) -> f64 {
    f();
    let reps = (2e7 / work).max(1.0) as usize;
    let mut best = f64::INFINITY;
    for _ in 0..20 {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    best
}
