//! Messages on stderr.
//!
//! - memkind's messages: with `MEMKIND_DEBUG=1`, `MEMKIND_INFO:` and `MEMKIND_ERROR:` lines;
//!   `MEMKIND_FATAL:` lines always (each is followed by `abort()`). Like memkind, any other value
//!   of `MEMKIND_DEBUG` prints one `MEMKIND_WARNING:` line, at the first place a message could
//!   be printed.
//! - morselkind's own, with `MORSELKIND_DEBUG=1`: `MORSELKIND_INFO:` lines saying what it decided
//!   and why (nodes, huge pages, unavailable kinds, background threads).
//!
//! Some messages are printed while a kind is set up, possibly from inside an allocation of the
//! very allocator being set up, so a line is built in a buffer on the stack and written with one
//! `write(2)`; nothing here formats on the heap. Reading the environment allocates, once: the
//! library's constructor (or the first kind set up) does it before any message.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use morsel::sys::{decimal, write_stderr};

use crate::machine::env;

const READ: u8 = 1;
const MEMKIND_DEBUG: u8 = 2;
const MORSELKIND_DEBUG: u8 = 4;
const UNKNOWN_DEBUG: u8 = 8;

static FLAGS: AtomicU8 = AtomicU8::new(0);
static WARNED: AtomicBool = AtomicBool::new(false);

/// The debug variables' flags, read on first use (the start-up reads them before anything else).
pub(crate) fn flags() -> u8 {
    let f = FLAGS.load(Ordering::Relaxed);
    if f != 0 {
        return f;
    }
    let e = env();
    let mut f = READ;
    if e.debug() {
        f |= MEMKIND_DEBUG;
    } else if e.get("MEMKIND_DEBUG").is_some() {
        f |= UNKNOWN_DEBUG;
    }
    if e.morselkind_debug() {
        f |= MORSELKIND_DEBUG;
    }
    FLAGS.store(f, Ordering::Relaxed);
    f
}

/// Whether `MORSELKIND_DEBUG=1`: morselkind's own decisions are printed.
pub fn morselkind_debug() -> bool {
    flags() & MORSELKIND_DEBUG != 0
}

/// Whether any message other than a fatal one can be printed (memkind's warning about an
/// unknown `MEMKIND_DEBUG` value included), so a caller can skip working out what to say.
pub fn any_debug() -> bool {
    flags() & (MEMKIND_DEBUG | MORSELKIND_DEBUG | UNKNOWN_DEBUG) != 0
}

/// One line of a message, built on the stack (longer lines are cut, ending in "...").
pub struct Line {
    buf: [u8; 1024],
    len: usize,
    cut: bool,
}

impl Line {
    fn new(prefix: &[u8]) -> Line {
        let mut l = Line { buf: [0; 1024], len: 0, cut: false };
        l.s(prefix).s(b": ");
        l
    }

    /// Appends bytes.
    pub fn s(&mut self, bytes: &[u8]) -> &mut Line {
        let room = self.buf.len() - 4 - self.len;
        let n = bytes.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
        self.cut |= n < bytes.len();
        self
    }

    /// Appends an unsigned number in decimal.
    pub fn n(&mut self, v: u64) -> &mut Line {
        let mut b = [0u8; 20];
        self.s(decimal(v, &mut b))
    }

    /// Appends a signed number in decimal.
    pub fn i(&mut self, v: i64) -> &mut Line {
        if v < 0 {
            self.s(b"-");
        }
        self.n(v.unsigned_abs())
    }

    /// Appends a node list such as `0,2,3`, or `none`.
    pub fn nodes(&mut self, nodes: impl IntoIterator<Item = u32>) -> &mut Line {
        let mut first = true;
        for n in nodes {
            if !first {
                self.s(b",");
            }
            first = false;
            self.n(u64::from(n));
        }
        if first {
            self.s(b"none");
        }
        self
    }

    fn write(&mut self) {
        if self.cut {
            self.buf[self.len..self.len + 3].copy_from_slice(b"...");
            self.len += 3;
        }
        self.buf[self.len] = b'\n';
        write_stderr(&[&self.buf[..self.len + 1]]);
    }
}

/// A place where memkind logs: its `MEMKIND_WARNING` about an unknown `MEMKIND_DEBUG` value
/// comes first, once, whether or not the message itself is printed.
fn memkind_site() -> u8 {
    let f = flags();
    if f & UNKNOWN_DEBUG != 0 && !WARNED.swap(true, Ordering::Relaxed) {
        let value = env().get("MEMKIND_DEBUG").unwrap_or_default();
        let mut l = Line::new(b"MEMKIND_WARNING");
        l.s(b"debug option \"").s(value.as_bytes()).s(b"\" unknown; Try man memkind for available options.");
        l.write();
    }
    f
}

/// A `MEMKIND_INFO:` line, printed with `MEMKIND_DEBUG=1`; `build` runs only then.
pub fn info(build: impl FnOnce(&mut Line)) {
    if memkind_site() & MEMKIND_DEBUG != 0 {
        let mut l = Line::new(b"MEMKIND_INFO");
        build(&mut l);
        l.write();
    }
}

/// A `MEMKIND_ERROR:` line, printed with `MEMKIND_DEBUG=1`; `build` runs only then.
pub fn error(build: impl FnOnce(&mut Line)) {
    if memkind_site() & MEMKIND_DEBUG != 0 {
        let mut l = Line::new(b"MEMKIND_ERROR");
        build(&mut l);
        l.write();
    }
}

/// A `MEMKIND_FATAL:` line, always printed, then `abort()`, as memkind does.
pub fn fatal(build: impl FnOnce(&mut Line)) -> ! {
    memkind_site();
    let mut l = Line::new(b"MEMKIND_FATAL");
    build(&mut l);
    l.write();
    std::process::abort()
}

/// A `MORSELKIND_INFO:` line, printed with `MORSELKIND_DEBUG=1`; `build` runs only then.
pub fn note(build: impl FnOnce(&mut Line)) {
    if morselkind_debug() {
        let mut l = Line::new(b"MORSELKIND_INFO");
        build(&mut l);
        l.write();
    }
}

/// A `MORSELKIND_WARNING:` line, always printed: something was asked for that morselkind does
/// not do.
pub fn warning(build: impl FnOnce(&mut Line)) {
    let mut l = Line::new(b"MORSELKIND_WARNING");
    build(&mut l);
    l.write();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_not_overflowed() {
        let mut l = Line::new(b"MEMKIND_INFO");
        l.s(b"x").n(42).i(-7).s(b" ").nodes([0, 2, 3]).s(b" ").nodes([]);
        assert_eq!(&l.buf[..l.len], b"MEMKIND_INFO: x42-7 0,2,3 none");
        let long = [b'a'; 3000];
        l.s(&long);
        assert!(l.cut && l.len == l.buf.len() - 4);
    }
}
