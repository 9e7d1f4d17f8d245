//! Huge morsels and batched population: MORSELKIND_HUGE gets transparent huge pages and keeps
//! them through churn, eager population removes page faults, hugetlb kinds use reserved pages,
//! morsels are naturally aligned in address and file offset, and size-limited PMEM kinds pack.

use std::path::PathBuf;
use std::process::Command;

use morselkind::{Kind, PmemConfig, StaticKind};
use test_support::fs::{scratch_dir, var_tmp};
use test_support::proc_self::{meminfo, smaps_flag, smaps_kb};

fn morsel_span(kind: Kind) -> (usize, usize) {
    let layout = kind.morsel_layout();
    let start = layout.iter().map(|m| m.addr).min().unwrap();
    let end = layout.iter().map(|m| m.addr + m.len).max().unwrap();
    (start, end)
}

fn thp_usable() -> bool {
    if morsel::caps().thp_usable() {
        return true;
    }
    eprintln!("SKIP: transparent huge pages are off on this machine ({:?})", morsel::caps().thp);
    false
}

#[test]
fn huge_kind_gets_and_keeps_huge_pages() {
    if !thp_usable() {
        return;
    }
    let k = Kind::HUGE;
    let mut blocks: Vec<_> = (0..64).map(|_| k.malloc(1 << 20).unwrap()).collect();
    for b in &blocks {
        // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
        unsafe { b.as_ptr().write_bytes(7, 1 << 20) };
    }
    let (start, end) = morsel_span(k);
    let huge = smaps_kb(start, end, "AnonHugePages:");
    assert!(huge >= 48 * 1024, "only {huge} kB of 64 MiB are huge");
    // Churn: free every other block, purge, allocate again.
    for i in (0..blocks.len()).step_by(2) {
        // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
        unsafe { k.free(blocks[i]) };
    }
    k.purge();
    for i in (0..blocks.len()).step_by(2) {
        blocks[i] = k.malloc(1 << 20).unwrap();
        // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
        unsafe { blocks[i].as_ptr().write_bytes(9, 1 << 20) };
    }
    let huge_after = smaps_kb(start, end, "AnonHugePages:");
    assert!(huge_after >= 48 * 1024, "after churn only {huge_after} kB are huge");
    for b in blocks {
        // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
        unsafe { k.free(b) };
    }
}

#[test]
fn eager_population_removes_faults() {
    if !thp_usable() || !morsel::caps().populate_write {
        eprintln!("SKIP: needs THP and MADV_POPULATE_WRITE");
        return;
    }
    let size = 256 << 20;
    let p = Kind::HUGE.malloc(size).unwrap();
    let before = morsel::sys::thread_page_faults();
    // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
    unsafe { p.as_ptr().write_bytes(1, size) };
    let faults = morsel::sys::thread_page_faults() - before;
    // Populated in batched calls at allocation: touching it faults (almost) never.
    assert!(faults < 64, "{faults} faults filling 256 MiB of an eager huge kind");
    // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
    unsafe { Kind::HUGE.free(p) };
}

#[test]
fn morsels_are_naturally_aligned_in_address_and_file_offset() {
    let dir = std::env::temp_dir();
    let k = Kind::pmem(&PmemConfig::new(&dir)).unwrap();
    let mut blocks = Vec::new();
    for size in [100usize, 5000, 3 << 20, 1 << 30, 1100 << 20] {
        blocks.push(k.malloc(size).unwrap());
    }
    let layout = k.morsel_layout();
    assert!(layout.len() >= 2, "big requests get morsels of their own");
    for morselkind::MorselLayout { addr, len, offset, order_size: order } in layout {
        assert_eq!(addr % order, 0, "address {addr:#x} not aligned to {order:#x}");
        assert_eq!(offset % order as u64, 0, "offset {offset:#x} not aligned");
        assert_eq!(len % order, 0);
        // Addresses and offsets agree modulo 2 MiB, so DAX can map PMDs.
        assert_eq!(addr % (2 << 20), (offset % (2 << 20)) as usize);
    }
    for b in blocks {
        // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
        unsafe { k.free(b) };
    }
    // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
    unsafe { k.destroy().unwrap() };
}

fn pmem_dir(name: &str) -> PathBuf {
    scratch_dir(&var_tmp(), &format!("morselkind-huge-{name}"))
}

#[test]
fn pmem_kinds_pack_tightly() {
    let dir = pmem_dir("pack");
    let k16 = Kind::pmem(&PmemConfig::limited(&dir, 16 << 20)).unwrap();
    let mut n = 0;
    let mut blocks = Vec::new();
    while let Ok(p) = k16.malloc(1 << 20) {
        blocks.push(p);
        n += 1;
    }
    assert!(n >= 15, "a 16 MiB kind held only {n} objects of 1 MiB");
    // st_blocks also counts the filesystem's own extent-tree blocks for a fragmented file
    // (ext4: 4 KiB each), so allow a few of those above the data.
    let blocks_used = k16.source().unwrap().file_bytes();
    assert!(blocks_used <= (16 << 20) + (64 << 10), "file blocks {blocks_used} exceed the 16 MiB limit");
    for b in blocks.drain(..) {
        // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
        unsafe { k16.free(b) };
    }
    // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
    unsafe { k16.destroy().unwrap() };

    let k64 = Kind::pmem(&PmemConfig::limited(&dir, 64 << 20)).unwrap();
    let mut held = 0usize;
    while let Ok(p) = k64.malloc(4000) {
        blocks.push(p);
        held += 4000;
    }
    let pct = held as f64 * 100.0 / (64 << 20) as f64;
    assert!(pct >= 95.0, "a 64 MiB kind held only {pct:.1}% in 4000 B objects");
    for b in blocks.drain(..) {
        // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
        unsafe { k64.free(b) };
    }
    // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
    unsafe { k64.destroy().unwrap() };
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir(&dir).unwrap();
}

