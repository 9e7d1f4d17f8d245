//! The environment variables morselkind honours: one table, one snapshot, typed readers.
//!
//! [`OPTIONS`] lists every variable with its default and meaning (the CLI prints it). [`Env`]
//! is a snapshot of their values taken once, from the process or from any lookup function,
//! so classification stays a pure function of (topology, environment) and tests inject
//! values without touching the real environment.

use std::collections::BTreeMap;
use std::fmt;

/// One environment variable: its name, its default, and what it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionDesc {
    /// The variable's name, e.g. `MEMKIND_HBW_NODES`.
    pub name: &'static str,
    /// The value used when the variable is not set, in words where there is no literal.
    pub default: &'static str,
    /// What the variable does, in one or two sentences.
    pub description: &'static str,
}

/// Default of `MEMKIND_HBW_THRESHOLD`, in MB/s (200 GB/s), as in memkind.
pub const DEFAULT_HBW_THRESHOLD: u64 = 204_800;

/// Every environment variable morselkind reads. Names and meanings follow memkind 1.14,
/// except `MORSELKIND_*`, which are our own.
pub static OPTIONS: &[OptionDesc] = &[
    OptionDesc {
        name: "MEMKIND_HBW_NODES",
        default: "unset: detect",
        description: "NUMA nodes treated as high-bandwidth memory, as a list such as 1-3,5 \
                      (or \"all\"). Overrides detection by CPU model and by HMAT bandwidth.",
    },
    OptionDesc {
        name: "MEMKIND_DAX_KMEM_NODES",
        default: "unset: detect",
        description: "NUMA nodes treated as KMEM DAX (persistent or CXL memory onlined as system \
                      RAM), as a list such as 2,3. Overrides the dax devices bound to kmem.",
    },
    OptionDesc {
        name: "MEMKIND_HBW_THRESHOLD",
        default: "204800",
        description: "Bandwidth in MB/s at or above which a node counts as high-bandwidth when \
                      nodes are detected from HMAT. A non-negative integer up to 4294967295.",
    },
    OptionDesc {
        name: "MEMKIND_ARENA_NUM_PER_KIND",
        default: "unset: chosen from the CPU count",
        description: "Number of jemalloc arenas per kind, a positive integer up to 2147483647 (read \
                      as memkind reads it: the leading number, as strtoul finds it). Any other value \
                      makes memkind_create_pmem fail with MEMKIND_ERROR_ENVIRON, and the first \
                      allocation from a static kind other than MEMKIND_DEFAULT abort, as in memkind.",
    },
    OptionDesc {
        name: "MEMKIND_HOG_MEMORY",
        default: "0",
        description: "\"1\" keeps freed memory instead of giving it back to the OS. File-backed \
                      kinds give space back only when destroyed.",
    },
    OptionDesc {
        name: "MEMKIND_DEBUG",
        default: "0",
        description: "\"1\" prints memkind-style messages to stderr: MEMKIND_INFO when a static kind \
                      is first set up, MEMKIND_ERROR when a kind is unavailable or a PMEM or FIXED \
                      kind cannot be made, and why. Any other value prints one MEMKIND_WARNING, as \
                      memkind does.",
    },
    OptionDesc {
        name: "MEMKIND_BACKGROUND_THREAD_LIMIT",
        default: "unset: jemalloc's limit (4)",
        description: "Most jemalloc background purging threads (max_background_threads). 0 keeps \
                      jemalloc's limit of 4, and jemalloc refuses more (a MEMKIND_ERROR with \
                      MEMKIND_DEBUG=1). It only limits them: memkind_set_bg_threads turns them on \
                      and off (none runs until it is called, as in memkind). A value strtoul cannot read whole, or above 4294967295, \
                      aborts the program when the library starts.",
    },
    OptionDesc {
        name: "MEMKIND_HEAP_MANAGER",
        default: "JEMALLOC",
        description: "Heap manager: JEMALLOC, or TBB (memkind's Threading Building Blocks \
                      backend), which morselkind does not have: when the library starts it aborts \
                      as memkind does if libtbbmalloc.so.2 cannot be loaded (or lacks its pool \
                      functions), else says on stderr that it keeps jemalloc and, like \
                      memkind with TBB, ignores MEMKIND_BACKGROUND_THREAD_LIMIT. Any other value \
                      means JEMALLOC.",
    },
    OptionDesc {
        name: "MEMKIND_MEM_TIERS",
        default: "unset: no tiering",
        description: "Tiering setup for the malloc interposer: \
                      KIND:DRAM|KMEM_DAX|FS_DAX[,PATH:dir][,PMEM_SIZE_LIMIT:10G],RATIO:n;...;\
                      POLICY:STATIC_RATIO|DYNAMIC_THRESHOLD; the policy is required, also for one \
                      tier (KIND:DRAM,RATIO:1;POLICY:STATIC_RATIO).",
    },
    OptionDesc {
        name: "MEMKIND_MEM_THRESHOLDS",
        default: "unset: INIT_VAL:1024,MIN_VAL:513,MAX_VAL:1536, then steps of 1024",
        description: "Size thresholds of the DYNAMIC_THRESHOLD tiering policy: \
                      INIT_VAL:n,MIN_VAL:n,MAX_VAL:n;... one group per pair of tiers.",
    },
    OptionDesc {
        name: "MEMKIND_MEM_TIERING_LOG_LEVEL",
        default: "0",
        description: "Tiering log level, as in memkind's libmemtier: 0 (errors), 1 (also information: \
                      the library loaded and unloaded, FS_DAX directories not on DAX), 2 (also \
                      debug: the level set). Any other value prints one error and aborts, as memkind \
                      does.",
    },
    OptionDesc {
        name: "MORSELKIND_DEBUG",
        default: "0",
        description: "\"1\" prints morselkind's own decisions to stderr (MORSELKIND_INFO): detected \
                      nodes, the nodes each static kind uses, huge page choices and fallbacks, kinds \
                      found unavailable and why, the background thread limit. It also checks every \
                      free of a cached block and aborts with one message on a double free (no cost \
                      when unset).",
    },
];

