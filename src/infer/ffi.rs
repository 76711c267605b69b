//! The C ABI (header: `include/hepae.h`), for trigger and analysis code in C or C++.
//!
//! A handle wraps one [`Encoder`] or [`Decoder`] with its own planned buffers: one handle per
//! thread, no lock. Input is in physical units; the model's normaliser runs inside. Encoding or
//! decoding up to 4 rows allocates nothing. Every entry point returns a status code (or NULL)
//! and never unwinds into C: a panic is caught and reported as `HEPAE_ERR_INTERNAL`. The
//! message of the last failure on the calling thread is at `hepae_last_error()`.
//! A quantised model (`hepae quantize`) opens like any other; its handle runs the encoder in
//! the stored precision (`crate::infer::quantized`).

#![deny(unsafe_op_in_unsafe_fn)]

use crate::encoder::{Decoder, Encoder};
use crate::formats::model_file::SavedModel;
use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

/// Success.
pub const HEPAE_OK: c_int = 0;
/// A required pointer argument was NULL.
pub const HEPAE_ERR_NULL: c_int = 1;
/// The model file could not be read or is not a valid hepae model.
pub const HEPAE_ERR_MODEL: c_int = 2;
/// An input value is NaN/Inf or cannot be normalised (e.g. pT ≤ 0 under custom4).
pub const HEPAE_ERR_INPUT: c_int = 3;
/// An argument is out of range (rows × width overflows, bad index, bad path encoding).
pub const HEPAE_ERR_ARG: c_int = 4;
/// A bug inside hepae (a caught panic); the handle should be closed.
pub const HEPAE_ERR_INTERNAL: c_int = 5;

/// Rows per internal step of a handle (batches above 4 rows use the blocked GEMM).
const HANDLE_MAX_BATCH: usize = 1024;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

fn fail(code: c_int, msg: &str) -> c_int {
    set_error(msg);
    code
}

/// Runs `f`, turning a panic into `HEPAE_ERR_INTERNAL` with its message.
fn guard(what: &str, f: impl FnOnce() -> c_int) -> c_int {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(code) => code,
        Err(p) => {
            let m = p
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| p.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            fail(HEPAE_ERR_INTERNAL, &format!("{what}: internal error: {m}"))
        }
    }
}

fn set_status(status: *mut c_int, code: c_int) {
    if !status.is_null() {
        // SAFETY: the caller passes NULL or a pointer to a writable int (documented in hepae.h).
        unsafe { *status = code };
    }
}

/// Reads a C path argument.
fn c_path(path: *const c_char, what: &str) -> Result<PathBuf, c_int> {
    if path.is_null() {
        return Err(fail(HEPAE_ERR_NULL, &format!("{what}: path is NULL")));
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string (hepae.h).
    let c = unsafe { CStr::from_ptr(path) };
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(PathBuf::from(std::ffi::OsStr::from_bytes(c.to_bytes())))
    }
    #[cfg(not(unix))]
    {
        c.to_str().map(PathBuf::from).map_err(|_| fail(HEPAE_ERR_ARG, &format!("{what}: path is not UTF-8")))
    }
}

fn load_model(path: *const c_char, what: &str) -> Result<(PathBuf, SavedModel), c_int> {
    let p = c_path(path, what)?;
    let m = SavedModel::load(&p).map_err(|e| fail(HEPAE_ERR_MODEL, &format!("{what}: {e}")))?;
    Ok((p, m))
}

/// The message of the last failed call on this thread ("" if none). Valid until the next
/// failing hepae call on this thread. Successful calls leave it unchanged.
#[no_mangle]
pub extern "C" fn hepae_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// An encoder handle (opaque in C).
pub struct HepaeEncoder {
    enc: Encoder,
    columns: Vec<String>,
    column_c: Vec<CString>,
    path: PathBuf,
}

/// A decoder handle (opaque in C).
pub struct HepaeDecoder {
    dec: Decoder,
}

fn c_strings(v: &[String]) -> Vec<CString> {
    v.iter().map(|s| CString::new(s.replace('\0', " ")).unwrap_or_default()).collect()
}

/// Opens the model at `path` for encoding. NULL on failure, with `*status` (if not NULL) set
/// and the message at `hepae_last_error()`.
///
/// # Safety
/// Every pointer argument is NULL or valid as `include/hepae.h` describes: handles come from
/// the matching `_open` and are not yet closed nor used by two threads at once; strings are
/// NUL-terminated; arrays hold `rows × width` floats.
#[no_mangle]
pub unsafe extern "C" fn hepae_encoder_open(path: *const c_char, status: *mut c_int) -> *mut HepaeEncoder {
    let mut out: *mut HepaeEncoder = std::ptr::null_mut();
    let code = guard("hepae_encoder_open", || match load_model(path, "hepae_encoder_open") {
        Ok((p, m)) => {
            let h = HepaeEncoder {
                enc: Encoder::new(&m, HANDLE_MAX_BATCH),
                column_c: c_strings(&m.meta.columns),
                columns: m.meta.columns.clone(),
                path: p,
            };
            out = Box::into_raw(Box::new(h));
            HEPAE_OK
        }
        Err(c) => c,
    });
    set_status(status, code);
    out
}

