//! Helpers shared by the integration tests: serialisation of tests that read process-wide
//! state, scratch directories, raw memory access to a morsel, and /proc readers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use morsel::{Morsel, PAGE_SIZE};

static SERIAL: Mutex<()> = Mutex::new(());

/// Tests that read process-wide state (fault counters, /proc/self/{maps,smaps,fd}) hold this
/// for their whole run, so the other tests of the same binary cannot disturb the numbers.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// /var/tmp if it exists (a real disk filesystem), else the system temp directory.
pub fn var_tmp() -> PathBuf {
    let p = Path::new("/var/tmp");
    if p.is_dir() {
        p.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// A fresh, empty directory, removed (with anything left in it) on drop.
pub struct TestDir(PathBuf);

impl TestDir {
    pub fn new(parent: &Path, tag: &str) -> TestDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = parent.join(format!("morsel-test-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TestDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The names of the directory's entries.
    pub fn entries(&self) -> Vec<String> {
        std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn check_range(m: &Morsel, from: usize, len: usize) -> usize {
    assert!(from <= m.len() && len <= m.len() - from, "range {from:#x}+{len:#x} outside morsel");
    m.base() + from
}

/// Writes `byte` over `[from, from+len)` of the morsel (offsets relative to its base).
pub fn fill(m: &Morsel, from: usize, len: usize, byte: u8) {
    let addr = check_range(m, from, len);
    // SAFETY: the range lies inside the morsel's read-write mapping, which lives while `m` is
    // borrowed; nothing else in the test holds a reference into it.
    unsafe { std::ptr::write_bytes(addr as *mut u8, byte, len) };
}

/// Writes `byte` to the first byte of every 4 KiB page of `[from, from+len)`.
pub fn touch_pages(m: &Morsel, from: usize, len: usize, byte: u8) {
    let addr = check_range(m, from, len);
    for page in (addr..addr + len).step_by(PAGE_SIZE) {
        // SAFETY: `page` lies inside the morsel's read-write mapping (checked above).
        unsafe { std::ptr::write_volatile(page as *mut u8, byte) };
    }
}

/// Reads `len` bytes at `addr`.
///
/// # Safety
/// `[addr, addr+len)` must be readable mapped memory for the duration of the call.
pub unsafe fn read_raw(addr: usize, len: usize) -> Vec<u8> {
    // SAFETY: the caller vouches that the range is readable.
    unsafe { std::slice::from_raw_parts(addr as *const u8, len) }.to_vec()
}

/// Whether every byte of `[from, from+len)` of the morsel equals `byte`.
pub fn all_equal(m: &Morsel, from: usize, len: usize, byte: u8) -> bool {
    let addr = check_range(m, from, len);
    // SAFETY: the range lies inside the morsel's mapping, readable while `m` is borrowed.
    let bytes = unsafe { std::slice::from_raw_parts(addr as *const u8, len) };
    bytes.iter().all(|&b| b == byte)
}

/// Whether every byte of `[from, from+len)` of the morsel is zero.
pub fn all_zero(m: &Morsel, from: usize, len: usize) -> bool {
    all_equal(m, from, len, 0)
}

/// The `Rss:` of the /proc/self/smaps block that starts at `start`, in bytes, with the block's
/// end; `None` if no mapping starts there.
pub fn smaps_rss(start: usize) -> Option<(usize, u64)> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let mut in_block = None;
    for line in smaps.lines() {
        if let Some((range, _)) = line.split_once(' ') {
            if let Some((s, e)) = range.split_once('-') {
                if let (Ok(s), Ok(e)) = (usize::from_str_radix(s, 16), usize::from_str_radix(e, 16)) {
                    in_block = (s == start).then_some(e);
                    continue;
                }
            }
        }
        if let (Some(end), Some(rest)) = (in_block, line.strip_prefix("Rss:")) {
            let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().unwrap();
            return Some((end, kb * 1024));
        }
    }
    None
}

/// Whether a line of /proc/self/maps starts at `addr`.
pub fn maps_has_start(addr: usize) -> bool {
    let prefix = format!("{addr:08x}-");
    std::fs::read_to_string("/proc/self/maps").unwrap().lines().any(|l| l.starts_with(&prefix))
}

/// The lines of /proc/self/maps that mention `needle`.
pub fn maps_mentioning(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// (fd, link target) for every entry of /proc/self/fd (including the one reading it).
pub fn fd_links() -> Vec<(String, String)> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            Some((e.file_name().to_string_lossy().into_owned(), target.to_string_lossy().into_owned()))
        })
        .collect()
}

/// `fstat` of an fd: (st_size, st_nlink).
pub fn fstat_size_nlink(fd: std::os::fd::BorrowedFd<'_>) -> (u64, u64) {
    use std::os::fd::AsRawFd;
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat fills the struct on success, which is the only case we read it.
    let rc = unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) };
    assert_eq!(rc, 0, "fstat: {}", std::io::Error::last_os_error());
    // SAFETY: fstat succeeded, so the struct is initialised.
    let st = unsafe { st.assume_init() };
    // st_nlink is narrower than u64 on some targets.
    #[allow(clippy::unnecessary_cast)]
    let nlink = st.st_nlink as u64;
    (st.st_size as u64, nlink)
}
