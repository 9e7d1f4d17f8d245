//! `morselkind run [--tiers SPEC] -- PROGRAM ARGS...`: runs an unmodified program on tiered
//! memory, through libmorseltier (`LD_PRELOAD`), then says what each tier received.
//!
//! The spec is checked here, before the program starts (with the parser libmorseltier uses), so
//! a typo costs an error message, not a run. The library appends its counters to a report file
//! at each process's exit (`MORSELKIND_TIER_REPORT`); every process of the run counts (a
//! compiler driver and the compilers it starts, say), and the summary adds them up. The summary
//! goes to stderr, so the program's stdout stays its own. We exit with the program's status.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::ErrorKind;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use memtier::spec::{THRESHOLDS_VAR, TIERS_VAR};
use memtier::{Spec, TierKind};
use morselkind::StaticKind;

/// The preload library, looked for next to this executable.
const LIBRARY: &str = "libmorseltier.so";

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Tiers and policy in MEMKIND_MEM_TIERS syntax, e.g.
    /// "KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:/tmp,RATIO:4;POLICY:STATIC_RATIO".
    /// Default: $MEMKIND_MEM_TIERS, else DRAM plus KMEM_DAX 1:1 where the machine has a KMEM DAX
    /// node, else DRAM plus a file-backed FS_DAX tier in the temp directory, 1:1.
    #[arg(long, value_name = "SPEC")]
    tiers: Option<String>,
    /// DYNAMIC_THRESHOLD's thresholds in MEMKIND_MEM_THRESHOLDS syntax, e.g.
    /// "INIT_VAL:1024,MIN_VAL:512,MAX_VAL:4096" (default: $MEMKIND_MEM_THRESHOLDS).
    #[arg(long, value_name = "SPEC")]
    thresholds: Option<String>,
    /// Print no summary after the program exits.
    #[arg(short, long)]
    quiet: bool,
    /// The program to run and its arguments (after `--`).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "PROGRAM")]
    command: Vec<OsString>,
}

/// What `run` chose to run with.
struct Plan {
    spec: Spec,
    tiers_text: String,
    thresholds_text: Option<String>,
    origin: &'static str,
}

fn has_kmem_dax() -> bool {
    let k = StaticKind::DaxKmem.kind();
    match k.malloc(32) {
        Ok(p) => {
            // SAFETY: a block of `k`, just allocated.
            unsafe { k.free(p) };
            true
        }
        Err(_) => false,
    }
}

fn default_tiers() -> String {
    if has_kmem_dax() {
        "KIND:DRAM,RATIO:1;KIND:KMEM_DAX,RATIO:1;POLICY:STATIC_RATIO".to_string()
    } else {
        let tmp = std::env::temp_dir();
        format!("KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:{},RATIO:1;POLICY:STATIC_RATIO", tmp.display())
    }
}

/// The parser's messages name MEMKIND_MEM_TIERS and MEMKIND_MEM_THRESHOLDS; say where the text
/// really came from (`--tiers`, the environment, or the default).
fn name_origin(message: String, tiers_origin: &str, thresholds_origin: &str) -> String {
    if let Some(rest) = message.strip_prefix(TIERS_VAR) {
        format!("{tiers_origin}{rest}")
    } else if let Some(rest) = message.strip_prefix(THRESHOLDS_VAR) {
        format!("{thresholds_origin}{rest}")
    } else {
        message
    }
}