/// Closes an encoder handle (NULL is a no-op).
///
/// # Safety
/// Every pointer argument is NULL or valid as `include/hepae.h` describes: handles come from
/// the matching `_open` and are not yet closed nor used by two threads at once; strings are
/// NUL-terminated; arrays hold `rows × width` floats.
#[no_mangle]
pub unsafe extern "C" fn hepae_encoder_close(enc: *mut HepaeEncoder) {
    if !enc.is_null() {
        // SAFETY: `enc` came from hepae_encoder_open (Box::into_raw) and is closed once.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(enc) })));
    }
}

/// Variables per jet the encoder expects (0 if `enc` is NULL).
///
/// # Safety
/// Every pointer argument is NULL or valid as `include/hepae.h` describes: handles come from
/// the matching `_open` and are not yet closed nor used by two threads at once; strings are
/// NUL-terminated; arrays hold `rows × width` floats.
#[no_mangle]
pub unsafe extern "C" fn hepae_encoder_input_dim(enc: *const HepaeEncoder) -> usize {
    // SAFETY: NULL or a live handle from hepae_encoder_open.
    unsafe { enc.as_ref() }.map_or(0, |h| h.enc.input_dim())
}

/// Latent values per jet (0 if `enc` is NULL).
///
/// # Safety
/// Every pointer argument is NULL or valid as `include/hepae.h` describes: handles come from
/// the matching `_open` and are not yet closed nor used by two threads at once; strings are
/// NUL-terminated; arrays hold `rows × width` floats.
#[no_mangle]
pub unsafe extern "C" fn hepae_encoder_latent_dim(enc: *const HepaeEncoder) -> usize {
    // SAFETY: NULL or a live handle from hepae_encoder_open.
    unsafe { enc.as_ref() }.map_or(0, |h| h.enc.latent_dim())
}

/// The name of input column `i` (owned by the handle), or NULL if out of range.
///
/// # Safety
/// Every pointer argument is NULL or valid as `include/hepae.h` describes: handles come from
/// the matching `_open` and are not yet closed nor used by two threads at once; strings are
/// NUL-terminated; arrays hold `rows × width` floats.
#[no_mangle]
pub unsafe extern "C" fn hepae_encoder_column_name(enc: *const HepaeEncoder, i: usize) -> *const c_char {
    // SAFETY: NULL or a live handle from hepae_encoder_open.
    match unsafe { enc.as_ref() }.and_then(|h| h.column_c.get(i)) {
        Some(c) => c.as_ptr(),
        None => std::ptr::null(),
    }
}

/// Encodes `rows` jets from `input` [rows × input_dim] floats, physical units, row-major,
/// into `out` [rows × latent_dim]. Returns HEPAE_OK or an error code (message at
/// `hepae_last_error()`). Allocates nothing for rows ≤ 4 and takes no lock.
///
/// # Safety
/// Every pointer argument is NULL or valid as `include/hepae.h` describes: handles come from
/// the matching `_open` and are not yet closed nor used by two threads at once; strings are
/// NUL-terminated; arrays hold `rows × width` floats.
#[no_mangle]
pub unsafe extern "C" fn hepae_encode(enc: *mut HepaeEncoder, input: *const f32, rows: usize, out: *mut f32) -> c_int {
    guard("hepae_encode", || {
        // SAFETY: NULL or a live handle from hepae_encoder_open, used by one thread at a time.
        let Some(h) = (unsafe { enc.as_mut() }) else {
            return fail(HEPAE_ERR_NULL, "hepae_encode: encoder handle is NULL");
        };
        if rows == 0 {
            return HEPAE_OK;
        }
        if input.is_null() || out.is_null() {
            return fail(HEPAE_ERR_NULL, "hepae_encode: input or output pointer is NULL");
        }
        let (d, l) = (h.enc.input_dim(), h.enc.latent_dim());
        let (Some(ni), Some(no)) = (rows.checked_mul(d), rows.checked_mul(l)) else {
            return fail(HEPAE_ERR_ARG, "hepae_encode: rows × width overflows");
        };
        // SAFETY: the caller provides rows × input_dim readable floats at `input` and
        // rows × latent_dim writable floats at `out`, not overlapping (hepae.h).
        let (x, z) = unsafe { (std::slice::from_raw_parts(input, ni), std::slice::from_raw_parts_mut(out, no)) };
        match h.enc.encode(x, rows, z) {
            Ok(()) => HEPAE_OK,
            Err(b) => {
                let col = h.columns.get(b.col).map_or("?", String::as_str);
                fail(
                    HEPAE_ERR_INPUT,
                    &format!(
                        "hepae_encode ({}): row {}, column {col}: value {} is not finite or cannot be normalised",
                        h.path.display(),
                        b.row,
                        x[b.row * d + b.col]
                    ),
                )
            }
        }
    })
}

