//! A direct 2-D convolution forward for ONE image, for the inference encoder: weights packed
//! once, images in channels-last (HWC) order, bias and activation fused. The scalar reference
//! is [`forward_scalar`] below; the SIMD body (one for AVX2 and AVX-512F) is in
//! `conv_enc_simd.rs`, instantiated per ISA by `crate::body::instantiate!`.
//!
//! Layout ([`ConvEncPack`]):
//! - input: the image zero-padded by `pad` on every side, HWC: [(H+2p) × (W+2p) × C]. The
//!   border must hold zeros (the kernel reads it as the padding); [`ConvEncPack::pad_input`]
//!   writes it from a CHW image, and a layer's output can be the next layer's padded input
//!   directly (`out_border`).
//! - output: [(OH+2b) × (OW+2b) × O] with b = `out_border`; only the interior OH × OW pixels
//!   are written, the border is left as it is (zero, for the next layer's padding).
//! - weights: `[k·k·C][O_pad]`, row (i·k + j)·C + c holding w[o, c, i, j] for every o (PyTorch's
//!   [O, C, k, k] transposed once), O_pad = O rounded up to 16 with zeros, 64-byte aligned:
//!   output channels are the vector lanes, input values are broadcast.
//!
//! out[y, x, o] = act(b\[o] + Σ_{i,j,c} w[o, c, i, j]·in[y·s + i, x·s + j, c]) (padded
//! coordinates), act(v) = v > 0 ? v : a_o·v with a_o the channel's slope (1: identity).
//! Numerics: the SIMD sets add the products in (i, j, c) order with one rounding per
//! multiply-add; the reference in the same order with a multiply and an add.

use crate::check;

/// Floats per weight row padding unit (and alignment unit: 64 bytes).
const PAD: usize = 16;

/// What follows the convolution (as `y = x > 0 ? x : a·x` with a per-channel slope `a`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ConvAct<'a> {
    Identity,
    /// LeakyReLU with this negative slope.
    Leaky(f32),
    /// PReLU with one learned slope (`nn.PReLU()`).
    PreluShared(f32),
    /// PReLU with one slope per output channel (`nn.PReLU(O)`); O values.
    PreluChannel(&'a [f32]),
}

/// One convolution to pack: input (C, H, W), `out` channels, a k×k window, stride, zero
/// padding, `weight` [O, C, k, k] and `bias` \[O] (PyTorch `nn.Conv2d` layout), the activation,
/// and the zero border the output buffer keeps around its pixels.
#[derive(Clone, Copy, Debug)]
pub struct ConvEncSpec<'a> {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub out: usize,
    pub kernel: usize,
    pub stride: usize,
    pub pad: usize,
    pub weight: &'a [f32],
    pub bias: &'a [f32],
    pub act: ConvAct<'a>,
    pub out_border: usize,
}

/// A convolution packed for [`crate::Kernels::conv_enc`] (see the module doc).
#[derive(Debug)]
pub struct ConvEncPack {
    pub(crate) c: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) out: usize,
    pub(crate) kernel: usize,
    pub(crate) stride: usize,
    pub(crate) pad: usize,
    pub(crate) out_border: usize,
    pub(crate) oh: usize,
    pub(crate) ow: usize,
    pub(crate) out_pad: usize,
    /// Weights from `data[base]` (64-byte aligned): k·k·C rows of `out_pad`; then `out_pad`
    /// biases, then `out_pad` slopes. (No field is public: the kernels trust the geometry
    /// to match the values.)
    data: Vec<f32>,
    base: usize,
    len: usize,
}

/// The first index of `v` on a 64-byte boundary (`v` holds at least [`PAD`] spare values).
fn aligned_base(v: &[f32]) -> usize {
    let misalign = (v.as_ptr() as usize / 4) % PAD;
    (PAD - misalign) % PAD
}

impl Clone for ConvEncPack {
    /// A copy whose values are aligned again in their new allocation.
    fn clone(&self) -> Self {
        let mut data = vec![0.0f32; self.len + PAD];
        let base = aligned_base(&data);
        data[base..base + self.len].copy_from_slice(&self.data[self.base..self.base + self.len]);
        ConvEncPack { data, base, ..*self }
    }
}

