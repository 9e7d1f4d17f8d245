//! Turning a [`Spec`] into kinds and a [`Memory`]: what libmemtier does with
//! MEMKIND_MEM_TIERS at start-up. DRAM is `MEMKIND_DEFAULT`, KMEM_DAX is `MEMKIND_DAX_KMEM`
//! (checked with a first allocation, as memkind does), FS_DAX a PMEM kind in its directory.

use morselkind::{Kind, PmemConfig, StaticKind};

use crate::builder::{Builder, Ctl, CtlValue, ThresholdField};
use crate::memory::Memory;
use crate::spec::{Spec, SpecError, TierKind, TIERS_VAR};

/// A tiered memory made from a spec, with the PMEM kinds it created.
#[derive(Debug)]
pub struct Tiering {
    /// The memory.
    pub memory: Memory,
    /// The spec it was made from.
    pub spec: Spec,
    /// Kinds created for FS_DAX tiers (the caller may destroy them when done).
    pub created: Vec<Kind>,
}

/// Checks what can be checked about a spec's tiers without creating anything: FS_DAX
/// directories exist, are directories, and this process may create files in them (a
/// read-only directory or filesystem is named with its errno, EACCES or EROFS).
pub fn check_paths(spec: &Spec) -> Result<(), SpecError> {
    for (i, t) in spec.tiers.iter().enumerate() {
        if let TierKind::FsDax { path, .. } = &t.kind {
            match std::fs::metadata(path) {
                Ok(m) if m.is_dir() => {
                    if let Err(errno) = writable(path) {
                        return Err(SpecError(format!(
                            "{TIERS_VAR}: tier {}: PATH:{}: cannot create the tier's file there: {}",
                            i + 1,
                            path.display(),
                            morselkind::describe_errno(errno)
                        )));
                    }
                }
                Ok(_) => {
                    return Err(SpecError(format!(
                        "{TIERS_VAR}: tier {}: PATH:{} is not a directory",
                        i + 1,
                        path.display()
                    )))
                }
                Err(e) => {
                    return Err(SpecError(format!(
                        "{TIERS_VAR}: tier {}: PATH:{}: {e}",
                        i + 1,
                        path.display()
                    )))
                }
            }
        }
    }
    Ok(())
}

/// Whether this process may create a file in directory `dir`: an unlinked O_TMPFILE file is
/// made and closed at once; where the filesystem has no O_TMPFILE, a named file is made and
/// removed at once. Nothing is left behind. The errno if not (EACCES, EROFS, EPERM, ...).
fn writable(dir: &std::path::Path) -> Result<(), i32> {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else { return Err(libc::EINVAL) };
    let last = || std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EACCES);
    // SAFETY: `c` is a NUL-terminated path that outlives the call.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC, 0o600) };
    if fd >= 0 {
        // SAFETY: `fd` was just opened here and is closed once.
        unsafe { libc::close(fd) };
        return Ok(());
    }
    match last() {
        libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL => {}
        errno => return Err(errno),
    }
    // No O_TMPFILE there: a named file, removed at once (as the PMEM kind itself would do).
    let mut template = dir.as_os_str().as_bytes().to_vec();
    template.extend_from_slice(b"/.morselkind-check-XXXXXX\0");
    // SAFETY: `template` is a writable, NUL-terminated buffer ending in XXXXXX.
    let fd = unsafe { libc::mkstemp(template.as_mut_ptr().cast()) };
    if fd < 0 {
        return Err(last());
    }
    // SAFETY: mkstemp filled in the name in place and opened `fd`, which is closed once.
    unsafe {
        libc::unlink(template.as_ptr().cast());
        libc::close(fd);
    }
    Ok(())
}

/// The kind for one tier, made if needed.
fn tier_kind(i: usize, kind: &TierKind) -> Result<(Kind, bool), SpecError> {
    let fail =
        |what: String| SpecError(format!("{TIERS_VAR}: tier {} (KIND:{}): {what}", i + 1, kind.name()));
    match kind {
        TierKind::Dram => {
            Kind::DEFAULT.ready().map_err(|e| fail(format!("{e}")))?;
            Ok((Kind::DEFAULT, false))
        }
        TierKind::KmemDax => {
            let k = StaticKind::DaxKmem.kind();
            let p = k.malloc(32).map_err(|e| {
                fail(format!(
                    "allocation on KMEM DAX nodes failed: {e} (this machine has no memory-only NUMA node; \
                     MEMKIND_DAX_KMEM_NODES can name one)"
                ))
            })?;
            // SAFETY: a block of `k`, just allocated.
            unsafe { k.free(p) };
            Ok((k, false))
        }
        TierKind::FsDax { path, limit } => {
            let k = Kind::pmem(&PmemConfig { max_size: *limit, ..PmemConfig::new(path) })
                .map_err(|e| fail(format!("cannot create a file-backed kind in {}: {e}", path.display())))?;
            Ok((k, true))
        }
    }
}

impl Tiering {
    /// Creates the tiers' kinds and the memory. On failure, kinds made so far are destroyed.
    pub fn new(spec: Spec) -> Result<Tiering, SpecError> {
        check_paths(&spec)?;
        let mut created = Vec::new();
        let r = Tiering::build(&spec, &mut created);
        match r {
            Ok(memory) => Ok(Tiering { memory, spec, created }),
            Err(e) => {
                for k in created {
                    // SAFETY: nothing was allocated from these kinds.
                    let _ = unsafe { k.destroy() };
                }
                Err(e)
            }
        }
    }

    fn build(spec: &Spec, created: &mut Vec<Kind>) -> Result<Memory, SpecError> {
        let mut b = Builder::new(spec.policy);
        for (i, t) in spec.tiers.iter().enumerate() {
            let (kind, made) = tier_kind(i, &t.kind)?;
            if made {
                created.push(kind);
            }
            b.add_tier(kind, t.ratio).map_err(|e| SpecError(format!("{TIERS_VAR}: tier {}: {e}", i + 1)))?;
        }
        for (i, t) in spec.thresholds.iter().enumerate() {
            for (field, v) in
                [(ThresholdField::Val, t.init), (ThresholdField::Min, t.min), (ThresholdField::Max, t.max)]
            {
                if let Some(v) = v {
                    b.ctl_set(Ctl::Threshold(i, field), CtlValue::Size(v))
                        .map_err(|e| SpecError(format!("{}: {e}", crate::spec::THRESHOLDS_VAR)))?;
                }
            }
        }
        b.construct().map_err(|e| {
            let var = if spec.thresholds.is_empty() { TIERS_VAR } else { crate::spec::THRESHOLDS_VAR };
            SpecError(format!("{var}: {e}"))
        })
    }
}
