//! The direct-convolution encoder kernel (`Kernels::conv_enc`): the scalar reference equals a
//! plain textbook NCHW convolution loop on the unpacked PyTorch weights (f64), and every SIMD
//! set equals the scalar reference to FMA rounding, at ragged shapes (odd H and W, stride 1
//! and 2, padding 0 and 1, kernels 1, 3 and 4, C and O not multiples of the vector width),
//! with every activation; the output's border is left untouched and lengths are checked.

#[path = "support/chain.rs"]
mod chain;

use chain::{rnd, sets};
use hepae_kernels::close::assert_slices_close;
use hepae_kernels::conv_enc::{forward_scalar, ConvAct, ConvEncPack, ConvEncSpec};
use rand::SeedableRng;

/// One convolution's parameters and input (CHW), with PyTorch-layout weights.
struct Case {
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    k: usize,
    s: usize,
    p: usize,
    weight: Vec<f32>,
    bias: Vec<f32>,
    slopes: Vec<f32>,
    image: Vec<f32>,
}

impl Case {
    fn new(seed: u64, (c, h, w): (usize, usize, usize), o: usize, k: usize, s: usize, p: usize) -> Case {
        let mut r = rand::rngs::StdRng::seed_from_u64(seed);
        Case {
            c,
            h,
            w,
            o,
            k,
            s,
            p,
            weight: rnd(&mut r, o * c * k * k, -0.5, 0.5),
            bias: rnd(&mut r, o, -0.3, 0.3),
            slopes: rnd(&mut r, o, -0.5, 0.8),
            image: rnd(&mut r, c * h * w, -1.0, 1.0),
        }
    }
    fn spec<'a>(&'a self, act: ConvAct<'a>, border: usize) -> ConvEncSpec<'a> {
        ConvEncSpec {
            c: self.c,
            h: self.h,
            w: self.w,
            out: self.o,
            kernel: self.k,
            stride: self.s,
            pad: self.p,
            weight: &self.weight,
            bias: &self.bias,
            act,
            out_border: border,
        }
    }
    fn slope(&self, act: ConvAct<'_>, o: usize) -> f64 {
        match act {
            ConvAct::Identity => 1.0,
            ConvAct::Leaky(a) | ConvAct::PreluShared(a) => a as f64,
            ConvAct::PreluChannel(a) => a[o] as f64,
        }
    }
    /// The textbook loop: NCHW, zero outside the image, f64; output [O, OH, OW].
    fn textbook(&self, act: ConvAct<'_>) -> (Vec<f64>, usize, usize) {
        let (c, h, w, k, s, p) = (self.c, self.h, self.w, self.k, self.s, self.p);
        let oh = (h + 2 * p - k) / s + 1;
        let ow = (w + 2 * p - k) / s + 1;
        let mut out = vec![0.0f64; self.o * oh * ow];
        for o in 0..self.o {
            for y in 0..oh {
                for x in 0..ow {
                    let mut a = self.bias[o] as f64;
                    for ci in 0..c {
                        for i in 0..k {
                            for j in 0..k {
                                let (yy, xx) = ((y * s + i) as isize - p as isize, (x * s + j) as isize - p as isize);
                                if yy < 0 || xx < 0 || yy >= h as isize || xx >= w as isize {
                                    continue;
                                }
                                let v = self.image[(ci * h + yy as usize) * w + xx as usize] as f64;
                                a += v * self.weight[((o * c + ci) * k + i) * k + j] as f64;
                            }
                        }
                    }
                    out[(o * oh + y) * ow + x] = if a > 0.0 { a } else { a * self.slope(act, o) };
                }
            }
        }
        (out, oh, ow)
    }
}

/// The padded HWC input of `pack` for `case`'s image.
fn padded(pack: &ConvEncPack, case: &Case) -> Vec<f32> {
    let mut x = vec![0.0f32; pack.in_len()];
    pack.pad_input(&case.image, &mut x);
    x
}

const BORDER_FILL: f32 = 7.25;

/// Runs `f` on `case` with an output border of 1 prefilled with a marker; checks the border
/// kept it and returns the interior (HWC).
fn run(f: hepae_kernels::conv_enc::ConvEncFn, pack: &ConvEncPack, x: &[f32]) -> Vec<f32> {
    let mut out = vec![BORDER_FILL; pack.out_len()];
    f(&mut out, x, pack);
    let ((oh, ow), o, b) = (pack.out_hw(), pack.out(), pack.out_border());
    let owb = ow + 2 * b;
    let mut interior = Vec::with_capacity(oh * ow * o);
    for (py, row) in out.chunks_exact(owb * o).enumerate() {
        for (px, pixel) in row.chunks_exact(o).enumerate() {
            let inside = (b..b + oh).contains(&py) && (b..b + ow).contains(&px);
            if inside {
                interior.extend_from_slice(pixel);
            } else {
                assert!(pixel.iter().all(|&v| v == BORDER_FILL), "border pixel ({py}, {px}) was written");
            }
        }
    }
    interior
}

/// (C, H, W), O, k, stride, pad.
type Shape = ((usize, usize, usize), usize, usize, usize, usize);

