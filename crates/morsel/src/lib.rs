//! morsel: the primitive under morselkind. A *morsel* is a naturally aligned region whose size is
//! one page-table subtree (4 KiB, 2 MiB, 1 GiB, 512 GiB), mapped from one *source* (anonymous
//! memory, an unlinked file, a memfd). Reserve, map, bind, populate, purge, protect, share and
//! destroy are each O(1) system calls, whatever the size.
//!
//! This crate never allocates on the Rust heap on the paths allocator hooks use (create,
//! populate, purge, destroy): those run inside jemalloc, which may be the process's allocator.
//! Only `sys` (and the populate `helper` thread, `lock`'s futexes) call libc.
#![deny(unsafe_code)]

#[allow(unsafe_code)]
pub mod caps;
#[allow(unsafe_code)]
mod fork;
#[allow(unsafe_code)]
pub mod helper;
mod id;
#[allow(unsafe_code)]
pub mod lock;
#[allow(unsafe_code)]
mod morsel;
mod order;
mod source;
#[allow(unsafe_code)]
pub mod sys;

pub use caps::{caps, Capabilities, ThpMode};
pub use fork::{ForkCopy, ForkError};
pub use id::{MorselId, MAX_FRAME, MAX_SOURCES};
pub use morsel::{Morsel, Purge, SharedMapping, CHUNK};
pub use order::{align_up, pow2_blocks, Order, GRANULE_SHIFT, GRANULE_SIZE, PAGE_SHIFT, PAGE_SIZE};
pub use source::{Backing, Source};
pub use sys::Errno;
