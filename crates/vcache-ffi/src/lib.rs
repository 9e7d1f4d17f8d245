//! libmorselcache: libvmemcache 0.8's C ABI (`libvmemcache.h`) over the `vcache` crate. Each
//! entry point is a thin trampoline: it checks its pointers, catches any panic (nothing unwinds
//! into C), and turns a `vcache::Error` into libvmemcache's errno and message.
//!
//! Where libvmemcache crashes on bad input (a NULL cache, key, value or statistic pointer; a
//! call other than put before `vmemcache_add`), these answer -1 with EINVAL instead.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use vcache::{Builder, Cache, Error, Policy, Stat};

/// `vmemcache_on_evict` and `vmemcache_on_miss`.
type Hook = unsafe extern "C" fn(*mut VMEMcache, *const c_void, usize, *mut c_void);

/// The opaque `VMEMcache`: its settings until `vmemcache_add`, then the cache.
pub struct VMEMcache {
    builder: Mutex<Builder>,
    cache: OnceLock<Cache>,
    /// Hooks set before `vmemcache_add`, installed when the cache is made.
    hooks: Mutex<[Option<(Hook, usize)>; 2]>,
}

const EVICT: usize = 0;
const MISS: usize = 1;

thread_local! {
    static MESSAGE: RefCell<[u8; 256]> = const { RefCell::new([0; 256]) };
}

use morselkind_cabi::set_errno;

/// Records `msg` as this thread's last error message and sets errno.
fn fail(errno: c_int, msg: &str) {
    MESSAGE.with(|m| {
        let mut m = m.borrow_mut();
        let n = msg.len().min(m.len() - 1);
        m[..n].copy_from_slice(&msg.as_bytes()[..n]);
        m[n] = 0;
    });
    set_errno(errno);
}

fn fail_with(e: &Error) {
    fail(e.errno(), &e.message());
}

/// Runs `f`, answering `err` (after setting EINVAL) if it panics.
fn guard<T>(err: T, f: impl FnOnce() -> T) -> T {
    morselkind_cabi::guard(None, || Some(f())).unwrap_or_else(|| {
        fail(libc::EINVAL, "internal error");
        err
    })
}

/// The handle behind a pointer, or EINVAL for NULL.
///
/// # Safety
/// A non-null `cache` must come from `vmemcache_new` and not be deleted.
unsafe fn handle<'a>(cache: *mut VMEMcache) -> Option<&'a VMEMcache> {
    if cache.is_null() {
        fail(libc::EINVAL, "invalid (NULL) cache");
        return None;
    }
    // SAFETY: non-null, and the caller vouches that it is a live handle.
    Some(unsafe { &*cache })
}

/// The cache behind a handle once `vmemcache_add` made it; else EINVAL.
///
/// # Safety
/// As for [`handle`].
unsafe fn ready<'a>(cache: *mut VMEMcache) -> Option<&'a Cache> {
    // SAFETY: forwarded.
    let h = unsafe { handle(cache) }?;
    let c = h.cache.get();
    if c.is_none() {
        fail(libc::EINVAL, "the cache has no pool yet (vmemcache_add)");
    }
    c
}

/// `len` bytes at `ptr` as a slice; NULL is allowed only with length 0.
///
/// # Safety
/// A non-null `ptr` must point to `len` readable bytes that outlive the call.
unsafe fn bytes<'a>(ptr: *const c_void, len: usize, what: &str) -> Option<&'a [u8]> {
    if ptr.is_null() {
        if len == 0 {
            return Some(&[]);
        }
        fail(libc::EINVAL, &format!("invalid (NULL) {what}"));
        return None;
    }
    // SAFETY: non-null and `len` readable bytes, as the caller vouches.
    Some(unsafe { std::slice::from_raw_parts(ptr.cast(), len) })
}

/// Makes the closure that calls a C hook with the handle's pointer.
fn closure(handle: usize, hook: Hook, arg: usize) -> vcache::Callback {
    Arc::new(move |_: &Cache, key: &[u8]| {
        // SAFETY: the application registered `hook` for this handle with `arg`; the key is
        // valid for the call.
        unsafe { hook(handle as *mut VMEMcache, key.as_ptr().cast(), key.len(), arg as *mut c_void) }
    })
}