fn shapes() -> Vec<Shape> {
    let mut v = Vec::new();
    let images = [(1, 9, 7), (3, 7, 11), (8, 13, 5), (17, 5, 9)];
    let outs = [1, 5, 8, 16, 19, 33];
    let windows = [(1, 1, 0), (3, 1, 1), (3, 2, 1), (4, 2, 0), (4, 1, 1), (3, 2, 0), (1, 2, 0)];
    for (n, &img) in images.iter().enumerate() {
        for (m, &o) in outs.iter().enumerate() {
            // Every image with every O, and each pair with two of the windows in turn.
            for &(k, s, p) in [windows[(n + m) % windows.len()], windows[(n + 2 * m + 3) % windows.len()]].iter() {
                v.push((img, o, k, s, p));
            }
        }
    }
    // Dense layers as 1×1 convolutions of a 1×1 image (long windows, one pixel).
    v.push(((300, 1, 1), 33, 1, 1, 0));
    v.push(((67, 1, 1), 5, 1, 1, 0));
    v.push(((61, 2, 3), 19, 1, 1, 0));
    // The reference encoder's three layers.
    v.push(((1, 40, 40), 8, 3, 1, 1));
    v.push(((8, 40, 40), 16, 3, 2, 1));
    v.push(((16, 20, 20), 32, 3, 2, 1));
    v
}

fn acts(case: &Case) -> [ConvAct<'_>; 4] {
    [ConvAct::Identity, ConvAct::Leaky(0.01), ConvAct::PreluShared(-0.3), ConvAct::PreluChannel(&case.slopes)]
}

#[test]
fn the_scalar_reference_is_the_textbook_nchw_convolution() {
    for (n, (img, o, k, s, p)) in shapes().into_iter().enumerate() {
        let case = Case::new(n as u64, img, o, k, s, p);
        for act in acts(&case) {
            let pack = ConvEncPack::new(&case.spec(act, 1));
            let got = run(forward_scalar, &pack, &padded(&pack, &case));
            let (want, oh, ow) = case.textbook(act);
            assert_eq!(pack.out_hw(), (oh, ow), "output size");
            // HWC against CHW.
            let want_hwc: Vec<f32> = (0..oh * ow * o).map(|i| want[(i % o) * oh * ow + i / o] as f32).collect();
            let what = format!("scalar {img:?} O {o} k {k} s {s} p {p} {act:?}");
            assert_slices_close(&got, &want_hwc, 1e-5, 1e-5, &what);
        }
    }
}

#[test]
fn every_simd_set_matches_the_scalar_reference() {
    let simd: Vec<_> = sets().into_iter().filter(|k| k.isa != hepae_kernels::Isa::Scalar).collect();
    for (n, (img, o, k, s, p)) in shapes().into_iter().enumerate() {
        let case = Case::new(100 + n as u64, img, o, k, s, p);
        for act in acts(&case) {
            for border in [0, 1] {
                let pack = ConvEncPack::new(&case.spec(act, border));
                let x = padded(&pack, &case);
                let want = run(forward_scalar, &pack, &x);
                for set in &simd {
                    let got = run(set.conv_enc, &pack, &x);
                    let what = format!("{:?} {img:?} O {o} k {k} s {s} p {p} b {border} {act:?}", set.isa);
                    // FMA rounding against a multiply then an add, sums in another order
                    // (partial sums on long windows): n = C·k·k roundings of O(1) sums.
                    let atol = 1e-6 + 1e-7 * (img.0 * k * k) as f64;
                    assert_slices_close(&got, &want, atol, 1e-6, &what);
                }
            }
        }
    }
}

#[test]
fn the_table_entry_of_every_set_is_its_own_kernel_and_refuses_wrong_lengths() {
    let case = Case::new(7, (3, 7, 11), 19, 3, 2, 1);
    let pack = ConvEncPack::new(&case.spec(ConvAct::Leaky(0.1), 0));
    assert_eq!((pack.out_hw(), pack.out_pad()), ((4, 6), 32));
    assert_eq!((pack.input(), pack.out(), pack.window(), pack.out_border()), ((3, 7, 11), 19, (3, 2, 1), 0));
    assert_eq!(pack.in_len(), 9 * 13 * 3);
    assert_eq!(pack.macs(), 4 * 6 * 19 * 27);
    for set in sets() {
        let x = vec![0.0f32; pack.in_len()];
        let short = std::panic::catch_unwind(|| (set.conv_enc)(&mut vec![0.0; pack.out_len()], &x[1..], &pack));
        assert!(short.is_err(), "{:?}: a short input is refused", set.isa);
        let long = std::panic::catch_unwind(|| (set.conv_enc)(&mut vec![0.0; pack.out_len() + 1], &x, &pack));
        assert!(long.is_err(), "{:?}: a long output is refused", set.isa);
        // A zero image gives act(bias) in every pixel.
        let mut out = vec![f32::NAN; pack.out_len()];
        (set.conv_enc)(&mut out, &x, &pack);
        for px in out.chunks_exact(19) {
            for (v, &b) in px.iter().zip(&case.bias) {
                assert_eq!(*v, if b > 0.0 { b } else { b * 0.1 }, "{:?}", set.isa);
            }
        }
    }
}

#[test]
fn a_clone_of_a_pack_is_aligned_and_equal() {
    let case = Case::new(9, (8, 13, 5), 33, 4, 1, 1);
    let pack = ConvEncPack::new(&case.spec(ConvAct::PreluChannel(&case.slopes), 1));
    let copy = pack.clone();
    assert_eq!(copy.weights(), pack.weights());
    assert_eq!(copy.bias(), pack.bias());
    assert_eq!(copy.slopes(), pack.slopes());
    assert_eq!(copy.weights().as_ptr() as usize % 64, 0);
    assert_eq!(pack.weights().as_ptr() as usize % 64, 0);
    let x = padded(&pack, &case);
    assert_eq!(run(forward_scalar, &copy, &x), run(forward_scalar, &pack, &x));
}
