//! `MetaAlloc`: where morselkind keeps its own bookkeeping. It allocates from jemalloc's
//! automatic (DRAM) arenas, never from a kind and never from the Rust global allocator, because
//! a kind may *be* the global allocator and its hooks must not recurse into themselves.

use std::alloc::Layout;
use std::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator};
use tikv_jemalloc_sys as je;

/// Allocates bookkeeping from jemalloc's own DRAM arenas.
#[derive(Clone, Copy, Debug, Default)]
pub struct MetaAlloc;

fn flags(layout: Layout) -> libc::c_int {
    je::MALLOCX_ALIGN(layout.align()) | je::MALLOCX_TCACHE_NONE
}

// SAFETY: blocks come from jemalloc's mallocx with the layout's size and alignment, stay valid
// until `deallocate`, and a copy of `MetaAlloc` frees what another copy allocated.
unsafe impl Allocator for MetaAlloc {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let size = layout.size().max(1);
        // SAFETY: size is non-zero, flags carry a valid alignment.
        let p = unsafe { je::mallocx(size, flags(layout)) };
        NonNull::new(p.cast::<u8>())
            .map(|p| NonNull::slice_from_raw_parts(p, layout.size()))
            .ok_or(AllocError)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller passes a block this allocator returned, with its layout.
        unsafe { je::dallocx(ptr.as_ptr().cast(), flags(layout)) }
    }
}

/// A box in bookkeeping memory.
pub type MetaBox<T> = allocator_api2::boxed::Box<T, MetaAlloc>;
/// A vector in bookkeeping memory.
pub type MetaVec<T> = allocator_api2::vec::Vec<T, MetaAlloc>;