/// Creates an empty unconfigured cache: 1 MiB pool, 256-byte extents, LRU.
pub extern "C" fn mc_new() -> *mut VMEMcache {
    guard(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(VMEMcache {
            builder: Mutex::new(Builder::new()),
            cache: OnceLock::new(),
            hooks: Mutex::new([None, None]),
        }))
    })
}

/// Runs `f` on the builder while the cache has no pool; EALREADY after.
///
/// # Safety
/// As for [`handle`].
unsafe fn configure(cache: *mut VMEMcache, f: impl FnOnce(&mut Builder) -> Result<(), Error>) -> c_int {
    // SAFETY: forwarded.
    let Some(h) = (unsafe { handle(cache) }) else { return -1 };
    let mut b = h.builder.lock().unwrap_or_else(|p| p.into_inner());
    if h.cache.get().is_some() {
        fail(libc::EALREADY, "cache already in use");
        return -1;
    }
    match f(&mut b) {
        Ok(()) => 0,
        Err(e) => {
            fail_with(&e);
            -1
        }
    }
}

/// Sets what a put into a full cache does: VMEMCACHE_REPLACEMENT_NONE (0) or _LRU (1).
///
/// # Safety
/// `cache` must be NULL or a live handle from `vmemcache_new`.
pub unsafe extern "C" fn mc_set_eviction_policy(cache: *mut VMEMcache, repl_p: c_int) -> c_int {
    guard(-1, || {
        // SAFETY: forwarded from the caller.
        unsafe {
            configure(cache, |b| {
                let p = match repl_p {
                    0 => Policy::None,
                    1 => Policy::Lru,
                    _ => return Err(Error::Invalid(format!("incorrect eviction policy: {repl_p}"))),
                };
                b.policy(p);
                Ok(())
            })
        }
    })
}

/// Sets the pool size (at least VMEMCACHE_MIN_POOL), rounded up to whole pages.
///
/// # Safety
/// `cache` must be NULL or a live handle from `vmemcache_new`.
pub unsafe extern "C" fn mc_set_size(cache: *mut VMEMcache, size: usize) -> c_int {
    // SAFETY: forwarded from the caller.
    guard(-1, || unsafe { configure(cache, |b| b.size(size).map(drop)) })
}

/// Sets the extent size (at least VMEMCACHE_MIN_EXTENT).
///
/// # Safety
/// `cache` must be NULL or a live handle from `vmemcache_new`.
pub unsafe extern "C" fn mc_set_extent_size(cache: *mut VMEMcache, extent_size: usize) -> c_int {
    // SAFETY: forwarded from the caller.
    guard(-1, || unsafe { configure(cache, |b| b.extent_size(extent_size).map(drop)) })
}

/// Maps the pool in an unnamed file in directory `path`.
///
/// # Safety
/// `cache` must be NULL or a live handle; `path` NULL or a NUL-terminated string.
pub unsafe extern "C" fn mc_add(cache: *mut VMEMcache, path: *const c_char) -> c_int {
    guard(-1, || {
        // SAFETY: forwarded from the caller.
        let Some(h) = (unsafe { handle(cache) }) else { return -1 };
        if path.is_null() {
            fail(libc::EINVAL, "invalid (NULL) path");
            return -1;
        }
        // SAFETY: non-null and NUL-terminated, as the caller vouches.
        let path = unsafe { CStr::from_ptr(path) };
        let path = Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(path.to_bytes()));
        let b = h.builder.lock().unwrap_or_else(|p| p.into_inner());
        if h.cache.get().is_some() {
            fail(libc::EBUSY, "the cache is already initialized");
            return -1;
        }
        if let Ok(m) = std::fs::metadata(path) {
            use std::os::unix::fs::FileTypeExt;
            if m.file_type().is_char_device() {
                fail(libc::ENOTSUP, "device DAX pools are not supported: give a directory");
                return -1;
            }
        }
        let c = match b.build_in(path) {
            Ok(c) => c,
            Err(e) => {
                fail_with(&e);
                return -1;
            }
        };
        let hooks = *h.hooks.lock().unwrap_or_else(|p| p.into_inner());
        let me = cache as usize;
        c.on_evict(hooks[EVICT].map(|(f, a)| closure(me, f, a)));
        c.on_miss(hooks[MISS].map(|(f, a)| closure(me, f, a)));
        let _ = h.cache.set(c);
        0
    })
}

