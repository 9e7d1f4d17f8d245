//! The `morselkind` binary, run as a user runs it.

use std::process::Command;

fn morselkind(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_morselkind"));
    cmd.args(args).env_remove("MEMKIND_HBW_NODES").env_remove("MEMKIND_DAX_KMEM_NODES");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run morselkind");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn demo_passes_its_checks() {
    let (rc, out) = morselkind(&["demo", "--entries", "200000"], &[]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("memkind_default") && out.contains("available"), "{out}");
    assert!(out.contains("PMEM: Kind::detect(&map[k]) says pmem#"), "{out}");
    assert!(out.contains("after destroy, no descriptor or mapping of the file is left"), "{out}");
    assert!(out.contains(" 0 failed"), "{out}");
}

#[test]
fn demo_fails_when_the_pmem_kind_is_full() {
    let (rc, out) = morselkind(&["demo", "--entries", "400000", "--pmem-max", "16M", "--no-huge"], &[]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("FAIL  PMEM: room for 400000 entries (the kind refused"), "{out}");
    // It still cleans up after itself.
    assert!(out.contains("ok    after destroy, no descriptor or mapping of the file is left"), "{out}");
}

#[test]
fn node_lists_follow_the_overrides() {
    assert_eq!(morselkind(&["info", "--hbw-nodes"], &[("MEMKIND_HBW_NODES", "0")]), (0, "0\n".into()));
    assert_eq!(
        morselkind(&["info", "--dax-kmem-nodes"], &[("MEMKIND_DAX_KMEM_NODES", "0")]),
        (0, "0\n".into())
    );
    // A node that does not exist: nothing printed, memkind's statuses.
    let absent = "4095";
    assert_eq!(morselkind(&["info", "--hbw-nodes"], &[("MEMKIND_HBW_NODES", absent)]), (1, String::new()));
    assert_eq!(
        morselkind(&["info", "--dax-kmem-nodes"], &[("MEMKIND_DAX_KMEM_NODES", absent)]),
        (3, String::new())
    );
}

#[test]
fn info_json_lists_every_kind() {
    let (rc, out) = morselkind(&["info", "--json"], &[]);
    assert_eq!(rc, 0);
    assert!(out.starts_with("{\n") && out.ends_with("}\n"), "{out}");
    for name in [
        "\"memkind_default\"",
        "\"memkind_dax_kmem_interleave\"",
        "\"morselkind_huge\"",
        "\"MEMKIND_HBW_NODES\"",
    ] {
        assert!(out.contains(name), "{name} missing");
    }
}

/// Runs morselkind; (exit status, stderr).
fn morselkind_stderr(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_morselkind"));
    cmd.args(args).env_remove("MEMKIND_MEM_TIERS").env_remove("MEMKIND_MEM_THRESHOLDS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run morselkind");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn demo_rejects_arguments_it_cannot_use() {
    let (rc, err) = morselkind_stderr(&["demo", "--pmem-max", "1M"], &[]);
    assert_eq!(rc, 2, "{err}");
    assert!(
        err.contains(
            "'1M' for '--pmem-max <PMEM_MAX>': 1048576 bytes; it must be 0 (no limit) or at least 16M"
        ),
        "{err}"
    );
    let (rc, err) = morselkind_stderr(&["demo", "--entries", "0"], &[]);
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains("'0' for '--entries <ENTRIES>': it must be at least 1"), "{err}");
}

#[test]
fn run_names_where_a_bad_spec_came_from() {
    let bad = "KIND:DRAM,RATIO:1";
    let (rc, err) = morselkind_stderr(&["run", "--tiers", bad, "--", "true"], &[]);
    assert_eq!(rc, 2, "{err}");
    assert!(err.starts_with("morselkind run: --tiers=\"KIND:DRAM,RATIO:1\": the policy is missing"), "{err}");
    let (rc, err) = morselkind_stderr(&["run", "--", "true"], &[("MEMKIND_MEM_TIERS", bad)]);
    assert_eq!(rc, 2, "{err}");
    assert!(err.starts_with("morselkind run: MEMKIND_MEM_TIERS=\"KIND:DRAM,RATIO:1\""), "{err}");
    let (rc, err) = morselkind_stderr(
        &[
            "run",
            "--tiers",
            "KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:/nonexistent,RATIO:1;POLICY:STATIC_RATIO",
            "--",
            "true",
        ],
        &[],
    );
    assert_eq!(rc, 2, "{err}");
    assert!(err.starts_with("morselkind run: --tiers: tier 2: PATH:/nonexistent: No such file"), "{err}");
}

#[test]
fn run_says_why_a_directory_cannot_hold_the_tier() {
    // sysfs takes no new files, even from root (EACCES); nothing runs, and nothing is left.
    let spec = "KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:/sys,RATIO:1;POLICY:STATIC_RATIO";
    let (rc, err) = morselkind_stderr(&["run", "--tiers", spec, "--", "true"], &[]);
    assert_eq!(rc, 2, "{err}");
    assert_eq!(
        err,
        "morselkind run: --tiers: tier 2: PATH:/sys: cannot create the tier's file there: Permission denied (EACCES)\n"
    );
}

#[test]
fn run_prints_its_banner_before_the_program_speaks() {
    let spec = format!(
        "KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:{},RATIO:1;POLICY:STATIC_RATIO",
        std::env::temp_dir().display()
    );
    let (rc, err) =
        morselkind_stderr(&["run", "--tiers", &spec, "--", "sh", "-c", "echo from-the-program >&2"], &[]);
    assert_eq!(rc, 0, "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines[0].starts_with("morselkind run: STATIC_RATIO over 2 tiers (from --tiers)"), "{err}");
    assert_eq!(lines[1], "from-the-program", "{err}");
    assert!(lines[2].starts_with("morselkind run: "), "{err}");
}
