//! Raw memory access to a morsel, shared by this crate's integration tests (what every test
//! tree shares, scratch directories and /proc readers, is in the test-support crate).
#![allow(dead_code)]

use morsel::{Morsel, PAGE_SIZE};

fn check_range(m: &Morsel, from: usize, len: usize) -> usize {
    assert!(from <= m.len() && len <= m.len() - from, "range {from:#x}+{len:#x} outside morsel");
    m.base() + from
}

/// Writes `byte` over `[from, from+len)` of the morsel (offsets relative to its base).
pub fn fill(m: &Morsel, from: usize, len: usize, byte: u8) {
    let addr = check_range(m, from, len);
    // SAFETY: the range lies inside the morsel's read-write mapping, which lives while `m` is
    // borrowed; nothing else in the test holds a reference into it.
    unsafe { std::ptr::write_bytes(addr as *mut u8, byte, len) };
}

/// Writes `byte` to the first byte of every 4 KiB page of `[from, from+len)`.
pub fn touch_pages(m: &Morsel, from: usize, len: usize, byte: u8) {
    let addr = check_range(m, from, len);
    for page in (addr..addr + len).step_by(PAGE_SIZE) {
        // SAFETY: `page` lies inside the morsel's read-write mapping (checked above).
        unsafe { std::ptr::write_volatile(page as *mut u8, byte) };
    }
}

/// Reads `len` bytes at `addr`.
///
/// # Safety
/// `[addr, addr+len)` must be readable mapped memory for the duration of the call.
pub unsafe fn read_raw(addr: usize, len: usize) -> Vec<u8> {
    // SAFETY: the caller vouches that the range is readable.
    unsafe { std::slice::from_raw_parts(addr as *const u8, len) }.to_vec()
}

/// Whether every byte of `[from, from+len)` of the morsel equals `byte`.
pub fn all_equal(m: &Morsel, from: usize, len: usize, byte: u8) -> bool {
    let addr = check_range(m, from, len);
    // SAFETY: the range lies inside the morsel's mapping, readable while `m` is borrowed.
    let bytes = unsafe { std::slice::from_raw_parts(addr as *const u8, len) };
    bytes.iter().all(|&b| b == byte)
}

/// Whether every byte of `[from, from+len)` of the morsel is zero.
pub fn all_zero(m: &Morsel, from: usize, len: usize) -> bool {
    all_equal(m, from, len, 0)
}