/// Frees the cache, its pool and its file.
///
/// # Safety
/// `cache` must be NULL or a live handle, not used by any thread afterwards.
pub unsafe extern "C" fn mc_delete(cache: *mut VMEMcache) {
    guard((), || {
        if !cache.is_null() {
            // SAFETY: made by Box::into_raw in vmemcache_new; the caller gives it up.
            drop(unsafe { Box::from_raw(cache) });
        }
    })
}

/// Sets (or with NULL clears) one of the two hooks, before or after `vmemcache_add`.
///
/// # Safety
/// As for [`handle`].
unsafe fn set_hook(cache: *mut VMEMcache, which: usize, hook: Option<Hook>, arg: *mut c_void) {
    // SAFETY: forwarded.
    let Some(h) = (unsafe { handle(cache) }) else { return };
    let _b = h.builder.lock().unwrap_or_else(|p| p.into_inner());
    let entry = hook.map(|f| (f, arg as usize));
    h.hooks.lock().unwrap_or_else(|p| p.into_inner())[which] = entry;
    if let Some(c) = h.cache.get() {
        let cb = entry.map(|(f, a)| closure(cache as usize, f, a));
        if which == EVICT {
            c.on_evict(cb);
        } else {
            c.on_miss(cb);
        }
    }
}

/// Registers the hook called before an entry is evicted.
///
/// # Safety
/// `cache` must be NULL or a live handle; `evict` NULL or a function of the right type.
pub unsafe extern "C" fn mc_callback_on_evict(cache: *mut VMEMcache, evict: Option<Hook>, arg: *mut c_void) {
    // SAFETY: forwarded from the caller.
    guard((), || unsafe { set_hook(cache, EVICT, evict, arg) })
}

/// Registers the hook called after a get misses.
///
/// # Safety
/// `cache` must be NULL or a live handle; `miss` NULL or a function of the right type.
pub unsafe extern "C" fn mc_callback_on_miss(cache: *mut VMEMcache, miss: Option<Hook>, arg: *mut c_void) {
    // SAFETY: forwarded from the caller.
    guard((), || unsafe { set_hook(cache, MISS, miss, arg) })
}

/// Copies the value of a key into `vbuf` from `offset` on; returns the bytes copied and stores
/// the value's size in `*vsize` (when not NULL); -1 with ENOENT on a miss.
///
/// # Safety
/// `cache` a live handle or NULL; `key` `key_size` readable bytes; `vbuf` `vbufsize` writable
/// bytes; `vsize` NULL or writable.
pub unsafe extern "C" fn mc_get(
    cache: *mut VMEMcache,
    key: *const c_void,
    key_size: usize,
    vbuf: *mut c_void,
    vbufsize: usize,
    offset: usize,
    vsize: *mut usize,
) -> isize {
    guard(-1, || {
        // SAFETY: forwarded from the caller.
        let Some(c) = (unsafe { ready(cache) }) else { return -1 };
        // SAFETY: as the caller vouches.
        let Some(key) = (unsafe { bytes(key, key_size, "key") }) else { return -1 };
        let buf: &mut [u8] = if vbuf.is_null() {
            if vbufsize != 0 {
                fail(libc::EINVAL, "invalid (NULL) buffer");
                return -1;
            }
            &mut []
        } else {
            // SAFETY: `vbufsize` writable bytes, as the caller vouches; no other reference.
            unsafe { std::slice::from_raw_parts_mut(vbuf.cast(), vbufsize) }
        };
        match c.get(key, buf, offset) {
            Ok((copied, size)) => {
                if !vsize.is_null() {
                    // SAFETY: non-null and writable, as the caller vouches.
                    unsafe { *vsize = size };
                }
                copied as isize
            }
            Err(e) => {
                fail_with(&e);
                -1
            }
        }
    })
}

