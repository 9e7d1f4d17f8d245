//! Sources of memory for morsels: anonymous memory, an unlinked temporary file in a directory
//! (a PMEM or FS-DAX kind), or a memfd (shareable with other processes through its fd).
//!
//! A file source hands out *frames*: file ranges whose offset is a multiple of the morsel size,
//! so that a DAX filesystem can map them with PMD or PUD entries. The file is sparse; space is
//! allocated on commit (`fallocate`) and given back on purge (`FALLOC_FL_PUNCH_HOLE`).

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};

use crate::lock::Lock;
use crate::order::Order;
use crate::sys::{self, Errno, SysResult};

/// Where a source's memory lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backing {
    /// Private anonymous memory.
    Anon,
    /// An unlinked file in a directory.
    File,
    /// A memfd.
    Memfd,
    /// Private anonymous memory on reserved 2 MiB hugetlbfs pages (`MAP_HUGETLB`). Pages
    /// exist only once populated; a populate that finds the pool empty fails cleanly.
    Hugetlb,
}

const FREE_SLOTS: usize = 32;

/// Free file frames, per order: released frames are reused before the file grows.
pub(crate) struct Frames {
    next: u64,
    free: [[u64; FREE_SLOTS]; 4],
    nfree: [usize; 4],
}

/// A source of morsels.
pub struct Source {
    backing: Backing,
    pub(crate) fd: Option<OwnedFd>,
    index: u16,
    pub(crate) frames: Lock<Frames>,
    can_punch: AtomicBool,
    /// Cleared once `fallocate` answers EOPNOTSUPP: commits then write zeroes instead.
    can_fallocate: AtomicBool,
    used_tmpfile: bool,
    /// The filesystem's device (st_dev) for file sources: kinds on one filesystem give space
    /// back to each other when it is full.
    /// (0: none; it changes when a forked child moves to its own copy, maybe in a memfd).
    dev: AtomicU64,
    /// Bytes a commit leaves free on the filesystem (0: no need to; see [`fs_margin`]).
    margin: AtomicU64,
    /// What `check_room` last learnt: free bytes, when (`sys::coarse_ms`), and bytes
    /// committed since.
    room: AtomicU64,
    room_at: AtomicU64,
    room_taken: AtomicU64,
    /// The directory of a file source: a forked child makes its own copy there.
    pub(crate) dir: Option<CString>,
}

static NEXT_INDEX: AtomicU16 = AtomicU16::new(0);

fn next_index() -> u16 {
    NEXT_INDEX.fetch_add(1, Ordering::Relaxed) % crate::id::MAX_SOURCES
}

fn path_cstring(path: &Path) -> SysResult<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno(libc::EINVAL))
}

impl Source {
    fn with(backing: Backing, fd: Option<OwnedFd>, used_tmpfile: bool) -> Source {
        Source {
            backing,
            fd,
            index: next_index(),
            frames: Lock::new(Frames { next: 0, free: [[0; FREE_SLOTS]; 4], nfree: [0; 4] }),
            can_punch: AtomicBool::new(true),
            can_fallocate: AtomicBool::new(true),
            used_tmpfile,
            dev: AtomicU64::new(0),
            margin: AtomicU64::new(0),
            room: AtomicU64::new(0),
            room_at: AtomicU64::new(0),
            room_taken: AtomicU64::new(0),
            dir: None,
        }
    }

    /// Private anonymous memory.
    pub fn anon() -> Source {
        Source::with(Backing::Anon, None, false)
    }

    /// Private anonymous memory on reserved 2 MiB hugetlbfs pages.
    pub fn hugetlb() -> Source {
        Source::with(Backing::Hugetlb, None, false)
    }

    /// Whether the memory is private anonymous memory (of either page size).
    pub fn is_anonymous(&self) -> bool {
        matches!(self.backing, Backing::Anon | Backing::Hugetlb)
    }

