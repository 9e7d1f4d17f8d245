// Shared by the build scripts of the C libraries (ffi/build.rs, crates/vcache-ffi/build.rs),
// through include!: the `<soname>` link beside the library in the build tree (target/release,
// or wherever the profile's output goes), so a program linked with `-L target/release -lNAME`
// runs with LD_LIBRARY_PATH=target/release or an rpath, as an installed one does.
//
// Build scripts run before the library is linked: the link is made first and dangles until
// cargo writes the library next to it, which it does in the same build.

/// Sets the library's soname and makes the `soname` → `file` link in the profile directory.
fn soname_and_link(soname: &str, file: &str) {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // OUT_DIR is <profile dir>/build/<package>-<hash>/out.
    let Some(dir) = out.ancestors().nth(3) else { return };
    let link = dir.join(soname);
    let result = match std::fs::read_link(&link) {
        Ok(target) if target == std::path::Path::new(file) => Ok(()),
        // Another target, a regular file (an older build's copy), or nothing: make it anew.
        Ok(_) | Err(_) => {
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(file, &link)
        }
    };
    if let Err(e) = result {
        println!("cargo:warning=cannot make {}: {e}", link.display());
    }
}
