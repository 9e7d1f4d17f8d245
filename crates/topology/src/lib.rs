//! The topology layer of morselkind: which NUMA nodes a machine has, and which of them each
//! memkind kind family should use.
//!
//! - [`sysfs`]: reads nodes, CPUs, distances, capacity, HMAT figures and KMEM DAX nodes from
//!   a sysfs root given as a parameter, so tests run on synthetic machines.
//! - [`nodelist`]: the kernel's `"0-3,5"` list syntax, both ways.
//! - [`options`]: the table of environment variables we honour and a snapshot of them.
//! - [`classify`]: memkind's rules for HBW, KMEM DAX, REGULAR, HIGHEST_CAPACITY and the
//!   `_LOCAL` families, as pure functions of (topology, environment).
//!
//! Nothing here probes huge pages or calls mbind: that is the `morsel` crate's job.
#![deny(unsafe_code)]

pub mod classify;
pub mod nodelist;
pub mod options;
mod sys;
pub mod sysfs;

pub use classify::{ClassifyError, Family, HbwSource, MemkindCode, NodeMap, Variant};
pub use nodelist::{format_list, format_ranges, parse_list, ListParseError, NodeId};
pub use options::{
    parse_size, Env, EnvError, HeapManager, OptionDesc, SizeParseError, DEFAULT_HBW_THRESHOLD, OPTIONS,
};
pub use sysfs::{CpuModel, Hmat, Node, Topology};
