//! The only module that calls mmap, munmap, mprotect, madvise, mbind, fallocate, memfd_create
//! and the file calls the sources need. Each wrapper returns `Result<_, Errno>` and never panics.
//!
//! # Safety
//! The address-space calls are `unsafe fn`: the caller promises that the range is one it owns
//! (a reservation made by this crate), so that replacing or dropping its pages cannot pull
//! memory out from under anybody else.
//!
//! # References
//! mmap(2), munmap(2), mprotect(2), madvise(2), mbind(2), fallocate(2), memfd_create(2), open(2).

use std::ffi::CStr;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI64, Ordering};

/// An errno value from a failed system call.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// The calling thread's current errno.
    pub fn last() -> Errno {
        Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Errno({}: {})", self.0, std::io::Error::from_raw_os_error(self.0))
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", std::io::Error::from_raw_os_error(self.0))
    }
}

impl std::error::Error for Errno {}

/// The result of a system call wrapper.
pub type SysResult<T> = Result<T, Errno>;

fn check(rc: libc::c_int) -> SysResult<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}

/// Reserves `len` bytes of address space aligned to `align` (a power of two ≥ 4 KiB):
/// `PROT_NONE`, `MAP_NORESERVE`, so it costs no memory. Returns the aligned start.
///
/// Never needs twice the size for alignment where it can help it (RLIMIT_AS counts every
/// reservation): it maps `len` bytes where the kernel likes, keeps them if aligned, else asks for
/// the aligned address just below and then just above (`MAP_FIXED_NOREPLACE`, never replacing
/// anything). Only when both are taken does it map `len + align` and trim.
pub fn reserve(len: usize, align: usize) -> SysResult<usize> {
    if len == 0 || !align.is_power_of_two() {
        return Err(Errno(libc::EINVAL));
    }
    let raw = map_none(0, len, 0)?;
    if raw % align == 0 {
        return Ok(raw);
    }
    // SAFETY: the mapping was made just above and is not yet shared.
    unsafe { unmap(raw, len)? };
    let below = raw & !(align - 1);
    for hint in [below, below.wrapping_add(align)] {
        if let Ok(at) = map_none(hint, len, libc::MAP_FIXED_NOREPLACE) {
            if at == hint {
                return Ok(at);
            }
            // An old kernel took the flag as a mere hint and mapped elsewhere.
            // SAFETY: that mapping is ours and unused.
            unsafe { unmap(at, len)? };
        }
    }
    let total = len.checked_add(align - crate::PAGE_SIZE).ok_or(Errno(libc::ENOMEM))?;
    let raw = map_none(0, total, 0)?;
    let start = (raw + align - 1) & !(align - 1);
    let head = start - raw;
    let tail = total - head - len;
    // SAFETY: both trims lie inside the mapping made just above, outside [start, start+len).
    unsafe {
        if head > 0 {
            unmap(raw, head)?;
        }
        if tail > 0 {
            unmap(start + len, tail)?;
        }
    }
    Ok(start)
}

/// A fresh read-write anonymous mapping of `len` bytes (zero pages, `MAP_NORESERVE`), at an
/// address the kernel chooses.
pub fn map_anon(len: usize) -> SysResult<usize> {
    // SAFETY: without MAP_FIXED the kernel never replaces an existing mapping.
    let raw = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        Err(Errno::last())
    } else {
        Ok(raw as usize)
    }
}

