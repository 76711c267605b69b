//! The C ABI's batch-1 path allocates nothing: a counting global allocator watches 10 000
//! `hepae_encode` / `hepae_decode` calls of 1 to 4 rows through the exported functions.

use hepae::ffi::*;
use hepae::{Dataset, TrainConfig, Trainer};
use std::ffi::CString;
use std::path::Path;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_during;

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
    let n = allocations_during(|| {
        for i in 0..10_000 {
            let rows = 1 + i % 4;
            // SAFETY: live handles; buffers hold rows × width floats.
            unsafe {
                assert_eq!(hepae_encode(enc, x.as_ptr(), rows, z.as_mut_ptr()), HEPAE_OK);
                assert_eq!(hepae_decode(dec, z.as_ptr(), rows, y.as_mut_ptr()), HEPAE_OK);
            }
        }
    });
    // SAFETY: handles from the opens above, closed once.
    unsafe {
        hepae_encoder_close(enc);
        hepae_decoder_close(dec);
    }
    std::fs::remove_file(&path).ok();
    assert_eq!(n, 0, "allocations during batch ≤ 4 encode/decode");
}