/// A variable was set to a value that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvError {
    /// The variable's name.
    pub var: &'static str,
    /// The value it had.
    pub value: String,
    /// What is wrong with that value.
    pub reason: &'static str,
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}: {}", self.var, self.value, self.reason)
    }
}

impl std::error::Error for EnvError {}

/// `MEMKIND_HEAP_MANAGER`'s choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeapManager {
    /// The default.
    Jemalloc,
    /// memkind's TBB backend, which morselkind does not have: the caller decides what to do.
    Tbb,
}

/// A snapshot of the variables in [`OPTIONS`].
///
/// Only names listed in [`OPTIONS`] are kept, so a typo in a test's variable name shows up
/// as a value that has no effect rather than a silent mismatch with the table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Env {
    values: BTreeMap<&'static str, String>,
}

impl Env {
    /// No variables set: every option at its default.
    pub fn empty() -> Env {
        Env::default()
    }

    /// Reads every variable of [`OPTIONS`] through `lookup`, e.g. a closure over a map.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Env {
        let values = OPTIONS.iter().filter_map(|o| lookup(o.name).map(|v| (o.name, v))).collect();
        Env { values }
    }

    /// Convenience for tests: `Env::from_pairs(&[("MEMKIND_HBW_NODES", "2,3")])`.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Env {
        Env::from_lookup(|name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    /// The process's environment, read the way memkind reads it (`secure_getenv`): in a
    /// setuid or otherwise privileged process nothing is read and every option keeps its
    /// default. Values that are not valid UTF-8 are ignored.
    ///
    /// This allocates, so call it where allocation is allowed, not from inside an
    /// allocation path of this allocator.
    pub fn from_process() -> Env {
        if crate::sys::is_secure_execution() {
            return Env::empty();
        }
        Env::from_lookup(|name| std::env::var(name).ok())
    }

    /// The raw value of a variable, if it is set (to anything, even the empty string).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// `MEMKIND_HBW_NODES`, unparsed: node lists are checked against a topology, which
    /// [`crate::Topology::hbw_nodes`] does.
    pub fn hbw_nodes(&self) -> Option<&str> {
        self.get("MEMKIND_HBW_NODES")
    }

    /// `MEMKIND_DAX_KMEM_NODES`, unparsed.
    pub fn dax_kmem_nodes(&self) -> Option<&str> {
        self.get("MEMKIND_DAX_KMEM_NODES")
    }

    /// `MEMKIND_HBW_THRESHOLD` in MB/s, or [`DEFAULT_HBW_THRESHOLD`]. Like memkind, a value
    /// above `u32::MAX` or with anything but digits is an error.
    pub fn hbw_threshold(&self) -> Result<u64, EnvError> {
        const VAR: &str = "MEMKIND_HBW_THRESHOLD";
        match self.get(VAR) {
            None => Ok(DEFAULT_HBW_THRESHOLD),
            Some(v) => parse_uint(VAR, v, u64::from(u32::MAX)),
        }
    }

    /// `MEMKIND_ARENA_NUM_PER_KIND`: `None` when unset, else a value in `1..=i32::MAX`.
    /// Rounding and defaults are the caller's business.
    ///
    /// Read as memkind 1.14 reads it, `strtoul(value, NULL, 10)`: the leading number counts and
    /// anything after it is ignored (`"4x"` is 4), no digits is 0, `-1` wraps to `ULONG_MAX`.
    /// 0 and values above `INT_MAX` are errors (memkind's MEMKIND_ERROR_ENVIRON).
    pub fn arena_num_per_kind(&self) -> Result<Option<u32>, EnvError> {
        const VAR: &str = "MEMKIND_ARENA_NUM_PER_KIND";
        let Some(v) = self.get(VAR) else {
            return Ok(None);
        };
        match strtoul_prefix(v) {
            0 => Err(EnvError { var: VAR, value: v.to_string(), reason: "must be a positive integer" }),
            n if n > i32::MAX as u64 => {
                Err(EnvError { var: VAR, value: v.to_string(), reason: "larger than 2147483647" })
            }
            n => Ok(Some(n as u32)),
        }
    }

    /// `MEMKIND_HOG_MEMORY`: only the exact value `"1"` turns it on, as in memkind.
    pub fn hog_memory(&self) -> bool {
        self.get("MEMKIND_HOG_MEMORY") == Some("1")
    }

    /// `MEMKIND_DEBUG`: only the exact value `"1"` turns it on, as in memkind.
    pub fn debug(&self) -> bool {
        self.get("MEMKIND_DEBUG") == Some("1")
    }

    /// `MORSELKIND_DEBUG`: only the exact value `"1"` turns it on.
    pub fn morselkind_debug(&self) -> bool {
        self.get("MORSELKIND_DEBUG") == Some("1")
    }

    /// `MEMKIND_BACKGROUND_THREAD_LIMIT`: `None` when unset, `Some(0)` for "jemalloc's own
    /// limit", else the limit.
    ///
    /// Read exactly as memkind 1.14 reads it, `strtoul(value, &end, 10)` with an error when
    /// the result exceeds `UINT_MAX`, `*end` is not the end or errno is set: leading white
    /// space and a sign are accepted, `-0` is 0, the empty string is 0 (no digits, but `end`
    /// is the end), and `-1` wraps to `ULONG_MAX`, which is too large. memkind aborts the
    /// program on such an error; the caller decides.
    pub fn background_thread_limit(&self) -> Result<Option<u32>, EnvError> {
        const VAR: &str = "MEMKIND_BACKGROUND_THREAD_LIMIT";
        let Some(v) = self.get(VAR) else {
            return Ok(None);
        };
        match strtoul_whole(v) {
            Some(n) if n <= u64::from(u32::MAX) => Ok(Some(n as u32)),
            Some(_) => Err(EnvError { var: VAR, value: v.to_string(), reason: "larger than 4294967295" }),
            None => Err(EnvError { var: VAR, value: v.to_string(), reason: "not read whole by strtoul" }),
        }
    }

    /// `MEMKIND_HEAP_MANAGER`: `"TBB"` selects TBB; anything else, or nothing, is jemalloc.
    pub fn heap_manager(&self) -> HeapManager {
        match self.get("MEMKIND_HEAP_MANAGER") {
            Some("TBB") => HeapManager::Tbb,
            _ => HeapManager::Jemalloc,
        }
    }

    /// `MEMKIND_MEM_TIERS`, unparsed (the tiering crate owns its grammar).
    pub fn mem_tiers(&self) -> Option<&str> {
        self.get("MEMKIND_MEM_TIERS")
    }

    /// `MEMKIND_MEM_THRESHOLDS`, unparsed (the tiering crate owns its grammar).
    pub fn mem_thresholds(&self) -> Option<&str> {
        self.get("MEMKIND_MEM_THRESHOLDS")
    }

    /// `MEMKIND_MEM_TIERING_LOG_LEVEL`: 0 when unset, else 0, 1 or 2.
    ///
    /// Read as memkind 1.14's libmemtier reads it (measured): `strtoul` must read the whole
    /// value (the empty string is 0), and the result, cut to an `unsigned`, must be at most 2;
    /// so `" 1"`, `"+1"` and `"01"` are 1, `"4294967297"` is 1, and `"1 "`, `"-1"` and `"banana"`
    /// are errors, on which memkind aborts.
    pub fn tiering_log_level(&self) -> Result<u8, EnvError> {
        const VAR: &str = "MEMKIND_MEM_TIERING_LOG_LEVEL";
        let Some(v) = self.get(VAR) else {
            return Ok(0);
        };
        match strtoul_whole(v) {
            Some(n) if (n as u32) <= 2 => Ok(n as u8),
            _ => Err(EnvError { var: VAR, value: v.to_string(), reason: "not 0, 1 or 2" }),
        }
    }
}

