//! The pointer→kind directory: nothing that is not ours is detected, and FIXED regions that
//! share a 2 MiB slot (with each other, or with a morsel of another kind underneath) are told
//! apart byte for byte.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr::NonNull;

use allocator_api2::vec::Vec as KindVec;
use morselkind::{Error, Kind};

const MIB: usize = 1 << 20;
const SLOT: usize = 2 * MIB;

#[test]
fn foreign_addresses_are_not_ours() {
    // Make sure the directory exists and DEFAULT has morsels, so a None is not vacuous.
    let ours = Kind::DEFAULT.malloc(1000).unwrap();
    let big = Kind::DEFAULT.malloc(8 * MIB).unwrap();
    assert_eq!(Kind::detect(ours.as_ptr()), Some(Kind::DEFAULT));
    assert_eq!(Kind::detect(big.as_ptr()), Some(Kind::DEFAULT));

    let on_stack = [0u8; 64];
    assert_eq!(Kind::detect(on_stack.as_ptr()), None, "a stack address");
    let local = 7u64;
    assert_eq!(Kind::detect((&local as *const u64).cast()), None, "a stack address");
    static STATIC: u8 = 0;
    assert_eq!(Kind::detect(&STATIC), None, "a static");
    assert_eq!(Kind::detect(foreign_addresses_are_not_ours as *const u8), None, "code");

    for size in [16, 4096, 200_000, 16 * MIB] {
        // SAFETY: plain libc allocation, freed below.
        let p = unsafe { libc::malloc(size) } as *mut u8;
        assert!(!p.is_null());
        for at in [0, size / 2, size - 1] {
            assert_eq!(Kind::detect(p.wrapping_add(at)), None, "libc::malloc({size}) + {at}");
        }
        // SAFETY: not ours, so `free_any` hands it to libc.
        unsafe { morselkind::free_any(NonNull::new(p).unwrap()) };
    }
    // std's System allocator is the C library's as well.
    let layout = Layout::from_size_align(3 * MIB, 64).unwrap();
    // SAFETY: a non-zero layout.
    let s = unsafe { System.alloc(layout) };
    assert_eq!(Kind::detect(s), None);
    // SAFETY: allocated just above with this layout.
    unsafe { System.dealloc(s, layout) };

    assert_eq!(Kind::detect(std::ptr::null()), None, "null");
    assert_eq!(Kind::detect(std::ptr::dangling::<u8>()), None);
    for a in [1usize << 47, (1 << 47) + SLOT, 1 << 48, 1 << 63, usize::MAX, usize::MAX - 4095] {
        assert_eq!(Kind::detect(a as *const u8), None, "{a:#x} is above the 47-bit address space");
    }
    // The same offsets as a live block, but above 1<<47, alias no slot.
    let alias = (ours.as_ptr() as usize) | (1 << 47);
    assert_eq!(Kind::detect(alias as *const u8), None, "{alias:#x} aliases a live block's slot");

    // SAFETY: live DEFAULT blocks.
    unsafe {
        Kind::DEFAULT.free(ours);
        Kind::DEFAULT.free(big);
    }
}

/// Fills a FIXED kind with blocks of a few sizes until it is full; every block is checked to
/// lie in `[lo, hi)` and to be detected as `kind`.
fn fill_kind(kind: Kind, lo: usize, hi: usize) -> Vec<(usize, usize)> {
    let mut blocks = Vec::new();
    for (size, most) in [(256 * 1024, usize::MAX), (16 * 1024, usize::MAX), (512, 2000)] {
        for _ in 0..most {
            let p = match kind.malloc(size) {
                Ok(p) => p.as_ptr() as usize,
                Err(e) => {
                    assert_eq!(e, Error::OutOfMemory);
                    break;
                }
            };
            assert!(p >= lo && p + size <= hi, "{p:#x}+{size} outside {lo:#x}..{hi:#x}");
            assert_eq!(Kind::detect(p as *const u8), Some(kind));
            assert_eq!(Kind::detect((p + size - 1) as *const u8), Some(kind));
            blocks.push((p, size));
        }
    }
    blocks
}

