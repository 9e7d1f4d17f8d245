// Gives the shared library memkind's style of soname, so programs record libmorselkind.so.0,
// and puts the libmorselkind.so.0 link beside it in the build tree (target/release, or wherever
// the profile's output goes), so a program linked with `-L target/release -lmorselkind` runs
// with LD_LIBRARY_PATH=target/release or an rpath, as an installed one does.
//
// Build scripts run before the library is linked: the link is made first and dangles until
// cargo writes libmorselkind.so next to it, which it does in the same build.
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmorselkind.so.0");
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // OUT_DIR is <profile dir>/build/<package>-<hash>/out.
    let Some(profile_dir) = out.ancestors().nth(3) else { return };
    if let Err(e) = soname_link(profile_dir) {
        println!("cargo:warning=cannot make {}/libmorselkind.so.0: {e}", profile_dir.display());
    }
}

fn soname_link(dir: &Path) -> std::io::Result<()> {
    let link = dir.join("libmorselkind.so.0");
    match std::fs::read_link(&link) {
        Ok(target) if target == Path::new("libmorselkind.so") => return Ok(()),
        Ok(_) => std::fs::remove_file(&link)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        // A regular file (an older build's copy): replace it.
        Err(_) => std::fs::remove_file(&link)?,
    }
    std::os::unix::fs::symlink("libmorselkind.so", &link)
}