/// 1 if the key is present (its size in `*vsize`), 0 if not, -1 on bad input. Touches neither
/// the LRU order nor the statistics.
///
/// # Safety
/// `cache` a live handle or NULL; `key` `key_size` readable bytes; `vsize` NULL or writable.
pub unsafe extern "C" fn mc_exists(
    cache: *mut VMEMcache,
    key: *const c_void,
    key_size: usize,
    vsize: *mut usize,
) -> c_int {
    guard(-1, || {
        // SAFETY: forwarded from the caller.
        let Some(c) = (unsafe { ready(cache) }) else { return -1 };
        // SAFETY: as the caller vouches.
        let Some(key) = (unsafe { bytes(key, key_size, "key") }) else { return -1 };
        match c.exists(key) {
            Some(size) => {
                if !vsize.is_null() {
                    // SAFETY: non-null and writable, as the caller vouches.
                    unsafe { *vsize = size };
                }
                1
            }
            None => 0,
        }
    })
}

/// Stores a new key:value pair; -1 with EEXIST if the key is present, ENOSPC if it cannot fit.
///
/// # Safety
/// `cache` a live handle or NULL; `key` and `value` readable for their sizes.
pub unsafe extern "C" fn mc_put(
    cache: *mut VMEMcache,
    key: *const c_void,
    key_size: usize,
    value: *const c_void,
    value_size: usize,
) -> c_int {
    guard(-1, || {
        // SAFETY: forwarded from the caller.
        let Some(h) = (unsafe { handle(cache) }) else { return -1 };
        let Some(c) = h.cache.get() else {
            fail(libc::ENOSPC, "value larger than entire cache: the cache has no pool yet (vmemcache_add)");
            return -1;
        };
        // SAFETY: as the caller vouches.
        let Some(key) = (unsafe { bytes(key, key_size, "key") }) else { return -1 };
        // SAFETY: as the caller vouches.
        let Some(value) = (unsafe { bytes(value, value_size, "value") }) else { return -1 };
        match c.put(key, value) {
            Ok(()) => 0,
            Err(e) => {
                fail_with(&e);
                -1
            }
        }
    })
}

/// Evicts a key, or with a NULL key the least recently used entry.
///
/// # Safety
/// `cache` a live handle or NULL; `key` NULL or `ksize` readable bytes.
pub unsafe extern "C" fn mc_evict(cache: *mut VMEMcache, key: *const c_void, ksize: usize) -> c_int {
    guard(-1, || {
        // SAFETY: forwarded from the caller.
        let Some(c) = (unsafe { ready(cache) }) else { return -1 };
        let key = if key.is_null() {
            None
        } else {
            // SAFETY: `ksize` readable bytes, as the caller vouches.
            Some(unsafe { std::slice::from_raw_parts(key.cast::<u8>(), ksize) })
        };
        match c.evict(key) {
            Ok(()) => 0,
            Err(Error::NoEntry) => {
                fail(libc::ENOENT, "vmemcache_evict: cannot find an element with the given key");
                -1
            }
            Err(e) => {
                fail_with(&e);
                -1
            }
        }
    })
}

/// Reads one statistic into `*value`, which must be 8 bytes (`value_size`).
///
/// # Safety
/// `cache` a live handle or NULL; `value` NULL or `value_size` writable bytes.
pub unsafe extern "C" fn mc_get_stat(
    cache: *mut VMEMcache,
    stat: c_int,
    value: *mut c_void,
    value_size: usize,
) -> c_int {
    guard(-1, || {
        // SAFETY: forwarded from the caller.
        let Some(c) = (unsafe { ready(cache) }) else { return -1 };
        if value_size != 8 {
            fail(libc::EINVAL, &format!("wrong size of the value: {value_size} (should be: 8)"));
            return -1;
        }
        let Some(&which) = usize::try_from(stat).ok().and_then(|i| Stat::ALL.get(i)) else {
            fail(libc::EINVAL, &format!("unknown value of statistic: {}", stat as u32));
            return -1;
        };
        if value.is_null() {
            fail(libc::EINVAL, "invalid (NULL) value");
            return -1;
        }
        // SAFETY: non-null and 8 writable bytes, as the caller vouches; maybe unaligned.
        unsafe { value.cast::<u64>().write_unaligned(c.stat(which)) };
        0
    })
}

