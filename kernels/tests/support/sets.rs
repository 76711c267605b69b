//! What the kernel tests share: every kernel set this CPU runs (a set the CPU has and the
//! list lacks is a failure, not a skip), the scalar set, a bit-for-bit comparison and a
//! panic's message. Included with `#[path = "support/sets.rs"] mod sets;`.
#![allow(dead_code)] // each test file uses its own subset

use hepae_kernels::{available_isas, kernels_for, Isa, Kernels};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Every kernel set this CPU has.
pub fn every_set() -> Vec<&'static Kernels> {
    let sets: Vec<_> = available_isas().into_iter().filter_map(kernels_for).collect();
    #[cfg(target_arch = "x86_64")]
    {
        // A set the CPU has must be tested here (a skipped ISA is not a pass).
        if is_x86_feature_detected!("avx512f") {
            assert!(sets.iter().any(|k| k.isa == Isa::Avx512), "AVX-512 set not available on an AVX-512 CPU");
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            assert!(sets.iter().any(|k| k.isa == Isa::Avx2), "AVX2 set not available on an AVX2+FMA CPU");
        }
    }
    sets
}

/// The scalar set (the references).
pub fn scalar() -> &'static Kernels {
    kernels_for(Isa::Scalar).expect("the scalar set is always available")
}

/// Panics unless `got` and `want` hold the same f32 bit patterns.
pub fn assert_bits_equal(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(
            g.to_bits(),
            w.to_bits(),
            "{what}: element {i}: {g:e} ({:#x}) vs {w:e} ({:#x})",
            g.to_bits(),
            w.to_bits()
        );
    }
}

/// The panic message of `f`, or None when it returned.
pub fn panic_message(f: impl FnOnce()) -> Option<String> {
    let err = catch_unwind(AssertUnwindSafe(f)).err()?;
    Some(
        err.downcast_ref::<String>()
            .cloned()
            .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default(),
    )
}
