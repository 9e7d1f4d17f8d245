//! Options read from the environment, through the one table in `topology::options`.

use crate::error::{Error, Result};
use crate::kind::MAX_ARENAS;
use crate::statics::machine;

/// Arenas per kind: MEMKIND_ARENA_NUM_PER_KIND rounded up to a power of two, else one per CPU,
/// and never more than [`MAX_ARENAS`] (so 512 kinds always fit in jemalloc's 4095 arenas).
///
/// `Err(Error::Environ)` when the variable is set to something memkind refuses (0, no number,
/// more than `INT_MAX`): memkind then fails every kind that makes arenas of its own.
pub fn arenas_per_kind() -> Result<usize> {
    static ARENAS: std::sync::OnceLock<Result<usize>> = std::sync::OnceLock::new();
    *ARENAS.get_or_init(compute)
}

fn compute() -> Result<usize> {
    let m = machine();
    let wanted = match m.env.arena_num_per_kind() {
        Ok(Some(n)) => n as usize,
        Ok(None) => std::thread::available_parallelism().map_or(1, |n| n.get()),
        Err(_) => return Err(Error::Environ),
    };
    Ok(wanted.next_power_of_two().min(MAX_ARENAS))
}

/// The arena count for MEMKIND_DEFAULT, which memkind serves from jemalloc's own arenas and so
/// never fails on a bad MEMKIND_ARENA_NUM_PER_KIND: the CPU count then.
pub fn arenas_for_default() -> usize {
    arenas_per_kind()
        .unwrap_or_else(|_| std::thread::available_parallelism().map_or(1, |n| n.get()).next_power_of_two())
        .min(MAX_ARENAS)
}
