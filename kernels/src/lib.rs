//! SIMD kernels for hepae: a scalar reference (the specification, `scalar.rs`); one body per
//! kernel (`body.rs`) written over the `Simd` vector operations (`simd.rs`, which also holds
//! exp and ln, written once); the instruction sets AVX2+FMA (`x86/avx2.rs`) and AVX-512F
//! (`x86/avx512.rs`), each only vector primitives plus one `instantiate!` line that emits its
//! thin `#[target_feature]` wrappers; the packed GEMM (`gemm.rs`, tile and driver over the
//! `Lanes` operations of `lanes.rs`, for every set, scalar included); and one [`Kernels`]
//! table of function pointers, the packed GEMM among them, chosen once per process by CPU
//! feature ([`kernels`]), with `HEPAE_ISA=scalar|avx2|avx512` forcing a set for tests and
//! benches and `HEPAE_GEMM=matrixmultiply` turning its packed GEMM off for planned products.
//! No dependencies beyond std.
//!
//! Safety contract: every safe entry point checks its slice lengths against the contract in
//! its doc comment (equal lengths, or whole rows, or exact matrix shapes) and panics naming
//! the kernel and the lengths on a mismatch, before touching any element. Callers pass exact
//! slices; nothing is truncated to the shortest.
//!
//! Layout conventions: matrices are row-major f32; `dense_small` takes its weight
//! *transposed* (input-major, [k×n]) so that a batch-1 product accumulates whole output
//! vectors in registers without horizontal sums (the caller packs it once).

use std::sync::OnceLock;

mod check;
pub mod close;
pub mod conv_enc;
#[cfg(target_arch = "x86_64")]
mod conv_enc_simd;
pub mod gemm;
mod lanes;
pub mod mlp;
pub mod mlp_batch;
pub mod phase_split;
pub mod plane_epilogue;
pub mod plane_pairs;
pub mod prelu;
pub mod quant;
pub mod quant_batch;
pub mod quant_batch_bf16;
pub mod quant_scalar;
pub mod rows_gemm;
#[cfg(target_arch = "x86_64")]
mod rows_gemm_simd;
pub mod scalar;
pub mod window;

/// The x86-64 instruction sets: each file holds only its vector primitives (the `Simd` impl)
/// and the one `instantiate!` line that builds its kernel table from `body.rs`.
#[cfg(target_arch = "x86_64")]
mod x86 {
    pub mod avx2;
    pub mod avx512;
}
#[cfg(target_arch = "x86_64")]
pub use x86::{avx2, avx512};
#[cfg(target_arch = "x86_64")]
mod body;
/// The reduced-precision kernels of each x86-64 set ([`quant`]).
#[cfg(target_arch = "x86_64")]
pub mod quant_avx2;
#[cfg(target_arch = "x86_64")]
pub mod quant_avx512;
#[cfg(target_arch = "x86_64")]
mod simd;

/// An instruction-set level with its own kernel set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Scalar,
    Avx2,
    Avx512,
}

impl Isa {
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }
    pub fn parse(s: &str) -> Option<Isa> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scalar" => Some(Isa::Scalar),
            "avx2" => Some(Isa::Avx2),
            "avx512" => Some(Isa::Avx512),
            _ => None,
        }
    }
}

/// One Adam step's constants, computed by the caller in f64 and rounded once (as PyTorch
/// computes `1 − β` and the bias corrections in Python floats):
/// m += (1−β1)·(g − m); v = β2·v + (1−β2)·g²; p −= step_size·m / (√v/√bc2 + ε),
/// with step_size = lr/(1 − β1ᵗ) and bc2 = 1 − β2ᵗ.
#[derive(Clone, Copy, Debug)]
pub struct AdamStep {
    pub step_size: f32,
    pub beta2: f32,
    pub one_minus_beta1: f32,
    pub one_minus_beta2: f32,
    pub bc2_sqrt: f32,
    pub eps: f32,
}

impl AdamStep {
    /// The constants of step `t` (1-based).
    pub fn new(lr: f64, beta1: f64, beta2: f64, eps: f64, t: u64) -> Self {
        let t = t.min(i32::MAX as u64) as i32;
        AdamStep {
            step_size: (lr / (1.0 - beta1.powi(t))) as f32,
            beta2: beta2 as f32,
            one_minus_beta1: (1.0 - beta1) as f32,
            one_minus_beta2: (1.0 - beta2) as f32,
            bc2_sqrt: (1.0 - beta2.powi(t)).sqrt() as f32,
            eps: eps as f32,
        }
    }
}

