//! C ← α·A·B + β·C on strided row-major views. Transposes are expressed by the views'
//! strides ([`Matrix::t`]), never by copying.
//!
//! Two backends, passed down with the row-split setting as one [`Gemm`] value chosen when a
//! net is planned ([`Gemm::detect`]): the packed GEMM of the process's kernel table
//! (`hepae_kernels::kernels().sgemm_packed`: AVX-512F, AVX2+FMA or portable scalar micro-
//! kernels, allocation-free: it packs into a per-thread buffer that grows once), and
//! `matrixmultiply::sgemm` where `HEPAE_GEMM=matrixmultiply` made the table not prefer that
//! entry (it allocates its packing buffer on every call). The table is the one place CPU
//! features and those variables are read. See benches/README.md for the per-shape
//! measurements behind the choice.

use crate::engine::tensor::{span, Matrix, MatrixMut};
use hepae_kernels::{Isa, Kernels};
use std::cell::RefCell;

/// Which GEMM implementation runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GemmBackend {
    /// hepae's packed micro-kernels (AVX-512F, AVX2+FMA or scalar, as the kernel set in use).
    Packed,
    /// `matrixmultiply::sgemm`.
    Matrixmultiply,
}

impl GemmBackend {
    pub fn name(self) -> &'static str {
        match self {
            GemmBackend::Packed => match hepae_kernels::kernels().isa {
                hepae_kernels::Isa::Avx512 => "packed-avx512",
                hepae_kernels::Isa::Avx2 => "packed-avx2",
                hepae_kernels::Isa::Scalar => "packed-scalar",
            },
            GemmBackend::Matrixmultiply => "matrixmultiply",
        }
    }

    /// The backend the kernel table prefers: packed, unless `HEPAE_GEMM=matrixmultiply` was
    /// set. Reads no environment and no CPU feature (the table did, once).
    pub fn detect() -> GemmBackend {
        if hepae_kernels::kernels().prefer_packed_gemm {
            GemmBackend::Packed
        } else {
            GemmBackend::Matrixmultiply
        }
    }
}

/// The backend [`GemmBackend::detect`] picks (for reports: `hepae bench`, archive headers).
pub fn gemm_backend() -> GemmBackend {
    GemmBackend::detect()
}

/// How GEMMs run: which backend, and how many rayon tasks split the rows of each large C
/// (0 or 1: none; the "split each GEMM" strategy, kept for the comparison in
/// benches/README.md; training splits the batch instead). A value carried by a plan and
/// passed down to every product: there is no process-wide setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gemm {
    pub backend: GemmBackend,
    pub row_split: usize,
    /// The kernel set whose packed GEMM (and fused epilogue) runs: the process's set, unless
    /// a caller chose another one the CPU has ([`Gemm::on_isa`]: `hepae bench` per ISA).
    pub isa: Isa,
}

impl Gemm {
    /// This CPU's backend, no row split, the process's kernel set.
    pub fn detect() -> Gemm {
        Gemm { backend: GemmBackend::detect(), row_split: 0, isa: hepae_kernels::kernels().isa }
    }
    /// The same backend, each large GEMM's rows split into `chunks` tasks.
    pub fn with_row_split(self, chunks: usize) -> Gemm {
        Gemm { row_split: chunks, ..self }
    }
    /// The same, on the kernels of `isa` (None if this CPU lacks them).
    pub fn on_isa(self, isa: Isa) -> Option<Gemm> {
        hepae_kernels::kernels_for(isa).map(|_| Gemm { isa, ..self })
    }
    /// The kernel set this value runs on.
    pub fn kernels(self) -> &'static Kernels {
        hepae_kernels::kernels_for(self.isa).unwrap_or_else(hepae_kernels::kernels)
    }
}