    /// An unnamed file in `dir`: `O_TMPFILE`, or where the filesystem lacks it, a temporary file
    /// unlinked at once. Either way nothing is left in the directory, even after a crash
    /// (O_TMPFILE) or from the moment creation returns (the fallback).
    pub fn tmpfile(dir: &Path) -> SysResult<Source> {
        let cdir = path_cstring(dir)?;
        let mut source = match sys::open_tmpfile(&cdir) {
            Ok(fd) => Source::with(Backing::File, Some(fd), true),
            Err(e) if matches!(e.0, libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL) => {
                let mut template = dir.as_os_str().as_bytes().to_vec();
                template.extend_from_slice(b"/morselkind.XXXXXX\0");
                let fd = sys::open_unlinked_temp(&mut template)?;
                Source::with(Backing::File, Some(fd), false)
            }
            Err(e) => return Err(e),
        };
        source.dir = Some(cdir);
        source.learn_filesystem();
        Ok(source)
    }

    /// The device of a file source's filesystem (`None` for other sources).
    pub fn dev(&self) -> Option<u64> {
        Some(self.dev.load(Ordering::Relaxed)).filter(|&d| d != 0)
    }

    /// Reads the device and margin of the filesystem the file is on now.
    pub(crate) fn learn_filesystem(&self) {
        if let Some(fd) = self.fd() {
            self.dev.store(sys::device_of(fd).unwrap_or(0), Ordering::Relaxed);
            let room = sys::fs_room(fd);
            self.margin.store(room.map_or(2 << 20, margin_of), Ordering::Relaxed);
            self.room.store(room.map_or(0, |r| r.free), Ordering::Relaxed);
            self.room_taken.store(0, Ordering::Relaxed);
            self.room_at.store(if room.is_ok() { sys::coarse_ms() } else { 0 }, Ordering::Relaxed);
        }
    }

    /// ENOSPC where allocating `len` more bytes would leave less than the margin free. Asks
    /// the filesystem (`fstatfs`) only when what it last said, less what this source took
    /// since, leaves less than `ROOM_SLACK` to spare, or is older than `ROOM_TTL_MS` (others
    /// take space too): a roomy filesystem costs a commit no system call.
    fn check_room(&self, fd: BorrowedFd<'_>, len: u64) -> SysResult<()> {
        const ROOM_SLACK: u64 = 256 << 20;
        const ROOM_TTL_MS: u64 = 100;
        let margin = self.margin.load(Ordering::Relaxed);
        if margin == 0 {
            return Ok(());
        }
        let need = len.saturating_add(margin);
        let now = sys::coarse_ms();
        let taken = self.room_taken.fetch_add(len, Ordering::Relaxed) + len;
        let known = self.room.load(Ordering::Relaxed).saturating_sub(taken);
        let fresh = now.wrapping_sub(self.room_at.load(Ordering::Relaxed)) < ROOM_TTL_MS;
        if fresh && known >= need.saturating_add(ROOM_SLACK) {
            return Ok(());
        }
        let free = sys::fs_room(fd).map_or(u64::MAX, |r| r.free);
        self.room.store(free, Ordering::Relaxed);
        self.room_taken.store(0, Ordering::Relaxed);
        self.room_at.store(now, Ordering::Relaxed);
        if free < need {
            return Err(Errno(libc::ENOSPC));
        }
        Ok(())
    }

    /// The directory of a file source (`None` for other sources).
    pub fn dir(&self) -> Option<&CStr> {
        self.dir.as_deref()
    }

    /// A memfd named `name` (shown in /proc/PID/maps and fd listings).
    pub fn memfd(name: &str) -> SysResult<Source> {
        let cname = CString::new(name).map_err(|_| Errno(libc::EINVAL))?;
        Ok(Source::with(Backing::Memfd, Some(sys::memfd_create(&cname)?), false))
    }

    /// A memfd named `name` that can be sealed: for memory shared with other processes,
    /// which [`Source::seal_shrink`] then protects from being cut short.
    pub fn shareable_memfd(name: &str) -> SysResult<Source> {
        let cname = CString::new(name).map_err(|_| Errno(libc::EINVAL))?;
        Ok(Source::with(Backing::Memfd, Some(sys::memfd_create_sealable(&cname)?), false))
    }

