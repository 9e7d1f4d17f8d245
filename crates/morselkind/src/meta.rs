//! `MetaAlloc`: where morselkind keeps its own bookkeeping (providers, regions, thread caches,
//! directory slots): its own anonymous pages, never jemalloc and never the Rust global
//! allocator.
//!
//! Not jemalloc, because the extent hooks allocate bookkeeping while jemalloc holds the growing
//! arena's `grow_mtx`: a nested jemalloc call there may need another arena's `grow_mtx` (arena
//! 0's, where jemalloc sends reentrant calls), and jemalloc's fork handler takes every
//! `grow_mtx` in turn, so a fork at that moment deadlocked. Not the global allocator, because a
//! kind may *be* the global allocator and its hooks must not recurse into themselves.
//!
//! Power-of-two classes from 16 B to 4 KiB, each block aligned to its size, carved from 1 MiB
//! chunks and kept on per-class free lists under one lock; larger blocks (a thread's caches,
//! made once per thread and kind) are mappings of their own, a whole number of pages. Each list
//! update is a single store made last, so a fork that catches another thread inside the lock
//! leaves the child consistent lists once the child releases it (the vanished thread's pop or
//! push simply never happened, or its block is lost): see `reset_after_fork`.

use std::alloc::Layout;
use std::cell::UnsafeCell;
use std::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator};
use morsel::lock::RawLock;
use morsel::sys;

const MIN_SHIFT: u32 = 4;
const MAX_SHIFT: u32 = 12;
const NCLASS: usize = (MAX_SHIFT - MIN_SHIFT + 1) as usize;
const CHUNK: usize = 1 << 20;

struct State {
    free: [usize; NCLASS],
    bump: usize,
    end: usize,
}

struct Heap {
    lock: RawLock,
    state: UnsafeCell<State>,
}

// SAFETY: `state` is only touched with `lock` held.
unsafe impl Sync for Heap {}

static HEAP: Heap =
    Heap { lock: RawLock::new(), state: UnsafeCell::new(State { free: [0; NCLASS], bump: 0, end: 0 }) };

/// Allocates bookkeeping from morselkind's own pages.
#[derive(Clone, Copy, Debug, Default)]
pub struct MetaAlloc;

/// The class of a layout (its size rounded up to a power of two, at least its alignment), or
/// `None` for a block that gets a mapping of its own.
fn class_of(layout: Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(1 << MIN_SHIFT).next_power_of_two();
    let shift = size.trailing_zeros();
    (shift <= MAX_SHIFT).then(|| (shift - MIN_SHIFT) as usize)
}

fn large_len(layout: Layout) -> usize {
    layout.size().div_ceil(morsel::PAGE_SIZE) * morsel::PAGE_SIZE
}

fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    HEAP.lock.acquire();
    // SAFETY: the lock is held, so the state is ours alone.
    let r = f(unsafe { &mut *HEAP.state.get() });
    // SAFETY: acquired just above by this thread.
    unsafe { HEAP.lock.release() };
    r
}

fn alloc_small(class: usize) -> Option<usize> {
    let size = 1usize << (class as u32 + MIN_SHIFT);
    with_state(|s| {
        let head = s.free[class];
        if head != 0 {
            // SAFETY: a block on the free list holds the address of the next one.
            s.free[class] = unsafe { *(head as *const usize) };
            return Some(head);
        }
        let mut at = (s.bump + size - 1) & !(size - 1);
        if s.end == 0 || at + size > s.end {
            // The rest of the old chunk is left unused: it is less than one block of this class.
            let chunk = map(CHUNK)?;
            (s.bump, s.end) = (chunk, chunk + CHUNK);
            at = chunk;
        }
        s.bump = at + size;
        Some(at)
    })
}

/// Fresh zeroed private pages, for the life of the process or until [`unmap`].
fn map(len: usize) -> Option<usize> {
    let addr = sys::reserve(len, morsel::PAGE_SIZE).ok()?;
    // SAFETY: a fresh reservation, ours alone.
    match unsafe { sys::map_anon_fixed(addr, len) } {
        Ok(()) => Some(addr),
        Err(_) => {
            // SAFETY: as above.
            let _ = unsafe { sys::unmap(addr, len) };
            None
        }
    }
}

// SAFETY: blocks are at least the layout's size, aligned to at least its alignment (a class
// block is aligned to its power-of-two size, a large block to a page, and an alignment above a
// page never reaches the large path: it raises the class past MAX_SHIFT only for sizes that do),
// stay valid until `deallocate`, and any copy of `MetaAlloc` frees what another allocated.
unsafe impl Allocator for MetaAlloc {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let addr = match class_of(layout) {
            Some(class) => alloc_small(class),
            None if layout.align() <= morsel::PAGE_SIZE => map(large_len(layout)),
            None => None,
        };
        let p = NonNull::new(addr.ok_or(AllocError)? as *mut u8).ok_or(AllocError)?;
        Ok(NonNull::slice_from_raw_parts(p, layout.size()))
    }

    /// A large block is a fresh mapping, zero already: it is not written (a thread's kind
    /// cache, 76 KiB of slots, then costs only the pages its bins fill).
    fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let block = self.allocate(layout)?;
        if class_of(layout).is_some() {
            // SAFETY: a small block of at least `layout.size()` bytes, ours alone.
            unsafe { block.cast::<u8>().as_ptr().write_bytes(0, layout.size()) };
        }
        Ok(block)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        let addr = ptr.as_ptr() as usize;
        match class_of(layout) {
            Some(class) => with_state(|s| {
                // SAFETY: the block is ours again and at least a word long and aligned.
                unsafe { *(addr as *mut usize) = s.free[class] };
                s.free[class] = addr;
            }),
            None => {
                // SAFETY: a large block is a mapping of exactly this length, made by `allocate`.
                let _ = unsafe { sys::unmap(addr, large_len(layout)) };
            }
        }
    }
}

/// In a forked child (its only thread): releases the lock should a vanished thread have held
/// it at the fork (see the module comment for why the lists are then whole).
///
/// # Safety
/// Only in a forked child, before any other thread exists.
pub(crate) unsafe fn reset_after_fork() {
    if HEAP.lock.is_held() {
        // SAFETY: the holder does not exist in the child.
        unsafe { HEAP.lock.release() }
    }
}

/// A box in bookkeeping memory.
pub type MetaBox<T> = allocator_api2::boxed::Box<T, MetaAlloc>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_distinct_and_reused() {
        let mut seen = Vec::new();
        for (size, align) in [(1, 1), (24, 8), (100, 64), (4096, 4096), (70_000, 8), (3000, 16)] {
            let l = Layout::from_size_align(size, align).unwrap();
            let p = MetaAlloc.allocate(l).unwrap().cast::<u8>();
            assert_eq!(p.as_ptr() as usize % align, 0, "{size}/{align}");
            // SAFETY: a fresh block of `size` bytes.
            unsafe { p.as_ptr().write_bytes(0xa5, size) };
            seen.push((p, l));
        }
        let mut addrs: Vec<usize> = seen.iter().map(|(p, _)| p.as_ptr() as usize).collect();
        addrs.sort_unstable();
        addrs.dedup();
        assert_eq!(addrs.len(), seen.len());
        let (p, l) = seen[1];
        // SAFETY: allocated above with this layout.
        unsafe { MetaAlloc.deallocate(p, l) };
        assert_eq!(MetaAlloc.allocate(l).unwrap().cast::<u8>(), p, "a freed block is reused");
        for (p, l) in seen {
            // SAFETY: allocated above (the reused one again) with these layouts.
            unsafe { MetaAlloc.deallocate(p, l) };
        }
    }
}