thread_local! {
    /// Packing space of the packed GEMM, one per thread, grown once to its fixed size.
    static PACK: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// C[m×n] ← α·A[m×k]·B[k×n] + β·C. β = 0 overwrites C without reading it (NaN-safe).
///
/// Panics if the shapes disagree or a view's strides reach past its slice (programming errors).
pub fn gemm(g: Gemm, alpha: f32, a: Matrix<'_>, b: Matrix<'_>, beta: f32, c: &mut MatrixMut<'_>) {
    let chunks = g.row_split;
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if chunks > 1 && m >= 2 * chunks && m * k * n >= 1 << 16 && c.cs == 1 {
        // Rows of C (and A) in `chunks` contiguous pieces, one rayon task each.
        let per = m.div_ceil(chunks);
        let (backend, k) = (g.backend, g.kernels());
        let rs = c.rs;
        let mut pieces: Vec<(usize, &mut [f32])> = Vec::with_capacity(chunks);
        let mut rest: &mut [f32] = &mut c.data[..];
        let mut start = 0;
        while start < m {
            let rows = per.min(m - start);
            let take = if start + rows < m { rows * rs } else { rest.len() };
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(take);
            pieces.push((start, head));
            rest = tail;
            start += rows;
        }
        rayon::scope(|s| {
            for (start, piece) in pieces {
                let rows = per.min(m - start);
                s.spawn(move |_| {
                    let mut cv = MatrixMut { data: piece, rows, cols: n, rs, cs: 1 };
                    gemm_on(k, backend, alpha, a.rows_range(start, rows), b, beta, &mut cv);
                });
            }
        });
        return;
    }
    gemm_on(g.kernels(), g.backend, alpha, a, b, beta, c)
}

/// out[m×n] = act(A·B + bias): the dense layer's forward in one pass where the packed GEMM
/// runs (bias and LeakyReLU applied as each tile is stored), else GEMM then the fused
/// bias+LeakyReLU kernel. `slope` 1 is a plain bias add.
pub fn gemm_bias_leaky(g: Gemm, a: Matrix<'_>, b: Matrix<'_>, bias: &[f32], slope: f32, c: &mut MatrixMut<'_>) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let row_split = g.row_split > 1;
    if g.backend == GemmBackend::Packed && k > 0 && !row_split && c.cs == 1 && c.rs == n {
        assert_eq!(b.rows, k, "gemm: A is {m}x{k}, B is {}x{n}", b.rows);
        assert!(c.rows == m && c.cols == n && bias.len() >= n, "gemm: C or bias has the wrong shape");
        let epi = hepae_kernels::gemm::Epilogue { bias, slope };
        let done = packed(g.kernels(), 1.0, a, b, 0.0, c, Some(epi));
        if done {
            return;
        }
    }
    gemm(g, 1.0, a, b, 0.0, c);
    (g.kernels().bias_leaky_forward)(&mut c.data[..m * n], &bias[..n], slope);
}

/// The packed GEMM of kernel set `k` on this thread's packing buffer, C ← epi(α·A·B + β·C);
/// false where it does not run (C is not row-contiguous), and the caller falls back to
/// matrixmultiply.
fn packed(
    k: &Kernels,
    alpha: f32,
    a: Matrix<'_>,
    b: Matrix<'_>,
    beta: f32,
    c: &mut MatrixMut<'_>,
    epi: Option<hepae_kernels::gemm::Epilogue<'_>>,
) -> bool {
    let sgemm = k.sgemm_packed;
    PACK.with(|ws| {
        sgemm(
            &mut ws.borrow_mut(),
            a.rows,
            a.cols,
            b.cols,
            alpha,
            a.data,
            a.rs,
            a.cs,
            b.data,
            b.rs,
            b.cs,
            beta,
            c.data,
            c.rs,
            c.cs,
            epi,
        )
    })
}

/// [`gemm`] with a chosen backend (benches compare them) on the process's kernel set;
/// `Packed` falls back to matrixmultiply where C is not row-contiguous.
pub fn gemm_using(backend: GemmBackend, alpha: f32, a: Matrix<'_>, b: Matrix<'_>, beta: f32, c: &mut MatrixMut<'_>) {
    gemm_on(hepae_kernels::kernels(), backend, alpha, a, b, beta, c)
}

/// [`gemm_using`] on kernel set `kt`.
fn gemm_on(
    kt: &Kernels,
    backend: GemmBackend,
    alpha: f32,
    a: Matrix<'_>,
    b: Matrix<'_>,
    beta: f32,
    c: &mut MatrixMut<'_>,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "gemm: A is {m}x{k}, B is {}x{n}", b.rows);
    assert!(c.rows == m && c.cols == n, "gemm: C is {}x{}, want {m}x{n}", c.rows, c.cols);
    assert!(span(m, k, a.rs, a.cs) <= a.data.len(), "gemm: A view out of bounds");
    assert!(span(k, n, b.rs, b.cs) <= b.data.len(), "gemm: B view out of bounds");
    assert!(span(m, n, c.rs, c.cs) <= c.data.len(), "gemm: C view out of bounds");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // A·B is the zero matrix: C ← β·C.
        for r in 0..m {
            for j in 0..n {
                let v = &mut c.data[r * c.rs + j * c.cs];
                *v = if beta == 0.0 { 0.0 } else { beta * *v };
            }
        }
        return;
    }
    if backend == GemmBackend::Packed {
        let done = packed(kt, alpha, a, b, beta, c, None);
        if done {
            return;
        }
    }
    // SAFETY: the three asserts above prove that every element sgemm addresses through
    // (rows, cols, row stride, col stride) lies inside its slice; C is borrowed mutably and
    // so cannot alias A or B. Strides fit in isize because the slices exist in memory.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.data.as_ptr(),
            a.rs as isize,
            a.cs as isize,
            b.data.as_ptr(),
            b.rs as isize,
            b.cs as isize,
            beta,
            c.data.as_mut_ptr(),
            c.rs as isize,
            c.cs as isize,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: Matrix<'_>, b: Matrix<'_>) -> Vec<f64> {
        let mut out = vec![0.0; a.rows * b.cols];
        for r in 0..a.rows {
            for j in 0..b.cols {
                out[r * b.cols + j] = (0..a.cols).map(|q| a.at(r, q) as f64 * b.at(q, j) as f64).sum();
            }
        }
        out
    }

    #[test]
    fn gemm_matches_naive_product_for_every_transpose_combination() {
        let (m, k, n) = (7, 13, 5);
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 37 % 11) as f32 - 5.0) / 7.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 17 % 13) as f32 - 6.0) / 5.0).collect();
        let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect(); // Aᵀ stored k×m
        let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect(); // Bᵀ stored n×k
        let want = naive(Matrix::new(&a, m, k), Matrix::new(&b, k, n));
        let views_a = [Matrix::new(&a, m, k), Matrix::new(&at, k, m).t()];
        let views_b = [Matrix::new(&b, k, n), Matrix::new(&bt, n, k).t()];
        for va in views_a {
            for vb in views_b {
                let mut c = vec![1.0f32; m * n];
                gemm(Gemm::detect(), 1.0, va, vb, 0.0, &mut MatrixMut::new(&mut c, m, n));
                for (g, w) in c.iter().zip(&want) {
                    assert!((*g as f64 - w).abs() <= 1e-5 + 1e-5 * w.abs(), "{g} vs {w}");
                }
            }
        }
    }

    #[test]
    fn both_backends_compute_the_product_whatever_hepae_gemm_prefers() {
        // The packed entry runs when asked for by name, even under HEPAE_GEMM=matrixmultiply.
        let (m, k, n) = (19, 300, 21);
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 29 % 17) as f32 - 8.0) / 9.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 13 % 19) as f32 - 9.0) / 7.0).collect();
        let want = naive(Matrix::new(&a, m, k), Matrix::new(&b, k, n));
        for backend in [GemmBackend::Packed, GemmBackend::Matrixmultiply] {
            let mut c = vec![f32::NAN; m * n];
            gemm_using(
                backend,
                1.0,
                Matrix::new(&a, m, k),
                Matrix::new(&b, k, n),
                0.0,
                &mut MatrixMut::new(&mut c, m, n),
            );
            for (g, w) in c.iter().zip(&want) {
                assert!((*g as f64 - w).abs() <= 1e-4 + 1e-5 * w.abs(), "{backend:?}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn gemm_accumulates_with_beta_one_and_handles_empty_k() {
        let a = [1.0f32, 2.0];
        let b = [3.0f32, 4.0];
        let mut c = [10.0f32];
        gemm(Gemm::detect(), 1.0, Matrix::new(&a, 1, 2), Matrix::new(&b, 2, 1), 1.0, &mut MatrixMut::new(&mut c, 1, 1));
        assert_eq!(c[0], 21.0);
        let mut c2 = [f32::NAN; 4];
        gemm(
            Gemm::detect(),
            1.0,
            Matrix::new(&[], 2, 0),
            Matrix::new(&[], 0, 2),
            0.0,
            &mut MatrixMut::new(&mut c2, 2, 2),
        );
        assert_eq!(c2, [0.0; 4]);
    }
}
