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
mod share;

use morselkind::{Error, Kind, KindInner};

/// The library's constructor: acts on `MEMKIND_HEAP_MANAGER` and `MEMKIND_BACKGROUND_THREAD_LIMIT`
/// ([`morselkind::startup`]).
///
/// memkind's C ABI has no init call; memkind does this in its library constructor, so a wrong
/// value aborts a program before `main`, even one that only ever uses `MEMKIND_DEFAULT` (or
/// none at all), and the limit is in place before any allocation. The same point is the least
/// surprising for a drop-in replacement: the same program fails the same way, at the same time.
/// (morselkind also calls `startup` when it first sets a kind up, which covers a static link
/// whose linker left this object's `.init_array` entry out; it runs once either way.)
extern "C" fn construct(
    _argc: libc::c_int,
    _argv: *const *const libc::c_char,
    _envp: *const *const libc::c_char,
) {
    // No unwinding out of a constructor: a panic here only skips the start-up checks.
    let _ = std::panic::catch_unwind(morselkind::startup);
}

#[used]
#[link_section = ".init_array"]
static CONSTRUCT: extern "C" fn(libc::c_int, *const *const libc::c_char, *const *const libc::c_char) =
    construct;

/// memkind's `memkind_t`.
pub type MemkindT = *const KindInner;

pub(crate) use morselkind_cabi::{guard, set_errno};

/// The kind behind a `memkind_t`, if it points into the kind table.
#[inline]
pub(crate) fn kind_of(k: MemkindT) -> Option<Kind> {
    Kind::from_ptr(k)
}

/// The C code of an error.
pub(crate) fn code(e: Error) -> i32 {
    e.code()
}
