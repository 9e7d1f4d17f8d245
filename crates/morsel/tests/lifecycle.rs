//! Lifecycle: destroy leaves no mapping and no file space behind, dropping a source closes its
//! fd, temporary files never appear in their directory, morsels can be shared by id and fd, and
//! a NUMA policy applied with `bind` is the one the kernel reports.

mod common;

use std::path::Path;

use morsel::{sys, Morsel, Order, SharedMapping, Source, GRANULE_SIZE, PAGE_SIZE};
use test_support::fs::{fstat_size_nlink, var_tmp, TestDir};
use test_support::proc_self::{self, fd_links_into};

const MIB: usize = 1 << 20;

/// Create, populate, write, destroy on a tmpfile source in `parent`; then drop the source.
fn destroy_and_drop_leave_nothing(parent: &Path) {
    let dir = TestDir::new(parent, "morsel-test-lifecycle");
    let fds_before = proc_self::fd_links().len();
    {
        let src = Source::tmpfile(dir.path()).expect("tmpfile");
        assert!(src.used_tmpfile(), "{}: O_TMPFILE unsupported?", parent.display());
        assert!(dir.entries().is_empty(), "O_TMPFILE file visible: {:?}", dir.entries());
        assert_eq!(fd_links_into(dir.path()).len(), 1, "the source's fd should point into the dir");
        let blocks0 = src.file_bytes();

        let m = Morsel::create(&src, Order::Pud, Order::Pud.size(), Order::Pud.size()).unwrap();
        let base = m.base();
        assert!(proc_self::maps_has_start(base), "morsel {base:#x} not in /proc/self/maps");
        let populate = 16 * MIB;
        assert_eq!(m.populate(&src, base + 64 * MIB, populate).unwrap(), populate);
        common::fill(&m, 64 * MIB, populate, 0x5d);
        common::fill(&m, 0, PAGE_SIZE, 0x5d); // and one page by fault, outside the populated range
        let blocks = src.file_bytes();
        assert!(blocks >= blocks0 + (populate + PAGE_SIZE) as u64, "{blocks0} -> {blocks}");

        // SAFETY: no pointer into the morsel is used after this.
        unsafe { m.destroy(&src) }.expect("destroy");
        assert!(!proc_self::maps_has_start(base), "mapping at {base:#x} survived destroy");
        assert_eq!(src.file_bytes(), blocks0, "file space not given back by destroy");
        assert!(dir.entries().is_empty());
    }
    // The source is dropped: its fd is closed and nothing refers to the directory any more.
    assert_eq!(proc_self::fd_links().len(), fds_before, "fd count changed after dropping the source");
    assert_eq!(fd_links_into(dir.path()), [], "an fd still points into the test directory");
    assert_eq!(proc_self::maps_mentioning(&dir.path().display().to_string()), Vec::<String>::new());
    assert!(dir.entries().is_empty(), "left in the directory: {:?}", dir.entries());
}

#[test]
fn destroy_and_drop_disk_tmpfile() {
    let _serial = test_support::serial();
    destroy_and_drop_leave_nothing(&std::env::temp_dir());
}

#[test]
fn destroy_and_drop_tmpfs_tmpfile() {
    let _serial = test_support::serial();
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        eprintln!("SKIP: /dev/shm does not exist");
        return;
    }
    destroy_and_drop_leave_nothing(shm);
}

#[test]
fn destroy_anon_unmaps() {
    let _serial = test_support::serial();
    let src = Source::anon();
    let m = Morsel::create(&src, Order::Pmd, 4 * GRANULE_SIZE, Order::Pud.size()).unwrap();
    let base = m.base();
    common::fill(&m, 0, 4 * GRANULE_SIZE, 1);
    assert!(proc_self::maps_has_start(base));
    // SAFETY: no pointer into the morsel is used after this.
    unsafe { m.destroy(&src) }.expect("destroy");
    assert!(!proc_self::maps_has_start(base), "mapping at {base:#x} survived destroy");
    assert!(proc_self::smaps_rss(base).is_none());
}

#[test]
fn dropping_a_memfd_source_closes_it() {
    let _serial = test_support::serial();
    let name = format!("morsel-lifecycle-{}", std::process::id());
    let memfd_link = |links: &[(String, String)]| links.iter().any(|(_, t)| t.contains(&name));
    let fds_before = proc_self::fd_links().len();
    {
        let src = Source::memfd(&name).expect("memfd");
        assert!(memfd_link(&proc_self::fd_links()));
        let m = Morsel::create(&src, Order::Pmd, GRANULE_SIZE, GRANULE_SIZE).unwrap();
        common::fill(&m, 0, GRANULE_SIZE, 3);
        assert!(src.file_bytes() >= GRANULE_SIZE as u64);
        // SAFETY: no pointer into the morsel is used after this.
        unsafe { m.destroy(&src) }.unwrap();
        assert_eq!(src.file_bytes(), 0);
    }
    let links = proc_self::fd_links();
    assert_eq!(links.len(), fds_before);
    assert!(!memfd_link(&links), "memfd still open: {links:?}");
    assert_eq!(proc_self::maps_mentioning(&name), Vec::<String>::new());
}

