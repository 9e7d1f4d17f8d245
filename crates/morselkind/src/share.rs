//! Kinds shared between processes, zero-copy, at the same addresses.
//!
//! A shared kind's memory is one morsel: the whole window of its size limit, mapped from one
//! memfd (or an unnamed file in a directory, for PMEM) when the kind is made, at a random
//! aligned address far from where programs and the kernel put things (see
//! [`morsel::Morsel::create_window`]). The exporting process allocates and frees in it as in
//! any kind (jemalloc's arenas are per process). It hands the file's descriptor and a
//! [`ShareRecord`] (where the window is, and which file it is) to another process, over a Unix
//! socket with `SCM_RIGHTS` ([`Kind::send_share`], [`Attachment::receive`]). That process maps
//! the same file range at the same address, in one `mmap` with `MAP_FIXED_NOREPLACE`
//! ([`Attachment::attach`]): pointers inside shared data stay valid, nothing is copied, and
//! where anything of its own is mapped there, attach fails (EEXIST) and never maps elsewhere.
//!
//! Growth needs nothing more: the file is sized to the whole window from the start and the
//! attached mapping covers all of it, so memory the exporter commits later (blocks allocated
//! in the file) is visible at once, O(1) whatever it grows by. Each page the exporter hands
//! out has its blocks allocated before it is handed out, as for every file kind, so neither
//! side's writes to a live block can fault on a full filesystem.
//!
//! Safety between processes:
//! - Only a holder of the descriptor can attach: a memfd has no name, an `O_TMPFILE` file
//!   none either, and another user cannot open `/proc/PID/fd/N` of the exporter.
//! - A read-only export sends a descriptor opened read-only: the attached process cannot map
//!   the window writable, nor `mprotect` it so later.
//! - An attached process that dies changes nothing for the exporter; an exporter that dies
//!   leaves attached mappings valid until they are unmapped (the file lives while mapped), and
//!   no file is left anywhere after both. A memfd is sealed against shrinking.
//! - fork: the exporter's child gets a private copy of the kind (as for every file kind, see
//!   `crate::fork`); attached processes keep seeing the exporter's memory.
//! - A record that does not name the descriptor's file (another kind's, an older one's), a
//!   size that does not match, or a closed descriptor is an error, never a mapping.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use morsel::{sys, Source};

use crate::error::{Error, Result};
use crate::kind::Kind;
use crate::provider::{KindSpec, ProviderConfig};

/// `b"MORSELSH"`: the first field of every record.
pub const SHARE_MAGIC: u64 = u64::from_le_bytes(*b"MORSELSH");
/// The record layout's version.
pub const SHARE_VERSION: u32 = 1;
/// The record's flag for a read-only export.
pub const SHARE_READ_ONLY: u32 = 1;
/// The largest window a shared kind can have (32 TiB).
pub const SHARE_MAX_SIZE: usize = 32 << 40;

/// Where a shared kind's window is and which file it maps: 64 bytes, sent beside the
/// descriptor. The same layout as C's `struct morselkind_share_record`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShareRecord {
    /// [`SHARE_MAGIC`].
    pub magic: u64,
    /// [`SHARE_VERSION`].
    pub version: u32,
    /// [`SHARE_READ_ONLY`] or 0.
    pub flags: u32,
    /// The window's first address.
    pub base: u64,
    /// The window's length in bytes.
    pub size: u64,
    /// The file offset mapped at `base`.
    pub offset: u64,
    /// The file's device (`st_dev`).
    pub dev: u64,
    /// The file's inode (`st_ino`).
    pub ino: u64,
    /// Zero.
    pub reserved: u64,
}

const RECORD_BYTES: usize = std::mem::size_of::<ShareRecord>();

