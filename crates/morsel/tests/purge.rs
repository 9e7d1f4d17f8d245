//! Purge: memory and file space really go back, contents read back as zero, and the population
//! bitmap forgets the purged granules.

mod common;

use std::path::Path;

use morsel::{sys, Morsel, Order, Purge, Source, GRANULE_SIZE, PAGE_SIZE};
use test_support::fs::{var_tmp, TestDir};
use test_support::proc_self;

const MIB: usize = 1 << 20;
/// st_blocks also counts the filesystem's own extent-tree blocks: punching a hole into one
/// extent makes two, and on a fragmented filesystem that can take ext4 an index block (4 KiB)
/// just when the data goes.
const FS_METADATA_SLACK: u64 = 64 << 10;

/// A file source in `parent`: populate and write 32 MiB, purge a middle slice (the rest keeps
/// its data), then purge everything; file space drops by what was purged each time.
fn forced_purge_gives_file_space_back(parent: &Path) {
    let dir = TestDir::new(parent, "morsel-test-purge");
    let src = Source::tmpfile(dir.path()).expect("tmpfile");
    let len = 32 * MIB;
    let m = Morsel::create(&src, Order::Pmd, len, Order::Pmd.size()).expect("create");
    let empty = src.file_bytes();
    assert_eq!(m.populate(&src, m.base(), len).unwrap(), len);
    common::fill(&m, 0, len, 0xc3);
    let full = src.file_bytes();
    eprintln!("{}: file bytes {empty} empty, {full} after populate + write", parent.display());
    assert!(full >= empty + len as u64, "{full} < {empty} + {len}");

    // The middle 8 MiB: only it is punched and zeroed.
    let (mid, mid_len) = (8 * MIB, 8 * MIB);
    assert!(m.purge(&src, m.base() + mid, mid_len, Purge::Forced).expect("purge middle"));
    let partial = src.file_bytes();
    assert!(full + FS_METADATA_SLACK - partial >= mid_len as u64, "middle purge: {full} -> {partial}");
    assert!(common::all_zero(&m, mid, mid_len));
    assert!(common::all_equal(&m, 0, mid, 0xc3), "data before the purged slice lost");
    assert!(common::all_equal(&m, mid + mid_len, len - mid - mid_len, 0xc3), "data after lost");
    let slice_granules = mid / GRANULE_SIZE..(mid + mid_len) / GRANULE_SIZE;
    for g in 0..len / GRANULE_SIZE {
        assert_eq!(m.is_populated(g), !slice_granules.contains(&g), "granule {g}");
    }

    // Everything.
    common::fill(&m, mid, mid_len, 0xc3);
    assert!(src.file_bytes() >= full, "rewriting the hole allocates it again");
    let full = src.file_bytes();
    assert!(m.purge(&src, m.base(), len, Purge::Forced).expect("purge"));
    let after = src.file_bytes();
    eprintln!("{}: file bytes {full} -> {after} after forced purge", parent.display());
    assert!(full + FS_METADATA_SLACK - after >= len as u64, "forced purge: {full} -> {after}");
    assert!(common::all_zero(&m, 0, len), "purged memory does not read back as zero");
    assert!((0..len / GRANULE_SIZE).all(|g| !m.is_populated(g)));

    // SAFETY: no pointer into the morsel is used after this.
    unsafe { m.destroy(&src) }.unwrap();
    drop(src);
    assert!(dir.entries().is_empty());
}

#[test]
fn forced_purge_disk_file() {
    let _serial = test_support::serial();
    forced_purge_gives_file_space_back(&var_tmp());
}

#[test]
fn forced_purge_tmpfs_file() {
    let _serial = test_support::serial();
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        eprintln!("SKIP: /dev/shm does not exist");
        return;
    }
    forced_purge_gives_file_space_back(shm);
}

