//! One error type for the whole Rust API. The C boundary maps it to memkind's codes and messages
//! with a single table (`Error::code`, `Error::message`); nothing else knows those numbers.

use std::fmt;

/// Why a kind operation failed.
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
    /// memkind's numeric code (`MEMKIND_ERROR_*`).
    pub fn code(self) -> i32 {
        TABLE.iter().find(|e| e.0 == self).map_or(-255, |e| e.1)
    }

    /// The error for a memkind code, if it is one.
    pub fn from_code(code: i32) -> Option<Error> {
        TABLE.iter().find(|e| e.1 == code).map(|e| e.0)
    }

    /// The message, without memkind's `<memkind> ` prefix.
    pub fn message(self) -> &'static str {
        TABLE.iter().find(|e| e.0 == self).map_or("Unspecified run-time error", |e| e.2)
    }

    /// The errno a failed C heap call sets for this error.
    pub fn errno(self) -> i32 {
        match self {
            Error::Invalid => libc::EINVAL,
            _ => libc::ENOMEM,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}

impl From<morsel::Errno> for Error {
    fn from(e: morsel::Errno) -> Error {
        match e.0 {
            libc::EINVAL => Error::Invalid,
            libc::ENOMEM | libc::ENOSPC | libc::EFBIG => Error::OutOfMemory,
            _ => Error::Mmap,
        }
    }
}
