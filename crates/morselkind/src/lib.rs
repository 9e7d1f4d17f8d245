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
//! let pmem = Kind::pmem(&PmemConfig::new(&std::env::temp_dir(), 32 << 20)).unwrap();
//! let p = pmem.malloc(4096).unwrap();
//! assert_eq!(Kind::detect(p.as_ptr()), Some(pmem));
//! unsafe {
//!     pmem.free(p);
//!     pmem.destroy().unwrap();
//! }
//! ```
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod alloc;
#[allow(unsafe_code)]
pub mod cache;
#[allow(unsafe_code)]
pub mod directory;
#[allow(unsafe_code)]
mod dynamic;
mod error;
#[allow(unsafe_code)]
pub mod fork;
#[allow(unsafe_code)]
mod heap;
#[allow(unsafe_code)]
pub mod je;
#[allow(unsafe_code)]
mod kind;
pub mod log;
#[allow(unsafe_code)]
pub mod meta;
mod options;
#[allow(unsafe_code)]
mod provider;
#[allow(unsafe_code)]
mod sizes;
#[allow(unsafe_code)]
pub mod statics;

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
pub use dynamic::{PmemConfig, UsagePolicy, PMEM_MIN_SIZE};
pub use error::{describe_errno, errno_name, Error, Result};
pub use heap::{free_any, free_any_fast, usable_size_any};
pub use je::ArenaStats;
pub use kind::{live_kinds, Kind, KindInner, KindSpec, StaticKind, MAX_ARENAS, MAX_KIND, NUM_STATIC};
pub use options::arenas_per_kind;
pub use provider::{Placement, Placements, ProviderConfig, MAX_NODES};
pub use sizes::{size_class, MAX_TABLED};

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
