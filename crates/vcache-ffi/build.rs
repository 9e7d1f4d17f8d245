// libmorselcache.so: soname libmorselcache.so.0, and every symbol under libvmemcache's version
// node LIBVMEMCACHE_1.0, so programs linked against libvmemcache.so.0 bind to ours unchanged.
// The libmorselcache.so.0 link goes beside the library in the build tree (as ffi/build.rs does
// for libmorselkind), so a program linked with `-L target/release -lmorselcache` runs with
// LD_LIBRARY_PATH=target/release.
use std::path::{Path, PathBuf};

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=libvmemcache.map");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmorselcache.so.0");
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={dir}/libvmemcache.map");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // OUT_DIR is <profile dir>/build/<package>-<hash>/out.
    let Some(profile_dir) = out.ancestors().nth(3) else { return };
    if let Err(e) = soname_link(profile_dir) {
        println!("cargo:warning=cannot make {}/libmorselcache.so.0: {e}", profile_dir.display());
    }
}

fn soname_link(dir: &Path) -> std::io::Result<()> {
    let link = dir.join("libmorselcache.so.0");
    match std::fs::read_link(&link) {
        Ok(target) if target == Path::new("libmorselcache.so") => return Ok(()),
        Ok(_) => std::fs::remove_file(&link)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(_) => std::fs::remove_file(&link)?,
    }
    std::os::unix::fs::symlink("libmorselcache.so", &link)
}
