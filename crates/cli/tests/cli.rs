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