impl ShareRecord {
    /// The record as bytes, little-endian field by field.
    pub fn to_bytes(&self) -> [u8; RECORD_BYTES] {
        let mut b = [0u8; RECORD_BYTES];
        b[0..8].copy_from_slice(&self.magic.to_le_bytes());
        b[8..12].copy_from_slice(&self.version.to_le_bytes());
        b[12..16].copy_from_slice(&self.flags.to_le_bytes());
        for (i, v) in
            [self.base, self.size, self.offset, self.dev, self.ino, self.reserved].iter().enumerate()
        {
            b[16 + 8 * i..24 + 8 * i].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    /// A record from [`ShareRecord::to_bytes`]'s layout.
    pub fn from_bytes(b: &[u8; RECORD_BYTES]) -> ShareRecord {
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        ShareRecord {
            magic: u64_at(0),
            version: u32_at(8),
            flags: u32_at(12),
            base: u64_at(16),
            size: u64_at(24),
            offset: u64_at(32),
            dev: u64_at(40),
            ino: u64_at(48),
            reserved: u64_at(56),
        }
    }

    /// Whether the export was read-only.
    pub fn read_only(&self) -> bool {
        self.flags & SHARE_READ_ONLY != 0
    }
}

/// How another process may use a shared kind's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read and write.
    ReadWrite,
    /// Read only.
    ReadOnly,
}

/// The configuration of a shared kind.
#[derive(Clone, Copy, Debug)]
pub struct SharedConfig<'a> {
    /// A directory for the kind's unnamed file (a DAX filesystem for PMEM); `None`: a memfd.
    pub dir: Option<&'a Path>,
    /// The window: the most bytes the kind can hold (rounded up to 2 MiB), reserved in full
    /// when the kind is made.
    pub max_size: usize,
}

fn invalid(what: &[u8]) -> Error {
    crate::log::error(|l| {
        l.s(b"Cannot share: ").s(what).s(b".");
    });
    Error::Invalid
}

impl Kind {
    /// Creates a kind whose memory other processes can map at the same addresses
    /// ([`Kind::export`], [`Kind::send_share`], [`Attachment`]). Its whole window is reserved
    /// now; memory is committed as it is allocated, and freed memory goes back after 10 s, as
    /// in a PMEM kind.
    ///
    /// ```
    /// use morselkind::{Access, Attachment, Kind, SharedConfig};
    ///
    /// let kind = Kind::shared(&SharedConfig { dir: None, max_size: 64 << 20 })?;
    /// let p = kind.malloc(4096)?;
    /// let (fd, record) = kind.export(Access::ReadWrite)?;
    /// assert_eq!(record.base as usize, kind.share_window().unwrap().0);
    /// // In this process the window is mapped already: attaching here is refused.
    /// assert!(Attachment::attach(&fd, &record, Access::ReadOnly).is_err());
    /// // SAFETY: `p` is this kind's and is not used again; nothing else uses the kind.
    /// unsafe {
    ///     kind.free(p);
    ///     kind.destroy()?;
    /// }
    /// # Ok::<(), morselkind::Error>(())
    /// ```
    pub fn shared(config: &SharedConfig<'_>) -> Result<Kind> {
        if config.max_size == 0 || config.max_size > SHARE_MAX_SIZE {
            return Err(invalid(b"the size must be between 1 byte and 32 TiB"));
        }
        let source = match config.dir {
            None => Source::shareable_memfd("morselkind-shared")?,
            Some(dir) => Source::tmpfile(dir).map_err(|e| {
                crate::log::error(|l| {
                    l.s(b"Could not create temporary file: errno=").i(i64::from(e.0)).s(b".");
                });
                Error::Directory(e.0)
            })?,
        };
        let m = crate::machine::machine();
        Kind::create(KindSpec {
            source,
            config: ProviderConfig {
                limit: Some(config.max_size),
                window: true,
                hog: m.env.hog_memory(),
                ..Default::default()
            },
            dirty_decay: Some(Duration::from_secs(10)),
        })
    }

    /// A shared kind's window: its first address and its length (`None` for other kinds).
    pub fn share_window(self) -> Option<(usize, usize)> {
        self.provider()?.window().map(|(base, len, _)| (base, len))
    }

    /// What another process needs to attach to this shared kind: a new descriptor of its file
    /// (read-only for [`Access::ReadOnly`]) and the record that goes with it. The caller owns
    /// the descriptor. [`Error::Invalid`] for a kind that is not shared.
    pub fn export(self, access: Access) -> Result<(OwnedFd, ShareRecord)> {
        crate::fork::settle_if_pending();
        let provider = self.provider().ok_or(Error::Invalid)?;
        let (base, len, offset) = provider.window().ok_or_else(|| invalid(b"not a shared kind"))?;
        let file = provider.source().fd().ok_or(Error::Invalid)?;
        let fd = match access {
            Access::ReadWrite => sys::dup(file)?,
            Access::ReadOnly => sys::reopen_read_only(file)?,
        };
        let id = sys::identity(fd.as_fd())?;
        let record = ShareRecord {
            magic: SHARE_MAGIC,
            version: SHARE_VERSION,
            flags: if access == Access::ReadOnly { SHARE_READ_ONLY } else { 0 },
            base: base as u64,
            size: len as u64,
            offset,
            dev: id.dev,
            ino: id.ino,
            reserved: 0,
        };
        Ok((fd, record))
    }

