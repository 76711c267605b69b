//! A buffer of f32 with an inaccessible page right after its last value (or right before its
//! first), so that a kernel that reads or writes one value past its slice — even a masked
//! lane that would store back what it loaded — faults instead of passing unseen. Linux only
//! (anonymous `mmap` + `mprotect`, declared here: the standard library links the C library).
//! Included with `#[path = "support/guarded.rs"] mod guarded;`.
#![allow(dead_code)] // each test file uses its own subset

use std::ffi::c_void;

extern "C" {
    fn mmap(addr: *mut c_void, len: usize, prot: i32, flags: i32, fd: i32, off: i64) -> *mut c_void;
    fn mprotect(addr: *mut c_void, len: usize, prot: i32) -> i32;
    fn munmap(addr: *mut c_void, len: usize) -> i32;
    fn sysconf(name: i32) -> i64;
}
const PROT_NONE: i32 = 0;
const PROT_RW: i32 = 1 | 2;
const MAP_PRIVATE_ANONYMOUS: i32 = 0x02 | 0x20;
const SC_PAGESIZE: i32 = 30;

/// `n` f32 between two inaccessible pages, flush against the one after (`Edge::End`) or
/// the one before (`Edge::Start`).
pub struct Guarded {
    base: *mut c_void,
    bytes: usize,
    data: *mut f32,
    n: usize,
}

#[derive(Clone, Copy, Debug)]
pub enum Edge {
    Start,
    End,
}

impl Guarded {
    /// `values` copied into a fresh guarded buffer.
    pub fn new(values: &[f32], edge: Edge) -> Guarded {
        // SAFETY: sysconf reads a constant; mmap asks for a fresh private anonymous mapping
        // (checked below); mprotect changes only the first and last of its pages.
        unsafe {
            let page = sysconf(SC_PAGESIZE) as usize;
            let n = values.len();
            let data_pages = (n * 4).div_ceil(page).max(1);
            let bytes = (data_pages + 2) * page;
            let base = mmap(std::ptr::null_mut(), bytes, PROT_RW, MAP_PRIVATE_ANONYMOUS, -1, 0);
            assert!(!base.is_null() && base as isize != -1, "mmap of {bytes} bytes failed");
            let b = base as *mut u8;
            assert_eq!(mprotect(base, page, PROT_NONE), 0, "mprotect (front)");
            assert_eq!(mprotect(b.add((data_pages + 1) * page) as *mut c_void, page, PROT_NONE), 0, "mprotect (back)");
            let start = match edge {
                Edge::Start => page,
                Edge::End => page + data_pages * page - n * 4,
            };
            let data = b.add(start) as *mut f32;
            std::ptr::copy_nonoverlapping(values.as_ptr(), data, n);
            Guarded { base, bytes, data, n }
        }
    }
    pub fn as_slice(&self) -> &[f32] {
        // SAFETY: `n` initialised f32 in the readable pages of the live mapping.
        unsafe { std::slice::from_raw_parts(self.data, self.n) }
    }
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        // SAFETY: as `as_slice`, borrowed uniquely through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.data, self.n) }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once; no slice outlives `self`.
        unsafe { munmap(self.base, self.bytes) };
    }
}
