//! Options read from the environment, through the one table in `topology::options`.

use crate::kind::MAX_ARENAS;
use crate::statics::machine;

/// Arenas per kind: MEMKIND_ARENA_NUM_PER_KIND rounded up to a power of two, else one per CPU,
/// and never more than [`MAX_ARENAS`] (so 512 kinds always fit in jemalloc's 4095 arenas).
pub fn arenas_per_kind() -> usize {
    static ARENAS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *ARENAS.get_or_init(compute)
}

fn compute() -> usize {
    let m = machine();
    let wanted = match m.env.arena_num_per_kind() {
        Ok(Some(n)) if n > 0 => n as usize,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    wanted.next_power_of_two().min(MAX_ARENAS)
}
