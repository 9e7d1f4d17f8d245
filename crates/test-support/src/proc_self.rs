//! What this process holds, as /proc/self shows it: open fds, mappings (maps, smaps), and the
//! machine-wide /proc/meminfo. Each reader reads the file afresh; none of them caches.

use std::path::Path;

/// (fd, link target) for every entry of /proc/self/fd (including the one reading it).
pub fn fd_links() -> Vec<(String, String)> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            Some((e.file_name().to_string_lossy().into_owned(), target.to_string_lossy().into_owned()))
        })
        .collect()
}

/// The fds whose link target lies inside `dir` (`dir/...`).
pub fn fd_links_into(dir: &Path) -> Vec<(String, String)> {
    let prefix = format!("{}/", dir.display());
    fd_links().into_iter().filter(|(_, target)| target.starts_with(&prefix)).collect()
}

/// The number of entries of /proc/self/fd (including the one reading it).
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The start and end of the mapping a /proc/self/{maps,smaps} line opens, if it opens one.
fn mapping_range(line: &str) -> Option<(usize, usize)> {
    let (range, _) = line.split_once(' ')?;
    let (s, e) = range.split_once('-')?;
    Some((usize::from_str_radix(s, 16).ok()?, usize::from_str_radix(e, 16).ok()?))
}

/// The `Rss:` of the /proc/self/smaps block that starts at `start`, in bytes, with the block's
/// end; `None` if no mapping starts there.
pub fn smaps_rss(start: usize) -> Option<(usize, u64)> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let mut in_block = None;
    for line in smaps.lines() {
        if let Some((s, e)) = mapping_range(line) {
            in_block = (s == start).then_some(e);
            continue;
        }
        if let (Some(end), Some(rest)) = (in_block, line.strip_prefix("Rss:")) {
            let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().unwrap();
            return Some((end, kb * 1024));
        }
    }
    None
}

/// The /proc/self/smaps lines (fields and flags) of the mappings inside `[start, end)`.
pub fn smaps_lines(start: usize, end: usize) -> Vec<String> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let mut lines = Vec::new();
    let mut inside = false;
    for line in smaps.lines() {
        if let Some((a, b)) = mapping_range(line) {
            inside = a >= start && b <= end;
            continue;
        }
        if inside {
            lines.push(line.to_owned());
        }
    }
    lines
}

/// Sums a field (in kB) of /proc/self/smaps over the mappings inside `[start, end)`.
pub fn smaps_kb(start: usize, end: usize, field: &str) -> u64 {
    smaps_lines(start, end)
        .iter()
        .filter(|l| l.starts_with(field))
        .map(|l| l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap())
        .sum()
}

/// Whether any mapping inside `[start, end)` carries the flag `flag` in its smaps VmFlags.
pub fn smaps_flag(start: usize, end: usize, flag: &str) -> bool {
    smaps_lines(start, end)
        .iter()
        .any(|l| l.starts_with("VmFlags:") && l.split_whitespace().any(|f| f == flag))
}

/// Whether a line of /proc/self/maps starts at `addr`.
pub fn maps_has_start(addr: usize) -> bool {
    let prefix = format!("{addr:08x}-");
    std::fs::read_to_string("/proc/self/maps").unwrap().lines().any(|l| l.starts_with(&prefix))
}

/// The lines of /proc/self/maps that mention `needle`.
pub fn maps_mentioning(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// A field of /proc/meminfo (`"HugePages_Free:"`), as the number it shows (kB for sizes).
pub fn meminfo(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/meminfo").unwrap();
    s.lines().find(|l| l.starts_with(field)).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap()
}
