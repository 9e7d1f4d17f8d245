//! memtier: allocation-time tiering across morselkind kinds, with memkind 1.14's model
//! (`man 3 memkind_memtier`, `man 7 libmemtier`).
//!
//! A [`Builder`] collects tiers (a kind and its part of a ratio) and a policy, and constructs a
//! [`Memory`] that places every allocation on one tier:
//! - STATIC_RATIO keeps the tiers' live bytes in the ratio;
//! - DYNAMIC_THRESHOLD sends small allocations to the first tier and larger ones further down,
//!   moving its size thresholds to keep the ratio.
//!
//! Live bytes are counted per kind with memkind's cheap scheme ([`counters`]). [`spec`] parses
//! MEMKIND_MEM_TIERS and MEMKIND_MEM_THRESHOLDS, and [`Tiering`] makes the kinds and the memory
//! they describe.
//!
//! ```
//! use memtier::{Builder, Policy};
//! use morselkind::Kind;
//!
//! let mut b = Builder::new(Policy::StaticRatio);
//! b.add_tier(Kind::DEFAULT, 1).unwrap();
//! b.add_tier(Kind::REGULAR, 4).unwrap();
//! let m = b.construct().unwrap();
//! let p = m.malloc(1000).unwrap();
//! let kind = Kind::detect(p.as_ptr()).unwrap();
//! unsafe { memtier::kind_free(kind, p) };
//! ```
#![deny(unsafe_code)]

mod builder;
pub mod counters;
#[allow(unsafe_code)]
mod memory;
pub mod spec;
#[allow(unsafe_code)]
mod tiering;

pub use builder::{
    BuildError, Builder, Ctl, CtlType, CtlValue, ThresholdField, DEFAULT_CHECK_CNT, DEFAULT_DEGREE,
    DEFAULT_TRIGGER,
};
pub use counters::sampler;
pub use memory::{
    fresh_usable, kind_aligned, kind_calloc, kind_free, kind_malloc, kind_realloc, Memory, Threshold,
    ThresholdCfg, Tier, GRANT_MAX, GRANT_MIN, THRESHOLD_STEP,
};
pub use spec::{Policy, Spec, SpecError, ThresholdSpec, TierKind, TierSpec};
pub use tiering::{check_paths, Tiering};
