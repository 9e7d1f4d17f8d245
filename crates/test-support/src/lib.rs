//! What the workspace's integration tests share, so that each helper is written once: scratch
//! directories and what a filesystem says about them ([`fs`]), what this process holds as
//! /proc/self shows it ([`proc_self`]), and [`serial`] for the tests of one binary that read
//! process-wide state.
//!
//! A dev-dependency only: nothing here may be used by a library crate, and nothing here knows
//! the workspace's types (the helpers that need a `Morsel` or a `Kind` stay beside their tests).

pub mod fs;
pub mod proc_self;

use std::sync::{Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::new(());

/// Tests that read process-wide state (fds, mappings, free blocks, fault counters, kind table
/// entries) hold this for their whole run, so the other tests of the same binary cannot disturb
/// the numbers. A panicking holder does not poison it for the rest.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}
