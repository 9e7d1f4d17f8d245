//! Frees routed by the page tag (`morselkind::free_fast_sized`): a routed kind's small blocks
//! go back to the thread's bin by their tag alone, with their route and usable size; memory
//! that is not ours never routes; and when a routed kind is destroyed, the tags of its morsels
//! are cleared before they are unmapped, so a foreign mapping made at the same address later
//! (here an anonymous one, as glibc's malloc would make) is never taken for a block of ours.
//!
//! One test in this binary: nothing else maps memory while it looks at the freed addresses.

use std::ptr::NonNull;

use morselkind::{add_route, free_fast_sized, page_tag, route_of, size_class, Kind, PmemConfig, Routed};

#[test]
fn routed_free_and_tags_cleared_on_unmap() {
    if morselkind::morselkind_debug() {
        // MORSELKIND_DEBUG=1 tags every cached block for the double-free check: never routed.
        return;
    }
    let dir = std::env::temp_dir();
    let kind = Kind::pmem(&PmemConfig::new(&dir)).unwrap();
    let route = add_route(kind).expect("a free route");
    assert_eq!(add_route(kind), Some(route), "adding again gives the same route");
    assert_eq!(route_of(kind), Some(route));
    assert_eq!(route_of(Kind::REGULAR), None);

    let mut blocks = Vec::new();
    for size in [16usize, 100, 1000, 4000, 8192] {
        for _ in 0..300 {
            blocks.push((kind.malloc(size).unwrap(), size));
        }
    }
    for &(p, size) in &blocks {
        let tag = page_tag(p.as_ptr() as usize);
        assert_eq!(tag >> 6, route.get(), "tag {tag:#x} of a {size}-byte block");
    }
    // Routed: into the thread's bin, which gives it back next.
    let (p, size) = blocks.pop().unwrap();
    // SAFETY: a live block of ours, not used again (it comes back from the next malloc).
    let freed = unsafe { free_fast_sized(p) }.expect("routed");
    assert_eq!(freed, Routed { route, usable: size_class(size) });
    assert_eq!(kind.malloc(size).unwrap(), p, "the block went to the thread's bin");
    blocks.push((p, size));

    // A large block is not routed (its tag says "ask jemalloc"): nothing is done.
    let big = kind.malloc(100_000).unwrap();
    // SAFETY: a live block of ours, freed below since this returns None.
    assert_eq!(unsafe { free_fast_sized(big) }, None);
    // SAFETY: live, freed once.
    unsafe { kind.free(big) };

    // A block of the C library's is never routed.
    // SAFETY: plain malloc; freed below.
    let foreign = NonNull::new(unsafe { libc::malloc(64) }.cast::<u8>()).unwrap();
    // SAFETY: a live block of the C library's, left untouched (None).
    assert_eq!(unsafe { free_fast_sized(foreign) }, None);
    // SAFETY: the C library's block, freed once.
    unsafe { libc::free(foreign.as_ptr().cast()) };

    let addrs: Vec<usize> = blocks.iter().map(|(p, _)| p.as_ptr() as usize).collect();
    for (p, _) in blocks {
        // SAFETY: live blocks of `kind`, freed once.
        unsafe { kind.free(p) };
    }
    // SAFETY: every block is freed.
    unsafe { kind.destroy().unwrap() };
    for &a in &addrs {
        assert_eq!(page_tag(a), 0, "the tag at {a:#x} outlived its morsel");
    }

    // A foreign mapping where the blocks were: a free of it is not routed.
    let page = addrs[0] & !4095;
    // SAFETY: a fresh anonymous mapping at an address nothing of ours holds any more
    // (MAP_FIXED_NOREPLACE fails rather than replace anything).
    let at = unsafe {
        libc::mmap(
            page as *mut libc::c_void,
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    if at as usize == page {
        let inside = NonNull::new((addrs[0]) as *mut u8).unwrap();
        // SAFETY: not ours: the routed free must leave it alone (None).
        assert_eq!(unsafe { free_fast_sized(inside) }, None);
        // SAFETY: our own mapping.
        unsafe { libc::munmap(at, 4096) };
    } else if at != libc::MAP_FAILED {
        // SAFETY: a kernel without MAP_FIXED_NOREPLACE placed it elsewhere; ours to unmap.
        unsafe { libc::munmap(at, 4096) };
    }
}
