//! `morselkind`: the command-line face of morselkind.
//!
//! - `morselkind demo`: the machine's kinds, then a large hash map built in DEFAULT, HUGE and a
//!   PMEM kind side by side, with what went where, checked.
//! - `morselkind info`: nodes, huge pages, DAX, every kind and the environment options;
//!   `--json`; `--hbw-nodes` / `--dax-kmem-nodes` as memkind's helper tools print them.
//! - `morselkind run`: an unmodified program on tiered memory (libmorseltier).
//! - `morselkind man DIR` (hidden): writes the man pages, made from these clap definitions.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod cache;
mod demo;
mod info;
mod json;
mod man;
mod report;
mod run;

#[derive(Parser, Debug)]
#[command(
    name = "morselkind",
    version,
    about = "Kinds of memory on morsels: inspect the machine, run the demo, run programs on tiered memory"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show the machine's kinds, then build a large hash map in DEFAULT, HUGE and a PMEM kind
    /// (a file in the temp directory) and show what went where. Exits 1 if a check fails.
    Demo(demo::DemoArgs),
    /// Show the NUMA nodes, huge page and DAX status, every kind's nodes or why it is
    /// unavailable, and the environment variables honoured.
    Info(info::InfoArgs),
    /// Run a small workload on a libvmemcache-style cache (vcache) in a file-backed pool and
    /// show hits, evictions and pool utilization. Exits 1 if a check fails.
    Cache(cache::CacheArgs),
    /// Run an unmodified program on tiered memory (libmorseltier, MEMKIND_MEM_TIERS), then show
    /// what each tier received. Exits with the program's status.
    Run(run::RunArgs),
    /// Write the man pages (morselkind.1 and one per subcommand) into a directory; used by
    /// scripts/install.sh and the Debian packages.
    #[command(hide = true)]
    Man(man::ManArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Cache(args) => cache::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Info(args) => info::run(args),
        Command::Run(args) => run::run(args),
        Command::Man(args) => man::run(args, Cli::command()),
    }
}
