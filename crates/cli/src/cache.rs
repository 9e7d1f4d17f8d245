//! `morselkind cache`: a small workload on the vcache crate (libmorselcache's engine): a pool
//! in a directory, a cache-aside loop of random keys with values of 256 B to 64 KiB, then the
//! hits, evictions and pool utilization, each checked. Exit status 1 if a check fails.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use vcache::{Cache, Policy, Stat};

/// Arguments of `cache`.
#[derive(clap::Args, Debug)]
pub struct CacheArgs {
    /// Pool size in MiB (at least 1).
    #[arg(long, default_value_t = 64)]
    size_mib: usize,
    /// Directory for the pool's unnamed file [default: the temp directory].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Operations (a get, and a put on a miss).
    #[arg(long, default_value_t = 200_000)]
    ops: u64,
}

fn value_size(k: u64) -> usize {
    let x = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    256 + ((x ^ (x >> 29)) % (64 * 1024 - 255)) as usize
}

/// Runs the workload and prints what happened.
pub fn run(args: &CacheArgs) -> ExitCode {
    let dir = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let pool = args.size_mib.max(1) << 20;
    let mut b = Cache::builder();
    let cache = match b.size(pool).map(|b| b.policy(Policy::Lru).build_in(&dir)) {
        Ok(Ok(c)) => c,
        Ok(Err(e)) | Err(e) => {
            eprintln!("morselkind cache: cannot make a {} MiB pool in {}: {e}", args.size_mib, dir.display());
            return ExitCode::from(1);
        }
    };
    let keys = (pool / (32 * 1024) * 3 / 2).max(16) as u64;
    let live: Arc<Vec<AtomicU64>> = Arc::new((0..keys).map(|_| AtomicU64::new(0)).collect());
    let hook_live = live.clone();
    let hook_calls = Arc::new(AtomicU64::new(0));
    let calls = hook_calls.clone();
    cache.on_evict(Some(Arc::new(move |_: &Cache, key: &[u8]| {
        calls.fetch_add(1, Ordering::Relaxed);
        if let Ok(k) = <[u8; 8]>::try_from(key) {
            if let Some(slot) = hook_live.get(u64::from_le_bytes(k) as usize) {
                slot.store(0, Ordering::Relaxed);
            }
        }
    })));
    let value = vec![0x5au8; 64 * 1024];
    let mut buf = vec![0u8; 64 * 1024];
    let (mut x, mut failed, mut wrong) = (0x2545_f491_4f6c_dd1du64, 0u64, 0u64);
    let start = Instant::now();
    for _ in 0..args.ops {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let k = x % keys;
        let key = k.to_le_bytes();
        match cache.get(&key, &mut buf, 0) {
            Ok((n, size)) => {
                wrong += u64::from(n != value_size(k) || size != n || buf[..n].iter().any(|&b| b != 0x5a))
            }
            Err(_) => match cache.put(&key, &value[..value_size(k)]) {
                Ok(()) => live[k as usize].store(value_size(k) as u64, Ordering::Relaxed),
                Err(_) => failed += 1,
            },
        }
    }
    let took = start.elapsed().as_secs_f64();
    let s = cache.stats();
    let bytes: u64 = live.iter().map(|v| v.load(Ordering::Relaxed)).sum();
    let util = bytes as f64 / pool as f64;
    println!(
        "cache: {} MiB pool in {} ({:?}, {} B extents, {} MiB of file blocks), {} keys of 256 B-64 KiB",
        args.size_mib,
        dir.display(),
        cache.backing(),
        cache.extent_size(),
        cache.file_bytes() >> 20,
        keys
    );
    println!(
        "  {} ops in {:.2} s ({:.0} ops/s): {} gets, {} hits ({:.1}%), {} misses, {} puts, {} evictions",
        args.ops,
        took,
        args.ops as f64 / took,
        s[Stat::Get as usize],
        s[Stat::Hit as usize],
        100.0 * s[Stat::Hit as usize] as f64 / s[Stat::Get as usize].max(1) as f64,
        s[Stat::Miss as usize],
        s[Stat::Put as usize],
        s[Stat::Evict as usize]
    );
    println!(
        "  {} entries; live values {:.1} MiB: utilization {:.2}% of the pool; {} free regions",
        s[Stat::Entries as usize],
        bytes as f64 / (1 << 20) as f64,
        100.0 * util,
        s[Stat::HeapEntries as usize]
    );
    let mut ok = true;
    let mut check = |what: &str, good: bool| {
        println!("  check: {what}: {}", if good { "ok" } else { "FAILED" });
        ok &= good;
    };
    check("every hit returned the value put", wrong == 0);
    check("no put failed", failed == 0);
    check(
        "one eviction hook call per eviction",
        hook_calls.load(Ordering::Relaxed) == s[Stat::Evict as usize],
    );
    check(
        "entries = puts - evictions",
        s[Stat::Entries as usize] == s[Stat::Put as usize] - s[Stat::Evict as usize],
    );
    check("pool used within the pool", s[Stat::PoolSizeUsed as usize] <= pool as u64);
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
