//! fork() and file-backed tiers.
//!
//! An FS_DAX tier's memory is a `MAP_SHARED` mapping of an unlinked file, so after fork the
//! child's heap and the parent's would be the same pages (memkind's issue #224): a child
//! writing a freed block, or the parent updating an object, corrupts the other. Shells fork
//! for every pipeline and Python's `os.fork` keeps running Python, so this breaks real
//! programs within seconds.
//!
//! So the child takes a private copy before anyone writes: in the child's fork handler, each
//! file tier gets a new unlinked file in the same directory, the data ranges of the old one
//! (SEEK_DATA/SEEK_HOLE: only what is in use, holes stay holes) are copied into it at the same
//! offsets, every mapping of the old file is replaced by the same range of the new one
//! (found in /proc/self/maps by device and inode, so nothing of morselkind's bookkeeping is
//! needed), and the new file takes the old one's descriptor number, so the kind's later
//! morsels come from it too. The parent waits in its own fork handler until the child is
//! done (a pipe), so that it cannot change the pages being copied. Memory stays on the file
//! tier in both processes. vfork and posix_spawn run no fork handlers and need none: the
//! child execs.
//!
//! A child that cannot make its copy (no space) prints why and exits with status 127 rather
//! than run on memory it shares with its parent.

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use morselkind::Kind;

/// The file tiers: their kind and directory, set once at start-up.
pub struct FileTier {
    /// The tier's kind.
    pub kind: Kind,
    /// The directory of its file.
    pub dir: PathBuf,
}

static TIERS: std::sync::OnceLock<Vec<FileTier>> = std::sync::OnceLock::new();
static LOCK: AtomicBool = AtomicBool::new(false);
static PIPE_READ: AtomicI32 = AtomicI32::new(-1);
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

/// Registers the fork handlers for these file tiers. The child's handler also zeroes the
/// report's totals: a forked child reports only what it allocates itself.
pub fn install(tiers: Vec<FileTier>) {
    if TIERS.set(tiers).is_err() {
        return;
    }
    // SAFETY: plain functions without state; registering may allocate (the caller is inside
    // the library, so glibc serves it).
    unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
}

fn has_file_tiers() -> bool {
    TIERS.get().is_some_and(|t| !t.is_empty())
}

extern "C" fn prepare() {
    if !has_file_tiers() {
        return;
    }
    while LOCK.swap(true, Ordering::Acquire) {
        std::hint::spin_loop();
    }
    let mut fds = [-1; 2];
    // SAFETY: pipe2 writes two descriptors into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == 0 {
        PIPE_READ.store(fds[0], Ordering::Relaxed);
        PIPE_WRITE.store(fds[1], Ordering::Relaxed);
    }
}

extern "C" fn parent() {
    if !has_file_tiers() {
        return;
    }
    let (r, w) = (PIPE_READ.swap(-1, Ordering::Relaxed), PIPE_WRITE.swap(-1, Ordering::Relaxed));
    if w >= 0 {
        // SAFETY: our own descriptors. read() returns 0 once the child closed its write end
        // (done copying, exited or exec'd), or 1 if it wrote; EINTR retries.
        unsafe {
            libc::close(w);
            let mut b = 0u8;
            while libc::read(r, (&mut b as *mut u8).cast(), 1) < 0 && *libc::__errno_location() == libc::EINTR
            {
            }
            libc::close(r);
        }
    }
    LOCK.store(false, Ordering::Release);
}

extern "C" fn child() {
    memtier::counters::reset_totals();
    if !has_file_tiers() {
        return;
    }
    let (r, w) = (PIPE_READ.swap(-1, Ordering::Relaxed), PIPE_WRITE.swap(-1, Ordering::Relaxed));
    if let Some(tiers) = TIERS.get() {
        for t in tiers {
            if let Err(e) = std::panic::catch_unwind(|| privatize(t)).unwrap_or(Err("panicked")) {
                crate::write_stderr(&format!(
                    "libmorseltier: after fork, cannot copy the {} tier for the child: {e}\n",
                    t.dir.display()
                ));
                // SAFETY: ends the child at once; it must not run on shared memory.
                unsafe { libc::_exit(127) };
            }
        }
    }
    if w >= 0 {
        // SAFETY: the child's copies of our descriptors; closing the write end releases the
        // parent.
        unsafe {
            libc::close(r);
            libc::close(w);
        }
    }
    LOCK.store(false, Ordering::Release);
}

fn errno() -> i32 {
    // SAFETY: the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// A new unlinked file in `dir` (or a memfd where the directory refuses one).
fn new_file(dir: &std::path::Path) -> Result<i32, &'static str> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).map_err(|_| "bad directory name")?;
    // SAFETY: a NUL-terminated path; O_TMPFILE creates an unnamed file.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC, 0o600) };
    if fd >= 0 {
        return Ok(fd);
    }
    // SAFETY: a static NUL-terminated name.
    let fd = unsafe { libc::memfd_create(c"morseltier-fork".as_ptr(), libc::MFD_CLOEXEC) };
    if fd >= 0 {
        Ok(fd)
    } else {
        Err("cannot create a file")
    }
}

