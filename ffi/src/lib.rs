//! libmorselkind: memkind 1.14's C ABI (memkind.h, memkind_deprecated.h, hbwmalloc.h) over
//! morselkind, plus our extensions (morselkind.h). It never exports malloc.
//!
//! Every entry point is a thin trampoline: it validates what C hands it, calls the safe Rust
//! API inside [`guard`] (a panic becomes the call's failure value; nothing unwinds into C), and
//! maps errors to memkind's codes and errno.

mod hbw;
mod kinds;
mod memkind;
mod memtier;

use morselkind::{Error, Kind, KindInner};

/// memkind's `memkind_t`.
pub type MemkindT = *const KindInner;

/// Runs `f`; a panic returns `fail` instead of unwinding across `extern "C"`.
#[inline(always)]
pub(crate) fn guard<T>(fail: T, f: impl FnOnce() -> T) -> T {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(fail)
}

/// Sets the calling thread's errno.
pub(crate) fn set_errno(e: i32) {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() = e };
}

/// The kind behind a `memkind_t`, if it points into the kind table.
#[inline]
pub(crate) fn kind_of(k: MemkindT) -> Option<Kind> {
    Kind::from_ptr(k)
}

/// The C code of an error.
pub(crate) fn code(e: Error) -> i32 {
    e.code()
}
