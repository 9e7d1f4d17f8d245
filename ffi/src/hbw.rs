//! hbwmalloc.h: the high-bandwidth-memory interface, over the HBW kinds.
//!
//! As in memkind, the policy is fixed by the first hbw_set_policy with a valid mode or by the
//! first allocation (which fixes PREFERRED, the default); from then on setting another mode
//! fails with EPERM and setting the same one succeeds. The kind for each page size is chosen
//! once. PREFERRED falls back to ordinary memory when the machine has no high-bandwidth nodes.

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};
use std::sync::Once;

use morselkind::{Kind, KindInner, StaticKind};

use crate::memkind::{
    memkind_calloc, memkind_free, memkind_malloc, memkind_malloc_usable_size, memkind_posix_memalign,
    memkind_realloc,
};
use crate::{guard, MemkindT};

const BIND: c_int = 1;
const PREFERRED: c_int = 2;
const INTERLEAVE: c_int = 3;
const BIND_ALL: c_int = 4;
const PAGESIZE_4KB: c_int = 1;
const PAGESIZE_2MB: c_int = 2;
const PAGESIZE_1GB_STRICT: c_int = 3;
const PAGESIZE_1GB: c_int = 4;
const PAGESIZE_MAX: c_int = 5;
const TOUCH_PAGES: c_int = 1;

static POLICY: AtomicI32 = AtomicI32::new(PREFERRED);
static POLICY_ONCE: Once = Once::new();
/// The kind chosen for each page size, on first use, then kept (as memkind does).
static CHOSEN: [AtomicPtr<KindInner>; PAGESIZE_MAX as usize] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; PAGESIZE_MAX as usize];

/// memkind's choice for a page size under the policy, made once per page size; choosing
/// fixes the policy (a later hbw_set_policy of another mode gets EPERM). A panic gives NULL
/// (the allocation then fails with EINVAL).
fn hbw_kind(pagesize: c_int) -> MemkindT {
    guard(std::ptr::null(), || choose_kind(pagesize))
}

fn choose_kind(pagesize: c_int) -> MemkindT {
    let slot = &CHOSEN[pagesize as usize];
    let cached = slot.load(Ordering::Acquire);
    if !cached.is_null() {
        return cached;
    }
    hbw_set_policy(POLICY.load(Ordering::Acquire));
    use StaticKind as S;
    let policy = POLICY.load(Ordering::Acquire);
    let sk = if policy != PREFERRED {
        match pagesize {
            PAGESIZE_2MB if policy == BIND_ALL => S::HbwAllHugetlb,
            PAGESIZE_2MB => S::HbwHugetlb,
            PAGESIZE_1GB | PAGESIZE_1GB_STRICT => S::HbwGbtlb,
            _ if policy == BIND => S::Hbw,
            _ if policy == BIND_ALL => S::HbwAll,
            _ => S::HbwInterleave,
        }
    } else if S::Hbw.kind().check_available().is_ok() {
        match pagesize {
            PAGESIZE_2MB => S::HbwPreferredHugetlb,
            PAGESIZE_1GB | PAGESIZE_1GB_STRICT => S::HbwPreferredGbtlb,
            _ => S::HbwPreferred,
        }
    } else {
        match pagesize {
            PAGESIZE_2MB => S::Hugetlb,
            PAGESIZE_1GB | PAGESIZE_1GB_STRICT => S::Gbtlb,
            _ => S::Default,
        }
    };
    let k: Kind = sk.kind();
    slot.store(k.as_ptr().cast_mut(), Ordering::Release);
    k.as_ptr()
}

#[no_mangle]
pub extern "C" fn hbw_get_policy() -> c_int {
    POLICY.load(Ordering::Acquire)
}

/// Sets the policy if none is set yet (or chosen by an allocation); answers 0 when the policy
/// in force is `mode`, EPERM when it is another, EINVAL for an unknown mode (which sets nothing).
#[no_mangle]
pub extern "C" fn hbw_set_policy(mode: c_int) -> c_int {
    if !(BIND..=BIND_ALL).contains(&mode) {
        return libc::EINVAL;
    }
    POLICY_ONCE.call_once(|| POLICY.store(mode, Ordering::Release));
    if POLICY.load(Ordering::Acquire) == mode {
        0
    } else {
        libc::EPERM
    }
}

#[no_mangle]
pub extern "C" fn hbw_check_available() -> c_int {
    guard(libc::ENODEV, || if StaticKind::Hbw.kind().check_available().is_ok() { 0 } else { libc::ENODEV })
}