impl ConvEncPack {
    /// Packs `s`. Panics on an empty shape, a window that does not fit the padded image, or
    /// a weight, bias or slope vector of the wrong length (the caller builds specs from a
    /// checked net, so each is a programming error).
    pub fn new(s: &ConvEncSpec<'_>) -> ConvEncPack {
        let (c, o, k) = (s.c, s.out, s.kernel);
        assert!(
            c > 0 && o > 0 && k > 0 && s.stride > 0,
            "hepae-kernels::conv_enc pack: C {c}, O {o}, k {k}, stride {}",
            s.stride
        );
        let (hp, wp) = (s.h + 2 * s.pad, s.w + 2 * s.pad);
        assert!(hp >= k && wp >= k, "hepae-kernels::conv_enc pack: a {k}×{k} window does not fit {hp}×{wp}");
        check::product("conv_enc pack", "weight", s.weight.len(), ("O", o), ("C·k·k", c * k * k));
        check::product("conv_enc pack", "bias", s.bias.len(), ("1", 1), ("O", o));
        if let ConvAct::PreluChannel(a) = s.act {
            check::product("conv_enc pack", "slopes", a.len(), ("1", 1), ("O", o));
        }
        let out_pad = o.next_multiple_of(PAD);
        let rows = k * k * c;
        let len = (rows + 2) * out_pad;
        let mut data = vec![0.0f32; len + PAD];
        let base = aligned_base(&data);
        let vals = &mut data[base..base + len];
        for oc in 0..o {
            for ci in 0..c {
                for i in 0..k {
                    for j in 0..k {
                        vals[((i * k + j) * c + ci) * out_pad + oc] = s.weight[((oc * c + ci) * k + i) * k + j];
                    }
                }
            }
            vals[rows * out_pad + oc] = s.bias[oc];
            vals[(rows + 1) * out_pad + oc] = match s.act {
                ConvAct::Identity => 1.0,
                ConvAct::Leaky(a) | ConvAct::PreluShared(a) => a,
                ConvAct::PreluChannel(a) => a[oc],
            };
        }
        ConvEncPack {
            c,
            h: s.h,
            w: s.w,
            out: o,
            kernel: k,
            stride: s.stride,
            pad: s.pad,
            out_border: s.out_border,
            oh: (hp - k) / s.stride + 1,
            ow: (wp - k) / s.stride + 1,
            out_pad,
            data,
            base,
            len,
        }
    }

