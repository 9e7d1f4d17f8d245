//! A forked child's own copy of a file source (memkind's issue #224).
//!
//! A file source's morsels are `MAP_SHARED` mappings of one unlinked file, so after `fork()`
//! the child's heap and its parent's would be the same pages. The child gets its own in two
//! steps (morselkind's `fork` module says when each runs):
//! 1. [`Source::map_private_interim`], in the fork handler: each morsel is mapped privately
//!    (copy-on-write) from the same file, one `mmap` each, so nothing the child writes reaches
//!    its parent.
//! 2. The copy, later: [`Source::begin_fork_copy`] makes a new unnamed file in the source's
//!    directory (`O_TMPFILE`, else a temporary file unlinked at once), of the old one's size;
//!    where the directory has no room, [`Source::begin_fork_copy_in_memory`] makes a memfd.
//!    [`ForkCopy::copy`] reserves every block the morsel holds allocated (committed pages,
//!    populated granules: a block allocated but never written reads as a hole, yet may be
//!    written without another commit), copies the *data* ranges of the old file
//!    (`SEEK_DATA`/`SEEK_HOLE`) with `copy_file_range` (in the kernel) or else `pwrite`, then
//!    writes over them the pages the child wrote itself through its private mapping (found in
//!    `/proc/self/pagemap`: anonymous, not file, pages). [`ForkCopy::remap`] maps the copy
//!    shared over each morsel at the same address and offset, and [`ForkCopy::finish`] makes
//!    the source's descriptor number refer to the new file (`dup3`), so the child's later
//!    frames, commits and purges go to its own file.
//!
//! Nothing here allocates: it runs in fork handlers and extent hooks, where the process's
//! allocator may be the very memory being copied.

use std::cell::Cell;
use std::os::fd::{AsFd, OwnedFd};

use crate::morsel::Morsel;
use crate::source::{Backing, Source};
use crate::sys::{self, Errno};

/// Why a child could not get its own copy of a file source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForkError {
    /// The step that failed.
    pub what: &'static str,
    /// Its errno.
    pub errno: Errno,
}

impl std::fmt::Display for ForkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.what, self.errno)
    }
}

fn fail(what: &'static str) -> impl Fn(Errno) -> ForkError {
    move |errno| ForkError { what, errno }
}

/// A copy of a file source being made in a forked child.
pub struct ForkCopy<'a> {
    source: &'a Source,
    new: OwnedFd,
    /// Whether `copy_file_range` still works between the two files.
    in_kernel: Cell<bool>,
    /// `/proc/self/pagemap`, to find the pages written through a private interim mapping.
    pagemap: Option<OwnedFd>,
}

/// The longest directory name [`Source::begin_fork_copy`] can fall back to `mkostemp` in.
const MAX_TEMPLATE: usize = 4096 + 32;