/// This thread's last error message.
pub extern "C" fn mc_errormsg() -> *const c_char {
    MESSAGE.with(|m| m.as_ptr().cast::<c_char>().cast_const())
}

/// libvmemcache's unstable benchmarking switches: accepted and ignored (they would corrupt data).
///
/// # Safety
/// None: the arguments are not used.
pub unsafe extern "C" fn mc_bench_set(_cache: *mut VMEMcache, _cfg: c_int, _val: usize) {}

// Each entry point is exported under libvmemcache's name only, as an alias of the Rust function
// (whose mangled name rustc's version script keeps local): libvmemcache.map then puts every alias
// in the version node LIBVMEMCACHE_1.0, which programs linked against libvmemcache.so.0 ask for.
std::arch::global_asm!(
    ".globl vmemcache_new", ".type vmemcache_new,@function", ".set vmemcache_new, {mc_new}",
    ".globl vmemcache_set_eviction_policy", ".type vmemcache_set_eviction_policy,@function", ".set vmemcache_set_eviction_policy, {mc_set_eviction_policy}",
    ".globl vmemcache_set_size", ".type vmemcache_set_size,@function", ".set vmemcache_set_size, {mc_set_size}",
    ".globl vmemcache_set_extent_size", ".type vmemcache_set_extent_size,@function", ".set vmemcache_set_extent_size, {mc_set_extent_size}",
    ".globl vmemcache_add", ".type vmemcache_add,@function", ".set vmemcache_add, {mc_add}",
    ".globl vmemcache_delete", ".type vmemcache_delete,@function", ".set vmemcache_delete, {mc_delete}",
    ".globl vmemcache_callback_on_evict", ".type vmemcache_callback_on_evict,@function", ".set vmemcache_callback_on_evict, {mc_callback_on_evict}",
    ".globl vmemcache_callback_on_miss", ".type vmemcache_callback_on_miss,@function", ".set vmemcache_callback_on_miss, {mc_callback_on_miss}",
    ".globl vmemcache_get", ".type vmemcache_get,@function", ".set vmemcache_get, {mc_get}",
    ".globl vmemcache_exists", ".type vmemcache_exists,@function", ".set vmemcache_exists, {mc_exists}",
    ".globl vmemcache_put", ".type vmemcache_put,@function", ".set vmemcache_put, {mc_put}",
    ".globl vmemcache_evict", ".type vmemcache_evict,@function", ".set vmemcache_evict, {mc_evict}",
    ".globl vmemcache_get_stat", ".type vmemcache_get_stat,@function", ".set vmemcache_get_stat, {mc_get_stat}",
    ".globl vmemcache_errormsg", ".type vmemcache_errormsg,@function", ".set vmemcache_errormsg, {mc_errormsg}",
    ".globl vmemcache_bench_set", ".type vmemcache_bench_set,@function", ".set vmemcache_bench_set, {mc_bench_set}",
    mc_new = sym mc_new,
    mc_set_eviction_policy = sym mc_set_eviction_policy,
    mc_set_size = sym mc_set_size,
    mc_set_extent_size = sym mc_set_extent_size,
    mc_add = sym mc_add,
    mc_delete = sym mc_delete,
    mc_callback_on_evict = sym mc_callback_on_evict,
    mc_callback_on_miss = sym mc_callback_on_miss,
    mc_get = sym mc_get,
    mc_exists = sym mc_exists,
    mc_put = sym mc_put,
    mc_evict = sym mc_evict,
    mc_get_stat = sym mc_get_stat,
    mc_errormsg = sym mc_errormsg,
    mc_bench_set = sym mc_bench_set,
);
