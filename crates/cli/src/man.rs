//! `morselkind man DIR`: the man pages, generated from the clap definitions (clap_mangen), so
//! they never say something `--help` does not. One page for the command, one per subcommand
//! (`morselkind-run.1`, ...), as git and cargo do; hidden subcommands get none.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// Directory to write the pages into (made if missing).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

pub fn run(args: &ManArgs, cmd: clap::Command) -> ExitCode {
    match write_pages(&args.dir, cmd) {
        Ok(pages) => {
            for p in pages {
                println!("{}", p.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("morselkind man: {}: {e}", args.dir.display());
            ExitCode::from(1)
        }
    }
}

/// Writes `NAME.1` for the command and `NAME-SUB.1` for each visible subcommand; the paths.
fn write_pages(dir: &Path, cmd: clap::Command) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let cmd = cmd.version(env!("CARGO_PKG_VERSION"));
    let mut pages = Vec::new();
    let name = cmd.get_name().to_string();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let full = format!("{name}-{}", sub.get_name());
        // clap names are &'static str (no "string" feature); a handful, once per process.
        let static_name: &'static str = Box::leak(full.clone().into_boxed_str());
        let sub = sub.clone().name(static_name).version(env!("CARGO_PKG_VERSION"));
        pages.push(write_page(dir, &full, sub)?);
    }
    pages.insert(0, write_page(dir, &name, cmd)?);
    Ok(pages)
}

fn write_page(dir: &Path, name: &str, cmd: clap::Command) -> std::io::Result<PathBuf> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, out)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn a_page_for_the_command_and_each_subcommand() {
        let dir = std::env::temp_dir().join(format!("morselkind-man-test-{}", std::process::id()));
        let pages = write_pages(&dir, crate::Cli::command()).unwrap();
        let names: Vec<String> =
            pages.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(
            names,
            [
                "morselkind.1",
                "morselkind-demo.1",
                "morselkind-info.1",
                "morselkind-cache.1",
                "morselkind-run.1"
            ]
        );
        let run = std::fs::read_to_string(dir.join("morselkind-run.1")).unwrap();
        assert!(run.starts_with(".ie"), "not roff: {}", &run[..40]);
        assert!(run.contains("\\-\\-tiers"), "{run}");
        let top = std::fs::read_to_string(dir.join("morselkind.1")).unwrap();
        assert!(top.contains("morselkind\\-run(1)") || top.contains("run"), "{top}");
        assert!(!top.contains("morselkind\\-man"), "the hidden subcommand is listed: {top}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
