//! The parser of memkind's tiering environment variables, in memkind 1.14's syntax
//! (`man 7 libmemtier`):
//!
//! ```text
//! MEMKIND_MEM_TIERS      = TIER(;TIER)*;POLICY:STATIC_RATIO|DYNAMIC_THRESHOLD
//! TIER                   = KIND:DRAM|KMEM_DAX|FS_DAX[,PATH:dir][,PMEM_SIZE_LIMIT:size],RATIO:n
//!                          (parameters in any order, each at most once)
//! MEMKIND_MEM_THRESHOLDS = THRESHOLD(;THRESHOLD)*      (at most one per pair of adjacent tiers)
//! THRESHOLD              = [INIT_VAL:size][,MIN_VAL:size][,MAX_VAL:size]
//! size                   = digits with an optional K, M or G suffix
//! ```
//!
//! It only reads text: it creates no kind and touches no file, so `morselkind run` can check a
//! spec before it starts a program. Every error names the variable, the part at fault and what
//! was expected. Where memkind silently accepts a typo (`RATIO:4x`, trailing text after a
//! number) we refuse it.

use std::fmt;
use std::path::PathBuf;

use morselkind::PMEM_MIN_SIZE;

/// The variable that names the tiers and the policy.
pub const TIERS_VAR: &str = "MEMKIND_MEM_TIERS";
/// The variable that tunes DYNAMIC_THRESHOLD's thresholds.
pub const THRESHOLDS_VAR: &str = "MEMKIND_MEM_THRESHOLDS";

/// How allocations are spread over the tiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Keep the tiers' allocated bytes in a fixed ratio.
    StaticRatio,
    /// Small allocations on the first tier, larger ones further down, with size thresholds
    /// that move to keep the ratio.
    DynamicThreshold,
}

impl Policy {
    /// memkind's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Policy::StaticRatio => "STATIC_RATIO",
            Policy::DynamicThreshold => "DYNAMIC_THRESHOLD",
        }
    }
}

/// Where one tier's memory comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TierKind {
    /// `MEMKIND_DEFAULT`.
    Dram,
    /// `MEMKIND_DAX_KMEM`: memory-only NUMA nodes (KMEM DAX, CXL).
    KmemDax,
    /// A file-backed PMEM kind in a directory, optionally size-limited.
    FsDax {
        /// The directory for the kind's (unlinked) file.
        path: PathBuf,
        /// PMEM_SIZE_LIMIT in bytes, at least 16 MiB; `None` when not given or given as 0.
        limit: Option<usize>,
    },
}

impl TierKind {
    /// memkind's name for it in MEMKIND_MEM_TIERS.
    pub fn name(&self) -> &'static str {
        match self {
            TierKind::Dram => "DRAM",
            TierKind::KmemDax => "KMEM_DAX",
            TierKind::FsDax { .. } => "FS_DAX",
        }
    }
}

impl fmt::Display for TierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TierKind::FsDax { path, limit: None } => write!(f, "FS_DAX({})", path.display()),
            TierKind::FsDax { path, limit: Some(limit) } => {
                write!(f, "FS_DAX({}, limit {limit} B)", path.display())
            }
            k => f.write_str(k.name()),
        }
    }
}

/// One tier: a kind of memory and its share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierSpec {
    /// The memory.
    pub kind: TierKind,
    /// Its part of the ratio (1..=u32::MAX).
    pub ratio: u32,
}

/// One threshold's settings; `None` keeps the builder's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThresholdSpec {
    /// INIT_VAL: the initial size threshold.
    pub init: Option<usize>,
    /// MIN_VAL: the lowest it may go.
    pub min: Option<usize>,
    /// MAX_VAL: the highest it may go.
    pub max: Option<usize>,
}

/// A whole tiering configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The tiers, in order (the first is the "fast" one for DYNAMIC_THRESHOLD).
    pub tiers: Vec<TierSpec>,
    /// The policy.
    pub policy: Policy,
    /// Threshold settings, one per adjacent pair of tiers at most (DYNAMIC_THRESHOLD only).
    pub thresholds: Vec<ThresholdSpec>,
}

