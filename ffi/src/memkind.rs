//! memkind.h and memkind_deprecated.h, and morselkind.h's extensions.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

use morselkind::{
    free_any, free_any_fast, reserved_huge_pages, usable_size_any, Capacity, Error, Kind, Pages, PmemConfig,
    StaticKind, UsagePolicy,
};

use crate::{code, guard, kind_of, set_errno, MemkindT};

pub(crate) const MEMKIND_SUCCESS: c_int = 0;
const VERSION: c_int = 1_014_000;
const MESSAGE_PREFIX: &str = "<memkind> ";

// ---- version and errors ----

#[no_mangle]
pub extern "C" fn memkind_get_version() -> c_int {
    VERSION
}

/// Writes `text` into `msg[..size]` as memkind does: `strncpy` (NUL-padded to `size`) for its
/// fixed messages, `snprintf` for the formatted ones; either way `msg[size-1]` is then NUL.
///
/// # Safety
/// `msg` must be writable for `size` bytes (or null).
unsafe fn write_message(msg: *mut c_char, size: usize, text: &str, pad: bool) {
    if msg.is_null() || size == 0 {
        return;
    }
    let n = text.len().min(size);
    // SAFETY: the caller vouches for `size` writable bytes; n <= size.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), msg.cast::<u8>(), n);
        if pad {
            std::ptr::write_bytes(msg.add(n), 0, size - n);
        } else if n < size {
            *msg.add(n) = 0;
        }
        *msg.add(size - 1) = 0;
    }
}

#[no_mangle]
pub unsafe extern "C" fn memkind_error_message(err: c_int, msg: *mut c_char, size: usize) {
    guard((), || {
        let (text, pad) = match Error::from_code(err) {
            Some(Error::TooMany) => (
                format!("{MESSAGE_PREFIX}Attempted to initialize more than maximum (512) number of kinds"),
                false,
            ),
            Some(e) => (format!("{MESSAGE_PREFIX}{}", e.message()), true),
            // memkind also names the two errno values its posix_memalign returns.
            None if err == libc::EINVAL => (
                format!("{MESSAGE_PREFIX}Alignment must be a power of two and larger than sizeof(void *)"),
                true,
            ),
            None if err == libc::ENOMEM => (format!("{MESSAGE_PREFIX}Call to jemk_mallocx() failed"), true),
            None => (format!("{MESSAGE_PREFIX}Undefined error number: {err}"), false),
        };
        // SAFETY: forwarded from the caller.
        unsafe { write_message(msg, size, &text, pad) }
    })
}

// ---- kind configuration ----

/// memkind's `struct memkind_config`.
pub struct MemkindConfig {
    path: Option<PathBuf>,
    size: usize,
    /// As given: memkind checks it only when the kind is created.
    policy: c_int,
}

#[no_mangle]
pub extern "C" fn memkind_config_new() -> *mut MemkindConfig {
    guard(std::ptr::null_mut(), || Box::into_raw(Box::new(MemkindConfig { path: None, size: 0, policy: 0 })))
}

#[no_mangle]
pub unsafe extern "C" fn memkind_config_delete(cfg: *mut MemkindConfig) {
    if !cfg.is_null() {
        // SAFETY: made by memkind_config_new.
        guard((), || drop(unsafe { Box::from_raw(cfg) }))
    }
}

/// The path behind a C string (None for null).
///
/// # Safety
/// `p` must be a NUL-terminated string or null.
pub(crate) unsafe fn path_of(p: *const c_char) -> Option<PathBuf> {
    // SAFETY: forwarded from the caller.
    (!p.is_null())
        .then(|| Path::new(std::ffi::OsStr::from_bytes(unsafe { CStr::from_ptr(p) }.to_bytes())).into())
}

