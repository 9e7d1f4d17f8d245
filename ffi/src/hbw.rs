//! hbwmalloc.h: the high-bandwidth-memory interface, over the HBW kinds.
//!
//! The policy is set at most once per process (every later call fails with EPERM, as in
//! memkind). PREFERRED, the default, falls back to ordinary memory when the machine has no
//! high-bandwidth nodes.

use std::ffi::{c_int, c_void};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use morselkind::StaticKind;

use crate::memkind::{memkind_calloc, memkind_malloc, memkind_posix_memalign, memkind_realloc};
use crate::{guard, MemkindT};

const BIND: c_int = 1;
const PREFERRED: c_int = 2;
const INTERLEAVE: c_int = 3;
const BIND_ALL: c_int = 4;
const PAGESIZE_4KB: c_int = 1;
const PAGESIZE_2MB: c_int = 2;
const PAGESIZE_1GB_STRICT: c_int = 3;
const PAGESIZE_1GB: c_int = 4;
const TOUCH_PAGES: c_int = 1;

static POLICY: AtomicI32 = AtomicI32::new(PREFERRED);
static POLICY_SET: AtomicBool = AtomicBool::new(false);

fn hbw_kind(huge: bool) -> MemkindT {
    use StaticKind as S;
    let sk = match (POLICY.load(Ordering::Relaxed), huge) {
        (BIND, false) => S::Hbw,
        (BIND, true) => S::HbwHugetlb,
        (BIND_ALL, false) => S::HbwAll,
        (BIND_ALL, true) => S::HbwAllHugetlb,
        (INTERLEAVE, _) => S::HbwInterleave,
        (_, huge) => {
            let preferred = if huge { S::HbwPreferredHugetlb } else { S::HbwPreferred };
            if preferred.kind().ready().is_ok() {
                preferred
            } else if huge {
                S::Hugetlb
            } else {
                S::Default
            }
        }
    };
    sk.kind().as_ptr()
}

#[no_mangle]
pub extern "C" fn hbw_get_policy() -> c_int {
    POLICY.load(Ordering::Relaxed)
}

#[no_mangle]
pub extern "C" fn hbw_set_policy(mode: c_int) -> c_int {
    if POLICY_SET.swap(true, Ordering::AcqRel) {
        return libc::EPERM;
    }
    if !(BIND..=BIND_ALL).contains(&mode) {
        return libc::EINVAL;
    }
    POLICY.store(mode, Ordering::Relaxed);
    0
}

#[no_mangle]
pub extern "C" fn hbw_check_available() -> c_int {
    guard(libc::ENODEV, || if StaticKind::Hbw.kind().ready().is_ok() { 0 } else { libc::ENODEV })
}

#[no_mangle]
pub unsafe extern "C" fn hbw_verify_memory_region(addr: *mut c_void, size: usize, flags: c_int) -> c_int {
    guard(libc::EFAULT, || {
        if addr.is_null() || size == 0 || flags & !TOUCH_PAGES != 0 {
            return libc::EINVAL;
        }
        let Ok(hbw) = morselkind::statics::hbw_nodes() else { return libc::ENODEV };
        if hbw.is_empty() {
            return libc::ENODEV;
        }
        let page = morsel::PAGE_SIZE;
        let start = addr as usize & !(page - 1);
        let end = addr as usize + size;
        let mut pages: Vec<*mut c_void> = (start..end).step_by(page).map(|a| a as *mut c_void).collect();
        if flags & TOUCH_PAGES != 0 {
            for p in &pages {
                // SAFETY: the caller's region is mapped memory it owns; rewriting a byte with its
                // own value faults the page in without changing contents.
                unsafe {
                    let b = (*p).cast::<u8>();
                    b.write_volatile(b.read_volatile());
                }
            }
        }
        let mut status = vec![0 as c_int; pages.len()];
        // SAFETY: move_pages with null nodes only reports where each page lives.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_move_pages,
                0,
                pages.len(),
                pages.as_mut_ptr(),
                std::ptr::null::<c_int>(),
                status.as_mut_ptr(),
                0,
            )
        };
        if rc != 0 {
            return libc::EFAULT;
        }
        if status.iter().all(|n| *n >= 0 && hbw.contains(&(*n as u32))) {
            0
        } else {
            -1
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn hbw_malloc(size: usize) -> *mut c_void {
    // SAFETY: forwarded.
    unsafe { memkind_malloc(hbw_kind(false), size) }
}

#[no_mangle]
pub unsafe extern "C" fn hbw_calloc(num: usize, size: usize) -> *mut c_void {
    // SAFETY: forwarded.
    unsafe { memkind_calloc(hbw_kind(false), num, size) }
}

#[no_mangle]
pub unsafe extern "C" fn hbw_posix_memalign(
    memptr: *mut *mut c_void,
    alignment: usize,
    size: usize,
) -> c_int {
    // SAFETY: forwarded.
    unsafe { memkind_posix_memalign(hbw_kind(false), memptr, alignment, size) }
}

#[no_mangle]
pub unsafe extern "C" fn hbw_posix_memalign_psize(
    memptr: *mut *mut c_void,
    alignment: usize,
    size: usize,
    pagesize: c_int,
) -> c_int {
    let huge = match pagesize {
        PAGESIZE_4KB => false,
        PAGESIZE_2MB if POLICY.load(Ordering::Relaxed) == INTERLEAVE => return libc::EINVAL,
        PAGESIZE_2MB => true,
        PAGESIZE_1GB_STRICT | PAGESIZE_1GB => return libc::EINVAL,
        _ => return libc::EINVAL,
    };
    // SAFETY: forwarded.
    unsafe { memkind_posix_memalign(hbw_kind(huge), memptr, alignment, size) }
}

#[no_mangle]
pub unsafe extern "C" fn hbw_realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: forwarded.
    unsafe { memkind_realloc(hbw_kind(false), ptr, size) }
}

#[no_mangle]
pub unsafe extern "C" fn hbw_free(ptr: *mut c_void) {
    if let Some(p) = NonNull::new(ptr.cast::<u8>()) {
        // SAFETY: the caller passes a live block.
        guard((), || unsafe { morselkind::free_any(p) })
    }
}

#[no_mangle]
pub unsafe extern "C" fn hbw_malloc_usable_size(ptr: *mut c_void) -> usize {
    match NonNull::new(ptr.cast::<u8>()) {
        // SAFETY: the caller passes a live block.
        Some(p) => guard(0, || unsafe { morselkind::usable_size_any(p) }),
        None => 0,
    }
}