impl Source {
    /// In a forked child: starts the child's own copy of this file source, in a new file in
    /// the source's directory (a memfd's copy is a memfd); `None` for sources that need none
    /// (private anonymous memory is copy-on-write already).
    pub fn begin_fork_copy(&self) -> Result<Option<ForkCopy<'_>>, ForkError> {
        self.begin_copy(false)
    }

    /// As [`Source::begin_fork_copy`], into a memfd: for a directory with no room (or no new
    /// file) for the copy. The caller says so on stderr.
    pub fn begin_fork_copy_in_memory(&self) -> Result<Option<ForkCopy<'_>>, ForkError> {
        self.begin_copy(true)
    }

    fn begin_copy(&self, in_memory: bool) -> Result<Option<ForkCopy<'_>>, ForkError> {
        let (Backing::File | Backing::Memfd, Some(old)) = (self.backing(), self.fd()) else {
            return Ok(None);
        };
        let size = sys::file_size(old).map_err(fail("cannot stat the kind's file"))?;
        // A memfd has no directory: its copy is a memfd too.
        let new = if in_memory || self.backing() == Backing::Memfd {
            sys::memfd_create(c"morselkind-fork").map_err(fail("cannot create a memfd for the copy"))?
        } else {
            self.new_file()?
        };
        sys::ftruncate(new.as_fd(), size).map_err(fail("cannot size the copy"))?;
        let pagemap = sys::open_pagemap().ok();
        Ok(Some(ForkCopy { source: self, new, in_kernel: Cell::new(true), pagemap }))
    }

    /// A new unnamed file in the source's directory, as [`Source::tmpfile`] makes them.
    fn new_file(&self) -> Result<OwnedFd, ForkError> {
        let dir = self.dir().ok_or(ForkError { what: "no directory", errno: Errno(libc::ENOENT) })?;
        match sys::open_tmpfile(dir) {
            Ok(fd) => Ok(fd),
            Err(Errno(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)) => {
                let name = dir.to_bytes();
                let suffix = b"/morselkind.XXXXXX\0";
                let mut template = [0u8; MAX_TEMPLATE];
                if name.len() + suffix.len() > MAX_TEMPLATE {
                    return Err(ForkError {
                        what: "cannot create a file for the copy",
                        errno: Errno(libc::ENAMETOOLONG),
                    });
                }
                template[..name.len()].copy_from_slice(name);
                template[name.len()..name.len() + suffix.len()].copy_from_slice(suffix);
                sys::open_unlinked_temp(&mut template[..name.len() + suffix.len()])
                    .map_err(fail("cannot create a file for the copy"))
            }
            Err(e) => Err(fail("cannot create a file for the copy")(e)),
        }
    }

    /// In a forked child: maps `m` (a shared mapping of this file source) privately instead,
    /// at the same address and offset, so that the child's writes stay its own until its copy
    /// is made (see [`ForkCopy`]); one `mmap`, nothing copied.
    ///
    /// # Safety
    /// `m` must be a morsel of this source, owned by the caller; only in a forked child.
    pub unsafe fn map_private_interim(&self, m: &Morsel) -> Result<(), ForkError> {
        let fd = self.fd().ok_or(ForkError { what: "not a file source", errno: Errno(libc::EINVAL) })?;
        // SAFETY: the caller owns the range; the file holds its contents at that offset.
        unsafe { sys::map_file_private_fixed(m.base(), m.len(), fd, m.offset()) }
            .map_err(fail("cannot map the kind's file privately"))
    }

    /// In the only thread of a child process just forked: releases the source's lock, should a
    /// thread that does not exist in the child have held it at the fork. Frames are taken and
    /// released only by callers that serialise on a lock of their own (morselkind's carver),
    /// whose own reset vouches for the state.
    ///
    /// # Safety
    /// Only in a forked child, before any other thread exists.
    pub unsafe fn reset_lock_after_fork(&self) {
        if self.frames.raw().is_held() {
            // SAFETY: the caller is the child's only thread; the holder is gone.
            unsafe { self.frames.raw().release() }
        }
    }
}

