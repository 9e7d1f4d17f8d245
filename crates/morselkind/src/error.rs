//! One error type for the whole Rust API. The C boundary maps it to memkind's codes and messages
//! with a single table (`Error::code`, `Error::message`); nothing else knows those numbers.

use std::fmt;

/// Why a kind operation failed.
///
/// Each error is one of memkind's `MEMKIND_ERROR_*` codes ([`Error::code`]) with its message
/// ([`Error::message`]); [`Display`](fmt::Display) adds the cause where there is more to say
/// than memkind's message, such as the errno of a PMEM directory that cannot hold a file.
///
/// ```
/// use morselkind::{Error, Kind, PmemConfig};
/// use std::path::Path;
///
/// let e = Kind::pmem(&PmemConfig::new(Path::new("/no/such/directory"))).unwrap_err();
/// assert_eq!(e, Error::Directory(libc::ENOENT));
/// assert_eq!(e.code(), -13); // MEMKIND_ERROR_INVALID, as memkind says
/// assert_eq!(e.os_errno(), Some(libc::ENOENT));
/// assert!(e.to_string().ends_with("No such file or directory (ENOENT)"), "{e}");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The machine cannot serve this kind (no such nodes, no huge pages reserved, ...).
    Unavailable,
    /// Placing memory on nodes (`mbind`) failed.
    Mbind,
    /// Mapping memory (`mmap`) failed.
    Mmap,
    /// Out of memory, or a size-limited kind is full.
    OutOfMemory,
    /// An environment variable could not be parsed.
    Environ,
    /// A bad argument: size, alignment, path, policy.
    Invalid,
    /// A PMEM kind's directory cannot hold its file: the errno of the attempt (ENOENT,
    /// ENOTDIR, EACCES, EROFS, ...). memkind's code for it is `MEMKIND_ERROR_INVALID`.
    Directory(i32),
    /// A system call failed, with this errno. memkind's code for it goes by the errno:
    /// `MEMKIND_ERROR_INVALID` for EINVAL, `MEMKIND_ERROR_MALLOC` for ENOMEM, ENOSPC and EFBIG,
    /// `MEMKIND_ERROR_MMAP` for any other.
    Sys(i32),
    /// The kind table is full.
    TooMany,
    /// Huge pages could not be had.
    Hugetlb,
    /// The requested memory type is not available.
    MemtypeNotAvailable,
    /// The operation failed.
    OperationFailed,
    /// A malformed operations table (kept for memkind's code -17).
    BadOps,
    /// jemalloc could not create an arena.
    ArenasCreate,
    /// Any other run-time failure.
    Runtime,
}

/// The result type of the Rust API.
pub type Result<T> = std::result::Result<T, Error>;

/// memkind's error codes and messages, in one table.
const TABLE: &[(Error, i32, &str)] = &[
    (Error::Unavailable, -1, "Requested memory kind is not available"),
    (Error::Mbind, -2, "Call to mbind() failed"),
    (Error::Mmap, -3, "Call to mmap() failed"),
    (Error::OutOfMemory, -6, "Call to malloc() failed"),
    (Error::Environ, -12, "Error parsing environment variable (MEMKIND_*)"),
    (Error::Invalid, -13, "Invalid input arguments to memkind routine"),
    (Error::TooMany, -15, "Attempted to initialize more than maximum (512) number of kinds"),
    (Error::BadOps, -17, "memkind_ops structure is poorly formed (missing or incorrect functions)"),
    (Error::Hugetlb, -18, "unable to allocate huge pages"),
    (Error::MemtypeNotAvailable, -20, "Requested memory type is not available"),
    (Error::OperationFailed, -21, "Operation failed"),
    (Error::ArenasCreate, -22, "Call to jemalloc's arenas.create () failed"),
    (Error::Runtime, -255, "Unspecified run-time error"),
];

impl Error {
    /// The table entry that gives this error's code and message.
    fn entry(self) -> Error {
        match self {
            Error::Directory(_) | Error::Sys(libc::EINVAL) => Error::Invalid,
            Error::Sys(libc::ENOMEM | libc::ENOSPC | libc::EFBIG) => Error::OutOfMemory,
            Error::Sys(_) => Error::Mmap,
            e => e,
        }
    }

