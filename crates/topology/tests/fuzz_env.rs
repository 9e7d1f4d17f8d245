//! Fuzzing every environment option (proptest): arbitrary values, including control bytes,
//! signs, white space and numbers past 64 bits, never panic, and the numeric options are read
//! exactly as glibc's `strtoul` reads them, checked against the real `strtoul` call by call.
//!
//! A short run is part of the test command (proptest's 256 cases per property, or
//! `PROPTEST_CASES`); the long run in the session note set `PROPTEST_CASES` high.

use std::ffi::CString;

use proptest::prelude::*;
use topology::options::{strtoul_prefix, OPTIONS};
use topology::Env;

/// glibc: (value, whole string read, errno set).
fn libc_strtoul(s: &str) -> Option<(u64, bool, bool)> {
    let c = CString::new(s).ok()?;
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: a NUL-terminated string and a place for the end pointer; errno is the thread's.
    unsafe {
        *libc::__errno_location() = 0;
        let v = libc::strtoul(c.as_ptr(), &mut end, 10);
        let errno = *libc::__errno_location();
        let read = end.offset_from(c.as_ptr()) as usize;
        Some((v as u64, read == s.len(), errno != 0))
    }
}

/// Values that look like what people type, and what they mistype.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ \t]{0,2}[+-]?[0-9]{0,22}[ a-z]{0,2}",
        "[0-9]{1,25}",
        "-?(0x)?[0-9a-fA-F]{0,6}",
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..12).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

proptest! {
    #[test]
    fn strtoul_prefix_is_glibcs(s in value()) {
        if let Some((v, _, erange)) = libc_strtoul(&s) {
            prop_assert_eq!(strtoul_prefix(&s), v, "{:?} (erange {})", s, erange);
        }
    }

    #[test]
    fn numeric_options_read_as_memkind(s in value()) {
        let Some((v, whole, errno)) = libc_strtoul(&s) else { return Ok(()) };
        // MEMKIND_BACKGROUND_THREAD_LIMIT: strtoul whole, no errno, at most UINT_MAX.
        let env = Env::from_pairs(&[("MEMKIND_BACKGROUND_THREAD_LIMIT", &s)]);
        let want = (whole && !errno && v <= u64::from(u32::MAX)).then_some(v as u32);
        prop_assert_eq!(env.background_thread_limit().ok().flatten(), want, "{:?}", s);
        // MEMKIND_MEM_TIERING_LOG_LEVEL: strtoul whole, cut to unsigned, at most 2.
        let env = Env::from_pairs(&[("MEMKIND_MEM_TIERING_LOG_LEVEL", &s)]);
        let want = (whole && !errno && (v as u32) <= 2).then_some(v as u8);
        prop_assert_eq!(env.tiering_log_level().ok(), want, "{:?}", s);
        // MEMKIND_ARENA_NUM_PER_KIND: strtoul's leading number, 1..=INT_MAX.
        let env = Env::from_pairs(&[("MEMKIND_ARENA_NUM_PER_KIND", &s)]);
        let want = (1..=i32::MAX as u64).contains(&v).then_some(v as u32);
        prop_assert_eq!(env.arena_num_per_kind().ok().flatten(), want, "{:?}", s);
    }

    /// Every option, any value: every accessor answers (a value or an error), none panics.
    #[test]
    fn every_option_any_value(values in prop::collection::vec(value(), OPTIONS.len())) {
        let pairs: Vec<(&str, &str)> = OPTIONS.iter().map(|o| o.name).zip(values.iter().map(String::as_str)).collect();
        let env = Env::from_pairs(&pairs);
        let _ = env.hbw_threshold();
        let _ = env.arena_num_per_kind();
        let _ = env.hog_memory();
        let _ = env.debug();
        let _ = env.morselkind_debug();
        let _ = env.background_thread_limit();
        let _ = env.heap_manager();
        let _ = env.tiering_log_level();
        if let Some(nodes) = env.hbw_nodes() {
            let _ = topology::parse_list(nodes);
        }
        if let Some(nodes) = env.dax_kmem_nodes() {
            let _ = topology::parse_list(nodes);
        }
        for e in [env.hbw_threshold().err(), env.tiering_log_level().err()].into_iter().flatten() {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}
