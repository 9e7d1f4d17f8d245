//! `morselkind demo`: the machine's kinds, then a real workload (a large hashbrown map built
//! through allocator-api2) in DEFAULT, HUGE and a PMEM kind side by side, with what went where.
//! Every claim it prints about placement is checked; any failed check makes the exit status 1.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use hashbrown::{DefaultHashBuilder, HashMap};
use morselkind::{Kind, PmemConfig, PMEM_MIN_SIZE};

use crate::report::{self, describe_error, human, kind_label, ranges};

/// Arguments of `demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Entries in each kind's hash map (each bucket holds a u64 key and 64 bytes). The default
    /// fills 2^21 buckets to hashbrown's 7/8 load: a 146 MiB table per kind.
    #[arg(long, default_value_t = 1_800_000, value_parser = parse_entries)]
    entries: usize,
    /// Directory for the PMEM kind's file [default: a fresh directory in the temp directory,
    /// removed at the end].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Size limit of the PMEM kind, e.g. 512M or 2G: 0 (only the filesystem limits it) or at
    /// least 16M (MEMKIND_PMEM_MIN_SIZE).
    #[arg(long, default_value = "0", value_parser = parse_pmem_max)]
    pmem_max: usize,
    /// Leave out the HUGE kind (THP-backed morsels), even where THP is usable.
    #[arg(long)]
    no_huge: bool,
}

fn parse_size(s: &str) -> Result<usize, String> {
    topology::parse_size(s).map(|n| n as usize).map_err(|e| e.to_string())
}

/// A PMEM kind's size limit, with the rule `run` (PMEM_SIZE_LIMIT) and memkind apply.
fn parse_pmem_max(s: &str) -> Result<usize, String> {
    let n = parse_size(s)?;
    if n != 0 && n < PMEM_MIN_SIZE {
        return Err(format!("{n} bytes; it must be 0 (no limit) or at least 16M ({PMEM_MIN_SIZE})"));
    }
    Ok(n)
}

/// The entries of each map: at least one, or there is nothing to put anywhere or check.
fn parse_entries(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("it must be at least 1 (each kind's map needs an entry to show where it went)".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

type Value = [u8; 64];
type Map = HashMap<u64, Value, DefaultHashBuilder, Kind>;

/// A bijection on u64 (splitmix64's finaliser), so keys are distinct and spread out.
fn key(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The value stored under `k`: its bytes first, then bytes derived from it.
fn value(k: u64) -> Value {
    let mut v = [0u8; 64];
    for (j, b) in v.iter_mut().enumerate() {
        *b = (k >> ((j % 8) * 8)) as u8 ^ (j / 8) as u8;
    }
    v
}

/// Passed and failed checks, printed as they happen.
#[derive(Default)]
struct Checks {
    passed: usize,
    failed: Vec<String>,
}

impl Checks {
    fn check(&mut self, ok: bool, what: impl AsRef<str>) -> bool {
        let what = what.as_ref();
        if ok {
            self.passed += 1;
            println!("  ok    {what}");
        } else {
            self.failed.push(what.to_string());
            println!("  FAIL  {what}");
        }
        ok
    }
}

/// One kind's map and what was measured while building it.
struct Run {
    label: String,
    kind: Kind,
    map: Map,
    insert_ns: f64,
    lookup_ns: f64,
    detected: Option<Kind>,
    anon_huge_delta: i64,
}

/// A field of /proc/self/status or /proc/self/smaps_rollup, in bytes (0 when absent).
fn proc_kib(file: &str, field: &str) -> i64 {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                let rest = l.strip_prefix(field)?.strip_prefix(':')?;
                rest.trim().trim_end_matches("kB").trim().parse::<i64>().ok()
            })
        })
        .map_or(0, |kib| kib * 1024)
}

fn anon_huge() -> i64 {
    proc_kib("/proc/self/smaps_rollup", "AnonHugePages")
}

