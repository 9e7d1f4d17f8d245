//! Dynamic kinds: PMEM (an unlinked file in a directory, optionally size-limited) and FIXED
//! (a caller's region), with memkind's argument rules.

use std::path::Path;
use std::time::Duration;

use morsel::Source;

use crate::error::{Error, Result};
use crate::kind::Kind;
use crate::provider::{KindSpec, ProviderConfig};

/// memkind's smallest size limit for a PMEM kind (`MEMKIND_PMEM_MIN_SIZE`).
pub const PMEM_MIN_SIZE: usize = 16 << 20;

/// How a PMEM kind gives memory back (memkind's `memkind_mem_usage_policy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UsagePolicy {
    /// Dirty pages decay over 10 s.
    #[default]
    Default,
    /// Dirty pages go back at once.
    Conservative,
}

/// The configuration of a PMEM kind (memkind's `struct memkind_config`).
#[derive(Clone, Debug)]
pub struct PmemConfig<'a> {
    /// The directory for the kind's unlinked file.
    pub dir: &'a Path,
    /// Most bytes the kind may hold, at least [`PMEM_MIN_SIZE`] (`None`: only the filesystem
    /// limits it). memkind's C API says no limit with 0; here `Some(0)` is a limit below the
    /// minimum, [`Error::Invalid`] as any other.
    pub max_size: Option<usize>,
    /// When unused memory goes back.
    pub policy: UsagePolicy,
}

impl<'a> PmemConfig<'a> {
    /// A kind in `dir` with no size limit (only the filesystem limits it) and the default
    /// policy.
    ///
    /// ```
    /// use morselkind::{PmemConfig, UsagePolicy};
    ///
    /// let dir = std::env::temp_dir();
    /// let config = PmemConfig { policy: UsagePolicy::Conservative, ..PmemConfig::new(&dir) };
    /// assert_eq!(config.max_size, None);
    /// ```
    pub fn new(dir: &'a Path) -> PmemConfig<'a> {
        PmemConfig { dir, max_size: None, policy: UsagePolicy::Default }
    }

    /// A kind in `dir` holding at most `max_size` bytes (at least [`PMEM_MIN_SIZE`]), with the
    /// default policy.
    ///
    /// ```
    /// use morselkind::{PmemConfig, PMEM_MIN_SIZE};
    ///
    /// let dir = std::env::temp_dir();
    /// let config = PmemConfig::limited(&dir, PMEM_MIN_SIZE);
    /// assert_eq!(config.max_size, Some(16 << 20));
    /// ```
    pub fn limited(dir: &'a Path, max_size: usize) -> PmemConfig<'a> {
        PmemConfig { max_size: Some(max_size), ..PmemConfig::new(dir) }
    }
}

impl Kind {
    /// Creates a PMEM kind: memory from an unlinked temporary file in `config.dir`, used as
    /// volatile memory. Nothing is ever left in the directory.
    ///
    /// A size limit below [`PMEM_MIN_SIZE`] is [`Error::Invalid`]; a directory
    /// that cannot hold a file is [`Error::Directory`] with the errno (both are memkind's
    /// `MEMKIND_ERROR_INVALID`). A directory that is not on a DAX filesystem works too: the
    /// kind's memory is then the page cache of an ordinary file.
    ///
    /// ```
    /// use morselkind::{Kind, PmemConfig};
    ///
    /// let dir = std::env::temp_dir();
    /// let kind = Kind::pmem(&PmemConfig::limited(&dir, 64 << 20))?; // at most 64 MiB
    /// let p = kind.malloc(1 << 20)?;
    /// assert_eq!(Kind::detect(p.as_ptr()), Some(kind));
    /// // SAFETY: `p` is this kind's and is not used again; nothing else uses the kind.
    /// unsafe {
    ///     kind.free(p);
    ///     kind.destroy()?;
    /// }
    /// # Ok::<(), morselkind::Error>(())
    /// ```
    pub fn pmem(config: &PmemConfig<'_>) -> Result<Kind> {
        if let Some(size) = config.max_size.filter(|&s| s < PMEM_MIN_SIZE) {
            crate::log::error(|l| {
                l.s(b"Cannot create pmem: invalid size: ")
                    .n(size as u64)
                    .s(b" - size must be equal 0 or greater than or equal to MEMKIND_PMEM_MIN_SIZE");
            });
            return Err(Error::Invalid);
        }
        // A missing directory or a file in its place fails here (ENOENT, ENOTDIR): no stat first.
        let source = Source::tmpfile(config.dir).map_err(|e| {
            crate::log::error(|l| {
                l.s(b"Could not create temporary file: errno=").i(i64::from(e.0)).s(b".");
            });
            Error::Directory(e.0)
        })?;
        let m = crate::machine::machine();
        let dirty_decay = match config.policy {
            UsagePolicy::Default => Duration::from_secs(10),
            UsagePolicy::Conservative => Duration::ZERO,
        };
        Kind::create(KindSpec {
            source,
            config: ProviderConfig { limit: config.max_size, hog: m.env.hog_memory(), ..Default::default() },
            dirty_decay: Some(dirty_decay),
        })
    }

    /// Creates a FIXED kind over the caller's region `[addr, addr+size)`: allocations come
    /// from it and nothing else. Calloc really zeroes (the region may hold anything). A NULL
    /// `addr` or a `size` of 0 gives a kind that serves nothing, as in memkind.
    ///
    /// # Safety
    /// The region must be valid, writable memory that the caller does not otherwise use while
    /// the kind lives.
    pub unsafe fn fixed(addr: *mut u8, size: usize) -> Result<Kind> {
        let start = addr as usize;
        let Some(end) = start.checked_add(size) else {
            crate::log::error(|l| {
                l.s(b"Cannot create fixed kind: the region of ")
                    .n(size as u64)
                    .s(b" bytes wraps around the address space.");
            });
            return Err(Error::Invalid);
        };
        // memkind accepts a NULL address or a size of 0 and makes a kind that serves nothing
        // (every allocation fails with ENOMEM); so do we, never touching such a region.
        Kind::create(KindSpec {
            source: Source::anon(),
            config: ProviderConfig { fixed: Some(start..end), ..Default::default() },
            dirty_decay: None,
        })
    }
}