/// Why a spec was refused: a message that says which variable, which part, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    /// The message with control characters escaped (`\x1b`, ...): a spec quoted in it comes
    /// from the environment and must not drive the terminal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape_controls(&self.0))
    }
}

/// `text` with every control character written as `\xNN`.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

impl std::error::Error for SpecError {}

fn err<T>(msg: String) -> Result<T, SpecError> {
    Err(SpecError(msg))
}

impl Spec {
    /// Parses MEMKIND_MEM_TIERS and, if given, MEMKIND_MEM_THRESHOLDS.
    pub fn parse(tiers: &str, thresholds: Option<&str>) -> Result<Spec, SpecError> {
        let (tiers, policy) = parse_tiers(tiers)?;
        let thresholds = match thresholds {
            None => Vec::new(),
            Some(t) => {
                if policy != Policy::DynamicThreshold {
                    return err(format!(
                        "{THRESHOLDS_VAR} is set, but it applies only to POLICY:DYNAMIC_THRESHOLD \
                         ({TIERS_VAR} asks for POLICY:{})",
                        policy.name()
                    ));
                }
                parse_thresholds(t, tiers.len())?
            }
        };
        if policy == Policy::DynamicThreshold && tiers.len() < 2 {
            return err(format!("{TIERS_VAR}: POLICY:DYNAMIC_THRESHOLD needs at least two tiers"));
        }
        Ok(Spec { tiers, policy, thresholds })
    }

    /// The spec in MEMKIND_MEM_TIERS syntax.
    pub fn tiers_string(&self) -> String {
        let mut s = String::new();
        for t in &self.tiers {
            s.push_str("KIND:");
            s.push_str(t.kind.name());
            if let TierKind::FsDax { path, limit } = &t.kind {
                s.push_str(",PATH:");
                s.push_str(&path.to_string_lossy());
                if let Some(limit) = limit {
                    s.push_str(&format!(",PMEM_SIZE_LIMIT:{limit}"));
                }
            }
            s.push_str(&format!(",RATIO:{};", t.ratio));
        }
        s.push_str("POLICY:");
        s.push_str(self.policy.name());
        s
    }
}

/// Parses MEMKIND_MEM_TIERS: the tiers and the policy.
pub fn parse_tiers(text: &str) -> Result<(Vec<TierSpec>, Policy), SpecError> {
    let text = text.trim();
    if text.is_empty() {
        return err(format!("{TIERS_VAR} is empty; expected e.g. \"KIND:DRAM,RATIO:1;POLICY:STATIC_RATIO\""));
    }
    let queries: Vec<&str> = text.split(';').collect();
    let (last, tiers) = queries.split_last().expect("split yields at least one part");
    if tiers.is_empty() && !last.trim_start().starts_with("POLICY") && last.contains("POLICY") {
        return err(format!(
            "{TIERS_VAR}=\"{text}\": POLICY must be the last part, separated from the tiers by ';' \
             (e.g. \"KIND:DRAM,RATIO:1;POLICY:STATIC_RATIO\")"
        ));
    }
    if tiers.is_empty() && !last.trim_start().starts_with("POLICY") {
        return err(format!(
            "{TIERS_VAR}=\"{text}\": the policy is missing; the last part must be POLICY:STATIC_RATIO or \
             POLICY:DYNAMIC_THRESHOLD, after the tiers and a ';'"
        ));
    }
    if tiers.is_empty() {
        return err(format!(
            "{TIERS_VAR}=\"{text}\": expected one or more tiers and then the policy, separated by ';' \
             (e.g. \"KIND:DRAM,RATIO:1;POLICY:STATIC_RATIO\")"
        ));
    }
    let policy = parse_policy(last.trim())?;
    let mut out = Vec::with_capacity(tiers.len());
    for (i, q) in tiers.iter().enumerate() {
        let tier = parse_tier(q.trim())
            .map_err(|e| SpecError(format!("{TIERS_VAR}: tier {} (\"{q}\"): {e}", i + 1)))?;
        out.push(tier);
    }
    for (i, t) in out.iter().enumerate() {
        if matches!(t.kind, TierKind::Dram | TierKind::KmemDax) && out[..i].iter().any(|u| u.kind == t.kind) {
            return err(format!(
                "{TIERS_VAR}: tier {}: KIND:{} appears twice (only FS_DAX may repeat, with its own PATH)",
                i + 1,
                t.kind.name()
            ));
        }
    }
    Ok((out, policy))
}

