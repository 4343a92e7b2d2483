//! `rustydb-slt`: runs sqllogictest files against the embedded engine and
//! counts records. Each file gets a fresh database in its own temporary
//! directory; a failing record is counted and the file goes on.
//!
//! Prints one `file <path> records=… passed=… failed=… skipped=…` line per
//! file and a final `slt files=… records=… passed=… failed=… skipped=…`.
//! Exits 0 whatever the records do (it measures); 2 on a usage error.

#[path = "../slt/mod.rs"]
mod slt;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use slt::runner::{self, Conditions, Counts, Options};

/// mimalloc: the engine allocates per value and glibc's allocator cost a
/// third of the run time in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "rustydb-slt", version, about = "Run sqllogictest files (*.test, *.slt, *.slt.part) against RustyDB")]
struct Args {
    /// Print each failing record: file, line, SQL, expected and actual.
    #[arg(long)]
    verbose: bool,
    /// Run every record, ignoring `onlyif`/`skipif`: records written for
    /// another engine's dialect fail instead of being skipped.
    #[arg(long)]
    every_record: bool,
    /// Budget per file, in seconds; past it the file's remaining records fail.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
    /// Test files, or folders searched recursively (files named `_*` are skipped).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let files = match slt::script::collect_files(&args.paths) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("rustydb-slt: {e}");
            return ExitCode::from(2);
        }
    };
    runner::install_panic_hook();
    let conditions = if args.every_record { Conditions::Ignore } else { Conditions::Honour };
    let opts = Options { verbose: args.verbose, timeout: Duration::from_secs(args.timeout_secs), conditions };
    let mut total = Counts::default();
    for file in &files {
        let counts = runner::run_file(file, &opts);
        if !slt::emit(&format!("file {} {}", file.display(), summary(&counts))) {
            return ExitCode::SUCCESS; // stdout closed: nobody reads the rest
        }
        total.add(counts);
    }
    slt::emit(&format!("slt files={} {}", files.len(), summary(&total)));
    ExitCode::SUCCESS
}

fn summary(c: &Counts) -> String {
    format!("records={} passed={} failed={} skipped={}", c.records, c.passed, c.failed, c.skipped)
}