/// One `PROT_NONE`, `MAP_NORESERVE` anonymous mapping of `len` bytes, at `hint` with `flags`.
fn map_none(hint: usize, len: usize, flags: libc::c_int) -> SysResult<usize> {
    // SAFETY: without MAP_FIXED the kernel never replaces an existing mapping.
    let raw = unsafe {
        libc::mmap(
            hint as *mut libc::c_void,
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | flags,
            -1,
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        Err(Errno::last())
    } else {
        Ok(raw as usize)
    }
}

/// Maps anonymous private read-write memory over `[addr, addr+len)`, lazily committed.
///
/// # Safety
/// The range must be a reservation owned by the caller.
pub unsafe fn map_anon_fixed(addr: usize, len: usize) -> SysResult<()> {
    // SAFETY: the caller owns the range; MAP_FIXED replaces only it.
    let raw = unsafe {
        libc::mmap(
            addr as *mut libc::c_void,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
            -1,
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// Maps anonymous private read-write memory on 2 MiB hugetlbfs pages over `[addr, addr+len)`.
/// `MAP_NORESERVE`: no pages are taken until populated.
///
/// # Safety
/// The range must be a reservation owned by the caller, aligned to 2 MiB.
pub unsafe fn map_hugetlb_fixed(addr: usize, len: usize) -> SysResult<()> {
    const MAP_HUGE_2MB: libc::c_int = 21 << libc::MAP_HUGE_SHIFT;
    // SAFETY: the caller owns the range; MAP_FIXED replaces only it.
    let raw = unsafe {
        libc::mmap(
            addr as *mut libc::c_void,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE
                | libc::MAP_ANONYMOUS
                | libc::MAP_NORESERVE
                | libc::MAP_FIXED
                | libc::MAP_HUGETLB
                | MAP_HUGE_2MB,
            -1,
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// Maps `len` bytes of `fd` at `offset` shared read-write over `[addr, addr+len)`.
///
/// # Safety
/// The range must be a reservation owned by the caller.
pub unsafe fn map_file_fixed(addr: usize, len: usize, fd: BorrowedFd<'_>, offset: u64) -> SysResult<()> {
    // SAFETY: forwarded from the caller.
    unsafe { map_file_at(addr, len, fd, offset, libc::MAP_SHARED) }
}

/// `mmap(MAP_FIXED)` of `fd` at `offset` over `[addr, addr+len)`, read-write, `share` being
/// `MAP_SHARED` or `MAP_PRIVATE`.
///
/// # Safety
/// The caller must own `[addr, addr+len)`; whatever was mapped there is replaced.
unsafe fn map_file_at(
    addr: usize,
    len: usize,
    fd: BorrowedFd<'_>,
    offset: u64,
    share: libc::c_int,
) -> SysResult<()> {
    // SAFETY: the caller owns the range; MAP_FIXED replaces only it.
    let raw = unsafe {
        libc::mmap(
            addr as *mut libc::c_void,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            share | libc::MAP_FIXED,
            fd.as_raw_fd(),
            offset as libc::off_t,
        )
    };
    if raw == libc::MAP_FAILED {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// Maps `len` bytes of `fd` at `offset` shared read-write wherever the kernel likes
/// (used to attach a morsel shared from another process).
pub fn map_file_anywhere(len: usize, fd: BorrowedFd<'_>, offset: u64) -> SysResult<usize> {
    // SAFETY: a new mapping at a kernel-chosen address replaces nothing.
    let raw = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            offset as libc::off_t,
        )
    };
    if raw == libc::MAP_FAILED {
        Err(Errno::last())
    } else {
        Ok(raw as usize)
    }
}

/// Unmaps `[addr, addr+len)`.
///
/// # Safety
/// The caller owns the range and nothing refers to it any more.
pub unsafe fn unmap(addr: usize, len: usize) -> SysResult<()> {
    // SAFETY: the caller owns the range.
    check(unsafe { libc::munmap(addr as *mut libc::c_void, len) })
}

/// Changes the access rights of `[addr, addr+len)`.
///
/// # Safety
/// The caller owns the range; removing rights from memory in use faults its users.
pub unsafe fn protect(addr: usize, len: usize, prot: libc::c_int) -> SysResult<()> {
    // SAFETY: the caller owns the range.
    check(unsafe { libc::mprotect(addr as *mut libc::c_void, len, prot) })
}

/// `madvise(addr, len, advice)`.
///
/// # Safety
/// The caller owns the range; destructive advice (DONTNEED, FREE, REMOVE) discards its contents.
pub unsafe fn madvise(addr: usize, len: usize, advice: libc::c_int) -> SysResult<()> {
    // SAFETY: the caller owns the range.
    check(unsafe { libc::madvise(addr as *mut libc::c_void, len, advice) })
}

/// `MADV_POPULATE_WRITE` (Linux 5.14): fault the range in writable, in one call.
pub const MADV_POPULATE_WRITE: libc::c_int = 23;

/// NUMA memory policies for `mbind`.
pub const MPOL_DEFAULT: libc::c_int = 0;
/// Prefer the given node, fall back to others.
pub const MPOL_PREFERRED: libc::c_int = 1;
/// Only the given nodes.
pub const MPOL_BIND: libc::c_int = 2;
/// Round-robin over the given nodes.
pub const MPOL_INTERLEAVE: libc::c_int = 3;
/// Allocate on the node of the CPU that faults.
pub const MPOL_LOCAL: libc::c_int = 4;
/// Prefer any of several nodes (Linux 5.15).
pub const MPOL_PREFERRED_MANY: libc::c_int = 5;

/// Applies a NUMA policy to `[addr, addr+len)`. `mask` holds one bit per node.
///
/// # Safety
/// The caller owns the range.
pub unsafe fn mbind(addr: usize, len: usize, mode: libc::c_int, mask: &[u64]) -> SysResult<()> {
    let maxnode = (mask.len() * 64 + 1) as libc::c_ulong;
    let mask_ptr = if mask.is_empty() { std::ptr::null() } else { mask.as_ptr() };
    // SAFETY: the caller owns the range; the mask slice outlives the call.
    let rc = unsafe { libc::syscall(libc::SYS_mbind, addr, len, mode, mask_ptr, maxnode, 0usize) };
    if rc == 0 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}

/// The node of the page at `addr` (get_mempolicy with MPOL_F_NODE | MPOL_F_ADDR).
pub fn node_of(addr: usize) -> SysResult<i32> {
    let mut node: libc::c_int = -1;
    // SAFETY: the kernel writes one int through the pointer; it only reads `addr`'s policy.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_get_mempolicy,
            &mut node as *mut libc::c_int,
            std::ptr::null_mut::<u64>(),
            0usize,
            addr,
            3usize, // MPOL_F_NODE | MPOL_F_ADDR
        )
    };
    if rc == 0 {
        Ok(node)
    } else {
        Err(Errno::last())
    }
}

/// The calling thread's memory policy and the first 64 nodes of its mask (get_mempolicy
/// without flags).
pub fn thread_policy() -> SysResult<(i32, u64)> {
    let mut mode: libc::c_int = 0;
    let mut mask: u64 = 0;
    // SAFETY: the kernel writes one int and one 64-bit mask word through the pointers.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_get_mempolicy,
            &mut mode as *mut libc::c_int,
            &mut mask as *mut u64,
            65usize,
            0usize,
            0usize,
        )
    };
    if rc == 0 {
        Ok((mode, mask))
    } else {
        Err(Errno::last())
    }
}

/// The CPU the calling thread runs on and that CPU's NUMA node, as the kernel says (getcpu).
pub fn current_cpu() -> Option<(u32, u32)> {
    let mut cpu: libc::c_uint = 0;
    let mut node: libc::c_uint = 0;
    // SAFETY: the kernel writes two unsigned ints through the pointers.
    let rc = unsafe {
        libc::syscall(libc::SYS_getcpu, &mut cpu as *mut libc::c_uint, &mut node as *mut libc::c_uint, 0usize)
    };
    (rc == 0).then_some((cpu, node))
}

/// The policy and node mask that apply at `addr` (get_mempolicy with MPOL_F_ADDR).
pub fn policy_of(addr: usize) -> SysResult<(i32, u64)> {
    let mut mode: libc::c_int = 0;
    let mut mask = [0u64; 16];
    // SAFETY: the kernel writes the mode and up to 1024 bits of mask into our buffers.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_get_mempolicy,
            &mut mode as *mut libc::c_int,
            mask.as_mut_ptr(),
            1024usize,
            addr,
            2usize, // MPOL_F_ADDR
        )
    };
    if rc == 0 {
        Ok((mode, mask[0]))
    } else {
        Err(Errno::last())
    }
}

/// Allocates (mode 0) or punches (`FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE`) file space.
pub fn fallocate(fd: BorrowedFd<'_>, mode: libc::c_int, offset: u64, len: u64) -> SysResult<()> {
    loop {
        // SAFETY: fallocate only reads its integer arguments.
        let rc = unsafe { libc::fallocate(fd.as_raw_fd(), mode, offset as libc::off_t, len as libc::off_t) };
        if rc == 0 {
            return Ok(());
        }
        let e = Errno::last();
        if e.0 != libc::EINTR {
            return Err(e);
        }
    }
}

/// Sets the file's size.
pub fn ftruncate(fd: BorrowedFd<'_>, len: u64) -> SysResult<()> {
    // SAFETY: ftruncate only reads its integer arguments.
    check(unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) })
}