#[no_mangle]
pub unsafe extern "C" fn memkind_config_set_path(cfg: *mut MemkindConfig, pmem_dir: *const c_char) {
    guard((), || {
        // SAFETY: the caller passes a config from memkind_config_new and a C string.
        if let Some(cfg) = unsafe { cfg.as_mut() } {
            // SAFETY: the caller passes a C string or null.
            cfg.path = unsafe { path_of(pmem_dir) };
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn memkind_config_set_size(cfg: *mut MemkindConfig, pmem_size: usize) {
    // SAFETY: the caller passes a config from memkind_config_new.
    if let Some(cfg) = unsafe { cfg.as_mut() } {
        cfg.size = pmem_size;
    }
}

#[no_mangle]
pub unsafe extern "C" fn memkind_config_set_memory_usage_policy(cfg: *mut MemkindConfig, policy: c_int) {
    // SAFETY: the caller passes a config from memkind_config_new.
    if let Some(cfg) = unsafe { cfg.as_mut() } {
        // Not checked here (as in memkind): a value out of range makes the creation fail.
        cfg.policy = policy;
    }
}

// ---- kind management ----

pub(crate) fn store_kind(out: *mut MemkindT, r: morselkind::Result<Kind>) -> c_int {
    match r {
        Ok(k) => {
            // SAFETY: checked non-null by every caller.
            unsafe { *out = k.as_ptr() };
            MEMKIND_SUCCESS
        }
        // A full kind table: memkind runs out of jemalloc arenas before its table fills and
        // answers ARENAS_CREATE, and programs (memkind's own tests among them) check for exactly
        // that code before they clean up, so the C API answers it too.
        Err(Error::TooMany) => code(Error::ArenasCreate),
        Err(e) => code(e),
    }
}

/// memkind's PMEM kinds from C: a `max_size` of 0 is no limit; any other below 16 MiB
/// (`MEMKIND_PMEM_MIN_SIZE`) is MEMKIND_ERROR_INVALID, said by `Kind::pmem`.
fn create_pmem(dir: Option<PathBuf>, max_size: usize, policy: UsagePolicy, out: *mut MemkindT) -> c_int {
    let Some(dir) = dir else { return code(Error::Invalid) };
    if out.is_null() {
        return code(Error::Invalid);
    }
    let max_size = (max_size != 0).then_some(max_size);
    store_kind(out, Kind::pmem(&PmemConfig { dir: &dir, max_size, policy }))
}

#[no_mangle]
pub unsafe extern "C" fn memkind_create_pmem(
    dir: *const c_char,
    max_size: usize,
    kind: *mut MemkindT,
) -> c_int {
    // SAFETY: the caller passes a C string.
    guard(code(Error::Runtime), || create_pmem(unsafe { path_of(dir) }, max_size, UsagePolicy::Default, kind))
}

#[no_mangle]
pub unsafe extern "C" fn memkind_create_pmem_with_config(
    cfg: *mut MemkindConfig,
    kind: *mut MemkindT,
) -> c_int {
    guard(code(Error::Runtime), || {
        // SAFETY: the caller passes a config from memkind_config_new.
        let Some(cfg) = (unsafe { cfg.as_ref() }) else { return code(Error::Invalid) };
        let policy = match cfg.policy {
            0 => UsagePolicy::Default,
            1 => UsagePolicy::Conservative,
            // memkind creates the kind, fails to apply the policy and answers INVALID (leaking
            // the kind); we answer INVALID and create nothing.
            other => {
                morselkind::log_error(|l| {
                    l.s(b"Unrecognized memory policy ").i(i64::from(other));
                });
                return code(Error::Invalid);
            }
        };
        create_pmem(cfg.path.clone(), cfg.size, policy, kind)
    })
}

#[no_mangle]
pub unsafe extern "C" fn memkind_create_fixed(addr: *mut c_void, size: usize, kind: *mut MemkindT) -> c_int {
    guard(code(Error::Runtime), || {
        if kind.is_null() {
            return code(Error::Invalid);
        }
        // SAFETY: the caller hands over the region, as memkind_create_fixed's contract says.
        store_kind(kind, unsafe { Kind::fixed(addr.cast(), size) })
    })
}

const MEMTYPE_DEFAULT: c_int = 1;
const MEMTYPE_HBW: c_int = 2;
const POLICY_BIND_LOCAL: c_int = 0;
const POLICY_BIND_ALL: c_int = 1;
const POLICY_PREFERRED_LOCAL: c_int = 2;
const POLICY_INTERLEAVE_ALL: c_int = 4;
const POLICY_MAX: c_int = 5;
const BITS_2MB: u64 = 21;

/// memkind_create_kind's table: (memtype flags, policy, flags) → the static kind it names.
fn kind_for(memtype: c_int, policy: c_int, flags: u64) -> Option<StaticKind> {
    use StaticKind as S;
    Some(match (memtype, policy, flags) {
        (MEMTYPE_HBW, POLICY_BIND_LOCAL, 0) => S::Hbw,
        (MEMTYPE_HBW, POLICY_BIND_LOCAL, BITS_2MB) => S::HbwHugetlb,
        (MEMTYPE_HBW, POLICY_BIND_ALL, 0) => S::HbwAll,
        (MEMTYPE_HBW, POLICY_BIND_ALL, BITS_2MB) => S::HbwAllHugetlb,
        (MEMTYPE_HBW, POLICY_PREFERRED_LOCAL, 0) => S::HbwPreferred,
        (MEMTYPE_HBW, POLICY_PREFERRED_LOCAL, BITS_2MB) => S::HbwPreferredHugetlb,
        (MEMTYPE_HBW, POLICY_INTERLEAVE_ALL, 0) => S::HbwInterleave,
        (MEMTYPE_DEFAULT, POLICY_PREFERRED_LOCAL, 0) => S::Default,
        (MEMTYPE_DEFAULT, POLICY_PREFERRED_LOCAL, BITS_2MB) => S::Hugetlb,
        (m, POLICY_INTERLEAVE_ALL, 0) if m == MEMTYPE_DEFAULT | MEMTYPE_HBW => S::Interleave,
        _ => return None,
    })
}

/// memkind_create_kind: validates the arguments (MEMKIND_ERROR_INVALID), then looks the
/// combination up in memkind's table (not there: INVALID). A kind this machine can serve is
/// returned; else a PREFERRED_LOCAL request falls back to MEMKIND_DEFAULT, and any other
/// answers MEMKIND_ERROR_MEMTYPE_NOT_AVAILABLE.
#[no_mangle]
pub unsafe extern "C" fn memkind_create_kind(
    memtype: c_int,
    policy: c_int,
    flags: u64,
    kind: *mut MemkindT,
) -> c_int {
    guard(code(Error::Runtime), || {
        let memtype_ok = memtype != 0 && memtype & !(MEMTYPE_DEFAULT | MEMTYPE_HBW) == 0;
        // memkind clears the bits of MEMKIND_MASK_PAGE_SIZE_2MB's value and wants nothing left.
        let flags_ok = flags & !BITS_2MB == 0;
        if !memtype_ok || !flags_ok || !(0..POLICY_MAX).contains(&policy) || kind.is_null() {
            return code(Error::Invalid);
        }
        let Some(sk) = kind_for(memtype, policy, flags) else { return code(Error::Invalid) };
        if sk.kind().check_available().is_ok() {
            store_kind(kind, Ok(sk.kind()))
        } else if policy == POLICY_PREFERRED_LOCAL {
            store_kind(kind, Ok(Kind::DEFAULT))
        } else {
            code(Error::MemtypeNotAvailable)
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn memkind_destroy_kind(kind: MemkindT) -> c_int {
    guard(code(Error::OperationFailed), || match kind_of(kind) {
        // Static kinds are never destroyed; memkind answers success and keeps them.
        Some(k) if k.static_kind().is_some() => MEMKIND_SUCCESS,
        // SAFETY: memkind's contract: the caller is done with the kind.
        Some(k) => match unsafe { k.destroy() } {
            Ok(()) => MEMKIND_SUCCESS,
            Err(_) => code(Error::OperationFailed),
        },
        None => code(Error::OperationFailed),
    })
}

#[no_mangle]
pub unsafe extern "C" fn memkind_check_available(kind: MemkindT) -> c_int {
    guard(code(Error::Runtime), || match kind_of(kind) {
        // memkind checks the 1 GiB pages of its HBW GBTLB kinds before their nodes.
        Some(k)
            if k.static_kind().is_some_and(|sk| sk.info().pages == Pages::Gbtlb { needs_gib: true })
                && reserved_huge_pages(1 << 20) == 0 =>
        {
            code(Error::Hugetlb)
        }
        Some(k) => k.check_available().map_or_else(code, |()| MEMKIND_SUCCESS),
        None => code(Error::Invalid),
    })
}

/// memkind_get_capacity, by the static kind table's capacity rule (memkind answers for the
/// kinds its man page lists): for HUGETLB the reserved 2 MiB pages and for GBTLB the 1 GiB ones
/// (0 when there are none); every PREFERRED kind and the HBW huge-page kinds answer -1.
#[no_mangle]
pub unsafe extern "C" fn memkind_get_capacity(kind: MemkindT) -> isize {
    guard(-1, || {
        let Some(k) = kind_of(kind) else { return -1 };
        match k.static_kind().map(|sk| sk.info().capacity) {
            Some(Capacity::ReservedPages { kib }) => (reserved_huge_pages(kib) * kib * 1024) as isize,
            Some(Capacity::Unknown) => -1,
            Some(Capacity::Nodes) | None => k.capacity().map_or(-1, |c| c as isize),
        }
    })
}

/// memkind_check_dax_path: 0 when a file made in `dir` can be mapped with MAP_SYNC;
/// MEMKIND_ERROR_RUNTIME when no file can be made there (or sized), MEMKIND_ERROR_MMAP when the
/// mapping is refused (not DAX). The file is unlinked from the start.
#[no_mangle]
pub unsafe extern "C" fn memkind_check_dax_path(pmem_dir: *const c_char) -> c_int {
    guard(code(Error::Runtime), || {
        if pmem_dir.is_null() {
            return code(Error::Invalid);
        }
        // SAFETY: the caller passes a C string.
        let dir = unsafe { CStr::from_ptr(pmem_dir) };
        match morsel::sys::map_sync_probe(dir) {
            Ok(true) => MEMKIND_SUCCESS,
            Ok(false) => code(Error::Mmap),
            Err(_) => code(Error::Runtime),
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn memkind_detect_kind(ptr: *mut c_void) -> MemkindT {
    guard(std::ptr::null(), || Kind::detect(ptr.cast()).map_or(std::ptr::null(), |k| k.as_ptr()))
}

/// memkind_get_kind_by_partition: the kind in table slot `partition` (a static kind, or a live
/// dynamic one); otherwise NULL in `*kind` and MEMKIND_ERROR_UNAVAILABLE. Our own static kind
/// (MORSELKIND_HUGE), which memkind does not have, is not listed.
#[no_mangle]
pub unsafe extern "C" fn memkind_get_kind_by_partition(partition: c_int, kind: *mut MemkindT) -> c_int {
    guard(code(Error::Runtime), || {
        if kind.is_null() {
            return code(Error::Invalid);
        }
        let found = usize::try_from(partition)
            .ok()
            .and_then(Kind::from_index)
            .filter(|k| k.static_kind() != Some(StaticKind::Huge));
        match found {
            Some(k) => store_kind(kind, Ok(k)),
            None => {
                // SAFETY: checked non-null.
                unsafe { *kind = std::ptr::null() };
                code(Error::Unavailable)
            }
        }
    })
}

// ---- statistics ----

#[no_mangle]
pub extern "C" fn memkind_update_cached_stats() -> c_int {
    guard(code(Error::Runtime), || {
        morselkind::update_cached_stats();
        MEMKIND_SUCCESS
    })
}

#[no_mangle]
pub unsafe extern "C" fn memkind_get_stat(kind: MemkindT, stat: c_int, value: *mut usize) -> c_int {
    guard(code(Error::Runtime), || {
        if value.is_null() || !(0..3).contains(&stat) {
            return code(Error::Invalid);
        }
        let s = if kind.is_null() {
            morselkind::total_stats()
        } else {
            match kind_of(kind) {
                Some(k) => k.stats(),
                None => return code(Error::Invalid),
            }
        };
        let v = match stat {
            0 => s.resident,
            1 => s.active,
            _ => s.allocated,
        };
        // SAFETY: checked non-null; the caller passes a writable size_t.
        unsafe { *value = v };
        MEMKIND_SUCCESS
    })
}

type WriteCb = unsafe extern "C" fn(*mut c_void, *const c_char);

unsafe extern "C" fn write_stderr(_: *mut c_void, s: *const c_char) {
    // SAFETY: jemalloc passes a C string.
    morselkind_cabi::write_stderr(unsafe { CStr::from_ptr(s) }.to_bytes());
}

#[no_mangle]
pub unsafe extern "C" fn memkind_stats_print(
    write_cb: Option<WriteCb>,
    cbopaque: *mut c_void,
    opts: c_int,
) -> c_int {
    guard(code(Error::Runtime), || {
        const LETTERS: [(c_int, u8); 9] = [
            (1, b'J'),
            (2, b'g'),
            (4, b'm'),
            (8, b'd'),
            (16, b'a'),
            (32, b'b'),
            (64, b'l'),
            (128, b'x'),
            (256, b'e'),
        ];
        if !(0..512).contains(&opts) {
            return code(Error::Invalid);
        }
        let mut letters = Vec::new();
        for (bit, letter) in LETTERS {
            if opts & bit != 0 {
                letters.push(letter);
            }
        }
        // SAFETY: the callback and its opaque pointer come from the caller, as memkind documents.
        unsafe { morselkind::stats_print(write_cb.unwrap_or(write_stderr), cbopaque, &letters) };
        MEMKIND_SUCCESS
    })
}

#[no_mangle]
pub extern "C" fn memkind_set_bg_threads(state: bool) -> c_int {
    guard(code(Error::Runtime), || {
        if morselkind::set_background_threads(state) {
            MEMKIND_SUCCESS
        } else {
            code(Error::OperationFailed)
        }
    })
}

// ---- heap ----

#[no_mangle]
pub unsafe extern "C" fn memkind_malloc(kind: MemkindT, size: usize) -> *mut c_void {
    // The fast path (a hit in the thread's cache) cannot panic: no guard.
    if let Some(p) = kind_of(kind).and_then(|k| k.malloc_fast(size)) {
        return p.as_ptr().cast();
    }
    malloc_slow(kind, size)
}

/// memkind_malloc after a miss of the fast path; out of line, so that the fast path saves no
/// registers.
#[inline(never)]
fn malloc_slow(kind: MemkindT, size: usize) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        let Some(k) = kind_of(kind) else {
            set_errno(libc::EINVAL);
            return std::ptr::null_mut();
        };
        if size == 0 {
            return std::ptr::null_mut();
        }
        match k.malloc(size) {
            Ok(p) => p.as_ptr().cast(),
            Err(e) => {
                set_errno(e.errno());
                std::ptr::null_mut()
            }
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn memkind_calloc(kind: MemkindT, num: usize, size: usize) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        let Some(k) = kind_of(kind) else {
            set_errno(libc::EINVAL);
            return std::ptr::null_mut();
        };
        if num == 0 || size == 0 {
            return std::ptr::null_mut();
        }
        match k.calloc(num, size) {
            Ok(p) => p.as_ptr().cast(),
            Err(e) => {
                set_errno(e.errno());
                std::ptr::null_mut()
            }
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn memkind_posix_memalign(
    kind: MemkindT,
    memptr: *mut *mut c_void,
    alignment: usize,
    size: usize,
) -> c_int {
    guard(libc::ENOMEM, || {
        let word = std::mem::size_of::<*mut c_void>();
        if memptr.is_null() {
            return libc::EINVAL;
        }
        let Some(k) = kind_of(kind) else { return libc::EINVAL };
        // memkind: every kind but DEFAULT (whose call is jemalloc's posix_memalign) stores NULL
        // in *memptr before it checks anything, so a failure leaves NULL there.
        if k != Kind::DEFAULT {
            // SAFETY: checked non-null.
            unsafe { *memptr = std::ptr::null_mut() };
        }
        if !alignment.is_power_of_two() || alignment % word != 0 {
            return libc::EINVAL;
        }
        if size == 0 {
            // SAFETY: checked non-null.
            unsafe { *memptr = std::ptr::null_mut() };
            return 0;
        }
        match k.aligned(alignment, size) {
            Ok(p) => {
                // SAFETY: checked non-null.
                unsafe { *memptr = p.as_ptr().cast() };
                0
            }
            Err(e) => e.errno(),
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn memkind_realloc(kind: MemkindT, ptr: *mut c_void, size: usize) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        let Some(old) = NonNull::new(ptr.cast::<u8>()) else {
            if kind.is_null() {
                set_errno(libc::EINVAL);
                return std::ptr::null_mut();
            }
            // SAFETY: realloc(kind, NULL, n) is malloc.
            return unsafe { memkind_malloc(kind, size) };
        };
        if size == 0 {
            // SAFETY: the caller passes a live block.
            unsafe { free_any(old) };
            return std::ptr::null_mut();
        }
        let target = match kind_of(kind).or_else(|| Kind::detect(old.as_ptr())) {
            Some(k) => k,
            // SAFETY: not ours and no kind given: the C library's block.
            None => return unsafe { libc::realloc(ptr, size) },
        };
        if Kind::detect(old.as_ptr()).is_none() {
            // A C library block moved into a kind.
            // SAFETY: the caller passes a live block of the C library.
            let old_size = unsafe { libc::malloc_usable_size(ptr) };
            return match target.malloc(size) {
                Ok(p) => {
                    // SAFETY: both blocks are live; copy what fits.
                    unsafe {
                        p.as_ptr().copy_from_nonoverlapping(old.as_ptr(), old_size.min(size));
                        libc::free(ptr);
                    }
                    p.as_ptr().cast()
                }
                Err(e) => {
                    set_errno(e.errno());
                    std::ptr::null_mut()
                }
            };
        }
        // SAFETY: the caller passes a live block of ours.
        match unsafe { target.realloc(old, size) } {
            Ok(p) => p.as_ptr().cast(),
            Err(e) => {
                set_errno(e.errno());
                std::ptr::null_mut()
            }
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn memkind_free(_kind: MemkindT, ptr: *mut c_void) {
    if let Some(p) = NonNull::new(ptr.cast::<u8>()) {
        // The directory, not the kind argument, decides where the block goes: a pointer that
        // is not ours (memkind's issue #634) reaches the C library's free. The fast path
        // cannot panic: no guard.
        // SAFETY: the caller passes a live block.
        if unsafe { free_any_fast(p) } {
            return;
        }
        // SAFETY: as above.
        unsafe { free_slow(p) }
    }
}

/// memkind_free after a miss of the fast path; out of line, so that the fast path saves no
/// registers.
///
/// # Safety
/// `p` is a live block (ours or the C library's), not used again.
#[inline(never)]
unsafe fn free_slow(p: NonNull<u8>) {
    // SAFETY: forwarded from the caller.
    guard((), || unsafe { free_any(p) })
}

#[no_mangle]
pub unsafe extern "C" fn memkind_malloc_usable_size(_kind: MemkindT, ptr: *mut c_void) -> usize {
    match NonNull::new(ptr.cast::<u8>()) {
        // SAFETY: the caller passes a live block.
        Some(p) => guard(0, || unsafe { usable_size_any(p) }),
        None => 0,
    }
}

#[no_mangle]
pub unsafe extern "C" fn memkind_defrag_reallocate(_kind: MemkindT, ptr: *mut c_void) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        let Some(p) = NonNull::new(ptr.cast::<u8>()) else { return std::ptr::null_mut() };
        // The directory, not the kind argument, says whose block it is (as memkind_free).
        let Some(k) = Kind::detect(p.as_ptr()) else { return std::ptr::null_mut() };
        // SAFETY: the directory says it is a live block of `k`.
        unsafe { k.defrag(p) }.map_or(std::ptr::null_mut(), |q| q.as_ptr().cast())
    })
}

// ---- morselkind.h ----

#[no_mangle]
pub unsafe extern "C" fn morselkind_populate(addr: *mut c_void, size: usize) -> c_int {
    guard(code(Error::Runtime), || {
        if size == 0 {
            return MEMKIND_SUCCESS;
        }
        if addr.is_null() {
            return code(Error::Invalid);
        }
        let Some(k) = Kind::detect(addr.cast()) else { return code(Error::Invalid) };
        k.populate(addr as usize, size);
        MEMKIND_SUCCESS
    })
}

#[no_mangle]
pub extern "C" fn morselkind_version_string() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