    /// memkind's numeric code (`MEMKIND_ERROR_*`).
    ///
    /// ```
    /// assert_eq!(morselkind::Error::OutOfMemory.code(), -6); // MEMKIND_ERROR_MALLOC
    /// ```
    pub fn code(self) -> i32 {
        TABLE.iter().find(|e| e.0 == self.entry()).map_or(-255, |e| e.1)
    }

    /// The error for a memkind code, if it is one.
    pub fn from_code(code: i32) -> Option<Error> {
        TABLE.iter().find(|e| e.1 == code).map(|e| e.0)
    }

    /// memkind's message for the code, without memkind's `<memkind> ` prefix (what
    /// `memkind_error_message` gives C).
    pub fn message(self) -> &'static str {
        TABLE.iter().find(|e| e.0 == self.entry()).map_or("Unspecified run-time error", |e| e.2)
    }

    /// The errno a failed C heap call sets for this error.
    pub fn errno(self) -> i32 {
        match self.entry() {
            Error::Invalid => libc::EINVAL,
            _ => libc::ENOMEM,
        }
    }

    /// The operating system's errno behind the error, where one is known.
    pub fn os_errno(self) -> Option<i32> {
        match self {
            Error::Directory(e) | Error::Sys(e) => Some(e),
            _ => None,
        }
    }

    /// The error as one number, for an atomic (see `KindAlloc`); 0 is never an error. The code
    /// in the low half, the errno above it, and the top bit for [`Error::Sys`].
    pub(crate) fn to_bits(self) -> u64 {
        let sys = if matches!(self, Error::Sys(_)) { 1 << 63 } else { 0 };
        u64::from(self.code() as u32) | (u64::from(self.os_errno().unwrap_or(0) as u32) << 32) | sys
    }

    /// The error from [`Error::to_bits`]; `None` for 0.
    pub(crate) fn from_bits(bits: u64) -> Option<Error> {
        let e = Error::from_code(bits as u32 as i32)?;
        let errno = (bits >> 32) as u32 as i32 & i32::MAX;
        match e {
            _ if bits >> 63 == 1 => Some(Error::Sys(errno)),
            Error::Invalid if errno != 0 => Some(Error::Directory(errno)),
            e => Some(e),
        }
    }
}

/// The symbolic name of an errno, for messages that say the cause (`EACCES`).
pub fn errno_name(errno: i32) -> Option<&'static str> {
    Some(match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EIO => "EIO",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ELOOP => "ELOOP",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EDQUOT => "EDQUOT",
        _ => return None,
    })
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Directory(errno) => {
                write!(f, "the directory cannot hold the kind's file: {}", describe_errno(errno))
            }
            Error::Sys(errno) => write!(f, "{}: {}", self.message(), describe_errno(errno)),
            e => f.write_str(e.message()),
        }
    }
}

/// `Permission denied (EACCES)`: the system's text for an errno, and its name.
pub fn describe_errno(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    // io::Error's text ends in " (os error N)"; the name says more.
    let text = text.split(" (os error").next().unwrap_or(&text).to_string();
    match errno_name(errno) {
        Some(name) => format!("{text} ({name})"),
        None => format!("{text} (errno {errno})"),
    }
}

impl std::error::Error for Error {}

/// A failed system call keeps its errno ([`Error::Sys`]); its C code is the one memkind gives
/// that errno.
impl From<morsel::Errno> for Error {
    fn from(e: morsel::Errno) -> Error {
        Error::Sys(e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_system_error_keeps_its_errno_and_memkinds_code() {
        for (errno, code) in [
            (libc::EINVAL, -13),
            (libc::ENOMEM, -6),
            (libc::ENOSPC, -6),
            (libc::EFBIG, -6),
            (libc::EAGAIN, -3),
        ] {
            let e = Error::from(morsel::Errno(errno));
            assert_eq!((e.code(), e.os_errno()), (code, Some(errno)));
            assert_eq!(e.errno(), if errno == libc::EINVAL { libc::EINVAL } else { libc::ENOMEM });
            assert_eq!(Error::from_bits(e.to_bits()), Some(e));
        }
        for e in [Error::Directory(libc::EINVAL), Error::Invalid, Error::Mmap, Error::OutOfMemory] {
            assert_eq!(Error::from_bits(e.to_bits()), Some(e));
        }
    }
}