/// The file's blocks in use, in bytes (st_blocks × 512).
pub fn allocated_bytes(fd: BorrowedFd<'_>) -> SysResult<u64> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat fills the struct on success, which is the only case we read it.
    let rc = unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) };
    check(rc)?;
    // SAFETY: fstat succeeded, so the struct is initialised.
    let st = unsafe { st.assume_init() };
    Ok(st.st_blocks as u64 * 512)
}

fn owned(fd: libc::c_int) -> SysResult<OwnedFd> {
    if fd < 0 {
        Err(Errno::last())
    } else {
        // SAFETY: a fresh fd from a successful call, owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// An anonymous file that lives only while an fd refers to it.
pub fn memfd_create(name: &CStr) -> SysResult<OwnedFd> {
    // SAFETY: the name is a valid C string for the duration of the call.
    owned(unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) })
}

/// An unnamed file in directory `dir` (`O_TMPFILE`): nothing is ever left on disk.
pub fn open_tmpfile(dir: &CStr) -> SysResult<OwnedFd> {
    // SAFETY: the path is a valid C string for the duration of the call.
    owned(unsafe {
        libc::open(dir.as_ptr(), libc::O_TMPFILE | libc::O_RDWR | libc::O_EXCL | libc::O_CLOEXEC, 0o600)
    })
}