fn parse_policy(q: &str) -> Result<Policy, SpecError> {
    let Some((name, value)) = q.split_once(':') else {
        return err(format!(
            "{TIERS_VAR}: the last part must be POLICY:STATIC_RATIO or POLICY:DYNAMIC_THRESHOLD, not \"{q}\""
        ));
    };
    if name.trim() != "POLICY" {
        return err(format!(
            "{TIERS_VAR}: the last part must be POLICY:STATIC_RATIO or POLICY:DYNAMIC_THRESHOLD, not \"{q}\" \
             (is the policy missing, or a ';' too many?)"
        ));
    }
    match value.trim() {
        "STATIC_RATIO" => Ok(Policy::StaticRatio),
        "DYNAMIC_THRESHOLD" => Ok(Policy::DynamicThreshold),
        v => err(format!("{TIERS_VAR}: unknown policy \"{v}\" (expected STATIC_RATIO or DYNAMIC_THRESHOLD)")),
    }
}

/// Splits `NAME:value,NAME:value` into pairs, refusing empty parts and parts without ':'.
fn params(q: &str) -> Result<Vec<(&str, &str)>, String> {
    if q.is_empty() {
        return Err("empty configuration".into());
    }
    q.split(',')
        .map(|p| {
            let p = p.trim();
            match p.split_once(':') {
                Some((n, v)) => Ok((n.trim(), v.trim())),
                None if p.is_empty() => Err("an empty parameter (two ',' in a row?)".to_string()),
                None => Err(format!("parameter \"{p}\" has no value (expected NAME:value)")),
            }
        })
        .collect()
}

fn parse_tier(q: &str) -> Result<TierSpec, String> {
    let mut kind: Option<&str> = None;
    let mut path: Option<&str> = None;
    let mut limit: Option<usize> = None;
    let mut ratio: Option<u32> = None;
    for (name, value) in params(q)? {
        let twice = || format!("{name} is given twice");
        match name {
            "KIND" => {
                if kind.replace(value).is_some() {
                    return Err(twice());
                }
            }
            "PATH" => {
                if value.is_empty() {
                    return Err("PATH is empty".into());
                }
                if path.replace(value).is_some() {
                    return Err(twice());
                }
            }
            "PMEM_SIZE_LIMIT" => {
                let v = parse_size(value).map_err(|e| format!("PMEM_SIZE_LIMIT: {e}"))?;
                if limit.replace(v).is_some() {
                    return Err(twice());
                }
            }
            "RATIO" => {
                let v = parse_ratio(value)?;
                if ratio.replace(v).is_some() {
                    return Err(twice());
                }
            }
            "POLICY" => return Err("POLICY must be the last part, after every tier, separated by ';'".into()),
            _ => {
                return Err(format!(
                    "unknown parameter \"{name}\" (expected KIND, PATH, PMEM_SIZE_LIMIT or RATIO)"
                ))
            }
        }
    }
    let kind = kind.ok_or("KIND is missing (KIND:DRAM, KIND:KMEM_DAX or KIND:FS_DAX)")?;
    let ratio = ratio.ok_or("RATIO is missing (e.g. RATIO:1)")?;
    let kind = match kind {
        "DRAM" | "KMEM_DAX" => {
            if path.is_some() {
                return Err(format!("PATH is only for KIND:FS_DAX, not KIND:{kind}"));
            }
            if limit.is_some() {
                return Err(format!("PMEM_SIZE_LIMIT is only for KIND:FS_DAX, not KIND:{kind}"));
            }
            if kind == "DRAM" {
                TierKind::Dram
            } else {
                TierKind::KmemDax
            }
        }
        "FS_DAX" => {
            let path = path.ok_or("KIND:FS_DAX needs PATH:<directory>")?;
            // PMEM_SIZE_LIMIT:0 is no limit, as in memkind.
            let limit = limit.filter(|&l| l != 0);
            if let Some(limit) = limit.filter(|&l| l < PMEM_MIN_SIZE) {
                return Err(format!(
                    "PMEM_SIZE_LIMIT is {limit} bytes; it must be 0 (no limit) or at least 16M ({PMEM_MIN_SIZE})"
                ));
            }
            TierKind::FsDax { path: PathBuf::from(path), limit }
        }
        other => return Err(format!("unknown kind \"{other}\" (expected DRAM, KMEM_DAX or FS_DAX)")),
    };
    Ok(TierSpec { kind, ratio })
}