/// 0 when every page of the range is on a high-bandwidth node, -1 when one is not (or is not
/// mapped), EINVAL for bad arguments, EFAULT when move_pages fails. Without HBW nodes every
/// page answers -1, the documented answer. memkind 1.14 agrees for a page that is not present;
/// for a present page it tests the node against a stack nodemask that it never fills when
/// there are no HBW nodes (memkind_hbw_all_get_mbind_nodemask fails first), so its answer is
/// whatever bit the stack held: 0 or -1 by call history, not something to copy.
#[no_mangle]
pub unsafe extern "C" fn hbw_verify_memory_region(addr: *mut c_void, size: usize, flags: c_int) -> c_int {
    guard(libc::EFAULT, || {
        if addr.is_null() || size == 0 || flags & !TOUCH_PAGES != 0 {
            return libc::EINVAL;
        }
        let hbw = morselkind::hbw_nodes().unwrap_or_default();
        let page = morsel::PAGE_SIZE;
        let start = addr as usize & !(page - 1);
        let Some(end) = (addr as usize).checked_add(size) else { return libc::EINVAL };
        let all: Vec<usize> = (start..end).step_by(page).collect();
        for block in all.chunks(64) {
            let mut pages: Vec<*mut c_void> = block.iter().map(|a| *a as *mut c_void).collect();
            if flags & TOUCH_PAGES != 0 {
                for p in &pages {
                    // SAFETY: the caller's region is mapped memory it owns; rewriting a byte
                    // with its own value faults the page in without changing contents.
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
            if !status.iter().all(|n| *n >= 0 && hbw.contains(&(*n as u32))) {
                return -1;
            }
        }
        0
    })
}

#[no_mangle]
pub unsafe extern "C" fn hbw_malloc(size: usize) -> *mut c_void {
    // SAFETY: forwarded.
    unsafe { memkind_malloc(hbw_kind(PAGESIZE_4KB), size) }
}

#[no_mangle]
pub unsafe extern "C" fn hbw_calloc(num: usize, size: usize) -> *mut c_void {
    // SAFETY: forwarded.
    unsafe { memkind_calloc(hbw_kind(PAGESIZE_4KB), num, size) }
}

#[no_mangle]
pub unsafe extern "C" fn hbw_posix_memalign(
    memptr: *mut *mut c_void,
    alignment: usize,
    size: usize,
) -> c_int {
    // SAFETY: forwarded.
    unsafe { memkind_posix_memalign(hbw_kind(PAGESIZE_4KB), memptr, alignment, size) }
}

/// hbw_posix_memalign with a page size: 1GB_STRICT needs a multiple of 1 GiB, INTERLEAVE
/// takes only 4 KiB pages (else EINVAL). A page size outside the enum is EINVAL (memkind
/// indexes a table with it and crashes).
#[no_mangle]
pub unsafe extern "C" fn hbw_posix_memalign_psize(
    memptr: *mut *mut c_void,
    alignment: usize,
    size: usize,
    pagesize: c_int,
) -> c_int {
    if !(0..PAGESIZE_MAX).contains(&pagesize) {
        return libc::EINVAL;
    }
    if pagesize == PAGESIZE_1GB_STRICT && size % (1 << 30) != 0 {
        return libc::EINVAL;
    }
    if matches!(pagesize, PAGESIZE_2MB | PAGESIZE_1GB_STRICT | PAGESIZE_1GB)
        && POLICY.load(Ordering::Acquire) == INTERLEAVE
    {
        return libc::EINVAL;
    }
    // SAFETY: forwarded.
    unsafe { memkind_posix_memalign(hbw_kind(pagesize), memptr, alignment, size) }
}

#[no_mangle]
pub unsafe extern "C" fn hbw_realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: forwarded.
    unsafe { memkind_realloc(hbw_kind(PAGESIZE_4KB), ptr, size) }
}

#[no_mangle]
pub unsafe extern "C" fn hbw_free(ptr: *mut c_void) {
    // SAFETY: forwarded.
    unsafe { memkind_free(std::ptr::null(), ptr) }
}

#[no_mangle]
pub unsafe extern "C" fn hbw_malloc_usable_size(ptr: *mut c_void) -> usize {
    // SAFETY: forwarded.
    unsafe { memkind_malloc_usable_size(std::ptr::null(), ptr) }
}