/// One mapping of the tier's file: [start, end) at file offset `offset`, with its rights.
struct Mapping {
    start: usize,
    end: usize,
    offset: u64,
    prot: i32,
}

/// The mappings of the file with device `dev` and inode `ino`, from /proc/self/maps.
fn mappings_of(dev: libc::dev_t, ino: u64) -> Result<Vec<Mapping>, &'static str> {
    let maps = std::fs::read("/proc/self/maps").map_err(|_| "cannot read /proc/self/maps")?;
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let mut out = Vec::new();
    for line in maps.split(|&b| b == b'\n') {
        let Ok(line) = std::str::from_utf8(line) else { continue };
        let mut f = line.split_ascii_whitespace();
        let (Some(range), Some(perms), Some(off), Some(devs), Some(inode)) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        let Some((maj, min)) = devs.split_once(':') else { continue };
        let (Ok(maj), Ok(min), Ok(inode)) =
            (u32::from_str_radix(maj, 16), u32::from_str_radix(min, 16), inode.parse::<u64>())
        else {
            continue;
        };
        if maj != major || min != minor || inode != ino || !perms.ends_with('s') {
            continue;
        }
        let Some((s, e)) = range.split_once('-') else { continue };
        let (Ok(start), Ok(end), Ok(offset)) =
            (usize::from_str_radix(s, 16), usize::from_str_radix(e, 16), u64::from_str_radix(off, 16))
        else {
            continue;
        };
        let b = perms.as_bytes();
        let prot =
            if b[0] == b'r' { libc::PROT_READ } else { 0 } | if b[1] == b'w' { libc::PROT_WRITE } else { 0 };
        out.push(Mapping { start, end, offset, prot });
    }
    Ok(out)
}

/// Copies the data ranges of `[m.offset, m.offset + len)` from the mapping into `to`.
fn copy_data(from: i32, to: i32, m: &Mapping) -> Result<(), &'static str> {
    let end = m.offset + (m.end - m.start) as u64;
    let mut pos = m.offset;
    while pos < end {
        // SAFETY: lseek on our own descriptor.
        let data = unsafe { libc::lseek(from, pos as libc::off_t, libc::SEEK_DATA) };
        if data < 0 {
            if errno() == libc::ENXIO {
                break; // No data past `pos`.
            }
            return Err("SEEK_DATA failed");
        }
        let data = data as u64;
        if data >= end {
            break;
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(from, data as libc::off_t, libc::SEEK_HOLE) };
        let hole = if hole < 0 { end } else { (hole as u64).min(end) };
        let mut at = data;
        while at < hole {
            let src = m.start + (at - m.offset) as usize;
            let len = (hole - at) as usize;
            // SAFETY: `src..src+len` lies inside a readable mapping of ours.
            let n = unsafe { libc::pwrite(to, src as *const libc::c_void, len, at as libc::off_t) };
            if n < 0 {
                if errno() == libc::EINTR {
                    continue;
                }
                return Err(if errno() == libc::ENOSPC {
                    "no space left on the device"
                } else {
                    "write failed"
                });
            }
            at += n as u64;
        }
        pos = hole;
    }
    Ok(())
}

/// Gives the child its own copy of one file tier.
fn privatize(t: &FileTier) -> Result<(), &'static str> {
    let Some(old) = t.kind.source().and_then(|s| s.fd()).map(|fd| fd.as_raw_fd()) else { return Ok(()) };
    // SAFETY: fstat fills the struct for our own descriptor.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::fstat(old, &mut st) } != 0 {
        return Err("fstat failed");
    }
    let new = new_file(&t.dir)?;
    let result = (|| {
        // SAFETY: sizing our own new file.
        if unsafe { libc::ftruncate(new, st.st_size) } != 0 {
            return Err("ftruncate failed");
        }
        for m in mappings_of(st.st_dev, st.st_ino)? {
            copy_data(old, new, &m)?;
            // SAFETY: replaces exactly one existing mapping of ours with the same range of the
            // new file, which now holds the same bytes.
            let p = unsafe {
                libc::mmap(
                    m.start as *mut libc::c_void,
                    m.end - m.start,
                    m.prot,
                    libc::MAP_SHARED | libc::MAP_FIXED,
                    new,
                    m.offset as libc::off_t,
                )
            };
            if p == libc::MAP_FAILED {
                return Err("mmap of the copy failed");
            }
            // SAFETY: advice on our own mapping; contents unchanged.
            unsafe { libc::madvise(p, m.end - m.start, libc::MADV_RANDOM) };
        }
        // The new file takes the old one's number: the kind's next morsels come from it.
        // SAFETY: both descriptors are ours.
        if unsafe { libc::dup3(new, old, libc::O_CLOEXEC) } < 0 {
            return Err("dup3 failed");
        }
        Ok(())
    })();
    // SAFETY: our own descriptor (its file lives on through `old` and the mappings).
    unsafe { libc::close(new) };
    result
}
