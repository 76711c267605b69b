//! The SIMD bodies of [`crate::Kernels::rows_gemm`] and [`crate::Kernels::rows_gemm_dot`]
//! (contracts and scalar references in `rows_gemm.rs`), written once over [`Simd`] for AVX2
//! and AVX-512F. Each output gets exactly the reference's operations in the reference's
//! order, so the bits are the reference's.
//!
//! `rows_gemm`: a register tile of MR output rows × NV vectors of positions (AVX-512: 8×3,
//! 4×6, 2×8, 1×12; AVX2: 6×2, 4×2, 2×4, 1×8) starts at 0 or at c; for q = 0..k it loads NV
//! vectors of b's range q straight from b (the last one masked at the n tail) and
//! broadcasts a[r, q] per row: one FMA per output and q, in q order. The positions are cut
//! into tiles of NV vectors, then the rest into the largest of 8, 6, 4, 3, 2, 1 vectors.
//!
//! `rows_gemm_dot`: a register tile of MR rows × NR offsets (AVX-512: 4×6, 2×6, 1×6; AVX2:
//! 2×3, 1×3), each output held as its 16 partial sums (one AVX-512 vector, two AVX2 ones:
//! lane l is the partial of t ≡ l mod 16); per image, per chunk of 16 positions, MR vectors
//! of a and NR of b, one FMA per output lane. The last chunk's lanes past `len` do no FMA
//! (`fmadd_tail`), so their partials keep their bits. (On AVX-512 every chunk is masked, in
//! one loop: a separate tail chunk made the compiler spill the accumulators around it.) At
//! the end the partials of W outputs at a time are transposed so that the reference's
//! 0..15 fold from 0 is 16 vertical adds (`Simd::fold16`), and each total added to c.

use crate::rows_gemm::{check_dot, check_gemm, RowsGemm, RowsGemmDot, DOT_LANES};
use crate::simd::Simd;

/// The body of `rows_gemm` (lengths checked first).
///
/// Safety: inlined into a function compiled for `S`'s instruction set.
#[inline(always)]
pub(crate) unsafe fn rows_gemm<S: Simd>(c: &mut [f32], a: &[f32], b: &[f32], offs: &[usize], g: &RowsGemm) {
    check_gemm(c.len(), a.len(), b.len(), offs, g);
    if g.m == 0 || g.n == 0 {
        return;
    }
    if g.k == 0 {
        // No products (a may be empty): the sum is its start.
        if !g.accumulate {
            for i in 0..g.m {
                c[i * g.ldc..][..g.n].fill(0.0);
            }
        }
        return;
    }
    let wide = S::W >= 16;
    let mut i = 0;
    while i < g.m {
        let left = g.m - i;
        let top = if wide { 8 } else { 6 };
        let mr = [top, 4, 2, 1].into_iter().find(|&r| r <= left).unwrap_or(1);
        // SAFETY: rows i..i + mr < m of a (k values each, lda apart) and of c (n values, ldc
        // apart) lie inside a and c, every range offs[q]..offs[q] + n inside b (checked
        // above); the ISA is enabled in the caller.
        unsafe {
            let t = Tile { c: c.as_mut_ptr().add(i * g.ldc), a: a.as_ptr().add(i * g.lda), b: b.as_ptr(), offs, g };
            // Tiles (MR·NV accumulators + NV vectors of b + a broadcast ≤ the 32 zmm or 16 ymm).
            match (wide, mr) {
                (true, 8) => t.rows::<S, 8, 3>(),
                (true, 4) => t.rows::<S, 4, 6>(),
                (true, 2) => t.rows::<S, 2, 8>(),
                (true, _) => t.rows::<S, 1, 12>(),
                (false, 6) => t.rows::<S, 6, 2>(),
                (false, 4) => t.rows::<S, 4, 2>(),
                (false, 2) => t.rows::<S, 2, 4>(),
                (false, _) => t.rows::<S, 1, 8>(),
            }
        }
        i += mr;
    }
}

/// One block of rows of a `rows_gemm` call: c and a at its first row.
struct Tile<'a> {
    c: *mut f32,
    a: *const f32,
    b: *const f32,
    offs: &'a [usize],
    g: &'a RowsGemm,
}