/// Opens the model at `path` for decoding. NULL on failure (see hepae_encoder_open).
///
/// # Safety
/// Every pointer argument is NULL or valid as `include/hepae.h` describes: handles come from
/// the matching `_open` and are not yet closed nor used by two threads at once; strings are
/// NUL-terminated; arrays hold `rows × width` floats.
#[no_mangle]
pub unsafe extern "C" fn hepae_decoder_open(path: *const c_char, status: *mut c_int) -> *mut HepaeDecoder {
    let mut out: *mut HepaeDecoder = std::ptr::null_mut();
    let code = guard("hepae_decoder_open", || match load_model(path, "hepae_decoder_open") {
        Ok((_, m)) => {
            out = Box::into_raw(Box::new(HepaeDecoder { dec: Decoder::new(&m, HANDLE_MAX_BATCH) }));
            HEPAE_OK
        }
        Err(c) => c,
    });
    set_status(status, code);
    out
}

/// Closes a decoder handle (NULL is a no-op).
///
/// # Safety
/// Every pointer argument is NULL or valid as `include/hepae.h` describes: handles come from
/// the matching `_open` and are not yet closed nor used by two threads at once; strings are
/// NUL-terminated; arrays hold `rows × width` floats.
#[no_mangle]
pub unsafe extern "C" fn hepae_decoder_close(dec: *mut HepaeDecoder) {
    if !dec.is_null() {
        // SAFETY: `dec` came from hepae_decoder_open (Box::into_raw) and is closed once.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(dec) })));
    }
}

/// Latent values per jet the decoder reads (0 if `dec` is NULL).
///
/// # Safety
/// Every pointer argument is NULL or valid as `include/hepae.h` describes: handles come from
/// the matching `_open` and are not yet closed nor used by two threads at once; strings are
/// NUL-terminated; arrays hold `rows × width` floats.
#[no_mangle]
pub unsafe extern "C" fn hepae_decoder_latent_dim(dec: *const HepaeDecoder) -> usize {
    // SAFETY: NULL or a live handle from hepae_decoder_open.
    unsafe { dec.as_ref() }.map_or(0, |h| h.dec.latent_dim())
}

/// Variables per jet the decoder writes (0 if `dec` is NULL).
///
/// # Safety
/// Every pointer argument is NULL or valid as `include/hepae.h` describes: handles come from
/// the matching `_open` and are not yet closed nor used by two threads at once; strings are
/// NUL-terminated; arrays hold `rows × width` floats.
#[no_mangle]
pub unsafe extern "C" fn hepae_decoder_output_dim(dec: *const HepaeDecoder) -> usize {
    // SAFETY: NULL or a live handle from hepae_decoder_open.
    unsafe { dec.as_ref() }.map_or(0, |h| h.dec.output_dim())
}

/// Decodes `rows` latent codes [rows × latent_dim] into `out` [rows × output_dim], physical
/// units. Returns HEPAE_OK or an error code. Allocates nothing for rows ≤ 4.
///
/// # Safety
/// Every pointer argument is NULL or valid as `include/hepae.h` describes: handles come from
/// the matching `_open` and are not yet closed nor used by two threads at once; strings are
/// NUL-terminated; arrays hold `rows × width` floats.
#[no_mangle]
pub unsafe extern "C" fn hepae_decode(dec: *mut HepaeDecoder, latent: *const f32, rows: usize, out: *mut f32) -> c_int {
    guard("hepae_decode", || {
        // SAFETY: NULL or a live handle from hepae_decoder_open, used by one thread at a time.
        let Some(h) = (unsafe { dec.as_mut() }) else {
            return fail(HEPAE_ERR_NULL, "hepae_decode: decoder handle is NULL");
        };
        if rows == 0 {
            return HEPAE_OK;
        }
        if latent.is_null() || out.is_null() {
            return fail(HEPAE_ERR_NULL, "hepae_decode: input or output pointer is NULL");
        }
        let (l, d) = (h.dec.latent_dim(), h.dec.output_dim());
        let (Some(ni), Some(no)) = (rows.checked_mul(l), rows.checked_mul(d)) else {
            return fail(HEPAE_ERR_ARG, "hepae_decode: rows × width overflows");
        };
        // SAFETY: the caller provides rows × latent_dim readable floats at `latent` and
        // rows × output_dim writable floats at `out`, not overlapping (hepae.h).
        let (z, y) = unsafe { (std::slice::from_raw_parts(latent, ni), std::slice::from_raw_parts_mut(out, no)) };
        h.dec.decode(z, rows, y);
        HEPAE_OK
    })
}