    /// Seals a memfd against shrinking, so that no process mapping it can ever read past its
    /// end (SIGBUS); other sources are left as they are.
    pub fn seal_shrink(&self) -> SysResult<()> {
        match (self.backing, self.fd()) {
            (Backing::Memfd, Some(fd)) => sys::seal_shrink(fd),
            _ => Ok(()),
        }
    }

    /// Where the memory lives.
    pub fn backing(&self) -> Backing {
        self.backing
    }

    /// The source's index, carried in every `MorselId` it issues.
    pub fn index(&self) -> u16 {
        self.index
    }

    /// The file behind the source, if any.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.as_ref().map(|f| f.as_fd())
    }

    /// Whether the file came from `O_TMPFILE` (false: the unlink-at-once fallback).
    pub fn used_tmpfile(&self) -> bool {
        self.used_tmpfile
    }

    /// Whether the filesystem gives space back on purge (it may refuse `FALLOC_FL_PUNCH_HOLE`).
    pub fn can_punch(&self) -> bool {
        self.can_punch.load(Ordering::Relaxed)
    }

    /// Blocks in use by the file, in bytes; 0 for anonymous memory.
    pub fn file_bytes(&self) -> u64 {
        self.fd().and_then(|fd| sys::allocated_bytes(fd).ok()).unwrap_or(0)
    }

    /// Takes a frame of `len` bytes (a multiple of the order's size) at an offset aligned to the
    /// order, growing the sparse file when no released frame fits. EFBIG where the file would
    /// grow past RLIMIT_FSIZE (checked first: the kernel answers that with SIGXFSZ).
    pub fn take_frame(&self, order: Order, len: usize) -> SysResult<u64> {
        let Some(fd) = self.fd() else { return Ok(0) };
        let mut frames = self.frames.lock();
        let o = order as usize;
        if len == order.size() && frames.nfree[o] > 0 {
            frames.nfree[o] -= 1;
            return Ok(frames.free[o][frames.nfree[o]]);
        }
        let align = order.size() as u64;
        let offset = frames.next.checked_add(align - 1).ok_or(Errno(libc::EFBIG))? & !(align - 1);
        let end = offset.checked_add(len as u64).ok_or(Errno(libc::EFBIG))?;
        if end > sys::file_size_limit() {
            return Err(Errno(libc::EFBIG));
        }
        sys::ftruncate(fd, end)?;
        frames.next = end;
        Ok(offset)
    }

    /// Returns a frame: its space goes back to the filesystem, and a whole-order frame is kept
    /// for reuse.
    /// Closes the file (nothing left mapped from it, nothing to be): later calls find no file
    /// and do nothing, as for an anonymous source.
    pub fn close(&mut self) {
        self.fd = None;
    }

    pub fn release_frame(&self, order: Order, offset: u64, len: usize) {
        if self.fd.is_none() {
            return;
        }
        self.punch(offset, len as u64);
        let mut frames = self.frames.lock();
        let o = order as usize;
        if len == order.size() && frames.nfree[o] < FREE_SLOTS {
            let n = frames.nfree[o];
            frames.free[o][n] = offset;
            frames.nfree[o] += 1;
        }
    }

    /// Allocates file space for `[offset, offset+len)` so that first touch neither allocates
    /// blocks in the fault path nor hits SIGBUS on a full filesystem: ENOSPC, EDQUOT come back
    /// here, never as a signal. Where the filesystem lacks `fallocate`, zeroes are written
    /// instead (the range holds nothing in use), which allocates the blocks just the same.
    pub fn commit(&self, offset: u64, len: u64) -> SysResult<()> {
        let Some(fd) = self.fd() else { return Ok(()) };
        self.check_room(fd, len)?;
        if self.can_fallocate.load(Ordering::Relaxed) {
            match sys::fallocate(fd, 0, offset, len) {
                Err(Errno(libc::EOPNOTSUPP)) => self.can_fallocate.store(false, Ordering::Relaxed),
                r => return r,
            }
        }
        sys::write_zeroes(fd, offset, len)
    }

    /// Whether the filesystem reserves blocks for data written through the page cache without
    /// allocating them (a disk filesystem: ext4 and XFS delay allocation), so that
    /// [`Source::commit_by_writing`] is the cheaper commit for a small kind. tmpfs allocates its
    /// pages either way, and `fallocate` does it without a copy.
    pub fn delays_allocation(&self) -> bool {
        self.fd.is_some() && self.margin.load(Ordering::Relaxed) != 0
    }

    /// [`Source::commit`] by writing zeroes over exactly `[offset, offset+len)`, which the
    /// caller is committing and nobody uses yet (never more: a write would destroy what others
    /// hold). On ext4 and XFS the write reserves the blocks (delalloc) without making extents,
    /// so a short-lived file frees none at close, where `fallocate` makes extents and freeing
    /// them costs journal work and a discard: 130 µs against 390 µs per 256 KiB of a
    /// short-lived file on this machine's ext4. The page cache pages written are the ones first
    /// touch would have made. No room answers ENOSPC or EDQUOT, as `fallocate` does.
    pub fn commit_by_writing(&self, offset: u64, len: u64) -> SysResult<()> {
        let Some(fd) = self.fd() else { return Ok(()) };
        self.check_room(fd, len)?;
        sys::write_zeroes(fd, offset, len)
    }

    /// Gives the file space of `[offset, offset+len)` back. Returns false where the filesystem
    /// cannot punch holes; that is remembered and not retried.
    pub fn punch(&self, offset: u64, len: u64) -> bool {
        let Some(fd) = self.fd() else { return false };
        if !self.can_punch() {
            return false;
        }
        match sys::fallocate(fd, libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE, offset, len) {
            Ok(()) => true,
            Err(Errno(libc::EOPNOTSUPP)) => {
                self.can_punch.store(false, Ordering::Relaxed);
                false
            }
            Err(_) => false,
        }
    }
}