fn build(label: String, kind: Kind, n: usize, checks: &mut Checks) -> Option<Run> {
    let huge_before = anon_huge();
    let mut map: Map = HashMap::with_hasher_in(DefaultHashBuilder::default(), kind);
    if let Err(e) = map.try_reserve(n) {
        let why = match e {
            hashbrown::TryReserveError::AllocError { layout } => {
                format!("the kind refused a {} table", human(layout.size() as u64))
            }
            hashbrown::TryReserveError::CapacityOverflow => "too many entries".to_string(),
        };
        checks.check(false, format!("{label}: room for {n} entries ({why})"));
        return None;
    }
    let t = Instant::now();
    for i in 0..n as u64 {
        let k = key(i);
        map.insert(k, value(k));
    }
    let insert_ns = t.elapsed().as_nanos() as f64 / n.max(1) as f64;

    let t = Instant::now();
    let mut hits = 0usize;
    for i in 0..n as u64 {
        let k = key(i);
        if let Some(v) = map.get(&k) {
            hits += usize::from(v[..8] == k.to_le_bytes());
        }
    }
    let lookup_ns = t.elapsed().as_nanos() as f64 / n.max(1) as f64;
    black_box(hits);

    let intact = (0..n as u64).all(|i| map.get(&key(i)) == Some(&value(key(i))));
    let misses = (n as u64..n as u64 + (n as u64 / 8).max(1)).all(|i| !map.contains_key(&key(i)));
    checks.check(
        map.len() == n && hits == n && intact && misses,
        format!("{label}: {n} entries read back intact, absent keys absent"),
    );

    let detected = map.get(&key(0)).and_then(|v| Kind::detect(v.as_ptr()));
    checks.check(
        detected == Some(kind),
        format!(
            "{label}: Kind::detect(&map[k]) says {}",
            detected.map_or("not ours".to_string(), |k| kind_label(k, "pmem"))
        ),
    );
    Some(Run { label, kind, map, insert_ns, lookup_ns, detected, anon_huge_delta: anon_huge() - huge_before })
}

/// Open descriptors and mappings of files under `dir` (deleted ones included).
fn open_files_under(dir: &Path) -> (Vec<String>, usize) {
    let prefix = format!("{}/", dir.display());
    let fds = std::fs::read_dir("/proc/self/fd")
        .map(|rd| {
            rd.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .map(|p| p.display().to_string())
                .filter(|p| p.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default();
    let maps = std::fs::read_to_string("/proc/self/maps")
        .map(|m| m.lines().filter(|l| l.contains(&prefix)).count())
        .unwrap_or(0);
    (fds, maps)
}

fn entries(dir: &Path) -> BTreeSet<std::ffi::OsString> {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.file_name())).collect())
        .unwrap_or_default()
}

fn print_kinds() {
    let cpu_node = report::current_node();
    println!("kinds on this machine (nodes for a thread on CPU node {cpu_node}):");
    for k in report::static_kinds(cpu_node) {
        match k.state {
            Ok((nodes, _)) => println!("  {:<42} available    nodes {}", k.kind.name(), ranges(&nodes)),
            Err(e) => println!("  {:<42} unavailable  {}", k.kind.name(), describe_error(e)),
        }
    }
}

fn row(name: &str, cells: impl Iterator<Item = String>) {
    let mut line = format!("  {name:<26}");
    for c in cells {
        line.push_str(&format!(" {c:>18}"));
    }
    println!("{line}");
}