/// A decimal integer no larger than `max`. Surrounding whitespace is allowed; signs are not,
/// because `strtoull("-1")` quietly wraps and we would rather say no.
fn parse_uint(var: &'static str, value: &str, max: u64) -> Result<u64, EnvError> {
    let err = |reason| EnvError { var, value: value.to_string(), reason };
    let t = value.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("not a non-negative decimal integer"));
    }
    let n: u64 = t.parse().map_err(|_| err("too large"))?;
    if n > max {
        return Err(err("too large"));
    }
    Ok(n)
}

/// What glibc's `strtoul(s, &end, 10)` does on a 64-bit target.
struct Strtoul {
    /// The result: the leading number (after C-locale white space and a sign), negated modulo
    /// 2⁶⁴ after a `-`; 0 when there is none; `u64::MAX` on overflow.
    value: u64,
    /// Whether `end` is the end of `s` (no digits: `end` is `s` itself).
    whole: bool,
    /// Whether errno was set (ERANGE).
    erange: bool,
}

fn strtoul(s: &str) -> Strtoul {
    let b = s.as_bytes();
    let mut i = b.iter().take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')).count();
    let negative = match b.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return Strtoul { value: 0, whole: s.is_empty(), erange: false };
    }
    let whole = i + digits == b.len();
    let mut n: u64 = 0;
    for &c in &b[i..i + digits] {
        match n.checked_mul(10).and_then(|n| n.checked_add(u64::from(c - b'0'))) {
            Some(v) => n = v,
            None => return Strtoul { value: u64::MAX, whole, erange: true },
        }
    }
    Strtoul { value: if negative { n.wrapping_neg() } else { n }, whole, erange: false }
}

