//! Fuzzing MEMKIND_MEM_TIERS and MEMKIND_MEM_THRESHOLDS (proptest): text built from the
//! grammar's own pieces, mangled, and arbitrary bytes. The parser never panics; a spec it
//! accepts prints back (`Spec::tiers_string`) to text that parses to the same spec; every
//! refusal is a message without raw control characters (a spec comes from the environment and
//! the message goes to a terminal).
//!
//! A short run is part of the test command (256 cases per property, or `PROPTEST_CASES`); the
//! long run in the session note set `PROPTEST_CASES` high.

use memtier::spec::parse_thresholds;
use memtier::Spec;
use proptest::prelude::*;

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("KIND:".to_string()),
        Just("DRAM".to_string()),
        Just("KMEM_DAX".to_string()),
        Just("FS_DAX".to_string()),
        Just("PATH:".to_string()),
        Just("/tmp".to_string()),
        Just("PMEM_SIZE_LIMIT:".to_string()),
        Just("RATIO:".to_string()),
        Just("POLICY:".to_string()),
        Just("STATIC_RATIO".to_string()),
        Just("DYNAMIC_THRESHOLD".to_string()),
        Just(";".to_string()),
        Just(",".to_string()),
        Just(":".to_string()),
        Just(" ".to_string()),
        "[0-9]{1,22}[KMGkx]?",
        "-[0-9]{1,3}",
        "[\\x00-\\x1f\\x7f]",
        any::<char>().prop_map(String::from),
    ]
}

/// Text made of grammar pieces, mostly in a plausible order, sometimes not.
fn tiers_text() -> impl Strategy<Value = String> {
    let tier = (
        prop::sample::select(vec!["DRAM", "KMEM_DAX", "FS_DAX", "PMEM", ""]),
        prop::option::of("/[a-z]{0,6}"),
        prop::option::of("[0-9]{1,12}[KMG]?"),
        "[0-9]{0,11}",
    )
        .prop_map(|(k, path, limit, ratio)| {
            let mut s = format!("KIND:{k}");
            if let Some(p) = path {
                s.push_str(&format!(",PATH:{p}"));
            }
            if let Some(l) = limit {
                s.push_str(&format!(",PMEM_SIZE_LIMIT:{l}"));
            }
            s.push_str(&format!(",RATIO:{ratio}"));
            s
        });
    prop_oneof![
        (
            prop::collection::vec(tier, 0..4),
            prop::sample::select(vec!["STATIC_RATIO", "DYNAMIC_THRESHOLD", "X"])
        )
            .prop_map(|(tiers, p)| {
                let mut s = tiers.join(";");
                s.push_str(&format!(";POLICY:{p}"));
                s
            }),
        prop::collection::vec(piece(), 0..24).prop_map(|v| v.concat()),
        any::<String>(),
    ]
}

fn thresholds_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        prop::collection::vec(
            (prop::sample::select(vec!["INIT_VAL", "MIN_VAL", "MAX_VAL", "VAL", ""]), "[0-9]{0,21}[KMG]?")
                .prop_map(|(n, v)| format!("{n}:{v}")),
            0..5
        )
        .prop_map(|v| v.join(",")),
        prop::collection::vec(piece(), 0..12).prop_map(|v| v.concat()),
    ])
}

fn no_controls(msg: &str) -> bool {
    !msg.chars().any(char::is_control)
}

proptest! {
    #[test]
    fn tiers_never_panic_and_round_trip(text in tiers_text(), th in thresholds_text()) {
        match Spec::parse(&text, th.as_deref()) {
            Ok(spec) => {
                prop_assert!(!spec.tiers.is_empty());
                let again = Spec::parse(&spec.tiers_string(), None);
                prop_assert_eq!(again.as_ref().map(|s| &s.tiers), Ok(&spec.tiers), "{:?}", text);
                prop_assert_eq!(again.map(|s| s.policy), Ok(spec.policy));
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(!msg.is_empty());
                prop_assert!(no_controls(&msg), "raw control character in {:?}", msg);
            }
        }
    }

    #[test]
    fn thresholds_never_panic(text in thresholds_text(), ntiers in 0usize..5) {
        if let Some(text) = text {
            match parse_thresholds(&text, ntiers) {
                Ok(v) => prop_assert!(v.len() < ntiers.max(1)),
                Err(e) => prop_assert!(no_controls(&e.to_string())),
            }
        }
    }
}
