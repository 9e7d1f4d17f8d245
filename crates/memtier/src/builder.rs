//! The builder of a tiered memory (memkind's `memtier_builder`): tiers with their ratios, a
//! policy, and the DYNAMIC_THRESHOLD tuning that `memtier_ctl_set` reaches by name.
//!
//! Defaults follow memkind 1.14's code, which the differential test checks against the real
//! library: adding tier N+1 (N ≥ 1) creates threshold N-1 with val = 1024·N,
//! min = 1024·N − 512 and max = 1024·N + 511 (512/1024/1535 for the first pair of tiers; the
//! man page's 513/1536 is not what the library does); check_cnt 20, trigger 0.02, degree 0.15.

use std::fmt;

use morselkind::Kind;

use crate::memory::{Memory, Threshold, ThresholdCfg, Tier};
use crate::spec::Policy;

/// Ratio checks happen every this many operations (memkind's `THRESHOLD_CHECK_CNT`).
pub const DEFAULT_CHECK_CNT: u32 = 20;
/// A threshold moves when the ratio is this far off (memkind's `THRESHOLD_TRIGGER`).
pub const DEFAULT_TRIGGER: f32 = 0.02;
/// A threshold moves by this fraction of itself (memkind's `THRESHOLD_DEGREE`).
pub const DEFAULT_DEGREE: f32 = 0.15;

/// Why a builder refused a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// The kind is already one of the builder's tiers.
    DuplicateKind,
    /// The kind was destroyed (or never created).
    DeadKind,
    /// A memory needs at least one tier.
    NoTiers,
    /// DYNAMIC_THRESHOLD needs at least two tiers.
    TooFewTiers,
    /// `memtier_ctl_set`: a name the policy does not have.
    UnknownName(String),
    /// `memtier_ctl_set`: a threshold index with no threshold (yet).
    NoSuchThreshold {
        /// The index asked for.
        index: usize,
        /// Thresholds the builder has (tiers − 1).
        count: usize,
    },
    /// A threshold's value lies outside its own [min, max].
    ThresholdOutOfRange {
        /// Which threshold.
        index: usize,
        /// Its min, val, max.
        min: usize,
        /// Initial value.
        val: usize,
        /// Max.
        max: usize,
    },
    /// Threshold `index`'s max is above the next one's min.
    ThresholdsOverlap {
        /// The lower of the two.
        index: usize,
    },
    /// Degree or trigger below zero (or not a number).
    Negative(&'static str),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::DuplicateKind => f.write_str("the kind is already a tier of this builder"),
            BuildError::DeadKind => f.write_str("the kind is not a live kind (destroyed?)"),
            BuildError::NoTiers => f.write_str("no tier in the builder"),
            BuildError::TooFewTiers => f.write_str("DYNAMIC_THRESHOLD needs at least two tiers"),
            BuildError::UnknownName(n) => write!(f, "unknown property \"{n}\" for this policy"),
            BuildError::NoSuchThreshold { index, count } => {
                write!(f, "threshold {index} does not exist (the builder has {count} thresholds)")
            }
            BuildError::ThresholdOutOfRange { index, min, val, max } => {
                write!(f, "threshold {index}: value {val} is outside [{min}, {max}]")
            }
            BuildError::ThresholdsOverlap { index } => {
                write!(f, "the maximum of threshold {index} is above the minimum of threshold {}", index + 1)
            }
            BuildError::Negative(what) => write!(f, "threshold {what} must be 0 or more"),
        }
    }
}

impl std::error::Error for BuildError {}

/// Which field of a threshold a property names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThresholdField {
    /// `.val`: the initial threshold.
    Val,
    /// `.min`.
    Min,
    /// `.max`.
    Max,
}

