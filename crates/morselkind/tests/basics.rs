//! Basic heap behaviour of DEFAULT, PMEM and FIXED kinds.

use morselkind::{Error, Kind, PmemConfig, PMEM_MIN_SIZE};
use std::path::PathBuf;
use test_support::fs::{scratch_dir, TestDir};

fn pmem_dir() -> PathBuf {
    scratch_dir(&std::env::temp_dir(), "morselkind-basics")
}

#[test]
fn default_kind_round_trip() {
    let k = Kind::DEFAULT;
    let p = k.malloc(100).unwrap();
    // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
    unsafe {
        p.as_ptr().write_bytes(0xab, 100);
        assert!(k.usable_size(p) >= 100);
    }
    assert_eq!(Kind::detect(p.as_ptr()), Some(Kind::DEFAULT));
    // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
    let q = unsafe { k.realloc(p, 100_000) }.unwrap();
    // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
    assert_eq!(unsafe { *q.as_ptr().add(99) }, 0xab);
    // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
    unsafe { k.free(q) };
    assert_eq!(k.malloc(0), Err(Error::OutOfMemory));
    assert_eq!(k.calloc(usize::MAX, 2), Err(Error::OutOfMemory));
    let c = k.calloc(10, 100).unwrap();
    // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
    assert!((0..1000).all(|i| unsafe { *c.as_ptr().add(i) } == 0));
    // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
    unsafe { k.free(c) };
}

#[test]
fn pmem_limit_enomem_then_serves_again() {
    let dir = pmem_dir();
    let k = Kind::pmem(&PmemConfig::limited(&dir, 32 << 20)).unwrap();
    let mut blocks = Vec::new();
    loop {
        match k.malloc(1 << 20) {
            Ok(p) => blocks.push(p),
            Err(e) => {
                assert_eq!(e, Error::OutOfMemory);
                break;
            }
        }
        assert!(blocks.len() <= 32, "a 32 MiB kind held more than 32 MiB");
    }
    assert!(blocks.len() >= 30, "only {} MiB fit in a 32 MiB kind", blocks.len());
    for p in blocks.drain(..) {
        // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
        unsafe { k.free(p) };
    }
    let p = k.malloc(1 << 20).expect("serves again after frees");
    // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
    unsafe {
        k.free(p);
        k.destroy().unwrap();
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn pmem_limit_below_the_minimum_is_invalid_and_none_is_unlimited() {
    let scratch = TestDir::new(&std::env::temp_dir(), "morselkind-basics-limit");
    let dir = scratch.path();
    for size in [0, 1, PMEM_MIN_SIZE - 1] {
        assert_eq!(Kind::pmem(&PmemConfig::limited(dir, size)).unwrap_err(), Error::Invalid, "{size}");
    }
    let k = Kind::pmem(&PmemConfig::new(dir)).unwrap();
    assert!(!k.is_limited());
    let p = k.malloc(4 << 20).unwrap();
    let totals = k.morsels();
    assert!(totals.count >= 1 && totals.mapped >= 4 << 20, "{totals:?}");
    // SAFETY: a block of this test's own kind, not used again.
    unsafe {
        k.free(p);
        k.destroy().unwrap();
    }
    assert!(scratch.entries().is_empty(), "{:?}", scratch.entries());
}

#[test]
fn fixed_kind_carves_the_callers_region_and_zeroes_calloc() {
    let mut region = vec![0xffu8; 8 << 20];
    // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
    let k = unsafe { Kind::fixed(region.as_mut_ptr(), region.len()) }.unwrap();
    let p = k.calloc(1, 4096).unwrap();
    let start = region.as_ptr() as usize;
    assert!((p.as_ptr() as usize) >= start && (p.as_ptr() as usize) < start + region.len());
    // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
    assert!((0..4096).all(|i| unsafe { *p.as_ptr().add(i) } == 0));
    assert_eq!(Kind::detect(p.as_ptr()), Some(k));
    // Just outside the region is not ours.
    assert_eq!(Kind::detect((start - 1) as *const u8), None);
    // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
    unsafe {
        k.free(p);
        k.destroy().unwrap();
    }
    assert_eq!(Kind::detect(region.as_ptr()), None);
}