    /// Input channels, height and width (unpadded).
    pub fn input(&self) -> (usize, usize, usize) {
        (self.c, self.h, self.w)
    }
    /// Output channels.
    pub fn out(&self) -> usize {
        self.out
    }
    /// Kernel size, stride and zero padding.
    pub fn window(&self) -> (usize, usize, usize) {
        (self.kernel, self.stride, self.pad)
    }
    /// Output height and width.
    pub fn out_hw(&self) -> (usize, usize) {
        (self.oh, self.ow)
    }
    /// The zero border kept around the output's pixels.
    pub fn out_border(&self) -> usize {
        self.out_border
    }
    /// `out` rounded up to 16: the weight row stride.
    pub fn out_pad(&self) -> usize {
        self.out_pad
    }
    /// The packed weights `[k·k·C][out_pad]` (64-byte aligned).
    pub fn weights(&self) -> &[f32] {
        &self.data[self.base..self.base + self.kernel * self.kernel * self.c * self.out_pad]
    }
    /// The biases, `out_pad` values (zero past `out`).
    pub fn bias(&self) -> &[f32] {
        let at = self.base + self.kernel * self.kernel * self.c * self.out_pad;
        &self.data[at..at + self.out_pad]
    }
    /// Each output channel's negative slope, `out_pad` values (1: identity).
    pub fn slopes(&self) -> &[f32] {
        let at = self.base + (self.kernel * self.kernel * self.c + 1) * self.out_pad;
        &self.data[at..at + self.out_pad]
    }
    /// Values of the padded HWC input, (H+2p)·(W+2p)·C.
    pub fn in_len(&self) -> usize {
        (self.h + 2 * self.pad) * (self.w + 2 * self.pad) * self.c
    }
    /// Values of the output buffer with its border, (OH+2b)·(OW+2b)·O.
    pub fn out_len(&self) -> usize {
        (self.oh + 2 * self.out_border) * (self.ow + 2 * self.out_border) * self.out
    }
    /// Multiply-adds of one forward.
    pub fn macs(&self) -> usize {
        self.oh * self.ow * self.out * self.kernel * self.kernel * self.c
    }
    /// Writes the CHW image `chw` [C·H·W] into the interior of the padded HWC input `dst`
    /// [`in_len`](Self::in_len) (whose border the caller keeps zero). Panics on other lengths.
    pub fn pad_input(&self, chw: &[f32], dst: &mut [f32]) {
        let (c, h, w, p) = (self.c, self.h, self.w, self.pad);
        check::product("conv_enc pad_input", "chw", chw.len(), ("C", c), ("H·W", h * w));
        check::product("conv_enc pad_input", "dst", dst.len(), ("1", 1), ("in_len", self.in_len()));
        let wp = w + 2 * p;
        if c == 1 {
            for (y, row) in chw.chunks_exact(w).enumerate() {
                let at = (y + p) * wp + p;
                dst[at..at + w].copy_from_slice(row);
            }
            return;
        }
        for ci in 0..c {
            for y in 0..h {
                for x in 0..w {
                    dst[((y + p) * wp + x + p) * c + ci] = chw[(ci * h + y) * w + x];
                }
            }
        }
    }
}

/// The contract of a [`ConvEncFn`] call: x exactly [`ConvEncPack::in_len`], out exactly
/// [`ConvEncPack::out_len`].
pub(crate) fn check_call(out: usize, x: usize, pack: &ConvEncPack) {
    check::product("conv_enc", "x", x, ("1", 1), ("in_len", pack.in_len()));
    check::product("conv_enc", "out", out, ("1", 1), ("out_len", pack.out_len()));
}

/// The table entry's type: one image's convolution, `x` the padded HWC input and `out` the
/// HWC output with its border (see the module doc). Panics on other lengths.
pub type ConvEncFn = fn(out: &mut [f32], x: &[f32], pack: &ConvEncPack);

/// The reference of [`crate::Kernels::conv_enc`]: every output channel of every pixel from
/// its bias, the products added in (i, j, c) order, then the activation.
pub fn forward_scalar(out: &mut [f32], x: &[f32], pack: &ConvEncPack) {
    check_call(out.len(), x.len(), pack);
    let (c, k, s, o, op) = (pack.c, pack.kernel, pack.stride, pack.out, pack.out_pad);
    let wp = pack.w + 2 * pack.pad;
    let (wts, bias, slopes) = (pack.weights(), pack.bias(), pack.slopes());
    let (b, owb) = (pack.out_border, pack.ow + 2 * pack.out_border);
    // Output channels in blocks of 64 (a stack accumulator: the reference allocates nothing).
    let mut acc = [0.0f32; 64];
    for y in 0..pack.oh {
        for xo in 0..pack.ow {
            for o0 in (0..o).step_by(64) {
                let n = (o - o0).min(64);
                let acc = &mut acc[..n];
                acc.copy_from_slice(&bias[o0..o0 + n]);
                for i in 0..k {
                    for j in 0..k {
                        let px = &x[((y * s + i) * wp + xo * s + j) * c..][..c];
                        for (ci, &v) in px.iter().enumerate() {
                            let row = &wts[((i * k + j) * c + ci) * op + o0..][..n];
                            for (a, &wv) in acc.iter_mut().zip(row) {
                                *a += v * wv;
                            }
                        }
                    }
                }
                let dst = &mut out[((y + b) * owb + xo + b) * o + o0..][..n];
                for ((d, &a), &sl) in dst.iter_mut().zip(acc.iter()).zip(&slopes[o0..]) {
                    *d = if a > 0.0 { a } else { a * sl };
                }
            }
        }
    }
}