/// An unsigned integer as C's `strtoul(s, _, 0)` reads it (decimal, 0x hex, 0 octal), with
/// nothing after it.
fn parse_unsigned(s: &str) -> Option<u64> {
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

fn parse_ratio(v: &str) -> Result<u32, String> {
    match parse_unsigned(v) {
        Some(0) => Err("RATIO:0 would give the tier nothing; a ratio is 1 or more".into()),
        Some(n) if n <= u32::MAX as u64 => Ok(n as u32),
        Some(_) => Err(format!("RATIO:{v} is above the largest ratio, {}", u32::MAX)),
        None => Err(format!("RATIO:{v} is not a positive whole number")),
    }
}

/// A size: digits and an optional K, M or G suffix (memkind's `ctl_parse_size`).
pub fn parse_size(v: &str) -> Result<usize, String> {
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, suffix) = v.split_at(split);
    if digits.is_empty() {
        return Err(format!("\"{v}\" is not a size (expected digits with an optional K, M or G suffix)"));
    }
    let n: usize = digits.parse().map_err(|_| format!("\"{v}\" is too big"))?;
    let mul: usize = match suffix {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return Err(format!("\"{v}\": unknown size suffix \"{suffix}\" (expected K, M or G)")),
    };
    n.checked_mul(mul).ok_or_else(|| format!("\"{v}\" is too big"))
}

/// Parses MEMKIND_MEM_THRESHOLDS for `ntiers` tiers.
pub fn parse_thresholds(text: &str, ntiers: usize) -> Result<Vec<ThresholdSpec>, SpecError> {
    let text = text.trim();
    let queries: Vec<&str> = text.split(';').collect();
    if queries.len() >= ntiers {
        return err(format!(
            "{THRESHOLDS_VAR}: {} threshold configurations for {ntiers} tiers; there can be at most {} \
             (one between each pair of adjacent tiers)",
            queries.len(),
            ntiers.saturating_sub(1)
        ));
    }
    let mut out = Vec::with_capacity(queries.len());
    for (i, q) in queries.iter().enumerate() {
        let t = parse_threshold(q.trim())
            .map_err(|e| SpecError(format!("{THRESHOLDS_VAR}: threshold {i} (\"{q}\"): {e}")))?;
        out.push(t);
    }
    Ok(out)
}