fn plan(args: &RunArgs) -> Result<Plan, String> {
    let env_tiers = std::env::var(TIERS_VAR).ok().filter(|s| !s.is_empty());
    let (tiers_text, origin) = match (&args.tiers, env_tiers) {
        (Some(t), _) => (t.clone(), "--tiers"),
        (None, Some(t)) => (t, TIERS_VAR),
        (None, None) => (default_tiers(), "the default"),
    };
    let thresholds_origin = if args.thresholds.is_some() { "--thresholds" } else { THRESHOLDS_VAR };
    let tiers_origin = if origin == "the default" { "the default tiers" } else { origin };
    let named = |e: String| name_origin(e, tiers_origin, thresholds_origin);
    let thresholds_text = args.thresholds.clone().or_else(|| std::env::var(THRESHOLDS_VAR).ok());
    let spec = Spec::parse(&tiers_text, thresholds_text.as_deref()).map_err(|e| named(e.to_string()))?;
    memtier::check_paths(&spec).map_err(|e| named(e.to_string()))?;
    if spec.tiers.iter().any(|t| t.kind == TierKind::KmemDax) && !has_kmem_dax() {
        return Err(format!(
            "{tiers_origin}: KIND:KMEM_DAX, but this machine has no KMEM DAX node \
             (memory-only NUMA node; MEMKIND_DAX_KMEM_NODES can name one)"
        ));
    }
    Ok(Plan { spec, tiers_text, thresholds_text, origin })
}

fn library() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("MORSELKIND_TIER_LIBRARY") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    // The build tree (target/release), scripts/install.sh's PREFIX/bin and PREFIX/lib, and the
    // Debian package's /usr/bin and /usr/lib/<multiarch>.
    let multiarch = format!("../lib/{}-linux-gnu", std::env::consts::ARCH);
    let candidates = [dir.join(LIBRARY), dir.join("../lib").join(LIBRARY), dir.join(multiarch).join(LIBRARY)];
    match candidates.iter().find(|p| p.is_file()) {
        Some(lib) => Ok(std::fs::canonicalize(lib).unwrap_or_else(|_| lib.clone())),
        None => Err(format!(
            "{LIBRARY} not found next to {} nor in ../lib (build it with `cargo build --release`, \
             or name it in MORSELKIND_TIER_LIBRARY)",
            exe.display()
        )),
    }
}

/// A fresh, empty report file in the temp directory.
fn report_file() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir();
    for n in 0..1000u32 {
        let p = dir.join(format!("morselkind-run-{}-{n}.report", std::process::id()));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&p) {
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create a report file in {}: {e}", dir.display())),
        }
    }
    Err(format!("cannot create a report file in {}", dir.display()))
}

fn set_job_signals(action: libc::sighandler_t) {
    for sig in [libc::SIGINT, libc::SIGQUIT] {
        // SAFETY: installs SIG_IGN or SIG_DFL, which need no handler code.
        unsafe { libc::signal(sig, action) };
    }
}

pub fn run(args: &RunArgs) -> ExitCode {
    let plan = match plan(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("morselkind run: {e}");
            return ExitCode::from(2);
        }
    };
    let lib = match library() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("morselkind run: {e}");
            return ExitCode::from(2);
        }
    };
    let report = match report_file() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("morselkind run: {e}");
            return ExitCode::from(2);
        }
    };
    let mut preload = lib.into_os_string();
    if let Some(old) = std::env::var_os("LD_PRELOAD").filter(|o| !o.is_empty()) {
        preload.push(":");
        preload.push(old);
    }
    let (program, rest) = args.command.split_first().expect("clap requires a program");
    let mut cmd = Command::new(program);
    cmd.args(rest)
        .env("LD_PRELOAD", preload)
        .env(TIERS_VAR, &plan.tiers_text)
        .env("MORSELKIND_TIER_REPORT", &report);
    match &plan.thresholds_text {
        Some(t) => cmd.env(THRESHOLDS_VAR, t),
        None => cmd.env_remove(THRESHOLDS_VAR),
    };
    // The banner first, so whatever the program (or libmorseltier in it) says comes after it.
    if !args.quiet {
        eprint!("{}", banner(&plan));
    }
    // Like a shell running a job: ^C and ^\ are the program's; we stay to report.
    set_job_signals(libc::SIG_IGN);
    let started = std::time::Instant::now();
    let status = cmd.status();
    let wall_ms = started.elapsed().as_secs_f64() * 1e3;
    set_job_signals(libc::SIG_DFL);
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    let _ = std::fs::remove_file(&report);
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            eprintln!("morselkind run: cannot run {}: {e}", Path::new(program).display());
            return ExitCode::from(if e.kind() == ErrorKind::NotFound { 127 } else { 126 });
        }
    };
    if !args.quiet {
        eprint!("{}", summary(&plan, &text, wall_ms));
    }
    if let Some(code) = status.code() {
        return ExitCode::from(code as u8);
    }
    let sig = status.signal().unwrap_or(libc::SIGKILL);
    // Die the way the program died, so the caller's shell sees the same status.
    // SAFETY: raising a signal on ourselves, with its default action restored.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
    ExitCode::from(128 + sig as u8)
}