/// Element-wise pass over `x` [rows × bias.len()]; `x.len()` must be a multiple of
/// `bias.len()` (both may be 0).
pub type BiasActFn = fn(x: &mut [f32], bias: &[f32], slope: f32);
/// In-place gradient scaling by an activation's derivative; `d` and `y` of equal length.
pub type ActBackFn = fn(d: &mut [f32], y: &[f32], slope: f32);
/// Column sums of `x` [rows × acc.len()] added into `acc`; `x.len()` must be a multiple of
/// `acc.len()` (both may be 0).
pub type ColSumsFn = fn(acc: &mut [f32], x: &[f32]);
/// Plane sums of `x` [acc.len() planes × hw] added into `acc` (a convolution's bias
/// gradient), each over 16 interleaved partials ([`scalar::plane_sums_add`]); `x.len()` must
/// be a multiple of `acc.len()` (both may be 0).
pub type PlaneSumsFn = fn(acc: &mut [f32], x: &[f32]);
/// x\[i] = +0 for every i (a workspace's padding and accumulators, cleared per op call).
pub type ZeroFn = fn(x: &mut [f32]);
/// One Adam update over a flat parameter buffer; `p`, `g`, `m`, `v` of equal length.
pub type AdamFn = fn(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], hp: &AdamStep);
/// A loss gradient that also returns the f64 sum; `grad`, `out`, `target` of equal length.
pub type MseFn = fn(grad: &mut [f32], out: &[f32], target: &[f32], scale: f32) -> f64;
/// z = μ + e^(½lv)·ε; all four slices of equal length.
pub type ReparamFn = fn(z: &mut [f32], mu: &[f32], logvar: &[f32], eps: &[f32]);
/// The reparameterisation's backward; all five slices of equal length.
pub type ReparamBackFn = fn(dmu: &mut [f32], dlogvar: &mut [f32], dz: &[f32], logvar: &[f32], eps: &[f32]);
/// KL(N(μ, e^lv) ‖ N(0, 1)) and its gradients; all four slices of equal length.
pub type KlNormalFn = fn(dmu: &mut [f32], dlogvar: &mut [f32], mu: &[f32], logvar: &[f32], scale: f32) -> f64;
/// A penalty on activations: value (f64) and gradient added into `da`; `da`, `a` of equal
/// length.
pub type PenaltyFn = fn(da: &mut [f32], a: &[f32], scale: f32) -> f64;
/// Sparsity KL over mean activations; `drho`, `rho_hat` of equal length.
pub type KlSparsityFn = fn(drho: &mut [f32], rho_hat: &[f32], rho: f32, scale: f32) -> f64;
/// Small-M dense layer: out[m×n] = leaky(a[m×k]·wt[k×n] + bias\[n]); each slice exactly
/// that long (m·n, m·k, k·n, n elements).
pub type DenseSmallFn =
    fn(out: &mut [f32], a: &[f32], wt: &[f32], bias: &[f32], m: usize, k: usize, n: usize, slope: f32);

