//! memkind_memtier.h: the builder, the tiered heap calls and `memtier_ctl_set`, over the
//! `memtier` crate.
//!
//! The `memtier_kind_*` calls are memkind's: the matching `memkind_*` call of this library,
//! counted in the kind's tier statistics (usable bytes). The `memtier_*` calls on a memory let
//! its policy pick the kind, then do the same. Where memkind would dereference a NULL builder,
//! memory or kind, these fail cleanly (-1, NULL with errno EINVAL, EINVAL) instead.

use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::ptr::NonNull;

use ::memtier::{counters, Builder, Ctl, CtlType, CtlValue, Memory, Policy};
use morselkind::Kind;

use crate::memkind::{
    memkind_calloc, memkind_free, memkind_malloc, memkind_malloc_usable_size, memkind_posix_memalign,
    memkind_realloc,
};
use crate::{guard, kind_of, set_errno, MemkindT};

/// memkind's `memtier_policy_t` values.
const MEMTIER_POLICY_STATIC_RATIO: c_int = 0;
const MEMTIER_POLICY_DYNAMIC_THRESHOLD: c_int = 1;

/// `struct memtier_builder`.
pub struct MemtierBuilder(Builder);
/// `struct memtier_memory`.
pub struct MemtierMemory(Memory);

/// The builder behind a C pointer.
///
/// # Safety
/// `b` is null or came from `memtier_builder_new` and was not deleted.
unsafe fn builder<'a>(b: *mut MemtierBuilder) -> Option<&'a mut Builder> {
    // SAFETY: per the function's contract.
    unsafe { b.as_mut() }.map(|b| &mut b.0)
}

/// The memory behind a C pointer.
///
/// # Safety
/// `m` is null or came from `memtier_builder_construct_memtier_memory` and was not deleted.
unsafe fn memory<'a>(m: *mut MemtierMemory) -> Option<&'a Memory> {
    // SAFETY: per the function's contract.
    unsafe { m.as_ref() }.map(|m| &m.0)
}

/// The usable size of a block of ours (0 for NULL).
fn usable(p: *mut c_void) -> usize {
    // SAFETY: `p` is a live block this library just returned, or NULL.
    unsafe { memkind_malloc_usable_size(std::ptr::null(), p) }
}

/// Counts a block just allocated (nothing for NULL).
fn count_alloc(p: *mut c_void) {
    if let Some(k) = Kind::detect(p.cast()) {
        counters::on_alloc(k, usable(p));
    }
}

#[no_mangle]
pub extern "C" fn memtier_builder_new(policy: c_int) -> *mut MemtierBuilder {
    guard(std::ptr::null_mut(), || {
        let policy = match policy {
            MEMTIER_POLICY_STATIC_RATIO => Policy::StaticRatio,
            MEMTIER_POLICY_DYNAMIC_THRESHOLD => Policy::DynamicThreshold,
            _ => return std::ptr::null_mut(),
        };
        Box::into_raw(Box::new(MemtierBuilder(Builder::new(policy))))
    })
}

#[no_mangle]
pub unsafe extern "C" fn memtier_builder_delete(b: *mut MemtierBuilder) {
    if !b.is_null() {
        // SAFETY: the caller passes a builder from memtier_builder_new, deleted once.
        guard((), || drop(unsafe { Box::from_raw(b) }))
    }
}

