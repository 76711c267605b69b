//! The few vector operations the packed GEMM (`crate::gemm`) is written in: [`Lanes`]. Every
//! SIMD set ([`crate::simd::Simd`]) has them; [`Portable`] supplies them in plain Rust, so
//! the scalar kernel set carries a packed GEMM too (allocation-free, like the others, where
//! `matrixmultiply` would allocate its packing buffer on every call).

/// `W` f32 lanes in `V`: what the GEMM's tile and driver need.
///
/// Every method is `unsafe` for the reason every `Simd` method is (it may run only inside a
/// function compiled for its instruction set); `load` and `store` also dereference `p`.
pub(crate) trait Lanes {
    /// f32 lanes per vector.
    const W: usize;
    /// A vector of `W` f32.
    type V: Copy;
    unsafe fn zero() -> Self::V;
    unsafe fn splat(x: f32) -> Self::V;
    /// `len` lanes from `p` (lanes ≥ len read as 0; only `len` elements are touched).
    unsafe fn load(p: *const f32, len: usize) -> Self::V;
    /// Writes the first `len` lanes of `v` to `p`.
    unsafe fn store(p: *mut f32, v: Self::V, len: usize);
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// a·b + c with one rounding (FMA).
    unsafe fn madd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// Per lane: `if c > 0 { a } else { b }` (NaN and ±0 take `b`).
    unsafe fn select_pos(c: Self::V, a: Self::V, b: Self::V) -> Self::V;
    /// A W×W block transposed: dst[v·ds + u] = src[u·ss + v] for u, v < W (the packing of a
    /// B whose columns are contiguous). `src` and `dst` are dereferenced there.
    unsafe fn transpose_block(src: *const f32, ss: usize, dst: *mut f32, ds: usize);
}

#[cfg(target_arch = "x86_64")]
impl<S: crate::simd::Simd> Lanes for S {
    const W: usize = S::W;
    type V = S::V;
    // SAFETY (every block in this impl): forwarded to `S`, under the same contract.
    #[inline(always)]
    unsafe fn zero() -> S::V {
        // SAFETY: forwarded (see the note above the impl).
        unsafe { S::zero() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> S::V {
        // SAFETY: forwarded (see the note above the impl).
        unsafe { S::splat(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32, len: usize) -> S::V {
        // SAFETY: forwarded (see the note above the impl).
        unsafe { S::load(p, len) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: S::V, len: usize) {
        // SAFETY: forwarded (see the note above the impl).
        unsafe { S::store(p, v, len) }
    }
    #[inline(always)]
    unsafe fn add(a: S::V, b: S::V) -> S::V {
        // SAFETY: forwarded (see the note above the impl).
        unsafe { S::add(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: S::V, b: S::V) -> S::V {
        // SAFETY: forwarded (see the note above the impl).
        unsafe { S::mul(a, b) }
    }
    #[inline(always)]
    unsafe fn madd(a: S::V, b: S::V, c: S::V) -> S::V {
        // SAFETY: forwarded (see the note above the impl).
        unsafe { S::fmadd(a, b, c) }
    }
    #[inline(always)]
    unsafe fn select_pos(c: S::V, a: S::V, b: S::V) -> S::V {
        // SAFETY: forwarded (see the note above the impl).
        unsafe { S::select_pos(c, a, b) }
    }
    #[inline(always)]
    unsafe fn transpose_block(src: *const f32, ss: usize, dst: *mut f32, ds: usize) {
        // SAFETY: forwarded (see the note above the impl).
        unsafe { S::transpose_block(src, ss, dst, ds) }
    }
}

/// Four f32 lanes in plain Rust: the scalar kernel set's GEMM. `madd` is `f32::mul_add`
/// (one rounding, as the SIMD sets' FMA), so this set's products equal theirs bit for bit
/// (same k order, same K-blocks) and a model decodes alike under every set. Where the target
/// has no FMA instruction (x86-64 without `-C target-feature=+fma`) `mul_add` is a call to the
/// C library's `fmaf`: correct, slower; this set is the reference and the fallback.
pub(crate) struct Portable;

/// `f` applied lane by lane.
#[inline(always)]
fn lanes(f: impl Fn(usize) -> f32) -> [f32; 4] {
    [f(0), f(1), f(2), f(3)]
}

impl Lanes for Portable {
    const W: usize = 4;
    type V = [f32; 4];
    #[inline(always)]
    unsafe fn zero() -> [f32; 4] {
        [0.0; 4]
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> [f32; 4] {
        [x; 4]
    }
    #[inline(always)]
    unsafe fn load(p: *const f32, len: usize) -> [f32; 4] {
        let mut v = [0.0; 4];
        for (i, x) in v.iter_mut().enumerate().take(len) {
            // SAFETY: the caller guarantees `len` readable elements at `p`.
            *x = unsafe { *p.add(i) };
        }
        v
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: [f32; 4], len: usize) {
        for (i, x) in v.iter().enumerate().take(len) {
            // SAFETY: the caller guarantees `len` writable elements at `p`.
            unsafe { *p.add(i) = *x };
        }
    }
    #[inline(always)]
    unsafe fn add(a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
        lanes(|i| a[i] + b[i])
    }
    #[inline(always)]
    unsafe fn mul(a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
        lanes(|i| a[i] * b[i])
    }
    #[inline(always)]
    unsafe fn madd(a: [f32; 4], b: [f32; 4], c: [f32; 4]) -> [f32; 4] {
        lanes(|i| a[i].mul_add(b[i], c[i]))
    }
    #[inline(always)]
    unsafe fn select_pos(c: [f32; 4], a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
        lanes(|i| if c[i] > 0.0 { a[i] } else { b[i] })
    }
    #[inline(always)]
    unsafe fn transpose_block(src: *const f32, ss: usize, dst: *mut f32, ds: usize) {
        for u in 0..4 {
            for v in 0..4 {
                // SAFETY: the caller guarantees 4 readable values from src + u·ss and 4
                // writable ones from dst + v·ds.
                unsafe { *dst.add(v * ds + u) = *src.add(u * ss + v) };
            }
        }
    }
}