/// Every kernel of one instruction set. Each entry panics if its slices break the length
/// contract on its type (checked once, in the kernel, for every ISA alike).
#[derive(Clone, Copy)]
pub struct Kernels {
    pub isa: Isa,
    /// x\[r,c] = leaky(x\[r,c] + bias\[c]); slope 1 is a plain bias add.
    pub bias_leaky_forward: BiasActFn,
    /// d\[i] *= 1 if y\[i] > 0 else slope (y = the layer's output, same sign as its input).
    pub leaky_backward: ActBackFn,
    /// acc\[c] += Σ_r x[r, c], rows added in order (deterministic).
    pub col_sums_add: ColSumsFn,
    /// acc\[c] += Σ_t x[c, t] over planes of x.len() / acc.len(), 16 partials (deterministic).
    pub plane_sums_add: PlaneSumsFn,
    /// x\[i] = +0 (full-width vector stores; the main crate's own loops are SSE2).
    pub zero: ZeroFn,
    /// Adam, PyTorch semantics (see [`AdamStep`]).
    pub adam_update: AdamFn,
    /// grad = scale·(out − target); returns Σ (out − target)² in f64.
    pub mse_grad: MseFn,
    pub reparam_forward: ReparamFn,
    /// dμ += dz; dlv += dz·½·e^(½lv)·ε.
    pub reparam_backward: ReparamBackFn,
    /// Returns ½Σ(μ² + e^lv − 1 − lv); dμ += scale·μ; dlv += scale·½(e^lv − 1).
    pub kl_normal: KlNormalFn,
    /// Returns Σ|a|; da += scale·sign(a).
    pub l1_penalty: PenaltyFn,
    /// Returns Σ KL(ρ‖ρ̂_j); writes drho_j = scale·(−ρ/ρ̂_j + (1−ρ)/(1−ρ̂_j)).
    pub kl_sparsity: KlSparsityFn,
    /// Batch-1..small dense layer with fused bias and LeakyReLU, weight transposed [k×n].
    pub dense_small: DenseSmallFn,
    /// A whole chain of dense layers for a few rows (the trigger's batch 1), weights packed
    /// once into an [`mlp::MlpPack`]; bit-identical to a chain of this set's `dense_small`.
    pub mlp_forward: mlp::MlpFn,
    /// One im2col tap: a strided row gather with zero fill ([`window::GatherFn`]).
    pub window_gather: window::GatherFn,
    /// One col2im tap: its adjoint, a strided scatter-add ([`window::ScatterAddFn`]).
    pub window_scatter_add: window::ScatterAddFn,
    /// A direct convolution's tap over rows: a += s·b ([`window::RowsAxpyFn`]).
    pub rows_axpy: window::RowsAxpyFn,
    /// Its weight gradient: Σ a·b over rows ([`window::RowsDotFn`]).
    pub rows_dot: window::RowsDotFn,
    /// Rows copied between row strides: a = b ([`window::RowsCopyFn`]).
    pub rows_copy: window::RowsCopyFn,
    /// A convolution's products over planes: c = a · (b's ranges at offsets) ([`rows_gemm::RowsGemmFn`]).
    pub rows_gemm: rows_gemm::RowsGemmFn,
    /// Its weight gradient: c += a · (b's ranges at offsets)ᵀ over images ([`rows_gemm::RowsGemmDotFn`]).
    pub rows_gemm_dot: rows_gemm::RowsGemmDotFn,
    /// A whole chain of dense layers for many rows (the batch encode), in row tiles through
    /// every layer, weights packed once into an [`mlp_batch::MlpBatchPack`]; bit-identical
    /// to the chain of packed GEMMs with fused epilogues (the training forward), on every set.
    pub mlp_batch: mlp_batch::MlpBatchFn,
    /// One image's direct convolution with fused bias and activation, channels-last, weights
    /// packed once into a [`conv_enc::ConvEncPack`] (the image encoder's layers).
    pub conv_enc: conv_enc::ConvEncFn,
    /// This set's packed GEMM ([`gemm::sgemm_packed_on`] with the ISA bound).
    pub sgemm_packed: gemm::PackedGemmFn,
    /// Whether planned products use `sgemm_packed`: true unless `HEPAE_GEMM=matrixmultiply`
    /// asked for the other backend (callers then use a GEMM of their own).
    pub prefer_packed_gemm: bool,
    /// A convolution's fused epilogue: GEMM rows + bias, LeakyReLU, stored at a column step
    /// into the dense output ([`plane_epilogue::RowsBiasActFn`]).
    /// Two column phases of a stride-2 row interleaved, with bias and LeakyReLU ([`plane_pairs::RowsBiasActPairFn`]).
    pub rows_bias_act_pair: plane_pairs::RowsBiasActPairFn,
    /// PReLU's slope gradient over one channel's values, in f64 ([`prelu::PreluSlopeFn`]).
    pub prelu_slope_grad: prelu::PreluSlopeFn,
    /// PReLU's backward in place after a fused forward, and its slope's gradient times the
    /// slope ([`prelu::PreluBackwardFn`]).
    pub prelu_backward: prelu::PreluBackwardFn,
    pub rows_bias_act: plane_epilogue::RowsBiasActFn,
    /// A strided convolution's input split into its stride phases, interior only
    /// ([`phase_split::PhaseSplitFn`]).
    pub phase_split: phase_split::PhaseSplitFn,
}