impl Tile<'_> {
    /// MR rows, all n positions: tiles of NV vectors, then the rest in smaller tiles.
    ///
    /// Safety: MR rows from `self.c`, `self.a` exist (the caller's SAFETY note).
    #[inline(always)]
    unsafe fn rows<S: Simd, const MR: usize, const NV: usize>(&self) {
        let nvec = self.g.n.div_ceil(S::W);
        let mut v = 0;
        while v < nvec {
            let want = (nvec - v).min(NV);
            let j = v * S::W;
            // SAFETY: the tile covers vectors v..v + used of the n positions, the last one
            // masked to the positions that exist (the caller's contract).
            let used = unsafe {
                if want == NV {
                    self.tile::<S, MR, NV>(j)
                } else if want >= 8 && NV > 8 {
                    self.tile::<S, MR, 8>(j)
                } else if want >= 6 && NV > 6 {
                    self.tile::<S, MR, 6>(j)
                } else if want >= 4 && NV > 4 {
                    self.tile::<S, MR, 4>(j)
                } else if want >= 3 && NV > 3 {
                    self.tile::<S, MR, 3>(j)
                } else if want >= 2 && NV > 2 {
                    self.tile::<S, MR, 2>(j)
                } else {
                    self.tile::<S, MR, 1>(j)
                }
            };
            v += used;
        }
    }

    /// c[r, j + p] for r < MR, p < min(NV·W, n − j) (at least (NV − 1)·W + 1 positions
    /// exist from j): from 0 or c, + a[r, q]·b[offs\[q] + j + p] for q = 0..k in order.
    /// Returns NV.
    ///
    /// Safety: as [`Tile::rows`], and j < n. (No `array::from_fn` in these bodies: out of
    /// line, its closures would lose the target feature.)
    #[inline(always)]
    unsafe fn tile<S: Simd, const MR: usize, const NV: usize>(&self, j: usize) -> usize {
        let last = (self.g.n - j).min(NV * S::W) - (NV - 1) * S::W;
        // SAFETY: the caller's contract; the masked form only where the last vector is short.
        unsafe {
            if last == S::W {
                self.tile_lanes::<S, MR, NV, false>(j, last)
            } else {
                self.tile_lanes::<S, MR, NV, true>(j, last)
            }
        }
        NV
    }

    /// [`Tile::tile`] with `last` lanes in its last vector: masked loads and stores there if
    /// MASKED (then the inner loop branches on nothing), else whole vectors (`last` = W).
    ///
    /// Safety: as [`Tile::tile`].
    #[inline(always)]
    unsafe fn tile_lanes<S: Simd, const MR: usize, const NV: usize, const MASKED: bool>(&self, j: usize, last: usize) {
        let g = self.g;
        let mut lens = [S::W; NV];
        if MASKED {
            lens[NV - 1] = last;
        }
        // SAFETY: the caller's contract: rows r < MR of c and a exist, positions j + p for
        // p < (NV − 1)·W + last exist in c's rows and in every range of b.
        unsafe {
            let mut acc = [[S::zero(); NV]; MR];
            if g.accumulate {
                for (r, acc) in acc.iter_mut().enumerate() {
                    let cr = self.c.add(r * g.ldc + j);
                    for (v, acc) in acc.iter_mut().enumerate() {
                        *acc = S::load(cr.add(v * S::W), lens[v]);
                    }
                }
            }
            for (q, &o) in self.offs.iter().enumerate() {
                let bq = self.b.add(o + j);
                let mut bv = [S::zero(); NV];
                for (v, bv) in bv.iter_mut().enumerate() {
                    *bv = S::load(bq.add(v * S::W), lens[v]);
                }
                for (r, acc) in acc.iter_mut().enumerate() {
                    let av = S::splat(*self.a.add(r * g.lda + q));
                    for v in 0..NV {
                        acc[v] = S::fmadd(av, bv[v], acc[v]);
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                let cr = self.c.add(r * g.ldc + j);
                for (v, &acc) in acc.iter().enumerate() {
                    S::store(cr.add(v * S::W), acc, lens[v]);
                }
            }
        }
    }
}

/// The body of `rows_gemm_dot` (lengths checked first).
///
/// Safety: inlined into a function compiled for `S`'s instruction set.
#[inline(always)]
pub(crate) unsafe fn rows_gemm_dot<S: Simd>(c: &mut [f32], a: &[f32], b: &[f32], offs: &[usize], g: &RowsGemmDot) {
    check_dot(c.len(), a.len(), b.len(), offs, g);
    if g.m == 0 || g.r == 0 {
        return;
    }
    if g.len == 0 || g.images == 0 {
        // No products (a and b may be empty): each total is 0, added as the reference adds it.
        for i in 0..g.m {
            for x in &mut c[i * g.ldc..][..g.r] {
                *x += 0.0;
            }
        }
        return;
    }
    let wide = S::W >= 16;
    let mut i = 0;
    while i < g.m {
        let left = g.m - i;
        let mr = if left >= 4 && wide {
            4
        } else if left >= 2 {
            2
        } else {
            1
        };
        // SAFETY: rows i..i + mr < m of c (r values, ldc apart) lie inside c; per image,
        // rows i..i + mr of a (len values) inside a, every range img·b_is + offs[s] ..+ len
        // inside b (checked above); the ISA is enabled in the caller.
        unsafe {
            let t = DotTile { c: c.as_mut_ptr().add(i * g.ldc), a: a.as_ptr().add(i * g.lda), b: b.as_ptr(), g };
            match mr {
                4 => t.rows::<S, 4, 6>(offs),
                2 if wide => t.rows::<S, 2, 6>(offs),
                2 => t.rows::<S, 2, 3>(offs),
                _ if wide => t.rows::<S, 1, 6>(offs),
                _ => t.rows::<S, 1, 3>(offs),
            }
        }
        i += mr;
    }
}

/// The most outputs of a `rows_gemm_dot` register tile (MR·NR).
const MAX_TILE: usize = 24;

/// One block of rows of a `rows_gemm_dot` call: c and a (image 0) at its first row.
struct DotTile<'a> {
    c: *mut f32,
    a: *const f32,
    b: *const f32,
    g: &'a RowsGemmDot,
}

