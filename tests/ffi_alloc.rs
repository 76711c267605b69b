//! The C ABI's batch-1 path allocates nothing: a counting global allocator watches 10 000
//! `hepae_encode` / `hepae_decode` calls of 1 to 4 rows through the exported functions.

use hepae::ffi::*;
use hepae::{Dataset, TrainConfig, Trainer};
use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::CString;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn encode_and_decode_of_up_to_four_rows_allocate_nothing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = Dataset::open(&root.join("tests/data/dy_nano_v6.npy")).unwrap();
    let cfg = TrainConfig { hidden: vec![32, 16], latent: 6, epochs: Some(1), ..TrainConfig::default() };
    let path = std::env::temp_dir().join(format!("hepae-ffi-alloc-{}.safetensors", std::process::id()));
    Trainer::new(cfg).fit(&data).unwrap().save(&path).unwrap();
    let c = CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: valid NUL-terminated path; status may be NULL.
    let (enc, dec) = unsafe {
        (hepae_encoder_open(c.as_ptr(), std::ptr::null_mut()), hepae_decoder_open(c.as_ptr(), std::ptr::null_mut()))
    };
    assert!(!enc.is_null() && !dec.is_null());
    let d = data.cols();
    let mut z = [0f32; 4 * 6];
    let mut y = vec![0f32; 4 * d];
    let x = &data.as_slice()[..4 * d];
    let before = ALLOCS.load(Ordering::Relaxed);
    for i in 0..10_000 {
        let rows = 1 + i % 4;
        // SAFETY: live handles; buffers hold rows × width floats.
        unsafe {
            assert_eq!(hepae_encode(enc, x.as_ptr(), rows, z.as_mut_ptr()), HEPAE_OK);
            assert_eq!(hepae_decode(dec, z.as_ptr(), rows, y.as_mut_ptr()), HEPAE_OK);
        }
    }
    let after = ALLOCS.load(Ordering::Relaxed);
    // SAFETY: handles from the opens above, closed once.
    unsafe {
        hepae_encoder_close(enc);
        hepae_decoder_close(dec);
    }
    std::fs::remove_file(&path).ok();
    assert_eq!(after - before, 0, "allocations during batch ≤ 4 encode/decode");
}