    /// Sends this shared kind to the process at the other end of the Unix socket `sock`: its
    /// record and a descriptor of its file, in one message ([`Attachment::receive`] takes it).
    pub fn send_share(self, sock: BorrowedFd<'_>, access: Access) -> Result<()> {
        let (fd, record) = self.export(access)?;
        sys::send_with_fd(sock, &record.to_bytes(), fd.as_fd())?;
        Ok(())
    }
}

/// Another process's shared kind, mapped into this one at the same addresses. Dropping it (or
/// [`Attachment::detach`]) unmaps the window; pointers into it must not be used after.
#[derive(Debug)]
pub struct Attachment {
    base: usize,
    len: usize,
    access: Access,
}

impl Attachment {
    /// Maps the shared kind that `record` describes from `fd` at its own addresses. Errors:
    /// [`Error::Invalid`] for a record that is malformed or does not name `fd`'s file (a stale
    /// record, a wrong size), or read-write access to a read-only export; `Error::Sys(EBADF)`
    /// for a closed descriptor; `Error::Sys(EEXIST)` where this process has anything mapped in
    /// the window (nothing is mapped elsewhere instead); `Error::Sys(EACCES)` where the
    /// descriptor does not allow the access.
    pub fn attach(fd: impl AsFd, record: &ShareRecord, access: Access) -> Result<Attachment> {
        let fd = fd.as_fd();
        let page = morsel::PAGE_SIZE as u64;
        if record.magic != SHARE_MAGIC || record.version != SHARE_VERSION || record.reserved != 0 {
            return Err(invalid(b"not a share record of this version"));
        }
        if record.flags & !SHARE_READ_ONLY != 0 {
            return Err(invalid(b"unknown flags in the share record"));
        }
        if record.read_only() && access == Access::ReadWrite {
            return Err(invalid(b"a read-only export cannot be attached read-write"));
        }
        let sane = record.size != 0
            && record.size <= SHARE_MAX_SIZE as u64
            && record.base % page == 0
            && record.size % page == 0
            && record.offset % page == 0
            && record.base != 0
            && record.base.checked_add(record.size).is_some_and(|end| end <= usize::MAX as u64);
        if !sane {
            return Err(invalid(b"the record's window is malformed"));
        }
        let id = sys::identity(fd)?;
        if !id.regular || id.dev != record.dev || id.ino != record.ino {
            return Err(invalid(b"the record does not name the descriptor's file (stale or foreign)"));
        }
        if record.offset.checked_add(record.size).is_none_or(|end| end > id.size) {
            return Err(invalid(b"the file is smaller than the record's window"));
        }
        let (base, len) = (record.base as usize, record.size as usize);
        sys::map_shared_noreplace(base, len, fd, record.offset, access == Access::ReadWrite)?;
        Ok(Attachment { base, len, access })
    }

    /// Receives a shared kind sent with [`Kind::send_share`] over the Unix socket `sock` and
    /// attaches it. The received descriptor is closed once the window is mapped (the mapping
    /// keeps the file). A message without a descriptor, or not a record, is [`Error::Invalid`];
    /// a closed socket is `Error::Sys(ECONNRESET)`.
    pub fn receive(sock: BorrowedFd<'_>, access: Access) -> Result<Attachment> {
        let mut buf = [0u8; RECORD_BYTES];
        let (n, fd) = sys::recv_with_fd(sock, &mut buf)?;
        if n == 0 && fd.is_none() {
            return Err(Error::Sys(libc::ECONNRESET));
        }
        let Some(fd) = fd else { return Err(invalid(b"the message carries no descriptor")) };
        if n != RECORD_BYTES {
            return Err(invalid(b"the message is not a share record"));
        }
        Attachment::attach(&fd, &ShareRecord::from_bytes(&buf), access)
    }

    /// The window's first address: the same as in the exporting process.
    pub fn base(&self) -> usize {
        self.base
    }

    /// The window's length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true: a window has at least one page.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How the window is mapped.
    pub fn access(&self) -> Access {
        self.access
    }

    /// Whether `[addr, addr+len)` lies inside the window.
    pub fn contains(&self, addr: usize, len: usize) -> bool {
        addr >= self.base && len <= self.len && addr - self.base <= self.len - len
    }

    /// Unmaps the window now (as dropping it does). Pointers into it must not be used after.
    pub fn detach(self) {
        drop(self)
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        // SAFETY: the window was mapped by `attach` and is ours alone; whoever drops the
        // attachment ends every use of it (the pointers into it are raw: using one afterwards
        // is the caller's unsafety).
        let _ = unsafe { sys::unmap(self.base, self.len) };
    }
}
