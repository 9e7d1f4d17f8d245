//! morselkind.h's shared kinds: a kind another process maps at the same addresses
//! (`morselkind::share`).

use std::ffi::{c_char, c_int, c_void};
use std::os::fd::BorrowedFd;

use morselkind::{Access, Attachment, Error, Kind, ShareRecord, SharedConfig};

use crate::memkind::{path_of, store_kind, MEMKIND_SUCCESS};
use crate::{code, guard, kind_of, set_errno, MemkindT};

/// `MORSELKIND_SHARE_READONLY`.
const SHARE_READONLY: c_int = 1;

/// The C code of a failed share call; errno says which system error it was, if any.
fn fail(e: Error) -> c_int {
    set_errno(e.os_errno().unwrap_or(e.errno()));
    code(e)
}

fn access_of(flags: c_int) -> Result<Access, Error> {
    match flags {
        0 => Ok(Access::ReadWrite),
        SHARE_READONLY => Ok(Access::ReadOnly),
        _ => Err(Error::Invalid),
    }
}

fn borrowed(fd: c_int) -> Result<BorrowedFd<'static>, Error> {
    if fd < 0 {
        return Err(Error::Sys(libc::EBADF));
    }
    // SAFETY: only used for the duration of the call that got `fd` from C, which vouches for
    // it being open (a closed one makes the system calls answer EBADF).
    Ok(unsafe { BorrowedFd::borrow_raw(fd) })
}

#[no_mangle]
pub unsafe extern "C" fn morselkind_create_shared(
    dir: *const c_char,
    max_size: usize,
    kind: *mut MemkindT,
) -> c_int {
    guard(code(Error::Runtime), || {
        if kind.is_null() {
            return fail(Error::Invalid);
        }
        // SAFETY: the caller passes a C string or null.
        let dir = unsafe { path_of(dir) };
        let made = Kind::shared(&SharedConfig { dir: dir.as_deref(), max_size });
        if let Err(e) = &made {
            set_errno(e.errno());
        }
        store_kind(kind, made)
    })
}

#[no_mangle]
pub unsafe extern "C" fn morselkind_share_export(
    kind: MemkindT,
    flags: c_int,
    fd: *mut c_int,
    record: *mut ShareRecord,
) -> c_int {
    guard(code(Error::Runtime), || {
        let (Some(k), false, false) = (kind_of(kind), fd.is_null(), record.is_null()) else {
            return fail(Error::Invalid);
        };
        match access_of(flags).and_then(|a| k.export(a)) {
            Ok((owned, r)) => {
                // SAFETY: both checked non-null; the caller passes writable storage.
                unsafe {
                    *fd = std::os::fd::IntoRawFd::into_raw_fd(owned);
                    *record = r;
                }
                MEMKIND_SUCCESS
            }
            Err(e) => fail(e),
        }
    })
}

#[no_mangle]
pub extern "C" fn morselkind_share_send(kind: MemkindT, sock: c_int, flags: c_int) -> c_int {
    guard(code(Error::Runtime), || {
        let Some(k) = kind_of(kind) else { return fail(Error::Invalid) };
        match access_of(flags).and_then(|a| Ok((a, borrowed(sock)?))).and_then(|(a, s)| k.send_share(s, a)) {
            Ok(()) => MEMKIND_SUCCESS,
            Err(e) => fail(e),
        }
    })
}

fn store_attachment(out: *mut *mut Attachment, r: Result<Attachment, Error>) -> c_int {
    match r {
        Ok(a) => {
            // SAFETY: checked non-null by every caller.
            unsafe { *out = Box::into_raw(Box::new(a)) };
            MEMKIND_SUCCESS
        }
        Err(e) => fail(e),
    }
}

#[no_mangle]
pub unsafe extern "C" fn morselkind_share_attach(
    fd: c_int,
    record: *const ShareRecord,
    flags: c_int,
    att: *mut *mut Attachment,
) -> c_int {
    guard(code(Error::Runtime), || {
        if att.is_null() || record.is_null() {
            return fail(Error::Invalid);
        }
        // SAFETY: the caller passes a readable record; read unaligned, copied.
        let r = unsafe { record.read_unaligned() };
        let done = access_of(flags).and_then(|a| Attachment::attach(borrowed(fd)?, &r, a));
        store_attachment(att, done)
    })
}

#[no_mangle]
pub unsafe extern "C" fn morselkind_share_receive(
    sock: c_int,
    flags: c_int,
    att: *mut *mut Attachment,
) -> c_int {
    guard(code(Error::Runtime), || {
        if att.is_null() {
            return fail(Error::Invalid);
        }
        let done = access_of(flags).and_then(|a| Attachment::receive(borrowed(sock)?, a));
        store_attachment(att, done)
    })
}

#[no_mangle]
pub unsafe extern "C" fn morselkind_attachment_base(att: *const Attachment) -> *mut c_void {
    // SAFETY: the caller passes an attachment from this library, or null.
    unsafe { att.as_ref() }.map_or(std::ptr::null_mut(), |a| a.base() as *mut c_void)
}

#[no_mangle]
pub unsafe extern "C" fn morselkind_attachment_size(att: *const Attachment) -> usize {
    // SAFETY: the caller passes an attachment from this library, or null.
    unsafe { att.as_ref() }.map_or(0, Attachment::len)
}

#[no_mangle]
pub unsafe extern "C" fn morselkind_share_detach(att: *mut Attachment) -> c_int {
    guard(code(Error::Runtime), || {
        if att.is_null() {
            return fail(Error::Invalid);
        }
        // SAFETY: the caller passes an attachment from this library, once; dropping it unmaps.
        drop(unsafe { Box::from_raw(att) });
        MEMKIND_SUCCESS
    })
}