impl DotTile<'_> {
    /// MR rows, every offset: tiles of NR offsets, the rest in one smaller tile.
    ///
    /// Safety: as the caller's SAFETY note in [`rows_gemm_dot`].
    #[inline(always)]
    unsafe fn rows<S: Simd, const MR: usize, const NR: usize>(&self, offs: &[usize]) {
        let mut s = 0;
        while s < offs.len() {
            let want = (offs.len() - s).min(NR);
            let o = &offs[s..];
            // SAFETY: columns s.. of c's rows exist for each offset taken (the caller's note).
            let used = unsafe {
                if want == NR {
                    self.tile::<S, MR, NR>(s, o)
                } else if want >= 4 && NR > 4 {
                    self.tile::<S, MR, 4>(s, o)
                } else if want >= 3 && NR > 3 {
                    self.tile::<S, MR, 3>(s, o)
                } else if want >= 2 && NR > 2 {
                    self.tile::<S, MR, 2>(s, o)
                } else {
                    self.tile::<S, MR, 1>(s, o)
                }
            };
            s += used;
        }
    }

    /// c[r, s + u] += Σ_img Σ_t a[img, r, t]·b[img·b_is + offs\[u] + t] for r < MR, u < NR,
    /// as 16 partial sums each (the reference's order). Returns NR.
    ///
    /// Safety: as [`DotTile::rows`], with offs.len() ≥ NR and columns s..s + NR existing.
    #[inline(always)]
    unsafe fn tile<S: Simd, const MR: usize, const NR: usize>(&self, s: usize, offs: &[usize]) -> usize {
        let g = self.g;
        let two = S::W < DOT_LANES; // two vectors per output (AVX2), else one
        let boffs = &offs[..NR];
        // SAFETY: the caller's contract: per image, a's rows r < MR and b's ranges at the
        // NR offsets hold `len` values, and every address below is below those ends (full
        // vectors where at least W positions are left, masked loads of the rest).
        unsafe {
            // Lanes 0..W and (two) W..16 of the 16 partials of output (r, u).
            let mut lo = [[S::zero(); NR]; MR];
            let mut hi = [[S::zero(); NR]; MR];
            for img in 0..g.images {
                let ai = self.a.add(img * g.a_is);
                let mut bi = [self.b; NR];
                for (bi, &o) in bi.iter_mut().zip(boffs) {
                    *bi = self.b.add(img * g.b_is + o);
                }
                let mut t = 0;
                if !two {
                    // One vector per chunk: every chunk masked (a mask of all lanes but at the
                    // end), one loop; a separate tail after it made the compiler spill the
                    // 24 accumulators around it, per image.
                    while t < g.len {
                        chunk::<S, MR, NR, true>(&mut lo, ai, g.lda, &bi, t, (g.len - t).min(S::W));
                        t += DOT_LANES;
                    }
                    continue;
                }
                while t + DOT_LANES <= g.len {
                    chunk::<S, MR, NR, false>(&mut lo, ai, g.lda, &bi, t, S::W);
                    chunk::<S, MR, NR, false>(&mut hi, ai, g.lda, &bi, t + S::W, S::W);
                    t += DOT_LANES;
                }
                if t < g.len {
                    let rest = g.len - t;
                    chunk::<S, MR, NR, true>(&mut lo, ai, g.lda, &bi, t, rest.min(S::W));
                    if rest > S::W {
                        chunk::<S, MR, NR, true>(&mut hi, ai, g.lda, &bi, t + S::W, rest - S::W);
                    }
                }
            }
            // The 16 partials of W outputs at a time (o = r·NR + u) folded 0..15 by
            // `fold16` (zeros past the tile's outputs), each total added to its c.
            // (Copied out flat first: indexing lo and hi by a loop variable here would keep
            // them in memory in the loops above.)
            let outs = MR * NR;
            let (mut flat_lo, mut flat_hi) = ([S::zero(); MAX_TILE], [S::zero(); MAX_TILE]);
            for r in 0..MR {
                for u in 0..NR {
                    flat_lo[r * NR + u] = lo[r][u];
                    flat_hi[r * NR + u] = hi[r][u];
                }
            }
            let mut o0 = 0;
            while o0 < outs {
                let here = (outs - o0).min(S::W);
                let mut p = [S::zero(); 16];
                p[..here].copy_from_slice(&flat_lo[o0..o0 + here]);
                if two {
                    p[8..8 + here].copy_from_slice(&flat_hi[o0..o0 + here]);
                }
                let mut tot = [0.0f32; DOT_LANES];
                S::store(tot.as_mut_ptr(), S::fold16(p), S::W);
                for (i, &t) in tot.iter().enumerate().take(here) {
                    let (r, u) = ((o0 + i) / NR, (o0 + i) % NR);
                    *self.c.add(r * g.ldc + s + u) += t;
                }
                o0 += S::W;
            }
        }
        NR
    }
}