fn parse_threshold(q: &str) -> Result<ThresholdSpec, String> {
    let mut t = ThresholdSpec::default();
    for (name, value) in params(q)? {
        let slot = match name {
            "INIT_VAL" => &mut t.init,
            "MIN_VAL" => &mut t.min,
            "MAX_VAL" => &mut t.max,
            _ => return Err(format!("unknown parameter \"{name}\" (expected INIT_VAL, MIN_VAL or MAX_VAL)")),
        };
        let v = parse_size(value).map_err(|e| format!("{name}: {e}"))?;
        if slot.replace(v).is_some() {
            return Err(format!("{name} is given twice"));
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(t: &str) -> Spec {
        Spec::parse(t, None).unwrap_or_else(|e| panic!("{t}: {e}"))
    }

    fn bad(t: &str, th: Option<&str>, needle: &str) {
        match Spec::parse(t, th) {
            Ok(s) => panic!("{t} / {th:?} accepted: {s:?}"),
            Err(e) => assert!(e.0.contains(needle), "{t} / {th:?}: message {:?} lacks {needle:?}", e.0),
        }
    }

    #[test]
    fn memkind_examples() {
        // The examples of `man 7 libmemtier` and of memkind's tests.
        let s = ok(
            "KIND:FS_DAX,PATH:/mnt/pmem0,PMEM_SIZE_LIMIT:10G,RATIO:1;KIND:DRAM,RATIO:4;POLICY:STATIC_RATIO",
        );
        assert_eq!(s.policy, Policy::StaticRatio);
        assert_eq!(
            s.tiers,
            vec![
                TierSpec {
                    kind: TierKind::FsDax { path: "/mnt/pmem0".into(), limit: Some(10 << 30) },
                    ratio: 1
                },
                TierSpec { kind: TierKind::Dram, ratio: 4 },
            ]
        );
        let s = ok("KIND:FS_DAX,PATH:/mnt/pmem0,RATIO:1;POLICY:STATIC_RATIO");
        assert_eq!(s.tiers[0].kind, TierKind::FsDax { path: "/mnt/pmem0".into(), limit: None });
        // PMEM_SIZE_LIMIT:0 is memkind's "no limit", and is not written back.
        let s = ok("KIND:FS_DAX,PATH:/mnt/pmem0,PMEM_SIZE_LIMIT:0,RATIO:1;POLICY:STATIC_RATIO");
        assert_eq!(s.tiers[0].kind, TierKind::FsDax { path: "/mnt/pmem0".into(), limit: None });
        assert_eq!(s.tiers_string(), "KIND:FS_DAX,PATH:/mnt/pmem0,RATIO:1;POLICY:STATIC_RATIO");
        let s = Spec::parse(
            "KIND:DRAM,RATIO:1;KIND:KMEM_DAX,RATIO:4;POLICY:DYNAMIC_THRESHOLD",
            Some("INIT_VAL:64,MIN_VAL:1,MAX_VAL:10000"),
        )
        .unwrap();
        assert_eq!(s.policy, Policy::DynamicThreshold);
        assert_eq!(s.thresholds, vec![ThresholdSpec { init: Some(64), min: Some(1), max: Some(10000) }]);
        let s = ok("KIND:DRAM,RATIO:1;POLICY:STATIC_RATIO");
        assert_eq!(s.tiers, vec![TierSpec { kind: TierKind::Dram, ratio: 1 }]);
        // Parameters in any order; several FS_DAX tiers.
        let s = ok(
            "RATIO:2,KIND:DRAM;PATH:/a,KIND:FS_DAX,RATIO:3;KIND:FS_DAX,RATIO:1,PATH:/b;POLICY:STATIC_RATIO",
        );
        assert_eq!(s.tiers.len(), 3);
        assert_eq!(s.tiers[0], TierSpec { kind: TierKind::Dram, ratio: 2 });
        // memtier(1)'s generated strings.
        ok("KIND:DRAM,RATIO:1;KIND:KMEM_DAX,RATIO:3;POLICY:STATIC_RATIO");
        // Sizes and C-style numbers.
        let s = ok("KIND:FS_DAX,PATH:/x,PMEM_SIZE_LIMIT:16M,RATIO:0x10;POLICY:STATIC_RATIO");
        assert_eq!(
            s.tiers[0],
            TierSpec { kind: TierKind::FsDax { path: "/x".into(), limit: Some(16 << 20) }, ratio: 16 }
        );
        let s = Spec::parse(
            "KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:/p,RATIO:1;KIND:KMEM_DAX,RATIO:1;POLICY:DYNAMIC_THRESHOLD",
            Some("INIT_VAL:1K;MIN_VAL:2K,MAX_VAL:1M"),
        )
        .unwrap();
        assert_eq!(
            s.thresholds,
            vec![
                ThresholdSpec { init: Some(1024), ..Default::default() },
                ThresholdSpec { init: None, min: Some(2048), max: Some(1 << 20) }
            ]
        );
    }

    #[test]
    fn round_trip() {
        let text =
            "KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:/tmp,PMEM_SIZE_LIMIT:16777216,RATIO:4;POLICY:STATIC_RATIO";
        assert_eq!(ok(text).tiers_string(), text);
    }

    #[test]
    fn bad_specs_say_why() {
        bad("", None, "is empty");
        bad("KIND:DRAM,RATIO:1", None, "the policy is missing");
        bad("POLICY:STATIC_RATIO", None, "one or more tiers");
        bad("KIND:DRAM,RATIO:1;POLICY:FASTEST", None, "unknown policy \"FASTEST\"");
        bad("KIND:DRAM,RATIO:1;POLICY:STATIC_RATIO;", None, "must be POLICY");
        bad("KIND:DRAM,RATIO:1;;POLICY:STATIC_RATIO", None, "tier 2");
        bad("KIND:HBW,RATIO:1;POLICY:STATIC_RATIO", None, "unknown kind \"HBW\"");
        bad("KIND:DRAM;POLICY:STATIC_RATIO", None, "RATIO is missing");
        bad("RATIO:1;POLICY:STATIC_RATIO", None, "KIND is missing");
        bad("KIND:DRAM,RATIO:0;POLICY:STATIC_RATIO", None, "RATIO:0");
        bad("KIND:DRAM,RATIO:-1;POLICY:STATIC_RATIO", None, "not a positive whole number");
        bad("KIND:DRAM,RATIO:4x;POLICY:STATIC_RATIO", None, "not a positive whole number");
        bad("KIND:DRAM,RATIO:4294967296;POLICY:STATIC_RATIO", None, "above the largest ratio");
        bad("KIND:DRAM,RATIO:1,RATIO:2;POLICY:STATIC_RATIO", None, "RATIO is given twice");
        bad("KIND:DRAM,KIND:DRAM,RATIO:1;POLICY:STATIC_RATIO", None, "KIND is given twice");
        bad("KIND:DRAM,RATIO:1;KIND:DRAM,RATIO:2;POLICY:STATIC_RATIO", None, "appears twice");
        bad("KIND:FS_DAX,RATIO:1;POLICY:STATIC_RATIO", None, "needs PATH");
        bad("KIND:DRAM,PATH:/tmp,RATIO:1;POLICY:STATIC_RATIO", None, "PATH is only for KIND:FS_DAX");
        bad("KIND:KMEM_DAX,PMEM_SIZE_LIMIT:1G,RATIO:1;POLICY:STATIC_RATIO", None, "only for KIND:FS_DAX");
        bad("KIND:FS_DAX,PATH:/tmp,PMEM_SIZE_LIMIT:1M,RATIO:1;POLICY:STATIC_RATIO", None, "at least 16M");
        bad("KIND:FS_DAX,PATH:/tmp,PMEM_SIZE_LIMIT:10T,RATIO:1;POLICY:STATIC_RATIO", None, "suffix \"T\"");
        bad("KIND:FS_DAX,PATH:,RATIO:1;POLICY:STATIC_RATIO", None, "PATH is empty");
        bad("KIND:DRAM,RATIO:1,SPEED:9;POLICY:STATIC_RATIO", None, "unknown parameter \"SPEED\"");
        bad("KIND:DRAM,RATIO;POLICY:STATIC_RATIO", None, "has no value");
        bad("KIND:DRAM,,RATIO:1;POLICY:STATIC_RATIO", None, "empty parameter");
        bad("KIND:DRAM,RATIO:1,POLICY:STATIC_RATIO", None, "must be the last part");
        bad("KIND:DRAM,RATIO:1;POLICY:DYNAMIC_THRESHOLD", None, "at least two tiers");
        let two = "KIND:DRAM,RATIO:1;KIND:KMEM_DAX,RATIO:4;POLICY:DYNAMIC_THRESHOLD";
        bad(
            "KIND:DRAM,RATIO:1;KIND:KMEM_DAX,RATIO:4;POLICY:STATIC_RATIO",
            Some("INIT_VAL:64"),
            "only to POLICY",
        );
        bad(two, Some("INIT_VAL:64;INIT_VAL:128"), "at most 1");
        bad(two, Some("INIT_VAL:64,INIT_VAL:65"), "INIT_VAL is given twice");
        bad(two, Some("START:64"), "unknown parameter \"START\"");
        bad(two, Some("INIT_VAL:-1"), "not a size");
        bad(two, Some(""), "empty configuration");
    }
}
