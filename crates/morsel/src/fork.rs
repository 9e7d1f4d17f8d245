//! A forked child's own copy of a file source (memkind's issue #224).
//!
//! A file source's morsels are `MAP_SHARED` mappings of one unlinked file, so after `fork()`
//! the child's heap and its parent's would be the same pages. In the child, before anything
//! else runs, [`Source::begin_fork_copy`] makes a new unnamed file in the source's directory
//! (`O_TMPFILE`, else a temporary file unlinked at once, else, where the directory takes no
//! new file at all, a memfd, with a warning), of the old one's size; [`ForkCopy::copy_and_remap`]
//! copies the *data* ranges of each mapping (`SEEK_DATA`/`SEEK_HOLE`: what is in use; holes
//! stay holes) at the same offsets, with `copy_file_range` (in the kernel, a reflink where the
//! filesystem shares extents) or else `pwrite` from the mapping, and maps the copy over the
//! mapping at the same address and offset; [`ForkCopy::finish`] makes the source's descriptor
//! number refer to the new file (`dup3`), so the child's later frames, commits and purges go
//! to its own file, and the old file is closed in the child.
//!
//! Nothing here allocates: it runs in a fork handler, where the process's allocator may be the
//! very memory being copied.

use std::cell::Cell;
use std::os::fd::{AsFd, OwnedFd};

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
}

/// The longest directory name [`Source::begin_fork_copy`] can fall back to `mkostemp` in.
const MAX_TEMPLATE: usize = 4096 + 32;

impl Source {
    /// In a forked child: starts the child's own copy of this file source; `None` for sources
    /// that need none (private anonymous memory is copy-on-write already; a memfd is meant to
    /// be shared).
    pub fn begin_fork_copy(&self) -> Result<Option<ForkCopy<'_>>, ForkError> {
        let (Backing::File, Some(old)) = (self.backing(), self.fd()) else { return Ok(None) };
        let size = sys::file_size(old).map_err(fail("cannot stat the kind's file"))?;
        let new = self.new_file()?;
        sys::ftruncate(new.as_fd(), size).map_err(fail("cannot size the copy"))?;
        Ok(Some(ForkCopy { source: self, new, in_kernel: Cell::new(true) }))
    }

    /// A new unnamed file in the source's directory, as [`Source::tmpfile`] makes them.
    fn new_file(&self) -> Result<OwnedFd, ForkError> {
        if let Some(dir) = self.dir() {
            match sys::open_tmpfile(dir) {
                Ok(fd) => return Ok(fd),
                Err(Errno(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)) => {
                    let name = dir.to_bytes();
                    let suffix = b"/morselkind.XXXXXX\0";
                    let mut template = [0u8; MAX_TEMPLATE];
                    if name.len() + suffix.len() <= MAX_TEMPLATE {
                        template[..name.len()].copy_from_slice(name);
                        template[name.len()..name.len() + suffix.len()].copy_from_slice(suffix);
                        if let Ok(fd) = sys::open_unlinked_temp(&mut template[..name.len() + suffix.len()]) {
                            return Ok(fd);
                        }
                    }
                }
                Err(_) => {}
            }
        }
        // The directory takes no new file (gone, no inode left, no permission): the child's
        // memory is private still, but no longer in that directory. Say so.
        let fd = sys::memfd_create(c"morselkind-fork").map_err(fail("cannot create a file for the copy"))?;
        sys::write_stderr(&[
            b"morselkind: after fork, the child cannot create a file in ",
            self.dir().map_or(&b"?"[..], |d| d.to_bytes()),
            b"; its copy of the kind's memory is a memfd\n",
        ]);
        Ok(fd)
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
    /// Copies the data of the file range `[offset, offset+len)`, mapped at `addr`, into the
    /// copy, and maps the copy over `[addr, addr+len)` (shared, read-write) in its place.
    ///
    /// # Safety
    /// `[addr, addr+len)` must be a read-write shared mapping of the source's file at `offset`,
    /// owned by the caller; only in a forked child, before any other thread exists.
    pub unsafe fn copy_and_remap(&self, addr: usize, len: usize, offset: u64) -> Result<(), ForkError> {
        let old = self.source.fd().expect("a file source");
        let end = offset + len as u64;
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
            unsafe { self.copy_run(addr + (data - offset) as usize, data, (hole - data) as usize)? };
            pos = hole;
        }
        // SAFETY: the caller owns the range; the copy holds the same bytes at the same offsets.
        unsafe { sys::map_file_fixed(addr, len, self.new.as_fd(), offset) }
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

    /// Puts the copy in the place of the old file: the source's descriptor number refers to
    /// the copy from now on, and the child's last reference to the old file is gone.
    pub fn finish(self) -> Result<(), ForkError> {
        let old = self.source.fd().expect("a file source");
        sys::dup_onto(self.new.as_fd(), old).map_err(fail("cannot replace the kind's file"))
    }
}