impl std::fmt::Debug for Kernels {
    /// A kernel set is known by its instruction set.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernels").field("isa", &self.isa).field("prefer_packed_gemm", &self.prefer_packed_gemm).finish()
    }
}

static SCALAR: Kernels = Kernels {
    isa: Isa::Scalar,
    bias_leaky_forward: scalar::bias_leaky_forward,
    leaky_backward: scalar::leaky_backward,
    col_sums_add: scalar::col_sums_add,
    plane_sums_add: scalar::plane_sums_add,
    zero: scalar::zero,
    adam_update: scalar::adam_update,
    mse_grad: scalar::mse_grad,
    reparam_forward: scalar::reparam_forward,
    reparam_backward: scalar::reparam_backward,
    kl_normal: scalar::kl_normal,
    l1_penalty: scalar::l1_penalty,
    kl_sparsity: scalar::kl_sparsity,
    dense_small: scalar::dense_small,
    mlp_forward: scalar::mlp_forward,
    window_gather: scalar::window_gather,
    window_scatter_add: scalar::window_scatter_add,
    rows_axpy: scalar::rows_axpy,
    rows_dot: scalar::rows_dot,
    rows_copy: scalar::rows_copy,
    rows_gemm: rows_gemm::rows_gemm_scalar,
    rows_gemm_dot: rows_gemm::rows_gemm_dot_scalar,
    mlp_batch: scalar::mlp_batch_forward,
    conv_enc: conv_enc::forward_scalar,
    sgemm_packed: gemm::packed_entry!(Isa::Scalar),
    prefer_packed_gemm: true,
    rows_bias_act_pair: plane_pairs::rows_bias_act_pair_scalar,
    prelu_slope_grad: prelu::prelu_slope_grad_scalar,
    prelu_backward: prelu::prelu_backward_scalar,
    rows_bias_act: plane_epilogue::rows_bias_act_scalar,
    phase_split: phase_split::phase_split_scalar,
};

/// Whether this CPU can run `isa`'s kernels (the one place CPU features are read).
pub(crate) fn cpu_has(isa: Isa) -> bool {
    match isa {
        Isa::Scalar => true,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => is_x86_feature_detected!("avx512f"),
        #[cfg(not(target_arch = "x86_64"))]
        _ => false,
    }
}

/// The kernel set for `isa`, or None if this CPU lacks it.
pub fn kernels_for(isa: Isa) -> Option<&'static Kernels> {
    if !cpu_has(isa) {
        return None;
    }
    match isa {
        Isa::Scalar => Some(&SCALAR),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => Some(&avx2::TABLE),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => Some(&avx512::TABLE),
        #[cfg(not(target_arch = "x86_64"))]
        _ => None,
    }
}

/// Every ISA this CPU can run, scalar first.
pub fn available_isas() -> Vec<Isa> {
    [Isa::Scalar, Isa::Avx2, Isa::Avx512].into_iter().filter(|&i| cpu_has(i)).collect()
}

/// The dispatch rule: the forced ISA if it is available, else the best available one.
pub fn choose_isa(forced: Option<&str>, available: &[Isa]) -> Isa {
    if let Some(isa) = forced.and_then(Isa::parse) {
        if available.contains(&isa) {
            return isa;
        }
    }
    available.iter().copied().max_by_key(|i| *i as u8).unwrap_or(Isa::Scalar)
}

/// `table` as this process runs it: not preferring its packed GEMM when `forced_gemm` (the
/// value of `HEPAE_GEMM`) is `matrixmultiply`.
pub fn with_gemm_override(table: &Kernels, forced_gemm: Option<&str>) -> Kernels {
    let mut t = *table;
    if forced_gemm.is_some_and(|v| v.trim().eq_ignore_ascii_case("matrixmultiply")) {
        t.prefer_packed_gemm = false;
    }
    t
}