/// A property `memtier_ctl_set` can set, parsed from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ctl {
    /// `policy.dynamic_threshold.thresholds[N].val|min|max` (a size_t).
    Threshold(usize, ThresholdField),
    /// `policy.dynamic_threshold.check_cnt` (an unsigned).
    CheckCnt,
    /// `policy.dynamic_threshold.trigger` (a float).
    Trigger,
    /// `policy.dynamic_threshold.degree` (a float).
    Degree,
}

/// The C type a property's value pointer points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtlType {
    /// `size_t`.
    Size,
    /// `unsigned`.
    Unsigned,
    /// `float`.
    Float,
}

/// A property's value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CtlValue {
    /// For thresholds.
    Size(usize),
    /// For check_cnt.
    Unsigned(u32),
    /// For trigger and degree.
    Float(f32),
}

impl Ctl {
    /// Parses a property name, or says why it is not one.
    pub fn parse(name: &str) -> Result<Ctl, BuildError> {
        let unknown = || BuildError::UnknownName(name.to_string());
        let rest = name.strip_prefix("policy.dynamic_threshold.").ok_or_else(unknown)?;
        match rest {
            "check_cnt" => return Ok(Ctl::CheckCnt),
            "trigger" => return Ok(Ctl::Trigger),
            "degree" => return Ok(Ctl::Degree),
            _ => {}
        }
        let rest = rest.strip_prefix("thresholds[").ok_or_else(unknown)?;
        let (index, field) = rest.split_once("].").ok_or_else(unknown)?;
        if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
            return Err(unknown());
        }
        let index: usize = index.parse().map_err(|_| unknown())?;
        let field = match field {
            "val" => ThresholdField::Val,
            "min" => ThresholdField::Min,
            "max" => ThresholdField::Max,
            _ => return Err(unknown()),
        };
        Ok(Ctl::Threshold(index, field))
    }

    /// What the value pointer points at.
    pub fn value_type(self) -> CtlType {
        match self {
            Ctl::Threshold(..) => CtlType::Size,
            Ctl::CheckCnt => CtlType::Unsigned,
            Ctl::Trigger | Ctl::Degree => CtlType::Float,
        }
    }
}

/// Collects tiers and settings, then constructs [`Memory`] objects (any number of them).
#[derive(Clone, Debug)]
pub struct Builder {
    policy: Policy,
    tiers: Vec<(Kind, u32)>,
    thresholds: Vec<ThresholdCfg>,
    check_cnt: u32,
    trigger: f32,
    degree: f32,
}

impl Builder {
    /// An empty builder for `policy`.
    pub fn new(policy: Policy) -> Builder {
        Builder {
            policy,
            tiers: Vec::new(),
            thresholds: Vec::new(),
            check_cnt: DEFAULT_CHECK_CNT,
            trigger: DEFAULT_TRIGGER,
            degree: DEFAULT_DEGREE,
        }
    }

    /// The builder's policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The tiers so far.
    pub fn tiers(&self) -> &[(Kind, u32)] {
        &self.tiers
    }

    /// The thresholds so far (DYNAMIC_THRESHOLD; one fewer than the tiers).
    pub fn thresholds(&self) -> &[ThresholdCfg] {
        &self.thresholds
    }

    /// Adds `kind` as the next tier with weight `ratio`. A ratio of 0 is accepted, as memkind
    /// does: that tier then never receives an allocation.
    pub fn add_tier(&mut self, kind: Kind, ratio: u32) -> Result<(), BuildError> {
        if self.tiers.iter().any(|&(k, _)| k == kind) {
            return Err(BuildError::DuplicateKind);
        }
        if kind.static_kind().is_none() && !kind.is_live() {
            return Err(BuildError::DeadKind);
        }
        if self.policy == Policy::DynamicThreshold && !self.tiers.is_empty() {
            self.thresholds.push(ThresholdCfg::default_for(self.tiers.len() - 1));
        }
        self.tiers.push((kind, ratio));
        Ok(())
    }