/// A small file kind maps with MADV_RANDOM (no read-ahead of sparse file); the commit that takes
/// it past 1 MiB switches back to normal read-ahead, also when earlier commits add up to
/// exactly 1 MiB (64 KiB blocks: the boundary once missed, leaving every later fault a
/// one-page "read" of the file, two major faults per 8 KiB).
#[test]
fn file_kinds_leave_random_advice_when_they_grow() {
    let dir = pmem_dir("advice");
    let k = Kind::pmem(&PmemConfig::new(&dir)).unwrap();
    let mut blocks = vec![k.malloc(64 << 10).unwrap()];
    let (start, end) = morsel_span(k);
    assert!(smaps_flag(start, end, "rr"), "a fresh file kind maps with MADV_RANDOM (VmFlags rr)");
    while k.committed() <= 4 << 20 {
        blocks.push(k.malloc(64 << 10).unwrap());
    }
    assert!(!smaps_flag(start, end, "rr"), "past 1 MiB committed the kind still reads at random");
    for b in blocks {
        // SAFETY: blocks of this test's own kind, live until freed here.
        unsafe { k.free(b) };
    }
    // SAFETY: no block of the kind is used after this.
    unsafe { k.destroy().unwrap() };
    std::fs::remove_dir(&dir).unwrap();
}

/// A large file kind allocates the file blocks of what it commits (fallocate, whole 2 MiB
/// granules) but leaves the pages to the program's own touches: a program that commits a large
/// buffer and uses part of it must not pay for writing the rest (sort(1) under a FS_DAX tier
/// once took 37 s instead of 3 s). The explicit populate call does fault them in.
#[test]
fn file_kinds_allocate_blocks_without_prefaulting() {
    let dir = pmem_dir("noprefault");
    let k = Kind::pmem(&PmemConfig::new(&dir)).unwrap();
    let warm = k.malloc(2 << 20).unwrap(); // past the small-kind stage
    let len = 64 << 20;
    let p = k.malloc(len).unwrap();
    let (start, end) = morsel_span(k);
    let rss = smaps_kb(start, end, "Rss:") << 10;
    assert!(rss < 8 << 20, "{rss} bytes resident right after malloc({len}): prefaulted");
    let blocks = k.source().unwrap().file_bytes();
    assert!(blocks >= len as u64, "only {blocks} bytes of file blocks for a {len}-byte block");
    k.populate(p.as_ptr() as usize, len);
    let rss = smaps_kb(start, end, "Rss:") << 10;
    assert!(rss >= len as u64, "{rss} bytes resident after populate({len})");
    // SAFETY: blocks of this test's own kind, live until freed here.
    unsafe {
        k.free(p);
        k.free(warm);
        k.destroy().unwrap();
    }
    std::fs::remove_dir(&dir).unwrap();
}

const CHILD: &str = "MORSELKIND_HUGETLB_CHILD";

/// Runs in a child started after the reservation (memkind reads it once, and so do we).
fn hugetlb_child() {
    let k = StaticKind::Hugetlb.kind();
    k.ready().expect("HUGETLB available with pages reserved");
    let free_before = meminfo("HugePages_Free:");
    let p = k.malloc(4 << 20).unwrap();
    // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
    unsafe { p.as_ptr().write_bytes(3, 4 << 20) };
    let (start, end) = morsel_span(k);
    let page = smaps_kb(start, end, "KernelPageSize:");
    assert!(page >= 2048, "kernel page size {page} kB for a hugetlb kind");
    let used = free_before - meminfo("HugePages_Free:");
    assert!(used >= 2, "only {used} huge pages taken for 4 MiB");
    // SAFETY: blocks of this test's own kinds, live until freed here; writes stay in bounds.
    unsafe { k.free(p) };
    println!("hugetlb child ok: {used} pages");
}

#[test]
fn hugetlb_kinds_use_reserved_pages() {
    if std::env::var_os(CHILD).is_some() {
        hugetlb_child();
        return;
    }
    let knob = "/proc/sys/vm/nr_hugepages";
    let old = std::fs::read_to_string(knob).unwrap_or_default();
    if old.trim().parse::<u64>().unwrap_or(0) == 0 {
        // Without reserved pages the kind is unavailable, with memkind's error.
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "hugetlb_unavailable_probe", "--nocapture"])
            .env(PROBE, "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    }
    if std::fs::write(knob, "16").is_err() || meminfo("HugePages_Total:") < 4 {
        eprintln!("SKIP: cannot reserve hugetlb pages here (not root, or the kernel refused)");
        let _ = std::fs::write(knob, old.trim());
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "hugetlb_kinds_use_reserved_pages", "--nocapture"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let _ = std::fs::write(knob, old.trim());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("hugetlb child ok"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const PROBE: &str = "MORSELKIND_HUGETLB_PROBE";

/// Run as a child of `hugetlb_kinds_use_reserved_pages` (alone, so no other test changes the
/// reservation meanwhile).
#[test]
fn hugetlb_unavailable_probe() {
    if std::env::var_os(PROBE).is_some() && meminfo("HugePages_Total:") == 0 {
        let e = StaticKind::Hugetlb.kind().ready().unwrap_err();
        assert_eq!(e.code(), -18);
        assert!(StaticKind::Hugetlb.kind().malloc(100).is_err());
    }
}
