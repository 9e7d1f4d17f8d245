//! What the library does with the environment when it starts: `MEMKIND_HEAP_MANAGER` and
//! `MEMKIND_BACKGROUND_THREAD_LIMIT`, read and acted on once, as memkind's library constructor
//! does.

use std::sync::atomic::{AtomicBool, Ordering};

use topology::HeapManager;

use crate::je;
use crate::log::{error, fatal, flags, note, warning};
use crate::machine::{env, probe_library, LibraryProbe};

/// libtbbmalloc's pool API, which memkind's TBB heap manager needs (its `load_tbb_symbols`).
const TBB_LIBRARY: &std::ffi::CStr = c"libtbbmalloc.so.2";
const TBB_SYMBOLS: [&std::ffi::CStr; 7] = [
    c"_ZN3rml11pool_mallocEPNS_10MemoryPoolEm",
    c"_ZN3rml12pool_reallocEPNS_10MemoryPoolEPvm",
    c"_ZN3rml19pool_aligned_mallocEPNS_10MemoryPoolEmm",
    c"_ZN3rml9pool_freeEPNS_10MemoryPoolEPv",
    c"_ZN3rml14pool_create_v1ElPKNS_13MemPoolPolicyEPPNS_10MemoryPoolE",
    c"_ZN3rml12pool_destroyEPNS_10MemoryPoolE",
    c"_ZN3rml13pool_identifyEPv",
];

static STARTED: AtomicBool = AtomicBool::new(false);

/// Acts on the environment once, as memkind 1.14's library constructor does:
///
/// - `MEMKIND_HEAP_MANAGER=TBB`: memkind loads `libtbbmalloc.so.2` and aborts without it (or
///   without its pool functions); so do we. When it loads, morselkind still has no TBB heap
///   manager: one `MORSELKIND_WARNING` line says so, and jemalloc stays. As in memkind,
///   `MEMKIND_BACKGROUND_THREAD_LIMIT` is then not read at all.
/// - `MEMKIND_BACKGROUND_THREAD_LIMIT`: a value memkind rejects aborts the program; a non-zero
///   one becomes jemalloc's `max_background_threads` (a refusal is a `MEMKIND_ERROR`). Like
///   memkind this starts no thread: `memkind_set_bg_threads(true)` does.
///
/// The C library calls this from its constructor, so the checks happen before `main` even for
/// a program that only uses `MEMKIND_DEFAULT`; the first kind set up calls it too (the Rust
/// API has no constructor). Never blocks: a second caller while the first is still at it (a
/// nested call from a library loaded here, or another thread) goes on without waiting.
pub fn startup() {
    if STARTED.load(Ordering::Acquire) || STARTED.swap(true, Ordering::AcqRel) {
        return;
    }
    let e = env();
    flags();
    if e.heap_manager() == HeapManager::Tbb {
        match probe_library(TBB_LIBRARY, &TBB_SYMBOLS) {
            LibraryProbe::NotFound => fatal(|l| {
                l.s(TBB_LIBRARY.to_bytes()).s(b" not found.");
            }),
            LibraryProbe::MissingSymbols => fatal(|l| {
                l.s(b"Could not find symbols in ").s(TBB_LIBRARY.to_bytes()).s(b".");
            }),
            LibraryProbe::Loaded => warning(|l| {
                l.s(b"MEMKIND_HEAP_MANAGER=TBB: morselkind has no TBB heap manager; ")
                    .s(TBB_LIBRARY.to_bytes())
                    .s(b" is not used, jemalloc is.");
            }),
        }
        return;
    }
    match e.background_thread_limit() {
        Err(err) => fatal(|l| {
            l.s(b"Error: Wrong value of MEMKIND_BACKGROUND_THREAD_LIMIT=").s(err.value.as_bytes());
        }),
        Ok(Some(n)) if n > 0 => {
            if !je::set_max_background_threads(n as usize) {
                error(|l| {
                    l.s(b"Error on setting threads limit");
                });
                note(|l| {
                    l.s(b"jemalloc refused MEMKIND_BACKGROUND_THREAD_LIMIT=")
                        .n(u64::from(n))
                        .s(b" (above its limit)");
                });
            }
        }
        Ok(_) => {}
    }
    note(|l| {
        l.s(b"heap manager jemalloc; background threads: at most ");
        match je::max_background_threads() {
            Some(max) => l.n(max as u64),
            None => l.s(b"?"),
        };
        l.s(if je::background_threads() {
            b", running"
        } else {
            b", off until memkind_set_bg_threads(true)"
        });
    });
}
