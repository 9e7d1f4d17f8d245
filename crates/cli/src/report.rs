//! What `info` and `demo` both report: each static kind's availability and nodes, memkind's
//! error names, byte sizes for people.

use morselkind::{machine, nodes_for};
use morselkind::{Error, Kind, StaticKind};

/// memkind's name for an error code (`MEMKIND_ERROR_*`).
pub fn error_name(e: Error) -> &'static str {
    match e.code() {
        -1 => "MEMKIND_ERROR_UNAVAILABLE",
        -2 => "MEMKIND_ERROR_MBIND",
        -3 => "MEMKIND_ERROR_MMAP",
        -6 => "MEMKIND_ERROR_MALLOC",
        -12 => "MEMKIND_ERROR_ENVIRON",
        -13 => "MEMKIND_ERROR_INVALID",
        -15 => "MEMKIND_ERROR_TOOMANY",
        -17 => "MEMKIND_ERROR_BADOPS",
        -18 => "MEMKIND_ERROR_HUGETLB",
        -20 => "MEMKIND_ERROR_MEMTYPE_NOT_AVAILABLE",
        -21 => "MEMKIND_ERROR_OPERATION_FAILED",
        -22 => "MEMKIND_ERROR_ARENAS_CREATE",
        _ => "MEMKIND_ERROR_RUNTIME",
    }
}

/// `<memkind> message (MEMKIND_ERROR_X = code)`, as memkind_error_message words it, then the
/// cause where the error knows one (`: the directory cannot hold ...: Permission denied (EACCES)`).
pub fn describe_error(e: Error) -> String {
    let cause = if e.os_errno().is_some() { format!(": {e}") } else { String::new() };
    format!("<memkind> {} ({} = {}){cause}", e.message(), error_name(e), e.code())
}

/// One static kind on this machine.
pub struct KindStatus {
    pub kind: StaticKind,
    /// Nodes for a thread on the current CPU node, and the capacity of those nodes; or why the
    /// kind is unavailable.
    pub state: Result<(Vec<u32>, usize), Error>,
    /// Nodes for each CPU node of the machine (empty when unavailable).
    pub by_cpu_node: Vec<(u32, Vec<u32>)>,
}

/// Every static kind: set up (as `memkind_check_available` does) and, where that works, the
/// nodes it would use.
pub fn static_kinds(cpu_node: u32) -> Vec<KindStatus> {
    let topo = &machine().topology;
    StaticKind::all()
        .map(|sk| {
            let kind = sk.kind();
            let state = kind.ready().and_then(|()| {
                let nodes = nodes_for(sk, cpu_node as usize)?;
                Ok((nodes, kind.capacity().unwrap_or(0)))
            });
            let by_cpu_node = if state.is_ok() {
                topo.cpu_node_ids()
                    .into_iter()
                    .filter_map(|c| nodes_for(sk, c as usize).ok().map(|n| (c, n)))
                    .collect()
            } else {
                Vec::new()
            };
            KindStatus { kind: sk, state, by_cpu_node }
        })
        .collect()
}

/// The node of the CPU this thread runs on (0 when unknown).
pub fn current_node() -> u32 {
    morselkind::current_node() as u32
}

/// Bytes in binary units: `512 B`, `4.0 KiB`, `301.2 MiB`, `23.5 GiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// `0-3,5`, or `-` for an empty list.
pub fn ranges(ids: &[u32]) -> String {
    if ids.is_empty() {
        "-".to_string()
    } else {
        topology::format_ranges(ids)
    }
}

/// A short name for any kind: memkind's for static kinds, `pmem#N` style for dynamic ones.
pub fn kind_label(kind: Kind, dynamic_label: &str) -> String {
    match kind.static_kind() {
        Some(sk) => sk.name().to_string(),
        None => format!("{dynamic_label}#{}", kind.index()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human(0), "0 B");
        assert_eq!(human(1023), "1023 B");
        assert_eq!(human(4096), "4.0 KiB");
        assert_eq!(human(3 << 29), "1.5 GiB");
    }

    #[test]
    fn error_names_follow_codes() {
        assert_eq!(error_name(Error::Unavailable), "MEMKIND_ERROR_UNAVAILABLE");
        assert_eq!(error_name(Error::MemtypeNotAvailable), "MEMKIND_ERROR_MEMTYPE_NOT_AVAILABLE");
        assert_eq!(error_name(Error::Runtime), "MEMKIND_ERROR_RUNTIME");
        assert!(describe_error(Error::Hugetlb).starts_with("<memkind> unable to allocate huge pages"));
    }
}