    /// Sets a DYNAMIC_THRESHOLD property (memkind's `memtier_ctl_set`). STATIC_RATIO has none.
    /// A value of the wrong type for the property is refused.
    pub fn ctl_set(&mut self, ctl: Ctl, value: CtlValue) -> Result<(), BuildError> {
        if self.policy != Policy::DynamicThreshold {
            return Err(BuildError::UnknownName(format!("{ctl:?}")));
        }
        match (ctl, value) {
            (Ctl::Threshold(index, field), CtlValue::Size(v)) => {
                let count = self.thresholds.len();
                let t = self.thresholds.get_mut(index).ok_or(BuildError::NoSuchThreshold { index, count })?;
                match field {
                    ThresholdField::Val => t.val = v,
                    ThresholdField::Min => t.min = v,
                    ThresholdField::Max => t.max = v,
                }
            }
            (Ctl::CheckCnt, CtlValue::Unsigned(v)) => self.check_cnt = v,
            (Ctl::Trigger, CtlValue::Float(v)) => self.trigger = v,
            (Ctl::Degree, CtlValue::Float(v)) => self.degree = v,
            _ => return Err(BuildError::UnknownName(format!("{ctl:?} with a {value:?}"))),
        }
        Ok(())
    }

    /// Parses `name` and sets it (for callers that hold the value already typed).
    pub fn ctl_set_by_name(&mut self, name: &str, value: CtlValue) -> Result<(), BuildError> {
        let ctl = Ctl::parse(name)?;
        self.ctl_set(ctl, value)
    }