#[test]
fn forced_purge_drops_anonymous_rss() {
    let _serial = test_support::serial();
    let src = Source::anon();
    let len = 64 * MIB;
    let m = Morsel::create(&src, Order::Pmd, len, Order::Pud.size()).expect("create");
    // The kernel merges adjacent anonymous mappings with equal flags (a malloc arena made by
    // another thread can land right above the morsel). A memory policy of its own keeps the
    // morsel's mapping separate, so its smaps block is exactly the morsel (node 0 is harmless).
    m.bind(sys::MPOL_PREFERRED, &[1]).expect("mbind");
    let (end, rss0) = proc_self::smaps_rss(m.base()).expect("no smaps block starts at the morsel base");
    assert_eq!(end, m.base() + len, "the smaps block is not exactly the morsel: ends at {end:#x}");
    common::fill(&m, 0, len, 0x77);
    let (_, written) = proc_self::smaps_rss(m.base()).unwrap();
    assert!(m.purge(&src, m.base(), len, Purge::Forced).expect("purge"));
    let (_, purged) = proc_self::smaps_rss(m.base()).unwrap();
    assert!(common::all_zero(&m, 0, len), "purged memory does not read back as zero");
    let (_, reread) = proc_self::smaps_rss(m.base()).unwrap();
    eprintln!("anon Rss: {rss0} fresh, {written} written, {purged} purged, {reread} after reading zeros");
    assert!(written >= len as u64, "{written} < {len}");
    assert!(purged <= 16 * PAGE_SIZE as u64, "Rss {purged} after forced purge");
    assert!(reread <= 16 * PAGE_SIZE as u64, "reading zeros committed memory: {reread}");
    // SAFETY: no pointer into the morsel is used after this.
    unsafe { m.destroy(&src) }.unwrap();
}

#[test]
fn lazy_purge_on_anonymous_memory() {
    let _serial = test_support::serial();
    let src = Source::anon();
    let len = 16 * MIB;
    let m = Morsel::create(&src, Order::Pmd, len, Order::Pmd.size()).expect("create");
    let granules = len / GRANULE_SIZE;
    assert_eq!(m.populate(&src, m.base(), len).unwrap(), len);
    assert!((0..granules).all(|g| m.is_populated(g)));
    common::fill(&m, 0, len, 0x33);
    assert!(m.purge(&src, m.base(), len, Purge::Lazy).expect("MADV_FREE"));
    assert!((0..granules).all(|g| !m.is_populated(g)), "lazy purge left granules marked");
    // MADV_FREE: each page is either still intact or reclaimed (zero), never a mix.
    let mut kept = 0;
    for page in (0..len).step_by(PAGE_SIZE) {
        if common::all_equal(&m, page, PAGE_SIZE, 0x33) {
            kept += 1;
        } else {
            assert!(common::all_zero(&m, page, PAGE_SIZE), "page {page:#x} is torn");
        }
    }
    eprintln!("after MADV_FREE {kept} of {} pages kept their contents", len / PAGE_SIZE);
    // The cleared bitmap lets populate claim the granules again.
    assert_eq!(m.populate(&src, m.base(), len).unwrap(), len);
    // SAFETY: no pointer into the morsel is used after this.
    unsafe { m.destroy(&src) }.unwrap();
}

#[test]
fn lazy_purge_on_memfd_is_forced() {
    let _serial = test_support::serial();
    let src = Source::memfd("morsel-purge").expect("memfd");
    let len = 32 * MIB;
    let m = Morsel::create(&src, Order::Pmd, len, Order::Pmd.size()).expect("create");
    assert_eq!(m.populate(&src, m.base(), len).unwrap(), len);
    common::fill(&m, 0, len, 0x44);
    let full = src.file_bytes();
    assert!(full >= len as u64, "{full} < {len}");
    assert!(m.purge(&src, m.base(), len, Purge::Lazy).expect("purge"));
    let after = src.file_bytes();
    eprintln!("memfd bytes {full} -> {after} after lazy purge");
    assert!(full - after >= len as u64, "lazy purge on a memfd kept its space: {full} -> {after}");
    assert!(common::all_zero(&m, 0, len));
    assert!((0..len / GRANULE_SIZE).all(|g| !m.is_populated(g)));
    // SAFETY: no pointer into the morsel is used after this.
    unsafe { m.destroy(&src) }.unwrap();
}

#[test]
fn purge_refuses_ranges_outside_the_morsel() {
    let _serial = test_support::serial();
    let src = Source::anon();
    let m = Morsel::create(&src, Order::Pmd, GRANULE_SIZE, GRANULE_SIZE).unwrap();
    common::fill(&m, 0, GRANULE_SIZE, 1);
    let einval = Err(morsel::Errno(libc::EINVAL));
    assert_eq!(m.purge(&src, m.base() + PAGE_SIZE, GRANULE_SIZE, Purge::Forced), einval);
    assert_eq!(m.purge(&src, m.base() - PAGE_SIZE, PAGE_SIZE, Purge::Forced), einval);
    assert!(common::all_equal(&m, 0, GRANULE_SIZE, 1), "a refused purge dropped data");
    // SAFETY: no pointer into the morsel is used after this.
    unsafe { m.destroy(&src) }.unwrap();
}