/// The kernel set of this process, the packed GEMM included: chosen once, honouring
/// `HEPAE_ISA` and `HEPAE_GEMM` (the one place either is read).
pub fn kernels() -> &'static Kernels {
    static CHOSEN: OnceLock<Kernels> = OnceLock::new();
    CHOSEN.get_or_init(|| {
        let forced = std::env::var("HEPAE_ISA").ok();
        let isa = choose_isa(forced.as_deref(), &available_isas());
        let table = kernels_for(isa).unwrap_or(&SCALAR);
        with_gemm_override(table, std::env::var("HEPAE_GEMM").ok().as_deref())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatch_prefers_the_widest_and_honours_a_forced_isa() {
        let all = [Isa::Scalar, Isa::Avx2, Isa::Avx512];
        assert_eq!(choose_isa(None, &all), Isa::Avx512);
        assert_eq!(choose_isa(Some("avx2"), &all), Isa::Avx2);
        assert_eq!(choose_isa(Some("SCALAR"), &all), Isa::Scalar);
        assert_eq!(choose_isa(Some("avx512"), &[Isa::Scalar, Isa::Avx2]), Isa::Avx2, "unavailable: best available");
        assert_eq!(choose_isa(Some("nonsense"), &[Isa::Scalar]), Isa::Scalar);
    }

    #[test]
    fn every_set_carries_its_packed_gemm_and_hepae_gemm_can_remove_it() {
        for isa in available_isas() {
            let t = kernels_for(isa).expect("available");
            assert_eq!(t.isa, isa);
            assert!(t.prefer_packed_gemm, "{isa:?}");
            assert!(!with_gemm_override(t, Some("MatrixMultiply")).prefer_packed_gemm);
            assert!(with_gemm_override(t, None).prefer_packed_gemm);
            assert!(with_gemm_override(t, Some("packed")).prefer_packed_gemm);
        }
        // Each entry computes the product with its own ISA: [1 2; 3 4]·[1; 1] = [3; 7].
        for isa in available_isas() {
            let f = kernels_for(isa).expect("available").sgemm_packed;
            let (a, b, mut c) = ([1.0f32, 2.0, 3.0, 4.0], [1.0f32, 1.0], [0.0f32; 2]);
            assert!(f(&mut Vec::new(), 2, 2, 1, 1.0, &a, 2, 1, &b, 1, 1, 0.0, &mut c, 1, 1, None), "{isa:?}");
            assert_eq!(c, [3.0, 7.0], "{isa:?}");
        }
    }

    #[test]
    fn scalar_kernels_give_hand_computed_values() {
        let mut x = [1.0f32, -2.0, 0.5, -0.5];
        scalar::bias_leaky_forward(&mut x, &[0.5, 1.0], 0.1);
        assert_eq!(x, [1.5, -0.1, 1.0, 0.5]);
        let mut acc = [1.0f32, 2.0];
        scalar::col_sums_add(&mut acc, &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(acc, [5.0, 8.0]);
        let mut g = [0.0f32; 2];
        assert_eq!(scalar::mse_grad(&mut g, &[3.0, 1.0], &[1.0, 1.0], 0.5), 4.0);
        assert_eq!(g, [1.0, 0.0]);
        let mut d = [2.0f32, 2.0];
        scalar::leaky_backward(&mut d, &[1.0, -1.0], 0.25);
        assert_eq!(d, [2.0, 0.5]);
        let mut out = [0.0f32; 2];
        // a = [1, 2], wᵀ = [[1, -1], [3, -3]] (k = 2, n = 2), bias [0, 0]: pre = [7, -7].
        scalar::dense_small(&mut out, &[1.0, 2.0], &[1.0, -1.0, 3.0, -3.0], &[0.0, 0.0], 1, 2, 2, 0.5);
        assert_eq!(out, [7.0, -3.5]);
        let mut da = [0.0f32; 3];
        assert_eq!(scalar::l1_penalty(&mut da, &[-2.0, 0.0, 3.0], 0.5), 5.0);
        assert_eq!(da, [-0.5, 0.0, 0.5]);
        let (mut dmu, mut dlv) = ([0.0f32], [0.0f32]);
        // μ = 1, lv = 0: KL = ½(1 + 1 − 1 − 0) = 0.5; dμ = 1, dlv = 0.
        assert_eq!(scalar::kl_normal(&mut dmu, &mut dlv, &[1.0], &[0.0], 1.0), 0.5);
        assert_eq!((dmu[0], dlv[0]), (1.0, 0.0));
        let mut dr = [0.0f32];
        // ρ̂ = ρ: KL 0 and zero gradient.
        assert!(scalar::kl_sparsity(&mut dr, &[0.05], 0.05, 1.0).abs() < 1e-7);
        assert!(dr[0].abs() < 1e-5);
    }
}