    /// Checks the configuration and constructs a tiered memory.
    pub fn construct(&self) -> Result<Memory, BuildError> {
        if self.tiers.is_empty() {
            return Err(BuildError::NoTiers);
        }
        if let Some(&(_, _)) = self.tiers.iter().find(|(k, _)| k.static_kind().is_none() && !k.is_live()) {
            return Err(BuildError::DeadKind);
        }
        let r0 = self.tiers[0].1 as f32;
        let tiers: Vec<Tier> = self
            .tiers
            .iter()
            .enumerate()
            .map(|(i, &(kind, ratio))| Tier {
                kind,
                ratio,
                norm: if i == 0 { 1.0 } else { r0 / ratio as f32 },
            })
            .collect();
        match self.policy {
            Policy::StaticRatio => Ok(Memory::new_static(tiers)),
            Policy::DynamicThreshold => {
                if self.tiers.len() < 2 {
                    return Err(BuildError::TooFewTiers);
                }
                for (i, t) in self.thresholds.iter().enumerate() {
                    if t.min > t.val || t.val > t.max {
                        return Err(BuildError::ThresholdOutOfRange {
                            index: i,
                            min: t.min,
                            val: t.val,
                            max: t.max,
                        });
                    }
                    if i > 0 && self.thresholds[i - 1].max > t.min {
                        return Err(BuildError::ThresholdsOverlap { index: i - 1 });
                    }
                }
                if self.degree.is_nan() || self.degree < 0.0 {
                    return Err(BuildError::Negative("degree"));
                }
                if self.trigger.is_nan() || self.trigger < 0.0 {
                    return Err(BuildError::Negative("trigger"));
                }
                let thresholds = self
                    .thresholds
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let expected = self.tiers[i + 1].1 as f32 / self.tiers[i].1 as f32;
                        Threshold::new(*t, expected)
                    })
                    .collect();
                Ok(Memory::new_dynamic(tiers, thresholds, self.check_cnt, self.trigger, self.degree))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use morselkind::StaticKind;

    #[test]
    fn ctl_names() {
        use ThresholdField::*;
        assert_eq!(Ctl::parse("policy.dynamic_threshold.thresholds[0].val"), Ok(Ctl::Threshold(0, Val)));
        assert_eq!(Ctl::parse("policy.dynamic_threshold.thresholds[12].min"), Ok(Ctl::Threshold(12, Min)));
        assert_eq!(Ctl::parse("policy.dynamic_threshold.thresholds[1].max"), Ok(Ctl::Threshold(1, Max)));
        assert_eq!(Ctl::parse("policy.dynamic_threshold.check_cnt"), Ok(Ctl::CheckCnt));
        assert_eq!(Ctl::parse("policy.dynamic_threshold.trigger"), Ok(Ctl::Trigger));
        assert_eq!(Ctl::parse("policy.dynamic_threshold.degree"), Ok(Ctl::Degree));
        for bad in [
            "",
            "policy.dynamic_threshold.",
            "policy.dynamic_threshold.thresholds",
            "policy.dynamic_threshold.thresholds[0]",
            "policy.dynamic_threshold.thresholds[-1].val",
            "policy.dynamic_threshold.thresholds[].val",
            "policy.dynamic_threshold.thresholds[0].foo",
            "policy.static_ratio.check_cnt",
        ] {
            assert!(Ctl::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Ctl::CheckCnt.value_type(), CtlType::Unsigned);
        assert_eq!(Ctl::Degree.value_type(), CtlType::Float);
        assert_eq!(Ctl::Threshold(0, Val).value_type(), CtlType::Size);
    }

    #[test]
    fn builder_errors() {
        let (a, b, c) = (Kind::DEFAULT, Kind::REGULAR, StaticKind::Interleave.kind());
        let mut s = Builder::new(Policy::StaticRatio);
        assert_eq!(s.construct().err(), Some(BuildError::NoTiers));
        s.add_tier(a, 1).unwrap();
        assert_eq!(s.add_tier(a, 2), Err(BuildError::DuplicateKind));
        s.add_tier(b, 0).unwrap();
        assert!(s.ctl_set_by_name("policy.dynamic_threshold.check_cnt", CtlValue::Unsigned(3)).is_err());
        assert!(s.construct().is_ok());

        let mut d = Builder::new(Policy::DynamicThreshold);
        d.add_tier(a, 1).unwrap();
        assert_eq!(d.construct().err(), Some(BuildError::TooFewTiers));
        assert_eq!(
            d.ctl_set_by_name("policy.dynamic_threshold.thresholds[0].val", CtlValue::Size(5)),
            Err(BuildError::NoSuchThreshold { index: 0, count: 0 })
        );
        d.add_tier(b, 4).unwrap();
        d.add_tier(c, 4).unwrap();
        assert_eq!(
            d.thresholds(),
            &[
                ThresholdCfg { val: 1024, min: 512, max: 1535 },
                ThresholdCfg { val: 2048, min: 1536, max: 2559 }
            ]
        );
        assert!(d.construct().is_ok());
        d.ctl_set_by_name("policy.dynamic_threshold.thresholds[0].max", CtlValue::Size(1600)).unwrap();
        assert_eq!(d.construct().err(), Some(BuildError::ThresholdsOverlap { index: 0 }));
        d.ctl_set_by_name("policy.dynamic_threshold.thresholds[0].max", CtlValue::Size(1535)).unwrap();
        d.ctl_set_by_name("policy.dynamic_threshold.thresholds[1].val", CtlValue::Size(1000)).unwrap();
        assert!(matches!(d.construct(), Err(BuildError::ThresholdOutOfRange { index: 1, .. })));
        d.ctl_set_by_name("policy.dynamic_threshold.thresholds[1].val", CtlValue::Size(2048)).unwrap();
        d.ctl_set_by_name("policy.dynamic_threshold.degree", CtlValue::Float(-0.5)).unwrap();
        assert_eq!(d.construct().err(), Some(BuildError::Negative("degree")));
        d.ctl_set_by_name("policy.dynamic_threshold.degree", CtlValue::Float(0.15)).unwrap();
        d.ctl_set_by_name("policy.dynamic_threshold.trigger", CtlValue::Float(f32::NAN)).unwrap();
        assert_eq!(d.construct().err(), Some(BuildError::Negative("trigger")));
        // Wrong value type for the name.
        assert!(d.ctl_set_by_name("policy.dynamic_threshold.trigger", CtlValue::Size(1)).is_err());
    }
}
