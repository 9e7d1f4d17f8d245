//! Shared kinds through the Rust API, between two processes: the test binary runs itself again
//! as the attacher (`SHARE_CHILD` names the socket), so the attacher is a fresh process with
//! nothing mapped in the window. The C API, fork, kill -9 and other users are covered by
//! tests/suites/share.sh.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::Command;

use morselkind::{Access, Attachment, Error, Kind, ShareRecord, SharedConfig};

/// The attacher: receives the kind, then for each (address, length, seed) it is sent checks
/// the block and writes it back with seed + 1, until the exporter sends a zero address.
fn attacher(path: &str) {
    let mut sock = UnixStream::connect(path).expect("connect");
    let att = Attachment::receive(sock.as_fd(), Access::ReadWrite).expect("receive");
    loop {
        let mut msg = [0u8; 24];
        sock.read_exact(&mut msg).expect("read");
        let word = |i: usize| u64::from_le_bytes(msg[i * 8..i * 8 + 8].try_into().unwrap());
        let (addr, len, seed) = (word(0) as usize, word(1) as usize, word(2));
        if addr == 0 {
            break;
        }
        assert!(att.contains(addr, len), "block outside the window");
        // SAFETY: the exporter holds the block for us until we answer.
        let block = unsafe { std::slice::from_raw_parts_mut(addr as *mut u8, len) };
        assert!(block.iter().all(|&b| b == seed as u8), "the block differs");
        block.fill(seed as u8 + 1);
        sock.write_all(&[1]).expect("ack");
    }
    att.detach();
}

#[test]
fn a_shared_kind_is_seen_at_the_same_addresses_and_grows_after_attach() {
    if let Ok(path) = std::env::var("SHARE_CHILD") {
        attacher(&path);
        return;
    }
    let dir = std::env::temp_dir().join(format!("morselkind-share-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sock");
    let listener = UnixListener::bind(&path).expect("bind");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_shared_kind_is_seen_at_the_same_addresses_and_grows_after_attach",
            "--nocapture",
        ])
        .env("SHARE_CHILD", &path)
        .spawn()
        .expect("spawn the attacher");
    let (mut sock, _) = listener.accept().expect("accept");

    let kind = Kind::shared(&SharedConfig { dir: None, max_size: 128 << 20 }).expect("shared kind");
    let (base, len) = kind.share_window().expect("a window");
    assert_eq!(len, 128 << 20);
    kind.send_share(sock.as_fd(), Access::ReadWrite).expect("send");
    // Blocks of growing size, most made after the attach: each visible in the attacher.
    let mut blocks = Vec::new();
    for (i, size) in [64usize, 4096, 100_000, 3 << 20, 40 << 20].into_iter().enumerate() {
        let p = kind.malloc(size).expect("malloc");
        assert!(p.as_ptr() as usize >= base && p.as_ptr() as usize + size <= base + len);
        let seed = 10 + i as u64;
        // SAFETY: a fresh block of `size` bytes.
        unsafe { std::ptr::write_bytes(p.as_ptr(), seed as u8, size) };
        let mut msg = Vec::new();
        for w in [p.as_ptr() as u64, size as u64, seed] {
            msg.extend_from_slice(&w.to_le_bytes());
        }
        sock.write_all(&msg).unwrap();
        let mut ack = [0u8];
        sock.read_exact(&mut ack).unwrap();
        // SAFETY: ours, written back by the attacher before its ack.
        let back = unsafe { std::slice::from_raw_parts(p.as_ptr(), size) };
        assert!(back.iter().all(|&b| b == seed as u8 + 1), "the write-back of block {i} is not here");
        blocks.push(p);
    }
    // The window is the limit.
    assert_eq!(kind.malloc(100 << 20).unwrap_err(), Error::OutOfMemory);
    sock.write_all(&[0u8; 24]).unwrap();
    assert!(child.wait().unwrap().success(), "the attacher failed");
    for p in blocks {
        // SAFETY: ours, not used again.
        unsafe { kind.free(p) };
    }
    // SAFETY: nothing uses the kind any more.
    unsafe { kind.destroy() }.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_records_and_kinds_are_errors() {
    if std::env::var("SHARE_CHILD").is_ok() {
        return;
    }
    assert_eq!(Kind::shared(&SharedConfig { dir: None, max_size: 0 }).unwrap_err(), Error::Invalid);
    assert!(Kind::DEFAULT.export(Access::ReadOnly).is_err());
    assert_eq!(Kind::DEFAULT.share_window(), None);
    let kind = Kind::shared(&SharedConfig { dir: Some(&std::env::temp_dir()), max_size: 5 << 20 }).unwrap();
    assert_eq!(kind.share_window().unwrap().1, 6 << 20, "rounded up to 2 MiB");
    let (fd, record) = kind.export(Access::ReadOnly).unwrap();
    assert!(record.read_only());
    assert_eq!(ShareRecord::from_bytes(&record.to_bytes()), record);
    for bad in [
        ShareRecord { ino: record.ino ^ 1, ..record },
        ShareRecord { size: record.size + (2 << 20), ..record },
        ShareRecord { magic: 0, ..record },
        ShareRecord { flags: 2, ..record },
        ShareRecord { base: record.base + 1, ..record },
    ] {
        assert_eq!(Attachment::attach(&fd, &bad, Access::ReadOnly).unwrap_err(), Error::Invalid, "{bad:?}");
    }
    assert_eq!(Attachment::attach(&fd, &record, Access::ReadWrite).unwrap_err(), Error::Invalid);
    // Here the window is mapped by the kind itself.
    assert_eq!(Attachment::attach(&fd, &record, Access::ReadOnly).unwrap_err(), Error::Sys(libc::EEXIST));
    drop(fd);
    // SAFETY: nothing uses the kind.
    unsafe { kind.destroy() }.unwrap();
}