/// glibc's `strtoul(s, NULL, 10)`: the leading number (after C-locale white space and a sign),
/// whatever follows; 0 when there is none, `u64::MAX` on overflow, negated modulo 2⁶⁴ after `-`.
pub fn strtoul_prefix(s: &str) -> u64 {
    strtoul(s).value
}

/// glibc's `strtoul(s, &end, 10)` when it consumes all of `s` without setting errno: the
/// value, else `None` (trailing characters, or ERANGE).
fn strtoul_whole(s: &str) -> Option<u64> {
    let r = strtoul(s);
    (r.whole && !r.erange).then_some(r.value)
}

/// Why a size such as `"10G"` could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SizeParseError {
    /// The text that was given.
    pub input: String,
    /// What was wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for SizeParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid size {:?}: {}", self.input, self.reason)
    }
}

impl std::error::Error for SizeParseError {}

/// Parses a byte size: decimal digits with an optional binary suffix `K`, `M`, `G` or `T`
/// (either case, 1024-based), e.g. `"4096"`, `"64K"`, `"10G"`. Overflow is an error.
pub fn parse_size(input: &str) -> Result<u64, SizeParseError> {
    let err = |reason| SizeParseError { input: input.to_string(), reason };
    let t = input.trim();
    let (digits, shift) = match t.as_bytes().last() {
        Some(b'k' | b'K') => (&t[..t.len() - 1], 10),
        Some(b'm' | b'M') => (&t[..t.len() - 1], 20),
        Some(b'g' | b'G') => (&t[..t.len() - 1], 30),
        Some(b't' | b'T') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("expected digits with an optional K, M, G or T suffix"));
    }
    let n: u64 = digits.parse().map_err(|_| err("too large"))?;
    n.checked_mul(1u64 << shift).ok_or_else(|| err("too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_unique_and_prefixed() {
        let mut names: Vec<_> = OPTIONS.iter().map(|o| o.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
        assert!(names.iter().all(|n| n.starts_with("MEMKIND_") || n.starts_with("MORSELKIND_")));
    }

    #[test]
    fn defaults() {
        let env = Env::empty();
        assert_eq!(env.hbw_threshold().unwrap(), 204_800);
        assert_eq!(env.arena_num_per_kind().unwrap(), None);
        assert!(!env.hog_memory() && !env.debug() && !env.morselkind_debug());
        assert_eq!(env.background_thread_limit().unwrap(), None);
        assert_eq!(env.heap_manager(), HeapManager::Jemalloc);
        assert_eq!(env.tiering_log_level().unwrap(), 0);
        assert_eq!(env.mem_tiers(), None);
    }

    #[test]
    fn values_and_errors() {
        let env = Env::from_pairs(&[
            ("MEMKIND_HBW_THRESHOLD", "1000"),
            ("MEMKIND_ARENA_NUM_PER_KIND", "3"),
            ("MEMKIND_HOG_MEMORY", "1"),
            ("MEMKIND_DEBUG", "yes"),
            ("MEMKIND_HEAP_MANAGER", "TBB"),
            ("MEMKIND_MEM_TIERING_LOG_LEVEL", "2"),
            ("NOT_AN_OPTION", "x"),
        ]);
        assert_eq!(env.hbw_threshold().unwrap(), 1000);
        assert_eq!(env.arena_num_per_kind().unwrap(), Some(3));
        assert!(env.hog_memory());
        assert!(!env.debug(), "only \"1\" enables debug");
        assert_eq!(env.heap_manager(), HeapManager::Tbb);
        assert_eq!(env.tiering_log_level().unwrap(), 2);
        assert_eq!(env.get("NOT_AN_OPTION"), None);

        for bad in ["-1", "abc", "", "4294967296", "1.5"] {
            let env = Env::from_pairs(&[("MEMKIND_HBW_THRESHOLD", bad)]);
            assert!(env.hbw_threshold().is_err(), "{bad:?}");
        }
    }

    /// MEMKIND_ARENA_NUM_PER_KIND and MEMKIND_MEM_TIERING_LOG_LEVEL, value by value as memkind
    /// 1.14 was measured to take them (create_pmem succeeds or answers -12; libmemtier runs or
    /// aborts).
    #[test]
    fn arena_num_and_log_level_read_like_memkind() {
        let arenas = |v: &str| Env::from_pairs(&[("MEMKIND_ARENA_NUM_PER_KIND", v)]).arena_num_per_kind();
        for (v, n) in [("1", 1), ("4x", 4), (" 3", 3), ("+2", 2), ("2147483647", i32::MAX as u32)] {
            assert_eq!(arenas(v), Ok(Some(n)), "{v:?}");
        }
        for v in ["0", "abc", "", "-1", "2147483648", "99999999999999999999999"] {
            assert!(arenas(v).is_err(), "{v:?}");
        }
        let level = |v: &str| Env::from_pairs(&[("MEMKIND_MEM_TIERING_LOG_LEVEL", v)]).tiering_log_level();
        for (v, n) in [("", 0), ("0", 0), ("-0", 0), (" 1", 1), ("01", 1), ("+1", 1), ("2", 2), ("00002", 2)]
        {
            assert_eq!(level(v), Ok(n), "{v:?}");
        }
        assert_eq!(level("4294967297"), Ok(1), "cut to an unsigned, as memkind does");
        for v in ["banana", "3", "1 ", " ", "-1", "1x", "0x1", "18446744073709551617"] {
            assert!(level(v).is_err(), "{v:?}");
        }
    }

    #[test]
    fn background_thread_limit_reads_like_strtoul() {
        let read =
            |v: &str| Env::from_pairs(&[("MEMKIND_BACKGROUND_THREAD_LIMIT", v)]).background_thread_limit();
        // Values memkind 1.14 accepts (measured: the program runs on).
        for (v, n) in [
            ("0", 0),
            ("1", 1),
            ("99999", 99_999),
            ("4294967295", u32::MAX),
            ("", 0),
            (" 1", 1),
            ("+1", 1),
            ("-0", 0),
            ("-18446744073709551615", 1),
        ] {
            assert_eq!(read(v), Ok(Some(n)), "{v:?}");
        }
        // Values it aborts on.
        for v in ["abc", "-1", "1x", "1 ", "   ", "+", "-", "0x1", "4294967296", "18446744073709551616"] {
            let e = read(v).expect_err(v);
            assert_eq!((e.var, e.value.as_str()), ("MEMKIND_BACKGROUND_THREAD_LIMIT", v));
        }
    }

    /// README.md's table of environment variables is this table: same names, order, defaults
    /// and descriptions (the README may add backticks and must escape `|` as `\|`).
    #[test]
    fn readme_table_matches() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
        let readme = std::fs::read_to_string(path).expect("README.md at the workspace root");
        let rows: Vec<Vec<String>> = readme
            .lines()
            .filter(|l| l.starts_with("| `MEMKIND_") || l.starts_with("| `MORSELKIND_"))
            .map(|l| {
                let l = l.trim().trim_start_matches('|').trim_end_matches('|');
                l.replace("\\|", "\u{1}")
                    .split('|')
                    .map(|cell| cell.trim().replace('`', "").replace('\u{1}', "|"))
                    .collect()
            })
            .collect();
        let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        let want: Vec<&str> = OPTIONS.iter().map(|o| o.name).collect();
        assert_eq!(names, want, "README's variables differ from OPTIONS");
        for (row, o) in rows.iter().zip(OPTIONS) {
            assert_eq!(row.len(), 3, "README row of {}: {row:?}", o.name);
            assert_eq!(row[1], o.default, "README's default of {}", o.name);
            assert_eq!(row[2], o.description, "README's description of {}", o.name);
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("64K").unwrap(), 64 << 10);
        assert_eq!(parse_size("2m").unwrap(), 2 << 20);
        assert_eq!(parse_size("10G").unwrap(), 10 << 30);
        assert_eq!(parse_size("1T").unwrap(), 1 << 40);
        for bad in ["", "G", "1.5G", "-1", "10GB", "99999999999999999999", "17179869184G"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }
}