/// A named temporary file from a template ending in XXXXXX, unlinked at once:
/// the fallback where the filesystem does not support `O_TMPFILE`.
pub fn open_unlinked_temp(template: &mut [u8]) -> SysResult<OwnedFd> {
    // SAFETY: `template` is a NUL-terminated, writable buffer that mkostemp edits in place.
    let fd = owned(unsafe { libc::mkostemp(template.as_mut_ptr().cast(), libc::O_CLOEXEC) })?;
    // SAFETY: mkostemp wrote the created file's name into the template.
    check(unsafe { libc::unlink(template.as_ptr().cast()) })?;
    Ok(fd)
}

/// Total bytes of the filesystem holding the open file `fd`.
pub fn fs_capacity(fd: BorrowedFd<'_>) -> SysResult<u64> {
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: fstatvfs fills the struct on success, which is the only case we read it.
    check(unsafe { libc::fstatvfs(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstatvfs succeeded.
    let st = unsafe { st.assume_init() };
    // The casts are no-ops on 64-bit Linux, not on 32-bit targets (fsblkcnt_t, c_ulong).
    #[allow(clippy::unnecessary_cast)]
    let total = st.f_blocks as u64 * st.f_frsize as u64;
    Ok(total)
}

/// Whether a file in `dir` can be mapped with `MAP_SYNC` (the directory is on a DAX
/// filesystem): maps one page of an unlinked temporary file and unmaps it again. `Err` when no
/// file can be made (or sized) there, `Ok(false)` when the mapping is refused.
pub fn map_sync_probe(dir: &CStr) -> SysResult<bool> {
    const MAP_SHARED_VALIDATE: libc::c_int = 0x03;
    const MAP_SYNC: libc::c_int = 0x80000;
    let fd = open_tmpfile(dir)?;
    ftruncate(fd.as_fd(), crate::PAGE_SIZE as u64)?;
    // SAFETY: a new mapping at a kernel-chosen address, unmapped below.
    let raw = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            crate::PAGE_SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            MAP_SHARED_VALIDATE | MAP_SYNC,
            fd.as_raw_fd(),
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        return Ok(false);
    }
    // SAFETY: the mapping made just above.
    let _ = unsafe { unmap(raw as usize, crate::PAGE_SIZE) };
    Ok(true)
}

/// Whether `dir` is on a DAX filesystem ([`map_sync_probe`] succeeds).
pub fn dir_supports_map_sync(dir: &CStr) -> bool {
    map_sync_probe(dir) == Ok(true)
}

/// Page faults of this process so far, minor and major (getrusage). A fault on a hole of a
/// file mapped without read-ahead counts as major, though it reads nothing from disk.
pub fn page_faults() -> u64 {
    faults_of(libc::RUSAGE_SELF)
}

/// Page faults of the calling thread so far, minor and major.
pub fn thread_page_faults() -> u64 {
    faults_of(libc::RUSAGE_THREAD)
}

fn faults_of(who: libc::c_int) -> u64 {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct on success.
    let rc = unsafe { libc::getrusage(who, ru.as_mut_ptr()) };
    if rc != 0 {
        return 0;
    }
    // SAFETY: getrusage succeeded.
    let ru = unsafe { ru.assume_init() };
    (ru.ru_minflt + ru.ru_majflt) as u64
}

/// The file's size (fstat's st_size).
pub fn file_size(fd: BorrowedFd<'_>) -> SysResult<u64> {
    identity(fd).map(|id| id.size)
}

/// The first data (`SEEK_DATA`) or hole (`SEEK_HOLE`) offset at or after `from`; `None` when
/// there is no data after `from` (ENXIO).
pub fn seek(fd: BorrowedFd<'_>, from: u64, whence: libc::c_int) -> SysResult<Option<u64>> {
    // SAFETY: lseek only reads its integer arguments.
    let at = unsafe { libc::lseek(fd.as_raw_fd(), from as libc::off_t, whence) };
    if at >= 0 {
        return Ok(Some(at as u64));
    }
    match Errno::last() {
        Errno(libc::ENXIO) => Ok(None),
        e => Err(e),
    }
}

/// Copies up to `len` bytes from `from` at `offset` to `to` at the same offset inside the
/// kernel (`copy_file_range`; a reflink on filesystems that share extents). Returns the bytes
/// copied, 0 at the end of `from`.
pub fn copy_file_range(
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    offset: u64,
    len: usize,
) -> SysResult<usize> {
    let (mut off_in, mut off_out) = (offset as libc::off64_t, offset as libc::off64_t);
    loop {
        // SAFETY: both offsets are valid out-pointers for the duration of the call.
        let n = unsafe {
            libc::copy_file_range(from.as_raw_fd(), &mut off_in, to.as_raw_fd(), &mut off_out, len, 0)
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = Errno::last();
        if e.0 != libc::EINTR {
            return Err(e);
        }
    }
}

/// Writes the bytes at `[addr, addr+len)` into `fd` at `offset`; returns the bytes written.
///
/// # Safety
/// The range must be readable memory.
pub unsafe fn pwrite(fd: BorrowedFd<'_>, addr: usize, len: usize, offset: u64) -> SysResult<usize> {
    loop {
        // SAFETY: the caller vouches that the source range is readable.
        let n =
            unsafe { libc::pwrite(fd.as_raw_fd(), addr as *const libc::c_void, len, offset as libc::off_t) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = Errno::last();
        if e.0 != libc::EINTR {
            return Err(e);
        }
    }
}

/// Makes descriptor number `target` refer to `fd`'s file (`dup3`, close-on-exec), closing what
/// `target` referred to before.
pub fn dup_onto(fd: BorrowedFd<'_>, target: BorrowedFd<'_>) -> SysResult<()> {
    // SAFETY: both are open descriptors; dup3 replaces `target`'s file atomically, and whoever
    // owns `target` keeps owning the number.
    let rc = unsafe { libc::dup3(fd.as_raw_fd(), target.as_raw_fd(), libc::O_CLOEXEC) };
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// Writes `parts` to standard error, unbuffered and without allocating (for fork handlers).
pub fn write_stderr(parts: &[&[u8]]) {
    for part in parts {
        let mut rest = *part;
        while !rest.is_empty() {
            // SAFETY: writes from a valid slice.
            let n = unsafe { libc::write(libc::STDERR_FILENO, rest.as_ptr().cast(), rest.len()) };
            if n < 0 && Errno::last().0 == libc::EINTR {
                continue;
            }
            if n <= 0 {
                return;
            }
            rest = &rest[n as usize..];
        }
    }
}

/// Writes `v` in decimal into the end of `buf` and returns the digits, without allocating
/// (for messages and mallctl names built on paths where the heap may be the allocator itself).
pub fn decimal(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &buf[i..];
        }
    }
}

/// `v` in hexadecimal with a `0x` prefix, written into `buf` without allocating.
pub fn hex(mut v: u64, buf: &mut [u8; 18]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b"0123456789abcdef"[(v & 15) as usize];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    buf[i - 2..i].copy_from_slice(b"0x");
    &buf[i - 2..]
}

/// The device of the filesystem holding the open file `fd` (fstat's st_dev).
pub fn device_of(fd: BorrowedFd<'_>) -> SysResult<u64> {
    identity(fd).map(|id| id.dev)
}

/// The largest size this process may give a file (RLIMIT_FSIZE's soft limit; `u64::MAX` when
/// unlimited). Growing a file past it raises SIGXFSZ, so callers check before they grow one.
pub fn file_size_limit() -> u64 {
    let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, &mut rl) } != 0 || rl.rlim_cur == libc::RLIM_INFINITY {
        return u64::MAX;
    }
    rl.rlim_cur
}

/// Writes zeroes over `[offset, offset+len)` of `fd`: allocates the blocks where a filesystem
/// lacks `fallocate`. Only for ranges whose contents are not in use.
pub fn write_zeroes(fd: BorrowedFd<'_>, offset: u64, len: u64) -> SysResult<()> {
    static ZEROES: [u8; 64 << 10] = [0; 64 << 10];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(ZEROES.len() as u64) as usize;
        // SAFETY: ZEROES is readable for its whole length.
        match unsafe { pwrite(fd, ZEROES.as_ptr() as usize, n, offset + done) } {
            Ok(0) => return Err(Errno(libc::EIO)),
            Ok(w) => done += w as u64,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Milliseconds of a coarse monotonic clock (a vDSO read, no system call): for back-off
/// windows, never 0.
pub fn coarse_ms() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the struct we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    (ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000).max(1)
}

/// What [`fs_room`] reads from `fstatfs`.
#[derive(Clone, Copy, Debug)]
pub struct FsRoom {
    /// The filesystem's magic number (`f_type`).
    pub kind: i64,
    /// Total bytes.
    pub total: u64,
    /// The block size.
    pub block: u64,
    /// Bytes this process may still allocate (root may use the blocks kept for root).
    pub free: u64,
}

/// The size and free space of the filesystem holding `fd`.
pub fn fs_room(fd: BorrowedFd<'_>) -> SysResult<FsRoom> {
    let mut st = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: fstatfs fills the struct on success, which is the only case we read it.
    check(unsafe { libc::fstatfs(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstatfs succeeded.
    let st = unsafe { st.assume_init() };
    static EUID: AtomicI64 = AtomicI64::new(-1);
    let mut euid = EUID.load(Ordering::Relaxed);
    if euid < 0 {
        // SAFETY: geteuid cannot fail.
        euid = unsafe { libc::geteuid() } as i64;
        EUID.store(euid, Ordering::Relaxed);
    }
    let root = euid == 0;
    let free_blocks = if root { st.f_bfree } else { st.f_bavail };
    // The casts are no-ops on 64-bit Linux, not on 32-bit targets.
    #[allow(clippy::unnecessary_cast)]
    Ok(FsRoom {
        kind: st.f_type as i64,
        total: st.f_blocks as u64 * st.f_bsize as u64,
        block: st.f_bsize as u64,
        free: free_blocks as u64 * st.f_bsize as u64,
    })
}

/// Maps `len` bytes of `fd` at `offset` over `[addr, addr+len)`, private (copy-on-write) and
/// read-write: writes go to anonymous pages of this process, never to the file.
///
/// # Safety
/// The caller must own `[addr, addr+len)`; whatever was mapped there is replaced.
pub unsafe fn map_file_private_fixed(
    addr: usize,
    len: usize,
    fd: BorrowedFd<'_>,
    offset: u64,
) -> SysResult<()> {
    // SAFETY: forwarded from the caller.
    unsafe { map_file_at(addr, len, fd, offset, libc::MAP_PRIVATE) }
}

/// This process's page map (`/proc/self/pagemap`): one 64-bit entry per virtual page.
pub fn open_pagemap() -> SysResult<OwnedFd> {
    // SAFETY: a constant path; the flags create nothing.
    owned(unsafe { libc::open(c"/proc/self/pagemap".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) })
}

/// Reads the page-map entries of the pages from `addr` into `out`; returns how many were read.
/// Bit 63: present; bit 62: swapped; bit 61: a file page or shared anonymous page.
pub fn read_pagemap(pagemap: BorrowedFd<'_>, addr: usize, out: &mut [u64]) -> SysResult<usize> {
    let offset = (addr / crate::PAGE_SIZE * 8) as libc::off_t;
    loop {
        // SAFETY: `out` is writable for its whole length in bytes.
        let n = unsafe { libc::pread(pagemap.as_raw_fd(), out.as_mut_ptr().cast(), out.len() * 8, offset) };
        if n >= 0 {
            return Ok(n as usize / 8);
        }
        let e = Errno::last();
        if e.0 != libc::EINTR {
            return Err(e);
        }
    }
}

// ---- sharing a file's mappings with another process (see `Morsel::create_window`) ----

/// Reserves exactly `[addr, addr+len)` (`PROT_NONE`, `MAP_NORESERVE`) where nothing is
/// mapped yet; EEXIST where something is (or where an old kernel, taking
/// `MAP_FIXED_NOREPLACE` as a hint, would have mapped elsewhere).
pub fn reserve_at(addr: usize, len: usize) -> SysResult<()> {
    let at = map_none(addr, len, libc::MAP_FIXED_NOREPLACE)?;
    if at != addr {
        // SAFETY: the mapping was made just above, elsewhere, and is ours alone.
        unsafe { unmap(at, len)? };
        return Err(Errno(libc::EEXIST));
    }
    Ok(())
}

/// Maps `len` bytes of `fd` at `offset` shared over exactly `[addr, addr+len)`, readable, and
/// writable if `writable`, where nothing is mapped yet: EEXIST where something is, and never
/// anywhere else.
pub fn map_shared_noreplace(
    addr: usize,
    len: usize,
    fd: BorrowedFd<'_>,
    offset: u64,
    writable: bool,
) -> SysResult<()> {
    let prot = if writable { libc::PROT_READ | libc::PROT_WRITE } else { libc::PROT_READ };
    // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping.
    let raw = unsafe {
        libc::mmap(
            addr as *mut libc::c_void,
            len,
            prot,
            libc::MAP_SHARED | libc::MAP_FIXED_NOREPLACE,
            fd.as_raw_fd(),
            offset as libc::off_t,
        )
    };
    if raw == libc::MAP_FAILED {
        return Err(Errno::last());
    }
    if raw as usize != addr {
        // SAFETY: an old kernel mapped it elsewhere; that mapping is ours alone.
        unsafe { unmap(raw as usize, len)? };
        return Err(Errno(libc::EEXIST));
    }
    Ok(())
}

/// What identifies an open file: its device and inode, its size and whether it is a regular
/// file (a memfd is one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileIdentity {
    /// st_dev.
    pub dev: u64,
    /// st_ino.
    pub ino: u64,
    /// st_size.
    pub size: u64,
    /// S_ISREG.
    pub regular: bool,
}

/// fstat's identity of `fd` (its size and device: [`file_size`], [`device_of`]).
pub fn identity(fd: BorrowedFd<'_>) -> SysResult<FileIdentity> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat fills the struct on success, which is the only case we read it.
    check(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded.
    let st = unsafe { st.assume_init() };
    Ok(FileIdentity {
        dev: st.st_dev,
        ino: st.st_ino,
        size: st.st_size as u64,
        regular: st.st_mode & libc::S_IFMT == libc::S_IFREG,
    })
}

/// A second descriptor of the same open file (close-on-exec).
pub fn dup(fd: BorrowedFd<'_>) -> SysResult<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC only reads its integer arguments.
    owned(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) })
}

/// A new read-only descriptor of the file `fd` is open on (through /proc/self/fd), so that
/// whoever receives it can map the file for reading and never for writing.
pub fn reopen_read_only(fd: BorrowedFd<'_>) -> SysResult<OwnedFd> {
    let mut path = *b"/proc/self/fd/\0\0\0\0\0\0\0\0\0\0\0\0";
    let mut buf = [0u8; 20];
    let digits = decimal(fd.as_raw_fd() as u64, &mut buf);
    path[14..14 + digits.len()].copy_from_slice(digits);
    // SAFETY: `path` is NUL-terminated (the digits fill at most 10 of its 12 spare bytes).
    owned(unsafe { libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC) })
}

/// Seals a memfd against shrinking (`F_SEAL_SHRINK`): whoever maps it can never be cut short
/// (a read past the end would be SIGBUS).
pub fn seal_shrink(fd: BorrowedFd<'_>) -> SysResult<()> {
    // SAFETY: F_ADD_SEALS only reads its integer arguments.
    check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, libc::F_SEAL_SHRINK) }.min(0))
}