/// acc[r][u] ← a[r·lda + at + p]·b_u[at + p] + acc[r][u] per lane p < len (len ≤ W); lanes
/// ≥ len do no FMA when TAIL (else len = W).
///
/// Safety: `len` values from `a + r·lda + at` (r < MR) and from `b[u] + at` exist; inlined
/// into a function compiled for `S`.
#[inline(always)]
unsafe fn chunk<S: Simd, const MR: usize, const NR: usize, const TAIL: bool>(
    acc: &mut [[S::V; NR]; MR],
    a: *const f32,
    lda: usize,
    b: &[*const f32; NR],
    at: usize,
    len: usize,
) {
    // SAFETY: the contract above.
    unsafe {
        // (The tail's loads are masked: no lane past len is read.)
        let load = |p: *const f32| if TAIL { S::load_or(p, len, S::zero()) } else { S::load(p, S::W) };
        let mut av = [S::zero(); MR];
        for (r, av) in av.iter_mut().enumerate() {
            *av = load(a.add(r * lda + at));
        }
        for (u, &bu) in b.iter().enumerate() {
            let bv = load(bu.add(at));
            for (acc, &av) in acc.iter_mut().zip(&av) {
                acc[u] = if TAIL { S::fmadd_tail(av, bv, acc[u], len) } else { S::fmadd(av, bv, acc[u]) };
            }
        }
    }
}