/// Bytes of a file's filesystem that commits leave free, so that writing blocks that were
/// allocated but never written can never fail. On ext4 (and XFS, btrfs) `fallocate` makes
/// *unwritten* extents, and the first write to one converts it, which may split the extent
/// tree and take a metadata block; a write fault that finds the filesystem full then gets
/// SIGBUS (seen on ext4 a few pages after fallocate first answered ENOSPC). The margin:
/// - ext4's own reserved pool, counted as free by statfs but never given to data or to a
///   conversion: 2% of the filesystem, at most 4096 blocks (`reserved_clusters`);
/// - then 1/1024 of the filesystem (at least 1 MiB) for the conversions themselves: one 4 KiB
///   extent-tree block holds 340 extents, and extents are at least a page.
///
/// tmpfs (and memfds) and ramfs allocate real pages: no margin.
pub(crate) fn fs_margin(fd: BorrowedFd<'_>) -> u64 {
    sys::fs_room(fd).map_or(2 << 20, margin_of)
}

fn margin_of(r: sys::FsRoom) -> u64 {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    const RAMFS_MAGIC: i64 = 0x8584_58f6;
    if r.kind == TMPFS_MAGIC || r.kind == RAMFS_MAGIC {
        0
    } else {
        (r.total / 50).min(4096 * r.block) + (r.total / 1024).max(1 << 20)
    }
}

/// ENOSPC where allocating `len` more bytes would leave less than `margin` free, asking the
/// filesystem now (a forked child's copy, made once; commits use `Source::check_room`).
pub(crate) fn check_room(fd: BorrowedFd<'_>, margin: u64, len: u64) -> SysResult<()> {
    if margin == 0 {
        return Ok(());
    }
    match sys::fs_room(fd) {
        Ok(r) if r.free < len.saturating_add(margin) => Err(Errno(libc::ENOSPC)),
        _ => Ok(()),
    }
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source").field("backing", &self.backing).field("index", &self.index).finish()
    }
}

impl Source {
    /// The capacity of the filesystem holding the file (0 for anonymous memory).
    pub fn fs_capacity(&self) -> u64 {
        self.fd().and_then(|fd| sys::fs_capacity(fd).ok()).unwrap_or(0)
    }
}