/// A memfd that can be sealed (`MFD_ALLOW_SEALING`), close-on-exec.
pub fn memfd_create_sealable(name: &CStr) -> SysResult<OwnedFd> {
    // SAFETY: the name is a valid C string for the duration of the call.
    owned(unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) })
}

/// Sends `bytes` and one descriptor over the Unix socket `sock` (`SCM_RIGHTS`), in one message.
pub fn send_with_fd(sock: BorrowedFd<'_>, bytes: &[u8], fd: BorrowedFd<'_>) -> SysResult<()> {
    let mut iov = libc::iovec { iov_base: bytes.as_ptr() as *mut libc::c_void, iov_len: bytes.len() };
    // Room for one cmsghdr carrying one int, suitably aligned.
    let mut control = [0u64; 4];
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) } as usize;
    debug_assert!(space <= std::mem::size_of_val(&control));
    // SAFETY: a zeroed msghdr is a valid empty message.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space;
    // SAFETY: the control buffer holds `space` bytes, enough for one header and one int, so
    // CMSG_FIRSTHDR is non-null and CMSG_DATA points inside it.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>(), fd.as_raw_fd());
    }
    loop {
        // SAFETY: `msg` points at live buffers for the duration of the call.
        let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        if n >= 0 {
            return if n as usize == bytes.len() { Ok(()) } else { Err(Errno(libc::EMSGSIZE)) };
        }
        let e = Errno::last();
        if e.0 != libc::EINTR {
            return Err(e);
        }
    }
}

