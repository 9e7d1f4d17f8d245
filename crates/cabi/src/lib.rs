//! What every C entry point of libmorselkind and libmorseltier needs, in one place: a panic
//! never unwinds into C ([`guard`]), errno is set the C way ([`set_errno`]), and messages reach
//! stderr whole without touching the heap or Rust's stderr lock ([`write_stderr`]), so they are
//! safe inside an allocator.

/// Runs `f`; a panic returns `fail` instead of unwinding across `extern "C"`.
#[inline(always)]
pub fn guard<T>(fail: T, f: impl FnOnce() -> T) -> T {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(fail)
}

/// Sets the calling thread's errno.
#[inline]
pub fn set_errno(e: i32) {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() = e };
}

/// The calling thread's errno.
#[inline]
pub fn errno() -> i32 {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// Writes `bytes` to fd 2, retrying short writes and EINTR; gives up on any other error (there
/// is nobody left to tell). errno is left as it was.
pub fn write_stderr(bytes: &[u8]) {
    let saved = errno();
    let mut off = 0;
    while off < bytes.len() {
        // SAFETY: writes from a live buffer to fd 2.
        let n = unsafe { libc::write(2, bytes[off..].as_ptr().cast(), bytes.len() - off) };
        if n > 0 {
            off += n as usize;
        } else if n < 0 && errno() == libc::EINTR {
            continue;
        } else {
            break;
        }
    }
    set_errno(saved);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_catches_and_errno_round_trips() {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        assert_eq!(guard(7, || -> i32 { panic!("boom") }), 7);
        std::panic::set_hook(prev);
        assert_eq!(guard(7, || 3), 3);
        set_errno(libc::ENOMEM);
        write_stderr(b"");
        assert_eq!(errno(), libc::ENOMEM);
    }
}