pub fn run(args: &DemoArgs) -> ExitCode {
    let started = Instant::now();
    let mut checks = Checks::default();
    let n = args.entries;
    print_kinds();

    // The PMEM kind's directory: a fresh one of our own unless --dir names one.
    let (dir, own_dir) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => {
            let d = std::env::temp_dir().join(format!("morselkind-demo-{}", std::process::id()));
            if let Err(e) = std::fs::create_dir(&d) {
                eprintln!("morselkind demo: cannot create {}: {e}", d.display());
                return ExitCode::from(1);
            }
            (d, true)
        }
    };
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let before = entries(&dir);
    let dax = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
        .is_ok_and(|c| morsel::sys::dir_supports_map_sync(&c));

    println!(
        "\nworkload: hashbrown HashMap<u64, [u8; 64]> with {n} entries, through allocator-api2, in each kind"
    );
    let mut kinds: Vec<(String, Kind)> = vec![("DEFAULT".into(), Kind::DEFAULT)];
    if !args.no_huge {
        match Kind::HUGE.ready() {
            Ok(()) => kinds.push(("HUGE".into(), Kind::HUGE)),
            Err(e) => println!("  (HUGE left out: {})", describe_error(e)),
        }
    }
    // --pmem-max 0 is no limit, as in memkind and PMEM_SIZE_LIMIT.
    let max_size = (args.pmem_max != 0).then_some(args.pmem_max);
    let pmem = match Kind::pmem(&PmemConfig { max_size, ..PmemConfig::new(&dir) }) {
        Ok(k) => k,
        Err(e) => {
            checks.check(false, format!("PMEM kind in {}: {}", dir.display(), describe_error(e)));
            return finish(&checks, started, own_dir.then_some(&dir));
        }
    };
    let backing = match pmem.source() {
        Some(s) if s.used_tmpfile() => "an O_TMPFILE file",
        _ => "an unlinked temporary file",
    };
    println!(
        "  PMEM kind #{}: {backing} in {} ({}), limit {}, capacity {}",
        pmem.index(),
        dir.display(),
        if dax { "DAX: MAP_SYNC works" } else { "not DAX: page cache" },
        max_size.map_or_else(|| "none".to_string(), |n| human(n as u64)),
        pmem.capacity().map_or_else(describe_error, |c| human(c as u64)),
    );
    kinds.push(("PMEM".into(), pmem));

    let status_before = ["RssAnon", "RssFile", "RssShmem"].map(|f| proc_kib("/proc/self/status", f));
    println!("\nchecks:");
    let runs: Vec<Run> =
        kinds.iter().filter_map(|(label, kind)| build(label.clone(), *kind, n, &mut checks)).collect();
    let status_after = ["RssAnon", "RssFile", "RssShmem"].map(|f| proc_kib("/proc/self/status", f));

    morselkind::update_cached_stats();
    let (fds, maps) = open_files_under(&dir);
    checks.check(
        fds.len() == 1 && maps >= 1,
        format!("PMEM file open while the kind lives: {} ({} mapping(s))", fds.join(", "), maps),
    );
    for r in &runs {
        let s = r.kind.stats();
        let table = r.map.allocation_size();
        let morselkind::MorselTotals { count: morsels, mapped } = r.kind.morsels();
        checks.check(
            s.allocated >= table && s.resident >= table && morsels >= 1 && mapped >= table,
            format!(
                "{}: the kind's stats hold its {} table (allocated {}, in {} morsel(s))",
                r.label,
                human(table as u64),
                human(s.allocated as u64),
                morsels
            ),
        );
    }
    if let Some(r) = runs.iter().find(|r| r.kind == pmem) {
        let table = r.map.allocation_size();
        let file = pmem.source().map_or(0, |s| s.file_bytes()) as usize;
        checks.check(
            pmem.committed() >= table && file >= table,
            format!(
                "PMEM: file space committed {} and allocated on disk {} cover the table",
                human(pmem.committed() as u64),
                human(file as u64)
            ),
        );
    }

    println!("\nwhat went where:");
    row("", runs.iter().map(|r| r.label.clone()));
    row("kind", runs.iter().map(|r| kind_label(r.kind, "pmem")));
    row("insert (first touch incl.)", runs.iter().map(|r| format!("{:.1} ns/op", r.insert_ns)));
    row("lookup", runs.iter().map(|r| format!("{:.1} ns/op", r.lookup_ns)));
    row("table (one allocation)", runs.iter().map(|r| human(r.map.allocation_size() as u64)));
    row("Kind::detect(entry)", runs.iter().map(|r| r.detected.map_or("-".into(), |k| kind_label(k, "pmem"))));
    row("allocated", runs.iter().map(|r| human(r.kind.stats().allocated as u64)));
    row("active", runs.iter().map(|r| human(r.kind.stats().active as u64)));
    row("resident (jemalloc)", runs.iter().map(|r| human(r.kind.stats().resident as u64)));
    row("morsels", runs.iter().map(|r| r.kind.morsels().count.to_string()));
    row("mapped (address space)", runs.iter().map(|r| human(r.kind.morsels().mapped as u64)));
    row("file committed", runs.iter().map(|r| file_cell(r.kind, r.kind.committed() as u64)));
    row(
        "file blocks (st_blocks)",
        runs.iter().map(|r| file_cell(r.kind, r.kind.source().map_or(0, |s| s.file_bytes()))),
    );
    row("THP AnonHugePages gained", runs.iter().map(|r| human(r.anon_huge_delta.max(0) as u64)));
    let d = |i: usize| human((status_after[i] - status_before[i]).max(0) as u64);
    println!("  process RSS gained: anonymous {}, file-backed {}, shmem {}", d(0), d(1), d(2));

    // Give everything back: drop the maps, purge, then destroy the PMEM kind.
    let peak_file = pmem.source().map_or(0, |s| s.file_bytes());
    let can_punch = pmem.source().is_some_and(|s| s.can_punch());
    let pmem_ptr =
        runs.iter().find(|r| r.kind == pmem).and_then(|r| r.map.get(&key(0))).map(|v| v.as_ptr() as usize);
    drop(runs);
    pmem.purge();
    morselkind::update_cached_stats();
    let after = pmem.stats();
    let file_after = pmem.source().map_or(0, |s| s.file_bytes());
    println!(
        "\nafter dropping the maps and purging PMEM: allocated {}, file committed {}, file blocks {} (peak {})",
        human(after.allocated as u64),
        human(pmem.committed() as u64),
        human(file_after),
        human(peak_file)
    );
    println!("\nchecks:");
    checks.check(after.allocated < (1 << 20), "PMEM: its allocations are gone after the maps are dropped");
    if can_punch && peak_file > 0 {
        checks.check(
            file_after <= peak_file / 4,
            format!(
                "PMEM: purge punched the file's blocks back ({} -> {})",
                human(peak_file),
                human(file_after)
            ),
        );
    }
    // SAFETY: every allocation of the PMEM kind lived in the maps dropped above; nothing else
    // holds a pointer into it, and no other thread uses it.
    let destroyed = unsafe { pmem.destroy() };
    checks.check(destroyed.is_ok(), format!("PMEM kind destroyed ({destroyed:?})"));
    if let Some(p) = pmem_ptr {
        checks.check(
            Kind::detect(p as *const u8).is_none(),
            "after destroy, Kind::detect of its old memory is None",
        );
    }
    let (fds, maps) = open_files_under(&dir);
    checks.check(fds.is_empty() && maps == 0, "after destroy, no descriptor or mapping of the file is left");
    let now = entries(&dir);
    let left: Vec<_> = now.difference(&before).collect();
    checks.check(left.is_empty(), format!("after destroy, {} holds no new file {left:?}", dir.display()));
    finish(&checks, started, own_dir.then_some(&dir))
}

fn file_cell(kind: Kind, bytes: u64) -> String {
    if kind.source().is_some_and(|s| s.fd().is_some()) {
        human(bytes)
    } else {
        "-".to_string()
    }
}

fn finish(checks: &Checks, started: Instant, own_dir: Option<&PathBuf>) -> ExitCode {
    if let Some(d) = own_dir {
        if let Err(e) = std::fs::remove_dir(d) {
            println!("  FAIL  removing {}: {e}", d.display());
            return ExitCode::from(1);
        }
    }
    println!(
        "\n{} checks passed, {} failed ({:.1} s)",
        checks.passed,
        checks.failed.len(),
        started.elapsed().as_secs_f64()
    );
    if checks.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        for f in &checks.failed {
            println!("failed: {f}");
        }
        ExitCode::from(1)
    }
}
