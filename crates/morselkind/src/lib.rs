//! morselkind: memkind's model of *kinds* of memory (DRAM, file-backed PMEM, memory-only NUMA
//! nodes, high-bandwidth nodes, huge pages, a caller's region), on jemalloc arenas whose extent
//! hooks carve naturally aligned *morsels*.
//!
//! ```
//! use morselkind::{Kind, PmemConfig};
//! use allocator_api2::vec::Vec;
//!
//! // Plain DRAM, through allocator-api2.
//! let mut v = Vec::new_in(Kind::DEFAULT);
//! v.extend(0..1000u32);
//! assert_eq!(Kind::detect(v.as_ptr().cast()), Some(Kind::DEFAULT));
//!
//! // File-backed memory in a directory, limited to 32 MiB; nothing is left on disk.
//! let pmem = Kind::pmem(&PmemConfig::limited(&std::env::temp_dir(), 32 << 20)).unwrap();
//! let p = pmem.malloc(4096).unwrap();
//! assert_eq!(Kind::detect(p.as_ptr()), Some(pmem));
//! unsafe {
//!     pmem.free(p);
//!     pmem.destroy().unwrap();
//! }
//! ```
#![deny(unsafe_code)]

// The modules, from the bottom up (each imports only modules above it in this list, except
// the circle kind ↔ cache ↔ fork, documented in those three):
// - leaves: `machine` (the machine and the environment), `error`, `meta` (our own pages for
//   bookkeeping), `sizes`, `busy`; then `log` (messages), `je` (typed mallctl), `directory`;
// - `provider` (a kind's extent hooks and morsels), `statics` (the static kind table and
//   memkind's placement rules), `diagnostics` (what setting a kind up came to, in words),
//   `startup` (what the library does with the environment when it starts);
// - `kind`, `cache` (with `depot`, the kinds' shared overflow stacks), `fork`; then `heap`, `dynamic` and `alloc`, the API over them.
#[allow(unsafe_code)]
mod alloc;
#[cfg_attr(all(test, loom), allow(unsafe_code))]
mod busy;
#[allow(unsafe_code)]
pub(crate) mod cache;
#[allow(unsafe_code)]
mod depot;
mod diagnostics;
#[allow(unsafe_code)]
pub(crate) mod directory;
#[allow(unsafe_code)]
mod dynamic;
mod error;
#[allow(unsafe_code)]
pub(crate) mod fork;
#[allow(unsafe_code)]
mod heap;
#[allow(unsafe_code)]
pub(crate) mod je;
#[allow(unsafe_code)]
mod kind;
pub(crate) mod log;
#[allow(unsafe_code)]
mod machine;
#[allow(unsafe_code)]
pub(crate) mod meta;
#[allow(unsafe_code)]
mod provider;
#[allow(unsafe_code)]
mod routed;
#[allow(unsafe_code)]
mod share;
#[allow(unsafe_code)]
mod sizes;
pub(crate) mod startup;
pub(crate) mod statics;
#[allow(unsafe_code)]
mod tls;

/// The allocator-api2 this crate implements `Allocator` for: the one hashbrown's
/// `allocator-api2` feature uses (0.2), so `Vec::new_in(kind)` and
/// `HashMap::with_hasher_in(.., kind)` take a [`Kind`] without a second copy of the crate
/// (allocator-api2 0.4 is a different trait).
///
/// ```
/// use morselkind::allocator_api2::{boxed::Box, vec::Vec};
/// use morselkind::Kind;
///
/// let b = Box::new_in([7u8; 100], Kind::DEFAULT);
/// let mut v = Vec::new_in(Kind::DEFAULT);
/// v.extend_from_slice(&*b);
/// assert_eq!(v.len(), 100);
/// ```
pub use allocator_api2;

pub use alloc::KindAlloc;
// What the C library, the interposer and the command need of the internals, and no more.
pub use je::{set_background_threads, stats_print};
pub use log::{morselkind_debug, Line};
pub use machine::{current_node, env as environment, machine, reserved_huge_pages, Machine};
pub use meta::MetaAlloc;
pub use startup::startup;
pub use statics::{
    hbw_nodes, nodes_for, placements, Capacity, NodeRule, Pages, StaticKind, StaticKindInfo, NUM_STATIC,
    STATIC_KINDS,
};

/// Registers morselkind's fork handlers (once; later calls do nothing). Kinds register them
/// when first made; an interposer that forks before making one calls this itself.
pub fn install_fork_handlers() {
    fork::install()
}

/// Prints a `MEMKIND_ERROR:` line built by `build` (with `MEMKIND_DEBUG=1` only), as memkind's
/// own errors are printed.
pub fn log_error(build: impl FnOnce(&mut Line)) {
    log::error(build)
}
pub use dynamic::{PmemConfig, UsagePolicy, PMEM_MIN_SIZE};
pub use error::{describe_errno, errno_name, Error, Result};
pub use heap::{free_any, free_any_fast, usable_size_any};
pub use je::ArenaStats;
pub use kind::{arenas_per_kind, live_kinds, Kind, KindInner, MAX_ARENAS, MAX_KIND};

/// Whether `dir` is on a DAX filesystem: a file in it can be mapped with `MAP_SYNC` (the test
/// of memkind_check_dax_path; an FS_DAX tier elsewhere is page cache).
pub fn dir_is_dax(dir: &std::path::Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(dir.as_os_str().as_bytes()).is_ok_and(|c| morsel::sys::dir_supports_map_sync(&c))
}
pub use provider::{KindSpec, MorselLayout, MorselTotals, Placement, Placements, ProviderConfig, MAX_NODES};
pub use routed::{add_route, free_fast_sized, free_fast_sized_via, page_tag, route_of, Routed, MAX_ROUTES};
pub use share::{
    Access, Attachment, ShareRecord, SharedConfig, SHARE_MAGIC, SHARE_MAX_SIZE, SHARE_READ_ONLY,
    SHARE_VERSION,
};
pub use sizes::{size_class, MAX_TABLED};
pub use tls::{ThreadWord, TlsDescriptor, TlsInitialExec};

/// Refreshes the statistics `Kind::stats` and [`total_stats`] report (memkind's
/// `memkind_update_cached_stats`). The calling thread's cached free blocks are handed back
/// first: jemalloc counts them as allocated, and memkind's figures for its dynamic kinds
/// (which bypass jemalloc's tcache) are exact.
pub fn update_cached_stats() {
    for kind in live_kinds() {
        cache::flush(kind);
    }
    je::refresh_stats();
}

/// Statistics over every kind and morselkind's own bookkeeping.
pub fn total_stats() -> ArenaStats {
    je::total_stats()
}