/// Two FIXED kinds over the halves of one 4 MiB-aligned 4 MiB buffer, split at `split` bytes
/// (not a multiple of 2 MiB), so that one 2 MiB slot holds the end of one and the start of the
/// other.
fn two_regions_share_a_slot(split: usize) {
    assert_ne!(split % SLOT, 0);
    let layout = Layout::from_size_align(4 * MIB, 4 * MIB).unwrap();
    // SAFETY: a non-zero layout.
    let base = unsafe { System.alloc(layout) };
    assert!(!base.is_null());
    let b = base as usize;
    assert_eq!(b % (4 * MIB), 0);
    assert_eq!(Kind::detect(base), None);
    // SAFETY: the halves of `base`, which outlives both kinds and is otherwise unused.
    let (ka, kb) = unsafe {
        (Kind::fixed(base, split).unwrap(), Kind::fixed(base.add(split), 4 * MIB - split).unwrap())
    };
    assert_ne!(ka, kb);
    let shared = (b + split) & !(SLOT - 1);

    let a = fill_kind(ka, b, b + split);
    let bb = fill_kind(kb, b + split, b + 4 * MIB);
    let in_shared =
        |blocks: &[(usize, usize)]| blocks.iter().filter(|&&(p, _)| p & !(SLOT - 1) == shared).count();
    assert!(in_shared(&a) > 0, "no block of the first region in the shared slot {shared:#x}");
    assert!(in_shared(&bb) > 0, "no block of the second region in the shared slot {shared:#x}");
    // Every block of each is its own, re-checked now that both are full.
    for &(p, size) in &a {
        assert_eq!(Kind::detect(p as *const u8), Some(ka));
        assert_eq!(Kind::detect((p + size - 1) as *const u8), Some(ka));
    }
    for &(p, size) in &bb {
        assert_eq!(Kind::detect(p as *const u8), Some(kb));
        assert_eq!(Kind::detect((p + size - 1) as *const u8), Some(kb));
    }
    // Byte-exact at the boundary and the edges.
    assert_eq!(Kind::detect((b - 1) as *const u8), None);
    assert_eq!(Kind::detect(b as *const u8), Some(ka));
    assert_eq!(Kind::detect((b + split - 1) as *const u8), Some(ka));
    assert_eq!(Kind::detect((b + split) as *const u8), Some(kb));
    assert_eq!(Kind::detect((b + 4 * MIB - 1) as *const u8), Some(kb));
    assert_eq!(Kind::detect((b + 4 * MIB) as *const u8), None);

    // Destroying one leaves the other detected, and its own range not.
    // SAFETY: nothing of `ka` is used after this.
    unsafe { ka.destroy().unwrap() };
    assert!(a.iter().all(|&(p, _)| Kind::detect(p as *const u8).is_none()));
    assert_eq!(Kind::detect((b + split - 1) as *const u8), None);
    assert!(bb.iter().all(|&(p, _)| Kind::detect(p as *const u8) == Some(kb)));
    assert_eq!(Kind::detect((b + split) as *const u8), Some(kb));
    // SAFETY: nothing of `kb` is used after this.
    unsafe { kb.destroy().unwrap() };
    assert!(bb.iter().all(|&(p, _)| Kind::detect(p as *const u8).is_none()));
    assert_eq!(Kind::detect((b + split) as *const u8), None);
    // SAFETY: allocated above with this layout; the kinds are gone.
    unsafe { System.dealloc(base, layout) };
}

#[test]
fn fixed_regions_sharing_the_second_slot_are_told_apart() {
    two_regions_share_a_slot(2 * MIB + 5 * 4096 + 100);
}

#[test]
fn fixed_regions_sharing_the_first_slot_are_told_apart() {
    two_regions_share_a_slot(MIB + 12345);
}

#[test]
fn fixed_region_inside_another_kinds_morsel() {
    // A FIXED region carved out of a DEFAULT block: the slot's base span is DEFAULT's morsel.
    let mut backing: KindVec<u8, Kind> = KindVec::with_capacity_in(6 * MIB, Kind::DEFAULT);
    backing.resize(6 * MIB, 0);
    let b = backing.as_mut_ptr() as usize;
    assert_eq!(Kind::detect(b as *const u8), Some(Kind::DEFAULT));
    let lo = b + MIB + 777;
    let hi = lo + 3 * MIB;
    // SAFETY: inside `backing`, which outlives the kind and is not touched meanwhile.
    let k = unsafe { Kind::fixed(lo as *mut u8, hi - lo) }.unwrap();
    let blocks = fill_kind(k, lo, hi);
    assert!(!blocks.is_empty());
    assert_eq!(Kind::detect(lo as *const u8), Some(k));
    assert_eq!(Kind::detect((hi - 1) as *const u8), Some(k));
    assert_eq!(Kind::detect((lo - 1) as *const u8), Some(Kind::DEFAULT), "the morsel around the region");
    assert_eq!(Kind::detect(hi as *const u8), Some(Kind::DEFAULT), "the morsel around the region");
    assert_eq!(Kind::detect(b as *const u8), Some(Kind::DEFAULT));
    // SAFETY: nothing of `k` is used after this.
    unsafe { k.destroy().unwrap() };
    for a in [lo, hi - 1, (lo + hi) / 2, lo - 1, hi] {
        assert_eq!(Kind::detect(a as *const u8), Some(Kind::DEFAULT), "{a:#x} after the FIXED kind went");
    }
    drop(backing);
}
