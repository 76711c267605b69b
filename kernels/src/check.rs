//! The length contract of every kernel, checked at each entry (the scalar functions and the
//! one SIMD body per kernel), so that no safe call can read or write past a slice: a
//! mismatch panics with the kernel's name and every length, before any element is touched.
//! Callers pass exact slices (`&buf[..n]`); nothing is silently truncated.

/// Panics unless every slice in `lens` (name, length) has the same length.
#[inline]
pub(crate) fn equal(kernel: &str, lens: &[(&str, usize)]) {
    let n = lens[0].1;
    if lens.iter().any(|&(_, l)| l != n) {
        mismatch(kernel, lens, "needs equal lengths");
    }
}

/// Panics unless `rows` (the name and length of a row-major matrix) holds whole rows of
/// `cols` (the name and length of a per-column vector); `cols` = 0 allows only `rows` = 0.
#[inline]
pub(crate) fn whole_rows(kernel: &str, rows: (&str, usize), cols: (&str, usize)) {
    let ok = rows.1.is_multiple_of(cols.1); // for cols = 0: only rows = 0
    if !ok {
        let rule = format!("needs {} to be a whole number of rows of {} columns", rows.0, cols.0);
        mismatch(kernel, &[rows, cols], &rule);
    }
}

/// Panics unless `len` = a·b exactly (without overflow), e.g. a matrix of a×b elements.
#[inline]
pub(crate) fn product(kernel: &str, name: &str, len: usize, a: (&str, usize), b: (&str, usize)) {
    if a.1.checked_mul(b.1) != Some(len) {
        panic!(
            "hepae-kernels::{kernel}: {name} has {len} elements but {}·{} = {}·{} (needs exactly that many)",
            a.0, b.0, a.1, b.1
        );
    }
}

/// The dense kernels' shapes: out [m×n], a [m×k], wt [k×n], bias [n], each exactly.
#[inline]
pub(crate) fn dense_small(out: usize, a: usize, wt: usize, bias: usize, m: usize, k: usize, n: usize) {
    product("dense_small", "out", out, ("m", m), ("n", n));
    product("dense_small", "a", a, ("m", m), ("k", k));
    product("dense_small", "wt", wt, ("k", k), ("n", n));
    product("dense_small", "bias", bias, ("1", 1), ("n", n));
}

#[cold]
#[inline(never)]
fn mismatch(kernel: &str, lens: &[(&str, usize)], rule: &str) -> ! {
    let list: Vec<String> = lens.iter().map(|(name, l)| format!("{name} {l}")).collect();
    panic!("hepae-kernels::{kernel}: slice lengths {} ({rule})", list.join(", "));
}