impl ForkCopy<'_> {
    /// Reserves in the copy every block `m` holds allocated (committed pages, populated
    /// granules: on tmpfs and ext4 a block allocated but never written reads as a hole, yet
    /// the child may write it without committing it again), then copies the data ranges of
    /// the morsel's file range (`SEEK_DATA`/`SEEK_HOLE`: what was written) at the same offsets.
    /// Nothing is mapped yet: see [`ForkCopy::remap`].
    ///
    /// # Safety
    /// `m` must be a read-write shared mapping of the source's file, owned by the caller; only
    /// in a forked child, before any other thread exists.
    pub unsafe fn copy(&self, m: &Morsel) -> Result<(), ForkError> {
        let margin = crate::source::fs_margin(self.new.as_fd());
        m.for_each_reserved_run(|addr, len| {
            let at = m.offset_of(addr);
            crate::source::check_room(self.new.as_fd(), margin, len as u64)
                .map_err(fail("cannot reserve the copy's blocks"))?;
            match sys::fallocate(self.new.as_fd(), 0, at, len as u64) {
                Err(Errno(libc::EOPNOTSUPP)) => sys::write_zeroes(self.new.as_fd(), at, len as u64),
                r => r,
            }
            .map_err(fail("cannot reserve the copy's blocks"))
        })?;
        let old = self.source.fd().expect("a file source");
        let (offset, end) = (m.offset(), m.offset() + m.len() as u64);
        let mut pos = offset;
        while pos < end {
            let Some(data) = sys::seek(old, pos, libc::SEEK_DATA).map_err(fail("SEEK_DATA failed"))? else {
                break;
            };
            if data >= end {
                break;
            }
            let hole = sys::seek(old, data, libc::SEEK_HOLE)
                .map_err(fail("SEEK_HOLE failed"))?
                .unwrap_or(end)
                .min(end);
            // SAFETY: `data..hole` lies inside the caller's mapping of the file.
            unsafe { self.copy_run(m.base() + (data - offset) as usize, data, (hole - data) as usize)? };
            pos = hole;
        }
        // SAFETY: the reserved runs lie inside the caller's mapping.
        m.for_each_reserved_run(|addr, len| unsafe { self.write_private_pages(m, addr, len) })
    }

    /// Maps the copy over the morsel `m`, shared and read-write, at the same address and offset.
    ///
    /// # Safety
    /// As for [`ForkCopy::copy`], which must have copied `m`.
    pub unsafe fn remap(&self, m: &Morsel) -> Result<(), ForkError> {
        // SAFETY: the caller owns the range; the copy holds the same bytes at the same offsets.
        unsafe { sys::map_file_fixed(m.base(), m.len(), self.new.as_fd(), m.offset()) }
            .map_err(fail("cannot map the copy"))
    }

    /// Copies `len` bytes at file offset `at` (mapped at `addr`).
    ///
    /// # Safety
    /// `[addr, addr+len)` must be readable.
    unsafe fn copy_run(&self, addr: usize, at: u64, len: usize) -> Result<(), ForkError> {
        let old = self.source.fd().expect("a file source");
        let mut done = 0;
        while done < len && self.in_kernel.get() {
            match sys::copy_file_range(old, self.new.as_fd(), at + done as u64, len - done) {
                Ok(0) => self.in_kernel.set(false),
                Ok(n) => done += n,
                Err(e @ Errno(libc::ENOSPC | libc::EDQUOT | libc::EIO)) => {
                    return Err(fail("cannot copy")(e))
                }
                // Not between these files (EXDEV, EINVAL, EOPNOTSUPP, ENOSYS): write instead.
                Err(_) => self.in_kernel.set(false),
            }
        }
        // SAFETY: the caller vouches for the range.
        unsafe { self.write_from(addr + done, at + done as u64, len - done) }
    }

    /// Writes the `len` bytes mapped at `addr` into the copy at offset `at`.
    ///
    /// # Safety
    /// `[addr, addr+len)` must be readable.
    unsafe fn write_from(&self, addr: usize, at: u64, len: usize) -> Result<(), ForkError> {
        let mut done = 0;
        while done < len {
            // SAFETY: the caller vouches for the range.
            match unsafe { sys::pwrite(self.new.as_fd(), addr + done, len - done, at + done as u64) } {
                Ok(0) => return Err(fail("cannot copy")(Errno(libc::EIO))),
                Ok(n) => done += n,
                Err(e) => return Err(fail("cannot copy")(e)),
            }
        }
        Ok(())
    }

    /// Writes into the copy the pages of `[addr, addr+len)` (inside `m`) that this process
    /// wrote itself since the fork: the interim mapping is private, so those are anonymous
    /// pages, told apart from the file's own pages by the page map. Without a page map, the
    /// whole range is written from the mapping (the same result, more writing).
    ///
    /// # Safety
    /// `[addr, addr+len)` must be readable and inside `m`.
    unsafe fn write_private_pages(&self, m: &Morsel, addr: usize, len: usize) -> Result<(), ForkError> {
        let Some(pagemap) = &self.pagemap else {
            // SAFETY: forwarded from the caller.
            return unsafe { self.write_from(addr, m.offset_of(addr), len) };
        };
        let page = crate::PAGE_SIZE;
        let pages = len / page;
        let mut entries = [0u64; 512];
        let mut run: Option<usize> = None;
        let mut i = 0;
        while i < pages {
            let want = (pages - i).min(entries.len());
            let n = sys::read_pagemap(pagemap.as_fd(), addr + i * page, &mut entries[..want])
                .map_err(fail("cannot read the page map"))?;
            if n == 0 {
                return Err(fail("cannot read the page map")(Errno(libc::EIO)));
            }
            for (j, e) in entries[..n].iter().enumerate() {
                let own = (e >> 63 & 1 == 1 || e >> 62 & 1 == 1) && e >> 61 & 1 == 0;
                match (own, run) {
                    (true, None) => run = Some(i + j),
                    (false, Some(s)) => {
                        let at = addr + s * page;
                        // SAFETY: inside the caller's range.
                        unsafe { self.write_from(at, m.offset_of(at), (i + j - s) * page)? };
                        run = None;
                    }
                    _ => {}
                }
            }
            i += n;
        }
        if let Some(s) = run {
            let at = addr + s * page;
            // SAFETY: inside the caller's range.
            unsafe { self.write_from(at, m.offset_of(at), (pages - s) * page)? };
        }
        Ok(())
    }

    /// Puts the copy in the place of the old file: the source's descriptor number refers to
    /// the copy from now on, and the child's last reference to the old file is gone.
    pub fn finish(self) -> Result<(), ForkError> {
        let old = self.source.fd().expect("a file source");
        sys::dup_onto(self.new.as_fd(), old).map_err(fail("cannot replace the kind's file"))?;
        // A memfd has no margin and another device.
        self.source.learn_filesystem();
        Ok(())
    }
}