/// The two ways a source gets an unnamed file — `O_TMPFILE` via `Source::tmpfile`, and the
/// `mkostemp` + `unlink` fallback for filesystems without it (no such filesystem is writable
/// here, so the fallback is called directly) — both leave the directory empty.
#[test]
fn temporary_files_never_show_in_their_directory() {
    let _serial = test_support::serial();
    for parent in [std::env::temp_dir(), var_tmp(), "/dev/shm".into()] {
        if !parent.is_dir() {
            continue;
        }
        let dir = TestDir::new(&parent, "morsel-test-tmpfile");
        let fds_before = proc_self::fd_links().len();

        let src = Source::tmpfile(dir.path()).expect("Source::tmpfile");
        assert!(src.used_tmpfile(), "{}", parent.display());
        assert!(dir.entries().is_empty(), "O_TMPFILE: {:?}", dir.entries());
        assert_eq!(fstat_size_nlink(src.fd().unwrap()), (0, 0));

        let mut template = format!("{}/morselkind.XXXXXX\0", dir.path().display()).into_bytes();
        let fd = sys::open_unlinked_temp(&mut template).expect("mkostemp fallback");
        assert!(!template.ends_with(b"XXXXXX\0"), "mkostemp did not fill in the template");
        assert!(dir.entries().is_empty(), "mkostemp fallback: {:?}", dir.entries());
        assert_eq!(fstat_size_nlink(std::os::fd::AsFd::as_fd(&fd)).1, 0, "not unlinked");
        // The unlinked file is still a usable file.
        sys::ftruncate(std::os::fd::AsFd::as_fd(&fd), 1 << 20).unwrap();
        assert_eq!(fstat_size_nlink(std::os::fd::AsFd::as_fd(&fd)).0, 1 << 20);

        assert_eq!(fd_links_into(dir.path()).len(), 2);
        drop(fd);
        drop(src);
        assert_eq!(proc_self::fd_links().len(), fds_before);
        assert_eq!(fd_links_into(dir.path()), []);
        assert!(dir.entries().is_empty());
    }
    // A missing directory is an error and creates nothing.
    let dir = TestDir::new(&std::env::temp_dir(), "morsel-test-missing");
    assert!(Source::tmpfile(&dir.path().join("no-such-dir")).is_err());
    assert!(dir.entries().is_empty());
}

#[test]
fn released_frames_are_reused() {
    let _serial = test_support::serial();
    let src = Source::memfd("morsel-frames").expect("memfd");
    let order = Order::Pmd;
    let a = Morsel::create(&src, order, order.size(), order.size()).unwrap();
    let b = Morsel::create(&src, order, order.size(), order.size()).unwrap();
    let (a_off, b_off) = (a.offset(), b.offset());
    assert_ne!(a_off, b_off);
    let size = fstat_size_nlink(src.fd().unwrap()).0;
    common::fill(&a, 0, order.size(), 9);
    // SAFETY: no pointer into `a` is used after this.
    unsafe { a.destroy(&src) }.unwrap();
    let c = Morsel::create(&src, order, order.size(), order.size()).unwrap();
    assert_eq!(c.offset(), a_off, "the released frame was not reused");
    assert_eq!(fstat_size_nlink(src.fd().unwrap()).0, size, "the file grew");
    assert!(common::all_zero(&c, 0, order.size()), "a reused frame kept old contents");
    // SAFETY: no pointer into the morsels is used after this.
    unsafe {
        c.destroy(&src).unwrap();
        b.destroy(&src).unwrap();
    }
}

#[test]
fn shared_mapping_sees_the_morsel() {
    let _serial = test_support::serial();
    let src = Source::memfd("morsel-shared").expect("memfd");
    // A first morsel so the shared one does not sit at file offset 0.
    let pad = Morsel::create(&src, Order::Pmd, GRANULE_SIZE, GRANULE_SIZE).unwrap();
    let m = Morsel::create(&src, Order::Pud, Order::Pud.size(), Order::Pud.size()).unwrap();
    assert_eq!(m.offset(), Order::Pud.size() as u64);
    let at = 300 * MIB + 12345;
    let pattern: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
    // SAFETY: `at + pattern.len()` lies inside the morsel's read-write mapping.
    unsafe { std::ptr::copy_nonoverlapping(pattern.as_ptr(), (m.base() + at) as *mut u8, pattern.len()) };

    let shared = SharedMapping::attach(src.fd().unwrap(), m.id()).expect("attach");
    assert_eq!(shared.len(), Order::Pud.size());
    assert_ne!(shared.addr(), m.base());
    assert!(proc_self::maps_has_start(shared.addr()));
    // SAFETY: the shared mapping is 1 GiB of readable memory, alive until `shared` is dropped.
    let seen = unsafe { common::read_raw(shared.addr() + at, pattern.len()) };
    assert_eq!(seen, pattern, "the second mapping does not see the morsel's bytes");
    // And the other way round.
    // SAFETY: inside the shared mapping, which is read-write.
    unsafe { std::ptr::write_volatile((shared.addr() + 5 * MIB) as *mut u8, 0xee) };
    assert!(common::all_equal(&m, 5 * MIB, 1, 0xee));

    let addr = shared.addr();
    drop(shared);
    assert!(!proc_self::maps_has_start(addr), "SharedMapping drop did not unmap");
    // SAFETY: no pointer into the morsels is used after this.
    unsafe {
        m.destroy(&src).unwrap();
        pad.destroy(&src).unwrap();
    }
}

#[test]
fn bind_sets_the_policy_the_kernel_reports() {
    let _serial = test_support::serial();
    let src = Source::anon();
    let m = Morsel::create(&src, Order::Pmd, GRANULE_SIZE, GRANULE_SIZE).unwrap();
    m.bind(sys::MPOL_BIND, &[1]).expect("mbind to node 0");
    common::touch_pages(&m, 0, PAGE_SIZE, 1);
    assert_eq!(sys::policy_of(m.base()).unwrap(), (sys::MPOL_BIND, 1));
    assert_eq!(sys::node_of(m.base()).unwrap(), 0);
    // SAFETY: no pointer into the morsel is used after this.
    unsafe { m.destroy(&src) }.unwrap();
}
