//! Kernel-style list syntax: `"0-3,5,7-8"`.
//!
//! sysfs prints CPU and node sets this way (`cpulist`, `online`, `has_memory`), and the
//! `MEMKIND_*_NODES` variables use the same syntax, so one parser serves both.

use std::fmt;

/// A NUMA node number, as the kernel numbers them.
pub type NodeId = u32;

/// Why a list such as `"0-3,5"` could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListParseError {
    /// The text that was given.
    pub input: String,
    /// What was wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for ListParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid list {:?}: {}", self.input, self.reason)
    }
}

impl std::error::Error for ListParseError {}

/// Parses a kernel-style list (`"0-3,5,7-8"`) into a sorted list without duplicates.
///
/// Whitespace around the list and around each item is ignored, and an empty (or
/// all-whitespace) string is the empty list, because that is how sysfs prints an empty set
/// (a CPU-less node's `cpulist` is `"\n"`). Ranges are inclusive; a reversed range
/// (`"3-1"`) is an error, as it is for the kernel's `bitmap_parselist`.
pub fn parse_list(input: &str) -> Result<Vec<u32>, ListParseError> {
    let err = |reason| ListParseError { input: input.to_string(), reason };
    let mut out = Vec::new();
    let text = input.trim();
    if text.is_empty() {
        return Ok(out);
    }
    for item in text.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(err("empty item"));
        }
        let (lo, hi) = match item.split_once('-') {
            Some((a, b)) => (parse_num(a.trim()), parse_num(b.trim())),
            None => (parse_num(item), parse_num(item)),
        };
        let (Some(lo), Some(hi)) = (lo, hi) else {
            return Err(err("not a number or range"));
        };
        if lo > hi {
            return Err(err("range ends before it starts"));
        }
        // Guard against "0-4294967295" allocating 16 GiB: no machine has that many nodes
        // or CPUs, and the kernel's own limits are far below this.
        if hi - lo >= 1 << 20 {
            return Err(err("range too large"));
        }
        out.extend(lo..=hi);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Digits only: no sign, no `0x`, so `"+1"` or `"-1"` cannot sneak in.
fn parse_num(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Formats every element, comma-separated: `[0, 1, 2, 5]` gives `"0,1,2,5"`.
///
/// This is what `memkind-hbw-nodes` and `memkind-auto-dax-kmem-nodes` print.
pub fn format_list(items: &[u32]) -> String {
    let mut sorted = items.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// Formats in the compact sysfs form, runs folded into ranges: `[0, 1, 2, 5]` gives
/// `"0-2,5"`. [`parse_list`] reads it back to the same list.
pub fn format_ranges(items: &[u32]) -> String {
    let mut sorted = items.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            end += 1;
            i += 1;
        }
        parts.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges_and_singles() {
        assert_eq!(parse_list("0-3,5,7-8").unwrap(), vec![0, 1, 2, 3, 5, 7, 8]);
        assert_eq!(parse_list(" 2 , 0-1 \n").unwrap(), vec![0, 1, 2]);
        assert_eq!(parse_list("3,3,1-3").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_list("\n").unwrap(), Vec::<u32>::new());
        assert_eq!(parse_list("").unwrap(), Vec::<u32>::new());
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["a", "1,", ",1", "3-1", "1-", "-1", "+1", "1--2", "0x1", "0-99999999"] {
            assert!(parse_list(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn formats_both_ways() {
        assert_eq!(format_list(&[5, 0, 1, 2]), "0,1,2,5");
        assert_eq!(format_ranges(&[5, 0, 1, 2, 7, 8]), "0-2,5,7-8");
        assert_eq!(format_ranges(&[]), "");
        assert_eq!(format_list(&[]), "");
        let back = parse_list(&format_ranges(&[9, 3, 4, 5, 11])).unwrap();
        assert_eq!(back, vec![3, 4, 5, 9, 11]);
    }
}