#[no_mangle]
pub unsafe extern "C" fn memtier_builder_add_tier(
    b: *mut MemtierBuilder,
    kind: MemkindT,
    ratio: c_uint,
) -> c_int {
    guard(-1, || {
        // SAFETY: the caller passes a live builder.
        let (Some(b), Some(k)) = (unsafe { builder(b) }, kind_of(kind)) else { return -1 };
        match b.add_tier(k, ratio) {
            Ok(()) => 0,
            Err(_) => -1,
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn memtier_builder_construct_memtier_memory(
    b: *mut MemtierBuilder,
) -> *mut MemtierMemory {
    guard(std::ptr::null_mut(), || {
        // SAFETY: the caller passes a live builder.
        let Some(b) = (unsafe { builder(b) }) else { return std::ptr::null_mut() };
        match b.construct() {
            Ok(m) => Box::into_raw(Box::new(MemtierMemory(m))),
            Err(_) => std::ptr::null_mut(),
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn memtier_delete_memtier_memory(m: *mut MemtierMemory) {
    if !m.is_null() {
        // SAFETY: the caller passes a memory from construct, deleted once.
        guard((), || drop(unsafe { Box::from_raw(m) }))
    }
}

#[no_mangle]
pub unsafe extern "C" fn memtier_ctl_set(
    b: *mut MemtierBuilder,
    name: *const c_char,
    val: *const c_void,
) -> c_int {
    guard(-1, || {
        // SAFETY: the caller passes a live builder.
        let Some(b) = (unsafe { builder(b) }) else { return -1 };
        if name.is_null() || val.is_null() || b.policy() != Policy::DynamicThreshold {
            return -1;
        }
        // SAFETY: a NUL-terminated string from the caller.
        let Ok(name) = unsafe { CStr::from_ptr(name) }.to_str() else { return -1 };
        let Ok(ctl) = Ctl::parse(name) else { return -1 };
        // memkind 1.14 reads a size_t for thresholds, an unsigned for check_cnt and a float for
        // trigger and degree (its man page's "string" is wrong).
        // SAFETY: the caller's pointer points at a value of the type the name implies.
        let value = unsafe {
            match ctl.value_type() {
                CtlType::Size => CtlValue::Size(val.cast::<usize>().read_unaligned()),
                CtlType::Unsigned => CtlValue::Unsigned(val.cast::<c_uint>().read_unaligned()),
                CtlType::Float => CtlValue::Float(val.cast::<f32>().read_unaligned()),
            }
        };
        match b.ctl_set(ctl, value) {
            Ok(()) => 0,
            Err(_) => -1,
        }
    })
}

// ---- one kind, counted ----

#[no_mangle]
pub unsafe extern "C" fn memtier_kind_malloc(kind: MemkindT, size: usize) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        // SAFETY: forwarded.
        let p = unsafe { memkind_malloc(kind, size) };
        count_alloc(p);
        p
    })
}

#[no_mangle]
pub unsafe extern "C" fn memtier_kind_calloc(kind: MemkindT, num: usize, size: usize) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        // SAFETY: forwarded.
        let p = unsafe { memkind_calloc(kind, num, size) };
        count_alloc(p);
        p
    })
}

#[no_mangle]
pub unsafe extern "C" fn memtier_kind_posix_memalign(
    kind: MemkindT,
    memptr: *mut *mut c_void,
    alignment: usize,
    size: usize,
) -> c_int {
    guard(libc::ENOMEM, || {
        // SAFETY: forwarded; memkind_posix_memalign checks memptr.
        let rc = unsafe { memkind_posix_memalign(kind, memptr, alignment, size) };
        if rc == 0 {
            // SAFETY: on success memptr was checked non-null and written.
            count_alloc(unsafe { *memptr });
        }
        rc
    })
}

#[no_mangle]
pub unsafe extern "C" fn memtier_kind_realloc(kind: MemkindT, ptr: *mut c_void, size: usize) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        if ptr.is_null() {
            // SAFETY: realloc of NULL allocates.
            return unsafe { memtier_kind_malloc(kind, size) };
        }
        if size == 0 {
            // SAFETY: the caller passes a live block.
            unsafe { memtier_kind_free(kind, ptr) };
            return std::ptr::null_mut();
        }
        let old_kind = Kind::detect(ptr.cast());
        let old_size = if old_kind.is_some() { usable(ptr) } else { 0 };
        // SAFETY: the caller passes a live block.
        let p = unsafe { memkind_realloc(kind, ptr, size) };
        if !p.is_null() {
            if let Some(k) = old_kind {
                counters::on_free(k, old_size);
            }
            count_alloc(p);
        }
        p
    })
}

#[no_mangle]
pub unsafe extern "C" fn memtier_kind_free(kind: MemkindT, ptr: *mut c_void) {
    if ptr.is_null() {
        return;
    }
    guard((), || {
        if let Some(k) = Kind::detect(ptr.cast()) {
            counters::on_free(k, usable(ptr));
        }
        // SAFETY: the caller passes a live block.
        unsafe { memkind_free(kind, ptr) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn memtier_usable_size(ptr: *mut c_void) -> usize {
    guard(0, || usable(ptr))
}

#[no_mangle]
pub unsafe extern "C" fn memtier_kind_allocated_size(kind: MemkindT) -> usize {
    guard(0, || kind_of(kind).map_or(0, counters::allocated_size))
}

// ---- a tiered memory ----

/// Runs one allocating call on the kind `m` picks for `size`, then lets the policy check.
///
/// # Safety
/// `m` is null or a live memory.
unsafe fn on_memory<T>(m: *mut MemtierMemory, size: usize, fail: T, f: impl FnOnce(MemkindT) -> T) -> T {
    // SAFETY: per the function's contract.
    let Some(m) = (unsafe { memory(m) }) else {
        set_errno(libc::EINVAL);
        return fail;
    };
    let r = f(m.pick(size).as_ptr());
    m.after_op();
    r
}

#[no_mangle]
pub unsafe extern "C" fn memtier_malloc(m: *mut MemtierMemory, size: usize) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        // SAFETY: the caller passes a live memory; the kind is one of its tiers.
        unsafe { on_memory(m, size, std::ptr::null_mut(), |k| memtier_kind_malloc(k, size)) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn memtier_calloc(m: *mut MemtierMemory, num: usize, size: usize) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        // SAFETY: as in memtier_malloc.
        unsafe { on_memory(m, size, std::ptr::null_mut(), |k| memtier_kind_calloc(k, num, size)) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn memtier_posix_memalign(
    m: *mut MemtierMemory,
    memptr: *mut *mut c_void,
    alignment: usize,
    size: usize,
) -> c_int {
    guard(libc::ENOMEM, || {
        // SAFETY: as in memtier_malloc; memptr is checked by memkind_posix_memalign.
        unsafe {
            on_memory(m, size, libc::EINVAL, |k| memtier_kind_posix_memalign(k, memptr, alignment, size))
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn memtier_realloc(
    m: *mut MemtierMemory,
    ptr: *mut c_void,
    size: usize,
) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        let Some(p) = NonNull::new(ptr) else {
            // SAFETY: realloc of NULL allocates from the memory.
            return unsafe { memtier_malloc(m, size) };
        };
        // A block stays in its own kind.
        let kind = Kind::detect(p.as_ptr().cast()).map_or(std::ptr::null(), |k| k.as_ptr());
        // SAFETY: the caller passes a live memory and a live block.
        unsafe { on_memory(m, size, std::ptr::null_mut(), |_| memtier_kind_realloc(kind, ptr, size)) }
    })
}