/// One tier's counters over every process of the run.
#[derive(Default)]
struct TierSum {
    kind: String,
    ratio: u64,
    allocs: u64,
    bytes: u64,
    /// DYNAMIC_THRESHOLD: the threshold to the next tier, at exit of the last process to report.
    threshold: Option<u64>,
    /// Live bytes × time over every process, in byte·milliseconds (sampled every millisecond).
    area: f64,
    /// The highest live bytes one process sampled.
    peak: u64,
}

/// Parses the report's lines: `pid=.. policy=.. tier=.. ratio=.. allocs=.. bytes=.. live=..
/// [threshold=..] kind=..`.
fn parse_report(text: &str) -> (BTreeMap<usize, TierSum>, usize) {
    let mut tiers: BTreeMap<usize, TierSum> = BTreeMap::new();
    let mut pids = std::collections::BTreeSet::new();
    for line in text.lines() {
        let (fields, kind) = match line.split_once(" kind=") {
            Some((f, k)) => (f, k),
            None => continue,
        };
        let get = |key: &str| -> Option<u64> {
            fields.split_whitespace().find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
        };
        let (Some(pid), Some(tier)) = (get("pid"), get("tier")) else { continue };
        pids.insert(pid);
        let t = tiers.entry(tier as usize).or_default();
        t.kind = kind.to_string();
        t.ratio = get("ratio").unwrap_or(0);
        t.allocs += get("allocs").unwrap_or(0);
        t.bytes += get("bytes").unwrap_or(0);
        if let Some(v) = get("threshold") {
            t.threshold = Some(v);
        }
        let area: Option<f64> =
            fields.split_whitespace().find_map(|kv| kv.strip_prefix("area=")?.parse().ok());
        t.area += area.unwrap_or(0.0);
        t.peak = t.peak.max(get("peak").unwrap_or(0));
    }
    (tiers, pids.len())
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// What the run is about to do: the policy, the tiers and where they came from.
fn banner(plan: &Plan) -> String {
    format!(
        "morselkind run: {} over {} tier{} (from {}): {}\n",
        plan.spec.policy.name(),
        plan.spec.tiers.len(),
        if plan.spec.tiers.len() == 1 { "" } else { "s" },
        plan.origin,
        plan.tiers_text
    )
}

/// The run's report, after the program exited. The policies balance *live* bytes, so the ratio
/// is judged on each tier's live bytes averaged over the run (sampled every millisecond,
/// weighted by time, summed over processes); bytes handed out in all are shown beside it.
fn summary(plan: &Plan, text: &str, wall_ms: f64) -> String {
    let (tiers, processes) = parse_report(text);
    let mut out = String::new();
    if tiers.is_empty() {
        out.push_str(
            "morselkind run: no tier report (the program exec'd nothing tiered, or exited without exit())\n",
        );
        return out;
    }
    let mean = |t: &TierSum| if wall_ms > 0.0 { t.area / wall_ms } else { 0.0 };
    let total_mean: f64 = tiers.values().map(mean).sum();
    let total_ratio: u64 = tiers.values().map(|t| t.ratio).sum();
    out.push_str(&format!(
        "morselkind run: {processes} process{} reported; live bytes over the run, and what each tier handed out:\n",
        if processes == 1 { "" } else { "es" }
    ));
    out.push_str(&format!(
        "  {:<4} {:<28} {:>6} {:>12} {:>12} {:>8} {:>8} {:>14} {:>12}\n",
        "tier", "kind", "ratio", "live mean", "live peak", "share", "target", "allocations", "bytes"
    ));
    for (i, t) in &tiers {
        let share = if total_mean > 0.0 { 100.0 * mean(t) / total_mean } else { 0.0 };
        let target = if total_ratio > 0 { 100.0 * t.ratio as f64 / total_ratio as f64 } else { 0.0 };
        out.push_str(&format!(
            "  {:<4} {:<28} {:>6} {:>12} {:>12} {:>7.1}% {:>7.1}% {:>14} {:>12}\n",
            i,
            t.kind,
            t.ratio,
            human(mean(t) as u64),
            human(t.peak),
            share,
            target,
            t.allocs,
            human(t.bytes)
        ));
    }
    let thresholds: Vec<String> =
        tiers.iter().filter_map(|(i, t)| t.threshold.map(|v| format!("tier {i}|{}: {v} B", i + 1))).collect();
    if !thresholds.is_empty() {
        out.push_str(&format!("  thresholds at exit: {}\n", thresholds.join(", ")));
    }
    if tiers.len() > 1 {
        let first = tiers.values().next().expect("non-empty");
        let ratio_of = |v: f64, base: f64| if base > 0.0 { format!("{:.2}", v / base) } else { "-".into() };
        let achieved: Vec<String> = tiers.values().map(|t| ratio_of(mean(t), mean(first))).collect();
        let target: Vec<String> =
            tiers.values().map(|t| ratio_of(t.ratio as f64, first.ratio as f64)).collect();
        let how = match plan.spec.policy {
            memtier::Policy::StaticRatio => "STATIC_RATIO balances live bytes as it goes",
            memtier::Policy::DynamicThreshold => "DYNAMIC_THRESHOLD moves its size thresholds toward it",
        };
        out.push_str(&format!(
            "  live-byte ratio over the run {} (target {}); {how}\n",
            achieved.join(" : "),
            target.join(" : ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_add_up_over_processes() {
        let text = "pid=10 policy=STATIC_RATIO tier=0 ratio=1 allocs=5 bytes=100 live=10 area=2000 ms=10.0 peak=300 kind=DRAM\n\
                    pid=10 policy=STATIC_RATIO tier=1 ratio=4 allocs=7 bytes=400 live=0 kind=FS_DAX(/tmp/a b)\n\
                    pid=11 policy=DYNAMIC_THRESHOLD tier=0 ratio=1 allocs=0 bytes=0 live=0 threshold=99 kind=DRAM\n\
                    pid=11 policy=STATIC_RATIO tier=0 ratio=1 allocs=1 bytes=50 live=0 area=500.5 ms=3.0 peak=200 kind=DRAM\n\
                    garbage\n";
        let (tiers, procs) = parse_report(text);
        assert_eq!(procs, 2);
        assert_eq!((tiers[&0].allocs, tiers[&0].bytes), (6, 150));
        assert_eq!((tiers[&0].area, tiers[&0].peak), (2500.5, 300));
        assert_eq!(tiers[&1].kind, "FS_DAX(/tmp/a b)");
        assert_eq!((tiers[&0].threshold, tiers[&1].threshold), (Some(99), None));
        assert_eq!((tiers[&1].ratio, tiers[&1].bytes), (4, 400));
        assert_eq!(human(3 << 20), "3.0 MiB");
    }

    #[test]
    fn messages_name_where_the_spec_came_from() {
        let m = |e: &str| name_origin(e.to_string(), "--tiers", "--thresholds");
        assert_eq!(m("MEMKIND_MEM_TIERS: tier 2: PATH:/x: gone"), "--tiers: tier 2: PATH:/x: gone");
        assert_eq!(m("MEMKIND_MEM_TIERS=\"a\": bad"), "--tiers=\"a\": bad");
        assert_eq!(m("MEMKIND_MEM_THRESHOLDS: MIN_VAL"), "--thresholds: MIN_VAL");
        assert_eq!(m("something else"), "something else");
    }
}