/// Receives one message into `buf` and the descriptor it carries, if any (close-on-exec; any
/// further descriptors are closed). Returns the bytes received (0: the peer closed).
pub fn recv_with_fd(sock: BorrowedFd<'_>, buf: &mut [u8]) -> SysResult<(usize, Option<OwnedFd>)> {
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let mut control = [0u64; 8];
    // SAFETY: a zeroed msghdr is a valid empty message.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    let n = loop {
        // SAFETY: `msg` points at live, writable buffers of the sizes it gives.
        let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n >= 0 {
            break n as usize;
        }
        let e = Errno::last();
        if e.0 != libc::EINTR {
            return Err(e);
        }
    };
    let mut first = None;
    // SAFETY: the kernel filled `msg_controllen` bytes of the control buffer with well-formed
    // headers; CMSG_FIRSTHDR/CMSG_NXTHDR walk them and stay inside it.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<libc::c_int>();
                let count =
                    ((*cmsg).cmsg_len - libc::CMSG_LEN(0) as usize) / std::mem::size_of::<libc::c_int>();
                for i in 0..count {
                    let fd = OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i)));
                    if first.is_none() {
                        first = Some(fd);
                    }
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(Errno(libc::EMSGSIZE));
    }
    Ok((n, first))
}

/// Eight random bytes from the kernel (`getrandom`), or a mix of the time and the process id
/// where it has none to give.
pub fn random_u64() -> u64 {
    let mut v = 0u64;
    // SAFETY: getrandom writes at most 8 bytes into `v`.
    let n = unsafe { libc::getrandom((&mut v as *mut u64).cast(), 8, libc::GRND_NONBLOCK) };
    if n == 8 {
        return v;
    }
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as u64;
    let t =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    (t ^ pid.rotate_left(32)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}
