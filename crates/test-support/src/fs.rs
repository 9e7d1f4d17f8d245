//! Scratch directories, and what the filesystem says about a directory or a file.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// /var/tmp if it exists (a real disk filesystem), else the system temp directory.
pub fn var_tmp() -> PathBuf {
    let p = Path::new("/var/tmp");
    if p.is_dir() {
        p.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// `parent/NAME-PID`, made if missing. The test owns it: it checks what is left there and
/// removes it itself (a leftover is a finding, not something to clean up silently).
pub fn scratch_dir(parent: &Path, name: &str) -> PathBuf {
    let d = parent.join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
    d
}

/// A fresh, empty directory `parent/PREFIX-PID-N`, removed (with anything left in it) on drop.
pub struct TestDir(PathBuf);

impl TestDir {
    pub fn new(parent: &Path, prefix: &str) -> TestDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = parent.join(format!("{prefix}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TestDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The names of the directory's entries.
    pub fn entries(&self) -> Vec<String> {
        entries(&self.0).iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The paths of a directory's entries.
pub fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect()
}

/// Whether `dir` exists, can be read and has no entry.
pub fn is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(false)
}

/// Free bytes (`f_bfree * f_frsize` of statvfs) of the filesystem holding `path`.
pub fn free_bytes(path: &Path) -> usize {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: an all-zero statvfs is a valid out-buffer.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a valid out-pointer.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    assert_eq!(rc, 0, "statvfs {}: {}", path.display(), std::io::Error::last_os_error());
    st.f_bfree as usize * st.f_frsize as usize
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
